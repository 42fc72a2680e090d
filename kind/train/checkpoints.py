"""Training checkpoints and the run folder: what a checkpoint holds, when a run may resume from
one, and when a folder may be trained into.

A checkpoint is a kind weight file (:mod:`kind.weights.format`) whose ``state_dict`` is the plain network
state (never ``module.`` or ``_orig_mod.`` prefixed), with the rest of the run added::

    {"optimizer": ..., "step": int, "best": float | None, "best_metric": str | None, "config": {...}, "data": [pair names],
     "world_size": int, "trainer_version": 2, "extra_state": {...}, "torch_rng": ...,
     "upstream": {"decom_weights": sha256, ...},   # the frozen weights it trained on (kind.train.upstream)
     "cpu_seconds": float,                         # training CPU time over all starts (max_cpu_seconds)
     "train_state_dict": {...}}                    # with ema_decay: the trained weights; state_dict is their average

With ``ema_decay`` the ``state_dict`` is the weight average that validation scored, so ``best.pt``
and exports hold what was selected; a resume continues the trained weights from ``train_state_dict``.

The patch draws are a pure function of (seed, rank, step) (:class:`kind.train.data.PatchSampler`), so
the step is all a resumed run needs of the sampler.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from kind.train.config import TrainConfig, folder_list
from kind.weights.format import WeightsError, read_record, save_record, weight_record

TRAINER_VERSION = 2  # 1: kind 0.1 (a stateful numpy sampler, no data or world-size record)
# Config fields a resumed run may change (the change is logged); any other difference is refused.
RESUMABLE_CHANGES = (
    "steps", "max_seconds", "val_every", "log_every", "save_every", "val_images", "device", "threads",
    "check_every", "compile", "out_dir", "max_cpu_seconds",
    "amp",  # a run resumed on a CPU with or without native bf16 (rounding only, the draws are the same)
)
RUN_FILES = ("last.pt", "best.pt")  # a folder holding one of these (or step_*.pt) holds a run


class ResumeError(ValueError):
    """A checkpoint that cannot be resumed with this config: the message lists the differences."""


@dataclass
class RunState:
    """Everything besides the model and optimizer that a run carries, and what it reports."""

    step: int = 0
    best: float | None = None
    best_metric: str | None = None  # the validation metric ``best`` is a value of
    last_checkpoint: Path | None = None
    losses: list[float] = field(default_factory=list)  # this process's step losses
    seconds: float = 0.0  # this process's training time (steps, not data preparation)
    cpu_seconds: float = 0.0  # the run's training CPU time over all its starts (validation not counted)
    stopped: str | None = None  # why the run ended early: "max_seconds", "SIGINT", "SIGTERM"
    timeline: list[tuple[int, float]] = field(default_factory=list)  # (step, seconds) at each check


def unwrap(model: nn.Module) -> nn.Module:
    """The plain network inside DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def save_checkpoint(
    path: Path, stage: str, model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig,
    state: RunState, data: list[str], world_size: int, extra_state: dict | None = None,
    upstream: dict[str, str] | None = None, average: nn.Module | None = None,
) -> Path:
    """Write a resumable checkpoint atomically; returns ``path``. With ``average`` (the EMA of the
    weights) the ``state_dict`` is the average and ``train_state_dict`` the trained weights."""
    trained = unwrap(model).state_dict()
    extra = {"train_state_dict": {k: v.detach().cpu() for k, v in trained.items()}} if average is not None else {}
    record = weight_record(
        stage,
        average.state_dict() if average is not None else trained,
        source=f"kind train {stage} ({config.out_dir})",
        optimizer=optimizer.state_dict(),
        step=state.step,
        best=state.best,
        best_metric=state.best_metric,
        config=dataclasses.asdict(config),
        data=list(data),
        world_size=world_size,
        trainer_version=TRAINER_VERSION,
        extra_state=extra_state or {},
        torch_rng=torch.get_rng_state(),
        upstream=upstream or {},
        cpu_seconds=state.cpu_seconds,
        **extra,
    )
    save_record(path, record)
    return path


def read_checkpoint(path: str | os.PathLike, stage: str) -> dict:
    """A resumable checkpoint of ``stage``; a weight file without training state is refused with
    the way to start from it (``init_weights``)."""
    record = read_record(path, stage)
    if "optimizer" not in record or "step" not in record:
        raise ResumeError(
            f"{path}: a weight file, not a training checkpoint (no optimizer state or step), so it cannot be "
            f"resumed; to start a run from these weights, set init_weights: {path}"
        )
    if record.get("trainer_version") != TRAINER_VERSION:
        raise ResumeError(
            f"{path}: written by an older kind trainer (version {record.get('trainer_version', 1)}, whose patch "
            f"sampler differs); it cannot be resumed exactly. Start a new run from its weights with "
            f"init_weights: {path}"
        )
    return record


def _comparable(name: str, value: object) -> object:
    return folder_list(value) if name in ("train_dir", "val_dir") else value


def config_changes(saved: dict, config: TrainConfig) -> tuple[list[str], list[str]]:
    """(refused, allowed): ``"name: old → new"`` for each field that differs between a
    checkpoint's config and ``config``."""
    now = dataclasses.asdict(config)
    defaults = dataclasses.asdict(type(config)())  # a field added since the checkpoint was written had its default
    refused, allowed = [], []
    for name in sorted(set(saved) | set(now)):
        old = _comparable(name, saved.get(name, defaults.get(name, "<absent>")))
        new = _comparable(name, now.get(name, "<absent>"))
        if old != new:
            (allowed if name in RESUMABLE_CHANGES else refused).append(f"{name}: {old!r} → {new!r}")
    return refused, allowed


def check_resume(record: dict, path: Path, config: TrainConfig, world_size: int) -> list[str]:
    """Refuse (:class:`ResumeError`, every difference listed) a resume whose config or world size
    differ from the checkpoint's beyond :data:`RESUMABLE_CHANGES`; returns the allowed changes, to
    be logged. The training pairs are checked once loaded (:func:`check_resume_data`)."""
    refused, allowed = config_changes(record["config"], config)
    if getattr(config, "lr_schedule", "") == "cosine" and not config.cosine_steps and any(c.startswith("steps:") for c in allowed):
        refused.append("steps, with lr_schedule: cosine and cosine_steps 0 (the cosine ends at steps: set cosine_steps "
                       f"to the first run's {record['config'].get('steps')} to keep its schedule)")
    if record.get("world_size", 1) != world_size:
        refused.append(f"world size: {record.get('world_size', 1)} → {world_size} (patches are drawn per rank)")
    if refused:
        raise ResumeError(
            f"{path}: cannot resume with this config; these differ from the checkpoint's:\n  "
            + "\n  ".join(refused)
            + "\n(only " + ", ".join(RESUMABLE_CHANGES) + " may change; choose a new out_dir, or --overwrite)"
        )
    return allowed


def check_resume_data(record: dict, path: Path, names: list[str]) -> None:
    """Refuse a resume whose training pairs (``folder/file`` names, in order) differ from the
    checkpoint's: the same folders may hold other files now."""
    saved = record.get("data", [])
    if saved == list(names):
        return
    gone, new = sorted(set(saved) - set(names)), sorted(set(names) - set(saved))
    detail = f"{len(saved)} → {len(names)} pairs"
    detail += f"; no longer there: {gone[:5] or 'none'}; new: {new[:5] or 'none'}" if gone or new else " (same pairs, another order)"
    raise ResumeError(f"{path}: cannot resume: the training pairs changed since the checkpoint ({detail})")


def run_files(out_dir: Path) -> list[Path]:
    """The checkpoints of a run in ``out_dir``."""
    if not out_dir.is_dir():
        return []
    return sorted([out_dir / name for name in RUN_FILES if (out_dir / name).is_file()] + list(out_dir.glob("step_*.pt")))


def refuse_existing_run(out_dir: Path) -> None:
    """Raise ValueError, naming the ways out, when ``out_dir`` holds a run's checkpoints."""
    if not run_files(out_dir):
        return
    step = ""
    if (out_dir / "last.pt").is_file():
        try:
            step = f" (last.pt at step {read_record(out_dir / 'last.pt').get('step', '?')})"
        except WeightsError:
            pass
    raise ValueError(
        f"out_dir {out_dir} already holds a run{step}; continue it with --resume auto, choose another "
        f"out_dir, or pass --overwrite to start afresh there (its checkpoints are replaced)"
    )


def resume_source(out_dir: Path, resume: str | None, overwrite: bool) -> tuple[Path | None, str | None]:
    """Decide, before any work, where a run starts: (checkpoint to resume or None, a message to
    show or None). A fresh run never silently replaces another: a folder holding checkpoints is
    refused unless ``overwrite`` (then its checkpoints and TensorBoard events are removed)."""
    if resume is not None and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: choose one")
    if resume == "auto":
        last = out_dir / "last.pt"
        if last.is_file():
            return last, None
        return None, f"--resume auto: no last.pt in {out_dir}; starting a fresh run"
    if resume is not None:
        path = Path(resume)
        if not path.is_file():
            raise WeightsError(f"--resume {path}: no such checkpoint")
        return path, None
    existing = run_files(out_dir)
    if not overwrite:
        refuse_existing_run(out_dir)
    if existing:
        for path in existing + list(out_dir.glob("events.out.tfevents.*")):
            path.unlink()
        return None, f"--overwrite: removed {len(existing)} checkpoint(s) of the previous run in {out_dir}"
    return None, None
