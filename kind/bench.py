"""``kind bench``: latency, throughput, memory and effective GFLOP/s of the KinD pipeline.

Every timing is the median of ``repeat`` runs after ``warmup`` runs. The fast path (what
``kind enhance`` runs: fused oneDNN convolutions on CPU, autocast + channels_last on CUDA) is
checked against the plain eager fp32 reference before it is timed: max |Δ| for fp32, PSNR for bf16.
Peak memory is measured in a fresh child process per image size (VmHWM).
"""

from __future__ import annotations

import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from kind.metrics import psnr_torch
from kind.models import build_network
from kind.pipeline import Runner, enhance_general, enhance_tiled
from kind.weights import DEFAULT_WEIGHTS_DIR, KinDNets, load_weights_dir, missing_weight_files

SIZE = (400, 600)  # H, W of a LOL image
LARGE = (3000, 4000)  # 12 megapixels


def bench_nets(weights: str | None) -> tuple[KinDNets, str]:
    """Weights to time with: the given folder, else the shipped ones, else random (timing only)."""
    folder = Path(weights) if weights else DEFAULT_WEIGHTS_DIR
    if not missing_weight_files(folder):
        return load_weights_dir(folder), str(folder)
    torch.manual_seed(0)
    nets = KinDNets(*(build_network(n).eval() for n in ("decom", "restore", "adjust")))
    return nets, "random initialisation (timing only)"


def timed(fn: Callable[[], object], warmup: int, repeat: int, device: torch.device) -> list[float]:
    """Seconds per call of ``fn`` (synchronised on CUDA), ``repeat`` times after ``warmup`` calls."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def pipeline_flops(height: int, width: int) -> dict[str, int]:
    """Floating-point operations (2 per multiply-add) of each network on a 1×3×H×W image."""
    counts = {}
    with torch.device("meta"):
        decom, restore, adjust = (build_network(n) for n in ("decom", "restore", "adjust"))
        x = torch.empty(1, 3, height, width)
        for name, fn in (
            ("decom", lambda: decom(x)),
            ("restore", lambda: restore(torch.empty(1, 3, height, width), torch.empty(1, 1, height, width))),
            ("adjust", lambda: adjust(torch.empty(1, 1, height, width), 5.0)),
        ):
            counter = FlopCounterMode(display=False)
            with counter:
                fn()
            counts[name] = counter.get_total_flops()
    return counts


def check_fast_path(nets: KinDNets, runner: Runner, height: int, width: int) -> dict[str, float]:
    """The fast path against the eager fp32 reference on one image: max |Δ| of every map, and the
    PSNR of the output."""
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, height, width, generator=generator) ** 2  # dark-ish, full range
    reference = enhance_general(Runner(nets, "cpu", "fp32", fast=False), image, 5.0)
    fast = enhance_general(runner, image, 5.0)
    pairs = [(fast.output, reference.output)] + list(zip(fast.maps().values(), reference.maps().values()))
    return {
        "max_abs_diff": max((a.cpu() - b).abs().max().item() for a, b in pairs),
        "psnr_output_db": float(psnr_torch(fast.output.cpu(), reference.output, quantize=False)[0]),
    }


def bench_latency(runner: Runner, height: int, width: int, warmup: int, repeat: int) -> dict[str, float]:
    """Median seconds of each network and of the whole general pipeline on one image."""
    image = torch.rand(1, 3, height, width).to(runner.device)
    reflectance, illumination = runner.decompose(image)
    parts = {
        "decom": lambda: runner.decompose(image),
        "restore": lambda: runner.restore_reflectance(reflectance, illumination),
        "adjust": lambda: runner.adjust_illumination(illumination, 5.0),
        "end_to_end": lambda: enhance_general(runner, image, 5.0),
    }
    return {name: statistics.median(timed(fn, warmup, repeat, runner.device)) for name, fn in parts.items()}


def bench_batch(runner: Runner, batch: int, height: int, width: int, warmup: int, repeat: int) -> float:
    """Images per second of the general pipeline on a batch of ``batch`` images."""
    images = torch.rand(batch, 3, height, width).to(runner.device)
    seconds = statistics.median(timed(lambda: enhance_general(runner, images, 5.0), warmup, repeat, runner.device))
    return batch / seconds


def bench_large(runner: Runner, height: int, width: int) -> float:
    """Seconds for one tiled ``height``×``width`` image (as ``kind enhance`` runs large photos)."""
    image = torch.rand(1, 3, height, width)
    start = time.perf_counter()
    enhance_tiled(runner, image, 5.0)
    if runner.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_folder(runner: Runner, folder: Path) -> dict[str, float]:
    """Images per second of ``kind enhance`` on a folder (decode, compute and encode overlapped)."""
    from kind.enhance import enhance_files

    with tempfile.TemporaryDirectory() as out:
        summary = enhance_files([str(folder)], Path(out) / "out", runner, progress=False)
    return {"images": summary.done, "seconds": summary.seconds, "images_per_second": summary.done / summary.seconds}


def peak_rss_mb(height: int, width: int, device: str, precision: str, weights: str | None) -> float:
    """Peak resident memory (MB) of a fresh process running ``kind enhance`` on one
    ``height``×``width`` JPEG (decode, stretch, networks — tiled above 2.5 MP — encode)."""
    args = [sys.executable, "-m", "kind.bench", "--child-memory", f"{height}x{width}", "--device", device, "--precision", precision]
    if weights:
        args += ["--weights", weights]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _child_memory(size: str, device: str, precision: str, weights: str | None) -> None:
    from PIL import Image

    from kind.enhance import enhance_files

    height, width = (int(v) for v in size.split("x"))
    nets, _ = bench_nets(weights)
    runner = Runner(nets, device, precision)
    del nets
    rows = np.linspace(0, 60, height, dtype=np.float32)[:, None, None]
    cols = np.linspace(0, 40, width, dtype=np.float32)[None, :, None]
    pixels = (rows + cols + np.random.default_rng(0).integers(0, 20, (height, width, 3))).astype(np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo.jpg"
        Image.fromarray(pixels).save(photo, quality=90)
        del pixels
        enhance_files([str(photo)], Path(folder) / "out", runner, progress=False)
    print(peak_memory_mb())


def peak_memory_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (fresh at exec, unlike ru_maxrss, which a
    child started by fork + exec inherits from its parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def official_tf_seconds(tf_python: str, height: int, width: int, repeat: int) -> float:
    """Median seconds of the official TensorFlow graph (scripts/official_tf_graph.py) in ``tf_python``."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "official_tf_graph.py"
    result = subprocess.run(
        [tf_python, str(script), "time", "--height", str(height), "--width", str(width), "--repeat", str(repeat)],
        capture_output=True, text=True, check=True,
    )
    line = [row for row in result.stdout.splitlines() if "median" in row][-1]
    return float(line.split("median")[1].split()[0])


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def run_bench(
    device: str = "auto",
    precision: str = "fp32",
    weights: str | None = None,
    repeat: int = 10,
    warmup: int = 2,
    large: bool = True,
    folder: str | None = None,
    memory: bool = True,
    batch: int = 0,
    tf_python: str | None = None,
    compile: bool = False,
) -> dict:
    """Run every measurement and return them as a JSON-ready dict."""
    nets, weights_label = bench_nets(weights)
    runner = Runner(nets, device, precision, compile=compile)
    height, width = SIZE
    flops = pipeline_flops(height, width)
    result: dict = {
        "machine": describe_machine(runner.device),
        "device": str(runner.device),
        "precision": precision,
        "fast_path": "fused oneDNN conv+lrelu" if runner.fused else "channels_last" + (" + torch.compile" if compile else ""),
        "weights": weights_label,
        "size": f"{width}x{height}",
        "gflop": {k: v / 1e9 for k, v in flops.items()},
        "check": check_fast_path(nets, runner, 96, 128),
    }
    latency = bench_latency(runner, height, width, warmup, repeat)
    result["latency_s"] = latency
    total_flops = sum(flops.values())
    result["gflops_per_s"] = total_flops / 1e9 / (latency["decom"] + latency["restore"] + latency["adjust"])
    if runner.device.type == "cpu":
        reference = Runner(nets, "cpu", "fp32", fast=False)  # the plain eager port, for the speed-up
        result["reference_eager_s"] = bench_latency(reference, height, width, 1, max(3, repeat // 3))["end_to_end"]
    if batch:
        result[f"batch{batch}_images_per_s"] = bench_batch(runner, batch, height, width, warmup, repeat)
    if large:
        result["large_12mp_s"] = bench_large(runner, *LARGE)
    if folder:
        result["folder"] = {"path": folder, **bench_folder(runner, Path(folder))}
    if memory and runner.device.type == "cpu":
        result["peak_rss_mb"] = {
            f"{w}x{h}": peak_rss_mb(h, w, device, precision, weights) for h, w in (SIZE, (1080, 1920), LARGE)
        }
    if tf_python:
        result["official_tf_s"] = official_tf_seconds(tf_python, height, width, repeat)
    return result


def format_table(result: dict) -> str:
    """The measurements as a markdown table."""
    lat = result["latency_s"]
    rows = [
        ("machine", result["machine"]),
        ("device / precision / path", f"{result['device']} / {result['precision']} / {result['fast_path']}"),
        ("check vs eager fp32", f"max abs diff {result['check']['max_abs_diff']:.2e}, output PSNR {result['check']['psnr_output_db']:.1f} dB"),
        (f"DecomNet {result['size']}", f"{lat['decom'] * 1e3:.1f} ms ({result['gflop']['decom']:.1f} GFLOP)"),
        (f"RestorationNet {result['size']}", f"{lat['restore'] * 1e3:.1f} ms ({result['gflop']['restore']:.1f} GFLOP)"),
        (f"IllumAdjustNet {result['size']}", f"{lat['adjust'] * 1e3:.1f} ms ({result['gflop']['adjust']:.1f} GFLOP)"),
        (f"end to end {result['size']}", f"{lat['end_to_end'] * 1e3:.1f} ms"),
        ("effective GFLOP/s (three networks)", f"{result['gflops_per_s']:.0f}"),
    ]
    if "reference_eager_s" in result:
        speedup = result["reference_eager_s"] / lat["end_to_end"]
        rows.append(("plain eager fp32 end to end", f"{result['reference_eager_s'] * 1e3:.1f} ms ({speedup:.2f}× slower)"))
    if "official_tf_s" in result:
        rows.append(("official TF graph (same run)", f"{result['official_tf_s'] * 1e3:.1f} ms"))
    for key, value in result.items():
        if key.startswith("batch"):
            rows.append((key.replace("_", " "), f"{value:.1f}"))
    if "large_12mp_s" in result:
        rows.append(("12 MP photo, tiled", f"{result['large_12mp_s']:.1f} s"))
    if "folder" in result:
        f = result["folder"]
        rows.append((f"folder {f['path']}", f"{f['images_per_second']:.2f} images/s ({f['images']} images)"))
    for size, mb in result.get("peak_rss_mb", {}).items():
        rows.append((f"peak RSS {size}", f"{mb:.0f} MB"))
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    return "\n".join(lines)


if __name__ == "__main__":  # child process for the peak-memory measurement
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--child-memory", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--weights")
    ns = parser.parse_args()
    _child_memory(ns.child_memory, ns.device, ns.precision, ns.weights)
