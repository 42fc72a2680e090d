"""Weights specs: the shipped weights inside the package, version names, paths."""

from __future__ import annotations

from pathlib import Path

import pytest

import kind
from kind.config import load_config
from kind.constants import SHIPPED_VERSION
from kind.weights import (
    WeightsError,
    load_network,
    read_record,
    resolve_weight_file,
    resolve_weights_dir,
    shipped_versions,
)

PACKAGE = Path(kind.__file__).resolve().parent


def test_shipped_weights_are_package_data():
    """Issue 13: the weights lived in checkpoints/, outside the package, so a wheel had none."""
    assert shipped_versions() == [SHIPPED_VERSION]
    folder = resolve_weights_dir("shipped")
    assert folder == resolve_weights_dir(None) == resolve_weights_dir(SHIPPED_VERSION)
    assert folder.resolve() == PACKAGE / "pretrained" / SHIPPED_VERSION
    assert sorted(path.name for path in folder.iterdir()) == ["adjust.pt", "decom.pt", "restore.pt"]
    assert (PACKAGE / "pretrained" / "README.md").is_file()  # the model card travels with them


def test_specs_for_one_network(tmp_path, weights_dir):
    assert resolve_weight_file("shipped", "decom") == resolve_weights_dir("shipped") / "decom.pt"
    assert resolve_weight_file(weights_dir, "restore") == weights_dir / "restore.pt"
    assert resolve_weight_file(tmp_path / "x.pt", "adjust") == tmp_path / "x.pt"
    assert read_record(resolve_weight_file("v0.1", "adjust"))["network"] == "adjust"
    assert load_network("shipped", "decom").training is False


def test_unknown_version_and_a_folder_named_like_one(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="no such shipped version .*v0.1"):
        resolve_weights_dir("v9")
    monkeypatch.chdir(tmp_path)
    assert resolve_weights_dir("./v9") == Path("v9")


@pytest.mark.parametrize("stage", ["adjust", "restore"])
def test_configs_name_the_shipped_decomnet(stage):
    config = load_config(stage, Path(__file__).resolve().parents[1] / "configs" / f"{stage}.yaml")
    assert config.decom_weights == "shipped"
    assert load_config(stage).decom_weights == "shipped"
