"""The three networks: shapes for any size, batching, parameter counts, gradients."""

import pytest
import torch

from kind.models import DecomNet, IllumAdjustNet, RestorationNet, build_network, ratio_plane

SIZES = [(1, 1), (2, 3), (5, 7), (16, 16), (33, 18)]


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {name: build_network(name).eval() for name in ("decom", "restore", "adjust")}


@pytest.mark.parametrize("height,width", SIZES)
def test_shapes_for_any_size(nets, height, width):
    x = torch.rand(1, 3, height, width)
    with torch.no_grad():
        reflectance, illumination = nets["decom"](x)
        restored = nets["restore"](reflectance, illumination)
        adjusted = nets["adjust"](illumination, 2.0)
    assert reflectance.shape == (1, 3, height, width)
    assert illumination.shape == (1, 1, height, width)
    assert restored.shape == (1, 3, height, width)
    assert adjusted.shape == (1, 1, height, width)
    for out in (reflectance, illumination, restored, adjusted):
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_batch_of_two_equals_two_singles(nets):
    x = torch.rand(2, 3, 21, 30)
    ratio = torch.tensor([1.5, 4.0])
    with torch.no_grad():
        reflectance, illumination = nets["decom"](x)
        restored = nets["restore"](reflectance, illumination)
        adjusted = nets["adjust"](illumination, ratio)
        for i in range(2):
            r_i, l_i = nets["decom"](x[i : i + 1])
            torch.testing.assert_close(r_i, reflectance[i : i + 1], atol=1e-6, rtol=0)
            torch.testing.assert_close(l_i, illumination[i : i + 1], atol=1e-6, rtol=0)
            torch.testing.assert_close(nets["restore"](r_i, l_i), restored[i : i + 1], atol=1e-6, rtol=0)
            torch.testing.assert_close(nets["adjust"](l_i, float(ratio[i])), adjusted[i : i + 1], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "name,count", [("decom", 235_876), ("restore", 7_760_739), ("adjust", 19_393)]
)
def test_parameter_counts(name, count):
    assert sum(p.numel() for p in build_network(name).parameters()) == count


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(1)
    x = torch.rand(2, 3, 19, 22)
    decom, restore, adjust = DecomNet(), RestorationNet(), IllumAdjustNet()
    reflectance, illumination = decom(x)
    loss = restore(reflectance, illumination).mean() + adjust(illumination, 3.0).mean()
    loss = loss + reflectance.mean() + illumination.mean()
    loss.backward()
    for model in (decom, restore, adjust):
        for name, param in model.named_parameters():
            assert param.grad is not None, name
            assert torch.isfinite(param.grad).all(), name
            assert param.grad.abs().sum() > 0, name


def test_ratio_forms_agree(nets):
    illumination = torch.rand(2, 1, 9, 11)
    plane = torch.full((2, 1, 9, 11), 2.5)
    with torch.no_grad():
        by_float = nets["adjust"](illumination, 2.5)
        by_vector = nets["adjust"](illumination, torch.tensor([2.5, 2.5]))
        by_plane = nets["adjust"](illumination, plane)
    assert torch.equal(by_float, by_vector) and torch.equal(by_float, by_plane)


def test_ratio_plane_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="ratio: expected"):
        ratio_plane(torch.ones(3), torch.zeros(2, 1, 4, 4))


@pytest.mark.parametrize(
    "bad,match",
    [(torch.rand(3, 8, 8), "expected N×3×H×W"), (torch.rand(1, 4, 8, 8), "expected N×3×H×W")],
)
def test_input_checks(nets, bad, match):
    with pytest.raises(ValueError, match=match):
        nets["decom"](bad)


def test_integer_input_is_rejected(nets):
    with pytest.raises(TypeError, match="floating-point"):
        nets["decom"](torch.zeros(1, 3, 4, 4, dtype=torch.uint8))


def test_channels_last_gives_the_same_outputs(nets):
    x = torch.rand(1, 3, 26, 35)
    with torch.no_grad():
        reference = nets["restore"](*nets["decom"](x))
        fast = nets["restore"](*nets["decom"](x.contiguous(memory_format=torch.channels_last)))
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=0)
