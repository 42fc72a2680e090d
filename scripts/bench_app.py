"""The latency of ``kind app`` in a real browser (headless Chromium through Playwright), on a
12-megapixel photo.

1. Upload -> first preview: the photo dropped on a fresh page, until its first preview is on
   screen (the upload, the checks and decoding, the preview reduction, its decomposition and
   restoration, the relighting, the JPEG, the fetch, the decode).
2. Slider release -> final preview: N drags of the ratio slider (``--steps`` moves ``--pause-ms``
   apart, as a hand drags, the preview following), each timed from the mouse button's release to
   the preview *of the released value* loaded and drawn in the page (the app names each preview
   file by its ratio, so an in-flight preview of an earlier position does not count). Median and
   95th percentile (nearest rank), min and max; and how many previews the server finished after
   each release: the final one, and the one of an earlier position if one was being computed at
   the release (the release itself starts at most one).
3. ``kind enhance`` on the same file in this process (the networks loaded): what the
   full-resolution download costs.

    python scripts/bench_app.py --n 20 [--device cpu] [--precision fp32] [--json bench-app.json]

Needs ``pip install "kind[test]"`` and Debian's chromium (or KIND_CHROMIUM). The photo is the
bundled sample resized. The numbers are wall time: run it on an otherwise idle machine, or say how
loaded it was (the script prints the load average before and after).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from kind.app.browser import (drag_slider, missing_browser, open_browser, preview_source, running_app, slider_value, upload,
                              wait_for_preview_of)
from kind.enhance import ASSETS_DIR, enhance_files
from kind.io.atomic import atomic_write_json

SAMPLE = ASSETS_DIR / "chelsea-dark.png"
DRAGS = [(0.30, 0.55), (0.55, 0.25), (0.20, 0.70), (0.70, 0.40)]  # fractions of the slider's track
MISSED_S = 60  # a release whose preview is not on screen by then counts as missed


def make_photo(path: Path, width: int, height: int) -> Path:
    """The bundled sample resized to width × height (PNG, or JPEG by the suffix)."""
    with Image.open(SAMPLE) as image:
        image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95: the 95th)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def previews_made(session_folder: Path) -> int:
    """Preview files the app has made so far in a session (each in its own numbered folder)."""
    return max((int(folder.name) for folder in (session_folder / "previews").iterdir()), default=0) if (
        session_folder / "previews").is_dir() else 0


def release_latencies(page, count: int, steps: int, pause_ms: int, session_folder: Path | None) -> tuple[list[float], list[int]]:
    """Seconds from each release to the final preview on screen, and the previews finished after each release."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seconds, made_after = [], []
    for index in range(count):
        start, end = DRAGS[index % len(DRAGS)]
        drag_slider(page, start, end, steps=steps, release=False, pause_ms=pause_ms)
        value = slider_value(page)
        before = _count(session_folder)
        began = time.perf_counter()
        page.mouse.up()
        try:
            wait_for_preview_of(page, value, timeout_ms=MISSED_S * 1000)
        except PlaywrightTimeout:  # a bug, not a slow machine: said, and counted
            print(f"bench_app: the preview of ratio {value} was not on screen {MISSED_S} s after its release "
                  f"(on screen: {preview_source(page).rsplit('/', 1)[-1]})", file=sys.stderr)
            seconds.append(math.inf)
            continue
        seconds.append(time.perf_counter() - began)
        page.wait_for_timeout(400)  # anything still coming for this release would have come by now
        made_after.append(_count(session_folder) - before)
    return seconds, made_after


def _count(session_folder: Path | None) -> int:
    return previews_made(session_folder) if session_folder is not None else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="drags to time (default 20)")
    parser.add_argument("--steps", type=int, default=10, help="moves a drag (default 10)")
    parser.add_argument("--pause-ms", type=int, default=30, help="milliseconds between moves (default 30)")
    parser.add_argument("--weights", help="weights spec (default: the shipped weights)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", help="the networks of the downloads (previews: bf16 where the CPU has it)")
    parser.add_argument("--big", default="4000x3000", help="the photo's size (default 4000x3000, 12 MP)")
    parser.add_argument("--no-enhance", action="store_true", help="skip timing kind enhance on the photo")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    why = missing_browser()
    if why:
        print(f"bench_app: {why}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    big_size = tuple(int(side) for side in args.big.lower().split("x"))
    runner_options = ["--device", args.device, "--precision", args.precision] + (["--weights", args.weights] if args.weights else [])
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kind-bench-app-") as folder:
        folder = Path(folder)
        big = make_photo(folder / "big.jpg", *big_size)
        with running_app(folder / "app", *runner_options) as url, sync_playwright() as playwright:
            context = open_browser(playwright, folder / "profile")
            page = context.new_page()
            page.goto(url, wait_until="load")
            page.locator("#uploads input[type=file]").wait_for(state="attached")
            first_view = _timed(lambda: upload(page, big))
            sessions = list((folder / "app").glob("kind-app-*/sessions/*"))
            session_folder = sessions[0] if len(sessions) == 1 else None
            drag_slider(page, 0.5, 0.6, steps=2)  # one untimed drag: the first run of each path warms up
            page.wait_for_timeout(1000)
            latencies, made_after = release_latencies(page, args.n, args.steps, args.pause_ms, session_folder)
            preview_size = page.evaluate("() => { const i = document.querySelector('#preview img'); "
                                         "return [i.naturalWidth, i.naturalHeight]; }")
            context.close()
        enhance_s = None
        if not args.no_enhance:
            from kind.api import KinD

            model = KinD.from_pretrained(args.weights, args.device, args.precision)
            enhance_s = _timed(lambda: enhance_files([str(big)], folder / "enhanced", model, progress=False))
    missed = sum(1 for s in latencies if math.isinf(s))
    ms = [1000 * s for s in latencies if not math.isinf(s)] or [math.nan]
    result = {
        "device": args.device, "precision": args.precision, "n": args.n, "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "release_to_final_preview_ms": {"median": statistics.median(ms), "p95": percentile(ms, 0.95),
                                        "min": min(ms), "max": max(ms), "all": ms},
        "missed_releases": missed,
        "previews_finished_after_a_release": made_after,
        "preview_size": preview_size, "big_size": list(big_size),
        "upload_to_first_preview_s": first_view, "kind_enhance_big_s": enhance_s,
    }
    stats = result["release_to_final_preview_ms"]
    print(f"kind app latency ({args.device}; {result['cpu']}, {os.cpu_count()} cores; load average "
          f"{load_before[0]:.1f} before, {result['load_average_after'][0]:.1f} after), in headless Chromium:")
    print(f"  upload -> first preview of a {big_size[0]} x {big_size[1]} photo: {first_view:.2f} s")
    print(f"  slider release -> final preview on screen ({preview_size[0]} x {preview_size[1]} preview), {args.n} drags: "
          f"median {stats['median']:.0f} ms, p95 {stats['p95']:.0f} ms (min {stats['min']:.0f}, max {stats['max']:.0f}); "
          f"missed (not on screen within {MISSED_S} s): {missed}")
    if session_folder is not None:
        print(f"  previews finished after a release (the final one, and one in flight at the release): "
              f"{statistics.mean(made_after):.2f} on average, at most {max(made_after)}")
    if enhance_s is not None:
        print(f"  kind enhance on the photo (networks loaded, {args.precision}): {enhance_s:.2f} s")
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 1 if missed else 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
