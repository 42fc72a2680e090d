"""Tests of kind.metrics: hand-made values, independent references, pinned LOL eval15 numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from kind import metrics
from kind.metrics import common, lightness_order, loe, psnr, psnr_torch, ssim, ssim_torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EVAL15 = SHARED / "data" / "lol" / "eval15"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _const(value: int, shape=(16, 20, 3)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


def _ssim_direct(x1: np.ndarray, x2: np.ndarray) -> float:
    """Reference SSIM of HxWxC float64 arrays: explicit 11x11 windows, no separable filtering."""
    t = np.arange(11) - 5.0
    g = np.exp(-t * t / (2 * 1.5**2))
    win = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    out = []
    for c in range(x1.shape[2]):
        p1 = np.lib.stride_tricks.sliding_window_view(x1[:, :, c], (11, 11))
        p2 = np.lib.stride_tricks.sliding_window_view(x2[:, :, c], (11, 11))
        m1 = (p1 * win).sum(axis=(2, 3))
        m2 = (p2 * win).sum(axis=(2, 3))
        v1 = (p1 * p1 * win).sum(axis=(2, 3)) - m1 * m1
        v2 = (p2 * p2 * win).sum(axis=(2, 3)) - m2 * m2
        v12 = (p1 * p2 * win).sum(axis=(2, 3)) - m1 * m2
        s = ((2 * m1 * m2 + c1) * (2 * v12 + c2)) / ((m1**2 + m2**2 + c1) * (v1 + v2 + c2))
        out.append(s.mean())
    return float(np.mean(out))


class TestPsnr:
    @pytest.mark.parametrize(
        "a, b, expected",
        [
            (100, 105, 20 * math.log10(255 / 5)),  # constant offset d: MSE = d^2
            (0, 255, 0.0),  # MSE = 255^2
            (7, 6, 20 * math.log10(255)),  # d = 1: 48.1308 dB
        ],
    )
    def test_constant_offset(self, a, b, expected):
        assert psnr(_const(a), _const(b)) == pytest.approx(expected, abs=1e-12)

    def test_identical_is_inf(self, rng):
        img = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
        assert psnr(img, img) == math.inf

    def test_half_pixels_differ(self):
        a, b = _const(50), _const(50)
        b[:, :10] = 60  # half the pixels off by 10: MSE = 50
        assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 50), abs=1e-12)

    def test_crop_border_removes_frame(self):
        a, b = _const(80), _const(80)
        b[:2], b[-2:], b[:, :2], b[:, -2:] = 0, 0, 0, 0
        assert psnr(a, b, crop_border=2) == math.inf
        assert psnr(a, b, crop_border=1) < 20

    def test_y_channel_of_gray(self):
        # grey v: Y = 16 + v * 219 / 255 (the weights sum to 219); Y difference = 10 * 219 / 255
        y_diff = 10 * 219 / 255
        expected = 20 * math.log10(255 / y_diff)
        assert psnr(_const(120), _const(130), y_channel=True) == pytest.approx(expected, abs=1e-4)
        assert psnr(_const(120), _const(130)) == pytest.approx(20 * math.log10(25.5), abs=1e-12)

    def test_y_channel_values(self):
        img = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
        y = common.rgb_to_y(img)
        np.testing.assert_allclose(y[0], [16 + 65.481, 16 + 128.553, 16 + 24.966, 235.0], atol=2e-5)

    def test_grayscale_2d(self):
        assert psnr(_const(10, (12, 12)), _const(12, (12, 12))) == pytest.approx(20 * math.log10(127.5))

    def test_matches_skimage(self, rng):
        skm = pytest.importorskip("skimage.metrics")
        a = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
        b = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
        assert psnr(a, b) == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)

    @pytest.mark.parametrize(
        "img1, img2, kwargs, exc, match",
        [
            (np.zeros((8, 8, 3), np.float32), _const(0, (8, 8, 3)), {}, TypeError, "expected dtype uint8"),
            ([[0]], _const(0, (8, 8)), {}, TypeError, "expected a numpy.ndarray"),
            (_const(0, (8, 8, 3)), _const(0, (8, 9, 3)), {}, ValueError, "expected the same shape"),
            (_const(0, (2, 8, 8, 3)), _const(0, (2, 8, 8, 3)), {}, ValueError, "HxW or HxWxC"),
            (_const(0, (8, 8, 3)), _const(0, (8, 8, 3)), {"crop_border": 4}, ValueError, "less than half"),
            (_const(0, (8, 8, 3)), _const(0, (8, 8, 3)), {"crop_border": -1}, ValueError, ">= 0"),
            (_const(0, (8, 8, 3)), _const(0, (8, 8, 3)), {"crop_border": 1.0}, TypeError, "expected an int"),
            (_const(0, (8, 8)), _const(0, (8, 8)), {"y_channel": True}, ValueError, "3 \\(RGB\\) channels"),
        ],
    )
    def test_exceptions(self, img1, img2, kwargs, exc, match):
        with pytest.raises(exc, match=match):
            psnr(img1, img2, **kwargs)


class TestSsim:
    def test_identical_is_one(self, rng):
        img = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)

    @pytest.mark.parametrize("a, b", [(100, 110), (0, 255), (30, 30)])
    def test_constant_images(self, a, b):
        # no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
        c1 = (0.01 * 255) ** 2
        expected = (2 * a * b + c1) / (a * a + b * b + c1)
        assert ssim(_const(a), _const(b)) == pytest.approx(expected, abs=1e-9)

    def test_matches_direct_2d_window(self, rng):
        a = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
        expected = _ssim_direct(a.astype(np.float64), b.astype(np.float64))
        assert ssim(a, b) == pytest.approx(expected, abs=1e-12)

    def test_matches_skimage(self, rng):
        skm = pytest.importorskip("skimage.metrics")
        a = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-60, 61, a.shape), 0, 255).astype(np.uint8)
        # skimage filters the whole image but averages only the map cropped by (11-1)/2: the valid region
        expected = skm.structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
            channel_axis=2,
        )
        assert ssim(a, b) == pytest.approx(expected, abs=1e-10)

    def test_crop_border(self, rng):
        a = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)
        b = a.copy()
        b[:3] = 0
        assert ssim(a, b, crop_border=3) == pytest.approx(1.0, abs=1e-12)
        assert ssim(a, b) < 0.999
        assert ssim(a, b, crop_border=3) == pytest.approx(ssim(a[3:-3, 3:-3], b[3:-3, 3:-3]), abs=0)

    def test_y_channel_of_gray(self):
        c1 = (0.01 * 255) ** 2
        ya, yb = 16 + 120 * 219 / 255, 16 + 130 * 219 / 255
        expected = (2 * ya * yb + c1) / (ya * ya + yb * yb + c1)
        assert ssim(_const(120), _const(130), y_channel=True) == pytest.approx(expected, abs=1e-7)

    def test_too_small(self):
        with pytest.raises(ValueError, match=">= 11 after cropping"):
            ssim(_const(0, (12, 12, 3)), _const(0, (12, 12, 3)), crop_border=1)


def _saved_uint8(x: torch.Tensor) -> np.ndarray:
    """The official save of NCHW float32 in [0,1]: uint8(clip(x*255, 0, 255)) in float32, NHWC."""
    return np.clip(x.permute(0, 2, 3, 1).numpy() * 255, 0, 255).astype(np.uint8)


class TestTorch:
    @pytest.fixture
    def batch(self):
        g = torch.Generator().manual_seed(0)
        pred = torch.rand(3, 3, 16, 21, generator=g) * 1.1 - 0.05  # some values outside [0, 1]
        target = torch.rand(3, 3, 16, 21, generator=g)
        pred[0, 0, 0, :12] = torch.arange(12) / 255.0  # values at k/255 where truncation is touchy
        pred[2] = target[2]  # an identical pair
        return pred, target

    def test_quantized_equals_numpy(self, batch):
        pred, target = batch
        p8, t8 = _saved_uint8(pred), _saved_uint8(target)
        ps, ss = psnr_torch(pred, target), ssim_torch(pred, target)
        assert ps.shape == (3,) and ss.shape == (3,)
        for i in range(3):
            assert ps[i].item() == pytest.approx(psnr(p8[i], t8[i]), abs=1e-6)
            assert ss[i].item() == pytest.approx(ssim(p8[i], t8[i]), abs=1e-6)
        assert math.isinf(ps[2].item()) and ss[2].item() == pytest.approx(1.0, abs=1e-12)

    def test_unquantized(self, batch):
        pred, target = batch
        pred = pred.clamp(0, 1)
        mse = ((pred.double() - target.double()) ** 2).mean(dim=(1, 2, 3))
        expected = 10 * torch.log10(1 / mse)
        torch.testing.assert_close(psnr_torch(pred, target, quantize=False), expected)
        # data_range only rescales
        torch.testing.assert_close(
            ssim_torch(pred * 2, target * 2, data_range=2.0, quantize=False),
            ssim_torch(pred, target, quantize=False),
        )

    def test_gradient_unquantized(self, batch):
        pred, target = batch
        pred = pred.clamp(0, 1).double().requires_grad_()
        ssim_torch(pred, target.double(), quantize=False).sum().backward()
        assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0

    def test_non_contiguous_and_gray(self, batch):
        pred, target = batch
        p, t = pred.transpose(2, 3), target.transpose(2, 3)  # NCWH views, not contiguous
        torch.testing.assert_close(ssim_torch(p, t), ssim_torch(p.contiguous(), t.contiguous()))
        assert ssim_torch(pred[:, :1], target[:, :1]).shape == (3,)

    @pytest.mark.parametrize(
        "pred, target, exc, match",
        [
            (torch.zeros(3, 16, 16), torch.zeros(3, 16, 16), ValueError, "expected NxCxHxW"),
            (torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 17), ValueError, "same shape"),
            (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.zeros(1, 3, 16, 16), TypeError, "floating"),
            (np.zeros((1, 3, 16, 16)), torch.zeros(1, 3, 16, 16), TypeError, "torch.Tensor"),
        ],
    )
    def test_exceptions(self, pred, target, exc, match):
        for fn in (psnr_torch, ssim_torch):
            with pytest.raises(exc, match=match):
                fn(pred, target)

    def test_ssim_too_small(self):
        with pytest.raises(ValueError, match=">= 11"):
            ssim_torch(torch.zeros(1, 3, 10, 16), torch.zeros(1, 3, 10, 16))


def _loe_brute_force(light_in: np.ndarray, light_out: np.ndarray) -> float:
    """NPE loe.m's double loop over grid pixels, on already down-sampled lightness maps."""
    rd = np.zeros(light_in.shape)
    for i in range(light_in.shape[0]):
        for j in range(light_in.shape[1]):
            e = (light_in[i, j] >= light_in) ^ (light_out[i, j] >= light_out)
            rd[i, j] = e.sum()
    return rd.mean()


class TestLoe:
    def test_identical_is_zero(self, rng):
        img = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
        assert loe(img, img) == 0.0

    def test_gamma_brightening_is_zero(self, rng):
        # smaller side 50: the grid is the image itself, so a strictly increasing map keeps every order
        lut = np.round(255 * (np.arange(256) / 255) ** 0.5).astype(np.uint8)
        assert np.all(np.diff(lut[:61].astype(int)) > 0)
        img = rng.integers(0, 61, (50, 64, 3), dtype=np.uint8)
        assert loe(img, lut[img]) == 0.0

    def test_inverted_image(self):
        # halves 0 and 200 -> 255 and 55: every pair of unequal pixels flips, 1250 per pixel
        img = np.zeros((50, 50, 3), np.uint8)
        img[:, 25:] = 200
        assert loe(img, 255 - img) == 1250.0

    def test_lightness_is_max_rgb(self):
        a = np.zeros((50, 50, 3), np.uint8)
        a[:, 25:, 1] = 200  # only green changes; max(R, G, B) sees it
        b = a[:, :, [1, 0, 2]]  # the same lightness through another channel
        assert loe(a, b) == 0.0

    def test_matches_brute_force_loop(self, rng):
        small = rng.integers(0, 256, (50, 57), dtype=np.uint8)
        other = rng.integers(0, 256, (50, 57), dtype=np.uint8)
        assert loe(small, other) == pytest.approx(_loe_brute_force(small, other), abs=1e-12)
        # through the resize: a 7x9 image becomes 50x64 (MATLAB round(9 * 50 / 7) = 64)
        a = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
        b = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
        la = common.imresize_matlab(a.max(axis=2), (50, 64))
        lb = common.imresize_matlab(b.max(axis=2), (50, 64))
        assert loe(a, b) == pytest.approx(_loe_brute_force(la, lb), abs=1e-9)

    @pytest.mark.parametrize(
        "hw, grid", [((400, 600), (50, 75)), ((600, 400), (75, 50)), ((101, 203), (50, 100))]
    )
    def test_grid_size(self, hw, grid):
        # 203 * 50 / 101 = 100.495 -> 100; MATLAB rounds halves away from zero (not to even)
        assert lightness_order._loe_grid_size(*hw) == grid
        assert lightness_order._loe_grid_size(100, 125) == (50, 63)  # 62.5 -> 63

    def test_imresize_interior_matches_pillow_bicubic(self, rng):
        # same kernel (Keys a=-0.5, widened when shrinking) and pixel-centre mapping as Pillow; only the
        # border handling differs (MATLAB mirrors, Pillow renormalises), so compare the interior
        x = rng.uniform(0, 255, (160, 240))
        for out in [(20, 30), (17, 41), (300, 200)]:
            ours = common.imresize_matlab(x, out, to_uint8=False)
            pil = Image.fromarray(x.astype(np.float32), "F").resize((out[1], out[0]), Image.BICUBIC)
            pil = np.asarray(pil, dtype=np.float64)
            mh = 2 + math.ceil(2 * max(1.0, out[0] / 160))  # output pixels whose taps reach the border
            mw = 2 + math.ceil(2 * max(1.0, out[1] / 240))
            np.testing.assert_allclose(ours[mh:-mh, mw:-mw], pil[mh:-mh, mw:-mw], atol=1e-4)

    def test_imresize_identity_and_constant(self, rng):
        x = rng.integers(0, 256, (50, 70), dtype=np.uint8)
        np.testing.assert_array_equal(common.imresize_matlab(x, (50, 70)), x)
        np.testing.assert_array_equal(common.imresize_matlab(np.full((90, 60), 77, np.uint8), (75, 50)), 77)

    def test_bimef_samples(self):
        # round(linspace(1, 400, 100)): 1, 5.03 -> 5, ..., 400 (1-based)
        rows = lightness_order._bimef_samples(400)
        assert len(rows) == 100 and rows[0] == 0 and rows[1] == 4 and rows[-1] == 399
        np.testing.assert_array_equal(lightness_order._bimef_samples(100), np.arange(100))
        assert lightness_order._bimef_samples(7).max() == 6  # fewer pixels than samples: repeats

    def test_bimef_matches_loe100x100_loop(self, rng):
        a = rng.integers(0, 256, (130, 171, 3), dtype=np.uint8)
        b = rng.integers(0, 256, (130, 171, 3), dtype=np.uint8)
        raw, res = a.max(axis=2), b.max(axis=2)
        rows = np.round(np.linspace(1, 130, 100) + 1e-9).astype(int) - 1
        cols = np.round(np.linspace(1, 171, 100) + 1e-9).astype(int) - 1
        raw, res = raw[np.ix_(rows, cols)], res[np.ix_(rows, cols)]
        error = 0  # loe100x100.m: U(L(y), L(x)), the other way round from NPE's
        for r in range(100):
            for c in range(100):
                error += np.sum((raw >= raw[r, c]) ^ (res >= res[r, c]))
        assert loe(a, b, variant="bimef") == error / 100**2
        assert loe(a, b, variant="bimef") != loe(a, b)  # the NPE grid is another sample

    def test_unknown_variant(self):
        with pytest.raises(ValueError, match="expected one of npe, bimef"):
            loe(_const(0, (50, 50, 3)), _const(0, (50, 50, 3)), variant="star")

    @pytest.mark.parametrize(
        "a, b, exc, match",
        [
            (_const(0, (50, 50, 3)), _const(0, (50, 51, 3)), ValueError, "same shape"),
            (_const(0, (50, 50, 4)), _const(0, (50, 50, 4)), ValueError, "3 \\(RGB\\) channels"),
            (np.zeros((50, 50, 3)), _const(0, (50, 50, 3)), TypeError, "uint8"),
        ],
    )
    def test_exceptions(self, a, b, exc, match):
        with pytest.raises(exc, match=match):
            loe(a, b)


@pytest.fixture(scope="module")
def eval15():
    """Mean PSNR/SSIM (RGB, no crop) of the 15 LOL eval15 low inputs against their ground truth."""
    if not (EVAL15 / "low").is_dir() or not (EVAL15 / "high").is_dir():
        pytest.skip(f"LOL eval15 not found at {EVAL15} (shared data is only in the development tree)")
    names = sorted(p.name for p in (EVAL15 / "low").glob("*.png"))
    low = [np.asarray(Image.open(EVAL15 / "low" / n).convert("RGB")) for n in names]
    high = [np.asarray(Image.open(EVAL15 / "high" / n).convert("RGB")) for n in names]
    return {
        "n": len(names),
        "psnr": float(np.mean([psnr(a, b) for a, b in zip(low, high)])),
        "ssim": float(np.mean([ssim(a, b) for a, b in zip(low, high)])),
        "first": (low[0], high[0]),
    }


class TestEval15:
    def test_pinned_low_vs_gt(self, eval15):
        assert eval15["n"] == 15
        assert eval15["psnr"] == pytest.approx(7.773, abs=5e-4)
        assert eval15["ssim"] == pytest.approx(0.1952, abs=5e-5)

    def test_torch_agrees_on_real_image(self, eval15):
        low, high = eval15["first"]
        to_t = lambda a: torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255  # noqa: E731
        p, t = to_t(low), to_t(high)
        assert psnr_torch(p, t).item() == pytest.approx(psnr(low, high), abs=1e-6)
        assert ssim_torch(p, t).item() == pytest.approx(ssim(low, high), abs=1e-6)


def test_saturation_torch_equals_pillow_hsv_on_the_saved_image():
    from kind.metrics import saturation, saturation_torch

    rng = np.random.default_rng(4)
    batch = torch.from_numpy(rng.random((2, 3, 17, 23)))
    batch[1, :, :4] = 0.0  # black pixels: S = 0
    batch[1, :, 4:8] = 0.3  # grey pixels: S = 0
    values = saturation_torch(batch.float())
    for n in range(2):
        saved = np.floor(np.clip(batch[n].float().numpy() * 255, 0, 255)).astype(np.uint8).transpose(1, 2, 0)
        assert float(values[n]) == pytest.approx(saturation(saved), abs=1e-12)
    with pytest.raises(ValueError, match="N×3×H×W"):
        saturation_torch(batch[0])
