"""A training run holds its out_dir (kind.train.run_lock): a second run into it at once is refused."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from conftest import ROOT, write_pairs

from kind.train.config import load_config
from kind.train.run_lock import LOCK_NAME, RunLockedError, run_lock
from kind.train.loop import train

HOLD = "import sys; from kind.train.run_lock import run_lock\nwith run_lock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()"


def _config(dataset, out_dir):
    overrides = {"train_dir": str(dataset), "holdout": 1, "out_dir": str(out_dir), "steps": 2, "batch_size": 2,
                 "patch_size": 16, "device": "cpu", "val_every": 0, "save_every": 0, "log_every": 1, "threads": 1}
    return load_config("decom", None, [f"{k}={v}" for k, v in overrides.items()])


def test_a_second_run_into_a_held_folder_is_refused(tmp_path):
    dataset = write_pairs(tmp_path / "pairs", count=3, height=24, width=24)
    out_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=rf"in use by another training run \(process {holder.pid} on "):
            train("decom", _config(dataset, out_dir), progress=False)
        assert not (out_dir / "last.pt").exists()
    finally:
        holder.communicate("")
    assert not (out_dir / LOCK_NAME).exists()  # released when the holder ended
    state = train("decom", _config(dataset, out_dir), progress=False)
    assert state.step == 2 and not (out_dir / LOCK_NAME).exists()


def test_a_stale_lock_of_a_dead_process_is_replaced_and_named(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(f"{dead.pid} {socket.gethostname()} 2026-01-01T00:00:00\n")
    with run_lock(tmp_path) as notice:
        assert f"stale lock of process {dead.pid}" in notice
        with pytest.raises(RunLockedError):  # held now, by this process
            with run_lock(tmp_path):
                pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text("1 some-other-host 2026-01-01T00:00:00\n")
    with pytest.raises(RunLockedError, match="process 1 on some-other-host"):
        with run_lock(tmp_path):
            pass
    assert (tmp_path / LOCK_NAME).exists()
