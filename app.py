"""Hugging Face Spaces entry point: ``kind app`` on the shipped weights.

A Gradio Space runs ``python app.py``; it sets GRADIO_SERVER_NAME (0.0.0.0) and GRADIO_SERVER_PORT.
Locally, ``python app.py`` is ``kind app`` (http://127.0.0.1:7860). The repository has no
requirements.txt (pip installs from pyproject.toml: ``pip install -e ".[app]"``); a Space needs one,
written when the Space is made, holding one line: ``.[app]`` (this package with Gradio).
"""

import os
import sys

from kind.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", "--host", os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   "--port", os.environ.get("GRADIO_SERVER_PORT", "7860")]))
