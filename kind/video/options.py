"""How ``kind enhance`` encodes clips: the video encoder and its constant rate factor (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

from kind.constants import DEFAULT_CRF, DEFAULT_VIDEO_CODEC


@dataclass(frozen=True)
class VideoOptions:
    """``codec``: a PyAV video encoder (default ``libx264``, H.264); ``crf``: its constant rate
    factor (0 lossless to 51 for x264/x265, 63 for VP9/AV1; default 18)."""

    codec: str = DEFAULT_VIDEO_CODEC
    crf: int = DEFAULT_CRF


__all__ = ["VideoOptions"]
