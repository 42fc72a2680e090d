"""How NIQE and LOE are computed (eval, score and the tables share it): one options object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kind.constants import LOE_VARIANTS, NIQE_CHANNELS, NIQE_PARAM_SETS


@dataclass(frozen=True)
class MetricOptions:
    """NIQE's luminance plane (``gray``: MATLAB rgb2gray; ``y``: BasicSR's Y) and pristine model
    (``live``, ``kindpp``), and LOE's variant (``npe``, ``bimef``). Checked when made: ValueError
    names the option."""

    niqe_channel: str = "gray"
    niqe_params: str = "live"
    loe_variant: str = "npe"

    def __post_init__(self) -> None:
        for name, value, choices in (("NIQE channel", self.niqe_channel, NIQE_CHANNELS),
                                     ("NIQE parameters", self.niqe_params, NIQE_PARAM_SETS),
                                     ("LOE variant", self.loe_variant, LOE_VARIANTS)):
            if value not in choices:
                raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")

    def as_dict(self) -> dict[str, str]:
        """``{"niqe_channel", "niqe_params", "loe_variant"}``, as results record them."""
        return dataclasses.asdict(self)


def check_metric_options(niqe_channel: str = "gray", niqe_params: str = "live", loe_variant: str = "npe") -> None:
    """Raise ValueError naming the option for an unknown NIQE plane, NIQE parameter set or LOE variant."""
    MetricOptions(niqe_channel, niqe_params, loe_variant)
