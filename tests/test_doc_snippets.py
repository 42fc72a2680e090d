"""Every Python block of the README and docs/*.md runs. Blocks written as doctests (``>>>``) run
as doctests (pytest's --doctest-glob); the others, whole programs, run here, each in a fresh
namespace in an empty folder — so each must be self-contained (issue 29). Two need what a test
machine lacks: the app's client snippet runs against a live ``kind app`` (its URL put in), and the
VGG snippet's ImageNet download is replaced by torchvision's architecture with random weights."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
APP_URL = "http://127.0.0.1:7860/"


def program_blocks() -> list:
    """(page, line, code) of every python block that is not a doctest."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            code = match.group(1)
            if ">>>" not in code:
                line = text[: match.start()].count("\n") + 1
                marks = [pytest.mark.slow] if "gradio_client" in code else []
                found.append(pytest.param(page, code, id=f"{page.relative_to(ROOT)}:{line}", marks=marks))
    return found


def test_there_are_blocks_to_run():
    assert len(program_blocks()) >= 3


@pytest.mark.parametrize("page,code", program_blocks())
def test_a_docs_python_block_runs_on_its_own(page, code, tmp_path, monkeypatch, weights_dir):
    monkeypatch.chdir(tmp_path)
    if "torchvision.models.vgg" in code:
        torchvision = pytest.importorskip("torchvision")
        for name in ("vgg16", "vgg19"):  # offline: the architecture, random weights
            build = getattr(torchvision.models, name)
            monkeypatch.setattr(torchvision.models, name, lambda weights=None, _build=build: _build(weights=None))
    if "gradio_client" in code:
        pytest.importorskip("gradio_client")
        from kind.app.browser import running_app

        assert APP_URL in code
        with running_app(tmp_path / "app", "--weights", str(weights_dir), "--device", "cpu") as url:
            exec(compile(code.replace(APP_URL, url + "/"), str(page), "exec"), {"__name__": "__snippet__"})
        return
    exec(compile(code, str(page), "exec"), {"__name__": "__snippet__"})
