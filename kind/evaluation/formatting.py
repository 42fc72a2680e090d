"""How numbers are shown in the reports of score and eval and in the results tables."""

from __future__ import annotations

import math

# Decimals of each metric in eval's report and the tables (kind score shows more: its own digits).
DIGITS = {"psnr": 3, "ssim": 4, "psnr_y": 3, "ssim_y": 4, "loe": 1, "niqe": 3, "saturation": 3, "gt_saturation": 3,
          "seconds": 3}


def format_number(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals; ``inf`` for an infinite one, ``—`` for None (not measured).

    >>> format_number(20.8712, 3), format_number(float("inf"), 3), format_number(None, 3)
    ('20.871', 'inf', '—')
    """
    if value is None:
        return "—"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"
