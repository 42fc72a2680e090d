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
