"""tools/pack_data.py: a dataset split into parts, unpacked on the other side bit-exact, checked."""

import subprocess
import sys

import pytest
import torch
from conftest import ROOT, write_pairs

from kind.train.data import load_pairs

SCRIPT = str(ROOT / "tools" / "pack_data.py")
pytestmark = pytest.mark.slow  # runs the script


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_parts_unpack_to_the_same_pixels_and_verify_finds_what_is_missing(tmp_path):
    first, second = write_pairs(tmp_path / "a", count=4), write_pairs(tmp_path / "b", count=3, seed=1)
    packed = run("pack", first, second, "--out", tmp_path / "parts", "--part-mib", 0.012)
    assert packed.returncode == 0, packed.stderr
    parts = sorted((tmp_path / "parts").glob("part-*.tar"))
    assert len(parts) > 1 and f"unpack {tmp_path / 'parts'}/part-00.tar --into .gpu_data" in packed.stdout
    for part in parts[:-1]:
        assert run("unpack", part, "--into", tmp_path / "data").returncode == 0
    missing = run("verify", tmp_path / "data")
    assert missing.returncode == 1 and f"parts [{len(parts) - 1}] to send again" in missing.stdout
    assert run("unpack", parts[-1], "--into", tmp_path / "data").returncode == 0
    assert run("verify", tmp_path / "data").returncode == 0
    for original, copy in ((first, "a"), (second, "b")):
        before, after = load_pairs(original), load_pairs(tmp_path / "data" / copy)
        assert len(before) == len(after) and all(torch.equal(x, y) for x, y in zip(before.low + before.high, after.low + after.high))
    (tmp_path / "data" / "a" / "low" / "1.webp").write_bytes(b"damaged")
    assert run("verify", tmp_path / "data").returncode == 1
