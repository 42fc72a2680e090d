"""The README figure: LOL eval15 pairs (input | ours, official protocol | ground truth) and real
unpaired photos (input | ours, fixed ratio 5 | ours, auto ratio), small thumbnails stacked.

    python scripts/make_figure.py --lol ../shared/data/lol/eval15 --unpaired ../shared/data/unpaired \
        --weights shipped --out docs/figures/results.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from kind.imageops import minmax_stretch, to_image, to_tensor, to_uint8
from kind.inference.pipeline import enhance_general, enhance_lol
from kind.inference.runner import load_runner
from kind.io.atomic import atomic_path
from kind.io.panels import make_panel
from kind.io.read import read_image

THUMB_WIDTH = 260


def thumb(image: np.ndarray) -> np.ndarray:
    height = round(image.shape[0] * THUMB_WIDTH / image.shape[1])
    return np.asarray(Image.fromarray(image).resize((THUMB_WIDTH, height), Image.LANCZOS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lol", required=True, help="paired folder (low/, high/)")
    parser.add_argument("--lol-names", nargs="+", default=["1.png", "23.png", "778.png"])
    parser.add_argument("--unpaired", required=True)
    parser.add_argument("--unpaired-names", nargs="+", default=["lime-2.bmp", "dicm-03.jpg", "lime-7.bmp"])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    runner = load_runner(args.weights, "cpu")
    rows = []
    for name in args.lol_names:
        low = read_image(Path(args.lol) / "low" / name).rgb
        high = read_image(Path(args.lol) / "high" / name).rgb
        result = enhance_lol(runner, minmax_stretch(to_tensor(low)), minmax_stretch(to_tensor(high)))
        cells = [to_uint8(low), to_image(result.output), to_uint8(high)]
        labels = [f"LOL {name} input", f"ours, official protocol (ratio {float(result.ratio[0]):.2f})", "ground truth"]
        rows.append(make_panel([thumb(c) for c in cells], labels))
    for name in args.unpaired_names:
        rgb = read_image(Path(args.unpaired) / name).rgb
        image = minmax_stretch(to_tensor(rgb))
        fixed = enhance_general(runner, image, 5.0)
        auto = enhance_general(runner, image, "auto")
        cells = [to_uint8(rgb), to_image(fixed.output), to_image(auto.output)]
        labels = [f"{name} input", "ours, ratio 5", f"ours, auto ratio {float(auto.ratio[0]):.2f}"]
        rows.append(make_panel([thumb(c) for c in cells], labels))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    figure = Image.fromarray(np.concatenate(rows))
    with atomic_path(args.out) as tmp:
        figure.save(tmp, format="JPEG", quality=85)
    print(f"wrote {args.out} ({figure.width}×{figure.height})")


if __name__ == "__main__":
    main()
