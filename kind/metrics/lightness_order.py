"""Lightness order error (Wang et al., NPE, TIP 2013): input against enhanced output, no ground truth;
NPE's ``loe.m`` and BIMEF's ``loe100x100.m`` variants.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from kind.constants import LOE_VARIANTS
from kind.metrics.common import check_uint8_image, imresize_matlab, matlab_round


LOE_GRID = 50  # LOE down-samples so that the smaller side has this many pixels (NPE loe.m)
LOE_SAMPLES = 100  # BIMEF loe100x100.m samples a fixed 100 x 100 grid of pixels


def _loe_grid_size(h: int, w: int) -> Tuple[int, int]:
    """NPE loe.m: ``r = 50 / min(M, N); Nd = round(N r); Md = round(M r)`` (MATLAB round)."""
    r = LOE_GRID / min(h, w)
    return int(matlab_round(h * r)), int(matlab_round(w * r))


def _order_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For every pixel x: #{y : U(a_x >= a_y) XOR U(b_x >= b_y)}, for integer arrays in 0..255.

    The pairwise count is done with a 256x256 joint histogram instead of an n x n comparison:
    with ``C[i, j] = #{y : a_y <= i and b_y <= j}``, the count for x is
    ``C[a_x, 255] + C[255, b_x] - 2 C[a_x, b_x]`` (pixels below x in a but not in b, plus the
    reverse). Exact, O(n + 256^2). Returns an int64 array shaped like ``a``.
    """
    ai = a.astype(np.int64).ravel()
    bi = b.astype(np.int64).ravel()
    hist = np.zeros((256, 256), dtype=np.int64)
    np.add.at(hist, (ai, bi), 1)
    cum = hist.cumsum(axis=0).cumsum(axis=1)
    counts = cum[ai, 255] + cum[255, bi] - 2 * cum[ai, bi]
    return counts.reshape(a.shape)


def _bimef_samples(length: int) -> np.ndarray:
    """0-based indices of BIMEF loe100x100.m's ``round(linspace(1, n, 100))`` (MATLAB round).

    MATLAB's linspace gives ``1 + k (n - 1) / 99``; that is never exactly a half for integer n, so
    the rounding direction is never in question.
    """
    k = np.arange(LOE_SAMPLES, dtype=np.float64)
    return (matlab_round(1.0 + k * (length - 1) / (LOE_SAMPLES - 1)) - 1).astype(np.int64)


def loe(input_img: np.ndarray, output_img: np.ndarray, variant: str = "npe") -> float:
    r"""Lightness order error between an input image and its enhanced version (lower is better).

    Both variants take the lightness ``L = max(R, G, B)`` (uint8) of each image, reduce it to a grid
    and count, for every grid pixel x, the grid pixels y whose order against x differs between the
    two images:

    .. math:: RD(x) = \sum_y U(L(x), L(y)) \oplus U(L_e(x), L_e(y)), \quad
              U(p, q) = 1 \text{ if } p \ge q \text{ else } 0, \qquad
              \mathrm{LOE} = \operatorname{mean}_x RD(x).

    ``variant="npe"`` (default): the ``loe.m`` of Wang et al., "Naturalness Preserved Enhancement
    Algorithm for Non-Uniform Illumination Images" (NPE, IEEE TIP 2013): both L resized to
    ``Nd x Md`` with ``r = 50 / min(H, W)``, ``Nd = round(H r)``, ``Md = round(W r)`` (the smaller
    side 50 pixels, MATLAB rounding) by MATLAB ``imresize(L, [Nd Md])`` with its defaults,
    re-implemented in numpy (:func:`imresize_matlab`): bicubic (Keys, a = -0.5) with antialiasing
    when shrinking, symmetric padding, rows and columns one after the other, each pass rounded to
    uint8 as MATLAB does for a uint8 image. No pillow or torch resize reproduces that, and ties and
    order flips on the 50-pixel grid are sensitive to it.

    ``variant="bimef"``: ``quality/loe100x100.m`` of Ying et al.'s BIMEF benchmark (the code that
    produced the baseline numbers KinD compares against): no resize, a fixed 100 x 100 grid of
    pixels picked at rows ``round(linspace(1, H, 100))`` and columns ``round(linspace(1, W, 100))``.
    It counts ``U(L(y), L(x))`` instead of ``U(L(x), L(y))``; summed over all pairs that is the same
    total, so the mean is the same formula.

    (A third LOE.m in circulation, e.g. in the STAR (TIP 2020) code, takes the 15x15 local maximum
    of the lightness and subsamples every ``floor(min(H, W) / 50)`` pixels. Numbers from different
    variants do not compare.)

    Args:
        input_img: uint8 HxWx3 (RGB) or HxW array, the image before enhancement.
        output_img: uint8 array of the same shape, the enhanced image.
        variant: ``"npe"`` or ``"bimef"`` (:data:`LOE_VARIANTS`).

    Returns:
        LOE, the mean number of order flips per grid pixel (0 when the order is kept).

    >>> a = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    >>> loe(a, a), loe(a, a, variant="bimef")
    (0.0, 0.0)
    """
    if variant not in LOE_VARIANTS:
        raise ValueError(f"LOE variant: expected one of {', '.join(LOE_VARIANTS)}, got {variant!r}")
    for name, img in (("input_img", input_img), ("output_img", output_img)):
        check_uint8_image(name, img)
        if img.ndim == 3 and img.shape[2] != 3:
            raise ValueError(f"{name}: expected 3 (RGB) channels, got {img.shape[2]}")
    if input_img.shape != output_img.shape:
        raise ValueError(
            f"input_img and output_img: expected the same shape, got {input_img.shape} and {output_img.shape}"
        )
    light_in = input_img.max(axis=2) if input_img.ndim == 3 else input_img
    light_out = output_img.max(axis=2) if output_img.ndim == 3 else output_img
    if variant == "bimef":
        rows, cols = _bimef_samples(light_in.shape[0]), _bimef_samples(light_in.shape[1])
        small_in = light_in[np.ix_(rows, cols)]
        small_out = light_out[np.ix_(rows, cols)]
    else:
        grid = _loe_grid_size(*light_in.shape)
        small_in = imresize_matlab(light_in, grid)
        small_out = imresize_matlab(light_out, grid)
    return float(_order_errors(small_in, small_out).mean())
