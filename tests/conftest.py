"""Shared test fixtures: the ../shared folder (skip with a reason when it is absent)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test helpers (tf_writer)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (reference data beside the checkout; CI has it)")
    return path


@pytest.fixture(scope="session")
def official_tf_dir() -> Path:
    """The authors' released TF checkpoints (decom/, adjust/)."""
    return shared_path("weights", "kind-official-tf")


def write_pairs(folder: Path, count: int = 6, height: int = 40, width: int = 56, seed: int = 0) -> Path:
    """A tiny synthetic LOL-like folder: smooth colour scenes (high) and dark noisy copies (low)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / "low").mkdir(parents=True, exist_ok=True)
    (folder / "high").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    for i in range(count):
        phase = rng.random(3) * 6.28
        freq = 2 + rng.random(3) * 6
        high = 0.5 + 0.4 * np.stack([np.sin(freq[c] * (xx + yy * c) + phase[c]) for c in range(3)], axis=-1)
        low = np.clip(high * (0.08 + 0.04 * rng.random()) + rng.normal(0, 0.01, high.shape), 0, 1)
        Image.fromarray((high * 255).astype("uint8")).save(folder / "high" / f"{i + 1}.png")
        Image.fromarray((low * 255).astype("uint8")).save(folder / "low" / f"{i + 1}.png")
    return folder


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder (decom.pt, restore.pt, adjust.pt) of randomly initialised networks."""
    import torch

    from kind.models import NETWORKS, build_network
    from kind.weights.format import save_record, weight_record

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    for name in NETWORKS:
        record = weight_record(name, build_network(name).state_dict(), source="random init (tests)")
        save_record(folder / f"{name}.pt", record)
    return folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The README's and docs' Python examples load the shipped weights and export ONNX: slow."""
    for item in items:
        if item.path.suffix == ".md":
            item.add_marker(pytest.mark.slow)
