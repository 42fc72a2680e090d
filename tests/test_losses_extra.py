"""extra_losses in stage configs: check_extra_losses (normalisation, rejections) and ExtraLosses
(weighted sum, named terms, discriminator steps, state round trip, no cost when empty)."""

import pytest
import torch
import yaml

from kind import losses
from kind.losses import EXTRA_TARGETS, EXTRA_TERMS, ExtraLosses, check_extra_losses


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A torchvision-format VGG-16 state dict with random weights (all 13 convolutions)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(losses.VGGFeatures("vgg16", ["pool5"]).state_dict(), path)
    return str(path)


def batch(channels=3, n=2, side=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, side, side, generator=gen), torch.rand(n, channels, side, side, generator=gen)


# ---------------------------------------------------------------------------------------------------
# check_extra_losses


def test_fills_defaults_and_is_idempotent():
    specs = [
        {"name": "color_angle", "weight": 0.1, "on": "restored"},
        {"name": "smooth_l1", "weight": 1, "on": "product", "beta": 0.5},
        {"name": "adversarial", "weight": "1e-3", "on": "restored", "d_lr": "2e-4"},  # PyYAML's 1e-3 is a str
    ]
    checked = check_extra_losses(specs, "restore")
    assert checked == [
        {"name": "color_angle", "weight": 0.1, "on": "restored"},
        {"name": "smooth_l1", "weight": 1.0, "on": "product", "beta": 0.5},
        {"name": "adversarial", "weight": 0.001, "on": "restored", "mode": "lsgan", "d_lr": 0.0002},
    ]
    assert check_extra_losses(checked, "restore") == checked
    assert check_extra_losses(yaml.safe_load(yaml.safe_dump(checked)), "restore") == checked


def test_yaml_as_set_takes_it():
    value = yaml.safe_load("[{name: color_angle, weight: 0.1, on: restored}, {name: region, weight: 0.5, on: restored}]")
    assert value[0] == {"name": "color_angle", "weight": 0.1, True: "restored"}  # YAML 1.1: on is true
    checked = check_extra_losses(value, "restore", "--set extra_losses=...")
    assert [s["name"] for s in checked] == ["color_angle", "region"]
    assert checked[1] == {"name": "region", "weight": 0.5, "on": "restored", "fraction": 0.4, "w_dark": 4.0, "w_rest": 1.0, "mask_from": "pred"}


def test_every_term_has_defaults_for_all_but_the_weights_file(vgg16_file):
    for stage, targets in EXTRA_TARGETS.items():
        for name, term in EXTRA_TERMS.items():
            fitting = [on for on, channels in targets.items() if term.channels in (None, channels)]
            for on in fitting:
                spec = {"name": name, "weight": 1.0, "on": on} | ({"weights": vgg16_file} if name == "perceptual" else {})
                assert check_extra_losses([spec], stage)[0].keys() == {"name", "weight", "on", *term.params}


def test_none_and_empty():
    assert check_extra_losses(None, "decom") == [] and check_extra_losses([], "adjust") == []


@pytest.mark.parametrize(
    "stage, specs, match",
    [
        ("restore", {"name": "l1"}, r"extra_losses: expected a list of \{name, weight, on, ...\} mappings, got dict"),
        ("restore", ["l1"], r"extra_losses\[0\]: expected a mapping"),
        ("restore", [{"weight": 1, "on": "restored"}], r"extra_losses\[0\]: name is missing; expected one of \['adversarial', 'blur_color'"),
        ("restore", [{"name": "colour", "weight": 1, "on": "restored"}], r"\[0\]: unknown name 'colour'; expected one of .*'color_angle'"),
        ("restore", [{"name": "l1", "on": "restored"}], r"\[0\] \(l1\): weight is missing"),
        ("restore", [{"name": "l1", "weight": -1, "on": "restored"}], r"\[0\] \(l1\): weight: expected a finite number >= 0, got -1"),
        ("restore", [{"name": "l1", "weight": True, "on": "restored"}], r"weight: expected a number, got bool"),
        ("restore", [{"name": "l1", "weight": 1}], r"\[0\] \(l1\): on is missing; expected one of \['pipeline', 'product', 'restored'\]"),
        ("decom", [{"name": "l1", "weight": 1, "on": "restored"}], r"on 'restored' is not an output of decom; expected one of \['R_high', 'R_low', 'recon_high', 'recon_low'\]"),
        ("adjust", [{"name": "color_angle", "weight": 1, "on": "adjusted"}], r"color_angle needs 3-channel images, but adjusted has 1; adjust has no 3-channel output"),
        ("adjust", [{"name": "perceptual", "weight": 1, "on": "adjusted", "weights": "x.pth"}], r"perceptual needs 3-channel"),
        ("restore", [{"name": "smooth_l1", "weight": 1, "on": "restored", "bta": 1}], r"unknown parameters \['bta'\]; smooth_l1 takes \['beta'\]"),
        ("restore", [{"name": "l1", "weight": 1, "on": "restored", "beta": 1}], r"unknown parameters \['beta'\]; l1 takes none"),
        ("restore", [{"name": "huber", "weight": 1, "on": "restored", "delta": "big"}], r"\(huber\): delta: expected a number, got str 'big'"),
        ("restore", [{"name": "huber", "weight": 1, "on": "restored", "delta": 0}], r"delta: expected a finite number > 0, got 0"),
        ("restore", [{"name": "ms_ssim", "weight": 1, "on": "restored", "scales": 2.5}], r"scales: expected an int, got float"),
        ("restore", [{"name": "ms_ssim", "weight": 1, "on": "restored", "scales": 7}], r"scales: expected an int >= 1 and <= 5, got 7"),
        ("restore", [{"name": "region", "weight": 1, "on": "restored", "fraction": 1.2}], r"fraction: expected a number <= 1, got 1.2"),
        ("restore", [{"name": "region", "weight": 1, "on": "restored", "mask_from": "input"}], r"mask_from: expected one of \['pred', 'target'\]"),
        ("restore", [{"name": "adversarial", "weight": 1, "on": "restored", "mode": "wgan"}], r"mode: expected one of \['lsgan', 'bce'\], got 'wgan'"),
        ("restore", [{"name": "laplacian", "weight": 1, "on": "restored", "levels": 0}], r"levels: expected an int >= 1, got 0"),
        ("restore", [{"name": "perceptual", "weight": 1, "on": "restored"}], r"\(perceptual\): weights is required"),
        ("restore", [{"name": "perceptual", "weight": 1, "on": "restored", "weights": "/no/vgg.pth"}], r"\(perceptual\): weights: /no/vgg.pth: no such VGG weights file"),
        ("restore", [{"name": "perceptual", "weight": 1, "on": "restored", "weights": 3}], r"weights: expected a file path, got int"),
        ("restore", [{"name": "perceptual", "weight": 1, "on": "restored", "weights": "x", "layers": []}], r"layers: expected a layer name or a non-empty list"),
        (
            "restore",
            [{"name": "l1", "weight": 1, "on": "restored"}, {"name": "l1", "weight": 2, "on": "restored"}],
            r"extra_losses\[1\] \(l1\): l1@restored is already extra_losses\[0\]",
        ),
        ("train", [], r"unknown stage 'train', expected one of \['adjust', 'decom', 'restore'\]"),
    ],
)
def test_rejections(stage, specs, match):
    with pytest.raises(ValueError, match=match):
        check_extra_losses(specs, stage)


def test_perceptual_layers_are_checked_against_the_weights(vgg16_file):
    spec = {"name": "perceptual", "weight": 1, "on": "restored", "weights": vgg16_file, "layers": "relu3_3"}
    assert check_extra_losses([spec], "restore")[0]["layers"] == ["relu3_3"]
    with pytest.raises(ValueError, match=r"\(perceptual\): layers: \['relu5_4'\] are not vgg16 layers"):
        check_extra_losses([spec | {"layers": ["relu5_4"]}], "restore")


def test_origin_names_the_source():
    with pytest.raises(ValueError, match=r"^configs/x.yaml: extra_losses\[0\] \(l1\): weight is missing"):
        check_extra_losses([{"name": "l1", "on": "adjusted"}], "adjust", "configs/x.yaml: extra_losses")


# ---------------------------------------------------------------------------------------------------
# ExtraLosses


def test_empty_costs_nothing_and_changes_nothing():
    rng = torch.get_rng_state()
    extra = ExtraLosses([], "restore")
    assert len(extra) == 0 and extra.targets == frozenset() and not list(extra.parameters())
    total, terms = extra({})
    assert total.item() == 0.0 and terms == {}
    assert extra.discriminator_step({}) == {} and extra.state_dict() == {}
    assert torch.equal(torch.get_rng_state(), rng)


def test_weighted_sum_and_named_terms():
    specs = [
        {"name": "l1", "weight": 0.5, "on": "restored"},
        {"name": "color_angle", "weight": 0.1, "on": "product"},
        {"name": "ms_ssim", "weight": 2.0, "on": "restored", "scales": 1},
    ]
    extra = ExtraLosses(specs, "restore")
    assert extra.targets == {"restored", "product"} and len(extra) == 3
    (pred, target), (pred2, target2) = batch(seed=1), batch(seed=2)
    pred.requires_grad_(True)
    total, terms = extra({"restored": (pred, target), "product": (pred2, target2)})
    assert list(terms) == ["l1@restored", "color_angle@product", "ms_ssim@restored"]
    torch.testing.assert_close(terms["l1@restored"], losses.l1(pred, target))
    torch.testing.assert_close(terms["color_angle@product"], losses.color_angle(pred2, target2))
    torch.testing.assert_close(terms["ms_ssim@restored"], losses.ms_ssim_loss(pred, target, scales=1))
    torch.testing.assert_close(total, 0.5 * terms["l1@restored"] + 0.1 * terms["color_angle@product"] + 2.0 * terms["ms_ssim@restored"])
    total.backward()
    assert pred.grad.abs().sum() > 0


@pytest.mark.parametrize("stage", list(EXTRA_TARGETS))
def test_every_term_on_every_output(stage, vgg16_file):
    """Each stage with every term that fits it, the outputs taken in turn: one forward, finite, a
    gradient to every output, a discriminator step."""
    targets = EXTRA_TARGETS[stage]
    specs = []
    for i, (name, term) in enumerate(EXTRA_TERMS.items()):
        fitting = [on for on, channels in targets.items() if term.channels in (None, channels)]
        if fitting:
            specs.append(
                {"name": name, "weight": 1.0, "on": fitting[i % len(fitting)]}
                | ({"weights": vgg16_file, "layers": ["relu1_2"]} if name == "perceptual" else {})
                | ({"levels": 2} if name in ("laplacian", "color_angle_pyramid") else {})
            )
    extra = ExtraLosses(specs, stage)
    outputs = {}
    for i, (on, channels) in enumerate(targets.items()):
        pred, target = batch(channels, seed=i)
        outputs[on] = (pred.requires_grad_(True), target)
    with pytest.warns(UserWarning, match="fit 2 of 5 scales"):  # 24 x 24 patches
        total, terms = extra(outputs)
    assert len(terms) == len(specs) and all(torch.isfinite(v) for v in terms.values())
    total.backward()
    assert all(pred.grad is not None and pred.grad.abs().sum() > 0 for pred, _ in outputs.values())
    d_losses = extra.discriminator_step(outputs)
    assert [key.split("/")[0] for key in d_losses] == [f"adversarial@{s['on']}" for s in specs if s["name"] == "adversarial"]


def test_missing_outputs_are_named():
    extra = ExtraLosses([{"name": "l1", "weight": 1, "on": "R_low"}, {"name": "l1", "weight": 1, "on": "recon_high"}], "decom")
    with pytest.raises(ValueError, match=r"outputs \['recon_high'\] are needed \(given: \['R_low'\]\)"):
        extra({"R_low": batch()})


ADVERSARIAL = [{"name": "adversarial", "weight": 0.01, "on": "adjusted", "d_lr": 1e-3}, {"name": "l1", "weight": 1, "on": "adjusted"}]


def test_discriminator_step_trains_only_the_discriminator():
    extra = ExtraLosses(ADVERSARIAL, "adjust")
    pred, target = batch(1)
    pred.requires_grad_(True)
    total, terms = extra({"adjusted": (pred, target)})
    total.backward()
    assert all(p.grad is None for p in extra.parameters())
    before = [p.clone() for p in extra.parameters()]
    d_losses = extra.discriminator_step({"adjusted": (pred, target)})
    assert list(d_losses) == ["adversarial@adjusted/discriminator"] and d_losses["adversarial@adjusted/discriminator"].dim() == 0
    assert all(not torch.equal(a, b) for a, b in zip(before, extra.parameters()))


def test_seeded_and_leaves_the_global_rng_alone():
    rng = torch.get_rng_state()
    a, b = ExtraLosses(ADVERSARIAL, "adjust", seed=3), ExtraLosses(ADVERSARIAL, "adjust", seed=3)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = ExtraLosses(ADVERSARIAL, "adjust", seed=4)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_state_dict_round_trip_resumes_exactly(tmp_path):
    outputs = [{"adjusted": batch(1, seed=s)} for s in range(3)]
    run = ExtraLosses(ADVERSARIAL, "adjust")
    for step in outputs[:2]:
        run.discriminator_step(step)
    torch.save(run.state_dict(), tmp_path / "extra.pt")
    resumed = ExtraLosses(ADVERSARIAL, "adjust", seed=99)  # a different init: everything must come from the file
    resumed.load_state_dict(torch.load(tmp_path / "extra.pt", weights_only=True))
    assert resumed.discriminator_step(outputs[2]) == run.discriminator_step(outputs[2])
    assert all(torch.equal(p, q) for p, q in zip(run.parameters(), resumed.parameters()))
    assert torch.equal(resumed(outputs[0])[0], run(outputs[0])[0])


def test_load_state_dict_rejects_other_terms():
    extra = ExtraLosses(ADVERSARIAL, "adjust")
    with pytest.raises(ValueError, match=r"holds discriminators for \[\], the config has \['adversarial@adjusted'\]"):
        extra.load_state_dict({})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_autocast(vgg16_file):
    """On the GPU under bf16 autocast (the training loop's setting): float32 terms on the device, the
    pixel terms equal to float32 CPU values of the same bf16 inputs, a discriminator step."""
    specs = [
        {"name": "l1", "weight": 1.0, "on": "restored"},
        {"name": "color_angle", "weight": 0.1, "on": "restored"},
        {"name": "ms_ssim", "weight": 1.0, "on": "product"},
        {"name": "perceptual", "weight": 0.01, "on": "product", "weights": vgg16_file, "layers": ["relu2_2"]},
        {"name": "adversarial", "weight": 0.01, "on": "restored", "mode": "bce"},
    ]
    extra = ExtraLosses(specs, "restore").cuda()
    pairs = {on: tuple(x.cuda().bfloat16() for x in batch(seed=i, side=48)) for i, on in enumerate(("restored", "product"))}
    pred = pairs["restored"][0].float().requires_grad_(True)
    outputs = {"restored": (pred.bfloat16(), pairs["restored"][1]), "product": pairs["product"]}
    with torch.autocast("cuda", dtype=torch.bfloat16), pytest.warns(UserWarning, match="fit 3 of 5 scales"):
        total, terms = extra(outputs)
    assert total.dtype == torch.float32 and total.device.type == "cuda"
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in terms.values())
    total.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    cpu = {on: tuple(x.detach().float().cpu() for x in pair) for on, pair in outputs.items()}
    torch.testing.assert_close(terms["l1@restored"].cpu(), losses.l1(*cpu["restored"]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["color_angle@restored"].cpu(), losses.color_angle(*cpu["restored"]), rtol=1e-4, atol=1e-5)
    d_losses = extra.discriminator_step(outputs)
    assert d_losses["adversarial@restored/discriminator"].device.type == "cuda"
