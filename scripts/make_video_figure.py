"""The figure and the flicker figures of docs/video.md (issue 30): one command.

    python scripts/make_video_figure.py --out docs/figures/video-strip.jpg

1. A dark clip made here: a slow pan and zoom across a photo (default kind's bundled
   ``astronaut-dark.png``, public domain) a stop darker, with fresh sensor noise in every frame
   (kind/video/synthetic.py), 48 frames at 320×180, enhanced by ``KinD.enhance_video`` with
   ``--ratio auto``; four frames, input above and output below, in one strip.
2. Flicker (kind/video/flicker.py) on a static clip of the same photo with real noise, 48 frames:
   the frame-to-frame change of the mean luminance of the output over the input's, for a fixed
   ratio (each frame exactly the photo pipeline's) and for ``auto`` (steady light).

``--photo`` takes another photo (a look at real footage); only figures from kind's bundled photos,
or clips made here, belong in the repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kind import KinD  # noqa: E402
from kind.io.panels import make_panel  # noqa: E402
from kind.video.flicker import flicker, mean_luminance  # noqa: E402
from kind.video.synthetic import Motion, write_dark_clip  # noqa: E402

PAN = Motion(start=(0.35, 0.3), end=(0.6, 0.45), zoom=(0.8, 0.45))
SHOWN = (0, 16, 32, 47)
GAIN = 0.5  # the photo's light halved (a stop darker) before the sensor noise


def strip(model: KinD, photo: np.ndarray, folder: Path, out: Path) -> None:
    clip = folder / "pan.mp4"
    write_dark_clip(clip, photo, frames=48, size=(320, 180), motion=PAN, photons=300.0, gain=GAIN)
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def observe(index: int, frame: np.ndarray, output: np.ndarray) -> None:
        if index in SHOWN:
            kept[index] = (frame.copy(), output.copy())

    result = model.enhance_video(clip, folder / "pan_out.mp4", ratio="auto", observe=observe)
    top = make_panel([kept[i][0] for i in SHOWN], [f"input, frame {i}" for i in SHOWN])
    bottom = make_panel([kept[i][1] for i in SHOWN], [f"KinD, ratio auto, frame {i}" for i in SHOWN])
    Image.fromarray(np.concatenate([top, bottom], axis=0)).save(out, quality=90)
    print(f"{out}: 48 frames, steady ratio {result.ratio_range[0]:.3f} to {result.ratio_range[1]:.3f}")


def flicker_figures(model: KinD, photo: np.ndarray, folder: Path, size: tuple[int, int], frames: int) -> None:
    clip = folder / "still.mp4"
    write_dark_clip(clip, photo, frames=frames, size=size, photons=300.0, gain=GAIN)
    for ratio in (5.0, "auto"):
        means: dict[str, list[float]] = {"in": [], "out": []}

        def observe(index: int, frame: np.ndarray, output: np.ndarray) -> None:
            means["in"].append(mean_luminance(frame))
            means["out"].append(mean_luminance(output))

        model.enhance_video(clip, folder / "still_out.mp4", ratio=ratio, observe=observe)
        before, after = flicker(means["in"]), flicker(means["out"])
        print(f"static {size[0]}x{size[1]}, {frames} frames, ratio {ratio}: flicker input {before:.5f}, "
              f"output {after:.5f}, output/input {after / before:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT / "kind" / "assets" / "astronaut-dark.png")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "video-strip.jpg")
    parser.add_argument("--flicker-frames", type=int, default=48)
    args = parser.parse_args()
    photo = np.asarray(Image.open(args.photo).convert("RGB"))
    model = KinD.from_pretrained(device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        strip(model, photo, Path(tmp), args.out)
        flicker_figures(model, photo, Path(tmp), (320, 180), args.flicker_frames)


if __name__ == "__main__":
    main()
