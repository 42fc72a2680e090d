"""Names and defaults shared by the library and the command line, in one torch-free module.

The ``kind`` command builds its parser from these without importing torch (``kind --help`` stays
fast); the library modules import the same names, so there is one definition of each.
"""

from collections.abc import Sequence

NETWORK_NAMES = ("decom", "restore", "adjust")  # the three networks, in pipeline order
PROTOCOLS = ("official", "gt-ratio", "kindpp", "fixed", "auto", "input")  # kind eval --protocol
PRECISIONS = ("fp32", "bf16")  # network precisions (--precision)
DEFAULT_OPSET = 17  # kind export-onnx --opset
DEFAULT_RATIO = 5.0  # the official photo script's brightening ratio
MAX_RATIO = 1000.0  # the largest brightening ratio accepted (the authors find 0-5 useful; far above, every pixel saturates)
AUTO = "auto"  # the ratio chosen per image from its own illumination
DEFAULT_STRENGTH = 1.0  # denoise strength: 1 is KinD's restored reflectance R̂, 0 the unrestored R
MAP_SUFFIXES = ("R", "L", "R_restored", "L_adjusted")  # --save-maps files: <stem>_<suffix>.png

# SSIM (Wang et al. 2004), as the evaluation metric (MATLAB ssim.m, BasicSR) and the official training
# loss (tf_ssim) both compute it: an 11x11 Gaussian window of sigma 1.5, C1 = (K1 L)^2, C2 = (K2 L)^2
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

# Metric choices (kind eval, kind score, scripts/reproduce_table.py; kind.metrics checks them)
NIQE_CHANNELS = ("gray", "y")  # NIQE's luminance plane: MATLAB rgb2gray, or BasicSR's Y channel
NIQE_PARAM_SETS = ("live", "kindpp")  # NIQE's pristine model: the LIVE release's, or KinD++'s retrained one
LOE_VARIANTS = ("npe", "bimef")  # LOE: NPE's loe.m, or BIMEF's loe100x100.m
SCORE_METRICS = ("psnr", "ssim", "loe", "niqe")  # kind score --metrics

# Image files. Inputs are matched by suffix, lower-cased; outputs by --format.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "tiff": ".tif", "webp": ".webp"}  # --format → suffix
LOSSY_FORMATS = ("jpg", "webp")  # the formats --quality applies to
SIXTEEN_BIT_FORMATS = ("png", "tiff")  # the formats --bits 16 can write
DEFAULT_QUALITY = 95  # JPEG/WebP quality (1-100)

# Video clips (kind[video], PyAV). An input with one of VIDEO_SUFFIXES is enhanced frame by frame
# into a clip of the same container (VIDEO_CONTAINERS; another suffix gives Matroska, .mkv).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
VIDEO_CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".m4v": "mp4", ".mkv": "matroska"}  # output suffix → muxer
DEFAULT_VIDEO_CODEC = "libx264"  # H.264
DEFAULT_CRF = 18  # x264/x265 constant rate factor (0 lossless, 51 worst; 18 looks like the source)

# Large images. Above AUTO_TILE_PIXELS an image is enhanced in DEFAULT_TILE tiles, streamed band by
# band, so memory grows by a few bytes a pixel (the decoded input and the output) plus one tile's
# activations. Images over DEFAULT_MAX_PIXELS are refused from their header, before decoding.
AUTO_TILE_PIXELS = 2_500_000
DEFAULT_TILE = 512  # tile side in pixels
MIN_TILE = 32  # the smallest tile side accepted
DEFAULT_MAX_PIXELS = 150_000_000  # e.g. 15000 × 10000; --max-pixels / max_pixels raise or lower it

# Weights shipped inside the package (kind/weights/pretrained/<version>/). A weights spec is "shipped" (the
# current version), a version name, or a path to a folder (or, for one network, a file).
SHIPPED = "shipped"
SHIPPED_VERSION = "v0.4"


def is_auto(ratio: object) -> bool:
    """Whether ``ratio`` names the automatic ratio: ``'auto'`` in any case, spaces around allowed
    (``AUTO``, ``Auto``); the one rule of the command line, the app and the Python API."""
    return isinstance(ratio, str) and ratio.strip().lower() == AUTO


def ratio_problem(ratio: float | str) -> str | None:
    """What is wrong with a brightening ratio, or None: the one rule, ``'auto'`` (any case,
    :func:`is_auto`) or a number from 0 to ``MAX_RATIO`` (torch-free, so that the command line
    checks ``--ratio`` before importing torch)."""
    if isinstance(ratio, str):
        return None if is_auto(ratio) else f"expected a number or 'auto', got {ratio!r}"
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
        return f"expected a number or 'auto', got {type(ratio).__name__} {ratio!r}"
    if not 0 <= float(ratio) <= MAX_RATIO:  # also refuses nan and inf
        return f"expected a number from 0 to {MAX_RATIO:g} or 'auto', got {ratio!r}"
    return None


def strength_problem(strength: float) -> str | None:
    """What is wrong with a denoise strength, or None: a number from 0 (the unrestored reflectance
    R) to 1 (KinD's restoration R̂, the default)."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= float(strength) <= 1:
        return f"expected a number from 0 to 1, got {strength!r}"
    return None


def parse_ratio(value: object) -> float | str:
    """A brightening ratio from text or a number, as every caller reads one (``kind enhance``,
    ``kind eval``, the app): ``'auto'`` in any case gives ``AUTO``, numeric text and numbers give
    a float from 0 to ``MAX_RATIO``. Raises ValueError with :func:`ratio_problem`'s words.

    >>> parse_ratio(" AUTO "), parse_ratio("2.5"), parse_ratio(3)
    ('auto', 2.5, 3.0)
    """
    if is_auto(value):
        return AUTO
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"expected a number or 'auto', got {value!r}") from None
    problem = ratio_problem(number)
    if problem:
        raise ValueError(problem.replace(repr(number), repr(value)) if isinstance(value, str) else problem)
    return float(number)


def distinct_ratios(ratios: Sequence[float | str]) -> tuple[list[float | str], list[str]]:
    """A sweep's ratios (each checked by :func:`parse_ratio`) without repeats, by value: ``3`` and
    ``3.0`` are one ratio, as are ``auto`` and ``AUTO``. Returns them in their first order, and a
    notice for each ratio given more than once.

    >>> ratios, notices = distinct_ratios([3, "auto", 3.0, "AUTO", 1])
    >>> ratios
    [3.0, 'auto', 1.0]
    >>> notices[0]
    'ratio 3 is given 2 times: its outputs are written once'
    """
    given: dict[float | str, int] = {}
    for ratio in ratios:
        value = parse_ratio(ratio)
        given[value] = given.get(value, 0) + 1
    notices = [f"ratio {value if isinstance(value, str) else format(value, 'g')} is given {count} times: "
               "its outputs are written once" for value, count in given.items() if count > 1]
    return list(given), notices
