"""``kind bench``: latency, throughput, memory and effective GFLOP/s of the KinD pipeline.

Every timing is the median of ``repeat`` runs after ``warmup`` runs. The fast path (what
``kind enhance`` runs: fused oneDNN convolutions on CPU, autocast + channels_last on CUDA) is
checked against the plain eager fp32 reference before it is timed: max |Δ| for fp32, PSNR for bf16.
The same three networks exported to ONNX are timed in onnxruntime on the CPU beside it (when
onnxruntime is installed). Peak memory and wall time of ``kind enhance`` on one photo are measured
in a fresh child process per photo (VmHWM), the photo written beforehand by the parent.
"""

from __future__ import annotations

import platform
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

from kind.api import KinD
from kind.constants import NETWORK_NAMES
from kind.inference.pipeline import enhance_general
from kind.inference.runner import Runner, checked_runner
from kind.metrics import psnr_torch
from kind.models import build_network
from kind.weights.format import KinDNets, load_weights_dir, missing_weight_files, resolve_weights_dir

SIZE = (400, 600)  # H, W of a LOL image
LARGE = (3000, 4000)  # 12 megapixels
MEMORY_SIZES = (SIZE, (1080, 1920), LARGE)  # JPEG photos of these sizes (H, W) for the peak memory
HUGE_SIZES = ((8660, 11548), (12000, 12000))  # --huge: PNG photos of 100 and 144 megapixels


def bench_nets(weights: str | None) -> tuple[KinDNets, str]:
    """Weights to time with: the given spec, else the shipped ones, else random (timing only)."""
    folder = resolve_weights_dir(weights)
    if not missing_weight_files(folder):
        return load_weights_dir(folder), str(folder)
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(0)
        nets = KinDNets(*(build_network(n).eval() for n in NETWORK_NAMES))
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
    KinD(runner)(image)
    if runner.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_folder(runner: Runner, folder: Path) -> dict[str, float]:
    """Images per second of ``kind enhance`` on a folder (decode, compute and encode overlapped)."""
    from kind.enhance import enhance_files

    with tempfile.TemporaryDirectory() as out:
        summary = enhance_files([str(folder)], Path(out) / "out", KinD(runner), progress=False)
    return {"images": summary.done, "seconds": summary.seconds, "images_per_second": summary.done / summary.seconds}


def bench_onnx(nets: KinDNets, height: int, width: int, warmup: int, repeat: int) -> dict[str, float] | None:
    """Median seconds of each network exported to ONNX and run by onnxruntime on the CPU (all of
    the machine's threads), and of the three in a row; None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from kind.weights.onnx_export import export_nets

    with tempfile.TemporaryDirectory() as folder:
        files = export_nets(nets, folder)
        sessions = {name: onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                    for name, path in files.items()}
    image = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    reflectance, illumination = sessions["decom"].run(None, {"image": image})
    ratio = np.full_like(illumination, 5.0)
    parts = {
        "decom": lambda: sessions["decom"].run(None, {"image": image}),
        "restore": lambda: sessions["restore"].run(None, {"reflectance": reflectance, "illumination": illumination}),
        "adjust": lambda: sessions["adjust"].run(None, {"illumination": illumination, "ratio": ratio}),
    }
    cpu = torch.device("cpu")
    result = {name: statistics.median(timed(fn, warmup, repeat, cpu)) for name, fn in parts.items()}
    result["networks"] = statistics.median(timed(lambda: [fn() for fn in parts.values()], warmup, repeat, cpu))
    return result


def synthetic_photo(folder: Path, height: int, width: int, suffix: str) -> Path:
    """A dark test photo: a smooth gradient with a little texture (noise too for JPEG), written to
    ``folder/photo<suffix>``. PNGs stay smooth, so a 144-megapixel one is a few MB."""
    from PIL import Image

    rows = np.linspace(0, 60, height, dtype=np.float32)[:, None, None]
    cols = np.linspace(0, 40, width, dtype=np.float32)[None, :, None]
    pixels = rows + cols + 8 * (np.arange(width) // 64 % 2)[None, :, None]
    if suffix == ".jpg":
        pixels = pixels + np.random.default_rng(0).integers(0, 20, (height, width, 1))
    pixels = np.broadcast_to(pixels, (height, width, 3)).astype(np.uint8)
    path = folder / f"photo{suffix}"
    Image.fromarray(pixels).save(path, **({"quality": 90} if suffix == ".jpg" else {}))
    return path


def measure_enhance(photo: Path, device: str, precision: str, weights: str | None) -> dict[str, float]:
    """Peak resident memory (MB) and wall seconds of a fresh process enhancing ``photo`` as ``kind
    enhance`` does (:mod:`kind.bench.child`)."""
    argv = [str(photo), str(photo.parent / "out"), device, precision, *([weights] if weights else [])]
    result = subprocess.run([sys.executable, "-m", "kind.bench.child", *argv], capture_output=True, text=True, check=True)
    peak, seconds = result.stdout.strip().splitlines()[-1].split()
    return {"peak_rss_mb": float(peak), "seconds": float(seconds)}


def official_tf_seconds(tf_python: str, height: int, width: int, repeat: int) -> float:
    """Median seconds of the official TensorFlow graph (``official_tf_graph.py``, shipped beside this
    module, run as a script by ``tf_python``)."""
    script = Path(__file__).resolve().parent / "official_tf_graph.py"
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
    onnx: bool = True,
    huge: bool = False,
) -> dict:
    """Run every measurement and return them as a JSON-ready dict."""
    nets, weights_label = bench_nets(weights)
    runner = checked_runner(nets, device, precision, compile=compile)
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
    if onnx and (onnx_times := bench_onnx(nets, height, width, warmup, repeat)) is not None:
        result["onnxruntime_cpu_s"] = onnx_times
    photos = [(size, ".jpg") for size in MEMORY_SIZES] if memory and runner.device.type == "cpu" else []
    photos += [(size, ".png") for size in HUGE_SIZES] if huge else []
    if photos:
        result["enhance_photo"] = {}
    for (h, w), suffix in photos:
        with tempfile.TemporaryDirectory() as folder:
            photo = synthetic_photo(Path(folder), h, w, suffix)
            result["enhance_photo"][f"{w}x{h}{suffix}"] = measure_enhance(photo, device, precision, weights)
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
    if "onnxruntime_cpu_s" in result:
        ort = result["onnxruntime_cpu_s"]
        rows.append((f"onnxruntime CPU, three networks {result['size']}",
                     f"{ort['networks'] * 1e3:.1f} ms (decom {ort['decom'] * 1e3:.1f} / restore "
                     f"{ort['restore'] * 1e3:.1f} / adjust {ort['adjust'] * 1e3:.1f} ms)"))
    if "folder" in result:
        f = result["folder"]
        rows.append((f"folder {f['path']}", f"{f['images_per_second']:.2f} images/s ({f['images']} images)"))
    for photo, measured in result.get("enhance_photo", {}).items():
        rows.append((f"kind enhance {photo}", f"peak RSS {measured['peak_rss_mb']:.0f} MB, {measured['seconds']:.1f} s"))
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    return "\n".join(lines)
