"""Training configuration: one dataclass per stage, YAML files whose keys equal its fields, and
``--set key=value`` overrides that reject unknown keys and wrong types.

The defaults are the official schedules (spec section 5), with epochs converted to steps for the
485 LOL training pairs: one epoch is ⌊485 / batch⌋ steps.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass
class TrainConfig:
    """Fields shared by every stage."""

    train_dir: str = "data/LOLdataset/our485"  # a folder with low/ and high/ matched by file name
    val_dir: str = ""  # an extra validation folder (low/, high/); "" = none
    holdout: int = 0  # training pairs held out for validation: the last N by natural name order
    out_dir: str = "runs/stage"  # the run directory: config, TensorBoard events, checkpoints
    steps: int = 96_000
    batch_size: int = 10
    patch_size: int = 48
    lr: float = 1e-4  # Adam, betas (0.9, 0.999), eps 1e-8
    seed: int = 0
    stretch: bool = True  # the official loader's per-image min-max stretch
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 (autocast)
    channels_last: bool = True
    log_every: int = 20  # steps between loss logs
    val_every: int = 1000  # steps between validations (0 = only at the end)
    save_every: int = 5000  # steps between numbered checkpoints (last.pt is written at each validation)
    val_images: int = 4  # validation images shown in TensorBoard
    threads: int = 0  # CPU threads for torch (0 = torch's default)
    max_seconds: float = 0.0  # stop (validating and writing last.pt) after this much training time; 0 = no limit


@dataclass
class DecomConfig(TrainConfig):
    """Stage 1: DecomNet. Batch 10 × 48², 2000 epochs, lr 1e-4 constant."""

    out_dir: str = "runs/decom"
    equal_r_weight: float = 0.01  # weight of the reflectance-similarity term |R_low − R_high| (official 0.01)


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
    steps: int = 121_000
    batch_size: int = 4
    patch_size: int = 384
    lr_decay_step: int = 96_800  # the step at which lr is multiplied by lr_decay (epoch 800)
    lr_decay: float = 0.5
    target_gamma: float = 1.2  # the target is R_high ** target_gamma
    save_every: int = 6050  # every 50 epochs


CONFIGS: dict[str, type[TrainConfig]] = {"decom": DecomConfig, "adjust": AdjustConfig, "restore": RestoreConfig}

AMP_CHOICES = ("none", "bf16")


class ConfigError(ValueError):
    """A config file or override that does not fit the stage's config."""


def _field_type(cls: type, name: str) -> type:
    hints = typing.get_type_hints(cls)
    return hints[name]


def _coerce(cls: type, name: str, value: object, origin: str) -> object:
    """``value`` checked against field ``name``'s type (ints are accepted for floats)."""
    expected = _field_type(cls, name)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is float and isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
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
    """Range checks that types alone cannot express."""
    positive = ["steps", "batch_size", "patch_size"]
    for name in positive:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{origin}: {name} must be positive, got {getattr(config, name)}")
    if config.lr <= 0:
        raise ConfigError(f"{origin}: lr must be positive, got {config.lr}")
    if config.amp not in AMP_CHOICES:
        raise ConfigError(f"{origin}: amp must be one of {AMP_CHOICES}, got {config.amp!r}")
    if config.holdout < 0:
        raise ConfigError(f"{origin}: holdout must be ≥ 0, got {config.holdout}")
    return config


def parse_override(text: str) -> tuple[str, object]:
    """``key=value`` → (key, value), the value read as a YAML scalar (``3``, ``1e-4``, ``true``, ``a/b``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: cannot read the value ({error})") from error
    return key.strip(), "" if value is None else value


def load_config(stage: str, path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """The stage's config: defaults, then the YAML file, then ``key=value`` overrides."""
    if stage not in CONFIGS:
        raise ConfigError(f"unknown stage {stage!r}: expected one of {sorted(CONFIGS)}")
    config = CONFIGS[stage]()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from error
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys, got {type(values).__name__}")
        config = _apply(config, values, str(path))
    for text in overrides:
        key, value = parse_override(text)
        config = _apply(config, {key: value}, f"--set {text}")
    return config


def config_to_yaml(config: TrainConfig) -> str:
    """The resolved config as YAML (written into each run directory)."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
