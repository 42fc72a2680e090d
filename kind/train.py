"""The three staged trainers (spec section 5): decomposition, illumination adjustment and
reflectance restoration, each one visible loop driven by a :mod:`kind.config` dataclass.

A stage is a small table of functions (:class:`Stage`): what data it prepares, how it cuts a
batch, its loss, and its validation. :func:`train` runs any of them: learning rate from a pure
function, forward, backward, step, log, validate, checkpoint.

A run directory holds ``config.yaml``, TensorBoard events, and checkpoints written atomically:
``last.pt`` (at every validation and at the end), ``best.pt`` (best validation metric) and
``step_NNNNNNN.pt`` every ``save_every`` steps. Each is a kind weight file (:mod:`kind.weights`)
with ``optimizer``, ``step``, ``config``, ``best`` and the sampler's RNG state added, so it can
be resumed or used directly as weights.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from kind import losses
from kind.config import AdjustConfig, DecomConfig, RestoreConfig, TrainConfig, config_to_yaml
from kind.data import PairedImages, PatchSampler, crop, dihedral, load_pairs, split_holdout
from kind.fast import cpu_fusion_available, fuse_for_cpu, prepare_input
from kind.fileio import atomic_write_text
from kind.metrics import psnr_torch, ssim_torch
from kind.models import build_network
from kind.runner import resolve_device
from kind.progress import Progress
from kind.weights import load_network, read_record, save_record, weight_record

Images = dict[str, list[Tensor]]  # named per-image C×H×W tensors, cropped together


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


# --- schedule ------------------------------------------------------------------------------


def learning_rate(config: TrainConfig, step: int) -> float:
    """The official schedules: constant, except restoration's drop at ``lr_decay_step``."""
    if isinstance(config, RestoreConfig) and step >= config.lr_decay_step:
        return config.lr * config.lr_decay
    return config.lr


# --- data shared by the stages -------------------------------------------------------------


def load_splits(config: TrainConfig, min_size: int) -> tuple[PairedImages, PairedImages]:
    """(train, validation) pairs: ``holdout`` pairs of ``train_dir`` plus all of ``val_dir``."""
    train, val = split_holdout(load_pairs(config.train_dir, config.stretch, min_size), config.holdout)
    if config.val_dir:
        val = val + load_pairs(config.val_dir, config.stretch)
    return train, val


def cut_batch(images: Images, sampler: PatchSampler, batch_size: int, patch: int, modes: int = 8) -> dict[str, Tensor]:
    """``batch_size`` patches, each from the sampler's next image, cropped and augmented alike in
    every named tensor: name → N×C×patch×patch."""
    patches: dict[str, list[Tensor]] = {name: [] for name in images}
    for _ in range(batch_size):
        index = sampler.next_image()
        height, width = next(iter(images.values()))[index].shape[-2:]
        top, left = sampler.crop_box(height, width, patch)
        mode = sampler.mode(modes)
        for name, tensors in images.items():
            patches[name].append(dihedral(crop(tensors[index], top, left, patch), mode))
    return {name: torch.stack(values) for name, values in patches.items()}


def patch_batch(images: Images, sampler: PatchSampler, config: TrainConfig) -> dict[str, Tensor]:
    """The batch of the decomposition and restoration stages: all 8 augmentation modes."""
    return cut_batch(images, sampler, config.batch_size, config.patch_size)


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}


def quality(pred: Tensor, target: Tensor) -> dict[str, float]:
    """PSNR/SSIM of 1×C×H×W images after the official truncating 8-bit save."""
    return {"psnr": float(psnr_torch(pred, target)[0]), "ssim": float(ssim_torch(pred, target)[0])}


# --- stage 1: decomposition ------------------------------------------------------------------


def decom_prepare(config: TrainConfig, device: torch.device) -> tuple[Images, Images]:
    train, val = load_splits(config, config.patch_size)
    to = lambda xs: [x.to(device) for x in xs]  # noqa: E731
    return {"low": to(train.low), "high": to(train.high)}, {"low": to(val.low), "high": to(val.high)}


def decom_weights(config: DecomConfig) -> dict[str, float]:
    """The decomposition loss weights: the official ones, with the configured reflectance similarity."""
    return losses.DECOMPOSITION_WEIGHTS | {"equal_R": config.equal_r_weight}


def decom_loss(model: nn.Module, batch: dict[str, Tensor], config: DecomConfig) -> tuple[Tensor, dict]:
    low, high = batch["low"], batch["high"]
    reflectance, illumination = model(torch.cat([low, high]))  # one pass for both halves
    n = low.shape[0]
    return losses.decomposition_loss(
        low, high, reflectance[:n], illumination[:n], reflectance[n:], illumination[n:], decom_weights(config)
    )


def decom_validate(model: nn.Module, images: Images, config: DecomConfig) -> tuple[dict[str, float], dict[str, Tensor]]:
    """The held-out loss (the training weights) and reconstruction quality; mean illuminations."""
    rows, shown = [], {}
    for i, (low, high) in enumerate(zip(images["low"], images["high"])):
        (r_low, l_low), (r_high, l_high) = model(low[None]), model(high[None])
        total, _ = losses.decomposition_loss(low[None], high[None], r_low, l_low, r_high, l_high, decom_weights(config))
        recon = {f"recon_{k}": v for k, v in quality(r_low * l_low, low[None]).items()}
        rows.append({"loss": float(total), **recon, "L_low_mean": float(l_low.mean()), "L_high_mean": float(l_high.mean())})
        if i < config.val_images:
            shown[f"{i}"] = torch.cat([low[None], r_low, l_low.expand_as(r_low), high[None], r_high, l_high.expand_as(r_high)])
    return mean_metrics(rows), shown


# --- stage 2: illumination adjustment ----------------------------------------------------------


@torch.inference_mode()
def frozen_decomposition(config: AdjustConfig | RestoreConfig, device: torch.device, min_size: int) -> tuple[dict, dict]:
    """Train/val dicts of the frozen DecomNet's R and L (3×H×W, 1×H×W each) of the low and high
    images, computed once per run (fused on CPU)."""
    decom = load_network(config.decom_weights, "decom", device)
    fused = device.type == "cpu" and cpu_fusion_available()
    if fused:
        decom = fuse_for_cpu(decom)
    out = []
    for split in load_splits(config, min_size):
        maps: dict[str, list[Tensor]] = {"R_low": [], "L_low": [], "R_high": [], "L_high": []}
        for key, images in (("low", split.low), ("high", split.high)):
            for image in images:
                x = image[None].to(device)
                reflectance, illumination = decom(prepare_input(x, torch.float32) if fused else x)
                maps[f"R_{key}"].append(reflectance[0].contiguous())
                maps[f"L_{key}"].append(illumination[0].contiguous())
        out.append(maps)
    return out[0], out[1]


def adjust_prepare(config: TrainConfig, device: torch.device) -> tuple[Images, Images]:
    train, val = frozen_decomposition(config, device, config.patch_size)
    keep = ("L_low", "L_high")
    return {k: train[k] for k in keep}, {k: val[k] for k in keep}


def adjustment_ratio(l_low: Tensor, l_high: Tensor) -> Tensor:
    """α = mean(L_low / (L_high + 1e-4)) per patch (N×1×H×W → (N,)), before augmentation (the
    mean is invariant to it)."""
    return (l_low / (l_high + 1e-4)).flatten(1).mean(dim=1)


def adjust_batch(images: Images, sampler: PatchSampler, config: TrainConfig) -> dict[str, Tensor]:
    """With probability ½ a patch brightens (L_low → L_high, ratio 1/α + 1e-4), else it darkens
    (L_high → L_low, ratio α). Modes 0–6 only, as the official code draws them."""
    batch = cut_batch(images, sampler, config.batch_size, config.patch_size, modes=7)
    alpha = adjustment_ratio(batch["L_low"], batch["L_high"])
    brighten = torch.tensor([sampler.uniform() < 0.5 for _ in range(len(alpha))], device=alpha.device)
    pick = brighten.view(-1, 1, 1, 1)
    return {
        "input": torch.where(pick, batch["L_low"], batch["L_high"]),
        "target": torch.where(pick, batch["L_high"], batch["L_low"]),
        "ratio": torch.where(brighten, 1 / alpha + 1e-4, alpha),
    }


def adjust_loss(model: nn.Module, batch: dict[str, Tensor], config: TrainConfig) -> tuple[Tensor, dict]:
    return losses.adjustment_loss(model(batch["input"], batch["ratio"]), batch["target"])


def adjust_validate(model: nn.Module, images: Images, config: TrainConfig) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Brighten each validation L_low towards its L_high with the training ratio 1/α + 1e-4."""
    rows, shown = [], {}
    for i, (l_low, l_high) in enumerate(zip(images["L_low"], images["L_high"])):
        l_low, l_high = l_low[None], l_high[None]
        ratio = 1 / adjustment_ratio(l_low, l_high) + 1e-4
        adjusted = model(l_low, ratio)
        total, _ = losses.adjustment_loss(adjusted, l_high)
        rows.append({"loss": float(total), **quality(adjusted, l_high)})
        if i < config.val_images:
            shown[f"{i}"] = torch.cat([l_low, adjusted, l_high])
    return mean_metrics(rows), shown


# --- stage 3: reflectance restoration -----------------------------------------------------------


def restore_prepare(config: TrainConfig, device: torch.device) -> tuple[Images, Images]:
    train, val = frozen_decomposition(config, device, config.patch_size)

    def pick(split: dict) -> Images:
        target = [r.clamp(min=0) ** config.target_gamma for r in split["R_high"]]
        return {"R_low": split["R_low"], "L_low": split["L_low"], "target": target}

    return pick(train), pick(val)


def restore_loss(model: nn.Module, batch: dict[str, Tensor], config: TrainConfig) -> tuple[Tensor, dict]:
    return losses.restoration_loss(model(batch["R_low"], batch["L_low"]), batch["target"])


def restore_validate(model: nn.Module, images: Images, config: TrainConfig) -> tuple[dict[str, float], dict[str, Tensor]]:
    rows, shown = [], {}
    for i, (r_low, l_low, target) in enumerate(zip(images["R_low"], images["L_low"], images["target"])):
        restored = model(r_low[None], l_low[None])
        total, _ = losses.restoration_loss(restored, target[None])
        rows.append({"loss": float(total), **quality(restored, target[None])})
        if i < config.val_images:
            shown[f"{i}"] = torch.cat([r_low[None], restored, target[None]])
    return mean_metrics(rows), shown


# --- the stage table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """What makes one training stage: data, batches, loss, validation, and the selection metric."""

    prepare: Callable[[TrainConfig, torch.device], tuple[Images, Images]]
    batch: Callable[[Images, PatchSampler, TrainConfig], dict[str, Tensor]]
    loss: Callable[[nn.Module, dict[str, Tensor], TrainConfig], tuple[Tensor, dict]]
    validate: Callable[[nn.Module, Images, TrainConfig], tuple[dict[str, float], dict[str, Tensor]]]
    select: str  # validation metric for best.pt
    higher_is_better: bool


STAGES: dict[str, Stage] = {
    "decom": Stage(decom_prepare, patch_batch, decom_loss, decom_validate, "loss", False),
    "adjust": Stage(adjust_prepare, adjust_batch, adjust_loss, adjust_validate, "psnr", True),
    "restore": Stage(restore_prepare, patch_batch, restore_loss, restore_validate, "psnr", True),
}


# --- checkpoints -----------------------------------------------------------------------------------


@dataclass
class RunState:
    """Everything besides the model that a resumed run needs."""

    step: int = 0
    best: float | None = None
    last_checkpoint: Path | None = None
    losses: list[float] = dataclasses.field(default_factory=list)  # this process's step losses
    seconds: float = 0.0  # this process's training time (steps, not data preparation)


def save_checkpoint(path: Path, stage: str, model: nn.Module, optimizer: torch.optim.Optimizer,
                    sampler: PatchSampler, config: TrainConfig, state: RunState) -> None:
    record = weight_record(
        stage,
        model.state_dict(),
        source=f"kind train {stage} ({config.out_dir})",
        optimizer=optimizer.state_dict(),
        step=state.step,
        best=state.best,
        config=dataclasses.asdict(config),
        sampler=sampler.state_dict(),
        torch_rng=torch.get_rng_state(),
    )
    save_record(path, record)


def resume_path(config: TrainConfig, resume: str | None) -> Path | None:
    """``auto`` → ``out_dir/last.pt`` when it exists; a path → that file; None → start fresh."""
    if resume is None:
        return None
    if resume == "auto":
        last = Path(config.out_dir) / "last.pt"
        return last if last.is_file() else None
    return Path(resume)


# --- the loop -------------------------------------------------------------------------------------


def _autocast(config: TrainConfig, device: torch.device):
    enabled = config.amp == "bf16"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def _is_better(value: float, best: float | None, higher: bool) -> bool:
    return best is None or (value > best if higher else value < best)


def train(stage_name: str, config: TrainConfig, resume: str | None = None, progress: bool = True) -> RunState:
    """Train ``stage_name`` (``decom``, ``adjust``, ``restore``) as ``config`` says; returns the final state."""
    from torch.utils.tensorboard import SummaryWriter

    stage = STAGES[stage_name]
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch sizes: pick the fastest kernels once
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml", config_to_yaml(config))

    train_images, val_images = stage.prepare(config, device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = build_network(stage_name).to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
    sampler = PatchSampler(len(next(iter(train_images.values()))), config.seed)
    state = RunState()

    checkpoint = resume_path(config, resume)
    if checkpoint is not None:
        record = read_record(checkpoint, stage_name)
        model.load_state_dict(record["state_dict"])
        optimizer.load_state_dict(record["optimizer"])
        sampler.load_state_dict(record["sampler"])
        torch.set_rng_state(record["torch_rng"])
        state = RunState(step=record["step"], best=record["best"], last_checkpoint=checkpoint)

    writer = SummaryWriter(log_dir=str(out_dir))
    bar = Progress(config.steps, desc=f"train {stage_name}", unit="step", start=state.step, enabled=progress)
    if checkpoint is not None:
        bar.write(f"resumed from {checkpoint} at step {state.step}")
    has_validation = len(next(iter(val_images.values()), [])) > 0
    if not has_validation:
        bar.write("no validation pairs (holdout 0 and no val_dir): best.pt will not be written")

    def checkpoint_to(name: str) -> Path:
        path = out_dir / name
        save_checkpoint(path, stage_name, model, optimizer, sampler, config, state)
        return path

    def validate() -> None:
        if not has_validation:
            return
        model.eval()
        with torch.inference_mode(), _autocast(config, device):
            metrics, shown = stage.validate(model, val_images, config)
        model.train()
        for key, value in metrics.items():
            writer.add_scalar(f"val/{key}", value, state.step)
        for key, images in shown.items():
            writer.add_images(f"val/{key}", images.float().clamp(0, 1), state.step)
        bar.write(f"step {state.step}: " + " ".join(f"val_{k}={v:.4f}" for k, v in metrics.items()))
        if _is_better(metrics[stage.select], state.best, stage.higher_is_better):
            state.best = metrics[stage.select]
            checkpoint_to("best.pt")

    model.train()
    started = timer = time.perf_counter()
    logged_step = state.step
    while state.step < config.steps:
        lr = learning_rate(config, state.step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = stage.batch(train_images, sampler, config)
        batch = {k: v.contiguous(memory_format=memory_format) if v.dim() == 4 else v for k, v in batch.items()}
        with _autocast(config, device):
            loss, terms = stage.loss(model, batch, config)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            last = state.last_checkpoint or "none written yet"
            raise TrainingDiverged(
                f"train {stage_name}: the loss is {loss_value} at step {state.step + 1}; stopped. "
                f"Last good checkpoint: {last}"
            )
        state.losses.append(loss_value)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1

        if state.step % config.log_every == 0 or state.step == config.steps:
            elapsed, timer = time.perf_counter() - timer, time.perf_counter()
            steps_since, logged_step = state.step - logged_step, state.step
            writer.add_scalar("train/loss", loss_value, state.step)
            for key, value in terms.items():
                writer.add_scalar(f"train/{key}", value.item(), state.step)
            writer.add_scalar("train/lr", lr, state.step)
            writer.add_scalar("train/steps_per_second", steps_since / max(elapsed, 1e-9), state.step)
        bar.update(1, loss=loss_value)
        out_of_time = config.max_seconds > 0 and time.perf_counter() - started > config.max_seconds
        at_end = state.step == config.steps or out_of_time
        if (config.val_every and state.step % config.val_every == 0) or at_end:
            validate()
            state.last_checkpoint = checkpoint_to("last.pt")
        if config.save_every and state.step % config.save_every == 0:
            state.last_checkpoint = checkpoint_to(f"step_{state.step:07d}.pt")
        if out_of_time:
            bar.write(f"stopped at step {state.step}: max_seconds {config.max_seconds:g} reached (resume to continue)")
            break
    bar.close()
    writer.close()
    state.seconds = time.perf_counter() - started
    return state
