"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013): no
reference, as the MATLAB ``niqe_release`` computes it, with the LIVE pristine model or KinD++'s
retrained one (``niqe_params/``).

Two references, one per luminance plane:

* ``gray`` — the MATLAB niqe_release (computequality.m, computefeature.m, estimateaggdparam.m) on
  MATLAB rgb2gray of the uint8 image, in float64 as MATLAB computes;
* ``y`` — BasicSR's calculate_niqe (basicsr/metrics/niqe.py, v1.4) on its rounded BT.601 Y channel,
  in BasicSR's own arithmetic: float32 images (the MSCN's variance, the AGGD moments), its float32
  torch imresize. NIQE moves by ~1e-3 under float32-level changes of its input (a near-zero
  coefficient changing sign changes the AGGD's left/right counts), so agreeing with BasicSR to 1e-3
  takes its arithmetic, not only its formulas.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from kind.constants import NIQE_CHANNELS, NIQE_PARAM_SETS
from kind.metrics.common import check_uint8_image, filter_valid, gaussian_1d, imresize_matlab, matlab_round, rgb_to_y


NIQE_BLOCK = 96  # block side (pixels at the first scale), the release's recommended 96 x 96, no overlap
NIQE_WINDOW = 7  # the MSCN's Gaussian window: fspecial('gaussian', 7, 7/6), normalised
NIQE_SIGMA = 7 / 6
# The pristine multivariate Gaussians, embedded as published (mu (36,), cov (36, 36), float64):
#   live   -- the LIVE NIQE release's modelparameters.mat (Mittal et al. 2013,
#             http://live.ece.utexas.edu/research/quality/niqe_release.zip); the same values as
#             BasicSR's niqe_pris_params.npz. The standard.
#   kindpp -- KinD++'s retrained modelparameters_new.mat (github.com/zhangyhuaee/KinD_plus,
#             Bovik_NIQE_SPL2013/), which every KinD++ NIQE number uses.
NIQE_PARAMS = dict(zip(NIQE_PARAM_SETS, ("niqe_live_pristine.npz", "niqe_kindpp_retrained.npz")))
NIQE_PARAMS_DIR = Path(__file__).resolve().parent / "niqe_params"
NIQE_FEATURES = 36  # 18 per block and scale, two scales
# MATLAB rgb2gray: the first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703]), the
# luminance row of the NTSC (YIQ) transform, as rgb2gray.m writes it
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
AGGD_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # computefeature.m: the four neighbour products (circshift)
AGGD_GRID = (0.2, 0.001, 9801)  # estimateaggdparam.m's shapes 0.2:0.001:10 (start, step, count)


@functools.lru_cache(maxsize=None)
def load_niqe_params(name: str = "live") -> Tuple[np.ndarray, np.ndarray]:
    """The pristine model ``(mu (36,), cov (36, 36))`` float64 of parameter set ``name`` (:data:`NIQE_PARAMS`)."""
    if name not in NIQE_PARAMS:
        raise ValueError(f"NIQE parameters: expected one of {', '.join(NIQE_PARAMS)}, got {name!r}")
    with np.load(NIQE_PARAMS_DIR / NIQE_PARAMS[name], allow_pickle=False) as data:
        mu, cov = data["mu"].astype(np.float64), data["cov"].astype(np.float64)
    if mu.shape != (NIQE_FEATURES,) or cov.shape != (NIQE_FEATURES, NIQE_FEATURES):
        raise ValueError(f"NIQE parameters {name!r}: expected mu (36,) and cov (36, 36), "
                         f"got {mu.shape} and {cov.shape}")
    mu.setflags(write=False)
    cov.setflags(write=False)
    return mu, cov


def matlab_rgb2gray(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 HxWx3 RGB array: uint8 HxW.

    ``0.2989 R + 0.5870 G + 0.1140 B`` (:data:`MATLAB_GRAY`) in float64, then, because the input is
    uint8, converted back to uint8 as MATLAB does (``imlincomb``): rounded half away from zero.
    """
    check_uint8_image("img", img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"img: expected an HxWx3 RGB array, got shape {img.shape}")
    x = img.astype(np.float64)
    gray = MATLAB_GRAY[0] * x[..., 0] + MATLAB_GRAY[1] * x[..., 1] + MATLAB_GRAY[2] * x[..., 2]
    return np.clip(matlab_round(gray), 0, 255).astype(np.uint8)


def niqe_luminance(img: np.ndarray, channel: str = "gray") -> np.ndarray:
    """The HxW float64 plane NIQE measures, from a uint8 HxWx3 RGB array (an HxW array is used as is).

    ``gray``: MATLAB ``rgb2gray`` (rounded to uint8, :func:`matlab_rgb2gray`), what
    ``niqe_release``'s ``computequality.m`` does with an RGB image. ``y``: BasicSR's
    ``calculate_niqe`` default, the BT.601 Y channel of :func:`rgb_to_y` rounded with numpy's
    ``round`` (half to even), as BasicSR does "for being consistent with MATLAB's result".
    Integer values 0..255 either way.
    """
    if channel not in NIQE_CHANNELS:
        raise ValueError(f"NIQE channel: expected one of {', '.join(NIQE_CHANNELS)}, got {channel!r}")
    check_uint8_image("img", img)
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.shape[2] != 3:
        raise ValueError(f"img: expected 3 (RGB) channels, got {img.shape[2]}")
    if channel == "gray":
        return matlab_rgb2gray(img).astype(np.float64)
    return np.round(rgb_to_y(img))


def mscn(image: np.ndarray) -> np.ndarray:
    r"""Mean-subtracted contrast-normalised coefficients of an HxW float64 image, as computequality.m.

    .. math:: \hat I = \frac{I - \mu}{\sigma + 1}, \quad \mu = w * I, \quad
              \sigma = \sqrt{|w * I^2 - \mu^2|}

    with ``w`` the normalised 7x7 Gaussian of standard deviation 7/6 (``fspecial('gaussian', 7, 7/6)``)
    and replicated borders (``imfilter(·, w, 'replicate')``). Evaluated in float64 from the
    differences to the centre pixel, ``I − μ = −Σ w_o (I_o − I)`` and
    ``σ² = Σ w_o (I_o − I)² − (Σ w_o (I_o − I))²`` (opposite offsets paired), which is the same
    quantity without the cancellation of ``w * I² − μ²``: a flat neighbourhood gives exactly 0, as
    exact arithmetic does (MATLAB's own rounding there is ±1e-16 either way). Returns HxW float64.
    """
    radius = NIQE_WINDOW // 2
    taps = gaussian_1d(NIQE_WINDOW, NIQE_SIGMA)  # fspecial's 2-D window is outer(taps, taps)
    padded = np.pad(image, radius, mode="edge")
    h, w = image.shape
    offset_sum = np.zeros_like(image)
    square_sum = np.zeros_like(image)
    for di in range(0, radius + 1):
        for dj in range(-radius, radius + 1):
            if di == 0 and dj <= 0:
                continue  # each pair (o, -o) once; the centre contributes 0
            ahead = padded[radius + di : radius + di + h, radius + dj : radius + dj + w] - image
            behind = padded[radius - di : radius - di + h, radius - dj : radius - dj + w] - image
            weight = taps[radius + di] * taps[radius + dj]
            offset_sum += weight * (ahead + behind)
            square_sum += weight * (ahead * ahead + behind * behind)
    sigma = np.sqrt(np.abs(square_sum - offset_sum * offset_sum))
    return -offset_sum / (sigma + 1.0)


def _mscn_basicsr(image: np.ndarray) -> np.ndarray:
    """BasicSR's MSCN of a float32 HxW image: ``scipy.ndimage.convolve(·, w, mode='nearest')``
    accumulates in float64 and stores float32; the rest is float32 (its variance's cancellation
    included). Returns HxW float32."""
    radius = NIQE_WINDOW // 2
    taps = gaussian_1d(NIQE_WINDOW, NIQE_SIGMA)

    def smooth(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, radius, mode="edge").astype(np.float64)[:, :, None]
        return filter_valid(padded, taps)[:, :, 0].astype(np.float32)

    mu = smooth(image)
    sigma = np.sqrt(np.abs(smooth(np.square(image)) - np.square(mu)))
    return (image - mu) / (sigma + np.float32(1.0))


@functools.lru_cache(maxsize=None)
def _aggd_tables() -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fit's shapes ``0.2:0.001:10``, ``r(γ) = Γ(2/γ)² / (Γ(1/γ) Γ(3/γ))`` on them, and
    ``Γ(1/γ)``, ``Γ(2/γ)``, ``Γ(3/γ)`` (all float64, 9801 values)."""
    start, step, count = AGGD_GRID
    grid = start + step * np.arange(count)
    g1, g2, g3 = (np.array([math.gamma(k / a) for a in grid]) for k in (1.0, 2.0, 3.0))
    return grid, g2 * g2 / (g1 * g3), g1, g2, g3


def _nearest_shape(ratio: float) -> int:
    """``argmin((r_gam − ratio)²)`` over the grid: the first index on a tie, index 0 for NaN (as
    MATLAB's ``min`` and numpy's ``argmin`` do). ``r(γ)`` increases strictly, so the minimum is one
    of the two grid values around ``ratio``."""
    _, r_gam, _, _, _ = _aggd_tables()
    if not math.isfinite(ratio):
        return 0
    upper = min(max(int(np.searchsorted(r_gam, ratio)), 1), len(r_gam) - 1)
    lower = upper - 1
    return upper if (r_gam[upper] - ratio) ** 2 < (r_gam[lower] - ratio) ** 2 else lower


def aggd_fit(values: np.ndarray) -> Tuple[float, float, float]:
    r"""Fit an asymmetric generalised Gaussian to a 1-D sample, as estimateaggdparam.m.

    With :math:`σ_l = \sqrt{\operatorname{mean}(x^2 \mid x < 0)}`,
    :math:`σ_r = \sqrt{\operatorname{mean}(x^2 \mid x > 0)}`, :math:`\hat γ = σ_l / σ_r`,
    :math:`\hat r = \operatorname{mean}(|x|)^2 / \operatorname{mean}(x^2)` and
    :math:`\hat R = \hat r (\hat γ^3 + 1)(\hat γ + 1) / (\hat γ^2 + 1)^2`, the shape α is the grid
    value (0.2:0.001:10) whose :math:`r(α) = Γ(2/α)^2 / (Γ(1/α) Γ(3/α))` is nearest :math:`\hat R`,
    and :math:`β_{l,r} = σ_{l,r} \sqrt{Γ(1/α) / Γ(3/α)}`. For a symmetric sample (:math:`\hat γ = 1`)
    this is the moment-matching GGD fit: α its shape, β its scale.

    The moments are numpy means in ``values``' own dtype (float64 as MATLAB; float32 reproduces
    BasicSR). A sample without negative (or positive) values has σ_l (σ_r) NaN, as MATLAB's mean of
    an empty set; α is then the grid's first value, 0.2, as MATLAB's ``min`` of an all-NaN vector
    gives.

    Returns:
        ``(alpha, beta_left, beta_right)`` as floats.
    """
    grid, _, g1, _, g3 = _aggd_tables()
    x = np.asarray(values).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(np.mean(x[x < 0] ** 2)) if np.any(x < 0) else np.nan
        right = np.sqrt(np.mean(x[x > 0] ** 2)) if np.any(x > 0) else np.nan
        gamma_hat = left / right
        r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
        r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / ((gamma_hat**2 + 1) ** 2)
    index = _nearest_shape(float(r_hat_norm))
    scale = math.sqrt(g1[index] / g3[index])
    return float(grid[index]), float(left) * scale, float(right) * scale


def niqe_block_features(block: np.ndarray) -> np.ndarray:
    """computefeature.m on one MSCN block (h, w): the 18 features, (18,) float64.

    An AGGD fit of the coefficients (shape α, mean scale (β_l + β_r) / 2), then for each of the
    four neighbour products ``I · circshift(I, s)``, s = (0,1), (1,0), (1,1), (1,-1) (within the
    block, wrapping around), an AGGD fit: shape α, mean ``(β_r − β_l) Γ(2/α) / Γ(1/α)``, β_l, β_r.
    """
    _, _, g1, g2, _ = _aggd_tables()
    start, step, _ = AGGD_GRID
    alpha, left, right = aggd_fit(block)
    features = [alpha, (left + right) / 2]
    for shift in AGGD_SHIFTS:
        alpha, left, right = aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        index = round((alpha - start) / step)
        features += [alpha, (right - left) * g2[index] / g1[index], left, right]
    return np.array(features)


def _blocks(image: np.ndarray, size: int) -> np.ndarray:
    """The non-overlapping size x size blocks of an image whose sides are multiples of size,
    (N, size, size), in MATLAB's order (blkproc, then reshape: down the columns of blocks first)."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return image.reshape(rows, size, cols, size).transpose(2, 0, 1, 3).reshape(rows * cols, size, size)


def _half_basicsr(image: np.ndarray) -> np.ndarray:
    """BasicSR's ``imresize(image / 255, 0.5) * 255`` of an even-sided float32 HxW image, float32.

    MATLAB's bicubic with antialiasing (the 8 taps ``0.5·cubic(0.5·d)``, d = ±3.5, ±2.5, ±1.5, ±0.5,
    normalised; symmetric padding), computed as BasicSR's torch code does, in float32 with one
    matrix-vector product per output row, then per output column — the same operations, so the
    same rounding, as the reference.
    """
    absolute = torch.tensor([1.75, 1.25, 0.75, 0.25, 0.25, 0.75, 1.25, 1.75])  # |d| · scale
    cubic = (1.5 * absolute**3 - 2.5 * absolute**2 + 1) * (absolute <= 1).float() + (
        -0.5 * absolute**3 + 2.5 * absolute**2 - 4 * absolute + 2
    ) * ((absolute > 1) & (absolute <= 2)).float()
    taps = 0.5 * cubic
    taps = taps / taps.sum()
    pad = 3  # output pixel k reads input pixels 2k - 3 .. 2k + 4 (0-based)

    def rows_pass(x: Tensor) -> Tensor:  # x (H, W) -> (H/2, W), x padded symmetrically along H
        padded = torch.cat([x[:pad].flip(0), x, x[-pad:].flip(0)], dim=0).contiguous()
        out = torch.empty(x.shape[0] // 2, x.shape[1])
        for k in range(out.shape[0]):
            out[k] = padded[2 * k : 2 * k + 8].transpose(0, 1).mv(taps)
        return out

    def cols_pass(x: Tensor) -> Tensor:  # x (H, W) -> (H, W/2), padded along W
        padded = torch.cat([x[:, :pad].flip(1), x, x[:, -pad:].flip(1)], dim=1).contiguous()
        out = torch.empty(x.shape[0], x.shape[1] // 2)
        for k in range(out.shape[1]):
            out[:, k] = padded[:, 2 * k : 2 * k + 8].mv(taps)
        return out

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(image / np.float32(255.0), dtype=np.float32))
        return cols_pass(rows_pass(x)).numpy() * np.float32(255.0)


def niqe_features(plane: np.ndarray, channel: str = "gray") -> np.ndarray:
    """The (N, 36) features of the N 96x96 blocks of an HxW plane (0..255), computequality.m.

    The plane is cropped to whole blocks (top-left kept); the 18 block features of
    :func:`niqe_block_features` are computed on its MSCN coefficients, then on those of the plane
    halved by MATLAB ``imresize(·, 0.5)`` (bicubic with antialiasing) in 48x48 blocks. ``channel``
    picks the arithmetic of its reference (module comment above): ``gray`` MATLAB's float64
    (:func:`mscn`, :func:`imresize_matlab`), ``y`` BasicSR's float32 (:func:`_mscn_basicsr`,
    :func:`_half_basicsr`).
    """
    rows, cols = plane.shape[0] // NIQE_BLOCK, plane.shape[1] // NIQE_BLOCK
    image = plane[: rows * NIQE_BLOCK, : cols * NIQE_BLOCK]
    basicsr = channel == "y"
    if basicsr:
        image = image.astype(np.float32)
    per_scale = []
    for scale in (1, 2):
        coefficients = _mscn_basicsr(image) if basicsr else mscn(image)
        per_scale.append(np.stack([niqe_block_features(b) for b in _blocks(coefficients, NIQE_BLOCK // scale)]))
        if scale == 1:
            half = (image.shape[0] // 2, image.shape[1] // 2)
            image = _half_basicsr(image) if basicsr else imresize_matlab(image, half, to_uint8=False)
    return np.concatenate(per_scale, axis=1)


def niqe(img: np.ndarray, channel: str = "gray", params: str = "live") -> float:
    r"""NIQE of a uint8 image (lower is better), as the MATLAB ``niqe_release`` computes it.

    1. the plane measured (:func:`niqe_luminance`): ``gray``, MATLAB ``rgb2gray`` rounded to uint8
       (the release's own conversion; default), or ``y``, BasicSR's rounded BT.601 Y channel
       (``calculate_niqe``'s default), each in its reference's arithmetic;
    2. the (N, 36) features of its 96x96 blocks at two scales (:func:`niqe_features`);
    3. their Gaussian: ``μ`` the mean over blocks ignoring NaN features (``nanmean``), ``Σ`` the
       covariance (N − 1 normalisation) of the blocks without NaN (``nancov``);
    4. against the pristine model (μ_p, Σ_p) of ``params`` (:func:`load_niqe_params`):

    .. math:: \mathrm{NIQE} = \sqrt{(μ_p - μ)^\top \left(\frac{Σ_p + Σ}{2}\right)^{+} (μ_p - μ)}

    with ``+`` the pseudo-inverse.

    Args:
        img: uint8 HxWx3 RGB array, or HxW (the plane itself); at least two whole 96x96 blocks.
        channel: ``"gray"`` or ``"y"`` (:data:`NIQE_CHANNELS`).
        params: ``"live"`` or ``"kindpp"`` (:data:`NIQE_PARAMS`).

    Returns:
        NIQE; NaN when fewer than two blocks have finite features (a constant image: MATLAB gives
        NaN too).

    Raises:
        ValueError: fewer than two whole 96x96 blocks, or a bad channel or params name.
    """
    mu_p, cov_p = load_niqe_params(params)
    plane = niqe_luminance(img, channel)
    if (plane.shape[0] // NIQE_BLOCK) * (plane.shape[1] // NIQE_BLOCK) < 2:
        raise ValueError(
            f"NIQE needs at least two whole {NIQE_BLOCK}x{NIQE_BLOCK} blocks (e.g. {2 * NIQE_BLOCK}x{NIQE_BLOCK}), "
            f"got a {plane.shape[1]}x{plane.shape[0]} image"
        )
    features = niqe_features(plane, channel)
    finite = ~np.isnan(features)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(finite, features, 0.0).sum(axis=0) / finite.sum(axis=0)
    complete = features[finite.all(axis=1)]
    if len(complete) < 2 or np.isnan(mu).any():
        return float("nan")
    diff = mu_p - mu
    pooled = (cov_p + np.cov(complete, rowvar=False)) / 2
    return float(np.sqrt(diff @ np.linalg.pinv(pooled) @ diff))
