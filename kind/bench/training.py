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
from kind.train.loop import compiled, train, uses_compile
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
    """The stage's official config (bf16 on CUDA), no validation or numbered checkpoints; then
    ``overrides`` (``key=value``, e.g. a recipe's batch size, patch size and precision)."""
    amp = "bf16" if device.type == "cuda" else "none"
    return load_config(stage, None, [f"steps={steps}", f"out_dir={out_dir}", f"device={device}", f"amp={amp}",
                                     "val_every=0", "save_every=0", *overrides])


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
    def step_loss(batch: dict[str, Tensor]) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.amp == "bf16"):
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


def run_train_bench(stages: list[str], device: str = "auto", steps: int = 200, warmup: int | None = None,
                    recipe: dict[str, TrainConfig] | None = None) -> dict:
    """``{"stages": {STAGE: {steps_per_second, patches_per_second, bare_steps_per_second, ratio,
    device, batch_size, patch_size, amp, compiled}}}``. ``warmup`` defaults to 100 steps on CUDA
    (compilation, CUDA graphs) and 3 elsewhere. ``recipe`` (stage → config, e.g. a pipeline
    config's stages) sets each stage's batch size, patch size and precision; else the official ones."""
    from kind.inference.runner import resolve_device

    device = resolve_device(device)
    warmup = (100 if device.type == "cuda" else 3) if warmup is None else warmup
    result: dict = {"stages": {}}
    for stage in stages:
        overrides = recipe_overrides((recipe or {}).get(stage))
        config = stage_config(stage, device, 1, "unused", overrides)
        loop = loop_speed(stage, device, steps, warmup, overrides)
        bare = bare_speed(stage, device, steps, warmup, overrides)
        result["stages"][stage] = {
            "steps_per_second": loop,
            "patches_per_second": loop * config.batch_size,
            "bare_steps_per_second": bare,
            "ratio": loop / bare,
            "device": device_label(device),
            "batch_size": config.batch_size,
            "patch_size": config.patch_size,
            "amp": config.amp,
            "compiled": uses_compile(config, device),
        }
    return result


def format_train_table(result: dict) -> str:
    lines = ["| stage | batch × patch | precision | loop steps/s | patches/s | bare step steps/s | loop / bare | device |",
             "|---|---|---|---|---|---|---|---|"]
    for stage, row in result["stages"].items():
        precision = "fp32" if row["amp"] == "none" else f"{row['amp']} autocast"
        lines.append(f"| {stage} | {row['batch_size']} × {row['patch_size']}² | {precision} | {row['steps_per_second']:.1f} | "
                     f"{row['patches_per_second']:.0f} | {row['bare_steps_per_second']:.1f} | {row['ratio']:.2f} | "
                     f"{row['device']}{' (compiled)' if row['compiled'] else ''} |")
    return "\n".join(lines)
