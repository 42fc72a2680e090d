"""torchrun (CPU, gloo). Training: gradients are averaged over the ranks' distinct patches, a
stopped and resumed run equals an unbroken one, a failing rank ends the job quickly with its error
shown. Enhancement: a folder sharded over two ranks gives the single process's files, byte for byte,
with one merged summary."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, write_pairs

from kind.models import build_network
from kind.train.config import load_config
from kind.train.data import PatchSampler, PatchSource
from kind.train.stages import STAGES
from kind.weights.format import read_record

pytestmark = [pytest.mark.skipif(not torch.distributed.is_available(), reason="needs torch.distributed"),
              pytest.mark.slow]  # torchrun processes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=6, height=40, width=56)


def settings(dataset, out_dir, **changes):
    values = {"train_dir": dataset, "holdout": 1, "out_dir": out_dir, "steps": 3, "batch_size": 2, "patch_size": 16,
              "lr": 1e-3, "device": "cpu", "val_every": 0, "save_every": 0, "log_every": 1, "check_every": 2, "seed": 5}
    return {**values, **changes}


def torchrun(args, ranks=2, script=None, timeout=240):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    command += [script] if script else ["-m", "kind"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command + args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def train_args(values):
    return ["train", "decom", "--quiet"] + [arg for k, v in values.items() for arg in ("--set", f"{k}={v}")]


def test_two_ranks_average_the_gradients_of_their_own_patches(dataset, tmp_path):
    values = settings(dataset, tmp_path / "ddp")
    result = torchrun(train_args(values))
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = read_record(tmp_path / "ddp" / "last.pt")
    assert ddp["world_size"] == 2 and not any(k.startswith(("module.", "_orig_mod.")) for k in ddp["state_dict"])

    config = load_config("decom", None, [f"{k}={v}" for k, v in values.items()])
    averaged = reference_weights(config, ranks=(0, 1))
    for key, value in averaged.items():
        torch.testing.assert_close(ddp["state_dict"][key], value, atol=1e-5, rtol=1e-4)
    # the test can tell: one rank's patches alone, or one batch of 2b, give other weights
    alone = reference_weights(config, ranks=(0,))
    assert max(float((ddp["state_dict"][k] - v).abs().max()) for k, v in alone.items()) > 1e-4


def reference_weights(config, ranks):
    """One process: each rank's patches through the network separately, the gradients averaged."""
    stage = STAGES["decom"]
    torch.manual_seed(config.seed)
    data = stage.prepare(config, torch.device("cpu"))
    model = build_network("decom").to(memory_format=torch.channels_last)
    source = PatchSource(data.train, torch.device("cpu"))
    samplers = [PatchSampler(source.sizes, config.batch_size, config.patch_size, config.seed, rank) for rank in ranks]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
    for step in range(config.steps):
        grads = []
        for sampler in samplers:
            patches = source.cut(sampler.draws(step), config.patch_size)
            batch = {k: v.contiguous(memory_format=torch.channels_last) for k, v in patches.items()}
            model.zero_grad(set_to_none=True)
            stage.loss(model, batch, config)[0].backward()
            grads.append([p.grad.clone() for p in model.parameters()])
        for p, *rank_grads in zip(model.parameters(), *grads):
            p.grad = sum(rank_grads) / len(rank_grads)
        optimizer.step()
    return model.state_dict()


def test_two_rank_run_stopped_and_resumed_equals_an_unbroken_one(dataset, tmp_path):
    unbroken = torchrun(train_args(settings(dataset, tmp_path / "a", steps=6)))
    first = torchrun(train_args(settings(dataset, tmp_path / "b", steps=3)))
    second = torchrun(train_args(settings(dataset, tmp_path / "b", steps=6)) + ["--resume", "auto"])
    assert unbroken.returncode == first.returncode == second.returncode == 0, second.stderr[-3000:]
    a, b = (read_record(tmp_path / run / "last.pt") for run in ("a", "b"))
    assert a["step"] == b["step"] == 6
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    other_world = torchrun(train_args(settings(dataset, tmp_path / "b", steps=8)) + ["--resume", "auto"], ranks=1)
    assert other_world.returncode != 0 and "world size: 2 → 1" in other_world.stderr


def test_max_seconds_stops_every_rank_at_the_same_step(dataset, tmp_path):
    result = torchrun(train_args(settings(dataset, tmp_path, steps=100_000, max_seconds=2, check_every=5, log_every=5)))
    assert result.returncode == 0, result.stderr[-3000:]
    step = read_record(tmp_path / "last.pt")["step"]
    assert 0 < step < 100_000 and step % 5 == 0  # ranks only stop at the checks they share


def test_a_failing_rank_ends_the_job_quickly_with_its_error(dataset, tmp_path):
    started = time.monotonic()
    script = str(ROOT / "tests" / "helpers" / "failing_rank.py")
    result = torchrun(["1", "2"] + train_args(settings(dataset, tmp_path, steps=1000)), script=script, timeout=120)
    assert result.returncode != 0
    assert "injected failure on rank 1 at step 2" in result.stdout + result.stderr
    assert time.monotonic() - started < 90


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Seven small photos in two folders and one file that is not an image."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(3)
    for i in range(7):
        folder = root / ("sub" if i % 3 == 0 else "")
        folder.mkdir(exist_ok=True)
        pixels = (rng.random((20 + 2 * i, 28, 3)) * 60).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")
    (root / "sub" / "broken.png").write_bytes(b"not a png")
    return root


def enhance(photos, out, ranks=None, *extra):
    args = ["enhance", str(photos), "-o", str(out), "--quiet", "--device", "cpu", *extra]
    if ranks is None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the default threads (torchrun's ranks: 1 each)
        env.pop("OMP_NUM_THREADS", None)
        return subprocess.run([sys.executable, "-m", "kind", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    return torchrun(args, ranks=ranks)


def test_two_ranks_enhance_a_folder_byte_for_byte_as_one_process(photos, tmp_path):
    import json

    single = enhance(photos, tmp_path / "one")
    sharded = enhance(photos, tmp_path / "two", 2, "--json", str(tmp_path / "two.json"))
    assert single.returncode == sharded.returncode == 1, sharded.stderr[-3000:]  # broken.png failed
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*") if p.is_file())
    assert len(one) == 7 and one == two
    assert all((tmp_path / "one" / p).read_bytes() == (tmp_path / "two" / p).read_bytes() for p in one)
    # one merged summary, printed once, naming the failure of whichever rank met it
    assert sharded.stdout.count("7 done, 1 failed, 0 skipped") == 1 and "broken.png" in sharded.stdout
    summary = json.loads((tmp_path / "two.json").read_text())
    assert (summary["done"], summary["skipped"], summary["ranks"]) == (7, 0, 2)
    assert [Path(f["input"]).name for f in summary["failed"]] == ["broken.png"]

    for path in one[:3]:  # a crash left three outputs missing: the re-run does only those
        (tmp_path / "two" / path).unlink()
    again = enhance(photos, tmp_path / "two", 2, "--skip-existing")
    assert again.returncode == 1 and "3 done, 1 failed, 4 skipped" in again.stdout
    assert all((tmp_path / "one" / p).read_bytes() == (tmp_path / "two" / p).read_bytes() for p in one)
