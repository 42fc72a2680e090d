"""The restoration study's training levers: warm-up + cosine learning rate, an EMA of the weights
(validated, selected, exported, resumed exactly), progressive patch sizes, a CPU-time budget kept
across resumes, the squared-error weight, and checkpoints of the previous format still resuming."""

import math

import pytest
import torch
from conftest import write_pairs

from kind.train.checkpoints import ResumeError
from kind.train.config import ConfigError, batch_phases, largest_patch, load_config
from kind.train.data import PatchSampler, ScheduledSampler
from kind.train.ema import WeightAverage
from kind.train.loop import learning_rate, train
from kind.weights.format import export_weights, load_network, read_record, save_record


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=6, height=40, width=56)


def restore_config(dataset, weights_dir, out_dir, **changes):
    values = {"train_dir": str(dataset), "holdout": 2, "out_dir": str(out_dir), "steps": 8, "batch_size": 2,
              "patch_size": 16, "lr": 1e-3, "device": "cpu", "val_every": 4, "save_every": 0, "log_every": 2,
              "val_images": 1, "seed": 3, "decom_weights": str(weights_dir / "decom.pt"), "threads": 1}
    values.update(changes)
    return load_config("restore", None, [f"{k}={v}" for k, v in values.items()])


def test_cosine_schedule_warms_up_then_decays_to_min_lr():
    config = load_config("restore", None, ["lr=2e-4", "lr_schedule=cosine", "warmup_steps=10", "cosine_steps=110",
                                           "min_lr=1e-6", "steps=200"])
    assert learning_rate(config, 0) == pytest.approx(2e-5) and learning_rate(config, 9) == pytest.approx(2e-4)
    assert learning_rate(config, 10) == pytest.approx(2e-4)
    assert learning_rate(config, 60) == pytest.approx(1e-6 + (2e-4 - 1e-6) / 2)
    assert learning_rate(config, 110) == pytest.approx(1e-6) and learning_rate(config, 199) == pytest.approx(1e-6)
    steps_end = load_config("restore", None, ["lr_schedule=cosine", "steps=100"])  # cosine_steps 0: the run's steps
    assert learning_rate(steps_end, 50) == pytest.approx(1e-4 / 2) and learning_rate(steps_end, 100) == 0


@pytest.mark.parametrize("override, match", [
    ("lr_schedule=linear", "lr_schedule must be one of"),
    ("ema_decay=1", r"ema_decay must be in \[0, 1\)"),
    ("min_lr=1", "min_lr must be from 0 to lr"),
    ("max_cpu_seconds=-1", "max_cpu_seconds must be ≥ 0"),
    ("patch_schedule=[{step: 5, patch_size: 32}]", r"patch_schedule\[0\] must be a mapping with exactly the keys"),
    ("patch_schedule=[{step: 5, patch_size: 32, batch_size: 0}]", r"patch_schedule\[0\]\.batch_size must be a positive"),
    ("patch_schedule=[{step: 5, patch_size: 32, batch_size: 2}, {step: 5, patch_size: 64, batch_size: 1}]",
     r"patch_schedule\[1\]\.step must be after the previous phase's step 5"),
    ("extra_losses=[{name: mse, weight: 1, on: pipeline}]", "adjust_weights must be a weight file when an extra loss is on: pipeline"),
    ("anchor_decay=1", "init_weights must be a weight file when anchor_decay > 0"),
    ("anchor_decay=-1", r"anchor_decay must be ≥ 0 with lr × anchor_decay ≤ 1"),
    ("anchor_decay=20000", r"anchor_decay must be ≥ 0 with lr × anchor_decay ≤ 1"),
])
def test_bad_recipe_settings_are_refused_naming_the_field(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config("restore", None, [override])


def test_phases_and_the_largest_patch():
    config = load_config("restore", None, ["batch_size=8", "patch_size=96",
                                           "patch_schedule=[{step: 300, patch_size: 384, batch_size: 1}]"])
    assert batch_phases(config) == [(0, 8, 96), (300, 1, 384)] and largest_patch(config) == 384


def test_a_schedule_of_one_phase_draws_what_the_plain_sampler_draws():
    sizes = [(40, 56), (48, 60), (40, 40)]
    plain = PatchSampler(sizes, 4, 16, seed=5)
    scheduled = ScheduledSampler(sizes, [(0, 4, 16), (7, 2, 24)], seed=5)
    for step in range(7):
        draws, patch = scheduled.draws(step)
        assert patch == 16 and torch.equal(draws.image, plain.draws(step).image) and torch.equal(draws.top, plain.draws(step).top)
    later, patch = scheduled.draws(9)
    heights = torch.tensor([h for h, _ in sizes])
    assert patch == 24 and len(later.image) == 2 and bool((later.top <= heights[later.image] - 24).all())


def test_the_weight_average_follows_the_weights():
    model = torch.nn.Linear(2, 1)
    average = WeightAverage(model, 0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    before = average.model.weight.clone()
    average.update(model)
    assert torch.allclose(average.model.weight, before + 0.1) and not average.model.weight.requires_grad


def test_the_anchor_pulls_the_weights_towards_init_weights_and_resumes_exactly(dataset, weights_dir, tmp_path):
    start = read_record(weights_dir / "restore.pt")["state_dict"]

    def distance(folder):
        trained = read_record(folder / "last.pt")["state_dict"]
        return sum(float((trained[k] - start[k]).pow(2).sum()) for k in start) ** 0.5

    init = str(weights_dir / "restore.pt")
    train("restore", restore_config(dataset, weights_dir, tmp_path / "free", init_weights=init), progress=False)
    train("restore", restore_config(dataset, weights_dir, tmp_path / "pulled", init_weights=init, anchor_decay=100),
          progress=False)  # lr × anchor_decay = 0.1 a step
    train("restore", restore_config(dataset, weights_dir, tmp_path / "held", init_weights=init, anchor_decay=1000),
          progress=False)  # lr × anchor_decay = 1: back to the start after every step
    assert distance(tmp_path / "held") == 0 < distance(tmp_path / "pulled") < 0.8 * distance(tmp_path / "free")

    straight = train("restore", restore_config(dataset, weights_dir, tmp_path / "a", init_weights=init, anchor_decay=100),
                     progress=False)
    train("restore", restore_config(dataset, weights_dir, tmp_path / "b", init_weights=init, anchor_decay=100, steps=4),
          progress=False)
    resumed = train("restore", restore_config(dataset, weights_dir, tmp_path / "b", init_weights=init, anchor_decay=100),
                    resume="auto", progress=False)
    assert resumed.losses == straight.losses[4:]


@pytest.mark.slow
def test_an_ema_run_validates_exports_and_resumes_its_average_exactly(dataset, weights_dir, tmp_path):
    straight = train("restore", restore_config(dataset, weights_dir, tmp_path / "a", ema_decay=0.9), progress=False)
    record = read_record(tmp_path / "a" / "last.pt")
    trained, average = record["train_state_dict"], record["state_dict"]
    assert any(not torch.equal(trained[k], average[k]) for k in trained)  # the average is what best.pt and exports hold
    export_weights(tmp_path / "a" / "last.pt", tmp_path / "restore.pt")
    exported = load_network(tmp_path / "restore.pt", "restore").state_dict()
    assert all(torch.equal(exported[k], average[k]) for k in exported)
    train("restore", restore_config(dataset, weights_dir, tmp_path / "b", ema_decay=0.9, steps=4), progress=False)
    resumed = train("restore", restore_config(dataset, weights_dir, tmp_path / "b", ema_decay=0.9), resume="auto",
                    progress=False)
    assert resumed.losses == straight.losses[4:]
    final = read_record(tmp_path / "b" / "last.pt")
    assert all(torch.equal(final["state_dict"][k], average[k]) for k in average)
    assert all(torch.equal(final["train_state_dict"][k], trained[k]) for k in trained)


@pytest.mark.slow
def test_progressive_patches_train_and_resume_exactly(dataset, weights_dir, tmp_path):
    schedule = "[{step: 3, patch_size: 24, batch_size: 1}, {step: 6, patch_size: 32, batch_size: 1}]"
    straight = train("restore", restore_config(dataset, weights_dir, tmp_path / "a", patch_schedule=schedule), progress=False)
    train("restore", restore_config(dataset, weights_dir, tmp_path / "b", patch_schedule=schedule, steps=5), progress=False)
    resumed = train("restore", restore_config(dataset, weights_dir, tmp_path / "b", patch_schedule=schedule),
                    resume="auto", progress=False)
    assert len(straight.losses) == 8 and resumed.losses == straight.losses[5:]


@pytest.mark.slow
def test_the_cpu_budget_stops_the_run_and_counts_across_resumes(dataset, weights_dir, tmp_path):
    first = train("restore", restore_config(dataset, weights_dir, tmp_path, steps=10_000, max_cpu_seconds=1.0),
                  progress=False)
    assert first.stopped == "max_cpu_seconds" and 0 < first.step < 10_000
    spent = read_record(tmp_path / "last.pt")["cpu_seconds"]
    assert 1.0 <= spent < 10
    again = train("restore", restore_config(dataset, weights_dir, tmp_path, steps=10_000, max_cpu_seconds=spent + 0.5),
                  resume="auto", progress=False)
    assert again.stopped == "max_cpu_seconds" and again.step > first.step
    assert read_record(tmp_path / "last.pt")["cpu_seconds"] >= spent + 0.5


@pytest.mark.slow
def test_square_weight_zero_drops_the_squared_term(dataset, weights_dir, tmp_path):
    plain = train("restore", restore_config(dataset, weights_dir, tmp_path / "a", steps=1, val_every=0), progress=False)
    zero = train("restore", restore_config(dataset, weights_dir, tmp_path / "b", steps=1, val_every=0, square_weight=0),
                 progress=False)
    square = read_record(tmp_path / "a" / "last.pt")  # same weights, same draws: the totals differ by the square term
    assert zero.losses[0] < plain.losses[0] and square["step"] == 1
    assert math.isfinite(zero.losses[0])


@pytest.mark.slow
def test_a_checkpoint_of_the_previous_format_resumes(dataset, weights_dir, tmp_path):
    """Written before the recipe fields (max_cpu_seconds, ema_decay, patch_schedule, lr_schedule,
    warmup_steps, cosine_steps, min_lr, square_weight) and cpu_seconds existed: it resumes with
    their defaults, and a changed recipe is still refused."""
    train("restore", restore_config(dataset, weights_dir, tmp_path, steps=4), progress=False)
    record = read_record(tmp_path / "last.pt")
    new_fields = ("max_cpu_seconds", "ema_decay", "patch_schedule", "lr_schedule", "warmup_steps", "cosine_steps",
                  "min_lr", "square_weight")
    record["config"] = {k: v for k, v in record["config"].items() if k not in new_fields}
    del record["cpu_seconds"]
    for key in ("sha256", "checksum"):
        record.pop(key, None)
    save_record(tmp_path / "last.pt", record)
    state = train("restore", restore_config(dataset, weights_dir, tmp_path), resume="auto", progress=False)
    assert state.step == 8
    with pytest.raises(ResumeError, match="ema_decay: 0.0 → 0.5"):
        train("restore", restore_config(dataset, weights_dir, tmp_path, steps=12, ema_decay=0.5), resume="auto",
              progress=False)


@pytest.mark.slow
def test_two_fresh_runs_in_one_process_start_from_the_same_weights(dataset, weights_dir, tmp_path):
    """The initialisation is seeded right before the network is built: preparing the frozen
    decomposition (which may draw from torch's generator the first time) does not move it."""
    first = train("restore", restore_config(dataset, weights_dir, tmp_path / "a", steps=2, val_every=0), progress=False)
    second = train("restore", restore_config(dataset, weights_dir, tmp_path / "b", steps=2, val_every=0), progress=False)
    assert first.losses == second.losses


def test_the_pipeline_term_relights_each_image_as_validation_does(weights_dir):
    """L̂ of every training image is the adjustment net's output at the official LOL ratio of that
    image alone, whatever the sizes batched together."""
    from kind.inference.pipeline import lol_ratio
    from kind.train.stages import adjusted_all

    adjust = load_network(weights_dir / "adjust.pt", "adjust", torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    shapes = [(1, 20, 24), (1, 16, 16), (1, 20, 24)]
    maps = {name: [torch.rand(shape, generator=generator) * 0.9 + 0.05 for shape in shapes] for name in ("L_low", "L_high")}
    for l_low, l_high, got in zip(maps["L_low"], maps["L_high"], adjusted_all(adjust, maps)):
        with torch.no_grad():
            alone = adjust(l_low[None], lol_ratio(l_low[None], l_high[None]))[0]
        torch.testing.assert_close(got, alone)


@pytest.mark.slow
def test_a_pipeline_term_trains_and_is_logged(dataset, weights_dir, tmp_path):
    from kind.train.events import read_scalars

    config = restore_config(dataset, weights_dir, tmp_path, steps=2, val_every=2,
                            adjust_weights=str(weights_dir / "adjust.pt"),
                            extra_losses="[{name: mse, weight: 1, on: pipeline}]")
    state = train("restore", config, progress=False)
    assert state.step == 2 and all(math.isfinite(v) for v in state.losses)
    assert "train/mse@pipeline" in read_scalars(tmp_path)


def test_channel_shuffle_gives_each_patch_one_rgb_order_for_all_its_colour_maps():
    from kind.train.data import PatchDraws
    from kind.train.stages import CHANNEL_ORDERS, restore_batch

    n = 600
    colours = torch.tensor([1.0, 2.0, 3.0])[None, :, None, None].expand(n, 3, 4, 4)
    patches = {"R_low": colours.clone(), "target": 10 * colours, "high": 100 * colours, "L_low": torch.rand(n, 1, 4, 4)}
    coin = torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    draws = PatchDraws(*(torch.zeros(n, dtype=torch.int64) for _ in range(4)), coin)
    off = load_config("restore", None, [])
    assert restore_batch(patches, draws, off) is patches
    batch = restore_batch(patches, draws, load_config("restore", None, ["channel_shuffle=true"]))
    order = batch["R_low"][:, :, 0, 0].long() - 1  # N×3: the source channel of each output channel
    torch.testing.assert_close(batch["target"], 10 * batch["R_low"])
    torch.testing.assert_close(batch["high"], 100 * batch["R_low"])
    assert batch["L_low"] is patches["L_low"]
    seen = {tuple(row) for row in order.tolist()}
    assert seen == {tuple(row) for row in CHANNEL_ORDERS.tolist()}  # all 6 orders, each a permutation
    counts = torch.tensor([sum(tuple(row) == o for row in order.tolist()) for o in seen])
    assert counts.min() > n / 6 * 0.7  # about uniform


@pytest.mark.slow
def test_a_channel_shuffled_run_trains_on_other_batches_and_resumes_exactly(dataset, weights_dir, tmp_path):
    plain = train("restore", restore_config(dataset, weights_dir, tmp_path / "plain"), progress=False)
    straight = train("restore", restore_config(dataset, weights_dir, tmp_path / "a", channel_shuffle="true"), progress=False)
    assert straight.losses != plain.losses and all(math.isfinite(v) for v in straight.losses)
    train("restore", restore_config(dataset, weights_dir, tmp_path / "b", channel_shuffle="true", steps=4), progress=False)
    resumed = train("restore", restore_config(dataset, weights_dir, tmp_path / "b", channel_shuffle="true"),
                    resume="auto", progress=False)
    assert resumed.losses == straight.losses[4:]
