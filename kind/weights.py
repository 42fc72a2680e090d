"""The project's weight-file format, and loading networks from it.

Every weight file the project writes (converted from TF, trained, or a training checkpoint) is a
``torch.save``'d dict::

    {"format": "kind-weights", "format_version": 1,
     "network": "decom" | "restore" | "adjust",
     "state_dict": {...},            # loads with strict=True into kind.models.build_network(network)
     "source": "...",                # where the weights came from
     ...}                            # training checkpoints add optimizer, step, config, ...

A set of weights for the whole pipeline is a folder holding ``decom.pt``, ``restore.pt`` and
``adjust.pt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kind.fileio import atomic_path
from kind.models import NETWORKS, build_network

FORMAT = "kind-weights"
FORMAT_VERSION = 1
WEIGHT_FILES = {name: f"{name}.pt" for name in NETWORKS}
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


class WeightsError(ValueError):
    """A weight file or folder that cannot be used: the message names the file and the problem."""


def weight_record(network: str, state_dict: dict[str, torch.Tensor], source: str, **extra: Any) -> dict:
    """The dict every weight file holds (see the module docstring)."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}: expected one of {sorted(NETWORKS)}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": network,
        "state_dict": {key: value.detach().cpu() for key, value in state_dict.items()},
        "source": source,
        **extra,
    }


def save_record(path: str | os.PathLike, record: dict) -> None:
    """``torch.save`` a record atomically (temp file, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def read_record(path: str | os.PathLike, network: str | None = None) -> dict:
    """Load and validate a weight file; ``network`` (if given) must match the file's."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weight file")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: not a readable weight file ({type(error).__name__}: {error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a kind weight file (no format {FORMAT!r} marker)")
    if record.get("format_version") != FORMAT_VERSION:
        raise WeightsError(
            f"{path}: weight format version {record.get('format_version')} is not supported "
            f"(this kind reads version {FORMAT_VERSION})"
        )
    if network is not None and record.get("network") != network:
        raise WeightsError(f"{path}: holds {record.get('network')!r} weights, expected {network!r}")
    return record


def load_network(
    path: str | os.PathLike, network: str | None = None, device: str | torch.device = "cpu"
) -> nn.Module:
    """Build the network a weight file is for, load it (strict), move it to ``device``, eval mode.

    Weights stored in reduced precision (e.g. float16 to save space) are loaded as float32.
    """
    record = read_record(path, network)
    model = build_network(record["network"])
    state_dict = {key: value.float() for key, value in record["state_dict"].items()}
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise WeightsError(f"{path}: does not fit {record['network']!r}: {error}") from error
    return model.to(device).eval()


def export_weights(checkpoint: str | os.PathLike, out: str | os.PathLike, half: bool = False) -> dict:
    """A slim weight file from a training checkpoint: the weights (float16 with ``half``) and the
    training facts (step, best validation metric, config), without optimizer or RNG state."""
    record = read_record(checkpoint)
    state_dict = record["state_dict"]
    if half:
        state_dict = {key: value.half() for key, value in state_dict.items()}
    training = {key: record[key] for key in ("step", "best", "config") if key in record}
    slim = weight_record(record["network"], state_dict, source=record["source"], training=training)
    save_record(out, slim)
    return slim


@dataclass
class KinDNets:
    """The three networks of the pipeline, in eval mode on the CPU (a Runner places them)."""

    decom: nn.Module
    restore: nn.Module
    adjust: nn.Module


def missing_weight_files(folder: str | os.PathLike) -> list[str]:
    """The file names of ``WEIGHT_FILES`` that ``folder`` lacks."""
    folder = Path(folder)
    return [name for name in WEIGHT_FILES.values() if not (folder / name).is_file()]


def load_weights_dir(folder: str | os.PathLike | None = None) -> KinDNets:
    """Load ``decom.pt``, ``restore.pt`` and ``adjust.pt`` from ``folder``.

    Without a folder, the project's own trained weights (``checkpoints/``) are used.
    """
    folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS_DIR
    missing = missing_weight_files(folder)
    if missing:
        hint = (
            " — the project's own trained weights are not there; pass --weights DIR with weights "
            "converted by `kind convert-tf` or trained by `kind train`"
            if folder == DEFAULT_WEIGHTS_DIR
            else ""
        )
        raise WeightsError(f"{folder}: missing {', '.join(missing)}{hint}")
    return KinDNets(**{name: load_network(folder / file, name) for name, file in WEIGHT_FILES.items()})
