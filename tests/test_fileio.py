"""Atomic writes: temp files named with the writer's PID, stale ones removed, modes as usual;
output paths checked before any work."""

import os
import subprocess
import sys

import pytest

from kind.io.atomic import (
    TEMP_PATTERN,
    OutputPathError,
    atomic_path,
    atomic_write_text,
    check_output_path,
    remove_stale_temp_files,
)


def test_temp_file_carries_the_pid_and_is_renamed(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_path(target) as tmp:
        match = TEMP_PATTERN.match(tmp.name)
        assert match and int(match["pid"]) == os.getpid() and tmp.parent == tmp_path
        tmp.write_text("x")
    assert target.read_text() == "x" and not tmp.exists()


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_written_file_has_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "m.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "m.txt").stat().st_mode & 0o777 == 0o640


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".last.pt.kind{int(dead.stdout)}.0123abcd.tmp"
    live = tmp_path / f".last.pt.kind{os.getpid()}.0123abcd.tmp"
    foreign = tmp_path / ".last.pt.abc123.tmp"  # not ours: never touched
    for path in (stale, live, foreign):
        path.write_text("")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert live.exists() and foreign.exists() and not stale.exists()


def test_check_output_path(tmp_path):
    (tmp_path / "file").write_text("")
    assert check_output_path(tmp_path / "new" / "deeper" / "x.json", "--json") == tmp_path / "new" / "deeper" / "x.json"
    assert check_output_path(tmp_path / "out", "-o", folder=True) == tmp_path / "out"
    with pytest.raises(OutputPathError, match="--json: an empty path"):
        check_output_path("", "--json")
    with pytest.raises(OutputPathError, match=r"--json .*file.* is a file, so"):
        check_output_path(tmp_path / "file" / "x.json", "--json")
    with pytest.raises(OutputPathError, match="is a folder, expected a file"):
        check_output_path(tmp_path, "--json")
    with pytest.raises(OutputPathError, match="exists and is not a folder"):
        check_output_path(tmp_path / "file", "-o", folder=True)
    with pytest.raises(OutputPathError, match="-o: an empty path; give a folder"):
        check_output_path(" ", "-o", folder=True)


def test_python_dash_m_kind_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "kind", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "enhance" in result.stdout
