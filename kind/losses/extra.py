r"""Extra loss terms for a training stage, configured as ``extra_losses`` in a stage config.

A stage config's ``extra_losses`` is a list of ``{name, weight, on, ...parameters}``; each entry adds
``weight * term(pred, target)`` to the stage's official loss, where ``on`` names the output and the
target it is compared with (:data:`EXTRA_TARGETS`). :func:`check_extra_losses` validates such a list
and fills in the defaults; :class:`ExtraLosses` computes the terms and trains the discriminators of
adversarial terms. docs/losses.md describes every term.

The training loop uses it like this::

    extra = ExtraLosses(config.extra_losses, "restore", seed=config.seed).to(device)
    ...
    outputs = {"restored": (restored, target)}          # only the names in extra.targets
    extra_total, extra_terms = extra(outputs)
    loss = official_total + extra_total
    ... backward, step ...
    d_terms = extra.discriminator_step(outputs)          # {} without adversarial terms
    checkpoint["extra_losses"] = extra.state_dict()     # discriminators and their optimisers
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from kind.losses import color, pixel, structure
from kind.losses._checks import check_choice, check_int, check_number
from kind.losses.adversarial import ADVERSARIAL_MODES, AdversarialLoss
from kind.losses.vgg import CRITERIA, PerceptualLoss, read_vgg_weights, vgg_layer_names

__all__ = ["EXTRA_TARGETS", "EXTRA_TERMS", "check_extra_losses", "ExtraLosses"]

EXTRA_TARGETS: dict[str, dict[str, int]] = {  # stage -> on -> channels of (pred, target)
    "decom": {
        "R_low": 3,  # R_low against R_high
        "R_high": 3,  # R_high against R_low
        "recon_low": 3,  # R_low * L_low against the low-light input
        "recon_high": 3,  # R_high * L_high against the normal-light image
    },
    "adjust": {"adjusted": 1},  # the adjusted illumination against its target
    "restore": {
        "restored": 3,  # the restored reflectance against R_high ** target_gamma
        "product": 3,  # restored * L_high against the normal-light image
        "pipeline": 3,  # restored * the frozen adjustment net's L̂ (official LOL ratio) against the normal-light image
    },
}

REQUIRED = object()  # a parameter without a default


# --- parameter checks: (field, value) -> normalised value, or ValueError ----------------------------


def _as_value_error(check: Callable[..., None], field: str, value: Any, *args: Any) -> None:
    """Run a :mod:`kind.losses._checks` check; a config error is always a ValueError."""
    try:
        check(field, value, *args)
    except TypeError as error:
        raise ValueError(str(error)) from None


def _number(minimum: float, inclusive: bool = True, maximum: float | None = None) -> Callable[[str, Any], float]:
    def check(field: str, value: Any) -> float:
        if isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        _as_value_error(check_number, field, value, minimum, inclusive)
        if maximum is not None and value > maximum:
            raise ValueError(f"{field}: expected a number <= {maximum:g}, got {value!r}")
        return float(value)

    return check


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str, Any], int]:
    def check(field: str, value: Any) -> int:
        _as_value_error(check_int, field, value, minimum, maximum)
        return value

    return check


def _choice(*choices: str) -> Callable[[str, Any], str]:
    def check(field: str, value: Any) -> str:
        check_choice(field, value, choices)
        return value

    return check


def _layer_list(field: str, value: Any) -> list[str]:
    """A layer name or a non-empty list of them (checked against the network with the weights)."""
    layers = [value] if isinstance(value, str) else value
    if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(x, str) for x in layers):
        raise ValueError(f"{field}: expected a layer name or a non-empty list of them (e.g. [relu3_3]), got {value!r}")
    return list(layers)


def _path(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field}: expected a file path, got {type(value).__name__} {value!r}")
    return value


# --- the catalogue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One configurable term: its loss function (or module class), parameters and channel need."""

    params: dict[str, tuple[Any, Callable[[str, Any], Any]]]  # name -> (default or REQUIRED, check)
    function: Callable[..., Tensor] | None = None  # loss(pred, target, **params); None: built below
    channels: int | None = None  # the channel count it needs, if any


EXTRA_TERMS: dict[str, Term] = {
    "l1": Term({}, pixel.l1),
    "mse": Term({}, pixel.mse),
    "smooth_l1": Term({"beta": (1.0, _number(0.0))}, pixel.smooth_l1),
    "huber": Term({"delta": (1.0, _number(0.0, inclusive=False))}, pixel.huber),
    "log_mse": Term({"eps": (1e-8, _number(0.0))}, pixel.log_mse),
    "ssim": Term({}, structure.ssim_loss),
    "ms_ssim": Term({"scales": (5, _integer(1, len(structure.MS_SSIM_WEIGHTS)))}, structure.ms_ssim_loss),
    "perceptual": Term(
        {"layers": (["relu3_3"], _layer_list), "weights": (REQUIRED, _path), "criterion": ("mse", _choice(*CRITERIA))},
        channels=3,
    ),
    "region": Term(
        {
            "fraction": (0.4, _number(0.0, inclusive=False, maximum=1.0)),
            "w_dark": (4.0, _number(0.0)),
            "w_rest": (1.0, _number(0.0)),
            "mask_from": ("pred", _choice(*pixel.REGION_MASK_FROM)),
        },
        pixel.region,
    ),
    "color_angle": Term({}, color.color_angle, channels=3),
    "color_angle_pyramid": Term({"levels": (3, _integer(1))}, color.color_angle_pyramid, channels=3),
    "blur_color": Term({"sigma": (3.0, _number(0.0, inclusive=False))}, color.blur_color),
    "laplacian": Term({"levels": (3, _integer(1))}, structure.laplacian),
    "adversarial": Term({"mode": ("lsgan", _choice(*ADVERSARIAL_MODES)), "d_lr": (1e-4, _number(0.0, inclusive=False))}),
}


def _check_perceptual_weights(where: str, spec: dict) -> None:
    """The weights file must be a readable torchvision VGG holding every requested layer."""
    try:
        network, _ = read_vgg_weights(spec["weights"])
    except ValueError as error:
        raise ValueError(f"{where}: weights: {error}") from None
    names = vgg_layer_names(network)
    unknown = [layer for layer in spec["layers"] if layer not in names]
    if unknown:
        raise ValueError(f"{where}: layers: {unknown} are not {network} layers (known: {names})")


def check_extra_losses(specs: Sequence[Mapping[str, Any]] | None, stage: str, origin: str = "extra_losses") -> list[dict]:
    """Validate a stage's ``extra_losses`` list; return it normalised.

    Each entry becomes ``{"name", "weight" (float), "on", <every parameter of the term>}`` with the
    defaults filled in, so the result can be written back to YAML and read again unchanged. A key
    ``True`` is taken as ``on``: PyYAML reads an unquoted ``on:`` as the boolean true (YAML 1.1).

    Raises:
        ValueError: naming ``origin[index]``, the field and the valid choices: not a list or not a
            mapping, unknown or missing ``name``, missing or negative ``weight``, ``on`` not an
            output of ``stage``, an unknown or ill-typed parameter, a missing required one, a term
            that needs 3 channels on a 1-channel output, a perceptual ``weights`` file that is not a
            readable torchvision VGG, the same ``name`` and ``on`` twice.
    """
    if stage not in EXTRA_TARGETS:
        raise ValueError(f"{origin}: unknown stage {stage!r}, expected one of {sorted(EXTRA_TARGETS)}")
    if specs is None:
        return []
    if not isinstance(specs, (list, tuple)):
        raise ValueError(f"{origin}: expected a list of {{name, weight, on, ...}} mappings, got {type(specs).__name__} {specs!r}")
    targets = EXTRA_TARGETS[stage]
    normalised, seen = [], {}
    for index, spec in enumerate(specs):
        where = f"{origin}[{index}]"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where}: expected a mapping {{name, weight, on, ...}}, got {type(spec).__name__} {spec!r}")
        if True in spec and "on" not in spec:  # YAML 1.1 (PyYAML) reads an unquoted key `on` as true
            spec = {("on" if key is True else key): value for key, value in spec.items()}
        name = spec.get("name")
        if not isinstance(name, str) or name not in EXTRA_TERMS:
            got = "name is missing" if name is None else f"unknown name {name!r}"
            raise ValueError(f"{where}: {got}; expected one of {sorted(EXTRA_TERMS)}")
        where = f"{where} ({name})"
        term = EXTRA_TERMS[name]
        if "weight" not in spec:
            raise ValueError(f"{where}: weight is missing (a number >= 0)")
        try:
            weight = _number(0.0)("weight", spec["weight"])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        on = spec.get("on")
        if not isinstance(on, str) or on not in targets:
            got = "on is missing" if on is None else f"on {on!r} is not an output of {stage}"
            raise ValueError(f"{where}: {got}; expected one of {sorted(targets)}")
        if term.channels is not None and targets[on] != term.channels:
            fitting = sorted(k for k, c in targets.items() if c == term.channels)
            hint = f"use it on one of {fitting}" if fitting else f"{stage} has no {term.channels}-channel output"
            raise ValueError(f"{where}: {name} needs {term.channels}-channel images, but {on} has {targets[on]}; {hint}")
        unknown = sorted(map(str, set(spec) - {"name", "weight", "on"} - set(term.params)))
        if unknown:
            raise ValueError(f"{where}: unknown parameters {unknown}; {name} takes {sorted(term.params) or 'none'}")
        entry: dict[str, Any] = {"name": name, "weight": weight, "on": on}
        for param, (default, check) in term.params.items():
            if param not in spec and default is REQUIRED:
                raise ValueError(f"{where}: {param} is required")
            try:
                entry[param] = check(param, spec[param]) if param in spec else default
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
        if name == "perceptual":
            _check_perceptual_weights(where, entry)
        key = _key(entry)
        if key in seen:
            raise ValueError(f"{where}: {key} is already {origin}[{seen[key]}]; give each name and on once")
        seen[key] = index
        normalised.append(entry)
    return normalised


def _key(spec: Mapping[str, Any]) -> str:
    """The term's name in logs and state dicts: ``name@on``."""
    return f"{spec['name']}@{spec['on']}"


class _FunctionTerm(nn.Module):
    """A stateless term: ``forward(pred, target) = function(pred, target, **params)``."""

    def __init__(self, function: Callable[..., Tensor], params: Mapping[str, Any]) -> None:
        super().__init__()
        self.function = function
        self.params = dict(params)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.function(pred, target, **self.params)


def _build(spec: Mapping[str, Any], channels: int) -> nn.Module:
    term = EXTRA_TERMS[spec["name"]]
    params = {p: spec[p] for p in term.params}
    if spec["name"] == "perceptual":
        return PerceptualLoss(params["layers"], params["weights"], criterion=params["criterion"])
    if spec["name"] == "adversarial":
        return AdversarialLoss(channels, params["mode"], params["d_lr"])
    return _FunctionTerm(term.function, params)


class ExtraLosses(nn.Module):
    r"""The ``extra_losses`` of one stage, ready to add to its loss.

    Args:
        specs: the config's ``extra_losses`` list (checked by :func:`check_extra_losses`).
        stage: ``"decom"``, ``"adjust"`` or ``"restore"``.
        origin: where the list came from, for error messages.
        seed: seeds the discriminators' initialisation, drawn from a forked RNG: building this
            leaves the global torch RNG as it was.

    ``forward(outputs)`` takes ``{on: (pred, target)}`` for at least the names in :attr:`targets`
    and returns ``(total, terms)``: ``total = sum weight * term`` (0-dim; a zero tensor when there
    are no terms) and ``terms = {"name@on": unweighted value}`` (attached, like the official
    terms). An empty list costs nothing: ``len(extra) == 0`` and the loop can skip every call.
    Move it with ``.to(device)`` like the model; its parameters (VGG features, discriminators) are
    not the model's and never go to the model's optimiser.
    """

    def __init__(self, specs: Sequence[Mapping[str, Any]] | None, stage: str, origin: str = "extra_losses", seed: int = 0) -> None:
        super().__init__()
        self.stage = stage
        self.specs = check_extra_losses(specs, stage, origin)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.terms = nn.ModuleDict(
                {_key(spec): _build(spec, EXTRA_TARGETS[stage][spec["on"]]) for spec in self.specs}
            )

    def __len__(self) -> int:
        return len(self.specs)

    @property
    def targets(self) -> frozenset[str]:
        """The ``on`` names the terms need: the outputs the loop must compute."""
        return frozenset(spec["on"] for spec in self.specs)

    def _pairs(self, outputs: Mapping[str, tuple[Tensor, Tensor]]):
        missing = sorted(self.targets - set(outputs))
        if missing:
            raise ValueError(f"extra losses: outputs {missing} are needed (given: {sorted(outputs)})")
        for spec in self.specs:
            yield spec, self.terms[_key(spec)], outputs[spec["on"]]

    def forward(self, outputs: Mapping[str, tuple[Tensor, Tensor]]) -> tuple[Tensor, dict[str, Tensor]]:
        total: Tensor | None = None
        terms: dict[str, Tensor] = {}
        for spec, term, (pred, target) in self._pairs(outputs):
            value = term(pred, target)
            terms[_key(spec)] = value
            total = spec["weight"] * value if total is None else total + spec["weight"] * value
        return (torch.zeros(()) if total is None else total), terms

    def discriminator_step(self, outputs: Mapping[str, tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
        """Train each adversarial term's discriminator one step on the detached ``outputs``; returns
        ``{"name@on/discriminator": loss}`` ({} without adversarial terms)."""
        losses = {}
        for spec, term, (pred, target) in self._pairs(outputs):
            if isinstance(term, AdversarialLoss):
                losses[f"{_key(spec)}/discriminator"] = term.discriminator_step(pred, target)
        return losses

    def _adversarial(self) -> dict[str, AdversarialLoss]:
        return {key: term for key, term in self.terms.items() if isinstance(term, AdversarialLoss)}

    def state_dict(self) -> dict[str, dict]:  # type: ignore[override]
        """``{"name@on": {"discriminator": ..., "optimizer": ...}}`` for every adversarial term: all
        that training changes (the VGG weights are read from their file, the rest has no state)."""
        return {
            key: {"discriminator": term.discriminator.state_dict(), "optimizer": term.optimizer.state_dict()}
            for key, term in self._adversarial().items()
        }

    def load_state_dict(self, state: Mapping[str, Mapping[str, Any]]) -> None:  # type: ignore[override]
        """Restore :meth:`state_dict`'s output; its terms must be exactly this config's adversarial ones."""
        own = self._adversarial()
        if set(state) != set(own):
            raise ValueError(
                f"extra losses state: holds discriminators for {sorted(state)}, the config has {sorted(own)}"
            )
        for key, term in own.items():
            term.discriminator.load_state_dict(state[key]["discriminator"])
            term.optimizer.load_state_dict(state[key]["optimizer"])
