"""The three KinD training stages (spec section 5) as a small table of plain functions: what data
a stage prepares, how it turns cut patches into a batch, its loss, and its validation.

:mod:`kind.train.loop` runs any of them. Validation runs in batches of equal-sized images; every loss
and metric is still computed per image, as before (the official gradient operator normalises over
its whole batch, so batching the loss would change it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

import torch
from torch import Tensor, nn

from kind import losses
from kind.inference.fused import cpu_fusion_available, fuse_for_cpu, prepare_input
from kind.inference.pipeline import lol_ratio
from kind.metrics import psnr_torch, saturation_torch, ssim_torch
from kind.progress import Progress
from kind.io.pairs import DataError
from kind.train.config import AdjustConfig, DecomConfig, RestoreConfig, TrainConfig, folder_list, largest_patch
from kind.train.data import PairedImages, PatchDraws, list_pairs, patch_batches, read_pairs, split_holdout
from kind.train.decomposition_cache import cache_key, load_cached, save_cache
from kind.weights.format import content_sha256, load_network, resolve_weight_file

Maps = dict[str, list[Tensor]]  # named per-image C×H×W tensors, cut into patches together
LossOut = tuple[Tensor, dict[str, Tensor], dict[str, tuple[Tensor, Tensor]]]  # total, terms, outputs for extra losses
Loaded = TypeVar("Loaded")  # what a loader of a config setting's folders gives (_named)
VAL_BATCH_PIXELS = 2_000_000  # pixels per validation (and frozen decomposition) forward pass
VAL_PATCH_BATCHES = 50  # decom: training-style batches of the held-out pairs its validation scores
VAL_PATCH_SEED = 0  # their draws: the same in every run, whatever its training seed


@dataclass
class StageData:
    """A stage's prepared data: training maps (on the training device), validation maps, the
    training pairs' names (the training set's identity in checkpoints), and frozen networks that
    validation needs."""

    train: Maps
    val: Maps
    names: list[str]
    nets: dict[str, nn.Module] = field(default_factory=dict)
    val_batches: list[dict[str, Tensor]] = field(default_factory=list)  # fixed patch batches of the held-out pairs

    @property
    def has_validation(self) -> bool:
        return len(next(iter(self.val.values()), [])) > 0


def size_batches(sizes: list[tuple[int, ...]], max_pixels: int = VAL_BATCH_PIXELS) -> list[list[int]]:
    """Indices grouped by image size, each group cut so one batch holds at most ``max_pixels``
    (at least one image)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, size in enumerate(sizes):
        groups.setdefault(tuple(size), []).append(index)
    batches = []
    for size, indices in groups.items():
        per_batch = max(1, max_pixels // (size[-2] * size[-1]))
        batches += [indices[i : i + per_batch] for i in range(0, len(indices), per_batch)]
    return batches


def stacked(maps: Maps, indices: list[int], names: tuple[str, ...] | None = None) -> dict[str, Tensor]:
    """name → N×C×H×W of the images ``indices`` (equal sizes)."""
    return {name: torch.stack([maps[name][i] for i in indices]) for name in names or maps}


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}


def quality(pred: Tensor, target: Tensor, prefix: str = "") -> dict[str, float]:
    """PSNR/SSIM of 1×C×H×W images after the official truncating 8-bit save."""
    return {f"{prefix}psnr": float(psnr_torch(pred, target)[0]), f"{prefix}ssim": float(ssim_torch(pred, target)[0])}


def load_splits(config: TrainConfig, min_size: int) -> tuple[PairedImages, PairedImages, list[Tensor]]:
    """(train, validation, the validation's normal-light images as saved): the validation pairs are
    the last ``holdout`` pairs of the ``train_dir`` folders (in order) plus all of ``val_dir``. Each
    file is read once: the validation pairs as saved, then stretched like the training pairs
    (``config.stretch``)."""
    training, held_out = split_holdout(_named("train_dir", list_pairs, config.train_dir), config.holdout)
    train = _named("train_dir", read_pairs, training, config.stretch, min_size)
    val = _named("train_dir", read_pairs, held_out, False, min_size)
    if folder_list(config.val_dir):
        val = val + _named("val_dir", read_pairs, _named("val_dir", list_pairs, config.val_dir), False)
    return train, val.stretched() if config.stretch else val, val.high


def _named(setting: str, load: Callable[..., Loaded], *args: object) -> Loaded:
    """``load(*args)`` (:func:`list_pairs`, :func:`read_pairs`) of a config setting's folders; a
    DataError names the setting first."""
    try:
        return load(*args)
    except DataError as error:
        raise DataError(f"{setting} {error}") from None


def to_device(images: list[Tensor], device: torch.device) -> list[Tensor]:
    return [x.to(device) for x in images]


# --- stage 1: decomposition ------------------------------------------------------------------


def decom_prepare(config: TrainConfig, device: torch.device, progress: bool = False) -> StageData:
    train, val, _ = load_splits(config, largest_patch(config))
    val_maps = {"low": to_device(val.low, device), "high": to_device(val.high, device)}
    return StageData({"low": train.low, "high": train.high}, val_maps, train.names,
                     val_batches=held_out_batches(val_maps, config, device))


def held_out_batches(val: Maps, config: TrainConfig, device: torch.device) -> list[dict[str, Tensor]]:
    """``VAL_PATCH_BATCHES`` batches of ``batch_size`` × ``patch_size``² patches of the held-out
    pairs, drawn as training draws them (seed ``VAL_PATCH_SEED``): the objective the optimiser sees,
    which — unlike the whole-image loss — does not rank a flat illumination above the authors'
    decomposition (docs/decomposition-study.md, finding 1)."""
    if not val["low"]:
        return []
    return patch_batches(val, config.batch_size, config.patch_size, VAL_PATCH_BATCHES, VAL_PATCH_SEED, device)


def decom_weights(config: DecomConfig) -> dict[str, float]:
    """The decomposition loss weights: the official ones, with the configured reflectance similarity."""
    return losses.DECOMPOSITION_WEIGHTS | {"equal_R": config.equal_r_weight}


def decom_loss(model: nn.Module, batch: dict[str, Tensor], config: DecomConfig, wanted: frozenset = frozenset()) -> LossOut:
    low, high = batch["low"], batch["high"]
    reflectance, illumination = model(torch.cat([low, high]))  # one pass for both halves
    n = low.shape[0]
    r_low, l_low, r_high, l_high = reflectance[:n], illumination[:n], reflectance[n:], illumination[n:]
    total, terms = losses.decomposition_loss(low, high, r_low, l_low, r_high, l_high, decom_weights(config))
    outputs = {"R_low": lambda: (r_low, r_high), "R_high": lambda: (r_high, r_low),
               "recon_low": lambda: (r_low * l_low, low), "recon_high": lambda: (r_high * l_high, high)}
    return total, terms, {name: outputs[name]() for name in wanted}


def decom_validate(model: nn.Module, data: StageData, config: DecomConfig) -> tuple[dict[str, float], dict[str, Tensor]]:
    """On the held-out pairs, with the training loss weights: ``patch_loss``, the loss of the fixed
    training-style batches (selects ``best.pt``), and per whole image the ``loss``, the
    reconstructions ``R_low·L_low`` against the low image (``recon_low_*``) and ``R_high·L_high``
    against the normal one (``recon_high_*``: ``kind diagnose``'s ``recon``, the decomposition's
    ceiling, here against the image as the network sees it), and the illuminations' mean and
    spatial std."""
    patch_losses = []
    for batch in data.val_batches:
        total, _, _ = decom_loss(model, batch, config)
        patch_losses.append(float(total))
    rows, shown = [], {}
    for indices in size_batches([x.shape for x in data.val["low"]]):
        batch = stacked(data.val, indices)
        n = len(indices)
        reflectance, illumination = model(torch.cat([batch["low"], batch["high"]]))
        for j, i in enumerate(indices):
            low, high = batch["low"][j : j + 1], batch["high"][j : j + 1]
            r_low, l_low = reflectance[j : j + 1], illumination[j : j + 1]
            r_high, l_high = reflectance[n + j : n + j + 1], illumination[n + j : n + j + 1]
            total, _ = losses.decomposition_loss(low, high, r_low, l_low, r_high, l_high, decom_weights(config))
            rows.append({"loss": float(total), **quality(r_low * l_low, low, "recon_low_"),
                         **quality(r_high * l_high, high, "recon_high_"),
                         "L_low_mean": float(l_low.mean()), "L_high_mean": float(l_high.mean()),
                         "L_low_std": float(l_low.std()), "L_high_std": float(l_high.std())})
            if i < config.val_images:
                shown[f"{i}"] = torch.cat([low, r_low, l_low.expand_as(r_low), high, r_high, l_high.expand_as(r_high)])
    return {"patch_loss": sum(patch_losses) / len(patch_losses), **mean_metrics(rows)}, shown


# --- the frozen DecomNet of stages 2 and 3 ----------------------------------------------------------


@torch.inference_mode()
def decompose_all(decom: nn.Module, images: list[Tensor], device: torch.device, fused: bool,
                  bar: Progress | None = None) -> tuple[list[Tensor], list[Tensor]]:
    """(R 3×H×W, L 1×H×W) of each image, in batches of equal sizes; ``bar`` advances by each batch."""
    reflectances: list[Tensor] = [torch.empty(0)] * len(images)
    illuminations: list[Tensor] = [torch.empty(0)] * len(images)
    for indices in size_batches([x.shape for x in images]):
        x = torch.stack([images[i] for i in indices]).to(device)
        reflectance, illumination = decom(prepare_input(x, torch.float32) if fused else x)
        for j, i in enumerate(indices):
            reflectances[i] = reflectance[j].contiguous()
            illuminations[i] = illumination[j].contiguous()
        if bar is not None:
            bar.update(len(indices))
    return reflectances, illuminations


def frozen_decomposition(config: AdjustConfig | RestoreConfig, device: torch.device, min_size: int,
                         progress: bool = False) -> tuple[Maps, Maps, list[str]]:
    """Train/val maps of the frozen DecomNet's ``R_low``, ``L_low``, ``R_high``, ``L_high`` and the
    (stretched) normal-light images ``high``, computed once per run (fused on CPU), with a progress
    bar when ``progress``, or read from the run folder's cache (:mod:`kind.train.decomposition_cache`);
    the validation maps also hold ``gt``, the normal-light images as saved; the training names."""
    train, val, gt = load_splits(config, min_size)
    cache_id = cache_key(content_sha256(resolve_weight_file(config.decom_weights, "decom")), (train, val))
    cached = load_cached(config.out_dir, cache_id)
    if cached is not None:
        train_maps, val_maps = ({"high": split.high, **{name: [x.to(device) for x in maps[name]] for name in maps}}
                                for split, maps in zip((train, val), cached))
        return train_maps, val_maps | {"gt": gt}, train.names
    decom = load_network(config.decom_weights, "decom", device)
    fused = device.type == "cpu" and cpu_fusion_available()
    if fused:
        decom = fuse_for_cpu(decom)
    out = []
    bar = Progress(2 * (len(train.low) + len(val.low)), desc="decompose with the frozen DecomNet", unit="img",
                   enabled=progress)
    for split in (train, val):
        maps: Maps = {"high": split.high}
        for key, images in (("low", split.low), ("high", split.high)):
            maps[f"R_{key}"], maps[f"L_{key}"] = decompose_all(decom, images, device, fused, bar)
        out.append(maps)
    bar.close()
    save_cache(config.out_dir, cache_id, out)
    return out[0], out[1] | {"gt": gt}, train.names


# --- stage 2: illumination adjustment ----------------------------------------------------------


def adjust_prepare(config: TrainConfig, device: torch.device, progress: bool = False) -> StageData:
    train, val, names = frozen_decomposition(config, device, largest_patch(config), progress)
    keep = ("L_low", "L_high")
    return StageData({k: train[k] for k in keep}, {k: val[k] for k in keep}, names)


def adjustment_ratio(l_low: Tensor, l_high: Tensor) -> Tensor:
    """α = mean(L_low / (L_high + 1e-4)) per patch (N×1×H×W → (N,)); the mean is the same before
    and after the patch's augmentation."""
    return (l_low / (l_high + 1e-4)).flatten(1).mean(dim=1)


def adjust_batch(patches: dict[str, Tensor], draws: PatchDraws, config: TrainConfig) -> dict[str, Tensor]:
    """With probability ½ (the draw's coin) a patch brightens (L_low → L_high, ratio 1/α + 1e-4),
    else it darkens (L_high → L_low, ratio α)."""
    alpha = adjustment_ratio(patches["L_low"], patches["L_high"])
    brighten = draws.coin < 0.5
    pick = brighten.view(-1, 1, 1, 1)
    return {
        "input": torch.where(pick, patches["L_low"], patches["L_high"]),
        "target": torch.where(pick, patches["L_high"], patches["L_low"]),
        "ratio": torch.where(brighten, 1 / alpha + 1e-4, alpha),
    }


def adjust_loss(model: nn.Module, batch: dict[str, Tensor], config: TrainConfig, wanted: frozenset = frozenset()) -> LossOut:
    adjusted = model(batch["input"], batch["ratio"])
    total, terms = losses.adjustment_loss(adjusted, batch["target"])
    return total, terms, {"adjusted": (adjusted, batch["target"])} if wanted else {}


def adjust_validate(model: nn.Module, data: StageData, config: TrainConfig) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Brighten each validation L_low towards its L_high with the training ratio 1/α + 1e-4."""
    rows, shown = [], {}
    for indices in size_batches([x.shape for x in data.val["L_low"]]):
        batch = stacked(data.val, indices)
        ratio = 1 / adjustment_ratio(batch["L_low"], batch["L_high"]) + 1e-4
        adjusted = model(batch["L_low"], ratio)
        for j, i in enumerate(indices):
            l_low, l_high, out = batch["L_low"][j : j + 1], batch["L_high"][j : j + 1], adjusted[j : j + 1]
            total, _ = losses.adjustment_loss(out, l_high)
            rows.append({"loss": float(total), **quality(out, l_high)})
            if i < config.val_images:
                shown[f"{i}"] = torch.cat([l_low, out, l_high])
    return mean_metrics(rows), shown


# --- stage 3: reflectance restoration -----------------------------------------------------------


def restore_prepare(config: TrainConfig, device: torch.device, progress: bool = False) -> StageData:
    train, val, names = frozen_decomposition(config, device, largest_patch(config), progress)

    def target(split: Maps) -> list[Tensor]:
        return [r.clamp(min=0) ** config.target_gamma for r in split["R_high"]]

    nets = {}
    train_maps = {"R_low": train["R_low"], "L_low": train["L_low"], "target": target(train)}
    wanted = {spec["on"] for spec in config.extra_losses}
    if "product" in wanted:  # R̂·L_high against the normal-light image
        train_maps |= {"L_high": train["L_high"], "high": train["high"]}
    val_maps = {"R_low": val["R_low"], "L_low": val["L_low"], "target": target(val)}
    if config.adjust_weights:
        nets["adjust"] = load_network(config.adjust_weights, "adjust", device)
        if "pipeline" in wanted:  # R̂·L̂ against the normal-light image, as the official protocol scores it
            train_maps |= {"L_adjusted": adjusted_all(nets["adjust"], train), "high": train["high"]}
        val_maps |= {"L_high": val["L_high"], "gt": to_device(val["gt"], device)}
    return StageData(train_maps, val_maps, names, nets)


@torch.no_grad()
def adjusted_all(adjust: nn.Module, maps: Maps) -> list[Tensor]:
    """The frozen adjustment net's L̂ of each image (1×H×W), relit with the official LOL ratio from
    its own L_low and L_high (:func:`kind.inference.pipeline.lol_ratio`), as validation relights."""
    device = next(adjust.parameters()).device
    out: list[Tensor] = [torch.empty(0)] * len(maps["L_low"])
    for indices in size_batches([x.shape for x in maps["L_low"]]):
        batch = {name: x.to(device) for name, x in stacked(maps, indices, ("L_low", "L_high")).items()}
        adjusted = adjust(batch["L_low"], lol_ratio(batch["L_low"], batch["L_high"]).to(device)).float()
        for j, i in enumerate(indices):
            out[i] = adjusted[j].to(maps["L_low"][i].device)
    return out


CHANNEL_ORDERS = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
COLOUR_MAPS = ("R_low", "target", "high")  # the restoration batch's RGB maps (L_low, L_high, L_adjusted are grey)


@cache
def channel_orders(device: torch.device) -> Tensor:
    """:data:`CHANNEL_ORDERS` on ``device``, copied there once (a step makes no host-device copy)."""
    return CHANNEL_ORDERS.to(device)


def restore_batch(patches: dict[str, Tensor], draws: PatchDraws, config: RestoreConfig) -> dict[str, Tensor]:
    """With ``channel_shuffle``, each patch's RGB maps take one of the 6 channel orders, chosen by
    the draw's coin (uniform over the 6), the same order for every map of the patch: new colours
    for the same scenes and noise. (On LOL it greys the output: restoration study, finding 12.)"""
    if not config.channel_shuffle:
        return patches
    order = channel_orders(draws.coin.device)[(draws.coin * len(CHANNEL_ORDERS)).long()]  # N×3, on the patches' device
    shuffled = dict(patches)
    for name in COLOUR_MAPS:
        if name in patches:
            x = patches[name]
            shuffled[name] = torch.gather(x, 1, order[:, :, None, None].expand_as(x))
    return shuffled


def restore_loss(model: nn.Module, batch: dict[str, Tensor], config: TrainConfig, wanted: frozenset = frozenset()) -> LossOut:
    restored = model(batch["R_low"], batch["L_low"])
    total, terms = losses.restoration_loss(restored, batch["target"])
    if config.square_weight != 1.0:  # the official total with the squared-error term reweighted
        total = total + (config.square_weight - 1.0) * terms["square"]
    outputs = {"restored": lambda: (restored, batch["target"]), "product": lambda: (restored * batch["L_high"], batch["high"]),
               "pipeline": lambda: (restored * batch["L_adjusted"], batch["high"])}
    return total, terms, {name: outputs[name]() for name in wanted}


def restore_validate(model: nn.Module, data: StageData, config: RestoreConfig) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Loss and R̂ quality against R_high^γ; with an adjustment net, also the official protocol's
    pipeline ``R̂ · L̂`` (ratio from the ground truth's decomposition) against the ground truth,
    and its colour saturation beside the ground truth's."""
    rows, shown = [], {}
    adjust = data.nets.get("adjust")
    for indices in size_batches([x.shape for x in data.val["R_low"]]):
        batch = stacked(data.val, indices)
        restored = model(batch["R_low"], batch["L_low"])
        if adjust is not None:
            ratio = lol_ratio(batch["L_low"], batch["L_high"]).to(restored.device)
            output = restored.float() * adjust(batch["L_low"], ratio).float()
        for j, i in enumerate(indices):
            out, target = restored[j : j + 1], batch["target"][j : j + 1]
            total, _ = losses.restoration_loss(out, target)
            row = {"loss": float(total), **quality(out, target), "saturation": float(saturation_torch(out.float().clamp(0, 1))[0]),
                   "target_saturation": float(saturation_torch(target.float().clamp(0, 1))[0])}  # R̂ greyer than its target
            if adjust is not None:
                gt = batch["gt"][j : j + 1]
                row |= quality(output[j : j + 1], gt, "pipeline_")
                row |= {"pipeline_saturation": float(saturation_torch(output[j : j + 1])[0]),
                        "gt_saturation": float(saturation_torch(gt)[0])}  # washed-out colours: below the GT's
            rows.append(row)
            if i < config.val_images:
                pipeline = [output[j : j + 1], batch["gt"][j : j + 1]] if adjust is not None else []
                shown[f"{i}"] = torch.cat([x.float() for x in (batch["R_low"][j : j + 1], out, target, *pipeline)])
    return mean_metrics(rows), shown


def decom_guard(metrics: dict[str, float], config: DecomConfig) -> str | None:
    """Why a decom validation may not become ``best.pt`` whatever its patch loss (None: it may)."""
    if metrics["L_low_std"] < config.guard_min_l_std:
        return f"L_low_std {metrics['L_low_std']:.4f} < guard_min_l_std {config.guard_min_l_std} (L is going flat)"
    if metrics["recon_high_psnr"] < config.guard_min_recon_psnr:
        return f"recon_high_psnr {metrics['recon_high_psnr']:.2f} < guard_min_recon_psnr {config.guard_min_recon_psnr}"
    return None


def no_guard(metrics: dict[str, float], config: TrainConfig) -> str | None:
    return None


def restore_select(config: RestoreConfig) -> str:
    return "pipeline_psnr" if config.adjust_weights else "psnr"


# --- the stage table -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Stage:
    """What makes one training stage: its network, data, batches, loss, validation, and the
    validation metric that selects ``best.pt``."""

    network: str
    modes: int  # dihedral modes drawn (the official adjustment stage draws 0–6 only)
    prepare: Callable[[TrainConfig, torch.device, bool], StageData]  # (config, device, progress bar)
    batch: Callable[[dict[str, Tensor], PatchDraws, TrainConfig], dict[str, Tensor]]
    loss: Callable[[nn.Module, dict[str, Tensor], TrainConfig, frozenset], LossOut]  # + the wanted extra-loss outputs
    validate: Callable[[nn.Module, StageData, TrainConfig], tuple[dict[str, float], dict[str, Tensor]]]
    select: Callable[[TrainConfig], str]
    higher_is_better: bool
    guard: Callable[[dict[str, float], TrainConfig], str | None] = no_guard  # why a validation may not be best.pt


def patches_as_batch(patches: dict[str, Tensor], draws: PatchDraws, config: TrainConfig) -> dict[str, Tensor]:
    return patches


STAGES: dict[str, Stage] = {
    "decom": Stage(
        network="decom", modes=8, prepare=decom_prepare, batch=patches_as_batch, loss=decom_loss,
        validate=decom_validate, select=lambda config: "patch_loss", higher_is_better=False, guard=decom_guard,
    ),
    "adjust": Stage(
        network="adjust", modes=7, prepare=adjust_prepare, batch=adjust_batch, loss=adjust_loss,
        validate=adjust_validate, select=lambda config: "psnr", higher_is_better=True,
    ),
    "restore": Stage(
        network="restore", modes=8, prepare=restore_prepare, batch=restore_batch, loss=restore_loss,
        validate=restore_validate, select=restore_select, higher_is_better=True,
    ),
}
