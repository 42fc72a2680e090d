"""Writing a clip with PyAV: enhanced RGB frames encoded (H.264 by default, ``crf``), each at its
input timestamp (a variable frame rate is kept), the input's rotation kept, and the input's audio
and subtitle packets copied as they are (remuxed, never decoded).

The caller writes to a temporary path (:func:`kind.io.atomic.atomic_path`) and names the
container format, since that path's suffix is ``.tmp``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any

import numpy as np

from kind.io.video import VideoInfo, require_av

CRF_CODECS = ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1")  # encoders with a crf option


def check_codec(codec: str, crf: int) -> None:
    """Raise ValueError for an encoder this PyAV lacks (or one that is no video encoder) or a crf
    outside 0-51 (63 for VP9/AV1)."""
    av = require_av()
    try:
        found = av.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError):
        found = None
    if found is None or found.type != "video":
        raise ValueError(f"codec: {codec!r} is not a video encoder this PyAV has (e.g. libx264, libx265, mpeg4)")
    top = 51 if codec in ("libx264", "libx265") else 63
    if not 0 <= crf <= top:
        raise ValueError(f"crf: expected 0 to {top} for {codec}, got {crf}")


class VideoWriter:
    """An output clip at ``path`` in container ``format`` (``mp4``, ``mov``, ``matroska``) shaped
    like ``info``'s video: :meth:`frame` for each enhanced frame, :meth:`packet` for each copied
    packet (from :func:`kind.io.video.demux`), :meth:`close` at the end (flushes the encoder).
    Raises ValueError naming the stream when the container cannot hold a copied stream's codec."""

    def __init__(self, path: str | os.PathLike, format: str, info: VideoInfo, source: Any,
                 codec: str = "libx264", crf: int = 18) -> None:
        av = require_av()
        self.info = info
        self.container = av.open(str(path), "w", format=format)
        try:
            self.video = self._add_video(codec, crf)
            self.copies = {}
            for index in info.copied:
                stream = source.streams[index]
                name = stream.codec_context.name if stream.codec_context is not None else "unknown"
                if name not in self.container.supported_codecs:
                    raise ValueError(f"{info.path}: its {stream.type} stream {index} ({name}) cannot be copied into "
                                     f"{format}; enhance the clip to .mkv (rename the input) to keep it")
                self.copies[index] = self.container.add_stream_from_template(stream)
        except BaseException:
            self.container.close()
            raise

    def _add_video(self, codec: str, crf: int) -> Any:
        info = self.info
        options = {"crf": str(crf)} if codec in CRF_CODECS else {}
        rate = info.rate if info.rate else Fraction(25)
        stream = self.container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height = info.width, info.height
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        formats = [f.name for f in (stream.codec_context.codec.video_formats or [])]
        even = info.width % 2 == 0 and info.height % 2 == 0
        stream.pix_fmt = "yuv420p" if even and (not formats or "yuv420p" in formats) else _full_chroma(formats)
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        return stream

    def frame(self, samples: np.ndarray, pts: int | None) -> None:
        """Encode one RGB frame H×W×3 uint8 at timestamp ``pts`` (in the input's time base)."""
        av = require_av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(samples), format="rgb24")
        frame.pts = pts
        frame.time_base = self.info.time_base
        self.container.mux(self.video.encode(frame))

    def packet(self, packet: Any) -> None:
        """Copy one packet of a stream in ``info.copied`` as it is."""
        packet.stream = self.copies[packet.stream.index]
        self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        try:
            self.container.mux(self.video.encode(None))
        finally:
            self.container.close()

    def abort(self) -> None:
        """Close without flushing (the file is to be thrown away)."""
        self.container.close()


def _full_chroma(formats: list[str]) -> str:
    """A pixel format without chroma subsampling (odd widths and heights), as the encoder offers."""
    for name in ("yuv444p", "yuvj444p", "rgb24", "bgr0", "gbrp"):
        if not formats or name in formats:
            return name
    return formats[0]


__all__ = ["CRF_CODECS", "VideoWriter", "check_codec"]
