"""tools/release_weights.py: a release folder of the three networks, each labelled with the
version, the chosen ones in float16, written once and whole."""

import stat
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from kind.weights.format import load_network, read_record

SCRIPT = str(ROOT / "tools" / "release_weights.py")
pytestmark = pytest.mark.slow  # runs the script


def release(out, weights_dir, *extra):
    mixed = ",".join(f"{network}={weights_dir / f'{network}.pt'}" for network in ("decom", "restore", "adjust"))
    command = [sys.executable, SCRIPT, out, "--version", "v9.9", "--weights", mixed, *extra]
    return subprocess.run(list(map(str, command)), capture_output=True, text=True, cwd=ROOT)


def test_a_release_labels_every_network_and_halves_the_chosen_ones(weights_dir, tmp_path):
    result = release(tmp_path / "v9.9", weights_dir, "--half", "restore")
    assert result.returncode == 0, result.stderr
    for network in ("decom", "restore", "adjust"):
        record = read_record(tmp_path / "v9.9" / f"{network}.pt", network)
        source = read_record(weights_dir / f"{network}.pt", network)["state_dict"]
        assert record["version"] == "v9.9" and record["checksum"] == "verified"
        dtypes = {value.dtype for value in record["state_dict"].values()}
        assert dtypes == ({torch.float16} if network == "restore" else {torch.float32})
        loaded = load_network(tmp_path / "v9.9" / f"{network}.pt", network).state_dict()
        tolerance = 1e-3 if network == "restore" else 0
        assert all(torch.allclose(loaded[k], source[k], atol=tolerance, rtol=tolerance) for k in source)
    assert stat.S_IMODE((tmp_path / "v9.9").stat().st_mode) == 0o755  # readable by every user of an install


def test_an_existing_folder_or_a_missing_source_is_refused_and_nothing_is_left(weights_dir, tmp_path):
    (tmp_path / "v9.9").mkdir()
    again = release(tmp_path / "v9.9", weights_dir)
    assert again.returncode == 2 and "already exists" in again.stderr
    missing = release(tmp_path / "v1.0", tmp_path / "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["v9.9"]  # no half-written release
