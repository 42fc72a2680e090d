"""Tests of NIQE (kind.metrics): its pieces against hand computations and direct formulas, the
parameter files, and NIQE pinned on images against the BasicSR reference (basicsr 1.4 calculate_niqe,
run outside this project; for ``gray`` with MATLAB's rgb2gray put in front of it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from conftest import shared_path

from kind import metrics
from kind.metrics import (
    aggd_fit,
    common,
    load_niqe_params,
    matlab_rgb2gray,
    mscn,
    naturalness,
    niqe,
    niqe_block_features,
)

gamma_fn = np.vectorize(math.gamma)


def _estimateaggdparam(x: np.ndarray) -> tuple[float, float, float]:
    """estimateaggdparam.m written out: the full 9801-value search, for comparison."""
    gam = 0.2 + 0.001 * np.arange(9801)
    r_gam = gamma_fn(2 / gam) ** 2 / (gamma_fn(1 / gam) * gamma_fn(3 / gam))
    left = math.sqrt(np.mean(x[x < 0] ** 2))
    right = math.sqrt(np.mean(x[x > 0] ** 2))
    g = left / right
    r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    r_norm = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = gam[np.argmin((r_gam - r_norm) ** 2)]
    scale = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, left * scale, right * scale


def _synthetic() -> np.ndarray:
    """A 192x288 RGB test image (two 96x96 blocks down, three across)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:192, 0:288]
    base = np.stack([120 + 80 * np.sin(xx / 9.0 + c) * np.cos(yy / 13.0 - c) for c in range(3)], axis=-1)
    return np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)


class TestParameters:
    @pytest.mark.parametrize("name", ["live", "kindpp"])
    def test_shapes_and_covariance(self, name):
        mu, cov = load_niqe_params(name)
        assert mu.shape == (36,) and cov.shape == (36, 36) and mu.dtype == cov.dtype == np.float64
        np.testing.assert_allclose(cov, cov.T, atol=1e-12)
        assert np.linalg.eigvalsh(cov).min() > -1e-9
        assert not mu.flags.writeable

    def test_the_two_sets(self):
        live, kindpp = load_niqe_params("live"), load_niqe_params("kindpp")
        assert live[0][0] == pytest.approx(2.60131368, abs=1e-8)  # modelparameters.mat's first mu
        assert kindpp[0][0] == pytest.approx(2.84266863, abs=1e-8)
        assert not np.allclose(live[0], kindpp[0])

    def test_unknown_name(self):
        with pytest.raises(ValueError, match="expected one of live, kindpp"):
            load_niqe_params("brisque")


class TestPieces:
    def test_matlab_rgb2gray(self):
        img = np.array([[[10, 200, 30], [255, 255, 255], [0, 0, 0], [1, 1, 1]]], np.uint8)
        # 0.298936·10 + 0.587043·200 + 0.114021·30 = 123.8186 -> 124; the weights sum to 1
        np.testing.assert_array_equal(matlab_rgb2gray(img), [[124, 255, 0, 1]])
        assert matlab_rgb2gray(img).dtype == np.uint8

    def test_rounds_to_nearest(self):
        img = np.array([[[0, 0, 5], [3, 0, 1], [2, 0, 2], [0, 0, 4]]], np.uint8)  # 0.570, 1.011, 0.826, 0.456
        np.testing.assert_array_equal(matlab_rgb2gray(img), [[1, 1, 1, 0]])  # truncation would give 0, 1, 0, 0

    def test_mscn_of_a_constant_is_zero(self):
        assert np.all(mscn(np.full((20, 30), 137.0)) == 0.0)

    def test_mscn_matches_the_direct_formula(self):
        x = np.random.default_rng(0).integers(0, 256, (25, 31)).astype(np.float64)
        t = np.arange(7) - 3.0
        w = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * (7 / 6) ** 2))
        w /= w.sum()  # fspecial('gaussian', 7, 7/6)
        p = np.pad(x, 3, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(p, (7, 7))
        mu = (windows * w).sum(axis=(2, 3))
        sigma = np.sqrt(np.abs((windows**2 * w).sum(axis=(2, 3)) - mu**2))
        np.testing.assert_allclose(mscn(x), (x - mu) / (sigma + 1), atol=1e-10)

    def test_mscn_flat_neighbourhood_is_exactly_zero(self):
        x = np.full((20, 20), 255.0)
        x[:, 15:] = 10.0  # columns 0..11 have a flat 7x7 neighbourhood
        assert np.all(mscn(x)[:, :12] == 0.0) and np.all(mscn(x)[:, 12:15] != 0.0)

    @pytest.mark.parametrize(
        "sample",
        [
            np.array([-2.0, -1.0, 1.0, 2.0, 3.0]),
            np.array([-0.5, 0.25, 0.25, 4.0, -3.0, 0.0, 1.5]),
            np.linspace(-1, 1, 101) ** 3,
        ],
    )
    def test_aggd_fit_matches_estimateaggdparam(self, sample):
        assert aggd_fit(sample) == pytest.approx(_estimateaggdparam(sample), abs=1e-12)

    def test_aggd_fit_by_hand(self):
        # x = [-1, -0.1, 0.1, 1]: σl = σr = √0.505, γ̂ = 1, R̂ = r̂ = 0.55² / 0.505 = 0.599010;
        # r(1.585) = 0.598994 and r(1.586) = 0.599107 bracket it, 1.585 nearer;
        # β = √0.505 · √(Γ(1/1.585) / Γ(3/1.585)) = 0.865303
        alpha, left, right = aggd_fit(np.array([-1.0, -0.1, 0.1, 1.0]))
        assert alpha == pytest.approx(1.585, abs=1e-12)
        assert left == right == pytest.approx(0.8653034, abs=1e-7)

    def test_ggd_shapes_of_gaussian_and_laplacian_samples(self):
        u = (np.arange(20000) + 0.5) / 20000  # quantiles: a deterministic "sample" of each law
        gaussian = np.sqrt(2) * _erfinv(2 * u - 1)
        laplacian = -np.sign(u - 0.5) * np.log(1 - 2 * np.abs(u - 0.5))
        assert aggd_fit(gaussian)[0] == pytest.approx(2.0, abs=0.02)  # σ 1: β = √2
        assert aggd_fit(gaussian)[1] == pytest.approx(math.sqrt(2), rel=0.01)
        assert aggd_fit(laplacian)[0] == pytest.approx(1.0, abs=0.02)  # scale 1: β = 1
        assert aggd_fit(laplacian)[2] == pytest.approx(1.0, rel=0.02)

    def test_aggd_one_sided_sample(self):
        alpha, left, right = aggd_fit(np.array([0.5, 1.0, 2.0]))
        # no negative value: σl is NaN (MATLAB's mean of nothing), so is R̂; MATLAB's min of an all-NaN
        # vector returns index 1, α = 0.2; βr stays finite
        assert alpha == 0.2 and math.isnan(left)
        assert right == pytest.approx(math.sqrt(1.75) * math.sqrt(math.gamma(5) / math.gamma(15)))

    def test_nearest_shape_is_the_full_search(self):
        _, r_gam, _, _, _ = naturalness._aggd_tables()
        assert np.all(np.diff(r_gam) > 0)
        for ratio in np.random.default_rng(1).uniform(0.0, 0.8, 200):
            assert naturalness._nearest_shape(ratio) == np.argmin((r_gam - ratio) ** 2)
        assert naturalness._nearest_shape(float("nan")) == 0

    def test_block_features(self):
        block = mscn(np.random.default_rng(2).integers(0, 256, (96, 96)).astype(np.float64))
        expected = list(_estimateaggdparam(block.ravel()))
        expected = [expected[0], (expected[1] + expected[2]) / 2]
        for shift in [(0, 1), (1, 0), (1, 1), (1, -1)]:
            alpha, left, right = _estimateaggdparam((block * np.roll(block, shift, axis=(0, 1))).ravel())
            expected += [alpha, (right - left) * math.gamma(2 / alpha) / math.gamma(1 / alpha), left, right]
        np.testing.assert_allclose(niqe_block_features(block), expected, rtol=1e-10)

    def test_half_resizes_agree(self):
        x = np.random.default_rng(3).uniform(0, 255, (96, 144))
        ours = common.imresize_matlab(x, (48, 72), to_uint8=False)
        np.testing.assert_allclose(naturalness._half_basicsr(x.astype(np.float32)), ours, atol=2e-4)


def _erfinv(y: np.ndarray) -> np.ndarray:
    """Inverse error function by Newton's method (no scipy in the package's dependencies)."""
    x = np.zeros_like(y)
    erf = np.vectorize(math.erf)
    for _ in range(60):
        x = x - (erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return x


# The y plane is BasicSR's float32 arithmetic: numpy's SIMD float32 reductions round differently on
# different CPUs (an Intel Xeon gives 25.528043 and 5.082359 where an AMD EPYC gives 25.528010 and
# 5.082200), and NIQE moves by ~1e-3 under float32-level changes of its input (a near-zero MSCN
# coefficient changing sign moves a sample between the AGGD's sides). So the y plane is pinned at that
# noise; the gray plane is float64 throughout and is pinned tightly to our own values.
FLOAT32_NOISE = 1e-3
FLOAT64_PIN = 1e-8


class TestNiqe:
    # Reference values: BasicSR's calculate_niqe (basicsr 1.4) on the same pixels, Y channel; for
    # gray, the same code fed MATLAB's rgb2gray (its float32 arithmetic: agreement to ~2e-3 only).
    def test_synthetic_pinned(self):
        img = _synthetic()
        assert niqe(img, "y") == pytest.approx(25.528009818, abs=FLOAT32_NOISE)
        assert niqe(img, "y", "kindpp") == pytest.approx(27.507819377, abs=FLOAT32_NOISE)
        assert niqe(img) == pytest.approx(25.728985079, abs=2e-3)  # BasicSR's float32 on rgb2gray
        assert niqe(img) == pytest.approx(25.729020139761204, abs=FLOAT64_PIN)  # ours, float64
        assert niqe(img, "gray", "kindpp") == pytest.approx(27.204306961653636, abs=FLOAT64_PIN)

    @pytest.mark.parametrize(
        "name, y, y_kindpp, gray, gray_float64",
        [
            ("lol/eval15/high/1.png", 5.082199598, 4.833901870, 5.159104934, 5.157852466925212),
            ("noref/DICM/01.jpg", 3.356787737, 3.405673753, 3.227062585, 3.227181396310994),
        ],
    )
    def test_real_images_pinned(self, name, y, y_kindpp, gray, gray_float64):
        img = np.asarray(Image.open(shared_path("data", *name.split("/"))).convert("RGB"))
        assert niqe(img, "y") == pytest.approx(y, abs=FLOAT32_NOISE)
        assert niqe(img, "y", "kindpp") == pytest.approx(y_kindpp, abs=FLOAT32_NOISE)
        assert niqe(img, "gray") == pytest.approx(gray, abs=2e-3)  # BasicSR's float32 on rgb2gray
        assert niqe(img, "gray") == pytest.approx(gray_float64, abs=FLOAT64_PIN)  # ours, float64

    def test_gray_plane_input(self):
        img = _synthetic()
        assert niqe(matlab_rgb2gray(img)) == niqe(img)

    def test_constant_image_is_nan(self):
        assert math.isnan(niqe(np.full((192, 192, 3), 90, np.uint8)))

    @pytest.mark.parametrize(
        "img, kwargs, match",
        [
            (np.zeros((95, 400, 3), np.uint8), {}, "at least two whole 96x96 blocks"),
            (np.zeros((100, 150, 3), np.uint8), {}, "got a 150x100 image"),
            (np.zeros((192, 192, 3), np.uint8), {"channel": "rgb"}, "expected one of gray, y"),
            (np.zeros((192, 192, 3), np.uint8), {"params": "x"}, "expected one of live, kindpp"),
            (np.zeros((192, 192, 3), np.float32), {}, "uint8"),
        ],
    )
    def test_errors(self, img, kwargs, match):
        with pytest.raises((ValueError, TypeError), match=match):
            niqe(img, **kwargs)
