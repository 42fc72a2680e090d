"""Clip speed and memory for docs/performance.md and docs/video.md (issue 30): one command.

    python scripts/bench_video.py                      # fps at 640x360, 1280x720, 1920x1080, fp32 and bf16
    python scripts/bench_video.py --memory-minutes 3   # instead, the memory of a 3-minute clip
    python scripts/bench_video.py --memory-minutes 5 --memory-size 640x360 --no-network   # the streaming alone

Each clip is made here (kind/video/synthetic.py: a slow pan across kind's bundled dark photo with
sensor noise), then enhanced by KinD.enhance_video on the CPU with the shipped weights. ``fps``
counts the frames after the first (warm-up) over the time between the first and the last frame
leaving the network; ``network alone`` times KinD.enhance_samples on the same decoded frames one
after another, so fps close to it means decoding and encoding overlap the network (they run in
their own threads). Memory: the resident size sampled every 250 frames and the process's peak
(ru_maxrss), on a long clip at a small size (``--memory-size``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kind import KinD  # noqa: E402
from kind.video.stream import enhance_video  # noqa: E402
from kind.video.synthetic import Motion, write_dark_clip  # noqa: E402

PHOTO = ROOT / "kind" / "assets" / "chelsea-dark.png"
PAN = Motion(start=(0.4, 0.45), end=(0.6, 0.55), zoom=(0.9, 0.8))


def size_argument(text: str) -> tuple[int, int]:
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def fps_row(model: KinD, folder: Path, size: tuple[int, int], frames: int) -> dict:
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    clip = folder / f"pan_{size[0]}x{size[1]}.mp4"
    write_dark_clip(clip, photo, frames=frames, size=size, motion=PAN, crf=18)
    stamps, inputs = [], []

    def observe(index: int, frame: np.ndarray, output: np.ndarray) -> None:
        stamps.append(time.perf_counter())
        inputs.append(frame)

    start = time.perf_counter()
    model.enhance_video(clip, folder / f"out_{clip.name}", ratio="auto", observe=observe)
    total = time.perf_counter() - start
    fps = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    start = time.perf_counter()
    for frame in inputs[1:]:
        model.enhance_samples(frame, 5.0)
    alone = (len(inputs) - 1) / (time.perf_counter() - start)
    return {"size": f"{size[0]}x{size[1]}", "precision": model.runner.precision, "frames": frames,
            "fps": round(fps, 3), "network_alone_fps": round(alone, 3), "wall_s": round(total, 1)}


def memory_row(model: KinD, folder: Path, size: tuple[int, int], minutes: float, network: bool = True,
               rate: int = 24) -> dict:
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    frames = int(minutes * 60 * rate)
    clip = folder / "long.mp4"
    write_dark_clip(clip, photo, frames=frames, size=size, rate=rate, motion=PAN, audio=True, crf=23)
    samples: dict[int, float] = {}
    before = resident_mb()

    def observe(index: int, frame: np.ndarray, output: np.ndarray) -> None:
        if index % 250 == 0 or index == frames - 1:
            samples[index] = round(resident_mb(), 1)

    start = time.perf_counter()
    if network:
        result = model.enhance_video(clip, folder / "long_out.mp4", ratio="auto", observe=observe, progress=True)
    else:  # the streaming alone: decode, copy each frame through, encode, with the audio
        result = enhance_video(clip, folder / "long_out.mp4", lambda samples, ratio, bounds: (samples, 1.0), 5.0,
                               observe=observe, progress=True)
    return {"size": f"{size[0]}x{size[1]}", "minutes": minutes, "network": network, "frames": result.frames,
            "resident_mb_before": round(before, 1), "resident_mb_by_frame": samples,
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "wall_s": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda t: [size_argument(s) for s in t.split(",")],
                        default=[(640, 360), (1280, 720), (1920, 1080)], help="WxH,... (default the three of docs)")
    parser.add_argument("--precisions", default="fp32,bf16", help="fp32,bf16 (default both)")
    parser.add_argument("--frames", type=int, default=6, help="frames a clip (default 6; the first is warm-up)")
    parser.add_argument("--memory-minutes", type=float, default=0,
                        help="measure memory on a clip this long instead (a process of its own, so the peak is its)")
    parser.add_argument("--memory-size", type=size_argument, default=(96, 54), help="its size (default 96x54)")
    parser.add_argument("--no-network", action="store_true",
                        help="memory of the streaming alone: frames copied through instead of enhanced (fast)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for precision in args.precisions.split(",") if not args.memory_minutes else []:
            model = KinD.from_pretrained(device="cpu", precision=precision)
            for size in args.sizes:
                rows.append(fps_row(model, folder, size, args.frames))
                print(json.dumps(rows[-1]), flush=True)
        if args.memory_minutes:
            rows.append(memory_row(KinD.from_pretrained(device="cpu"), folder, args.memory_size, args.memory_minutes,
                                   network=not args.no_network))
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
