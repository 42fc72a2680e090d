"""The project's weight-file format, and loading networks from it.

Every weight file the project writes (converted from TF, trained, or a training checkpoint) is a
``torch.save``'d dict::

    {"format": "kind-weights", "format_version": 1,
     "network": "decom" | "restore" | "adjust",
     "state_dict": {...},            # loads with strict=True into kind.models.build_network(network)
     "source": "...",                # where the weights came from
     "version": "v0.1" | None,       # the release these weights belong to (None: not a release)
     ...}                            # training checkpoints add optimizer, step, config, ...

**Checksum.** The file is an ordinary zip archive as ``torch.save`` writes it (``torch.load`` reads
it as usual), with one addition: the archive comment holds ``kind-sha256:<64 hex digits>``, the
SHA-256 of the file as it was before the comment was added (the same bytes with an empty comment;
:func:`content_sha256`). :func:`read_record` verifies it before unpickling anything, so a flipped
byte anywhere in the file — tensor data, pickle, zip headers, padding, the comment itself — is a
:class:`WeightsError` naming the file, never silently different weights. Files written before the
checksum existed load with a :class:`UncheckedWeightsWarning` (one line, once per file);
``tools/upgrade_weights.py`` rewrites them with a checksum.

A set of weights for the whole pipeline is a folder holding ``decom.pt``, ``restore.pt`` and
``adjust.pt``. The project's own trained set ships inside the package, one folder a version
(``kind/weights/pretrained/v0.1/``, model card ``kind/weights/pretrained/README.md``). Wherever weights are named
(``--weights``, ``KinD.from_pretrained``, a config's ``decom_weights``) a *weights spec* is accepted:
``shipped`` (the current version, ``SHIPPED_VERSION``), a version name such as ``v0.1``, or a path
(see :func:`resolve_weights_dir` and :func:`resolve_weight_file`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kind.constants import SHIPPED, SHIPPED_VERSION
from kind.io.atomic import atomic_write_bytes
from kind.models import NETWORKS, build_network
from kind.io.path_origin import with_origin
from kind.weights.spec import is_mixed, parse_mixed
from kind.weights.limits import ArchiveTooLargeError, check_unpacked_size

FORMAT = "kind-weights"
FORMAT_VERSION = 1
WEIGHT_FILES = {name: f"{name}.pt" for name in NETWORKS}
VERSION_NAME = re.compile(r"v\d+(\.\d+)*")  # what a version spec looks like (not a path)


class WeightsError(ValueError):
    """A weight file or folder that cannot be used: the message names the file and the problem."""


class UncheckedWeightsWarning(UserWarning):
    """A weight file without a checksum (written before kind added one): corruption would go unseen."""


def weight_record(
    network: str, state_dict: dict[str, torch.Tensor], source: str, version: str | None = None, **extra: Any
) -> dict:
    """The dict every weight file holds (see the module docstring); ``version`` names a release."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}: expected one of {sorted(NETWORKS)}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": network,
        "state_dict": {key: value.detach().cpu() for key, value in state_dict.items()},
        "source": source,
        "version": version,
        **extra,
    }


# --- the checksum in the zip comment ------------------------------------------------------------

CHECKSUM_PREFIX = b"kind-sha256:"
CHECKSUM_COMMENT_LEN = len(CHECKSUM_PREFIX) + 64  # the prefix and 64 lowercase hex digits
ZIP_END_SIGNATURE = b"PK\x05\x06"  # the end-of-central-directory record: 22 bytes + the comment
ZIP_END_LEN = 22
_HEX_DIGEST = re.compile(rb"[0-9a-f]{64}")


def add_checksum(archive: bytes) -> bytes:
    """``torch.save`` output (a zip archive with an empty comment) → the same archive whose comment
    is ``kind-sha256:`` + the SHA-256 of ``archive``."""
    if archive[-ZIP_END_LEN:-ZIP_END_LEN + 4] != ZIP_END_SIGNATURE or archive[-2:] != b"\0\0":
        raise ValueError("expected a zip archive without a comment (torch.save's output)")
    comment = CHECKSUM_PREFIX + hashlib.sha256(archive).hexdigest().encode()
    return archive[:-2] + struct.pack("<H", len(comment)) + comment


def _has_checksum_trailer(data: bytes) -> bool:
    return data[-CHECKSUM_COMMENT_LEN:-64] == CHECKSUM_PREFIX


def verify_checksum(data: bytes, path: str | os.PathLike) -> str | None:
    """Check a weight file's bytes: its content SHA-256 (hex) when it carries a valid checksum,
    None for a file written before checksums (a zip archive without a comment).

    Raises :class:`WeightsError` naming ``path`` for any other file: a checksum that does not match
    (a changed byte anywhere), a damaged comment or end record, a truncated or foreign file.
    """
    n = CHECKSUM_COMMENT_LEN
    if len(data) >= ZIP_END_LEN + n and _has_checksum_trailer(data):
        end = data[-(n + ZIP_END_LEN):-n]
        stored = data[-64:]
        if end[:4] != ZIP_END_SIGNATURE or end[-2:] != struct.pack("<H", n) or not _HEX_DIGEST.fullmatch(stored):
            raise WeightsError(f"{path}: corrupt weight file (its zip end record or checksum comment is damaged)")
        content = data[:-(n + 2)] + b"\0\0"
        actual = hashlib.sha256(content).hexdigest()
        if actual != stored.decode():
            raise WeightsError(
                f"{path}: corrupt weight file (SHA-256 {actual[:12]}… does not match its checksum "
                f"{stored.decode()[:12]}…: the file changed after it was written)"
            )
        return actual
    if data[-ZIP_END_LEN:-ZIP_END_LEN + 4] == ZIP_END_SIGNATURE and data[-2:] == b"\0\0":
        return None
    damaged = CHECKSUM_PREFIX in data[-2 * n:]
    raise WeightsError(
        f"{path}: not a readable weight file ("
        + ("its checksum comment is damaged" if damaged else "no zip end record: truncated, corrupt, or not a torch.save file")
        + ")"
    )


def content_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) a weight file's checksum holds: of the file without its checksum comment.

    For a file without a checksum this is the SHA-256 of the whole file (``sha256sum``).
    """
    data = Path(path).read_bytes()
    return verify_checksum(data, path) or hashlib.sha256(data).hexdigest()


def save_record(path: str | os.PathLike, record: dict) -> None:
    """``torch.save`` a record with its checksum (module docstring), atomically (temp file, then rename)."""
    buffer = io.BytesIO()
    torch.save(record, buffer)
    atomic_write_bytes(path, add_checksum(buffer.getvalue()))


def read_record(path: str | os.PathLike, network: str | None = None) -> dict:
    """Load and validate a weight file; ``network`` (if given) must match the file's.

    The checksum is verified before anything is unpickled. The returned record carries two keys
    that are not stored in the file: ``sha256``, the content hash (:func:`content_sha256`), and
    ``checksum``, ``"verified"`` or ``"absent"``. A file without a checksum loads with an
    :class:`UncheckedWeightsWarning`.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{with_origin(path)}: no such weight file")
    data = path.read_bytes()
    digest = verify_checksum(data, path)
    try:
        check_unpacked_size(data, path)
    except ArchiveTooLargeError as error:
        raise WeightsError(str(error)) from None
    try:
        record = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: not a readable weight file ({type(error).__name__}: {error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a kind weight file (no format {FORMAT!r} marker)")
    if record.get("format_version") != FORMAT_VERSION:
        raise WeightsError(
            f"{path}: weight format version {record.get('format_version')} is not supported "
            f"(this kind reads version {FORMAT_VERSION})"
        )
    if record.get("network") not in NETWORKS:
        raise WeightsError(f"{path}: names no network (its 'network' is {record.get('network')!r}; expected one of "
                           f"{', '.join(NETWORKS)})")
    state_dict = record.get("state_dict")
    if not isinstance(state_dict, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state_dict.items()
    ):
        raise WeightsError(f"{path}: its 'state_dict' is not a mapping of names to tensors "
                           f"(got {type(state_dict).__name__})")
    if network is not None and record.get("network") != network:
        raise WeightsError(f"{path}: holds {record.get('network')!r} weights, expected {network!r}")
    if digest is None:
        warnings.warn(
            f"{path}: written without a checksum (an older kind), so corruption cannot be detected; "
            f"kind.weights.format.upgrade_weight_file (tools/upgrade_weights.py) adds one",
            UncheckedWeightsWarning,
            stacklevel=2,
        )
    record["checksum"] = "absent" if digest is None else "verified"
    record["sha256"] = digest or hashlib.sha256(data).hexdigest()
    return record


def weight_file_info(path: str | os.PathLike, network: str | None = None) -> dict:
    """``{"file", "version", "sha256", "checksum"}`` of a weight file, for result JSON files.

    ``checksum`` is ``"verified"``, or ``"absent"`` for a file written before checksums (whose
    notice :func:`read_record` gives when the networks are loaded, not again here).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncheckedWeightsWarning)
        record = read_record(path, network)
    return {"file": str(path), **{key: record.get(key) for key in ("version", "sha256", "checksum")}}


def weights_dir_info(spec: str | os.PathLike | None = None) -> dict[str, dict]:
    """:func:`weight_file_info` of each network's file in the folder a weights spec names
    (:func:`resolve_weights_dir`; None: the shipped weights)."""
    return {name: weight_file_info(path, name) for name, path in weight_files(spec).items()}


def upgrade_weight_file(path: str | os.PathLike, version: str | None = None) -> dict:
    """Rewrite a weight file in place with a checksum (and ``version``, when given), atomically.

    The tensors and every other field are kept; the rewritten file is read back and its tensors
    compared with ``torch.equal``. Returns :func:`weight_file_info` of the new file.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncheckedWeightsWarning)
        record = read_record(path)
    for key in ("sha256", "checksum"):  # read_record's, not the file's
        del record[key]
    if version is not None or "version" not in record:
        record["version"] = version
    save_record(path, record)
    rewritten = read_record(path)
    same = rewritten["state_dict"].keys() == record["state_dict"].keys() and all(
        value.dtype == record["state_dict"][key].dtype and torch.equal(value, record["state_dict"][key])
        for key, value in rewritten["state_dict"].items()
    )
    if not same:
        raise WeightsError(f"{path}: the rewritten file does not hold the same tensors")
    return weight_file_info(path)


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


def export_weights(
    checkpoint: str | os.PathLike, out: str | os.PathLike, half: bool = False, version: str | None = None
) -> dict:
    """A slim weight file from a training checkpoint: the weights (float16 with ``half``) and the
    training facts (step, best validation metric, config), without optimizer or RNG state. A slim
    file given as ``checkpoint`` keeps its training facts; ``version`` labels a release."""
    record = read_record(checkpoint)
    state_dict = record["state_dict"]
    if half:
        state_dict = {key: value.half() for key, value in state_dict.items()}
    training = record.get("training") or {
        key: record[key] for key in ("step", "best", "config", "upstream") if key in record
    }
    slim = weight_record(record["network"], state_dict, source=record["source"], version=version, training=training)
    save_record(out, slim)
    return slim


@dataclass
class KinDNets:
    """The three networks of the pipeline, in eval mode on the CPU (a Runner places them)."""

    decom: nn.Module
    restore: nn.Module
    adjust: nn.Module


def shipped_versions() -> list[str]:
    """The versions of the project's weights inside the installed package (``kind/weights/pretrained/``)."""
    root = resources.files("kind.weights") / "pretrained"
    return sorted(item.name for item in root.iterdir() if item.is_dir() and VERSION_NAME.fullmatch(item.name))


def resolve_weights_dir(spec: str | os.PathLike | None = None) -> Path | str:
    """The folder a weights spec names: None or ``shipped`` → the shipped ``SHIPPED_VERSION``; a
    version name (``v0.1``) → that shipped version; anything else → itself, as a path (a local
    folder named like a version is reached as ``./v0.1``). A mixed spec (:mod:`kind.weights.spec`,
    ``decom=…,adjust=…,restore=…``) names files, not a folder: it is checked and returned as it is
    (every function here that takes a spec takes it). Raises WeightsError for a version name that
    is not shipped; whether the folder holds weights is :func:`load_weights_dir`'s check."""
    if is_mixed(spec):
        try:
            parse_mixed(spec)
        except ValueError as error:
            raise WeightsError(str(error)) from None
        return os.fspath(spec)
    name = SHIPPED if spec is None else os.fspath(spec)
    if not name.strip():
        raise WeightsError(f"weights {name!r}: empty; give {SHIPPED}, a shipped version (e.g. {SHIPPED_VERSION}) "
                           "or a folder (./ for the current one)")
    if name == SHIPPED:
        name = SHIPPED_VERSION
    if not VERSION_NAME.fullmatch(name):
        return Path(name)
    folder = resources.files("kind.weights") / "pretrained" / name
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


def weight_files(spec: str | os.PathLike | None = None) -> dict[str, Path]:
    """Each network's weight file in a weights spec: the folder's ``WEIGHT_FILES``, or for a mixed
    spec each network's own (:func:`resolve_weight_file`)."""
    resolved = resolve_weights_dir(spec)
    if isinstance(resolved, str):  # a mixed spec
        return {name: resolve_weight_file(value, name) for name, value in parse_mixed(resolved).items()}
    return {name: resolved / file for name, file in WEIGHT_FILES.items()}


def missing_weight_files(folder: str | os.PathLike) -> list[str]:
    """The files of ``WEIGHT_FILES`` that a folder (or a mixed spec) lacks."""
    files = weight_files(folder if is_mixed(folder) else Path(folder))
    return [str(path) if is_mixed(folder) else path.name for path in files.values() if not path.is_file()]


def load_weights_dir(spec: str | os.PathLike | None = None) -> KinDNets:
    """Load ``decom.pt``, ``restore.pt`` and ``adjust.pt`` from the folder a weights spec names
    (:func:`resolve_weights_dir`; None: the shipped weights), or a mixed spec's three files."""
    folder = resolve_weights_dir(spec)
    missing = missing_weight_files(folder)
    if isinstance(folder, str):
        if missing:
            raise WeightsError(f"weights {folder!r}: missing {', '.join(missing)}")
        return KinDNets(**{name: load_network(path, name) for name, path in weight_files(folder).items()})
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
