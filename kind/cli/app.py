"""``kind app``: a local web page to choose the light level with a slider (Gradio, ``kind[app]``).

The handler imports :mod:`kind.app.serve` when it runs; the parser only adds its arguments, so
``kind --help`` works without Gradio."""

from __future__ import annotations

import argparse

from kind.cli.arguments import add_runner_arguments


def add_app_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from kind.app.serve import add_app_arguments  # argparse only: Gradio is imported when the app starts

    p = sub.add_parser("app", help="a local web page to choose the light level with a slider (pip install 'kind[app]')",
                       description="Serve a page (Gradio) at http://127.0.0.1:7860: upload photos, drag the ratio, "
                       "download what kind enhance --ratio R writes. Needs pip install 'kind[app]'.")
    add_runner_arguments(p)
    add_app_arguments(p)
    return p


def run_app(args: argparse.Namespace) -> int:
    from kind.app.serve import run_app

    return run_app(args)


COMMANDS = [(add_app_parser, run_app)]  # (parser builder, handler)
