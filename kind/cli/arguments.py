"""What the subcommands share: the argument types and options, and the process settings a command applies first."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from kind.constants import DEFAULT_MAX_PIXELS, DEFAULT_STRENGTH, PRECISIONS, SHIPPED, parse_ratio, strength_problem


Handler = Callable[[argparse.Namespace], int]
ParserBuilder = Callable[[argparse._SubParsersAction], argparse.ArgumentParser]
WEIGHTS_HELP = (f"{SHIPPED} (the weights inside the package, the default), a shipped version (e.g. v0.1), "
                "a folder with decom.pt, restore.pt, adjust.pt, or each network on its own: "
                "decom=PATH,adjust=PATH,restore=shipped")


def add_runner_arguments(p: argparse.ArgumentParser, weights_help: str | None = None) -> None:
    """``--weights``, ``--device`` and ``--precision``: where the networks come from and run."""
    p.add_argument("--weights", metavar="SPEC", help=weights_help or WEIGHTS_HELP)
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="network precision (default fp32)")


def tune_for_command(max_image_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """The process-wide settings of a kind command (:func:`kind.tune_process`), before its work."""
    from kind.tuning import tune_process

    tune_process(max_image_pixels=max_image_pixels)


def pixels_argument(minimum: int, maximum: int | None = None, unit: str = "pixels"):
    """An argparse type: a whole number (of ``unit``) from ``minimum`` to ``maximum`` (if given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of {unit}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"expected {bounds} {unit}, got {value}")
        return value

    return parse


def ratio_argument(text: str) -> float | str:
    """``--ratio``: a number from 0 to ``MAX_RATIO``, or ``auto`` in any case
    (:func:`kind.constants.parse_ratio`, the rule the app follows too)."""
    try:
        return parse_ratio(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def strength_argument(text: str) -> float:
    """``--strength``: the denoise strength, a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if strength_problem(value):
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def add_strength_argument(p: argparse.ArgumentParser) -> None:
    """``--strength S``: the denoise strength (:class:`kind.KinD`'s ``strength``)."""
    p.add_argument("--strength", type=strength_argument, default=DEFAULT_STRENGTH, metavar="S",
                   help="denoise strength from 0 to 1: the output uses R + S·(R̂ − R), from the unrestored "
                   "reflectance R (0: texture and noise kept) to KinD's restored R̂ (1, the default)")


def ratio_sweep_argument(text: str) -> float | str | list[float | str]:
    """``--ratio`` of ``kind enhance``: one ratio (:func:`ratio_argument`), or several,
    comma-separated, for a sweep."""
    if "," in text:
        return [ratio_argument(part.strip()) for part in text.split(",")]
    return ratio_argument(text)
