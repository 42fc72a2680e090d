"""Stage configs: official defaults, YAML files and --set overrides (unknown keys, wrong types)."""

import pytest
from conftest import ROOT

from kind.train.config import ConfigError, load_config, load_pipeline_config, parse_override


def test_official_defaults():
    decom, adjust, restore = (load_config(s) for s in ("decom", "adjust", "restore"))
    assert (decom.batch_size, decom.patch_size, decom.lr, decom.steps) == (10, 48, 1e-4, 96_000)
    assert (adjust.batch_size, adjust.patch_size, adjust.steps) == (10, 48, 96_000)
    assert (restore.batch_size, restore.patch_size, restore.steps) == (4, 384, 121_000)
    assert (restore.lr_decay_step, restore.lr * restore.lr_decay, restore.target_gamma) == (96_800, 5e-5, 1.2)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    stage = path.stem.split("-")[0]
    if stage == "pipeline":
        configs = load_pipeline_config(path).stages.values()
    else:
        configs = [load_config(stage, path)]
    assert all(config.steps > 0 and config.out_dir for config in configs)


@pytest.mark.parametrize(
    "text,key,value",
    [("steps=20", "steps", 20), ("lr=1e-3", "lr", "1e-3"), ("amp=bf16", "amp", "bf16"),
     ("stretch=false", "stretch", False), ("train_dir=a/b=c", "train_dir", "a/b=c"), ("val_dir=", "val_dir", "")],
)
def test_parse_override(text, key, value):
    assert parse_override(text) == (key, value)


def test_overrides_apply_with_types():
    config = load_config("restore", None, ["lr=1e-3", "steps=20", "lr_decay_step=10", "batch_size=2"])
    assert (config.lr, config.steps, config.lr_decay_step, config.batch_size) == (1e-3, 20, 10, 2)
    assert load_config("decom", None, ["lr=1"]).lr == 1.0  # an int is a valid float


@pytest.mark.parametrize(
    "override,match",
    [
        ("nope=1", r"unknown keys \['nope'\]"),
        ("decom_weights=x.pt", r"unknown keys \['decom_weights'\] for DecomConfig"),
        ("steps=1.5", "steps expects int, got float"),
        ("steps=true", "steps expects int, got bool"),
        ("stretch=3", "stretch expects bool, got int"),
        ("lr=fast", "lr expects float, got str"),
        ("amp=fp16", "amp must be one of"),
        ("steps=0", "steps must be positive"),
        ("steps", "expected key=value"),
        ("log_every=-1", "log_every must be ≥ 0, got -1"),
        ("check_every=-1", "check_every must be positive"),
        ("threads=-2", "threads must be ≥ 0, got -2"),
        ("val_every=-5", "val_every must be ≥ 0"),
        ("save_every=-1", "save_every must be ≥ 0"),
        ("max_seconds=-1", "max_seconds must be ≥ 0"),
        ("max_seconds=.inf", "max_seconds must be ≥ 0"),
        ("lr=.nan", "lr must be a positive number"),
        ("device=tpu", "device must be auto, cpu, mps, cuda or cuda:N, got 'tpu'"),
        ("out_dir=", "out_dir must be a folder name"),
        ("train_dir=", "train_dir must be a folder or a list of folders"),
        ("train_dir=[a, 3]", "train_dir expects a folder or a list of folders"),
        ("compile=sometimes", "compile must be one of"),
        ("equal_r_weight=-0.1", "equal_r_weight must be ≥ 0"),
        ("extra_losses=3", "extra_losses expects a list"),
    ],
)
def test_bad_overrides_are_rejected(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config("decom", None, [override])


def test_bad_yaml_files(tmp_path):
    (tmp_path / "a.yaml").write_text("steps: 10\nsurprise: 1\n")
    with pytest.raises(ConfigError, match=r"a.yaml: unknown keys \['surprise'\]"):
        load_config("decom", tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config("decom", tmp_path / "b.yaml")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config("decom", tmp_path / "missing.yaml")


def test_folder_lists_and_yaml_values_in_overrides():
    config = load_config("decom", None, ["train_dir=[a, b/c]", "val_dir=v", "compile=off"])
    assert config.train_dir == ["a", "b/c"] and config.val_dir == "v" and config.compile == "off"
    assert load_config("decom", None, ["compile=on"]).compile == "on"  # YAML 1.1 reads `on` as true


def test_restore_and_adjust_fields_are_checked():
    with pytest.raises(ConfigError, match="decom_weights must be a weight file"):
        load_config("adjust", None, ["decom_weights="])
    with pytest.raises(ConfigError, match="lr_decay must be a positive number"):
        load_config("restore", None, ["lr_decay=0"])
    with pytest.raises(ConfigError, match="target_gamma must be a positive number"):
        load_config("restore", None, ["target_gamma=-1"])


def test_a_missing_relative_path_names_the_folder_it_was_relative_to(tmp_path, monkeypatch, capsys):
    from kind.cli import main

    monkeypatch.chdir(tmp_path)
    where = f"(relative to the current folder {tmp_path})"
    assert main(["train", "decom", "--config", "nope.yaml"]) == 2
    assert f"nope.yaml {where}: no such config file" in capsys.readouterr().err
    assert main(["train", "decom", "--quiet", "--set", "train_dir=data/missing", "--set", "device=cpu"]) == 2
    assert f"data/missing {where}: no such folder" in capsys.readouterr().err
    assert main(["train", "adjust", "--quiet", "--set", "decom_weights=w/decom.pt", "--set", "device=cpu"]) == 2
    assert f"w/decom.pt {where}: no such weight file" in capsys.readouterr().err
