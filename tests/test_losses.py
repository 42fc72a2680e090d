"""Tests for kind.losses: hand-made values, the official TensorFlow formulas, gradients, input checks.

`fixtures/losses_reference.npz` holds inputs and the official TF formulas' outputs, computed once with
TensorFlow 2.21 (tf.nn.conv2d SAME/VALID, tf.image.rgb_to_grayscale, GradientTape) by a throwaway
script outside the project; this file does not import TensorFlow. Keys (arrays NCHW):
  G.input, G.norm_{x,y}, G.raw_{x,y}     gradient() on a 2x1x5x6 tensor
  gray.rgb, gray.gray                    tf.image.rgb_to_grayscale
  <stage>.<case>.in.<name>               float32 inputs of a stage loss
  <stage>.<case>.total / .term.<name>    TF float32 values
  <stage>.<case>.total64 / .term64.<n>   the same formulas in TF float64 (inputs cast up)
  <stage>.<case>.dtotal.<name>           TF float32 d total / d input
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kind import losses
from kind.losses import adjustment_loss, decomposition_loss, gradient, gradient_raw, restoration_loss, rgb_to_gray, ssim

REF = np.load(Path(__file__).parent / "fixtures" / "losses_reference.npz")
STAGES = {  # stage -> (function, input names in call order, prediction inputs)
    "decomposition": (
        decomposition_loss,
        ["low", "high", "R_low", "L_low", "R_high", "L_high"],
        ["R_low", "L_low", "R_high", "L_high"],
    ),
    "adjustment": (adjustment_loss, ["L_pred", "L_target"], ["L_pred"]),
    "restoration": (restoration_loss, ["R_pred", "R_target"], ["R_pred"]),
}
TERMS = {
    "decomposition": {"recon_low", "recon_high", "equal_R", "mutual", "smooth_low", "smooth_high"},
    "adjustment": {"square", "grad"},
    "restoration": {"square", "ssim_loss", "grad"},
}
CASES = [(stage, case) for stage in STAGES for case in (0, 1)]


def ref_inputs(stage, case, dtype=torch.float32):
    _, names, _ = STAGES[stage]
    return {n: torch.from_numpy(REF[f"{stage}.{case}.in.{n}"]).to(dtype) for n in names}


def const(shape, value):
    return torch.full(shape, value, dtype=torch.float64)


def random_inputs(stage, n=2, h=12, w=13, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    channels = {"L_low": 1, "L_high": 1, "L_pred": 1, "L_target": 1}
    _, names, _ = STAGES[stage]
    return {
        name: torch.randn(n, channels.get(name, 3), h, w, generator=gen, dtype=dtype).sigmoid()
        for name in names
    }


# ---------------------------------------------------------------------------------------------------
# gradient operator and grayscale, by hand

RAMP = torch.arange(9.0).reshape(1, 1, 3, 3)  # x[i, j] = 3i + j, zero-extended below and right
RAMP_GX = [[1.0, 1.0, 5.0], [1.0, 1.0, 8.0], [0.0, 0.0, 0.0]]  # |x[i+1,j+1] - x[i+1,j]|
RAMP_GY = [[3.0, 3.0, 0.0], [3.0, 3.0, 0.0], [7.0, 8.0, 0.0]]  # |x[i+1,j+1] - x[i,j+1]|


@pytest.mark.parametrize("direction, expected", [("x", RAMP_GX), ("y", RAMP_GY)])
def test_gradient_by_hand(direction, expected):
    expected = torch.tensor(expected).reshape(1, 1, 3, 3)
    assert torch.equal(gradient_raw(RAMP, direction), expected)
    torch.testing.assert_close(gradient(RAMP, direction), expected / (8.0 + 1e-4))


def test_gradient_normalises_over_the_whole_batch():
    batch = torch.cat([RAMP, 0.5 * RAMP])  # raw max 8 from image 0, 4 from image 1
    g = gradient(batch, "x")
    torch.testing.assert_close(g[1:], gradient_raw(0.5 * RAMP, "x") / (8.0 + 1e-4))
    assert not torch.allclose(g[1:], gradient(0.5 * RAMP, "x"))  # alone, image 1 normalises by 4
    assert gradient(batch, "x").shape == batch.shape


@pytest.mark.parametrize("direction", ["x", "y"])
def test_gradient_matches_tf(direction):
    x = torch.from_numpy(REF["G.input"])
    torch.testing.assert_close(gradient_raw(x, direction), torch.from_numpy(REF[f"G.raw_{direction}"]))
    torch.testing.assert_close(gradient(x, direction), torch.from_numpy(REF[f"G.norm_{direction}"]))


def test_gray_weights():
    eye = torch.eye(3).reshape(3, 3, 1, 1)  # pure R, G, B pixels
    assert rgb_to_gray(eye).flatten().tolist() == pytest.approx([0.2989, 0.587, 0.114])
    expected = torch.from_numpy(REF["gray.gray"])
    torch.testing.assert_close(rgb_to_gray(torch.from_numpy(REF["gray.rgb"])), expected)


# ---------------------------------------------------------------------------------------------------
# the losses on hand-made inputs


def test_identical_prediction_gives_zero():
    L = torch.rand(2, 1, 12, 13, dtype=torch.float64)
    R = torch.rand(2, 3, 12, 13, dtype=torch.float64)
    total, terms = adjustment_loss(L, L.clone())
    assert total.item() == 0.0 and {k: v.item() for k, v in terms.items()} == {"square": 0.0, "grad": 0.0}
    total, terms = restoration_loss(R, R.clone())
    assert terms["square"].item() == 0.0 and terms["grad"].item() == 0.0
    assert terms["ssim_loss"].item() == pytest.approx(0.0, abs=1e-12)


def test_adjustment_constant_images():
    # A constant c has raw G = c on the last column (x) / last row (y) except the corner: 3 + 3 of 16.
    pred, target = const((1, 1, 4, 4), 0.75), const((1, 1, 4, 4), 0.25)
    a, b = 0.75 / (0.75 + 1e-4), 0.25 / (0.25 + 1e-4)
    total, terms = adjustment_loss(pred, target)
    assert terms["square"].item() == pytest.approx(0.25, rel=1e-12)
    assert terms["grad"].item() == pytest.approx(6 * (a - b) ** 2 / 16, rel=1e-12)
    assert total.item() == pytest.approx(0.25 + 6 * (a - b) ** 2 / 16, rel=1e-12)


def test_ssim_of_constant_images():
    # No variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1); C2 cancels.
    a, b, c1 = 0.5, 0.25, 0.01**2
    img1, img2 = const((2, 3, 11, 12), a), const((2, 3, 11, 12), b)
    assert ssim(img1, img2).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-12)


def test_decomposition_exact_reconstruction():
    h, w = 5, 6
    R, L_low, L_high = const((1, 3, h, w), 0.5), const((1, 1, h, w), 0.2), const((1, 1, h, w), 0.8)
    low, high = R * L_low, R * L_high  # exact: R is a power of two
    total, terms = decomposition_loss(low, high, R, L_low, R.clone(), L_high)
    # Constants: normalised G is u = c / (c + 1e-4) on (h-1) positions in x and (w-1) in y, else 0.
    u = lambda c: c / (c + 1e-4)
    s = u(0.2) + u(0.8)
    gray = sum(losses.GRAY_WEIGHTS)
    expected = {
        "recon_low": 0.0,
        "recon_high": 0.0,
        "equal_R": 0.0,
        "mutual": (h - 1 + w - 1) * s * math.exp(-10 * s) / (h * w),
        "smooth_low": (h - 1 + w - 1) * u(0.2) / u(0.1 * gray) / (h * w),
        "smooth_high": (h - 1 + w - 1) * u(0.8) / u(0.4 * gray) / (h * w),
    }
    assert {k: v.item() for k, v in terms.items()} == pytest.approx(expected, rel=1e-12, abs=1e-15)
    weighted = 0.2 * expected["mutual"] + 0.15 * (expected["smooth_low"] + expected["smooth_high"])
    assert total.item() == pytest.approx(weighted, rel=1e-12)


# ---------------------------------------------------------------------------------------------------
# agreement with the official TF formulas


@pytest.mark.parametrize("stage, case", CASES)
def test_matches_tf_float32(stage, case):
    fn, _, preds = STAGES[stage]
    inputs = ref_inputs(stage, case)
    for name in preds:
        inputs[name].requires_grad_(True)
    total, terms = fn(*inputs.values())
    assert set(terms) == TERMS[stage]
    # atol: 1 - SSIM of near-identical images cancels to ~1e-7 in float32 (TF's own float32 value
    # is 6e-5 relative from its float64 one there); everything else agrees to ~2e-7 relative.
    for name, value in terms.items():
        expected = torch.tensor(REF[f"{stage}.{case}.term.{name}"])
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(total, torch.tensor(REF[f"{stage}.{case}.total"]), rtol=1e-5, atol=1e-6)
    total.backward()
    for name in preds:
        expected = torch.from_numpy(REF[f"{stage}.{case}.dtotal.{name}"])
        atol = 1e-5 * expected.abs().max().item()
        torch.testing.assert_close(inputs[name].grad, expected, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("stage, case", CASES)
def test_matches_tf_float64(stage, case):
    fn = STAGES[stage][0]
    total, terms = fn(*ref_inputs(stage, case, torch.float64).values())
    for name, value in terms.items():
        assert value.item() == pytest.approx(REF[f"{stage}.{case}.term64.{name}"], rel=1e-10)
    assert total.item() == pytest.approx(REF[f"{stage}.{case}.total64"], rel=1e-10)


def direct_ssim(img1, img2):
    """tf_ssim written out: a 2-D 11x11 Gaussian window, VALID cross-correlation, per channel."""
    grid = torch.arange(-5, 6, dtype=img1.dtype)
    window = torch.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / (2 * 1.5**2))
    window = (window / window.sum()).expand(img1.shape[1], 1, 11, 11)
    conv = lambda x: F.conv2d(x, window, groups=img1.shape[1])
    c1, c2 = 0.01**2, 0.03**2
    mu1, mu2 = conv(img1), conv(img2)
    s1, s2, s12 = conv(img1 * img1) - mu1**2, conv(img2 * img2) - mu2**2, conv(img1 * img2) - mu1 * mu2
    value = (2 * mu1 * mu2 + c1) * (2 * s12 + c2) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return value.mean(dim=(0, 2, 3)).mean()  # per-channel means, then averaged


@pytest.mark.parametrize("shape", [(1, 3, 11, 11), (2, 3, 17, 14), (3, 1, 12, 20)])
def test_kornia_ssim_equals_direct(shape):
    img1 = torch.rand(shape, dtype=torch.float64)
    img2 = (img1 + 0.1 * torch.randn(shape, dtype=torch.float64)).clamp(0, 1)
    assert ssim(img1, img2).item() == pytest.approx(direct_ssim(img1, img2).item(), rel=1e-12)
    assert ssim(img1.float(), img2.float()).item() == pytest.approx(direct_ssim(img1, img2).item(), rel=1e-5)


# ---------------------------------------------------------------------------------------------------
# gradients, dtypes, modules


@pytest.mark.parametrize("stage", list(STAGES))
def test_backward_reaches_every_prediction(stage):
    fn, _, preds = STAGES[stage]
    inputs = random_inputs(stage, dtype=torch.float32)
    for name in preds:
        inputs[name].requires_grad_(True)
    total, _ = fn(*inputs.values())
    assert total.dim() == 0
    total.backward()
    for name in preds:
        grad = inputs[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


@pytest.mark.parametrize("stage", list(STAGES))
def test_gradcheck_float64(stage):
    fn, names, preds = STAGES[stage]
    inputs = random_inputs(stage, n=1, h=11, w=12, seed=1)
    fixed = {n: inputs[n] for n in names if n not in preds}

    def total_of(*pred_values):
        return fn(**fixed, **dict(zip(preds, pred_values)))[0]

    # fast_mode (random projections) for restoration: its full Jacobian costs ~800 SSIM evaluations.
    fast = stage == "restoration"
    values = tuple(inputs[n].requires_grad_(True) for n in preds)
    assert torch.autograd.gradcheck(total_of, values, fast_mode=fast)


@pytest.mark.parametrize("stage", list(STAGES))
def test_dtypes_follow_inputs(stage):
    fn = STAGES[stage][0]
    inputs = random_inputs(stage, dtype=torch.float32)
    total32, terms32 = fn(*inputs.values())
    assert total32.dtype == torch.float32 and all(v.dtype == torch.float32 for v in terms32.values())
    assert fn(*[x.double() for x in inputs.values()])[0].dtype == torch.float64
    # bf16 network outputs under autocast: computed in float32 from the bf16 values.
    bf16 = [x.bfloat16() for x in inputs.values()]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total_bf16, _ = fn(*bf16)
    assert total_bf16.dtype == torch.float32
    torch.testing.assert_close(total_bf16, fn(*[x.float() for x in bf16])[0])


def test_non_contiguous_inputs():
    inputs = random_inputs("restoration", h=14, w=12, dtype=torch.float32)
    transposed = [x.transpose(2, 3).contiguous().transpose(2, 3) for x in inputs.values()]
    assert not transposed[0].is_contiguous()
    torch.testing.assert_close(restoration_loss(*transposed)[0], restoration_loss(*inputs.values())[0])


@pytest.mark.parametrize(
    "module, stage",
    [
        (losses.DecompositionLoss, "decomposition"),
        (losses.AdjustmentLoss, "adjustment"),
        (losses.RestorationLoss, "restoration"),
    ],
)
def test_module_equals_function(module, stage):
    inputs = random_inputs(stage)
    total_m, terms_m = module()(*inputs.values())
    total_f, terms_f = STAGES[stage][0](*inputs.values())
    assert torch.equal(total_m, total_f) and terms_m.keys() == terms_f.keys()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("stage", list(STAGES))
def test_cuda_autocast_bf16(stage):
    fn, _, preds = STAGES[stage]
    inputs = {n: x.cuda() for n, x in random_inputs(stage, h=32, w=30, dtype=torch.float32).items()}
    for name in preds:
        inputs[name] = inputs[name].bfloat16().float().requires_grad_(True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        total, terms = fn(**{n: x.bfloat16() if n in preds else x for n, x in inputs.items()})
    assert total.dtype == torch.float32 and total.device.type == "cuda"
    total.backward()
    expected, _ = fn(**{n: x.detach().cpu() for n, x in inputs.items()})
    torch.testing.assert_close(total.cpu(), expected, rtol=1e-5, atol=1e-6)
    assert all(torch.isfinite(inputs[n].grad).all() for n in preds)


# ---------------------------------------------------------------------------------------------------
# input validation

IMG = torch.rand(1, 3, 12, 12)
ONE = torch.rand(1, 1, 12, 12)
IMG11, ONE11 = IMG[..., :11], ONE[..., :11]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: adjustment_loss(ONE.numpy(), ONE), TypeError, "L_pred: expected a torch.Tensor"),
        (lambda: adjustment_loss(ONE, (ONE * 255).long()), TypeError, "L_target: expected a floating-point"),
        (lambda: adjustment_loss(ONE[0], ONE), ValueError, r"L_pred: expected a 4-D .* \(1, 12, 12\)"),
        (lambda: adjustment_loss(IMG, IMG), ValueError, r"L_pred: expected 1 channel\(s\)"),
        (lambda: adjustment_loss(ONE, ONE[..., :10]), ValueError, "expected the same shape"),
        (lambda: restoration_loss(IMG, ONE), ValueError, r"R_target: expected 3 channel\(s\)"),
        (lambda: restoration_loss(IMG[..., :10], IMG[..., :10]), ValueError, "H and W >= 11"),
        (lambda: ssim(IMG[:, :, :10], IMG[:, :, :10]), ValueError, "H and W >= 11"),
        (lambda: decomposition_loss(IMG, IMG, IMG, IMG, IMG, ONE), ValueError, r"L_low: expected 1 channel"),
        (lambda: decomposition_loss(IMG, IMG, IMG, ONE11, IMG, ONE), ValueError, "low and L_low: .* same batch"),
        (lambda: decomposition_loss(IMG, IMG11, IMG, ONE, IMG, ONE), ValueError, "low and high: .* same shape"),
        (lambda: gradient(ONE, "z"), ValueError, "direction: expected 'x' or 'y'"),
        (lambda: rgb_to_gray(ONE), ValueError, r"rgb: expected 3 channel\(s\)"),
    ],
)
def test_invalid_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()
