"""Batch enhancement of image files, the library behind ``kind enhance`` (spec sections 4 and 6).

Each image is read with :func:`kind.io.read.read_image` (its samples as stored, alpha kept apart,
EXIF and ICC profile kept for the output), enhanced by :meth:`kind.KinD.enhance_samples` — the one
implementation of the photo pipeline, which the Python API runs too; a sweep's ratios of one image
(``--ratio 1,3,5``) are one read, one decomposition and restoration (:meth:`kind.KinD.prepare`) and
one relighting per ratio, the same pixels as single runs — and written at
``OUTDIR / relpath`` in the chosen format (PNG by default) with any alpha channel, the EXIF
(orientation reset) and the ICC profile carried over.

Three stages overlap: a small thread pool decodes the next images, the calling thread runs the
networks, and one writer thread encodes the outputs. Both queues are bounded by a number of images
and by ``BUFFER_PIXELS`` (an image larger than that waits until it is alone), so however long the
batch and however large its photos, memory holds a bounded amount. Every output is written
atomically (temporary file, then rename).

Safety (:func:`kind.io.plan.plan_jobs`, before any work): nothing is written over an input file, and nothing is
written into an input folder except into an output folder that was empty or absent when the run
started. Inputs are collected before the output folder is created, so outputs never become inputs.
Two inputs that would write the same file (``photo.tif`` and ``photo.webp``) both keep their full
name (``photo.tif.png``, ``photo.webp.png``); if that still clashes (one name from two folders named
as files, or names differing only in case), the first input keeps the name and the others fail
with the reason — the rest of the batch runs. An output that would replace a file already in a
folder holding inputs (``kind enhance own/a.jpg -o own`` beside an unrelated ``own/a.png``) keeps
its input's suffix the same way (``own/a.jpg.png``), with a notice.

>>> model = KinD.from_pretrained()                              # doctest: +SKIP
>>> summary = enhance_files(["photos"], "enhanced", model)       # doctest: +SKIP
>>> print(summary.report())                                      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from kind.constants import DEFAULT_QUALITY, DEFAULT_RATIO, LOSSY_FORMATS, OUTPUT_FORMATS, SIXTEEN_BIT_FORMATS
from kind.inference.pipeline import RatioChoice, check_ratio
from kind.io.atomic import remove_stale_temp_files
from kind.io.inputs import is_video_name
from kind.io.panels import make_panel
from kind.io.plan import Job, Plan, check_outputs, plan_jobs, ratio_job, ratio_tag
from kind.io.read import ImageReadError, LoadedImage, as_uint8, header_pixels, read_image
from kind.io.video import VideoReadError
from kind.io.write import save_image
from kind.progress import Progress
from kind.video.options import VideoOptions

if TYPE_CHECKING:
    from kind.api import KinD, Photo

ASSETS_DIR = Path(__file__).resolve().parent / "assets"  # bundled low-light samples for `kind demo`
PREFETCH = 2  # images decoded ahead of the one being enhanced
READ_THREADS = 2  # decoder threads
PENDING_WRITES = 2  # finished images waiting for, or in, the writer thread
BUFFER_PIXELS = 25_000_000  # pixels decoded ahead, and pixels waiting to be written (each queue)
PROGRESS_LOG_S = 10.0  # seconds between progress lines when stderr is not a terminal
SWEEP_KEEP_PIXELS = 50_000_000  # a sweep keeps an image's decomposition and restoration (~30 bytes a pixel) up to this
IMAGE_ERRORS = (ValueError, RuntimeError, OSError, MemoryError)  # per-image failures (ImageReadError is a ValueError)


@dataclass(frozen=True)
class SaveOptions:
    """How outputs are written: ``format`` (``png``, ``jpg``, ``tiff``, ``webp``), ``quality`` (JPEG
    and WebP, 1-100) and ``bits`` (8, or 16 for PNG and TIFF: every output then has 16 bits a
    sample, the network's output quantized to 65536 levels instead of 256)."""

    format: str = "png"
    quality: int = DEFAULT_QUALITY
    bits: int = 8

    def check(self) -> None:
        """Raise ValueError for an unknown format, a quality outside 1-100, or bits the format cannot hold."""
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(f"format: expected one of {', '.join(OUTPUT_FORMATS)}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality: expected 1 to 100, got {self.quality}")
        if self.bits not in (8, 16):
            raise ValueError(f"bits: expected 8 or 16, got {self.bits}")
        if self.bits == 16 and self.format not in SIXTEEN_BIT_FORMATS:
            raise ValueError(f"bits 16: only {' and '.join(SIXTEEN_BIT_FORMATS)} hold 16 bits, not {self.format}")


# --- one image ----------------------------------------------------------------------------------


@dataclass
class OutputFile:
    """One file for the writer thread: pixels H×W×3 (uint8/uint16), alpha, and save_image options."""

    path: Path
    pixels: np.ndarray
    alpha: np.ndarray | None = None
    options: dict = field(default_factory=dict)


def files_for(job: Job, loaded: LoadedImage, photo: Photo, save: SaveOptions) -> tuple[list[OutputFile], list[str]]:
    """The files a job writes, the main output last (so that its presence means the job finished),
    and notices (an alpha channel JPEG cannot hold)."""
    files = [OutputFile(job.maps[name], photo.maps[name]) for name in job.maps]
    notices = []
    if job.compare is not None:
        label = f"KinD (ratio {photo.ratio:.2f})"
        panel = make_panel([as_uint8(loaded.samples), as_uint8(photo.output)], ["input", label])
        files.append(OutputFile(job.compare, panel))
    alpha = loaded.alpha
    if alpha is not None and save.format == "jpg":
        notices.append(f"{job.source.path}: its alpha channel is dropped (JPEG has none)")
        alpha = None
    options = {"format": save.format, "exif": loaded.exif, "icc_profile": loaded.icc_profile}
    if save.format in LOSSY_FORMATS:
        options["quality"] = save.quality
    files.append(OutputFile(job.output, photo.output, alpha, options))
    return files, notices


# --- the batch ----------------------------------------------------------------------------------


@dataclass
class Summary:
    """What a batch did: files written, failures as (input path, reason), skipped, notices, wall
    seconds, ``interrupted``: how many inputs were left unprocessed by Ctrl-C (0: none), and each
    written output with the ratio it got (``files``: input, output, ratio)."""

    done: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)
    interrupted: int = 0
    files: list[dict] = field(default_factory=list)

    def report(self) -> str:
        """A few lines for people: the counts, each notice, then each failure with its file and reason."""
        lines = [
            f"{self.done} done, {len(self.failed)} failed, {self.skipped} skipped in {self.seconds:.1f} s"
        ]
        lines += [f"  notice: {notice}" for notice in self.notices]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        if self.interrupted:
            lines.append(f"  interrupted: {self.interrupted} input(s) not processed; every file written is complete "
                         "(--skip-existing continues)")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """Plain Python types, for ``--json``: counts, failures as ``{"input", "reason"}``, notices,
        outputs as ``{"input", "output", "ratio", "requested"}`` (``requested``: a number or ``auto``)."""
        return {"done": self.done, "failed": [{"input": str(path), "reason": reason} for path, reason in self.failed],
                "skipped": self.skipped, "seconds": self.seconds, "notices": list(self.notices),
                "interrupted": self.interrupted, "files": list(self.files)}


def shard_plan(plan: Plan, rank: int, size: int) -> Plan:
    """Rank ``rank``'s share of a plan among ``size`` processes: the inputs ``rank``, ``rank + size``,
    … with all their jobs (:func:`by_image`: a sweep's ratios of one image stay together; every job
    in exactly one share, whatever the order the ranks run in); the plan's notices go to
    rank 0 alone, so a merged summary lists them once."""
    if not 0 <= rank < size:
        raise ValueError(f"rank {rank} of {size}: expected 0 <= rank < size")
    share = [job for image in by_image(plan.jobs)[rank::size] for job in image]
    return Plan(share, list(plan.notices) if rank == 0 else [])


def by_image(jobs: Sequence[Job]) -> list[list[Job]]:
    """Consecutive jobs of one input (a sweep's ratios of one image) grouped: each group is read,
    decomposed and restored once."""
    groups: list[list[Job]] = []
    for job in jobs:
        if groups and groups[-1][0].source is job.source:
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


def merge_summaries(summaries: Sequence[Summary]) -> Summary:
    """One summary of the shares of a batch: counts added, failures and notices in rank order, the
    wall time of the slowest share."""
    return Summary(
        done=sum(s.done for s in summaries),
        failed=[item for s in summaries for item in s.failed],
        skipped=sum(s.skipped for s in summaries),
        seconds=max((s.seconds for s in summaries), default=0.0),
        notices=[notice for s in summaries for notice in s.notices],
        interrupted=sum(s.interrupted for s in summaries),
        files=[item for s in summaries for item in s.files],
    )


def failure_reason(error: BaseException, path: Path) -> str:
    """The error's message without a leading ``path: `` (ImageReadError starts with it)."""
    text = str(error) or type(error).__name__
    prefix = f"{path}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text if isinstance(error, (ImageReadError, VideoReadError, OSError)) else f"{type(error).__name__}: {text}"


def enhance_files(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    model: KinD,
    ratio: RatioChoice = DEFAULT_RATIO,
    save_maps: bool = False,
    compare: bool = False,
    skip_existing: bool = False,
    progress: bool | TextIO = True,
    save: SaveOptions = SaveOptions(),
    pipeline: str = "photo",
) -> Summary:
    """Enhance image files, folders and globs into ``out_dir`` (``photos/a/b.jpg`` → ``OUT/a/b.png``).

    ``model``: a :class:`kind.KinD` (its ``tile`` and ``max_pixels`` apply). ``ratio``: a number or
    ``'auto'``. ``save_maps`` also writes ``<stem>_R/_L/_R_restored/_L_adjusted.png``, ``compare``
    an input | output ``<stem>_compare.png``; ``save`` the output format; ``pipeline`` ``photo`` or
    ``lol`` (:meth:`kind.KinD.__call__`). ``skip_existing`` skips
    inputs whose output exists. A file that fails is recorded in the summary and the others go on.
    Raises ValueError/FileNotFoundError, before writing anything, for bad options, unsafe outputs
    or inputs that match nothing (see :func:`plan_jobs`).
    """
    check_options(ratio, save)
    plan = plan_jobs(inputs, out_dir, save_maps=save_maps, compare=compare, format=save.format)
    return enhance_jobs(plan, model, ratio, skip_existing, progress, save, pipeline)


def check_options(ratio: RatioChoice, save: SaveOptions) -> None:
    """Raise ValueError for a bad ratio (:func:`kind.inference.pipeline.check_ratio`) or save options —
    before any image is read, not once per image."""
    check_ratio(ratio)
    save.check()


def enhance_jobs(
    plan: Plan,
    model: KinD,
    ratio: RatioChoice = DEFAULT_RATIO,
    skip_existing: bool = False,
    progress: bool | TextIO = True,
    save: SaveOptions = SaveOptions(),
    pipeline: str = "photo",
    video: VideoOptions = VideoOptions(),
) -> Summary:
    """Run a plan (:func:`plan_jobs`); see :func:`enhance_files`. Returns after every write.
    Clips (video files) come after the images, one at a time, as ``video`` says (:func:`_run_clip`).

    ``progress``: True for a bar on stderr, False for none, or a stream to draw it on. Ctrl-C
    (KeyboardInterrupt) stops the batch after the files being written are complete; the summary
    counts what was left (``interrupted``). Temporary files that killed runs left in the output
    folders are removed first.
    """
    check_options(ratio, save)
    start = time.monotonic()
    todo = [job for job in plan.jobs if not (skip_existing and job.output.exists())]
    summary = Summary(skipped=len(plan.jobs) - len(todo), notices=list(plan.notices))
    stale = [path for folder in sorted({t.parent for job in todo for t in job.targets()})
             for path in remove_stale_temp_files(folder)]
    if stale:
        summary.notices.append(f"removed {len(stale)} temporary file(s) left by a killed run (e.g. {stale[0]})")
    stream = None if isinstance(progress, bool) else progress  # None: stderr
    clips = [job for job in todo if job.error is None and is_video_name(job.source.path)]
    if clips:
        video.check()  # a bad --codec or --crf refused before any work
    runnable = [job for job in todo if job.error is None and not is_video_name(job.source.path)]
    bar = Progress(len(runnable), desc="enhance", unit="img", stream=stream, enabled=progress is not False,
                   log_interval=PROGRESS_LOG_S)
    for job in todo:
        if job.error is not None:
            _fail(summary, bar, job, job.error)
    try:
        with _prefetched(by_image(runnable), model.max_pixels) as reads, _Writer(summary, bar) as writer:
            for jobs, read in reads:
                _run_image(jobs, read, model, writer, summary, bar, ratio, save, pipeline)
        bar.close()
        clip_ratio = ratio if video.ratio is None else video.ratio
        for job in clips:
            _run_clip(job, model, summary, bar, clip_ratio if job.ratio is None else job.ratio, pipeline, video, progress)
    except KeyboardInterrupt:
        summary.interrupted = len(todo) - summary.done - len(summary.failed)
    finally:
        bar.close()
    summary.seconds = time.monotonic() - start
    return summary


def _run_image(
    jobs: list[Job], read: Future, model: KinD, writer: _Writer, summary: Summary, bar: Progress, ratio: RatioChoice,
    save: SaveOptions, pipeline: str,
) -> None:
    """Enhance one decoded image for each of its jobs (a sweep's ratios: decomposed and restored
    once, through :meth:`kind.KinD.prepare`, when it has at most ``SWEEP_KEEP_PIXELS``) and hand
    their files to the writer, or record why they failed.

    A function of its own so that the image and its maps are freed as soon as it returns.
    """
    name = str(jobs[0].source.relpath)
    bar.set_status(name)

    def tiles(done: int, total: int) -> None:
        bar.set_status(f"{name} tile {done}/{total}")

    try:
        loaded = read.result()
        kept = len(jobs) > 1 and loaded.samples.shape[0] * loaded.samples.shape[1] <= SWEEP_KEEP_PIXELS
        prepared = model.prepare(loaded.samples, eager=False) if kept else None
    except IMAGE_ERRORS as error:
        for job in jobs:
            _fail(summary, bar, job, failure_reason(error, job.source.path))
            bar.update()
        return
    if loaded.frames > 1:
        _notice(summary, bar, f"{jobs[0].source.path}: {loaded.frames} frames (animated); the first is enhanced")
    for job in jobs:
        chosen = ratio if job.ratio is None else job.ratio
        try:
            if prepared is not None:
                photo = prepared.photo(chosen, pipeline=pipeline, maps=bool(job.maps), bits=save.bits, progress=tiles)
            else:
                photo = model.enhance_samples(loaded.samples, chosen, maps=bool(job.maps), bits=save.bits,
                                              progress=tiles, pipeline=pipeline)
            files, notices = files_for(job, loaded, photo, save)
        except IMAGE_ERRORS as error:
            _fail(summary, bar, job, failure_reason(error, job.source.path))
        else:
            for notice in notices:
                _notice(summary, bar, notice)
            writer.submit(job, files, {"input": str(job.source.path), "output": str(job.output), "ratio": photo.ratio,
                                       "requested": chosen if isinstance(chosen, str) else float(chosen)})
        bar.update()


def _run_clip(job: Job, model: KinD, summary: Summary, bar: Progress, ratio: RatioChoice, pipeline: str,
              video: VideoOptions, progress: bool | TextIO) -> None:
    """Enhance one clip (:meth:`kind.KinD.enhance_video`, its own bar of frames), or record why it
    failed (a clip cut short keeps its frames up to the damage, and fails with where it stopped)."""
    try:
        result = model.enhance_video(job.source.path, job.output, ratio, codec=video.codec, crf=video.crf,
                                     progress=progress, pipeline=pipeline)
    except (*IMAGE_ERRORS, ImportError) as error:
        _fail(summary, bar, job, failure_reason(error, job.source.path))
        return
    for notice in result.notices:
        _notice(summary, bar, notice)
    summary.done += 1
    summary.files.append(result.record(ratio))


def _fail(summary: Summary, bar: Progress, job: Job, reason: str) -> None:
    summary.failed.append((job.source.path, reason))  # list.append is atomic: safe from the writer thread
    if bar.enabled:  # without a bar the failures appear only in the summary
        bar.write(f"failed: {job.source.path}: {reason}")


def _notice(summary: Summary, bar: Progress, notice: str) -> None:
    summary.notices.append(notice)
    if bar.enabled:
        bar.write(f"notice: {notice}")


@contextlib.contextmanager
def _prefetched(images: Sequence[list[Job]], max_pixels: int,
                depth: int = PREFETCH) -> Iterator[Iterator[tuple[list[Job], Future]]]:
    """Yield ``(jobs of one input, future of read_image)`` in order, decoding at most ``depth``
    images and (unless nothing else waits) ``BUFFER_PIXELS`` pixels ahead of the one being enhanced."""
    pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="kind-read")

    def ahead() -> Iterator[tuple[list[Job], Future]]:
        pending: deque[tuple[list[Job], Future, int]] = deque()
        for jobs in images:
            path = jobs[0].source.path
            pixels = header_pixels(path)
            while pending and (len(pending) > depth or sum(p for *_, p in pending) + pixels > BUFFER_PIXELS):
                yield pending.popleft()[:2]
            pending.append((jobs, pool.submit(read_image, path, max_pixels), pixels))
        while pending:
            yield pending.popleft()[:2]

    try:
        yield ahead()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Writer:
    """Writes each job's files on one background thread. ``submit`` blocks while ``PENDING_WRITES``
    jobs, or ``BUFFER_PIXELS`` pixels, wait (a larger job waits until it is alone).

    A job counts as done once all its files are written; a write error is recorded as the job's
    failure. Leaving the ``with`` block waits for every write.
    """

    def __init__(self, summary: Summary, bar: Progress):
        self._summary = summary
        self._bar = bar
        self._waiting = threading.Condition()
        self._jobs = 0
        self._pixels = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kind-write")  # one thread: `done += 1` needs no lock

    def submit(self, job: Job, files: list[OutputFile], record: dict) -> None:
        """Write ``files`` in the background; ``record`` goes to the summary's ``files`` once they are written."""
        pixels = sum(file.pixels.shape[0] * file.pixels.shape[1] for file in files)
        with self._waiting:
            self._waiting.wait_for(
                lambda: self._jobs == 0 or (self._jobs < PENDING_WRITES and self._pixels + pixels <= BUFFER_PIXELS)
            )
            self._jobs += 1
            self._pixels += pixels
        try:
            self._pool.submit(self._write, job, files, pixels, record)
        except BaseException:
            self._release(pixels)
            raise

    def _release(self, pixels: int) -> None:
        with self._waiting:
            self._jobs -= 1
            self._pixels -= pixels
            self._waiting.notify_all()

    def _write(self, job: Job, files: list[OutputFile], pixels: int, record: dict) -> None:
        try:
            for file in files:
                save_image(file.path, file.pixels, file.alpha, **file.options)
        except Exception as error:  # noqa: BLE001 - anything, so that no failure goes unreported
            _fail(self._summary, self._bar, job, failure_reason(error, job.source.path))
        else:
            self._summary.done += 1
            self._summary.files.append(record)
        finally:
            self._release(pixels)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)


__all__ = [
    "ASSETS_DIR",
    "by_image",
    "Job",
    "OutputFile",
    "Plan",
    "SaveOptions",
    "Summary",
    "VideoOptions",
    "check_options",
    "check_outputs",
    "enhance_files",
    "enhance_jobs",
    "failure_reason",
    "files_for",
    "plan_jobs",
    "ratio_job",
    "ratio_tag",
]
