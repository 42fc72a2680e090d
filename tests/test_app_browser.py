"""``kind app`` in a real browser (headless Chromium driven by Playwright): load the page, drop a
photo, drag the slider and see the preview change, download the full-resolution result (byte for
byte ``kind enhance``'s), with every request the page makes going to the app itself; a sample
photo in one click; two sessions uploading the same file; same-named photos in the zip; user
errors without tracebacks; a 12-megapixel photo dragged, timed by ``scripts/bench_app.py``. Saves
a screenshot (``KIND_APP_SCREENSHOT=path`` keeps a copy, e.g. docs/figures/app.png). The shipped
weights, the bundled sample photos."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest


from kind.app.browser import (
    running_app,
    TIMEOUT_MS,
    download_full_resolution,
    drag_slider,
    missing_browser,
    wait_for_preview_of,
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
BROWSER = {}  # the browser context of the module's app, for tests that open pages of their own
ROOT = Path(__file__).resolve().parents[1]


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
        BROWSER["context"] = context
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

    drag_slider(page, 0.6, 0.3)
    wait_for_preview_of(page, slider_value(page))  # the preview of the value released, named by it
    ratio = slider_value(page)
    page.wait_for_function("text => document.querySelector('#status').innerText.includes(text)",
                           arg=f"ratio {float(ratio):.2f}")
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


# --- with pages of their own (the first page is closed above) --------------------------------------


def _new_page(url: str):
    page = BROWSER["context"].new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="load")
    page.locator("#uploads input[type=file]").wait_for(state="attached")
    return page


def _status_has(page, text: str) -> None:
    page.wait_for_function("text => document.querySelector('#status').innerText.includes(text)", arg=text)


def test_a_sample_loads_in_one_click(page_and_requests):
    url, _, _, _ = page_and_requests
    page = _new_page(url)
    old = preview_source(page)
    page.locator("#samples img").nth(1).click()  # the samples, sorted: astronaut, chelsea, coffee
    wait_for_new_preview(page, old)
    _status_has(page, "chelsea-dark.png")
    assert page.locator("#gallery img").count() == 1
    page.close()


def test_user_errors_leave_the_page_as_it_was_and_log_one_line(page_and_requests):
    url, _, _, root = page_and_requests
    page = _new_page(url)
    page.locator("#auto").click()  # before any upload: the slider and the ratio stay 5
    page.locator("#download").click()
    page.locator("text=Upload a photo first: there is nothing to download.").first.wait_for()
    assert slider_value(page) == "5"
    upload(page, ASSETS_DIR / "coffee-dark.png")
    _status_has(page, "ratio 5.00")
    page.close()
    log = next(root.glob("app-*.log")).read_text()
    assert "Traceback" not in log, log
    assert "kind app: Upload a photo first: auto reads the ratio from it." in log


def test_two_sessions_uploading_one_file_both_work(page_and_requests, tmp_path):
    """Gradio stores uploads by content: both sessions get one path, and neither may remove it."""
    url, _, _, _ = page_and_requests
    photo = ASSETS_DIR / "astronaut-dark.png"
    first, second = _new_page(url), _new_page(url)
    upload(first, photo)
    upload(second, photo)
    for page in (first, second):
        _status_has(page, "astronaut-dark.png")
        assert download_full_resolution(page, tmp_path / str(id(page))).name == "astronaut-dark.png"
    first.close()
    second.close()


def test_the_zip_holds_same_named_photos_apart(page_and_requests, tmp_path):
    url, _, _, _ = page_and_requests
    photos = []
    for name, sample in (("a", "coffee-dark.png"), ("b", "chelsea-dark.png")):
        (tmp_path / name).mkdir()
        photos.append(shutil.copyfile(ASSETS_DIR / sample, tmp_path / name / "photo.png"))
    page = _new_page(url)
    upload(page, *photos)
    assert page.locator("#gallery img").count() == 2
    link = page.locator("#download-file a[download]")
    page.locator("#zip").click()
    page.wait_for_function("() => document.querySelector('#download-file a[download]') !== null")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        link.first.click()
    archive = tmp_path / info.value.suggested_filename
    info.value.save_as(archive)
    with zipfile.ZipFile(archive) as bundle:
        assert bundle.namelist() == ["photo.png", "photo-2.png"]
    page.close()


def test_a_12_megapixel_drag_is_timed(tmp_path):
    """scripts/bench_app.py on a 4000 × 3000 photo: the release -> final preview figure is printed."""
    if WHY_NOT:
        pytest.skip(f"browser tests: {WHY_NOT}")
    script = ROOT / "scripts" / "bench_app.py"
    run = subprocess.run([sys.executable, str(script), "--n", "3", "--no-enhance", "--json", str(tmp_path / "b.json")],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "upload -> first preview of a 4000 x 3000 photo:" in run.stdout
    assert re.search(r"slider release -> final preview on screen \(\d+ x \d+ preview\), 3 drags: median \d+ ms, p95 \d+ ms"
                     r" .*; missed \(not on screen within \d+ s\): 0", run.stdout), run.stdout
    print(run.stdout)
