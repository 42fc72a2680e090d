"""``kind app`` in a real browser (headless Chromium driven by Playwright): load the page, drop a
photo, drag the slider and see the preview change, download the full-resolution result (byte for
byte ``kind enhance``'s), with every request the page makes going to the app itself. Saves a
screenshot (``KIND_APP_SCREENSHOT=path`` keeps a copy, e.g. docs/figures/app.png). The shipped
weights, the bundled sample photos."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest


from kind.app.browser import (
    running_app,
    TIMEOUT_MS,
    download_full_resolution,
    drag_slider,
    missing_browser,
    open_browser,
    preview_source,
    slider_value,
    upload,
    wait_for_new_preview,
)
from kind.cli import main
from kind.enhance import ASSETS_DIR

pytest.importorskip("gradio", reason="the app tests need Gradio: pip install 'kind[app]'")
pytestmark = pytest.mark.slow
WHY_NOT = missing_browser()


@pytest.fixture(scope="module")
def page_and_requests(tmp_path_factory):
    if WHY_NOT:
        pytest.skip(f"browser tests: {WHY_NOT}")
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("browser")
    with running_app(root / "tmp", "--device", "cpu") as url, sync_playwright() as playwright:
        context = open_browser(playwright, root / "profile")
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, wait_until="load")
        page.locator("#uploads input[type=file]").wait_for(state="attached")
        yield url, page, requests, root
        context.close()
    assert list((root / "tmp").iterdir()) == []  # the app's temporary folder is gone once it stops


def test_drop_drag_download_offline(page_and_requests, tmp_path):
    url, page, requests, root = page_and_requests
    photo = ASSETS_DIR / "chelsea-dark.png"
    first = upload(page, photo)
    assert "chelsea-dark.png" in page.locator("#status").inner_text()

    before = slider_value(page)
    drag_slider(page, 0.2, 0.75)
    wait_for_new_preview(page, first)  # the preview follows the slider
    ratio = slider_value(page)
    assert ratio != before
    page.wait_for_function("text => document.querySelector('#status').innerText.includes(text)",
                           arg=f"ratio {float(ratio):.2f}")  # the release is taken: the ratio asked for
    second = preview_source(page)
    images = [page.request.get(address).body() for address in (first, second)]
    assert images[0] != images[1]  # the preview changed, not just its address

    download = download_full_resolution(page, tmp_path)
    assert main(["enhance", str(photo), "-o", str(tmp_path / "cli"), "--ratio", ratio, "--device", "cpu", "--quiet"]) == 0
    assert download.name == "chelsea-dark.png"
    assert download.read_bytes() == (tmp_path / "cli" / "chelsea-dark.png").read_bytes()

    shot = root / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    if os.environ.get("KIND_APP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["KIND_APP_SCREENSHOT"])

    origin = urlsplit(url)
    outside = [address for address in requests
               if not address.startswith(("data:", "blob:"))
               and (urlsplit(address).scheme, urlsplit(address).netloc) != (origin.scheme, origin.netloc)]
    assert requests and outside == [], outside


def test_a_bad_file_gets_a_message_in_the_page(page_and_requests, tmp_path):
    _, page, _, _ = page_and_requests
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    page.locator("#uploads input[type=file]").set_input_files(str(broken))
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('broken.png')", timeout=120_000)
    status = page.locator("#status").inner_text()
    assert "broken.png: " in status and "chelsea-dark.png" in status  # the photo on view stays
    assert page.locator("#gallery img").count() == 1


def test_closing_the_page_ends_its_session(page_and_requests):
    """The session's folder (its uploads, previews, downloads) goes when the page closes."""
    _, page, _, root = page_and_requests
    sessions = root / "tmp"
    folders = lambda: [p for p in sessions.glob("kind-app-*/sessions/*")]  # noqa: E731
    assert len(folders()) == 1 and any(path.is_file() for path in folders()[0].rglob("*"))
    page.close()
    deadline = time.monotonic() + 120
    while folders() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert folders() == []
