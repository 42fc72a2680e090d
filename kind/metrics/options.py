"""The metric options shared by eval, score and the tables: NIQE plane and parameters, LOE variant."""

from __future__ import annotations

from kind.constants import LOE_VARIANTS, NIQE_CHANNELS, NIQE_PARAM_SETS


def check_metric_options(niqe_channel: str = "gray", niqe_params: str = "live", loe_variant: str = "npe") -> None:
    """Raise ValueError naming the option for an unknown NIQE plane, NIQE parameter set or LOE variant."""
    for name, value, choices in (("NIQE channel", niqe_channel, NIQE_CHANNELS),
                                 ("NIQE parameters", niqe_params, NIQE_PARAM_SETS),
                                 ("LOE variant", loe_variant, LOE_VARIANTS)):
        if value not in choices:
            raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
