"""What earlier versions wrote still works: a checkpoint written by kind 0.1's trainer resumes
exactly, and every config in configs/ loads."""

import json
import shutil

import pytest
import yaml
from conftest import ROOT

from kind.cli import main
from kind.losses.extra import check_extra_losses
from kind.train.config import CONFIGS, load_config, load_pipeline_config
from kind.train.loop import train
from kind.weights.format import read_record

OLD_RUN = ROOT / "tests" / "fixtures" / "old_run"  # written by `kind train adjust --config config.yaml` (kind 0.1)


def old_run_config(out_dir, steps=6):
    return load_config("adjust", OLD_RUN / "config.yaml", [f"out_dir={out_dir}", f"steps={steps}"])


@pytest.mark.slow
def test_a_checkpoint_written_by_kind_0_1_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # its train_dir is relative to the repository root
    (tmp_path / "run").mkdir()
    shutil.copy(OLD_RUN / "run" / "last.pt", tmp_path / "run" / "last.pt")
    state = train("adjust", old_run_config(tmp_path / "run"), resume="auto", progress=False)
    expected = json.loads((OLD_RUN / "expected.json").read_text())
    assert state.step == expected["steps"]
    # the losses kind 0.1 computed on the unbroken run; float32 arithmetic may round otherwise on another CPU
    assert state.losses == pytest.approx(expected["losses_after_step_3"], rel=1e-4)


@pytest.mark.slow
def test_the_command_line_resumes_an_old_checkpoint_by_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    old = tmp_path / "old.pt"
    shutil.copy(OLD_RUN / "run" / "last.pt", old)
    out = tmp_path / "run"
    args = ["train", "adjust", "--config", str(OLD_RUN / "config.yaml"), "--set", f"out_dir={out}",
            "--set", "steps=4", "--resume", str(old), "--quiet"]
    assert main(args) == 0
    assert "trained adjust to step 4" in capsys.readouterr().out
    assert read_record(out / "last.pt", "adjust")["step"] == 4


def test_the_run_folder_config_of_an_old_run_loads():
    config = load_config("adjust", OLD_RUN / "run" / "config.yaml")
    assert config.decom_weights == "v0.1" and config.steps == 3


CONFIG_FILES = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    stage = path.stem.split("-")[0]
    if stage == "pipeline":
        pipeline = load_pipeline_config(path)
        assert pipeline.stages and all(type(c) is CONFIGS[s] for s, c in pipeline.stages.items())
    else:
        config = load_config(stage, path)
        values = yaml.safe_load(path.read_text())
        if "extra_losses" in values:  # read by YAML 1.1 (`on` as True), stored normalised
            values["extra_losses"] = check_extra_losses(values["extra_losses"], stage, path.name)
        assert values and {key: getattr(config, key) for key in values} == values


def test_every_stage_has_shipped_configs():
    assert {p.stem.split("-")[0] for p in CONFIG_FILES} == {*CONFIGS, "pipeline"}
