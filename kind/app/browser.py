"""Driving the app, for its tests and ``scripts/bench_app.py``: :func:`running_app` serves ``kind
app`` in a child process on a free port; the rest drives its page in a real browser (headless
Chromium through Playwright): the page's elements by id, and the few things a user does.

Needs ``playwright`` (``pip install "kind[test]"``) and a Chromium: Debian's ``chromium`` package,
or ``KIND_CHROMIUM=/path/to/chrome`` (Playwright's own browser download is not used).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Playwright

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 180_000  # a busy 2-core machine: loading the networks for a first photo may take a while
START_TIMEOUT_S = 300  # importing Gradio and loading the networks on a busy 2-core machine
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding this kind package
PREVIEW_LOADED = """old => {
    const img = document.querySelector('#preview img');
    return img !== null && img.src !== '' && img.src !== old && img.complete && img.naturalWidth > 0;
}"""
# the preview of a given ratio, loaded and drawn: the app names each preview file by what it shows
PREVIEW_OF = """tag => {
    const img = document.querySelector('#preview img');
    return img !== null && img.src.includes(tag) && img.complete && img.naturalWidth > 0;
}"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_app(temp: Path, *options: str) -> Iterator[str]:
    """Serve ``kind app OPTIONS`` (this kind package) on a free port with its temporary folder
    under ``temp`` (``TMPDIR``); yields its URL. On exit the app is stopped with SIGTERM, as a
    service manager would; its output is in ``temp/../app-PORT.log``."""
    port = free_port()
    temp.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": path}
    log_path = temp.parent / f"app-{port}.log"
    log = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "kind", "app", "--port", str(port), *options],
                               stdout=log, stderr=subprocess.STDOUT, env=env, cwd=temp)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log_path)
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


def find_chromium() -> str | None:
    """The Chromium to drive: ``$KIND_CHROMIUM``, else the first of ``CHROMIUM_NAMES`` on PATH."""
    chosen = os.environ.get("KIND_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def missing_browser() -> str | None:
    """Why the page cannot be driven here (no playwright, no Chromium), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'kind[test]')"
    if find_chromium() is None:
        return ("no Chromium found (apt-get install chromium, as .ci/run does; or set KIND_CHROMIUM to a "
                "Chrome/Chromium executable)")
    return None


def open_browser(playwright: Playwright, profile: str | os.PathLike) -> BrowserContext:
    """Headless Chromium with a fresh profile folder ``profile`` (downloads accepted)."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
        viewport={"width": 1280, "height": 900})


def preview_source(page: Page) -> str:
    """The address of the preview image on screen ('' when there is none)."""
    return page.evaluate("() => { const img = document.querySelector('#preview img'); return img ? img.src : ''; }")


def wait_for_new_preview(page: Page, old: str, timeout_ms: int = TIMEOUT_MS) -> str:
    """Wait until a preview other than ``old`` is loaded and drawn; returns its address."""
    page.wait_for_function(PREVIEW_LOADED, arg=old, timeout=timeout_ms, polling="raf")
    return preview_source(page)


def wait_for_preview_of(page: Page, ratio: str | float, timeout_ms: int = TIMEOUT_MS) -> str:
    """Wait until the preview at ``ratio`` (the slider's number) is loaded and drawn; returns its address."""
    page.wait_for_function(PREVIEW_OF, arg=f"preview-r{float(ratio):.2f}-", timeout=timeout_ms, polling="raf")
    return preview_source(page)


def upload(page: Page, *paths: str | os.PathLike, timeout_ms: int = TIMEOUT_MS) -> str:
    """Drop photos on the page; returns the address of the first preview once it is on screen."""
    old = preview_source(page)
    page.locator("#uploads input[type=file]").set_input_files([str(path) for path in paths])
    return wait_for_new_preview(page, old, timeout_ms)


def click_slider(page: Page, fraction: float) -> None:
    """Press and release the ratio slider at ``fraction`` (0 to 1) of its track."""
    box = page.locator("#ratio input[type=range]").bounding_box()
    page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)


def drag_slider(page: Page, start: float, end: float, steps: int = 8, release: bool = True, pause_ms: int = 0) -> None:
    """Drag the ratio slider's thumb from ``start`` to ``end`` (fractions of the track) in ``steps``
    moves ``pause_ms`` apart, then release it (unless ``release`` is False: then ``page.mouse.up()``
    releases it)."""
    box = page.locator("#ratio input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    for step in range(1, steps + 1):
        page.mouse.move(box["x"] + (start + (end - start) * step / steps) * box["width"], y)
        if pause_ms:
            page.wait_for_timeout(pause_ms)
    if release:
        page.mouse.up()


def slider_value(page: Page) -> str:
    """The ratio the slider shows, as text."""
    return page.locator("#ratio input[type=number]").input_value()


def download_full_resolution(page: Page, folder: str | os.PathLike, timeout_ms: int = TIMEOUT_MS) -> Path:
    """Press "Full-resolution result", then save the offered file into ``folder``; returns its path."""
    link = page.locator("#download-file a[download]")
    previous = link.first.get_attribute("href") if link.count() else None
    page.locator("#download").click()
    page.wait_for_function(
        "old => { const a = document.querySelector('#download-file a[download]'); return a !== null && a.href !== old; }",
        arg=previous, timeout=timeout_ms)
    with page.expect_download(timeout=timeout_ms) as info:
        link.first.click()
    target = Path(folder) / info.value.suggested_filename
    info.value.save_as(target)
    return target

