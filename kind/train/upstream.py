"""What a stage was trained on: the SHA-256 of the frozen upstream weights (adjust and restore train
on a frozen DecomNet; restore validates with an adjustment net too).

Checkpoints record them (``"upstream": {"decom_weights": sha256, ...}``); a resume compares them
with the files the config names now, so that a stage is never continued — or, in a pipeline,
skipped as finished — on top of weights it was not trained with.
"""

from __future__ import annotations

from kind.train.config import TrainConfig
from kind.io.path_origin import with_origin
from kind.weights.format import WeightsError, content_sha256, resolve_weight_file

UPSTREAM_FIELDS = {"decom_weights": "decom", "adjust_weights": "adjust"}  # config field → network


def upstream_checksums(config: TrainConfig) -> dict[str, str]:
    """``field → SHA-256`` of the weight file each upstream field of ``config`` names (fields unset
    or absent from the stage are left out)."""
    sums = {}
    for field, network in UPSTREAM_FIELDS.items():
        spec = getattr(config, field, "")
        if spec:
            path = resolve_weight_file(spec, network)
            if not path.is_file():
                raise WeightsError(f"{field} {with_origin(path)}: no such weight file")
            sums[field] = content_sha256(path)
    return sums


def upstream_changes(record: dict, config: TrainConfig) -> list[str] | None:
    """``"field: old… → new…"`` for each upstream file whose checksum differs from the one
    ``record`` (a checkpoint) was trained with; None when the record holds none (written before
    kind recorded them), so nothing can be said."""
    saved = record.get("upstream")
    if saved is None:
        return None
    now = upstream_checksums(config)
    return [f"{field}: {str(saved.get(field))[:12]}… → {str(now.get(field))[:12]}…"
            for field in sorted(saved.keys() | now.keys()) if saved.get(field) != now.get(field)]


__all__ = ["UPSTREAM_FIELDS", "upstream_changes", "upstream_checksums"]
