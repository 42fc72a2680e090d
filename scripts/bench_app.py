"""The latency of ``kind app`` in a real browser (headless Chromium through Playwright).

1. Slider release -> new preview on screen: a 1-megapixel photo on view, the slider pressed and
   released at alternating points of its track N times; each time from the release to the new
   preview image loaded in the page (end to end: the event, the adjustment net and product, the
   JPEG, the fetch, the decode). Median, min and max.
2. The first view of a 12-megapixel photo (upload, decode, preview reduction, decomposition and
   restoration of the preview, first preview on screen) against ``kind enhance`` on the same file
   (in this process, the networks already loaded: decode, enhance, encode).

    python scripts/bench_app.py --n 20 [--device cpu] [--precision fp32] [--json bench-app.json]

Needs ``pip install "kind[test]"`` and Debian's chromium (or KIND_CHROMIUM). The photos are made
from the bundled samples, resized. Run it on an otherwise idle machine: the numbers are wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from kind.api import KinD
from kind.app.browser import click_slider, missing_browser, open_browser, running_app, upload, wait_for_new_preview
from kind.enhance import ASSETS_DIR, enhance_files
from kind.io.atomic import atomic_write_json

SAMPLE = ASSETS_DIR / "chelsea-dark.png"


def make_photo(path: Path, width: int, height: int) -> Path:
    """The bundled sample resized to width × height (PNG, or JPEG by the suffix)."""
    with Image.open(SAMPLE) as image:
        image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def slider_latencies(page, count: int) -> list[float]:
    """Seconds from each slider release to its preview on screen."""
    seconds = []
    for index in range(count):
        old = page.evaluate("() => document.querySelector('#preview img').src")
        start = time.perf_counter()
        click_slider(page, 0.3 if index % 2 == 0 else 0.7)
        wait_for_new_preview(page, old)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="slider releases to time (default 20)")
    parser.add_argument("--weights", help="weights spec (default: the shipped weights)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--big", default="4000x3000", help="the large photo's size (default 4000x3000, 12 MP)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    why = missing_browser()
    if why:
        print(f"bench_app: {why}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    big_size = tuple(int(side) for side in args.big.lower().split("x"))
    runner_options = ["--device", args.device, "--precision", args.precision] + (["--weights", args.weights] if args.weights else [])
    with tempfile.TemporaryDirectory(prefix="kind-bench-app-") as folder:
        folder = Path(folder)
        one_mp = make_photo(folder / "one-megapixel.png", 1155, 866)
        big = make_photo(folder / "big.jpg", *big_size)
        with running_app(folder / "app", *runner_options) as url, sync_playwright() as playwright:
            context = open_browser(playwright, folder / "profile")
            page = context.new_page()
            page.goto(url, wait_until="load")
            upload(page, one_mp)
            click_slider(page, 0.5)  # one untimed release: the first run of each path warms up
            latencies = slider_latencies(page, args.n)
            page.goto(url, wait_until="load")  # a new session
            first_view = _timed(lambda: upload(page, big))
            context.close()
        model = KinD.from_pretrained(args.weights, args.device, args.precision)
        enhance_s = _timed(lambda: enhance_files([str(big)], folder / "enhanced", model, progress=False))
    result = {
        "device": args.device, "precision": args.precision, "n": args.n,
        "slider_to_preview_ms": {"median": 1000 * statistics.median(latencies), "min": 1000 * min(latencies),
                                 "max": 1000 * max(latencies), "all": [1000 * s for s in latencies]},
        "preview_size": [1155, 866], "big_size": list(big_size),
        "first_view_big_s": first_view, "kind_enhance_big_s": enhance_s,
    }
    print(f"kind app latency ({args.device}, {args.precision}), end to end in headless Chromium:")
    ms = result["slider_to_preview_ms"]
    print(f"  slider release -> new preview on screen, 1155 x 866 preview (1.0 MP), median of {args.n}: "
          f"{ms['median']:.0f} ms (min {ms['min']:.0f}, max {ms['max']:.0f})")
    print(f"  first view of a {big_size[0]} x {big_size[1]} photo: {first_view:.2f} s; "
          f"kind enhance on it (networks loaded): {enhance_s:.2f} s")
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
