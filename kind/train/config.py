"""Training configuration: one dataclass per stage, YAML files whose keys equal its fields, and
``--set key=value`` overrides that reject unknown keys and wrong types.

The defaults are the official schedules (spec section 5), with epochs converted to steps for the
485 LOL training pairs: one epoch is ⌊485 / batch⌋ steps. Relative paths are relative to the
current folder, never to the config file (:mod:`kind.io.path_origin`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from kind.io.path_origin import with_origin


def folder_list(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """A folder setting as a list: ``"a"`` → ``["a"]``, ``[a, b]`` as given, ``""`` → ``[]``."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


Folders = str | list  # one folder, or a YAML list of folders read in order


@dataclass
class TrainConfig:
    """Fields shared by every stage."""

    train_dir: Folders = "data/LOLdataset/our485"  # a folder with low/ + high/ (or LOL-v2 Low/ + Normal/), or a list of them
    val_dir: Folders = ""  # extra validation folder(s) in the same layouts; "" = none
    holdout: int = 0  # training pairs held out for validation: the last N of the concatenated folders
    out_dir: str = "runs/stage"  # the run directory: config, TensorBoard events, checkpoints
    init_weights: str = ""  # start from this kind weight file (shipped, exported, converted); "" = Glorot
    steps: int = 96_000
    batch_size: int = 10  # per process (rank); the effective batch is batch_size × world size
    patch_size: int = 48
    lr: float = 1e-4  # Adam, betas (0.9, 0.999), eps 1e-8
    seed: int = 0
    stretch: bool = True  # the official loader's per-image min-max stretch
    extra_losses: list = dataclasses.field(default_factory=list)  # added loss terms (docs/losses.md)
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun each rank takes its own GPU)
    amp: str = "none"  # none | bf16 (autocast) | auto (bf16 where the device has native bf16, else none)
    compile: str = "auto"  # auto (on for CUDA) | on | off: torch.compile the step (CUDA graphs on CUDA)
    channels_last: bool = True
    check_every: int = 100  # steps between checks of the stop rule (non-finite loss, stop requests)
    log_every: int = 0  # steps between loss logs (each is a check: the host waits for the device); 0 = steps // 50, 1 to 100
    val_every: int = 1000  # steps between validations (0 = only at the end)
    save_every: int = 5000  # steps between numbered checkpoints (last.pt is written at each validation)
    val_images: int = 4  # validation images shown in TensorBoard
    threads: int = 0  # CPU threads for torch during the run (0 = torch's default)
    max_seconds: float = 0.0  # stop (validating and writing last.pt) after this much training time; 0 = no limit
    max_cpu_seconds: float = 0.0  # stop once the run's training steps used this much process CPU time, over all its resumes (validation not counted); 0 = no limit
    ema_decay: float = 0.0  # keep an exponential moving average of the weights (e.g. 0.999): it is validated, selected and exported; 0 = off
    anchor_decay: float = 0.0  # after each step pull the weights towards init_weights by lr × anchor_decay of their distance (decoupled, like AdamW's decay, but to the start); 0 = off
    patch_schedule: list = dataclasses.field(default_factory=list)  # progressive patches: [{step: N, patch_size: P, batch_size: B}, ...], each from step N on


@dataclass
class DecomConfig(TrainConfig):
    """Stage 1: DecomNet. Batch 10 × 48², 2000 epochs, lr 1e-4 constant."""

    out_dir: str = "runs/decom"
    equal_r_weight: float = 0.01  # weight of the reflectance-similarity term |R_low − R_high| (official 0.01)
    # best.pt guards (0 = off): a validation becomes best.pt only if it also passes these, whatever its patch loss
    guard_min_l_std: float = 0.0  # held-out mean spatial std of L_low at least this (a flat L is the known drift)
    guard_min_recon_psnr: float = 0.0  # held-out recon_high PSNR (dB) at least this (the split still rebuilds the image)


@dataclass
class AdjustConfig(TrainConfig):
    """Stage 2: Illumination_adjust_net on the frozen DecomNet's L. Batch 10 × 48², 2000 epochs."""

    out_dir: str = "runs/adjust"
    holdout: int = 35  # official: images 0–449 train, 450–478 validate
    decom_weights: str = "shipped"  # a weights spec: shipped, a version (v0.1), or a weight file (trained or converted)


@dataclass
class RestoreConfig(TrainConfig):
    """Stage 3: Restoration_net on the frozen DecomNet's (R, L); target R_high^1.2.

    Batch 4 × 384², 1000 epochs; lr 1e-4, then 5e-5 from epoch 800.
    """

    out_dir: str = "runs/restore"
    holdout: int = 19  # official: images 0–465 train, 466–478 validate
    decom_weights: str = "shipped"
    adjust_weights: str = ""  # with an adjustment net, validation also scores the pipeline R̂·L̂ (official protocol) and selects on it
    steps: int = 121_000
    batch_size: int = 4
    patch_size: int = 384
    lr_schedule: str = "step"  # step (official: lr, × lr_decay from lr_decay_step) | cosine (linear warm-up, cosine to min_lr)
    lr_decay_step: int = 96_800  # step schedule: the step at which lr is multiplied by lr_decay (epoch 800)
    lr_decay: float = 0.5
    warmup_steps: int = 0  # cosine schedule: lr rises linearly from 0 over these steps
    cosine_steps: int = 0  # cosine schedule: lr reaches min_lr at this step, then stays there; 0 = steps
    min_lr: float = 0.0  # cosine schedule: the final lr
    square_weight: float = 1.0  # weight of the official squared-error term (0 with an l1 extra term: L1 instead of MSE)
    target_gamma: float = 1.2  # the target is R_high ** target_gamma
    channel_shuffle: bool = False  # permute each patch's RGB channels (one of the 6 orders, all its colour maps alike)
    save_every: int = 6050  # every 50 epochs


CONFIGS: dict[str, type[TrainConfig]] = {"decom": DecomConfig, "adjust": AdjustConfig, "restore": RestoreConfig}

AMP_CHOICES = ("none", "bf16", "auto")
LR_SCHEDULES = ("step", "cosine")
PHASE_KEYS = ("step", "patch_size", "batch_size")
COMPILE_CHOICES = ("auto", "on", "off")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def stage_of(config: TrainConfig) -> str:
    """The stage name of a config (``DecomConfig`` → ``"decom"``)."""
    return next(stage for stage, cls in CONFIGS.items() if type(config) is cls)


class ConfigError(ValueError):
    """A config file or override that does not fit the stage's config."""


def _field_type(cls: type, name: str) -> type:
    hints = typing.get_type_hints(cls)
    return hints[name]


def _coerce(cls: type, name: str, value: object, origin: str) -> object:
    """``value`` checked against field ``name``'s type (ints are accepted for floats)."""
    expected = _field_type(cls, name)
    if expected == Folders:
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            return value
        raise ConfigError(f"{origin}: {name} expects a folder or a list of folders, got {type(value).__name__} {value!r}")
    if expected is list:
        if isinstance(value, list):
            return value
        raise ConfigError(f"{origin}: {name} expects a list, got {type(value).__name__} {value!r}")
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is float and isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if name == "compile" and isinstance(value, bool):  # YAML 1.1 reads on/off as booleans
        return "on" if value else "off"
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{origin}: {name} expects int, got bool {value!r}")
    if isinstance(expected, type) and isinstance(value, expected):
        return value
    raise ConfigError(f"{origin}: {name} expects {getattr(expected, '__name__', expected)}, got {type(value).__name__} {value!r}")


def _apply(config: TrainConfig, values: dict, origin: str) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{origin}: unknown keys {unknown} for {type(config).__name__} (known: {sorted(names)})")
    changes = {name: _coerce(type(config), name, value, origin) for name, value in values.items()}
    return validate(dataclasses.replace(config, **changes), origin)


def validate(config: TrainConfig, origin: str) -> TrainConfig:
    """Range checks that types alone cannot express, one field at a time, named in the message."""

    def need(ok: bool, name: str, what: str) -> None:
        if not ok:
            raise ConfigError(f"{origin}: {name} must be {what}, got {getattr(config, name)!r}")

    for name in ("steps", "batch_size", "patch_size", "check_every"):
        need(getattr(config, name) > 0, name, "positive")
    for name in ("holdout", "val_every", "save_every", "val_images", "threads", "log_every"):
        need(getattr(config, name) >= 0, name, "≥ 0")
    need(0 <= config.seed < 2**32, "seed", "a whole number from 0 to 2**32 - 1")
    need(math.isfinite(config.lr) and config.lr > 0, "lr", "a positive number")
    need(math.isfinite(config.max_seconds) and config.max_seconds >= 0, "max_seconds", "≥ 0 (0 = no limit)")
    need(math.isfinite(config.max_cpu_seconds) and config.max_cpu_seconds >= 0, "max_cpu_seconds", "≥ 0 (0 = no limit)")
    need(math.isfinite(config.ema_decay) and 0 <= config.ema_decay < 1, "ema_decay", "in [0, 1) (0 = off)")
    need(math.isfinite(config.anchor_decay) and 0 <= config.anchor_decay * config.lr <= 1, "anchor_decay",
         "≥ 0 with lr × anchor_decay ≤ 1 (0 = off)")
    need(not config.anchor_decay or bool(config.init_weights), "init_weights",
         "a weight file when anchor_decay > 0 (the weights it pulls towards)")
    config.patch_schedule = check_patch_schedule(config.patch_schedule, origin)
    need(config.amp in AMP_CHOICES, "amp", f"one of {AMP_CHOICES}")
    need(config.compile in COMPILE_CHOICES, "compile", f"one of {COMPILE_CHOICES}")
    need(bool(DEVICE_PATTERN.match(config.device)), "device", "auto, cpu, mps, cuda or cuda:N")
    need(bool(config.out_dir.strip()), "out_dir", "a folder name (not empty)")
    need(bool(folder_list(config.train_dir)), "train_dir", "a folder or a list of folders")
    if config.extra_losses:  # the terms' own checks (kind.losses), only when there are some
        from kind.losses import check_extra_losses

        try:
            config.extra_losses = check_extra_losses(config.extra_losses, stage_of(config), f"{origin}: extra_losses")
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if isinstance(config, DecomConfig):
        need(math.isfinite(config.equal_r_weight) and config.equal_r_weight >= 0, "equal_r_weight", "≥ 0")
        for name in ("guard_min_l_std", "guard_min_recon_psnr"):
            need(math.isfinite(getattr(config, name)) and getattr(config, name) >= 0, name, "≥ 0 (0 = off)")
    if isinstance(config, (AdjustConfig, RestoreConfig)):
        need(bool(config.decom_weights.strip()), "decom_weights", "a weight file (the frozen DecomNet)")
    if isinstance(config, RestoreConfig):
        need(config.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {LR_SCHEDULES}")
        need(config.lr_decay_step >= 0, "lr_decay_step", "≥ 0")
        need(math.isfinite(config.lr_decay) and config.lr_decay > 0, "lr_decay", "a positive number")
        need(config.warmup_steps >= 0, "warmup_steps", "≥ 0")
        need(config.cosine_steps >= 0, "cosine_steps", "≥ 0 (0 = steps)")
        need(math.isfinite(config.min_lr) and 0 <= config.min_lr <= config.lr, "min_lr", "from 0 to lr")
        need(math.isfinite(config.square_weight) and config.square_weight >= 0, "square_weight", "≥ 0")
        need(math.isfinite(config.target_gamma) and config.target_gamma > 0, "target_gamma", "a positive number")
        need(bool(config.adjust_weights.strip()) or all(spec["on"] != "pipeline" for spec in config.extra_losses),
             "adjust_weights", "a weight file when an extra loss is on: pipeline (it makes L̂)")
    return config


def check_patch_schedule(phases: list, origin: str) -> list[dict[str, int]]:
    """``patch_schedule`` checked: a list of ``{step, patch_size, batch_size}`` mappings of positive
    whole numbers (step ≥ 1: before the first phase the run uses ``patch_size`` and ``batch_size``),
    in increasing step order."""
    checked = []
    for index, phase in enumerate(phases):
        where = f"{origin}: patch_schedule[{index}]"
        if not isinstance(phase, dict) or sorted(phase) != sorted(PHASE_KEYS):
            raise ConfigError(f"{where} must be a mapping with exactly the keys {list(PHASE_KEYS)}, got {phase!r}")
        for key in PHASE_KEYS:
            value = phase[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}.{key} must be a positive whole number, got {value!r}")
        if checked and phase["step"] <= checked[-1]["step"]:
            raise ConfigError(f"{where}.step must be after the previous phase's step {checked[-1]['step']}, got {phase['step']}")
        checked.append({key: phase[key] for key in PHASE_KEYS})
    return checked


def batch_phases(config: TrainConfig) -> list[tuple[int, int, int]]:
    """(first step, batch size, patch size) of each phase of the run: the config's own sizes from
    step 0, then each ``patch_schedule`` entry."""
    return [(0, config.batch_size, config.patch_size)] + [
        (phase["step"], phase["batch_size"], phase["patch_size"]) for phase in config.patch_schedule]


def largest_patch(config: TrainConfig) -> int:
    """The largest patch any phase cuts (every training image must be at least this large)."""
    return max(patch for _, _, patch in batch_phases(config))


def parse_override(text: str) -> tuple[str, object]:
    """``key=value`` → (key, value), the value read as YAML (``3``, ``1e-4``, ``true``, ``a/b``,
    ``[a, b]``, ``[{name: l1, weight: 1, on: restored}]``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: cannot read the value ({error})") from error
    return key.strip(), "" if value is None else value


def _read_mapping(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{with_origin(path)}: no such config file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(values).__name__}")
    return values


def load_config(stage: str, path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """The stage's config: defaults, then the YAML file, then ``key=value`` overrides."""
    if stage not in CONFIGS:
        raise ConfigError(f"unknown stage {stage!r}: expected one of {sorted(CONFIGS)}")
    config = CONFIGS[stage]()
    if path is not None:
        config = _apply(config, _read_mapping(path), str(path))
    for text in overrides:
        key, value = parse_override(text)
        config = _apply(config, {key: value}, f"--set {text}")
    return config


STAGE_ORDER = ("decom", "adjust", "restore")


@dataclass
class PipelineConfig:
    """``kind train pipeline``: the stages to train in order, each a stage config whose
    ``out_dir`` is ``out_dir/STAGE``; the weights folder they end in is ``out_dir/weights``."""

    out_dir: str
    stages: dict[str, TrainConfig]

    @property
    def weights_dir(self) -> Path:
        return Path(self.out_dir) / "weights"

    def weights_spec(self) -> str:
        """The weights set the pipeline ends in, for ``kind enhance --weights``: ``weights_dir`` when
        it holds all three networks, else a mixed spec (:mod:`kind.weights.spec`) taking each missing
        network from the stage configs (``decom_weights``, ``adjust_weights``), or ``shipped``."""
        exported = {network: self.weights_dir / f"{network}.pt" for network in STAGE_ORDER}
        if all(path.is_file() for path in exported.values()):
            return str(self.weights_dir)
        return ",".join(f"{network}={path if path.is_file() else self._named_weights(network)}"
                        for network, path in exported.items())

    def _named_weights(self, network: str) -> str:
        """The first stage config's ``NETWORK_weights`` (a weights spec), else ``shipped``."""
        named = (getattr(config, f"{network}_weights", "") for config in self.stages.values())
        return next((spec for spec in named if spec), "shipped")


def _field_names(stage: str) -> set[str]:
    return {f.name for f in dataclasses.fields(CONFIGS[stage])}


def load_pipeline_config(path: str | Path | None = None, overrides: list[str] = ()) -> PipelineConfig:
    """A pipeline config: ``out_dir``, ``stages`` (default all three, in order), keys shared by the
    stages (each applied to every stage that has the field), and a section per stage
    (``decom: {steps: 500}``). Precedence: shared keys, the stage's section, then ``--set key=value``
    (every stage with that field) and ``--set STAGE.key=value``. Each stage after ``decom`` takes the
    weights the earlier stages export (``decom_weights``, and restore's ``adjust_weights``)."""
    values = _read_mapping(path) if path is not None else {}
    origin = str(path) if path is not None else "pipeline"
    shared_overrides: dict = {}
    stage_overrides: dict[str, dict] = {stage: {} for stage in STAGE_ORDER}
    for text in overrides:
        key, value = parse_override(text)
        stage, dot, field = key.partition(".")
        if dot and stage not in STAGE_ORDER:
            raise ConfigError(f"--set {text}: {stage!r} is not a stage (expected one of {list(STAGE_ORDER)})")
        if key in ("out_dir", "stages"):
            values[key] = value
        elif dot:
            stage_overrides[stage][field] = value
        else:
            shared_overrides[key] = value
    out_dir = values.pop("out_dir", "runs/pipeline")
    stages = values.pop("stages", list(STAGE_ORDER))
    if not (isinstance(out_dir, str) and out_dir.strip()):
        raise ConfigError(f"{origin}: out_dir must be a folder name, got {out_dir!r}")
    if not (isinstance(stages, list) and stages and all(s in STAGE_ORDER for s in stages)
            and stages == [s for s in STAGE_ORDER if s in stages]):
        raise ConfigError(f"{origin}: stages must be a non-empty list of {list(STAGE_ORDER)} in that order, got {stages!r}")
    sections = {stage: values.pop(stage, None) or {} for stage in STAGE_ORDER}
    for stage, section in sections.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{origin}: the {stage} section must be a mapping, got {type(section).__name__}")
    for shared in (values, shared_overrides):
        unknown = sorted(k for k in shared if not any(k in _field_names(s) for s in stages))
        if unknown:
            raise ConfigError(f"{origin}: unknown keys {unknown} for the stages {stages}")
    weights = PipelineConfig(out_dir, {}).weights_dir
    configs: dict[str, TrainConfig] = {}
    for stage in stages:
        names = _field_names(stage)
        merged = {k: v for k, v in values.items() if k in names} | sections[stage]
        merged |= {k: v for k, v in shared_overrides.items() if k in names} | stage_overrides[stage]
        if "out_dir" in merged:
            raise ConfigError(f"{origin}: {stage}.out_dir is set by the pipeline ({out_dir}/{stage}); set out_dir at the top")
        chained = {"decom_weights": "decom", "adjust_weights": "adjust"}
        for key, earlier in chained.items():
            if key in names and earlier in stages:
                if key in merged:
                    raise ConfigError(f"{origin}: {stage}.{key} comes from this pipeline's {earlier} stage; remove it")
                merged[key] = str(weights / f"{earlier}.pt")
        merged["out_dir"] = f"{out_dir}/{stage}"
        configs[stage] = _apply(CONFIGS[stage](), merged, f"{origin} ({stage})")
    return PipelineConfig(out_dir, configs)


def config_to_yaml(config: TrainConfig) -> str:
    """The resolved config as YAML (written into each run directory)."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
