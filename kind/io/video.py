"""Reading video clips with PyAV (the ``kind[video]`` extra): what a clip holds (:func:`probe`) and
its content in order (:func:`demux`), decoded video frames as RGB samples and every other packet
(audio, subtitles) as it is stored, for copying untouched.

Every failure is a :class:`VideoReadError` whose message starts with the file's path: not a video
PyAV can open, no video stream, a codec this PyAV cannot decode, or damage part-way (the frames
before it have been yielded; the message says at which frame and time it stopped).

>>> info = probe("clip.mp4")                      # doctest: +SKIP
>>> for item in demux(info, open_video(info)):    # doctest: +SKIP
...     if isinstance(item, DecodedFrame): ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from kind.constants import VIDEO_CONTAINERS

COPIED_KINDS = ("audio", "subtitle")  # streams copied into the output as they are
VFR_TOLERANCE = 0.02  # frame durations further than this (relative) from the average: a variable rate


class VideoReadError(ValueError):
    """A clip that cannot be read, or read to its end; the message starts with its path."""


def require_av() -> Any:
    """The ``av`` module, or ImportError saying how to install it."""
    try:
        import av
    except ImportError:
        raise ImportError("video clips need PyAV: pip install 'kind[video]' (or pip install av)") from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a clip holds: its first video stream's size (as stored, before ``rotation``), frame
    count from the container's index (0: not indexed), average frame rate, time base, rotation
    (degrees counter-clockwise, as players apply it), decoder, and the streams copied as they are
    (``copied``: their indices) and left out (``dropped``: descriptions)."""

    path: Path
    width: int
    height: int
    frames: int
    rate: Fraction
    time_base: Fraction
    rotation: int
    codec: str
    container: str
    copied: tuple[int, ...]
    dropped: tuple[str, ...]
    duration: float = 0.0  # the video stream's seconds from the header, where it says (0: unknown)

    @property
    def seconds(self) -> float:
        """The clip's length from its frame count and rate (0 when not indexed)."""
        return float(self.frames / self.rate) if self.frames and self.rate else 0.0


@dataclass
class DecodedFrame:
    """One decoded frame: RGB ``samples`` H×W×3 uint8, its timestamp ``pts`` (in the stream's
    time base; None when the file has none) and its index from 0."""

    samples: np.ndarray
    pts: int | None
    index: int


def output_suffix(path: str | os.PathLike) -> str:
    """The output clip's suffix: the input's when its container is one kind writes (.mp4, .mov,
    .m4v, .mkv), else ``.mkv`` (Matroska holds any codec)."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in VIDEO_CONTAINERS else ".mkv"


def _open(path: Path) -> Any:
    av = require_av()
    if not path.is_file():
        raise VideoReadError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as error:
        hint = ("; an mp4/mov file cut short before its index (moov) was written cannot be read"
                if path.suffix.lower() in (".mp4", ".mov", ".m4v") else "")
        raise VideoReadError(f"{path}: not a video file PyAV can read ({_reason(error)}){hint}") from None


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open ``path`` and describe it (decoding its first frame, for the rotation). Raises
    :class:`VideoReadError` for a file that is not a video, has no video stream, a codec PyAV
    cannot decode, or no frame that decodes."""
    path = Path(path)
    av = require_av()
    with _open(path) as container:
        videos = container.streams.video
        if not videos:
            kinds = ", ".join(sorted({stream.type for stream in container.streams})) or "no streams"
            raise VideoReadError(f"{path}: no video stream (it holds {kinds})")
        stream = videos[0]
        codec = stream.codec_context.name if stream.codec_context is not None else None
        if codec is None or not _can_decode(av, codec):
            named = f"its video codec {codec!r}" if codec else "its video codec (unknown to FFmpeg)"
            raise VideoReadError(f"{path}: unsupported codec: {named} has no decoder in this PyAV "
                                 f"({av.__version__}); convert the clip to H.264 first")
        copied, dropped = [], []
        for other in container.streams:
            if other is stream:
                continue
            if other.type in COPIED_KINDS:
                copied.append(other.index)
            else:
                dropped.append(f"stream {other.index} ({other.type})")
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as error:
            raise VideoReadError(f"{path}: its first frame does not decode ({_reason(error)})") from None
        if first is None:
            raise VideoReadError(f"{path}: its video stream holds no frame that decodes")
        duration = _tagged_seconds(stream.metadata.get("DURATION", ""))  # Matroska's per-stream tag
        if not duration and stream.duration and len(container.streams) == 1:
            duration = float(stream.duration * stream.time_base)
        return VideoInfo(path, stream.width or first.width, stream.height or first.height, stream.frames,
                         Fraction(rate), Fraction(stream.time_base), int(first.rotation or 0) % 360, codec,
                         container.format.name, tuple(copied), tuple(dropped), duration)


def _tagged_seconds(text: str) -> float:
    """``HH:MM:SS.fraction`` (a Matroska DURATION tag) in seconds; 0 when absent or malformed."""
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return 0.0


def _can_decode(av: Any, codec: str) -> bool:
    try:
        av.Codec(codec, "r")
    except (av.error.FFmpegError, ValueError):
        return False
    return True


def open_video(info: VideoInfo) -> Any:
    """The clip opened for :func:`demux` (a PyAV container; close it after the last packet is used)."""
    return _open(info.path)


def demux(info: VideoInfo, container: Any) -> Iterator[DecodedFrame | Any]:
    """The content of the clip ``container`` (:func:`open_video`) in file order: each video frame
    decoded (:class:`DecodedFrame`) and each packet of the streams ``info.copied`` as stored (a
    PyAV packet, for copying; valid while ``container`` is open).

    Raises :class:`VideoReadError` where the file is damaged or ends early (after yielding every
    frame before it): the message says after which frame and time the clip stopped.
    """
    av = require_av()
    video = container.streams.video[0]
    streams = [video, *(container.streams[index] for index in info.copied)]
    count = 0
    last_pts = None
    try:
        for packet in container.demux(streams):
            if packet.stream.index != video.index:
                if packet.dts is not None:
                    yield packet
                continue
            for frame in packet.decode():
                last_pts = frame.pts
                yield DecodedFrame(frame.to_ndarray(format="rgb24"), frame.pts, count)
                count += 1
    except av.error.FFmpegError as error:
        raise VideoReadError(f"{info.path}: damaged: {_stopped(info, count, last_pts)} ({_reason(error)})") from None
    if info.frames and count < info.frames:
        raise VideoReadError(f"{info.path}: truncated: {_stopped(info, count, last_pts)}, "
                             f"of the {info.frames} its index lists")
    if not info.frames and _ends_early(info, last_pts):
        raise VideoReadError(f"{info.path}: truncated: {_stopped(info, count, last_pts)}, "
                             f"of the {info.duration:.2f} s its header gives")


def _ends_early(info: VideoInfo, pts: int | None, frames: float = 2.0) -> bool:
    """Whether the last frame, at ``pts``, comes over ``frames`` frame durations before the end the
    header gives (a file without a frame index, e.g. Matroska, cut short)."""
    if pts is None or not info.duration or not info.rate:
        return False
    return float(pts * info.time_base) + float(frames / info.rate) < info.duration


def _stopped(info: VideoInfo, count: int, pts: int | None) -> str:
    when = f" at {float(pts * info.time_base):.2f} s" if pts is not None else ""
    return f"stopped after frame {count}{when}"


class FrameSteps:
    """The durations between frame timestamps, watched in constant memory: ``add`` each frame's
    pts in order; ``variable`` says whether a duration lies further than ``tolerance`` (relative)
    from the mean one (a variable-frame-rate clip)."""

    def __init__(self, tolerance: float = VFR_TOLERANCE) -> None:
        self.tolerance = tolerance
        self.last: int | None = None
        self.count = 0
        self.total = 0
        self.shortest = self.longest = None

    def add(self, pts: int | None) -> None:
        if pts is None:
            return
        if self.last is not None:
            step = pts - self.last
            self.count += 1
            self.total += step
            self.shortest = step if self.shortest is None else min(self.shortest, step)
            self.longest = step if self.longest is None else max(self.longest, step)
        self.last = pts

    @property
    def variable(self) -> bool:
        if self.count < 2 or self.total <= 0:
            return False
        mean = self.total / self.count
        return max(abs(self.shortest / mean - 1), abs(self.longest / mean - 1)) > self.tolerance


__all__ = ["COPIED_KINDS", "DecodedFrame", "VideoInfo", "VideoReadError", "demux", "open_video", "output_suffix", "probe",
           "require_av", "FrameSteps"]
