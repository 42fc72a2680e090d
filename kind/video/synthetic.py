"""Dark clips made from a still photo, for the tests, the benchmark and the docs' figure: a camera
window panning and zooming across the photo (or standing still), each frame with fresh sensor noise
(shot noise, Poisson in the photon count, plus Gaussian read noise), an optional cut to another
photo, and an optional audio tone. Nothing third-party: the photos are kind's own (kind/assets) or
any the caller gives.

>>> write_dark_clip("static.mp4", photo, frames=24, size=(160, 96))        # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from kind.io.video import require_av


@dataclass(frozen=True)
class Motion:
    """The camera window over the photo: its centre moves from ``start`` to ``end`` (fractions of the
    photo's width and height) and its width from ``zoom[0]`` to ``zoom[1]`` of the photo's."""

    start: tuple[float, float] = (0.5, 0.5)
    end: tuple[float, float] = (0.5, 0.5)
    zoom: tuple[float, float] = (1.0, 1.0)


STILL = Motion()


def frame_of(photo: np.ndarray, size: tuple[int, int], t: float, motion: Motion = STILL) -> np.ndarray:
    """The window at time ``t`` (0 to 1) of ``photo`` (H×W×3 uint8), resized to ``size`` (width,
    height) by nearest neighbours, as float32 in [0, 1]."""
    height, width = photo.shape[:2]
    out_w, out_h = size
    span = motion.zoom[0] + (motion.zoom[1] - motion.zoom[0]) * t
    win_w = min(width, span * width)
    win_h = min(height, win_w * out_h / out_w)
    win_w = win_h * out_w / out_h
    cx = (motion.start[0] + (motion.end[0] - motion.start[0]) * t) * width
    cy = (motion.start[1] + (motion.end[1] - motion.start[1]) * t) * height
    left = float(np.clip(cx - win_w / 2, 0, width - win_w))
    top = float(np.clip(cy - win_h / 2, 0, height - win_h))
    cols = np.clip((left + (np.arange(out_w) + 0.5) * win_w / out_w).astype(int), 0, width - 1)
    rows = np.clip((top + (np.arange(out_h) + 0.5) * win_h / out_h).astype(int), 0, height - 1)
    return photo[rows][:, cols].astype(np.float32) / 255.0


def add_sensor_noise(clean: np.ndarray, rng: np.random.Generator, photons: float = 400.0,
                     read_noise: float = 0.01) -> np.ndarray:
    """``clean`` (float, [0, 1]) as a sensor would record it: Poisson shot noise for ``photons`` at
    full scale, plus Gaussian read noise of standard deviation ``read_noise``; uint8."""
    noisy = rng.poisson(clean * photons) / photons + rng.normal(0.0, read_noise, clean.shape)
    return (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_dark_clip(
    path: str | os.PathLike,
    photo: np.ndarray,
    frames: int = 24,
    size: tuple[int, int] = (160, 96),
    rate: int = 24,
    motion: Motion = STILL,
    cut: tuple[int, np.ndarray] | None = None,
    audio: bool = False,
    photons: float = 400.0,
    read_noise: float = 0.01,
    seed: int = 0,
    codec: str = "libx264",
    crf: int = 0,
    options: dict[str, str] | None = None,
    rotation: int = 0,
    times_ms: list[int] | None = None,
    gain: float = 1.0,
    subtitle: str | None = None,
) -> None:
    """Write a dark noisy clip of ``photo`` (H×W×3 uint8): ``frames`` at ``rate`` fps, ``size``
    (width, height), the window moving as ``motion`` says; ``cut`` (frame, other photo) shows the
    other photo from that frame on; ``audio`` adds a mono 440 Hz AAC tone as long as the clip.
    ``crf`` 0 (lossless H.264) keeps the noise as it was made; ``options``: the container's
    (``{"movflags": "faststart"}`` puts an mp4's index first); ``rotation``: degrees for players
    to turn it; ``times_ms``: each frame's timestamp in milliseconds (a variable frame rate);
    ``gain``: the photo's light scaled by it before the noise (0.5: a stop darker); ``subtitle``:
    one SubRip cue over the whole clip (Matroska, ``.mkv``, only)."""
    av = require_av()
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w", options=options or {}) as container:
        video = container.add_stream(codec, rate=rate, options={"crf": str(crf)} if codec == "libx264" else {})
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        base = Fraction(1, 1000) if times_ms is not None else Fraction(1, rate)
        video.codec_context.time_base = base
        if rotation:
            video.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=16000, layout="mono") if audio else None
        if subtitle is not None:
            cue = av.Packet(subtitle.encode("utf-8"))
            cue.stream = container.add_mux_stream("subrip")
            cue.pts = cue.dts = 0
            cue.duration = round(1000 * frames / rate)
            cue.time_base = Fraction(1, 1000)
            container.mux(cue)
        for index in range(frames):
            source = cut[1] if cut is not None and index >= cut[0] else photo
            clean = frame_of(source, size, index / max(frames - 1, 1), motion) * gain
            frame = av.VideoFrame.from_ndarray(add_sensor_noise(clean, rng, photons, read_noise), format="rgb24")
            frame.pts = times_ms[index] if times_ms is not None else index
            frame.time_base = base
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _write_tone(av, container, sound, frames / rate)


def _write_tone(av: object, container: object, stream: object, seconds: float, rate: int = 16000) -> None:
    block = stream.codec_context.frame_size or 1024
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, samples, block):
        piece = np.zeros((1, block), np.float32)
        chunk = tone[start:start + block]
        piece[0, :len(chunk)] = chunk
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


__all__ = ["Motion", "STILL", "add_sensor_noise", "frame_of", "write_dark_clip"]
