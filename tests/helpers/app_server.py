"""``kind app`` in a child process on a free port, for the API and browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 300  # importing Gradio and loading the networks on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_app(temp: Path, *options: str) -> Iterator[str]:
    """Serve ``kind app OPTIONS`` with its temporary folder under ``temp``; yields its URL. On exit
    the app is stopped with SIGTERM (as a service manager would) and must leave ``temp`` empty."""
    port = free_port()
    temp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = (temp.parent / f"app-{port}.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "kind", "app", "--port", str(port), "--device", "cpu", *options],
                               stdout=log, stderr=subprocess.STDOUT, env=env, cwd=temp)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, temp.parent / f"app-{port}.log")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kind app exited with status {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"kind app did not answer at {url} within {START_TIMEOUT_S} s:\n{log.read_text()}")
