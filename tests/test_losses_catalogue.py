"""The catalogue of extra loss terms (kind.losses.pixel/structure/color/perceptual/adversarial).

Shared behaviour is checked on one table of terms (shapes, dtypes, identical inputs, gradients,
autocast, non-contiguous inputs, bad inputs); each term then has a class with its known values
and its agreement with torch, kornia or an independent reference.
"""

import math

import kornia
import pytest
import torch
import torch.nn.functional as F

from kind import losses

RED, GREEN = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)


def rand(*shape, dtype=torch.float64, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def colour(rgb, h=2, w=2, dtype=torch.float64):
    """An image of one colour: 1 x 3 x h x w."""
    return torch.tensor(rgb, dtype=dtype).view(1, 3, 1, 1).expand(1, 3, h, w).contiguous()


@pytest.fixture(scope="module")
def vgg16_features():
    torch.manual_seed(0)
    return losses.VGGFeatures("vgg16", ["relu1_2", "relu2_1"])


# name -> (loss(pred, target), channels, side, identical value, gradcheck in fast mode)
TERMS = {
    "l1": (losses.l1, 3, 6, 0.0, False),
    "mse": (losses.mse, 1, 6, 0.0, False),
    "smooth_l1": (lambda p, t: losses.smooth_l1(p, t, beta=0.3), 3, 6, 0.0, False),
    "huber": (lambda p, t: losses.huber(p, t, delta=0.3), 3, 6, 0.0, False),
    "log_mse": (lambda p, t: losses.log_mse(p, t, eps=1e-3), 3, 6, -30.0, False),
    "region": (losses.region, 3, 6, 0.0, False),
    "ssim": (losses.ssim_loss, 3, 12, 0.0, True),
    "ms_ssim": (lambda p, t: losses.ms_ssim_loss(p, t, scales=2), 1, 22, 0.0, True),
    "laplacian": (lambda p, t: losses.laplacian(p, t, levels=2), 3, 6, 0.0, True),
    "color_angle": (losses.color_angle, 3, 5, 0.0, False),
    "color_angle_pyramid": (lambda p, t: losses.color_angle_pyramid(p, t, levels=2), 3, 6, 0.0, True),
    "blur_color": (lambda p, t: losses.blur_color(p, t, sigma=0.6), 3, 6, 0.0, True),
}


@pytest.mark.parametrize("name", TERMS)
class TestEveryTerm:
    def inputs(self, name, n=2, dtype=torch.float64):
        _, channels, side, _, _ = TERMS[name]
        return rand(n, channels, side, side + 2, dtype=dtype, seed=1), rand(n, channels, side, side + 2, dtype=dtype, seed=2)

    def test_smoke_and_cardinality(self, name):
        loss = TERMS[name][0]
        for dtype in (torch.float32, torch.float64):
            value = loss(*self.inputs(name, dtype=dtype))
            assert value.shape == () and value.dtype == dtype and torch.isfinite(value)

    def test_identical_inputs(self, name):
        loss, _, _, expected, _ = TERMS[name]
        pred, _ = self.inputs(name)
        assert loss(pred, pred.clone()).item() == pytest.approx(expected, abs=1e-12)

    def test_gradcheck(self, name):
        loss, _, _, _, fast = TERMS[name]
        pred, target = self.inputs(name, n=1)
        pred.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda p: loss(p, target), (pred,), fast_mode=fast)

    def test_gradient_flows_to_pred(self, name):
        pred, target = self.inputs(name, dtype=torch.float32)
        pred.requires_grad_(True)
        TERMS[name][0](pred, target).backward()
        assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0

    def test_bf16_under_autocast(self, name):
        loss = TERMS[name][0]
        pred, target = (x.bfloat16() for x in self.inputs(name, dtype=torch.float32))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss(pred, target)
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, loss(pred.float(), target.float()))

    def test_non_contiguous(self, name):
        loss = TERMS[name][0]
        pred, target = self.inputs(name, dtype=torch.float32)
        flipped = [x.transpose(2, 3).contiguous().transpose(2, 3) for x in (pred, target)]
        assert not flipped[0].is_contiguous()
        torch.testing.assert_close(loss(*flipped), loss(pred, target))

    def test_exceptions(self, name):
        loss = TERMS[name][0]
        pred, target = self.inputs(name, dtype=torch.float32)
        with pytest.raises(TypeError, match="pred: expected a torch.Tensor"):
            loss(pred.numpy(), target)
        with pytest.raises(TypeError, match="target: expected a floating-point tensor"):
            loss(pred, (target * 255).long())
        with pytest.raises(ValueError, match=r"expected a 4-D NxCxHxW tensor, got shape"):
            loss(pred[0], target[0])
        with pytest.raises(ValueError, match="expected the same shape"):
            loss(pred, target[:1])


# ---------------------------------------------------------------------------------------------------
# pixel


class TestPixel:
    @pytest.mark.parametrize("shift", [0.25, -0.5])
    def test_l1_mse_of_a_shift(self, shift):
        target = rand(2, 3, 4, 5)
        assert losses.l1(target + shift, target).item() == pytest.approx(abs(shift), rel=1e-12)
        assert losses.mse(target + shift, target).item() == pytest.approx(shift**2, rel=1e-12)

    @pytest.mark.parametrize("beta, shift, expected", [(1.0, 0.5, 0.125), (0.25, 0.5, 0.375), (0.0, 0.5, 0.5)])
    def test_smooth_l1_of_a_shift(self, beta, shift, expected):
        target = rand(1, 3, 4, 4)
        assert losses.smooth_l1(target + shift, target, beta=beta).item() == pytest.approx(expected, rel=1e-12)

    @pytest.mark.parametrize("beta", [0.0, 0.1, 1.0])
    def test_smooth_l1_equals_torch(self, beta):
        pred, target = rand(2, 3, 5, 6, seed=1), rand(2, 3, 5, 6, seed=2)
        assert torch.equal(losses.smooth_l1(pred, target, beta=beta), torch.nn.SmoothL1Loss(beta=beta)(pred, target))

    @pytest.mark.parametrize("delta", [0.1, 0.5, 2.0])
    def test_huber_equals_torch_and_scaled_smooth_l1(self, delta):
        pred, target = rand(2, 3, 5, 6, seed=1), rand(2, 3, 5, 6, seed=2)
        value = losses.huber(pred, target, delta=delta)
        assert torch.equal(value, torch.nn.HuberLoss(delta=delta)(pred, target))
        torch.testing.assert_close(value, delta * losses.smooth_l1(pred, target, beta=delta))
        target = rand(1, 1, 3, 3)
        assert losses.huber(target + 0.5, target, delta=0.1).item() == pytest.approx(0.1 * (0.5 - 0.05), rel=1e-12)

    def test_log_mse_known_values(self):
        target = rand(2, 3, 4, 4)
        assert losses.log_mse(target, target).item() == pytest.approx(10 * math.log10(1e-8), rel=1e-12)
        assert losses.log_mse(target + 0.1, target, eps=0.0).item() == pytest.approx(-20.0, rel=1e-12)
        # per image, then averaged: MSE 0.01 and 0.0001 give -20 dB and -40 dB
        pred = target + torch.tensor([0.1, 0.01], dtype=torch.float64).view(2, 1, 1, 1)
        assert losses.log_mse(pred, target, eps=0.0).item() == pytest.approx(-30.0, rel=1e-12)

    def test_region_by_hand(self):
        # 10 pixels, fraction 0.4: MBLLEN's index int(10 * 0.4 - 1) = 3, so the 4 darkest are weighted 4
        target = torch.arange(10, dtype=torch.float64).view(1, 1, 2, 5) / 10
        pred = target + 0.1
        assert losses.region(pred, target, mask_from="target").item() == pytest.approx((4 * 4 + 6) * 0.1 / 10, rel=1e-12)
        # weights 1 and 1 is L1; a region of everything is w_dark * L1
        assert losses.region(pred, target, w_dark=1.0).item() == pytest.approx(0.1, rel=1e-12)
        assert losses.region(pred, target, fraction=1.0, w_dark=3.0).item() == pytest.approx(0.3, rel=1e-12)

    def test_region_mask_comes_from_pred_by_default(self):
        # pred's darkest pixel is target's brightest: only its error is weighted 4 by default
        target = torch.tensor([[[[0.0, 0.5], [0.6, 0.9]]]], dtype=torch.float64)
        pred = torch.tensor([[[[0.1, 0.5], [0.6, 0.0]]]], dtype=torch.float64)  # errors 0.1, 0, 0, 0.9
        assert losses.region(pred, target, fraction=0.25).item() == pytest.approx((0.1 + 4 * 0.9) / 4, rel=1e-12)
        assert losses.region(pred, target, fraction=0.25, mask_from="target").item() == pytest.approx((4 * 0.1 + 0.9) / 4, rel=1e-12)

    def test_region_darkness_uses_mbllen_grey_and_keeps_ties(self):
        # (1, 0, 0) has grey 0.39 < (0, 1, 0) at 0.5: red is the dark one; equal greys are both dark
        pred = torch.cat([colour(RED, 1, 1), colour(GREEN, 1, 1)], dim=3)
        target = torch.zeros_like(pred)
        assert losses.region(pred, target, fraction=0.5, w_dark=1.0, w_rest=0.0).item() == pytest.approx(1 / 6)
        tie = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64)
        assert losses.region(tie, torch.zeros_like(tie), fraction=0.25).item() == pytest.approx(4 * 0.5)

    def test_region_is_l1_with_fixed_weights(self):
        pred, target = rand(2, 3, 6, 7, seed=1), rand(2, 3, 6, 7, seed=2)
        pred.requires_grad_(True)
        losses.region(pred, target).backward()
        gray = (pred.detach() * torch.tensor(losses.pixel.REGION_GRAY, dtype=torch.float64).view(1, 3, 1, 1)).sum(1, keepdim=True)
        dark = gray <= gray.flatten(1).kthvalue(int(42 * 0.4 - 1) + 1, dim=1).values.view(-1, 1, 1, 1)
        weight = torch.where(dark, 4.0, 1.0).expand_as(pred)
        torch.testing.assert_close(pred.grad, weight * (pred.detach() - target).sign() / pred.numel())

    @pytest.mark.parametrize(
        "call, error, match",
        [
            (lambda x: losses.smooth_l1(x, x, beta=-1.0), ValueError, "beta: expected a finite number >= 0"),
            (lambda x: losses.huber(x, x, delta=0.0), ValueError, "delta: expected a finite number > 0"),
            (lambda x: losses.huber(x, x, delta="1"), TypeError, "delta: expected a number, got str"),
            (lambda x: losses.log_mse(x, x, eps=float("nan")), ValueError, "eps: expected a finite number"),
            (lambda x: losses.region(x, x, fraction=1.5), ValueError, r"fraction: expected a number in \(0, 1\]"),
            (lambda x: losses.region(x, x, fraction=0.0), ValueError, "fraction: expected a finite number > 0"),
            (lambda x: losses.region(x, x, mask_from="input"), ValueError, r"mask_from: expected one of \['pred', 'target'\]"),
            (lambda x: losses.region(x[:, :2], x[:, :2]), ValueError, "pred: expected 1 or 3 channels"),
        ],
    )
    def test_bad_parameters(self, call, error, match):
        with pytest.raises(error, match=match):
            call(rand(1, 3, 4, 4))


# ---------------------------------------------------------------------------------------------------
# structure


class TestSSIM:
    def test_is_one_minus_the_official_ssim(self):
        pred, target = rand(2, 3, 12, 13, seed=1), rand(2, 3, 12, 13, seed=2)
        assert torch.equal(losses.ssim_loss(pred, target), 1.0 - losses.ssim(pred, target))

    def test_too_small(self):
        with pytest.raises(ValueError, match="H and W >= 11"):
            losses.ssim_loss(rand(1, 3, 10, 12), rand(1, 3, 10, 12))


class TestMSSSIM:
    def test_one_scale_is_the_official_ssim(self):
        img1 = rand(2, 3, 17, 14, seed=1)
        img2 = (img1 + 0.1 * rand(2, 3, 17, 14, seed=2)).clamp(0, 1)
        assert losses.ms_ssim(img1, img2, scales=1).item() == pytest.approx(losses.ssim(img1, img2).item(), rel=1e-12)

    def test_matches_pytorch_msssim(self):
        # Reference: pytorch-msssim 1.0.0, ms_ssim(x, y, data_range=1.0) with its window built in
        # float64 (its default float32 window moves the 7th digit). Sides divisible by 16 (its zero
        # padding of odd sides differs from msssim.m's replication).
        index = torch.arange(2 * 176 * 192, dtype=torch.float64).reshape(1, 2, 176, 192)
        x = (0.5 + 0.4 * torch.sin(index * 0.0123)).clamp(0, 1)
        y = (x * 0.8 + 0.1 + 0.1 * torch.sin(index * 1.7)).clamp(0, 1)
        assert losses.ms_ssim(x, y).item() == pytest.approx(0.9497246320631582, rel=1e-12)

    def test_constant_images(self):
        # No variance: every cs is 1, and the coarsest SSIM is the luminance term.
        a, b, c1 = 0.6, 0.3, 0.01**2
        img1, img2 = torch.full((1, 1, 176, 180), a, dtype=torch.float64), torch.full((1, 1, 176, 180), b, dtype=torch.float64)
        luminance = (2 * a * b + c1) / (a * a + b * b + c1)
        assert losses.ms_ssim(img1, img2).item() == pytest.approx(luminance**0.1333, rel=1e-12)
        with pytest.warns(UserWarning, match="fit 2 of 5 scales"):
            two = losses.ms_ssim(img1[..., :22, :22], img2[..., :22, :22])
        assert two.item() == pytest.approx(luminance ** (0.2856 / (0.0448 + 0.2856)), rel=1e-12)

    @pytest.mark.parametrize("side, fit", [(10, 0), (11, 1), (21, 2), (48, 3), (96, 4), (175, 5), (384, 5)])
    def test_scales_that_fit(self, side, fit):
        assert losses.ms_ssim_scales(side, 500) == fit

    def test_small_patch_uses_fewer_scales_and_says_so(self):
        img1, img2 = rand(2, 3, 48, 48, seed=1), rand(2, 3, 48, 48, seed=2)
        with pytest.warns(UserWarning, match="48x48 images fit 3 of 5 scales"):
            value = losses.ms_ssim_loss(img1, img2)
        assert torch.equal(value, losses.ms_ssim_loss(img1, img2, scales=3))

    def test_exceptions(self):
        with pytest.raises(ValueError, match="H and W >= 11"):
            losses.ms_ssim(rand(1, 3, 10, 40), rand(1, 3, 10, 40))
        with pytest.raises(ValueError, match=r"scales: expected an int >= 1 and <= 5, got 6"):
            losses.ms_ssim(rand(1, 3, 16, 16), rand(1, 3, 16, 16), scales=6)


class TestLaplacian:
    def test_pyramid_equals_kornia(self):
        x = rand(2, 3, 32, 16)  # a power of two: kornia does not pad
        ours = losses.laplacian_pyramid(x, 4)
        theirs = kornia.geometry.transform.build_laplacian_pyramid(x, 4)
        assert [tuple(t.shape) for t in ours] == [(2, 3, 32 >> i, 16 >> i) for i in range(4)]
        for a, b in zip(ours, theirs):
            assert torch.equal(a, b)

    def test_pyramid_of_48_is_not_padded(self):
        assert [t.shape[-1] for t in losses.laplacian_pyramid(rand(1, 1, 48, 48), 3)] == [48, 24, 12]

    def test_known_values(self):
        pred, target = rand(2, 3, 8, 12, seed=1), rand(2, 3, 8, 12, seed=2)
        assert losses.laplacian(pred, target, levels=1).item() == pytest.approx(losses.l1(pred, target).item(), rel=1e-12)
        # a constant shift is all in the low-pass level, weighted 2^(levels - 1)
        assert losses.laplacian(target + 0.1, target, levels=3).item() == pytest.approx(0.4, rel=1e-9)

    def test_weights_each_level(self):
        pred, target = rand(1, 3, 16, 16, seed=1), rand(1, 3, 16, 16, seed=2)
        bands = zip(losses.laplacian_pyramid(pred, 3), losses.laplacian_pyramid(target, 3))
        expected = sum(2**i * (a - b).abs().mean() for i, (a, b) in enumerate(bands))
        torch.testing.assert_close(losses.laplacian(pred, target, levels=3), expected)

    def test_exceptions(self):
        with pytest.raises(ValueError, match=r"divisible by 2\^\(levels-1\) = 4"):
            losses.laplacian(rand(1, 3, 10, 12), rand(1, 3, 10, 12), levels=3)
        with pytest.raises(ValueError, match=r"a 3-level pyramid needs H and W .*>= 6"):
            losses.laplacian(rand(1, 3, 4, 4), rand(1, 3, 4, 4), levels=3)
        with pytest.raises(ValueError, match="levels: expected an int >= 1, got 0"):
            losses.laplacian(rand(1, 3, 8, 8), rand(1, 3, 8, 8), levels=0)


# ---------------------------------------------------------------------------------------------------
# colour


class TestColorAngle:
    @pytest.mark.parametrize(
        "a, b, angle",
        [(RED, GREEN, math.pi / 2), ((1.0, 1.0, 0.0), RED, math.pi / 4), ((0.2, 0.4, 0.6), (0.1, 0.2, 0.3), 0.0)],
    )
    def test_known_angles(self, a, b, angle):
        assert losses.color_angle(colour(a), colour(b)).item() == pytest.approx(angle, abs=3e-6)

    def test_map_is_per_pixel(self):
        pred = torch.cat([colour(RED, 1, 1), colour(GREEN, 1, 1)], dim=3)
        target = colour(RED, 1, 2)
        angles = losses.color_angle_map(pred, target)
        assert angles.shape == (1, 1, 1, 2)
        torch.testing.assert_close(angles.flatten(), torch.tensor([0.0, math.pi / 2], dtype=torch.float64), atol=3e-6, rtol=0)

    def test_equals_acos_away_from_the_ends(self):
        pred, target = rand(2, 3, 5, 6, seed=1) + 0.1, rand(2, 3, 5, 6, seed=2) + 0.1
        p, t = pred + losses.color.ANGLE_EPS, target + losses.color.ANGLE_EPS
        reference = torch.acos(F.cosine_similarity(p, t, dim=1, eps=0.0)).mean()
        torch.testing.assert_close(losses.color_angle(pred, target), reference, rtol=1e-10, atol=1e-12)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_safe_gradients_at_equal_opposite_and_black_pixels(self, dtype):
        pred = torch.cat([colour((0.3, 0.5, 0.7), 1, 1), colour((0.0, 0.0, 0.0), 1, 1), colour((0.5, 0.5, 0.5), 1, 1)], dim=3)
        target = torch.cat([colour((0.3, 0.5, 0.7), 1, 1), colour((0.0, 0.0, 0.0), 1, 1), colour((1.0, 1.0, 1.0), 1, 1)], dim=3)
        pred = pred.to(dtype).requires_grad_(True)
        value = losses.color_angle(pred, target.to(dtype))
        value.backward()
        assert value.item() == pytest.approx(0.0, abs=1e-7)
        assert torch.isfinite(pred.grad).all() and pred.grad.abs().max() == 0  # the minimum: no push
        opposite = colour((0.0, 1.0, 1.0), 1, 1).requires_grad_(True)
        losses.color_angle(opposite, colour(RED, 1, 1)).backward()
        assert torch.isfinite(opposite.grad).all()

    def test_brightness_blind(self):
        target = rand(1, 3, 4, 4) + 0.1
        assert losses.color_angle(0.5 * target, target).item() == pytest.approx(0.0, abs=1e-6)
        assert losses.l1(0.5 * target, target).item() > 0.05

    def test_needs_rgb(self):
        with pytest.raises(ValueError, match=r"pred: expected 3 channel\(s\)"):
            losses.color_angle(rand(1, 1, 4, 4), rand(1, 1, 4, 4))


class TestColorAnglePyramid:
    def test_one_level_is_color_angle(self):
        pred, target = rand(2, 3, 8, 8, seed=1), rand(2, 3, 8, 8, seed=2)
        assert torch.equal(losses.color_angle_pyramid(pred, target, levels=1), losses.color_angle(pred, target))

    def test_mean_over_gaussian_levels(self):
        pred, target = rand(2, 3, 16, 12, seed=1), rand(2, 3, 16, 12, seed=2)
        levels = zip(kornia.geometry.transform.build_pyramid(pred, 3), kornia.geometry.transform.build_pyramid(target, 3))
        expected = sum(losses.color_angle(a, b) for a, b in levels) / 3
        torch.testing.assert_close(losses.color_angle_pyramid(pred, target, levels=3), expected)

    def test_uniform_colours_have_the_same_angle_on_every_level(self):
        value = losses.color_angle_pyramid(colour(RED, 8, 8), colour((1.0, 1.0, 0.0), 8, 8), levels=3)
        assert value.item() == pytest.approx(math.pi / 4, abs=3e-6)

    def test_exceptions(self):
        with pytest.raises(ValueError, match=r"a 3-level pyramid needs H and W >= 6"):
            losses.color_angle_pyramid(rand(1, 3, 5, 8), rand(1, 3, 5, 8), levels=3)
        with pytest.raises(ValueError, match=r"target: expected 3 channel\(s\)"):
            losses.color_angle_pyramid(rand(1, 3, 8, 8), rand(1, 1, 8, 8))


class TestBlurColor:
    def test_constant_shift(self):
        target = torch.full((1, 3, 12, 12), 0.2, dtype=torch.float64)
        assert losses.blur_color(target + 0.5, target).item() == pytest.approx(0.25, rel=1e-12)

    def test_equals_a_direct_gaussian_convolution(self):
        sigma = 1.5
        pred, target = rand(2, 3, 14, 15, seed=1), rand(2, 3, 14, 15, seed=2)
        radius = math.ceil(3 * sigma)
        grid = torch.arange(-radius, radius + 1, dtype=torch.float64)
        g = torch.exp(-(grid**2) / (2 * sigma**2))
        kernel = torch.outer(g, g) / g.sum() ** 2

        def blur(x):
            padded = F.pad(x, (radius,) * 4, mode="reflect")
            return F.conv2d(padded, kernel.expand(3, 1, -1, -1), groups=3)

        expected = (blur(pred) - blur(target)).square().mean()
        torch.testing.assert_close(losses.blur_color(pred, target, sigma=sigma), expected)

    def test_removes_texture(self):
        i = torch.arange(16)
        texture = ((i[:, None] + i[None, :]) % 2).double().expand(1, 3, 16, 16)  # a 1-pixel checkerboard
        flat = torch.full_like(texture, 0.5)
        assert losses.mse(texture, flat).item() == pytest.approx(0.25)
        assert losses.blur_color(texture, flat, sigma=2.0).item() < 1e-3

    def test_exceptions(self):
        with pytest.raises(ValueError, match=r"needs H and W >= 10"):
            losses.blur_color(rand(1, 3, 9, 20), rand(1, 3, 9, 20), sigma=3.0)
        with pytest.raises(ValueError, match="sigma: expected a finite number > 0"):
            losses.blur_color(rand(1, 3, 9, 20), rand(1, 3, 9, 20), sigma=0)


# ---------------------------------------------------------------------------------------------------
# perceptual


def torchvision_vgg(network):
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(1)
    return make_layers(cfgs["D" if network == "vgg16" else "E"])


class TestPerceptual:
    @pytest.mark.parametrize("network", ["vgg16", "vgg19"])
    def test_layer_names_follow_torchvision_indices(self, network):
        names = losses.vgg_layer_names(network)
        features = torchvision_vgg(network)
        assert len(names) == len(features)
        for name, module in zip(names, features):
            assert type(module).__name__ == {"conv": "Conv2d", "relu": "ReLU", "pool": "MaxPool2d"}[name[:4]]
        assert names.index("relu3_3") == 15 and names.index("relu2_2") == 8

    @pytest.mark.parametrize("network, layer", [("vgg16", "relu3_3"), ("vgg19", "relu3_4")])
    def test_loads_torchvision_weights_and_matches_its_features(self, tmp_path, network, layer):
        features = torchvision_vgg(network)
        path = tmp_path / f"{network}.pth"
        torch.save({f"features.{k}": v for k, v in features.state_dict().items()} | {"classifier.0.bias": torch.zeros(4)}, path)
        found, state = losses.read_vgg_weights(path)
        assert found == network
        ours = losses.VGGFeatures(network, [layer], state)
        x = rand(1, 3, 16, 16, dtype=torch.float32)
        mean, std = torch.tensor(losses.vgg.IMAGENET_MEAN), torch.tensor(losses.vgg.IMAGENET_STD)
        expected = features[: losses.vgg_layer_names(network).index(layer) + 1]((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
        torch.testing.assert_close(ours(x)[layer], expected)
        module = losses.PerceptualLoss([layer], weights=path)
        assert module.features.network == network

    def test_only_needed_layers_are_built_and_frozen(self, vgg16_features):
        assert len(vgg16_features.features) == 7  # conv, relu, conv, relu, pool, conv, relu2_1
        assert not any(p.requires_grad for p in vgg16_features.parameters())
        out = vgg16_features(rand(2, 3, 8, 8, dtype=torch.float32))
        assert {k: tuple(v.shape) for k, v in out.items()} == {"relu1_2": (2, 64, 8, 8), "relu2_1": (2, 128, 4, 4)}

    def test_function_values(self, vgg16_features):
        pred, target = rand(2, 3, 8, 8, dtype=torch.float32, seed=1), rand(2, 3, 8, 8, dtype=torch.float32, seed=2)
        assert losses.perceptual(pred, pred.clone(), vgg16_features).item() == 0.0
        a, b = vgg16_features(pred), vgg16_features(target)
        for criterion, dist in (("mse", lambda d: d.square()), ("l1", lambda d: d.abs())):
            expected = sum(dist(a[k] - b[k]).mean() for k in a) / 2
            torch.testing.assert_close(losses.perceptual(pred, target, vgg16_features, criterion), expected)

    def test_module_equals_function(self, vgg16_features):
        module = losses.PerceptualLoss(["relu1_2", "relu2_1"], network="vgg16", criterion="l1")
        module.features.load_state_dict(vgg16_features.state_dict())
        pred, target = rand(1, 3, 8, 8, dtype=torch.float32, seed=1), rand(1, 3, 8, 8, dtype=torch.float32, seed=2)
        assert torch.equal(module(pred, target), losses.perceptual(pred, target, vgg16_features, "l1"))

    def test_gradcheck(self):
        torch.manual_seed(0)
        features = losses.VGGFeatures("vgg16", ["relu1_1"]).double()
        pred, target = rand(1, 3, 4, 4, seed=1).requires_grad_(True), rand(1, 3, 4, 4, seed=2)
        assert torch.autograd.gradcheck(lambda p: losses.perceptual(p, target, features), (pred,), fast_mode=True)

    def test_bad_weights_files(self, tmp_path):
        with pytest.raises(ValueError, match="no such VGG weights file"):
            losses.read_vgg_weights(tmp_path / "missing.pth")
        (tmp_path / "text.pth").write_text("not a checkpoint")
        with pytest.raises(ValueError, match="cannot read a torch state dict"):
            losses.read_vgg_weights(tmp_path / "text.pth")
        torch.save([torch.zeros(1)], tmp_path / "list.pth")
        with pytest.raises(ValueError, match="expected a state dict"):
            losses.read_vgg_weights(tmp_path / "list.pth")
        torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.1.weight": torch.zeros(64)}, tmp_path / "bn.pth")
        with pytest.raises(ValueError, match=r"expected a torchvision VGG-16 or VGG-19 .* got features.N.weight at N = \[0, 1\]"):
            losses.read_vgg_weights(tmp_path / "bn.pth")

    def test_bad_shapes_and_layers(self):
        state = {f"features.{k}": v for k, v in torchvision_vgg("vgg16").state_dict().items()}
        state["features.2.weight"] = torch.zeros(64, 64, 1, 1)
        with pytest.raises(ValueError, match=r"features.2.weight: expected shape \(64, 64, 3, 3\), got \(64, 64, 1, 1\)"):
            losses.VGGFeatures("vgg16", ["relu1_2"], state)
        with pytest.raises(ValueError, match=r"\['relu3_4'\] are not vgg16 layers"):
            losses.VGGFeatures("vgg16", ["relu3_4"])
        with pytest.raises(ValueError, match="network: expected one of"):
            losses.VGGFeatures("vgg11", ["relu1_1"])

    def test_input_checks(self, vgg16_features):
        with pytest.raises(ValueError, match=r"pred: expected 3 channel\(s\)"):
            losses.perceptual(rand(1, 1, 8, 8), rand(1, 1, 8, 8), vgg16_features)
        with pytest.raises(TypeError, match="features: expected a VGGFeatures"):
            losses.perceptual(rand(1, 3, 8, 8), rand(1, 3, 8, 8), torch.nn.Identity())
        with pytest.raises(ValueError, match=r"criterion: expected one of \['mse', 'l1'\]"):
            losses.perceptual(rand(1, 3, 8, 8), rand(1, 3, 8, 8), vgg16_features, "cosine")


# ---------------------------------------------------------------------------------------------------
# adversarial


class TestAdversarial:
    def test_patch_discriminator_shapes(self):
        torch.manual_seed(0)
        assert losses.PatchDiscriminator(3)(torch.rand(2, 3, 48, 48)).shape == (2, 1, 4, 4)
        assert losses.PatchDiscriminator(1)(torch.rand(1, 1, 64, 32)).shape == (1, 1, 6, 2)

    @pytest.mark.parametrize(
        "mode, real, fake, d_expected, g_expected",
        [
            ("lsgan", 1.0, 0.0, 0.0, 1.0),
            ("lsgan", 0.0, 1.0, 1.0, 0.0),
            ("bce", 0.0, 0.0, math.log(2), math.log(2)),
            ("bce", 50.0, -50.0, 0.0, 50.0),
        ],
    )
    def test_losses_on_known_logits(self, mode, real, fake, d_expected, g_expected):
        real_logits, fake_logits = torch.full((2, 1, 3, 3), real), torch.full((2, 1, 3, 3), fake)
        assert losses.discriminator_adversarial_loss(real_logits, fake_logits, mode).item() == pytest.approx(d_expected, abs=1e-6)
        assert losses.generator_adversarial_loss(fake_logits, mode).item() == pytest.approx(g_expected, abs=1e-6)

    @pytest.mark.parametrize("mode", ["lsgan", "bce"])
    def test_generator_term_and_discriminator_step(self, mode):
        torch.manual_seed(0)
        term = losses.AdversarialLoss(3, mode, d_lr=1e-3, width=8)
        pred, target = torch.rand(2, 3, 24, 24, requires_grad=True), torch.rand(2, 3, 24, 24)
        term(pred, target).backward()
        assert pred.grad.abs().sum() > 0
        assert all(p.grad is None for p in term.parameters())  # the generator's pass leaves D alone
        before = [p.clone() for p in term.discriminator.parameters()]
        d_losses = [term.discriminator_step(pred, target).item() for _ in range(5)]
        assert all(not torch.equal(a, b) for a, b in zip(before, term.discriminator.parameters()))
        assert d_losses[-1] < d_losses[0]  # it learns to tell the two apart
        assert not any(p.requires_grad for p in term.discriminator.parameters())
        assert pred.grad is not None and pred.grad.abs().sum() > 0

    def test_exceptions(self):
        with pytest.raises(ValueError, match=r"mode: expected one of \['lsgan', 'bce'\], got 'wgan'"):
            losses.AdversarialLoss(3, "wgan")
        with pytest.raises(ValueError, match="d_lr: expected a finite number > 0"):
            losses.AdversarialLoss(3, d_lr=0.0)
