"""The training loop shared by the three stages (:mod:`kind.train.stages`), on a CPU, one GPU, or many
processes under ``torchrun`` (DistributedDataParallel).

One visible loop: learning rate from a pure function, patches cut on the device by one gather
(:class:`kind.train.data.PatchSource`), forward and loss (``torch.compile``\\ d on CUDA: CUDA graphs),
backward, Adam step. Nothing waits for the device between steps: each step's loss goes into a
device buffer, read at the next *check*.

**The stop rule.** Every way a run ends is decided at a check, so that all ranks end at the same
step and no checkpoint ever holds weights updated after a non-finite loss. Checks happen every
``check_every`` steps, at every log, validation and checkpoint step and at the last step; a single
process also checks as soon as a stop is requested. At a check the losses since the last one are
read; across ranks the flags are summed, so any rank's non-finite loss, SIGINT/SIGTERM,
``max_seconds`` or ``max_cpu_seconds`` stops every rank (:mod:`kind.train.stop_rule`). A non-finite
loss raises :class:`TrainingDiverged` naming its step and the last good checkpoint (written at an
earlier check); a stop request writes ``last.pt`` and returns, ``state.stopped`` saying why.

With ``ema_decay`` an average of the weights (:mod:`kind.train.ema`) follows each step; it is what
validation scores, ``best.pt`` holds and the pipeline exports. With ``patch_schedule`` the batch
and patch sizes change at the phases' steps (:class:`kind.train.data.ScheduledSampler`). With
``anchor_decay`` each step ends by pulling the weights towards ``init_weights`` (a fine-tune's
training-time counterpart of blending its result with the start).

A run directory holds ``config.yaml``, TensorBoard events, and checkpoints (:mod:`kind.train.checkpoints`)
written atomically by rank 0: ``last.pt`` (at every validation, at a stop and at the end),
``best.pt`` (best validation metric) and ``step_NNNNNNN.pt`` every ``save_every`` steps.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from kind.distributed import World, current_world, rank_device
from kind.inference.fused import cpu_bf16_supported
from kind.io.atomic import atomic_write_text, check_output_path, remove_stale_temp_files
from kind.losses import ExtraLosses
from kind.models import build_network
from kind.progress import Progress
from kind.train.checkpoints import (
    ResumeError,
    RunState,
    check_resume,
    check_resume_data,
    read_checkpoint,
    refuse_existing_run,
    resume_source,
    save_checkpoint,
)
from kind.train.config import PipelineConfig, RestoreConfig, TrainConfig, batch_phases, config_to_yaml
from kind.train.cpu_load import oversubscription_notice
from kind.train.data import PatchSource, ScheduledSampler
from kind.train.ema import WeightAverage
from kind.train.run_lock import run_lock
from kind.train.stages import STAGES, Stage, StageData
from kind.train.stop_rule import StopRule, TrainingDiverged
from kind.train.strips import STRIP_LABELS, labelled_strip
from kind.train.upstream import upstream_changes, upstream_checksums
from kind.weights.format import WeightsError, export_weights, load_network, read_record, resolve_weight_file


def learning_rate(config: TrainConfig, step: int) -> float:
    """The official schedules: constant, except restoration's drop at ``lr_decay_step``; or, with
    the restoration's ``lr_schedule: cosine``, a linear warm-up over ``warmup_steps`` to ``lr``,
    then a cosine decay to ``min_lr`` at ``cosine_steps``."""
    if not isinstance(config, RestoreConfig):
        return config.lr
    if config.lr_schedule == "cosine":
        if step < config.warmup_steps:
            return config.lr * (step + 1) / config.warmup_steps
        end = config.cosine_steps or config.steps
        done = min(1.0, (step - config.warmup_steps) / max(1, end - config.warmup_steps))
        return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * done))
    return config.lr * config.lr_decay if step >= config.lr_decay_step else config.lr


def log_interval(config: TrainConfig) -> int:
    """Steps between loss logs: ``log_every``, or with 0 (the default) a fiftieth of the run, 1 to 100."""
    return config.log_every or min(100, max(1, config.steps // 50))


def uses_compile(config: TrainConfig, device: torch.device) -> bool:
    """``compile: auto`` compiles on CUDA only (on a CPU the eager step is as fast and exact)."""
    return config.compile == "on" or (config.compile == "auto" and device.type == "cuda")


def uses_bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether the step autocasts to bf16: ``amp: bf16``, or ``auto`` where the device has native bf16
    (CUDA that supports it; a CPU with AVX512-BF16 or AMX, where it trains about twice as fast as fp32;
    elsewhere bf16 is emulated and tens of times slower)."""
    return config.amp == "bf16" or (config.amp == "auto" and native_bf16(device))


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions natively."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_bf16_supported()


def compiled(fn: Callable, device: torch.device, cuda_graphs: bool) -> Callable:
    """``torch.compile(fn)``; with ``cuda_graphs`` in ``reduce-overhead`` mode (CUDA graphs)."""
    return torch.compile(fn, mode="reduce-overhead" if cuda_graphs and device.type == "cuda" else None)


# --- the loop ---------------------------------------------------------------------------------


@contextlib.contextmanager
def run_settings(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """``threads``, cuDNN autotuning (fixed patch sizes: pick the fastest kernels once) and the
    random state (seeded with ``config.seed``: the networks' initialisation) for the duration of
    the run; the process's own settings and random state come back after it."""
    threads, benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    cuda = [torch.cuda.current_device() if device.index is None else device.index] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(config.seed)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark


def train(
    stage_name: str,
    config: TrainConfig,
    resume: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    data: StageData | None = None,
) -> RunState:
    """Train ``stage_name`` (``decom``, ``adjust``, ``restore``) as ``config`` says; returns the
    final state (``state.stopped`` says why it ended early, if it did).

    ``resume``: ``"auto"`` (``out_dir/last.pt`` if present, else a fresh start, said so) or a
    checkpoint path. A fresh run refuses an ``out_dir`` that holds a run unless ``overwrite``.
    Under an initialised process group (torchrun) this process trains its rank's share.
    ``data`` replaces the stage's prepared data (benchmarks).

    Process-wide state is borrowed, never kept: while the run lasts (and in the main thread only)
    SIGINT and SIGTERM request a stop at the next check, and the thread count, cuDNN autotuning
    and torch's random state are the run's; the previous handlers, settings and random state come
    back when it ends, however it ends.
    """
    stage = STAGES[stage_name]
    world = current_world()
    device = rank_device(config.device, world)
    out_dir = check_output_path(config.out_dir, "out_dir", folder=True)
    if config.init_weights and not resolve_weight_file(config.init_weights, stage.network).is_file():
        raise WeightsError(f"init_weights {config.init_weights}: no such weight file")  # before any data is read
    with run_lock(out_dir) if world.is_main else contextlib.nullcontext() as lock_notice:
        return _locked_train(stage_name, stage, config, world, device, out_dir, resume, overwrite, progress, data,
                             lock_notice)


def _locked_train(stage_name: str, stage: Stage, config: TrainConfig, world: World, device: torch.device,
                  out_dir: Path, resume: str | None, overwrite: bool, progress: bool, data: StageData | None,
                  lock_notice: str | None) -> RunState:
    """:func:`train`, with ``out_dir`` held by this run (rank 0)."""
    checkpoint, notice = resume_source(out_dir, resume, overwrite)
    busy = oversubscription_notice(torch.get_num_threads()) if device.type == "cpu" and not config.threads else None
    notice = "; ".join(line for line in (lock_notice, notice, busy) if line) or None
    record = read_checkpoint(checkpoint, stage_name) if checkpoint is not None else None
    changes = check_resume(record, checkpoint, config, world.size) if record else []
    upstream_changed = upstream_changes(record, config) if record else None
    if upstream_changed:
        raise ResumeError(f"{checkpoint}: cannot resume: the frozen weights it was trained on changed "
                          f"({'; '.join(upstream_changed)}); train the stage afresh (--overwrite, or another out_dir)")
    upstream = upstream_checksums(config)
    if world.is_main:
        remove_stale_temp_files(out_dir)
    stop = StopRule(config, world)
    with run_settings(config, device), stop.handling_signals():
        data = data or stage.prepare(config, device, progress and world.is_main)
        if record:
            check_resume_data(record, checkpoint, data.names)
        if world.is_main:
            atomic_write_text(out_dir / "config.yaml", config_to_yaml(config))
        return _run(stage_name, stage, config, device, world, stop, data, record, checkpoint, notice, changes, progress,
                    upstream)


def return_free_memory() -> None:
    """Hand the heap memory that preparing the data freed back to the system (glibc keeps it
    otherwise: a restoration run on 240 LOL pairs held 7 GB instead of 3); a no-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _run(stage_name: str, stage: Stage, config: TrainConfig, device: torch.device, world: World, stop: StopRule,
         data: StageData, record: dict | None, checkpoint: Path | None, notice: str | None, changes: list[str],
         progress: bool, upstream: dict[str, str]) -> RunState:
    from torch.utils.tensorboard import SummaryWriter

    out_dir = Path(config.out_dir)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    source = PatchSource(data.train, device)
    data.train = {}  # the stacked copy on the device is the one kept
    return_free_memory()
    sampler = ScheduledSampler(source.sizes, batch_phases(config), config.seed, world.rank, stage.modes)

    torch.manual_seed(config.seed)  # the initialisation depends on the seed alone, not on what preparing the data drew
    model = build_network(stage.network).to(device, memory_format=memory_format)
    if config.init_weights:
        try:
            model.load_state_dict(load_network(config.init_weights, stage.network).state_dict())
        except WeightsError as error:
            raise WeightsError(f"init_weights {error}") from None
    anchored = list(model.parameters()) if config.anchor_decay else []
    anchor = [p.detach().clone() for p in anchored]  # the start, init_weights (a resume loads into the same tensors)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8,
                                 fused=device.type == "cuda")
    state = RunState(best_metric=stage.select(config))
    if record is not None:
        model.load_state_dict(record.get("train_state_dict", record["state_dict"]))  # the EMA is state_dict
        optimizer.load_state_dict(record["optimizer"])
        torch.set_rng_state(record["torch_rng"])
        best = record["best"]
        if record.get("best_metric", state.best_metric) != state.best_metric:  # selected on another metric before
            changes = [*changes, f"best.pt's metric: {record['best_metric']} → {state.best_metric} (the next validation sets it)"]
            best = None
        state = RunState(step=record["step"], best=best, best_metric=state.best_metric, last_checkpoint=checkpoint,
                         cpu_seconds=record.get("cpu_seconds", 0.0))
    ema = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    if ema is not None and record is not None and "train_state_dict" in record:
        ema.model.load_state_dict(record["state_dict"])
    validated = ema.model if ema is not None else model  # what validation scores and best.pt holds
    extra = ExtraLosses(config.extra_losses, stage_name, seed=config.seed).to(device)
    if extra.state_dict() and world.distributed:
        raise ValueError("extra_losses: adversarial terms train a discriminator per process; run them in one process")
    if record is not None and len(extra):
        extra.load_state_dict(record.get("extra_state", {}))
    trained: nn.Module = model
    if world.distributed:
        trained = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    bf16 = uses_bf16(config, device)

    def autocast() -> torch.autocast:  # a fresh context each time (what torch.compile traces best)
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def step_loss(batch: dict[str, Tensor]) -> tuple[Tensor, dict, dict]:
        """The stage's loss plus the extra terms; (total, named terms, the extra terms' outputs)."""
        with autocast():
            total, terms, outputs = stage.loss(trained, batch, config, extra.targets)
            if len(extra):
                extra_total, extra_terms = extra(outputs)
                total, terms = total + extra_total, terms | extra_terms
            return total, terms, outputs

    compile_step = uses_compile(config, device)
    if compile_step and world.distributed:  # DDP's communication hooks: compile the network, not the step
        trained = compiled(trained, device, cuda_graphs=False)
    elif compile_step:
        step_loss = compiled(step_loss, device, cuda_graphs=True)

    main = world.is_main
    bar = Progress(config.steps, desc=f"train {stage_name}", unit="step", start=state.step, enabled=progress and main)
    say = bar.write if main else (lambda text: None)
    for line in ([notice] if notice else []) + ([f"resumed from {checkpoint} at step {state.step}"] if record else []):
        say(line)
    for change in changes:
        say(f"resumed with a changed setting: {change}")
    if not data.has_validation:
        say("no validation pairs (none held out, no val_dir): best.pt will not be written")
    if bf16 and not native_bf16(device):
        say(f"amp: bf16 on a {device.type} without native bf16 convolutions: emulated, tens of times slower than fp32 "
            "(amp: auto takes bf16 only where it is native)")
    if compile_step:
        say("compiling the training step (torch.compile); the first steps are slow")

    def checkpoint_to(name: str) -> Path:
        path = out_dir / name
        if main:
            save_checkpoint(path, stage_name, model, optimizer, config, state, data.names, world.size, extra.state_dict(),
                            upstream, average=ema.model if ema is not None else None)
        return path

    def validate() -> None:
        if not (main and data.has_validation):
            return
        model.eval()
        with torch.inference_mode(), autocast():
            metrics, shown = stage.validate(validated, data, config)
        model.train()
        for key, value in metrics.items():
            writer.add_scalar(f"val/{key}", value, state.step)
        writer.add_scalar("train/cpu_seconds", state.cpu_seconds, state.step)
        for key, images in shown.items():
            labels = STRIP_LABELS[stage_name + ("+pipeline" if getattr(config, "adjust_weights", "") else "")]
            writer.add_image(f"val/{key}", labelled_strip(images.clamp(0, 1), labels), state.step, dataformats="HWC")
        bar.write(f"step {state.step}: " + " ".join(f"val_{k}={v:.4f}" for k, v in metrics.items()))
        select = stage.select(config)
        if state.best is None or (metrics[select] > state.best if stage.higher_is_better else metrics[select] < state.best):
            refused = stage.guard(metrics, config)
            if refused:
                bar.write(f"step {state.step}: not taken as best.pt: {refused}")
            else:
                state.best = metrics[select]
                checkpoint_to("best.pt")

    window = torch.zeros(config.check_every + 1, device=device)
    log_every = log_interval(config)
    window_start = logged = state.step
    logged_time = time.perf_counter()
    log_losses: list[float] = []
    model.train()
    writer = SummaryWriter(log_dir=str(out_dir)) if main else None
    stop.start_clocks(state.cpu_seconds)  # the budgets count training, not data preparation
    try:  # an error or a second SIGTERM closes the event file too (its writer thread would outlive the run)
        while state.step < config.steps:
            lr = learning_rate(config, state.step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            draws, patch = sampler.draws(state.step, device)
            batch = stage.batch(source.cut(draws, patch), draws, config)
            batch = {k: v.contiguous(memory_format=memory_format) if v.dim() == 4 else v for k, v in batch.items()}
            if compile_step and device.type == "cuda" and not world.distributed:
                torch.compiler.cudagraph_mark_step_begin()
            loss, terms, outputs = step_loss(batch)
            window[state.step - window_start] = loss.detach()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if anchor:
                with torch.no_grad():
                    torch._foreach_lerp_(anchored, anchor, lr * config.anchor_decay)
            if ema is not None:
                ema.update(model)
            if len(extra):
                terms |= extra.discriminator_step(outputs)
            state.step += 1
            bar.update(1)

            at_end = state.step == config.steps
            logging = state.step % log_every == 0 or at_end
            validating = (config.val_every and state.step % config.val_every == 0) or at_end
            saving = config.save_every and state.step % config.save_every == 0
            if not (logging or validating or saving or stop.check_due(state.step)):
                continue
            try:
                losses, mean_loss, reason = stop.decide(window[: state.step - window_start], window_start)
            except TrainingDiverged as error:
                last = state.last_checkpoint or "none written yet"
                raise TrainingDiverged(f"train {stage_name}: {error}; stopped. Last good checkpoint: {last}") from None
            window_start = state.step
            state.losses += losses
            log_losses += losses
            state.timeline.append((state.step, time.perf_counter() - stop.started))
            bar.update(0, last_step_loss=losses[-1])
            if logging and main:
                now = time.perf_counter()
                writer.add_scalar("train/loss", sum(log_losses) / len(log_losses), state.step)
                bar.write(f"step {state.step}: loss {sum(log_losses) / len(log_losses):.4f} (TensorBoard's train/loss: the "
                          f"mean of {len(log_losses)} steps); terms at the last step: "
                          + " ".join(f"{key}={float(value.detach()):.4g}" for key, value in terms.items()))
                if world.distributed:
                    writer.add_scalar("train/loss_all_ranks", mean_loss, state.step)
                for key, value in terms.items():
                    writer.add_scalar(f"train/{key}", float(value.detach()), state.step)
                writer.add_scalar("train/lr", lr, state.step)
                writer.add_scalar("train/steps_per_second", (state.step - logged) / max(now - logged_time, 1e-9), state.step)
                writer.add_scalar("train/cpu_seconds", stop.cpu_seconds(), state.step)
                logged, logged_time = state.step, now
            if logging:
                log_losses = []
            if reason is not None:
                state.stopped = reason
                validating = True
            state.cpu_seconds = stop.cpu_seconds()  # what validation logs and checkpoints keep: training alone
            with stop.not_counted():
                if validating:
                    validate()
                    state.last_checkpoint = checkpoint_to("last.pt")
                if saving:
                    state.last_checkpoint = checkpoint_to(f"step_{state.step:07d}.pt")
            if reason is not None:
                say(f"stopped at step {state.step}: {reason}; last.pt written (resume with --resume auto)")
                break
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    state.seconds = time.perf_counter() - stop.started
    state.cpu_seconds = stop.cpu_seconds()
    return state


# --- the whole pipeline ---------------------------------------------------------------------------

HALF_EXPORTS = ("restore",)  # exported in float16 (15.5 MB instead of 31; loaded as float32)


def stage_finished(config: TrainConfig) -> bool:
    last = Path(config.out_dir) / "last.pt"
    return last.is_file() and read_record(last).get("step", 0) >= config.steps


def stale_upstream(config: TrainConfig, trained_now: list[str]) -> str | None:
    """Why the run in ``config.out_dir`` no longer fits its upstream weights, or None when it does
    (or holds no run). Checkpoints without recorded checksums (older kind) count as stale when an
    upstream stage was trained further in this pipeline run (``trained_now``)."""
    last = Path(config.out_dir) / "last.pt"
    if not last.is_file():
        return None
    changes = upstream_changes(read_record(last), config)
    if changes is None:
        fed = [f"{name} ({name}_weights)" for name in trained_now if getattr(config, f"{name}_weights", "")]
        return f"{', '.join(fed)} trained further in this run" if fed else None
    return "; ".join(changes) or None


def train_pipeline(pipeline: PipelineConfig, resume: str | None = None, overwrite: bool = False,
                   progress: bool = True) -> tuple[str, dict[str, RunState]]:
    """Train the pipeline's stages in order, each exporting its weights (``best.pt``, else
    ``last.pt``) into ``pipeline.weights_dir`` for the next stage. Returns the weights set for
    ``kind enhance --weights`` (:meth:`PipelineConfig.weights_spec`) and each stage's state. A
    stage stopped by ``max_seconds`` is exported and the next one starts; a stage stopped by a
    signal ends the pipeline (``states[stage].stopped`` says so). With ``resume``, finished stages
    whose weights were exported are skipped and the others resume — but a stage trained on upstream
    weights that have changed since (:func:`stale_upstream`) is trained afresh."""
    world = current_world()
    if resume is None and not overwrite:
        for config in pipeline.stages.values():
            refuse_existing_run(Path(config.out_dir))
    states: dict[str, RunState] = {}
    for stage, config in pipeline.stages.items():
        exported = pipeline.weights_dir / f"{stage}.pt"
        stale = stale_upstream(config, [name for name, state in states.items() if state.losses]) if resume else None
        if stale is not None:
            if world.is_main:
                print(f"pipeline: {stage} was trained on other weights ({stale}); trained afresh, its previous "
                      f"checkpoints replaced", file=sys.stderr)
            state = train(stage, config, overwrite=True, progress=progress)
        elif resume is not None and exported.is_file() and stage_finished(config):
            if world.is_main:
                print(f"pipeline: {stage} already trained ({exported}); skipped", file=sys.stderr)
            continue
        else:
            state = train(stage, config, resume=resume, overwrite=overwrite, progress=progress)
        states[stage] = state
        if state.stopped in StopRule.SIGNALS.values():
            break
        if world.is_main:
            best = Path(config.out_dir) / "best.pt"
            chosen = best if best.is_file() else Path(config.out_dir) / "last.pt"
            export_weights(chosen, exported, half=stage in HALF_EXPORTS)
            print(f"pipeline: {stage} weights in {exported} (from {chosen.name}"
                  f"{'' if chosen == best else ': no validation wrote best.pt'})", file=sys.stderr)
        if world.distributed:
            torch.distributed.barrier()  # the next stage reads what rank 0 exported
    return pipeline.weights_spec(), states
