"""Batch enhancement of image files, the library behind ``kind enhance`` (spec sections 4 and 6).

Each image is read with :func:`kind.imageio.read_image` (RGB float32 H×W×3 in [0, 1], alpha kept
apart), stretched by its own global min and max (:func:`kind.pipeline.minmax_stretch`, always over
the whole image, before any tiling), enhanced by the authors' general-image pipeline
(:func:`kind.pipeline.enhance_general`, or :func:`kind.pipeline.enhance_tiled` for large images),
converted with the official truncating :func:`kind.imageio.to_uint8` and written as an 8-bit PNG at
``OUTDIR / relpath.png`` with any alpha channel carried over.

Three stages overlap: a small thread pool decodes the next images (at most ``PREFETCH`` ahead), the
calling thread runs the networks, and one writer thread encodes the PNGs (at most
``PENDING_WRITES`` jobs waiting or being written). However long the batch, memory holds a bounded
number of images. Every output is written atomically (temporary file, then rename).

Safety (:func:`plan_jobs`, before any work): nothing is written over an input file, and nothing is
written into an input folder except into an output folder that was empty or absent when the run
started. Inputs are collected before the output folder is created, so outputs never become inputs.

>>> runner = load_runner("checkpoints", device="auto")          # doctest: +SKIP
>>> summary = enhance_files(["photos"], "enhanced", runner)      # doctest: +SKIP
>>> print(summary.report())                                      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
from torch import Tensor

from kind.imageio import (
    ImageReadError,
    InputFile,
    LoadedImage,
    collect_inputs,
    make_panel,
    output_relpath,
    read_image,
    save_png,
    to_uint8,
)
from kind.pipeline import (
    DEFAULT_RATIO,
    DEFAULT_TILE,
    Enhanced,
    RatioChoice,
    Runner,
    check_ratio,
    enhance_general,
    enhance_tiled,
    minmax_stretch,
    needs_tiling,
    resolve_device,
)
from kind.progress import Progress
from kind.weights import load_weights_dir

ASSETS_DIR = Path(__file__).resolve().parent / "assets"  # bundled low-light samples for `kind demo`
AUTO_TILE_PIXELS = 2_500_000  # images with more pixels are tiled automatically (peak memory ≈ 3 GB)
MIN_TILE = 32  # smallest --tile accepted
PREFETCH = 2  # images decoded ahead of the one being enhanced
READ_THREADS = 2  # decoder threads
PENDING_WRITES = 2  # finished images waiting for, or in, the writer thread
MAP_NAMES = ("R", "L", "R_restored", "L_adjusted")  # --save-maps suffixes, as in Enhanced.maps()
PROGRESS_LOG_S = 10.0  # seconds between progress lines when stderr is not a terminal
IMAGE_ERRORS = (ValueError, RuntimeError, OSError, MemoryError)  # per-image failures (ImageReadError is a ValueError)


# --- plan: inputs, outputs, safety ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Job:
    """One input image and the files it will produce (``maps`` by suffix, empty unless asked)."""

    source: InputFile
    output: Path
    maps: dict[str, Path] = field(default_factory=dict)
    compare: Path | None = None

    def targets(self) -> list[Path]:
        """Every file this job writes."""
        return [self.output, *self.maps.values(), *([self.compare] if self.compare else [])]


def plan_jobs(
    inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, save_maps: bool = False, compare: bool = False
) -> list[Job]:
    """Collect the input images (files, folders, globs) and decide every output path.

    Writes nothing. Raises FileNotFoundError for an input that matches no image and ValueError when
    the outputs would be unsafe (see :func:`check_outputs`).
    """
    items = collect_inputs([str(arg) for arg in inputs])
    out_dir = Path(out_dir)
    jobs = [_job(item, out_dir, save_maps, compare) for item in items]
    check_outputs(jobs, out_dir)
    return jobs


def _job(item: InputFile, out_dir: Path, save_maps: bool, compare: bool) -> Job:
    output = out_dir / output_relpath(item.relpath)

    def beside(suffix: str) -> Path:
        return output.with_name(f"{output.stem}_{suffix}.png")

    maps = {name: beside(name) for name in MAP_NAMES} if save_maps else {}
    return Job(item, output, maps, beside("compare") if compare else None)


def check_outputs(jobs: Sequence[Job], out_dir: str | os.PathLike) -> None:
    """Raise ValueError unless every output is safe to write.

    Refused, in this order: an ``out_dir`` that is not a folder; an ``out_dir`` that is, or lies
    inside, an input folder (a folder argument, or a glob match's folder — folders that are searched;
    a file named on its own makes no input folder) unless it is empty or absent; any output inside an input folder that ``out_dir`` is not inside; an output path equal
    to an input file; two
    jobs writing one file (e.g. ``x.png``'s ``--save-maps`` file ``x_R.png`` and the output of an
    input ``x_R.jpg``).

    Because an ``out_dir`` inside an input folder must start empty, and inputs are collected before
    it is created, earlier outputs are never walked into and taken as inputs.
    """
    out_dir = Path(out_dir)
    out = out_dir.resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out_dir}: exists and is not a folder")
    roots = {job.source.root.resolve() for job in jobs if job.source.root is not None}
    out_empty = not out.exists() or next(out.iterdir(), None) is None
    for root in sorted(roots):
        if out.is_relative_to(root) and not out_empty:
            where = "is the input folder" if out == root else "is inside the input folder"
            raise ValueError(
                f"output folder {out_dir} {where} {root} and is not empty; "
                "use a new or empty output folder, or one outside the input folders"
            )

    inputs = {job.source.path.resolve(): job.source.path for job in jobs}
    writers: dict[Path, Path] = {}
    for job in jobs:
        for target in job.targets():
            resolved = target.resolve()
            for folder in resolved.parents:
                if folder in roots and not out.is_relative_to(folder):
                    raise ValueError(f"{target}: the output for {job.source.path} would be written into the input folder {folder}")
            if resolved in inputs:
                raise ValueError(f"{target}: the output would overwrite the input {inputs[resolved]}")
            if resolved in writers:
                raise ValueError(f"{target}: would be written for both {writers[resolved]} and {job.source.path}")
            writers[resolved] = job.source.path


# --- one image ----------------------------------------------------------------------------------


def to_tensor(rgb: np.ndarray) -> Tensor:
    """H×W×3 float32 array → a contiguous 1×3×H×W tensor (a copy, in NCHW layout)."""
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_image(x: Tensor) -> np.ndarray:
    """1×C×H×W float tensor in [0, 1] → uint8 H×W×3 (truncating, ``to_uint8``); one channel is replicated."""
    pixels = to_uint8(x[0].permute(1, 2, 0).float().cpu().numpy())
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def enhance_image(
    runner: Runner,
    rgb: np.ndarray,
    ratio: RatioChoice = DEFAULT_RATIO,
    tile: int | None = None,
    auto_tile_pixels: int = AUTO_TILE_PIXELS,
    keep_maps: bool = False,
    tile_progress: Callable[[int, int], None] | None = None,
) -> Enhanced:
    """Enhance one RGB float32 H×W×3 image in [0, 1]: stretch globally, then enhance (tiled if needed).

    Returns the pipeline's :class:`~kind.pipeline.Enhanced` (1×C×H×W tensors). The maps of a tiled
    run are kept only with ``keep_maps``.
    """
    height, width = rgb.shape[:2]
    image = minmax_stretch(to_tensor(rgb))
    if not needs_tiling(height, width, tile, auto_tile_pixels):
        return enhance_general(runner, image, ratio)
    return enhance_tiled(runner, image, ratio, tile or DEFAULT_TILE, keep_maps=keep_maps, progress=tile_progress)


# (path, uint8 H×W×3, alpha H×W or None): one PNG for the writer thread.
PngFile = tuple[Path, np.ndarray, "np.ndarray | None"]


def files_for(job: Job, loaded: LoadedImage, result: Enhanced) -> list[PngFile]:
    """The PNGs a job writes, the main output last (so that its presence means the job finished)."""
    output = to_image(result.output)
    files: list[PngFile] = [(job.maps[name], to_image(result.maps()[name]), None) for name in job.maps]
    if job.compare is not None:
        label = f"KinD (ratio {float(result.ratio[0]):.2f})"
        files.append((job.compare, make_panel([to_uint8(loaded.rgb), output], ["input", label]), None))
    files.append((job.output, output, loaded.alpha))
    return files


# --- the batch ----------------------------------------------------------------------------------


@dataclass
class Summary:
    """What a batch did: files written, failures as (input path, reason), skipped, wall seconds."""

    done: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0

    def report(self) -> str:
        """A few lines for people: the counts, then each failure with its file and reason."""
        lines = [
            f"{self.done} done, {len(self.failed)} failed, {self.skipped} skipped in {self.seconds:.1f} s"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def failure_reason(error: BaseException, path: Path) -> str:
    """The error's message without a leading ``path: `` (ImageReadError starts with it)."""
    text = str(error) or type(error).__name__
    prefix = f"{path}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text if isinstance(error, (ImageReadError, OSError)) else f"{type(error).__name__}: {text}"


def enhance_files(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    runner: Runner,
    ratio: RatioChoice = DEFAULT_RATIO,
    tile: int | None = None,
    auto_tile_pixels: int = AUTO_TILE_PIXELS,
    save_maps: bool = False,
    compare: bool = False,
    skip_existing: bool = False,
    progress: bool = True,
) -> Summary:
    """Enhance image files, folders and globs into ``out_dir`` (``photos/a/b.jpg`` → ``OUT/a/b.png``).

    ``ratio``: a number or ``'auto'``. ``tile``: force tiling with this tile side; otherwise images
    over ``auto_tile_pixels`` are tiled in ``DEFAULT_TILE`` tiles. ``save_maps`` also writes
    ``<stem>_R/_L/_R_restored/_L_adjusted.png``, ``compare`` an input | output ``<stem>_compare.png``.
    ``skip_existing`` skips inputs whose output exists. A file that fails is recorded in the
    summary and the others go on. Raises ValueError/FileNotFoundError, before writing anything,
    for unsafe outputs or inputs that match nothing (see :func:`plan_jobs`).
    """
    jobs = plan_jobs(inputs, out_dir, save_maps=save_maps, compare=compare)
    return enhance_jobs(jobs, runner, ratio, tile, auto_tile_pixels, skip_existing, progress)


def enhance_jobs(
    jobs: Sequence[Job],
    runner: Runner,
    ratio: RatioChoice = DEFAULT_RATIO,
    tile: int | None = None,
    auto_tile_pixels: int = AUTO_TILE_PIXELS,
    skip_existing: bool = False,
    progress: bool | TextIO = True,
) -> Summary:
    """Run planned jobs (:func:`plan_jobs`); see :func:`enhance_files`. Returns after every write.

    ``progress``: True for a bar on stderr, False for none, or a stream to draw it on.
    """
    check_options(ratio, tile)
    start = time.monotonic()
    todo = [job for job in jobs if not (skip_existing and job.output.exists())]
    summary = Summary(skipped=len(jobs) - len(todo))
    stream = None if isinstance(progress, bool) else progress  # None: stderr
    bar = Progress(len(todo), desc="enhance", unit="img", stream=stream, enabled=progress is not False,
                   log_interval=PROGRESS_LOG_S)
    keep_maps = any(job.maps for job in todo)
    try:
        with _prefetched(todo) as reads, _Writer(summary, bar) as writer:
            for job, read in reads:
                _run_job(job, read, runner, writer, summary, bar, ratio, tile, auto_tile_pixels, keep_maps)
                bar.update()
    finally:
        bar.close()
    summary.seconds = time.monotonic() - start
    return summary


def check_options(ratio: RatioChoice, tile: int | None) -> None:
    """Raise ValueError for a bad ratio (:func:`kind.pipeline.check_ratio`) or a tile side under
    ``MIN_TILE`` — before any image is read, not once per image."""
    check_ratio(ratio)
    if tile is not None and tile < MIN_TILE:
        raise ValueError(f"tile: expected at least {MIN_TILE} pixels, got {tile}")


def _run_job(
    job: Job,
    read: Future,
    runner: Runner,
    writer: _Writer,
    summary: Summary,
    bar: Progress,
    ratio: RatioChoice,
    tile: int | None,
    auto_tile_pixels: int,
    keep_maps: bool,
) -> None:
    """Enhance one decoded image and hand its files to the writer, or record why it failed.

    A function of its own so that the image and its maps are freed as soon as it returns.
    """
    name = str(job.source.relpath)
    bar.set_status(name)

    def tiles(done: int, total: int) -> None:
        bar.set_status(f"{name} tile {done}/{total}")

    try:
        loaded = read.result()
        result = enhance_image(runner, loaded.rgb, ratio, tile, auto_tile_pixels, keep_maps, tiles)
        files = files_for(job, loaded, result)
    except IMAGE_ERRORS as error:
        _fail(summary, bar, job, error)
        return
    writer.submit(job, files)


def _fail(summary: Summary, bar: Progress, job: Job, error: BaseException) -> None:
    reason = failure_reason(error, job.source.path)
    summary.failed.append((job.source.path, reason))  # list.append is atomic: safe from the writer thread
    if bar.enabled:  # without a bar the failures appear only in the summary
        bar.write(f"failed: {job.source.path}: {reason}")


@contextlib.contextmanager
def _prefetched(jobs: Sequence[Job], depth: int = PREFETCH) -> Iterator[Iterator[tuple[Job, Future]]]:
    """Yield ``(job, future of read_image)`` in order, decoding at most ``depth`` images ahead."""
    pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="kind-read")

    def ahead() -> Iterator[tuple[Job, Future]]:
        pending: deque[tuple[Job, Future]] = deque()
        upcoming = iter(jobs)
        for job in upcoming:
            pending.append((job, pool.submit(read_image, job.source.path)))
            if len(pending) > depth:
                yield pending.popleft()
        while pending:
            yield pending.popleft()

    try:
        yield ahead()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Writer:
    """Writes each job's PNGs on one background thread; ``submit`` blocks while ``pending`` jobs wait.

    A job counts as done once all its files are written; a write error is recorded as the job's
    failure. Leaving the ``with`` block waits for every write.
    """

    def __init__(self, summary: Summary, bar: Progress, pending: int = PENDING_WRITES):
        self._summary = summary
        self._bar = bar
        self._slots = threading.BoundedSemaphore(pending)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kind-write")  # one thread: `done += 1` needs no lock

    def submit(self, job: Job, files: list[PngFile]) -> None:
        self._slots.acquire()
        try:
            self._pool.submit(self._write, job, files)
        except BaseException:
            self._slots.release()
            raise

    def _write(self, job: Job, files: list[PngFile]) -> None:
        try:
            for path, pixels, alpha in files:
                save_png(path, pixels, alpha)
        except Exception as error:  # noqa: BLE001 - anything, so that no failure goes unreported
            _fail(self._summary, self._bar, job, error)
        else:
            self._summary.done += 1
        finally:
            self._slots.release()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)


# --- runner -------------------------------------------------------------------------------------


def load_runner(weights: str | os.PathLike | None = None, device: str = "auto", precision: str = "fp32") -> Runner:
    """The three networks from a weights folder (None: the project's ``checkpoints/``) on ``device``.

    Raises ValueError (WeightsError) for missing or bad weights, an unknown or absent device, or a
    precision the device cannot run.
    """
    try:
        resolved = resolve_device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r}: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: no CUDA GPU is available")
    nets = load_weights_dir(weights)
    try:
        return Runner(nets, resolved, precision)
    except RuntimeError as error:
        raise ValueError(str(error)) from error


__all__ = [
    "ASSETS_DIR",
    "AUTO_TILE_PIXELS",
    "MIN_TILE",
    "Job",
    "Summary",
    "check_options",
    "check_outputs",
    "enhance_files",
    "enhance_image",
    "enhance_jobs",
    "failure_reason",
    "files_for",
    "load_runner",
    "plan_jobs",
    "to_image",
    "to_tensor",
]
