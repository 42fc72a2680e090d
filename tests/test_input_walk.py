"""Inputs that once hung kind: a recursive glob through a folder-link loop, and a FIFO named like
an image. Each runs in a child process with a timeout, so a regression fails instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

TIMEOUT_S = 120


def _kind(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "kind", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).save(path)


@pytest.fixture
def loop(tmp_path) -> Path:
    _image(tmp_path / "loop" / "a" / "x.png")
    _image(tmp_path / "loop" / "y.png")
    (tmp_path / "loop" / "a" / "back").symlink_to("..", target_is_directory=True)
    return tmp_path


def test_a_recursive_glob_through_a_link_loop_ends(loop, monkeypatch):
    from kind.io.inputs import collect_inputs

    code = ("from kind.io.inputs import collect_inputs\n"
            "files, notices = collect_inputs(['loop/**/*.png'])\n"
            "print(sorted(str(f.path) for f in files)); print(notices)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=loop, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    files, notices = done.stdout.splitlines()
    assert files == str(["loop/a/x.png", "loop/y.png"])
    assert "loop/a/back: skipped, a link to" in notices
    monkeypatch.chdir(loop)  # the same matches as glob gives where there is no loop
    (loop / "loop" / "a" / "back").unlink()
    assert sorted(str(f.path) for f in collect_inputs(["loop/**/*.png"])[0]) == ["loop/a/x.png", "loop/y.png"]
    assert sorted(str(f.path) for f in collect_inputs(["loop/**"])[0]) == ["loop/a/x.png", "loop/y.png"]


@pytest.fixture
def fifo_folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    _image(folder / "a.png")
    os.mkfifo(folder / "b.png")
    return folder


def test_a_fifo_in_a_folder_is_skipped_by_enhance(fifo_folder, weights_dir, tmp_path):
    done = _kind("enhance", str(fifo_folder), "-o", str(tmp_path / "out"), "--weights", str(weights_dir), "--quiet",
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "b.png: skipped, not a regular file" in done.stdout
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


def test_a_fifo_in_a_photo_folder_is_skipped_by_eval(fifo_folder, tmp_path):
    done = _kind("eval", "--data", str(fifo_folder), "--protocol", "input", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "photos" in done.stdout


def test_readers_refuse_a_fifo_without_blocking(fifo_folder):
    code = ("import sys\nfrom kind.io.read import ImageReadError, header_pixels, read_image\n"
            "print(header_pixels(sys.argv[1]))\n"
            "try:\n    read_image(sys.argv[1])\nexcept ImageReadError as e:\n    print(e)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(fifo_folder / "b.png")], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    pixels, message = done.stdout.splitlines()
    assert pixels == "0" and "b.png" in message
