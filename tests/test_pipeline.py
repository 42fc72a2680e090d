"""The inference pipelines' pieces against hand-computed values and scikit-image, and the fast
paths against the reference path."""

import numpy as np
import pytest
import torch

from kind.imageops import (
    blend_with_input,
    darkness_weight,
    gaussian_blur_nearest,
    gaussian_kernel1d,
    gray,
    minmax_stretch,
)
from kind.inference.fused import cpu_bf16_supported, cpu_fusion_available
from kind.inference.pipeline import (
    AUTO_EXPONENT,
    AUTO_RANGE,
    AUTO_SCALE,
    auto_ratio,
    enhance_general,
    enhance_lol,
    lol_ratio,
)
from kind.inference.runner import Runner, checked_runner
from kind.inference.tiling import tile_spans
from kind.models import build_network
from kind.weights.format import KinDNets


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return KinDNets(*(build_network(n).eval() for n in ("decom", "restore", "adjust")))


def test_stretch_by_hand():
    x = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
    torch.testing.assert_close(minmax_stretch(x).flatten(), torch.tensor([0.0, 0.5, 1.0]))
    flat = torch.full((1, 3, 2, 2), 0.3)
    flat[0, 0, 0, 0] = 0.3005  # range 0.0005 < the 0.001 floor
    assert minmax_stretch(flat).max().item() == pytest.approx(0.5, abs=1e-4)


def test_stretch_is_per_image():
    x = torch.stack([torch.linspace(0.1, 0.2, 12), torch.linspace(0.5, 0.9, 12)]).view(2, 3, 2, 2)
    out = minmax_stretch(x)
    assert out[0].min() == out[1].min() == 0 and out[0].max() == out[1].max() == 1


def test_gaussian_taps_match_scipy_rule():
    taps = gaussian_kernel1d(3.0)
    assert taps.size == 25 and taps.sum() == pytest.approx(1.0)  # radius int(4·3 + 0.5) = 12


@pytest.mark.parametrize("shape", [(37, 50), (5, 5), (1, 1), (3, 30)])
def test_blur_and_gray_match_scikit_image(shape):
    skimage = pytest.importorskip("skimage")
    from skimage import color, filters

    rgb = np.random.default_rng(0).random((*shape, 3))
    ref_gray = color.rgb2gray(rgb)
    ours_gray = gray(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 0].numpy()
    np.testing.assert_allclose(ours_gray, ref_gray, atol=1e-12)
    ref = filters.gaussian(ref_gray, 3, mode="nearest", truncate=4.0)
    ours = gaussian_blur_nearest(torch.from_numpy(ref_gray)[None, None], 3.0)[0, 0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert skimage


def test_darkness_weight_formula():
    reflectance = torch.zeros(1, 3, 30, 30, dtype=torch.float64)
    reflectance[..., :, 15:] = 0.9  # a dark half and a bright half
    weight = darkness_weight(reflectance)
    assert weight.shape == (1, 1, 30, 30) and weight.dtype == torch.float64
    assert weight[0, 0, 0, 0] == 0 and weight[0, 0, 0, -1] == 1  # far from the edge: sqrt(2·0), min(sqrt(1.8), 1)


def test_blend_by_hand():
    image, illumination, enhanced = torch.tensor(0.2), torch.tensor(0.25), torch.tensor(0.8)
    assert blend_with_input(image, illumination, enhanced).item() == pytest.approx(0.25 * 0.2 + 0.75 * 0.8)


def test_lol_ratio_is_the_official_numpy_mean():
    rng = np.random.default_rng(1)
    low, high = rng.random((2, 1, 1, 9, 11), dtype=np.float32)
    expected = np.mean(high[0] / (low[0] + 0.0001))
    assert lol_ratio(torch.from_numpy(low), torch.from_numpy(high)).item() == expected


def test_auto_ratio_rule_and_clamp():
    dark, mid, bright = (torch.full((1, 1, 4, 4), v) for v in (1e-3, 0.2, 0.99))
    assert auto_ratio(dark).item() == AUTO_RANGE[1]
    assert auto_ratio(bright).item() == pytest.approx(max(AUTO_RANGE[0], AUTO_SCALE * 0.99 ** -AUTO_EXPONENT))
    assert auto_ratio(mid).item() == pytest.approx(AUTO_SCALE * 0.2 ** -AUTO_EXPONENT, rel=1e-5)


@pytest.mark.parametrize("size,tile,overlap", [(100, 512, 128), (1000, 512, 128), (3000, 512, 128), (777, 128, 200)])
def test_tile_spans_cover_with_overlap_on_the_grid(size, tile, overlap):
    spans = tile_spans(size, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == size
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start % 16 == 0 and end - start >= min(overlap, tile // 2)
    assert all(end - start <= tile + 15 for start, end in spans)


def test_general_pipeline_is_the_official_composition(nets):
    """out = L·S + (1−L)·(R̂·w·L̂), every piece from the reference networks."""
    image = minmax_stretch(torch.rand(1, 3, 24, 40) ** 3)
    result = enhance_general(Runner(nets, "cpu", fast=False), image, 3.0)
    with torch.no_grad():
        reflectance, illumination = nets.decom(image)
        restored = nets.restore(reflectance, illumination)
        adjusted = nets.adjust(illumination, 3.0)
    weight = darkness_weight(reflectance)
    expected = illumination * image + (1 - illumination) * (restored * weight * adjusted)
    torch.testing.assert_close(result.output, expected.double(), atol=1e-6, rtol=0)
    assert result.ratio.tolist() == [3.0]


def test_lol_pipeline_uses_the_ground_truth_ratio(nets):
    low, high = minmax_stretch(torch.rand(2, 3, 20, 28) ** 2).split(1)
    result = enhance_lol(Runner(nets, "cpu", fast=False), low, high)
    with torch.no_grad():
        _, l_low = nets.decom(low)
        _, l_high = nets.decom(high)
    assert result.ratio.item() == pytest.approx(lol_ratio(l_low, l_high).item())
    torch.testing.assert_close(result.output, result.restored * result.adjusted)


@pytest.mark.skipif(not cpu_fusion_available(), reason="this PyTorch has no oneDNN fused convolution")
def test_fast_fp32_path_equals_the_reference(nets):
    image = minmax_stretch(torch.rand(2, 3, 45, 61))
    fast = enhance_general(Runner(nets, "cpu", "fp32"), image, 4.0)
    reference = enhance_general(Runner(nets, "cpu", "fp32", fast=False), image, 4.0)
    for a, b in [(fast.output, reference.output), *zip(fast.maps().values(), reference.maps().values())]:
        assert (a - b).abs().max().item() <= 1e-4


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no native bf16 convolutions")
def test_bf16_path_stays_above_40_db(nets):
    image = minmax_stretch(torch.rand(1, 3, 64, 80) ** 2)
    fast = enhance_general(Runner(nets, "cpu", "bf16"), image, 5.0).output
    reference = enhance_general(Runner(nets, "cpu", "fp32", fast=False), image, 5.0).output
    mse = torch.mean((fast - reference) ** 2).item()
    assert 10 * np.log10(1 / mse) >= 40


def test_bf16_is_refused_where_the_cpu_cannot_run_it(nets, monkeypatch):
    monkeypatch.setattr("kind.inference.runner.cpu_bf16_supported", lambda: False)
    with pytest.raises(RuntimeError, match="bf16"):
        Runner(nets, "cpu", "bf16")


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no native bf16 convolutions")
def test_bf16_is_verified_at_startup(nets, monkeypatch):
    assert checked_runner(nets, "cpu", "bf16").check_psnr >= 40
    monkeypatch.setattr("kind.inference.runner.REDUCED_PRECISION_MIN_PSNR", 1000.0)
    with pytest.raises(RuntimeError, match="startup check gives .* dB against fp32"):
        checked_runner(nets, "cpu", "bf16")


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "bright"])
def test_bad_ratios_are_refused_by_the_pipeline(nets, bad):
    with pytest.raises(ValueError, match="ratio: expected"):
        enhance_general(Runner(nets, "cpu", fast=False), torch.rand(1, 3, 8, 8), bad)


def test_blend_tiles_streams_finished_bands():
    """Issue 15: the tiled path held full-size float accumulators (8 GB for 12000×12000); now the
    rows are handed on band by band as soon as no later tile reaches them."""
    from kind.inference.tiling import blend_tiles

    image = torch.rand(1, 3, 300, 170, generator=torch.Generator().manual_seed(0))

    class Source:
        count, height, width = 1, 300, 170

        def read(self, top, bottom, left, right):
            return image[:, :, top:bottom, left:right]

    events, bands = [], []

    def process(tile):
        events.append("tile")
        return {"output": tile * 2}

    def sink(top, bottom, maps):
        events.append("band")
        bands.append((top, bottom, maps["output"]))

    blend_tiles(Source(), process, sink, tile=64, overlap=16)
    assert [top for top, _, _ in bands] == [0] + [bottom for _, bottom, _ in bands[:-1]]  # contiguous, in order
    assert bands[-1][1] == 300 and len(bands) > 3
    assert max(bottom - top for top, bottom, _ in bands) <= 64 + 15
    assert events.index("band") < len(events) - 1 - events[::-1].index("tile")  # a band before the last tile
    torch.testing.assert_close(torch.cat([rows for _, _, rows in bands], dim=2), image * 2)


@pytest.mark.parametrize("ratio, valid", [(0.0, True), (5, True), (12.5, True), ("auto", True), (-0.5, False),
                                          (float("inf"), False), (float("nan"), False), ("bright", False),
                                          (1000.0, True), (1001.0, False)])
def test_one_ratio_rule_at_every_boundary(ratio, valid):
    """The command line, the pipelines and the eval protocol take the same ratios (kind.constants.ratio_problem)."""
    import argparse

    from kind.cli.arguments import ratio_argument
    from kind.evaluation.protocols import check_protocol
    from kind.inference.pipeline import check_ratio

    def accepts(check, value) -> bool:
        try:
            check(value)
        except (ValueError, argparse.ArgumentTypeError):
            return False
        return True

    assert accepts(ratio_argument, str(ratio)) == accepts(check_ratio, ratio) == valid
    if not isinstance(ratio, str):
        assert accepts(lambda r: check_protocol("fixed", r), ratio) == valid


@pytest.mark.parametrize("height,width", [(1, 3_000_000), (3_000, 1), (5, 700)])
def test_a_thin_image_is_tiled_in_tiles_of_about_tile_squared_pixels(height, width):
    """A 1 × 3,000,000 photo took 7,800 tiles of 1 × 512 (239 s); along a side shorter than the
    tile, tiles now grow along the other to about tile² pixels, and blend back exactly."""
    from kind.inference.tiling import blend_tiles

    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))

    class Source:
        count = 1

        def read(self, top, bottom, left, right):
            return image[:, :, top:bottom, left:right]

    Source.height, Source.width = height, width
    tiles, rows = [], []
    blend_tiles(Source(), lambda tile: tiles.append(tile.shape) or {"output": tile}, lambda t, b, m: rows.append(m["output"]),
                tile=512)
    assert len(tiles) <= 2 * height * width // 512**2 + 2
    torch.testing.assert_close(torch.cat(rows, dim=2), image)
