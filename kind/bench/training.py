"""``kind bench --train``: training speed per stage — the loop exactly as ``kind train`` runs it
(:func:`kind.train.loop.train` on synthetic data of the official sizes, checks, logging and all),
beside the bare step measured in the same process on the same device: forward, the stage's loss,
backward and fused Adam on a batch already on the device, compiled with CUDA graphs on CUDA.

Speeds exclude the first ``warmup`` steps (compilation, CUDA-graph capture, cuDNN autotuning).
"""

from __future__ import annotations

import tempfile
import time

import torch
from torch import Tensor

from kind.models import build_network
from kind.train.config import TrainConfig, load_config
from kind.train.data import PatchDraws
from kind.train.loop import compiled, native_bf16, train, uses_bf16, uses_compile
from kind.train.stages import STAGES, StageData

IMAGE_SIZE = (400, 600)  # a LOL image
IMAGES = 16  # synthetic training images per stage
MAPS = {"decom": {"low": 3, "high": 3}, "adjust": {"L_low": 1, "L_high": 1}, "restore": {"R_low": 3, "L_low": 1, "target": 3}}


def device_label(device: torch.device) -> str:
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type


def smooth_noise(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """Low-frequency random images in [0, 1] (natural-looking statistics for the losses)."""
    coarse = torch.rand(shape[:-2] + (shape[-2] // 25, shape[-1] // 25), generator=generator)
    return torch.nn.functional.interpolate(coarse[None], size=shape[-2:], mode="bilinear", align_corners=False)[0]


def synthetic_data(stage: str, device: torch.device, images: int = IMAGES) -> StageData:
    """Training maps of ``images`` synthetic LOL-sized images for ``stage``, no validation."""
    generator = torch.Generator().manual_seed(0)
    train = {name: [smooth_noise((c, *IMAGE_SIZE), generator).to(device) for _ in range(images)]
             for name, c in MAPS[stage].items()}
    return StageData(train, {name: [] for name in MAPS[stage]}, [f"synthetic/{i}" for i in range(images)])


def stage_config(stage: str, device: torch.device, steps: int, out_dir: str, overrides: list[str] = ()):
    """The stage's official config (bf16 on CUDA), no validation or numbered checkpoints, a log
    every 100 steps as a long run has; then
    ``overrides`` (``key=value``, e.g. a recipe's batch size, patch size and precision)."""
    amp = "bf16" if device.type == "cuda" else "none"
    return load_config(stage, None, [f"steps={steps}", f"out_dir={out_dir}", f"device={device}", f"amp={amp}",
                                     "val_every=0", "save_every=0", "log_every=100", *overrides])  # logs as a long run


RECIPE_FIELDS = ("batch_size", "patch_size", "amp", "channels_last")  # what a recipe changes in the timed step


def recipe_overrides(recipe: TrainConfig | None) -> list[str]:
    """``key=value`` overrides that give a stage the batch size, patch size and precision of a
    training recipe's stage (a config from :func:`kind.train.config.load_pipeline_config`)."""
    return [f"{name}={getattr(recipe, name)}" for name in RECIPE_FIELDS] if recipe is not None else []


def loop_speed(stage: str, device: torch.device, steps: int, warmup: int, overrides: list[str] = ()) -> float:
    """Steps a second of :func:`kind.train.loop.train` itself, after ``warmup`` steps."""
    with tempfile.TemporaryDirectory() as out_dir:
        config = stage_config(stage, device, warmup + steps, out_dir, overrides)
        config.check_every = max(warmup, 1)  # checks at the end of the warm-up and at the end (default 100 on CUDA)
        state = train(stage, config, data=synthetic_data(stage, device), progress=False)
    timeline = [(step, seconds) for step, seconds in state.timeline if step >= warmup]
    (first_step, first_time), (last_step, last_time) = timeline[0], timeline[-1]
    return (last_step - first_step) / (last_time - first_time)


def bare_speed(stage: str, device: torch.device, steps: int, warmup: int, overrides: list[str] = ()) -> float:
    """Steps a second of the bare step on one batch already on the device."""
    config = stage_config(stage, device, 1, "unused", overrides)
    spec = STAGES[stage]
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(0)
        model = build_network(spec.network)
    model = model.to(device, memory_format=torch.channels_last if config.channels_last else torch.contiguous_format).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type == "cuda")
    generator = torch.Generator().manual_seed(1)
    n, p = config.batch_size, config.patch_size
    patches = {name: torch.rand(n, c, p, p, generator=generator).to(device, memory_format=torch.channels_last)
               for name, c in MAPS[stage].items()}
    zeros = torch.zeros(n, dtype=torch.int64, device=device)
    draws = PatchDraws(zeros, zeros, zeros, zeros, torch.rand(n, generator=generator, dtype=torch.float64).to(device))
    batch = spec.batch(patches, draws, config)
    bf16 = uses_bf16(config, device)

    def step_loss(batch: dict[str, Tensor]) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return spec.loss(model, batch, config, frozenset())[0]

    if uses_compile(config, device):
        step_loss = compiled(step_loss, device, cuda_graphs=True)
    cuda = device.type == "cuda"

    def step() -> None:
        if cuda and uses_compile(config, device):
            torch.compiler.cudagraph_mark_step_begin()
        loss = step_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    return steps / (time.perf_counter() - start)


def measure(stage: str, device: torch.device, steps: int, warmup: int, overrides: list[str]) -> dict:
    """One row: the loop's and the bare step's speed for ``stage`` with ``overrides``, in steps,
    patches and pixels (batch × patch² × steps) a second."""
    config = stage_config(stage, device, 1, "unused", overrides)
    loop = loop_speed(stage, device, steps, warmup, overrides)
    bare = bare_speed(stage, device, steps, warmup, overrides)
    pixels = config.batch_size * config.patch_size**2
    bf16 = uses_bf16(config, device)  # amp: auto as it resolved here
    return {
        "stage": stage,
        "steps_per_second": loop,
        "patches_per_second": loop * config.batch_size,
        "pixels_per_second": loop * pixels,
        "bare_steps_per_second": bare,
        "bare_pixels_per_second": bare * pixels,
        "ratio": loop / bare,
        "device": device_label(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "batch_size": config.batch_size,
        "patch_size": config.patch_size,
        "amp": "bf16" if bf16 else "none",
        "emulated": bf16 and not native_bf16(device),  # bf16 without native convolutions: slow
        "compiled": uses_compile(config, device),
    }


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"8x96,4x192"`` → [(8, 96), (4, 192)] (batch × patch)."""
    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        batch, sep, patch = part.lower().partition("x")
        if not (sep and batch.isdigit() and patch.isdigit() and int(batch) > 0 and int(patch) > 0):
            raise ValueError(f"--sizes: expected BATCHxPATCH items such as 8x96,4x192, got {part!r}")
        sizes.append((int(batch), int(patch)))
    if not sizes:
        raise ValueError("--sizes: expected BATCHxPATCH items such as 8x96,4x192")
    return sizes


PRECISIONS = {"fp32": "none", "bf16": "bf16"}  # --precisions name → the config's amp


def run_train_bench(stages: list[str], device: str = "auto", steps: int = 200, warmup: int | None = None,
                    recipe: dict[str, TrainConfig] | None = None, sizes: list[tuple[int, int]] | None = None,
                    precisions: list[str] | None = None) -> dict:
    """``{"stages": {STAGE: row}}`` (rows of :func:`measure`), or with ``sizes`` and/or
    ``precisions`` ``{"grid": [row, ...]}``, one row per stage, size and precision. ``warmup``
    defaults to 100 steps on CUDA (compilation, CUDA graphs) and 3 elsewhere. ``recipe`` (stage →
    config, e.g. a pipeline config's stages) sets each stage's batch size, patch size and precision;
    else the official ones (bf16 on CUDA)."""
    from kind.inference.runner import resolve_device

    device = resolve_device(device)
    warmup = (100 if device.type == "cuda" else 3) if warmup is None else warmup
    if sizes or precisions:
        unknown = sorted(set(precisions or []) - set(PRECISIONS))
        if unknown:
            raise ValueError(f"--precisions: expected some of {', '.join(PRECISIONS)}, got {unknown}")
        grid = [[f"batch_size={b}", f"patch_size={p}"] for b, p in sizes] if sizes else [[]]
        amps = [[f"amp={PRECISIONS[name]}"] for name in precisions] if precisions else [[]]
        return {"grid": [measure(stage, device, steps, warmup, size + amp) for stage in stages for size in grid for amp in amps]}
    return {"stages": {stage: measure(stage, device, steps, warmup, recipe_overrides((recipe or {}).get(stage)))
                       for stage in stages}}


def format_train_table(result: dict) -> str:
    lines = ["| stage | batch × patch | precision | loop steps/s | patches/s | Mpixels/s | bare step steps/s | loop / bare | device |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = result.get("grid") or list(result["stages"].values())
    for row in rows:
        precision = "fp32" if row["amp"] == "none" else f"{row['amp']} autocast{' (emulated)' if row.get('emulated') else ''}"
        threads = f", {row['threads']} thread{'s' if row['threads'] != 1 else ''}" if row.get("threads") else ""
        lines.append(f"| {row['stage']} | {row['batch_size']} × {row['patch_size']}² | {precision} | {row['steps_per_second']:.2f} | "
                     f"{row['patches_per_second']:.1f} | {row['pixels_per_second'] / 1e6:.2f} | {row['bare_steps_per_second']:.2f} | "
                     f"{row['ratio']:.2f} | {row['device']}{threads}{' (compiled)' if row['compiled'] else ''} |")
    return "\n".join(lines)
