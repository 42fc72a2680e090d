"""How ``kind enhance`` encodes clips: the video encoder and its constant rate factor."""

from __future__ import annotations

from dataclasses import dataclass

from kind.constants import DEFAULT_CRF, DEFAULT_VIDEO_CODEC


@dataclass(frozen=True)
class VideoOptions:
    """``codec``: a PyAV video encoder (default ``libx264``, H.264); ``crf``: its constant rate
    factor (0 lossless to 51 for x264/x265, 63 for VP9/AV1; default 18); ``ratio``: the clips' own
    ratio when it differs from the photos' (``kind enhance`` without ``--ratio``: ``auto``, the
    steady light, since a fixed ratio's per-frame stretch follows the noise), None for the same."""

    codec: str = DEFAULT_VIDEO_CODEC
    crf: int = DEFAULT_CRF
    ratio: float | str | None = None

    def check(self) -> None:
        """Raise ValueError for an encoder PyAV lacks or a crf out of its range; without PyAV
        nothing (each clip then fails saying how to install it)."""
        try:
            from kind.io.video_write import check_codec

            check_codec(self.codec, self.crf)
        except ImportError:
            return


__all__ = ["VideoOptions"]
