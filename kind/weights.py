"""The project's weight-file format, and loading networks from it.

Every weight file the project writes (converted from TF, trained, or a training checkpoint) is a
``torch.save``'d dict::

    {"format": "kind-weights", "format_version": 1,
     "network": "decom" | "restore" | "adjust",
     "state_dict": {...},            # loads with strict=True into kind.models.build_network(network)
     "source": "...",                # where the weights came from
     ...}                            # training checkpoints add optimizer, step, config, ...

A set of weights for the whole pipeline is a folder holding ``decom.pt``, ``restore.pt`` and
``adjust.pt``. The project's own trained set ships inside the package, one folder a version
(``kind/pretrained/v0.1/``, model card ``kind/pretrained/README.md``). Wherever weights are named
(``--weights``, ``KinD.from_pretrained``, a config's ``decom_weights``) a *weights spec* is accepted:
``shipped`` (the current version, ``SHIPPED_VERSION``), a version name such as ``v0.1``, or a path
(see :func:`resolve_weights_dir` and :func:`resolve_weight_file`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kind.constants import SHIPPED, SHIPPED_VERSION
from kind.fileio import atomic_path
from kind.models import NETWORKS, build_network

FORMAT = "kind-weights"
FORMAT_VERSION = 1
WEIGHT_FILES = {name: f"{name}.pt" for name in NETWORKS}
VERSION_NAME = re.compile(r"v\d+(\.\d+)*")  # what a version spec looks like (not a path)


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

    With ``network``, ``path`` may be any weights spec (``shipped``, ``v0.1``, a folder: see
    :func:`resolve_weight_file`). Weights stored in reduced precision (e.g. float16 to save space)
    are loaded as float32.
    """
    if network is not None:
        path = resolve_weight_file(path, network)
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


def shipped_versions() -> list[str]:
    """The versions of the project's weights inside the installed package (``kind/pretrained/``)."""
    root = resources.files("kind") / "pretrained"
    return sorted(item.name for item in root.iterdir() if item.is_dir() and VERSION_NAME.fullmatch(item.name))


def resolve_weights_dir(spec: str | os.PathLike | None = None) -> Path:
    """The folder a weights spec names: None or ``shipped`` → the shipped ``SHIPPED_VERSION``; a
    version name (``v0.1``) → that shipped version; anything else → itself, as a path (a local
    folder named like a version is reached as ``./v0.1``). Raises WeightsError for a version name
    that is not shipped; whether the folder holds weights is :func:`load_weights_dir`'s check."""
    name = SHIPPED if spec is None else os.fspath(spec)
    if name == SHIPPED:
        name = SHIPPED_VERSION
    if not VERSION_NAME.fullmatch(name):
        return Path(name)
    folder = resources.files("kind") / "pretrained" / name
    if not folder.is_dir():
        available = ", ".join(shipped_versions()) or "none (a broken install?)"
        raise WeightsError(f"weights {name!r}: no such shipped version (shipped: {available}); "
                           f"for a folder of that name write ./{name}")
    return Path(str(folder))  # a real folder: the package is installed as files, never zipped


def resolve_weight_file(spec: str | os.PathLike | None, network: str) -> Path:
    """The weight file of ``network`` a spec names: the shipped set's (``shipped`` or a version
    name) or a folder's ``{network}.pt``; any other path is the file itself."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}: expected one of {sorted(NETWORKS)}")
    path = resolve_weights_dir(spec)
    return path / WEIGHT_FILES[network] if path.is_dir() else path


def missing_weight_files(folder: str | os.PathLike) -> list[str]:
    """The file names of ``WEIGHT_FILES`` that ``folder`` lacks."""
    folder = Path(folder)
    return [name for name in WEIGHT_FILES.values() if not (folder / name).is_file()]


def load_weights_dir(spec: str | os.PathLike | None = None) -> KinDNets:
    """Load ``decom.pt``, ``restore.pt`` and ``adjust.pt`` from the folder a weights spec names
    (:func:`resolve_weights_dir`; None: the shipped weights)."""
    folder = resolve_weights_dir(spec)
    missing = missing_weight_files(folder)
    if missing:
        shipped = folder.is_relative_to(Path(str(resources.files("kind"))))
        hint = (
            " — the package's shipped weights are missing (a broken install?); pass --weights DIR "
            "with weights converted by `kind convert-tf` or trained by `kind train`"
            if shipped
            else ""
        )
        raise WeightsError(f"{folder}: missing {', '.join(missing)}{hint}")
    return KinDNets(**{name: load_network(folder / file, name) for name, file in WEIGHT_FILES.items()})
