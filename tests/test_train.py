"""The three trainers on a tiny synthetic dataset: losses drop, checkpoints resume exactly,
runs are reproducible, and a NaN stops the run naming the last good checkpoint."""

import dataclasses
import json
import math
import re
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from conftest import ROOT, write_pairs

from kind.cli import main
from kind.models import build_network
from kind.train import loop as train_module, stages as stages_module
from kind.train.checkpoints import ResumeError
from kind.train.config import ConfigError, load_config, load_pipeline_config
from kind.train.loop import TrainingDiverged, learning_rate, train
from kind.train.stages import STAGES
from kind.weights.format import load_network, load_weights_dir, read_record, save_record, weight_record
from kind.weights.spec import parse_mixed


pytestmark = pytest.mark.slow  # training loops


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=6, height=40, width=56)


@pytest.fixture(scope="module")
def decom_weights(weights_dir):
    return weights_dir / "decom.pt"


def config_for(stage, dataset, out_dir, decom_weights=None, **changes):
    overrides = {
        "train_dir": str(dataset), "holdout": 2, "out_dir": str(out_dir), "steps": 30, "batch_size": 4,
        "patch_size": 24, "lr": 1e-3, "device": "cpu", "val_every": 15, "save_every": 0, "log_every": 5,
        "val_images": 1, "seed": 7,
    }
    if stage != "decom":
        overrides["decom_weights"] = str(decom_weights)
    overrides.update(changes)
    return load_config(stage, None, [f"{k}={v}" for k, v in overrides.items()])


@pytest.mark.parametrize("stage", ["decom", "adjust", "restore"])
def test_each_stage_learns(stage, dataset, decom_weights, tmp_path):
    changes = {"patch_size": 16, "batch_size": 2, "steps": 16, "val_every": 8} if stage == "restore" else {}
    config = config_for(stage, dataset, tmp_path / stage, decom_weights, **changes)
    state = train(stage, config, progress=False)
    first, last = state.losses[:4], state.losses[-4:]
    assert sum(last) / 4 < sum(first) / 4, state.losses
    record = read_record(tmp_path / stage / "last.pt", stage)
    assert record["step"] == config.steps and set(record) >= {"state_dict", "optimizer", "step", "config"}
    assert (tmp_path / stage / "best.pt").is_file() and (tmp_path / stage / "config.yaml").is_file()
    assert list((tmp_path / stage).glob("events.out.tfevents.*"))
    load_network(tmp_path / stage / "best.pt", stage)  # a checkpoint is a weight file too


def test_resume_gives_the_same_losses_as_an_unbroken_run(dataset, tmp_path):
    straight = train("decom", config_for("decom", dataset, tmp_path / "a", steps=12, val_every=6), progress=False)
    train("decom", config_for("decom", dataset, tmp_path / "b", steps=6, val_every=6), progress=False)
    resumed = train("decom", config_for("decom", dataset, tmp_path / "b", steps=12, val_every=6), resume="auto", progress=False)
    assert resumed.losses == straight.losses[6:]
    final_a = read_record(tmp_path / "a" / "last.pt")["state_dict"]
    final_b = read_record(tmp_path / "b" / "last.pt")["state_dict"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_a_run_leaves_the_random_state_as_it_was(dataset, tmp_path):
    """The run seeds its own random state (config.seed) and hands the caller's back."""
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train("decom", config_for("decom", dataset, tmp_path, steps=2), progress=False)
    assert torch.equal(torch.get_rng_state(), before)


def test_same_seed_same_first_losses(dataset, tmp_path):
    one = train("decom", config_for("decom", dataset, tmp_path / "1", steps=3), progress=False)
    two = train("decom", config_for("decom", dataset, tmp_path / "2", steps=3), progress=False)
    other = train("decom", config_for("decom", dataset, tmp_path / "3", steps=3, seed=8), progress=False)
    assert one.losses == two.losses and one.losses != other.losses


def test_restoration_learning_rate_schedule():
    config = load_config("restore")
    assert learning_rate(config, 0) == 1e-4 and learning_rate(config, 96_799) == 1e-4
    assert learning_rate(config, 96_800) == pytest.approx(5e-5)
    assert learning_rate(load_config("decom"), 10**6) == 1e-4


def _at_call(monkeypatch, when, before=lambda: None, factor=1.0) -> None:
    """Wrap the decom stage's loss: on the calls where ``when(n)`` holds, run ``before`` and
    multiply the loss by ``factor``."""
    stage = STAGES["decom"]
    calls = {"n": 0}

    def wrapped(model, batch, config, wanted):
        calls["n"] += 1
        hit = when(calls["n"])
        if hit:
            before()
        total, terms, outputs = stage.loss(model, batch, config, wanted)
        return (total * factor if hit else total), terms, outputs

    monkeypatch.setitem(stages_module.STAGES, "decom", dataclasses.replace(stage, loss=wrapped))


def test_nan_stops_the_run_and_names_the_last_checkpoint(dataset, tmp_path, monkeypatch):
    _at_call(monkeypatch, lambda n: n > 4, factor=float("nan"))
    config = config_for("decom", dataset, tmp_path, steps=10, val_every=2)
    with pytest.raises(TrainingDiverged, match=r"nan at step 5 \(the check of steps 5–5\); stopped\. Last good checkpoint: .*last\.pt"):
        train("decom", config, progress=False)


def test_cli_train_with_overrides(dataset, tmp_path, capsys):
    args = ["train", "decom", "--set", f"train_dir={dataset}", "--set", f"out_dir={tmp_path}", "--set", "steps=2",
            "--set", "batch_size=2", "--set", "patch_size=16", "--set", "device=cpu", "--set", "holdout=1", "--quiet"]
    assert main(args) == 0
    assert "trained decom to step 2" in capsys.readouterr().out
    assert main(["train", "decom", "--set", "bogus=1"]) == 2
    assert "unknown keys ['bogus']" in capsys.readouterr().err


def test_max_seconds_stops_with_a_resumable_checkpoint(dataset, tmp_path):
    state = train("decom", config_for("decom", dataset, tmp_path, steps=10_000, max_seconds=0.5), progress=False)
    assert 0 < state.step < 10_000
    assert read_record(tmp_path / "last.pt")["step"] == state.step


def test_export_slims_a_checkpoint(dataset, tmp_path, capsys):
    train("decom", config_for("decom", dataset, tmp_path, steps=2), progress=False)
    out = tmp_path / "decom.pt"
    assert main(["export", str(tmp_path / "last.pt"), str(out), "--half"]) == 0
    assert "from step 2 (float16)" in capsys.readouterr().out
    record = read_record(out, "decom")
    assert "optimizer" not in record and record["training"]["step"] == 2
    assert all(v.dtype == torch.float16 for v in record["state_dict"].values())
    model = load_network(out, "decom")
    full = read_record(tmp_path / "last.pt")["state_dict"]
    for key, value in model.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, full[key], atol=1e-3, rtol=1e-3)


def test_reflectance_similarity_weight_is_configurable():
    torch.manual_seed(2)
    model = build_network("decom")
    batch = {"low": torch.rand(2, 3, 16, 16) * 0.2, "high": torch.rand(2, 3, 16, 16)}
    official = load_config("decom")
    total, terms, _ = STAGES["decom"].loss(model, batch, official)
    assert total.item() == pytest.approx(
        sum(w * terms[k].item() for k, w in stages_module.losses.DECOMPOSITION_WEIGHTS.items()), rel=1e-6
    )
    heavier, _, _ = STAGES["decom"].loss(model, batch, load_config("decom", None, ["equal_r_weight=0.3"]))
    assert heavier.item() == pytest.approx(total.item() + 0.29 * terms["equal_R"].item(), rel=1e-6)


# --- the run folder, resume checks, stop rule (issue 15) -------------------------------------------


def test_a_fresh_run_never_replaces_another(dataset, tmp_path):
    train("decom", config_for("decom", dataset, tmp_path, steps=2, save_every=1), progress=False)
    with pytest.raises(ValueError, match=r"already holds a run \(last.pt at step 2\); continue it with --resume auto"):
        train("decom", config_for("decom", dataset, tmp_path, steps=3), progress=False)
    assert read_record(tmp_path / "last.pt")["step"] == 2
    state = train("decom", config_for("decom", dataset, tmp_path, steps=3), overwrite=True, progress=False)
    assert state.step == 3 and not list(tmp_path.glob("step_*.pt"))
    with pytest.raises(ValueError, match="contradict"):
        train("decom", config_for("decom", dataset, tmp_path, steps=3), resume="auto", overwrite=True, progress=False)


def test_resume_auto_without_last_pt_starts_fresh_and_says_so(dataset, tmp_path, capsys):
    state = train("decom", config_for("decom", dataset, tmp_path, steps=2), resume="auto")
    assert state.step == 2 and "no last.pt in" in capsys.readouterr().err


def test_resume_refuses_other_settings_and_lists_them(dataset, tmp_path, capsys):
    train("decom", config_for("decom", dataset, tmp_path, steps=2), progress=False)
    with pytest.raises(ResumeError, match=r"(?s)batch_size: 4 → 2.*lr: 0.001 → 0.002"):
        train("decom", config_for("decom", dataset, tmp_path, steps=4, batch_size=2, lr=2e-3), resume="auto", progress=False)
    same_folder_as_list = config_for("decom", dataset, tmp_path, steps=4, log_every=1, train_dir=f"[{dataset}]")
    state = train("decom", same_folder_as_list, resume="auto")
    assert state.step == 4 and "resumed with a changed setting: log_every: 5 → 1" in capsys.readouterr().err


@pytest.mark.parametrize("native", [True, False])
def test_amp_auto_takes_bf16_only_where_the_cpu_has_it(monkeypatch, native):
    monkeypatch.setattr(train_module, "cpu_bf16_supported", lambda: native)
    cpu = torch.device("cpu")
    assert train_module.uses_bf16(load_config("decom", overrides=["amp=auto"]), cpu) is native
    assert train_module.uses_bf16(load_config("decom", overrides=["amp=bf16"]), cpu)
    assert not train_module.uses_bf16(load_config("decom", overrides=["amp=none"]), cpu)


def test_a_run_resumes_in_another_precision_and_warns_of_emulated_bf16(dataset, tmp_path, monkeypatch, capsys):
    """The CPU can change between sessions: a run started in fp32 goes on in bf16 (said, not refused),
    and bf16 asked for on a CPU without it natively is said to be slow."""
    monkeypatch.setattr(train_module, "cpu_bf16_supported", lambda: False)
    train("decom", config_for("decom", dataset, tmp_path, steps=2, amp="auto"), progress=False)
    state = train("decom", config_for("decom", dataset, tmp_path, steps=3, amp="bf16"), resume="auto")
    err = capsys.readouterr().err
    assert state.step == 3 and "resumed with a changed setting: amp: 'auto' → 'bf16'" in err
    assert "amp: bf16 on a cpu without native bf16 convolutions: emulated" in err


def test_resume_refuses_changed_training_pairs(dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    train("decom", config_for("decom", data, tmp_path / "run", steps=2), progress=False)
    write_pairs(tmp_path / "more", count=7)
    for side in ("low", "high"):
        shutil.copy(tmp_path / "more" / side / "7.png", data / side / "7.png")
    with pytest.raises(ResumeError, match=r"training pairs changed .*4 → 5 pairs.*new: .*5.png"):
        train("decom", config_for("decom", data, tmp_path / "run", steps=4), resume="auto", progress=False)


def test_resume_from_a_weight_file_points_to_init_weights(dataset, decom_weights, tmp_path):
    with pytest.raises(ResumeError, match=r"not a training checkpoint .* set init_weights: "):
        train("decom", config_for("decom", dataset, tmp_path, steps=2), resume=str(decom_weights), progress=False)


def test_init_weights_start_the_run(dataset, decom_weights, tmp_path):
    config = config_for("decom", dataset, tmp_path, steps=1, lr=1e-9, init_weights=str(decom_weights))
    train("decom", config, progress=False)
    start = load_network(decom_weights, "decom").state_dict()
    after = read_record(tmp_path / "last.pt")["state_dict"]
    assert all(torch.allclose(after[k], start[k], atol=1e-6) for k in start)


def test_no_checkpoint_holds_weights_updated_after_a_non_finite_loss(dataset, tmp_path, monkeypatch):
    _at_call(monkeypatch, lambda n: n == 6, factor=float("inf"))
    config = config_for("decom", dataset, tmp_path, steps=12, val_every=4, check_every=4, log_every=4)
    with pytest.raises(TrainingDiverged, match=r"inf at step 6 \(the check of steps 5–8\)"):
        train("decom", config, progress=False)
    record = read_record(tmp_path / "last.pt")
    assert record["step"] == 4 and all(torch.isfinite(v).all() for v in record["state_dict"].values())


def _signal_at(monkeypatch, step: int, signum: int = signal.SIGINT) -> None:
    _at_call(monkeypatch, lambda n: n == step, before=lambda: signal.raise_signal(signum))


def test_sigint_stops_at_the_next_check_and_resumes_exactly(dataset, tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGINT)  # Python's default_int_handler, or SIG_IGN in a background job
    straight = train("decom", config_for("decom", dataset, tmp_path / "a", steps=9, val_every=0), progress=False)
    with monkeypatch.context() as patch:
        _signal_at(patch, 3)
        stopped = train("decom", config_for("decom", dataset, tmp_path / "b", steps=9, val_every=0), progress=False)
    assert stopped.stopped == "SIGINT" and stopped.step == 3 and read_record(tmp_path / "b" / "last.pt")["step"] == 3
    resumed = train("decom", config_for("decom", dataset, tmp_path / "b", steps=9, val_every=0), resume="auto", progress=False)
    assert stopped.losses + resumed.losses == straight.losses
    final_a, final_b = (read_record(tmp_path / run / "last.pt")["state_dict"] for run in ("a", "b"))
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_cli_sigterm_exits_143_and_says_how_to_resume(dataset, tmp_path, monkeypatch, capsys):
    _signal_at(monkeypatch, 2, signal.SIGTERM)
    args = ["train", "decom", "--set", f"train_dir={dataset}", "--set", f"out_dir={tmp_path}", "--set", "steps=50",
            "--set", "batch_size=2", "--set", "patch_size=16", "--set", "device=cpu", "--set", "holdout=1", "--quiet"]
    assert main(args) == 143
    err = capsys.readouterr().err
    assert "stopped by SIGTERM; continue with: kind train decom --set" in err and err.rstrip().endswith("--resume auto")
    assert read_record(tmp_path / "last.pt")["step"] == 2


def event_writer_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if type(thread).__name__ == "_AsyncWriterThread"}


def test_cli_a_second_sigterm_says_what_interrupted_it(dataset, tmp_path, monkeypatch, capsys):
    _at_call(monkeypatch, lambda n: n == 2, before=lambda: [signal.raise_signal(signal.SIGTERM) for _ in range(2)])
    args = ["train", "decom", "--set", f"train_dir={dataset}", "--set", f"out_dir={tmp_path}", "--set", "steps=50",
            "--set", "batch_size=2", "--set", "patch_size=16", "--set", "device=cpu", "--set", "holdout=1", "--quiet"]
    writers = event_writer_threads()
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "kind train: interrupted (a second SIGTERM: stopped at once, this start's steps since the last" in err
    assert "Ctrl-C" not in err
    assert event_writer_threads() <= writers  # the run's TensorBoard writer was closed, not left writing into tmp_path


def test_a_run_removes_its_folders_stale_temp_files(dataset, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    tmp_path.mkdir(exist_ok=True)
    stale = tmp_path / f".last.pt.kind{int(dead.stdout)}.0a1b2c3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    train("decom", config_for("decom", dataset, tmp_path, steps=1), progress=False)
    assert not stale.exists()


def test_compiled_step_gives_plain_checkpoints_and_the_same_losses(dataset, tmp_path, monkeypatch):
    eager = train("decom", config_for("decom", dataset, tmp_path / "eager", steps=4), progress=False)
    monkeypatch.setattr(train_module, "compiled", lambda fn, device, cuda_graphs: torch.compile(fn, backend="eager"))
    state = train("decom", config_for("decom", dataset, tmp_path / "compiled", steps=4, compile="on"), progress=False)
    assert state.losses == eager.losses
    keys = read_record(tmp_path / "compiled" / "last.pt")["state_dict"]
    assert set(keys) == set(build_network("decom").state_dict())


# --- kind train pipeline -------------------------------------------------------------------------------


def pipeline_overrides(dataset, out_dir, *more):
    return [f"out_dir={out_dir}", f"train_dir={dataset}", "holdout=2", "device=cpu", "batch_size=2", "patch_size=16",
            "lr=1e-3", "val_every=3", "save_every=0", "log_every=1", "steps=3", *more]


def test_pipeline_trains_the_stages_in_order_into_a_weights_folder(dataset, tmp_path, capsys):
    assert main(["train", "pipeline", "--quiet"] + [a for o in pipeline_overrides(dataset, tmp_path, "restore.steps=2")
                                                  for a in ("--set", o)]) == 0
    out = capsys.readouterr().out
    assert "trained decom to step 3" in out and "trained restore to step 2" in out
    weights = tmp_path / "weights"
    assert f"weights for kind enhance --weights: {weights}\n" in out
    nets = load_weights_dir(weights)  # what kind enhance --weights takes
    assert {p.name for p in weights.iterdir()} == {"decom.pt", "adjust.pt", "restore.pt"}
    assert all(v.dtype == torch.float16 for v in read_record(weights / "restore.pt")["state_dict"].values())
    adjust_config = read_record(tmp_path / "adjust" / "last.pt")["config"]
    restore_config = read_record(tmp_path / "restore" / "last.pt")["config"]
    assert adjust_config["decom_weights"] == restore_config["decom_weights"] == str(weights / "decom.pt")
    assert restore_config["adjust_weights"] == str(weights / "adjust.pt")
    exported_from = tmp_path / "restore" / ("best.pt" if (tmp_path / "restore" / "best.pt").is_file() else "last.pt")
    trained = read_record(exported_from)["state_dict"]  # the loaded network holds its weights, via float16
    assert all(torch.equal(value, trained[name].half().float()) for name, value in nets.restore.state_dict().items())
    # resumed: the finished stages are skipped; a longer restore schedule continues
    more = pipeline_overrides(dataset, tmp_path, "restore.steps=4")
    assert main(["train", "pipeline", "--quiet", "--resume", "auto"] + [a for o in more for a in ("--set", o)]) == 0
    captured = capsys.readouterr()
    assert "decom already trained" in captured.err and "trained restore to step 4" in captured.out
    # a fresh pipeline into the same folder is refused before any stage runs
    assert main(["train", "pipeline", "--quiet"] + [a for o in more for a in ("--set", o)]) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "overrides,match",
    [
        (["stages=[restore, decom]"], "stages must be a non-empty list"),
        (["bogus=1"], r"unknown keys \['bogus'\]"),
        (["restore.decom_weights=x.pt"], "restore.decom_weights comes from this pipeline's decom stage"),
        (["decom.out_dir=x"], "decom.out_dir is set by the pipeline"),
        (["nostage.steps=3"], "'nostage' is not a stage"),
        (["decom.steps=0"], r"\(decom\): steps must be positive"),
    ],
)
def test_pipeline_config_errors(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_pipeline_config(ROOT / "configs" / "pipeline.yaml", overrides)


def test_pipeline_config_precedence_and_chaining():
    pipeline = load_pipeline_config(ROOT / "configs" / "pipeline.yaml", ["steps=7", "restore.steps=9", "stages=[adjust, restore]",
                                                                          "decom_weights=mine.pt"])
    assert list(pipeline.stages) == ["adjust", "restore"]
    adjust, restore = pipeline.stages["adjust"], pipeline.stages["restore"]
    assert (adjust.steps, restore.steps, restore.patch_size) == (7, 9, 384)
    assert adjust.decom_weights == restore.decom_weights == "mine.pt"
    assert restore.adjust_weights == str(pipeline.weights_dir / "adjust.pt") and adjust.out_dir == "runs/pipeline/adjust"


def test_a_pipeline_of_some_stages_names_the_other_networks_for_kind_enhance(tmp_path):
    """Trained alone, a restore stage exports only restore.pt: kind enhance needs the others named."""
    overrides = [f"out_dir={tmp_path}", "stages=[restore]", "restore.decom_weights=v0.1", "restore.adjust_weights=my/adjust.pt"]
    pipeline = load_pipeline_config(ROOT / "configs" / "pipeline.yaml", overrides)
    assert pipeline.weights_spec() == "decom=v0.1,adjust=my/adjust.pt,restore=shipped"  # nothing exported yet
    pipeline.weights_dir.mkdir()
    (pipeline.weights_dir / "restore.pt").write_bytes(b"")
    restore = pipeline.weights_dir / "restore.pt"
    assert pipeline.weights_spec() == f"decom=v0.1,adjust=my/adjust.pt,restore={restore}"
    assert parse_mixed(pipeline.weights_spec())["restore"] == str(restore)
    decom_only = load_pipeline_config(ROOT / "configs" / "pipeline.yaml", [f"out_dir={tmp_path}", "stages=[decom]"])
    assert decom_only.weights_spec() == f"decom=shipped,adjust=shipped,restore={restore}"  # its decom.pt: not yet


def test_restore_validation_scores_the_pipeline_like_the_official_protocol(dataset, weights_dir, tmp_path):
    from kind.evaluation.protocols import enhance_pair
    from kind.evaluation.evaluate import read_pair
    from kind.imageops import to_uint8
    from kind.metrics import psnr, saturation, ssim
    from kind.inference.runner import Runner
    from kind.weights.format import KinDNets

    config = config_for("restore", dataset, tmp_path, weights_dir / "decom.pt", adjust_weights=str(weights_dir / "adjust.pt"))
    stage = STAGES["restore"]
    data = stage.prepare(config, torch.device("cpu"))
    model = load_network(weights_dir / "restore.pt", "restore")
    with torch.inference_mode():
        metrics, _ = stage.validate(model, data, config)
    assert stage.select(config) == "pipeline_psnr"
    runner = Runner(KinDNets(load_network(weights_dir / "decom.pt"), model, load_network(weights_dir / "adjust.pt")),
                    "cpu", fast=False)
    scores = []
    for name in ("5.png", "6.png"):  # the two held-out pairs
        pair = read_pair(dataset / "low" / name, dataset / "high" / name)
        output = to_uint8(enhance_pair(runner, pair.low, pair.high, "official").output[0].permute(1, 2, 0).numpy())
        scores.append((psnr(output, pair.high_u8), ssim(output, pair.high_u8), saturation(output), saturation(pair.high_u8)))
    assert metrics["pipeline_psnr"] == pytest.approx(sum(s[0] for s in scores) / 2, abs=1e-3)
    assert metrics["pipeline_ssim"] == pytest.approx(sum(s[1] for s in scores) / 2, abs=1e-4)
    assert metrics["pipeline_saturation"] == pytest.approx(sum(s[2] for s in scores) / 2, abs=1e-3)
    assert metrics["gt_saturation"] == pytest.approx(sum(s[3] for s in scores) / 2, abs=1e-12)


def test_bench_train_times_the_loop_and_the_bare_step(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--train", "--stages", "adjust", "--steps", "4", "--warmup", "2", "--device", "cpu",
                 "--json", str(out)]) == 0
    row = json.loads(out.read_text())["stages"]["adjust"]
    assert row["device"] == "cpu" and row["steps_per_second"] > 0 and row["bare_steps_per_second"] > 0
    assert row["patches_per_second"] == pytest.approx(10 * row["steps_per_second"])
    assert "| adjust | 10 × 48² | fp32 |" in capsys.readouterr().out
    assert main(["bench", "--train", "--stages", "decom,nope", "--device", "cpu"]) == 2


def test_bench_train_takes_a_recipes_batch_patch_and_precision(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_module, "cpu_bf16_supported", lambda: True)  # the label of native bf16, on any CPU
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("out_dir: unused\nrestore: {batch_size: 2, patch_size: 32, amp: bf16}\nadjust: {batch_size: 3, patch_size: 24}\n")
    out = tmp_path / "bench.json"
    assert main(["bench", "--train", "--stages", "adjust,restore", "--steps", "2", "--warmup", "1", "--device", "cpu",
                 "--recipe", str(recipe), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["stages"]
    assert (rows["restore"]["batch_size"], rows["restore"]["patch_size"], rows["restore"]["amp"]) == (2, 32, "bf16")
    assert (rows["adjust"]["batch_size"], rows["adjust"]["patch_size"], rows["adjust"]["amp"]) == (3, 24, "none")
    printed = capsys.readouterr().out
    assert "| restore | 2 × 32² | bf16 autocast |" in printed and "| adjust | 3 × 24² | fp32 |" in printed



def test_bench_train_times_a_grid_of_sizes_and_precisions_in_pixels(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_module, "cpu_bf16_supported", lambda: False)  # bf16 rows say they are emulated
    out = tmp_path / "bench.json"
    assert main(["bench", "--train", "--stages", "restore", "--steps", "2", "--warmup", "1", "--device", "cpu",
                 "--sizes", "2x16,1x32", "--precisions", "fp32,bf16", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["grid"]
    assert [(r["batch_size"], r["patch_size"], r["amp"]) for r in rows] == [
        (2, 16, "none"), (2, 16, "bf16"), (1, 32, "none"), (1, 32, "bf16")]
    assert all(r["pixels_per_second"] == pytest.approx(r["steps_per_second"] * r["batch_size"] * r["patch_size"] ** 2)
               for r in rows)
    assert [r["emulated"] for r in rows] == [False, True, False, True]
    assert "| restore | 1 × 32² | bf16 autocast (emulated) |" in capsys.readouterr().out
    assert main(["bench", "--train", "--device", "cpu", "--sizes", "8by96"]) == 2
    assert main(["bench", "--train", "--device", "cpu", "--sizes", "2x16", "--precisions", "fp16"]) == 2


# --- extra_losses (issue 16) ------------------------------------------------------------------------


def logged_tags(run_dir) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return set(events.Tags()["scalars"])


@pytest.mark.parametrize("stage,on", [("decom", "recon_low"), ("adjust", "adjusted"), ("restore", "product")])
def test_extra_losses_train_and_log_each_term(stage, on, dataset, decom_weights, tmp_path):
    terms = f"[{{name: l1, weight: 0.5, on: {on}}}, {{name: laplacian, weight: 0.1, on: {on}, levels: 2}}]"
    changes = {"patch_size": 16, "batch_size": 2, "steps": 4, "val_every": 4, "log_every": 2, "extra_losses": terms}
    config = config_for(stage, dataset, tmp_path, decom_weights, **changes)
    assert [t["name"] for t in config.extra_losses] == ["l1", "laplacian"]
    state = train(stage, config, progress=False)
    assert state.step == 4 and all(math.isfinite(v) for v in state.losses)
    assert {f"train/l1@{on}", f"train/laplacian@{on}"} <= logged_tags(tmp_path)


def test_extra_terms_change_the_loss_by_their_weighted_value(dataset, tmp_path):
    plain = train("decom", config_for("decom", dataset, tmp_path / "a", steps=1), progress=False)
    with_l1 = train("decom", config_for("decom", dataset, tmp_path / "b", steps=1,
                                        extra_losses="[{name: l1, weight: 2.0, on: R_low}]"), progress=False)
    assert with_l1.losses[0] > plain.losses[0]  # the same seed: the same network and patches at step 1


def test_an_adversarial_term_resumes_exactly(dataset, decom_weights, tmp_path):
    terms = "[{name: adversarial, weight: 0.01, on: adjusted, mode: lsgan}]"
    straight = train("adjust", config_for("adjust", dataset, tmp_path / "a", decom_weights, steps=6, val_every=3,
                                          extra_losses=terms), progress=False)
    train("adjust", config_for("adjust", dataset, tmp_path / "b", decom_weights, steps=3, val_every=3,
                               extra_losses=terms), progress=False)
    resumed = train("adjust", config_for("adjust", dataset, tmp_path / "b", decom_weights, steps=6, val_every=3,
                                         extra_losses=terms), resume="auto", progress=False)
    assert straight.losses[3:] == resumed.losses
    assert "adversarial@adjusted" in read_record(tmp_path / "b" / "last.pt")["extra_state"]
    assert "train/adversarial@adjusted/discriminator" in logged_tags(tmp_path / "a")
    with pytest.raises(ResumeError, match="extra_losses"):
        train("adjust", config_for("adjust", dataset, tmp_path / "b", decom_weights, steps=9, val_every=3),
              resume="auto", progress=False)


def test_bad_extra_losses_are_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"extra_losses.*(?s:.*)recon_low"):
        load_config("decom", None, ["extra_losses=[{name: l1, weight: 1, on: restored}]"])


def test_decom_validation_selects_on_fixed_held_out_patch_batches(dataset, tmp_path):
    """The decomposition is selected by its loss on training-style patch batches of the held-out
    pairs (the whole-image loss ranks a flat illumination first: docs/decomposition-study.md)."""
    from kind.train.data import PatchSampler, PatchSource, load_pairs, split_holdout
    from kind.train.stages import VAL_PATCH_BATCHES, VAL_PATCH_SEED

    stage = STAGES["decom"]
    config = config_for("decom", dataset, tmp_path)
    assert stage.select(config) == "patch_loss" and not stage.higher_is_better
    data = stage.prepare(config, torch.device("cpu"))
    other_seed = stage.prepare(config_for("decom", dataset, tmp_path, seed=99), torch.device("cpu"))
    assert len(data.val_batches) == VAL_PATCH_BATCHES
    assert all(torch.equal(a["low"], b["low"]) for a, b in zip(data.val_batches, other_seed.val_batches))

    _, held_out = split_holdout(load_pairs(dataset, True, config.patch_size), config.holdout)
    source = PatchSource({"low": held_out.low, "high": held_out.high}, torch.device("cpu"))
    sampler = PatchSampler(source.sizes, config.batch_size, config.patch_size, VAL_PATCH_SEED)
    torch.manual_seed(0)
    model = build_network("decom")
    with torch.inference_mode():
        metrics, _ = stage.validate(model, data, config)
        expected = [float(stage.loss(model, source.cut(sampler.draws(step), config.patch_size), config)[0])
                    for step in range(VAL_PATCH_BATCHES)]
    assert metrics["patch_loss"] == pytest.approx(sum(expected) / len(expected), rel=1e-5)
    assert {"loss", "recon_low_psnr", "recon_high_psnr", "recon_high_ssim", "L_low_mean", "L_low_std"} <= set(metrics)


def test_decom_guards_keep_a_flat_or_broken_split_from_best_pt(dataset, tmp_path, capsys):
    """A lower patch loss alone does not make best.pt when the held-out L goes flat (its std
    below guard_min_l_std) or the split stops rebuilding the image (recon below its guard)."""
    from kind.train.stages import decom_guard

    config = config_for("decom", dataset, tmp_path, guard_min_l_std=0.05, guard_min_recon_psnr=30)
    healthy = {"L_low_std": 0.08, "recon_high_psnr": 33.0}
    assert decom_guard(healthy, config) is None
    assert "L is going flat" in decom_guard(healthy | {"L_low_std": 0.02}, config)
    assert "recon_high_psnr 25.00 < guard_min_recon_psnr 30" in decom_guard(healthy | {"recon_high_psnr": 25.0}, config)

    guarded = config_for("decom", dataset, tmp_path / "guarded", steps=4, val_every=2, guard_min_l_std=10)
    state = train("decom", guarded, progress=True)
    assert "not taken as best.pt: L_low_std" in capsys.readouterr().err
    assert state.best is None and not (tmp_path / "guarded" / "best.pt").exists()
    with pytest.raises(ConfigError, match="guard_min_l_std must be ≥ 0"):
        config_for("decom", dataset, tmp_path, guard_min_l_std=-1)


def test_a_resumed_run_selected_on_another_metric_starts_best_afresh(dataset, tmp_path, capsys):
    config = config_for("decom", dataset, tmp_path, steps=4, val_every=2)
    train("decom", config, progress=True)
    record = read_record(tmp_path / "last.pt")
    record.update(best_metric="loss", best=-1.0)  # as if selected on another metric (unbeatable)
    for key in ("sha256", "checksum"):
        del record[key]
    save_record(tmp_path / "last.pt", record)
    state = train("decom", config_for("decom", dataset, tmp_path, steps=6, val_every=2), resume="auto")
    assert "best.pt's metric: loss → patch_loss" in capsys.readouterr().err
    assert state.best == read_record(tmp_path / "best.pt")["best"] > 0 and read_record(tmp_path / "best.pt")["step"] == 6


def test_a_resumed_pipeline_retrains_the_stages_of_a_changed_decomnet(dataset, tmp_path, capsys):
    def run(*more, resume=True):
        args = [a for o in pipeline_overrides(dataset, tmp_path, "restore.steps=2", *more) for a in ("--set", o)]
        assert main(["train", "pipeline", "--quiet", *(["--resume", "auto"] if resume else []), *args]) == 0
        return capsys.readouterr().err

    run(resume=False)
    weights = tmp_path / "weights"
    old_decom = read_record(weights / "decom.pt")["sha256"]
    assert read_record(tmp_path / "adjust" / "last.pt")["upstream"] == {"decom_weights": old_decom}
    err = run("decom.steps=5")
    new_decom = read_record(weights / "decom.pt")["sha256"]
    assert new_decom != old_decom
    assert "adjust was trained on other weights" in err and "restore was trained on other weights" in err
    for stage in ("adjust", "restore"):
        assert read_record(tmp_path / stage / "last.pt")["upstream"]["decom_weights"] == new_decom
    assert read_record(weights / "adjust.pt")["training"]["upstream"] == {"decom_weights": new_decom}
    err = run("decom.steps=5")  # nothing changed: every stage is skipped
    assert all(f"{stage} already trained" in err for stage in ("decom", "adjust", "restore"))


def test_a_stage_never_resumes_on_changed_frozen_weights(dataset, weights_dir, tmp_path):
    decom = tmp_path / "decom.pt"
    shutil.copy(weights_dir / "decom.pt", decom)
    train("adjust", config_for("adjust", dataset, tmp_path / "a", decom, steps=2, val_every=0), progress=False)
    torch.manual_seed(1)
    save_record(decom, weight_record("decom", build_network("decom").state_dict(), source="another"))
    with pytest.raises(ResumeError, match="the frozen weights it was trained on changed .decom_weights: "):
        train("adjust", config_for("adjust", dataset, tmp_path / "a", decom, steps=4, val_every=0), resume="auto",
              progress=False)


def test_checkpoints_without_upstream_checksums_still_resume(dataset, decom_weights, tmp_path):
    train("adjust", config_for("adjust", dataset, tmp_path / "a", decom_weights, steps=2, val_every=0), progress=False)
    last = tmp_path / "a" / "last.pt"
    record = read_record(last)
    for key in ("upstream", "sha256", "checksum"):  # as kind wrote checkpoints before recording upstream weights
        del record[key]
    save_record(last, record)
    state = train("adjust", config_for("adjust", dataset, tmp_path / "a", decom_weights, steps=4, val_every=0),
                  resume="auto", progress=False)
    assert state.step == 4


def test_the_log_interval_follows_the_run_length():
    from kind.train.loop import log_interval

    assert [log_interval(load_config("decom", None, [f"steps={n}"])) for n in (10, 100, 5000, 10**6)] == [1, 2, 100, 100]
    assert log_interval(load_config("decom", None, ["steps=100", "log_every=7"])) == 7


def test_the_cli_names_the_best_metric_and_logs_every_term(dataset, tmp_path, capsys):
    args = ["train", "decom", "--set", f"train_dir={dataset}", "--set", f"out_dir={tmp_path}", "--set", "steps=4",
            "--set", "batch_size=2", "--set", "patch_size=16", "--set", "device=cpu", "--set", "holdout=1",
            "--set", "log_every=2"]
    assert main(args) == 0
    captured = capsys.readouterr()
    metric = STAGES["decom"].select(load_config("decom"))
    assert re.search(rf"best validation {metric} [0-9.]+;", captured.out)
    assert "step 2: loss " in captured.err and "TensorBoard's train/loss: the mean of 2 steps" in captured.err
    terms = captured.err.split("terms at the last step: ")[1].splitlines()[0].split()
    assert len(terms) > 1 and all(re.fullmatch(r"\w+=[-0-9.e]+", term) for term in terms)


def test_print_config_prints_and_trains_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "pipeline", "--print-config", "--set", "decom.steps=7"]) == 0
    out = capsys.readouterr().out
    assert "# decom" in out and "steps: 7" in out and "# restore" in out
    assert list(tmp_path.iterdir()) == []


def test_an_oversubscribed_cpu_is_said(dataset, tmp_path, capsys, monkeypatch):
    from kind.train import cpu_load

    assert cpu_load.oversubscription_notice(2, load=1.0, cores=2).endswith("set threads=1 (--set threads=1)")
    assert cpu_load.oversubscription_notice(1, load=1.0, cores=2) is None
    assert cpu_load.oversubscription_notice(2, load=0.1, cores=2) is None
    monkeypatch.setattr(cpu_load.os, "getloadavg", lambda: (float(cpu_load.usable_cores()), 0.0, 0.0))
    train("decom", config_for("decom", dataset, tmp_path / "run", steps=1, val_every=0), progress=True)
    assert "other processes keep the CPU busy (load average" in capsys.readouterr().err


def test_restore_shows_the_pipeline_beside_the_ground_truth_in_labelled_strips(dataset, weights_dir, tmp_path):
    from kind.train.strips import STRIP_LABELS, labelled_strip

    config = config_for("restore", dataset, tmp_path, weights_dir / "decom.pt", adjust_weights=str(weights_dir / "adjust.pt"),
                        val_images=1)
    data = STAGES["restore"].prepare(config, torch.device("cpu"))
    with torch.inference_mode():
        _, shown = STAGES["restore"].validate(load_network(weights_dir / "restore.pt", "restore"), data, config)
    strip = shown["0"]
    assert len(strip) == len(STRIP_LABELS["restore+pipeline"]) == 5
    torch.testing.assert_close(strip[4:5], data.val["gt"][0][None].float())  # the ground truth, last
    panel = labelled_strip(strip, STRIP_LABELS["restore+pipeline"])
    height, width = strip.shape[-2:]
    assert panel.dtype == np.uint8 and panel.shape[0] > height and panel.shape[1] == 5 * width + 4 * 8
    assert (panel[: panel.shape[0] - height] < 128).any()  # the labels are drawn above the pictures
    run = train("restore", config_for("restore", dataset, tmp_path / "run", weights_dir / "decom.pt", steps=2,
                                      val_every=2, adjust_weights=str(weights_dir / "adjust.pt")), progress=False)
    assert run.step == 2


def test_the_frozen_decomposition_shows_its_progress(dataset, decom_weights, tmp_path, capsys):
    config = config_for("adjust", dataset, tmp_path / "a", decom_weights, steps=1, val_every=0)
    train("adjust", config, progress=True)
    assert "decompose with the frozen DecomNet 12/12" in capsys.readouterr().err  # 4 + 2 pairs, low and high
    train("adjust", config_for("adjust", dataset, tmp_path / "b", decom_weights, steps=1, val_every=0), progress=False)
    assert "decompose with the frozen DecomNet" not in capsys.readouterr().err


def test_the_frozen_decomposition_is_cached_by_the_decomnet_checksum(dataset, weights_dir, tmp_path, monkeypatch):
    decom = tmp_path / "decom.pt"
    shutil.copy(weights_dir / "decom.pt", decom)
    config = config_for("adjust", dataset, tmp_path / "run", decom)
    first = STAGES["adjust"].prepare(config, torch.device("cpu"))
    caches = list((tmp_path / "run").glob("decomposition-*.pt"))
    assert len(caches) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("decomposed again")

    with monkeypatch.context() as patched:
        patched.setattr(stages_module, "decompose_all", refuse)
        again = STAGES["adjust"].prepare(config, torch.device("cpu"))  # from the cache
    for split in ("train", "val"):
        for name, images in getattr(first, split).items():
            assert all(torch.equal(a, b) for a, b in zip(images, getattr(again, split)[name])), (split, name)
    torch.manual_seed(3)
    save_record(decom, weight_record("decom", build_network("decom").state_dict(), source="another DecomNet"))
    changed = STAGES["adjust"].prepare(config, torch.device("cpu"))
    assert not torch.equal(changed.train["L_low"][0], first.train["L_low"][0])
    assert [p.name for p in (tmp_path / "run").glob("decomposition-*.pt")] != [caches[0].name]
    assert len(list((tmp_path / "run").glob("decomposition-*.pt"))) == 1
