"""The plan of a batch: which files each input becomes (the output, ``--save-maps``' maps, the
``--compare`` panel), names that clash, and the checks that nothing is written over an input. An
output that would replace a file already in a folder holding inputs (``kind enhance own/a.jpg -o
own`` beside an unrelated ``own/a.png``) keeps its input's suffix, as clashing names do
(``own/a.jpg.png``), with a notice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kind.constants import MAP_SUFFIXES, OUTPUT_FORMATS, distinct_ratios, ratio_problem
from kind.io.atomic import check_output_path, name_max
from kind.io.inputs import InputFile, collect_inputs, is_image_name, is_video_name, output_relpath
from kind.io.video import output_suffix


@dataclass(frozen=True, eq=False)
class Job:
    """One input image and the files it will produce (``maps`` by suffix, empty unless asked).
    ``error``: why the job cannot run (found while planning), or None; ``ratio``: its own ratio
    (a sweep's: a number or ``'auto'``), or None for the batch's."""

    source: InputFile
    output: Path
    maps: dict[str, Path] = field(default_factory=dict)
    compare: Path | None = None
    error: str | None = None
    ratio: float | str | None = None

    def targets(self) -> list[Path]:
        """Every file this job writes."""
        return [self.output, *self.maps.values(), *([self.compare] if self.compare else [])]


@dataclass
class Plan:
    """The jobs of a batch, and notices of what the planning passed over or renamed."""

    jobs: list[Job]
    notices: list[str] = field(default_factory=list)


def plan_jobs(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    save_maps: bool = False,
    compare: bool = False,
    format: str = "png",
    ratios: Sequence[float | str] | None = None,
) -> Plan:
    """Collect the input images and clips (files, folders, globs) and decide every output path (a
    clip's: :func:`kind.io.video.output_suffix`; ``save_maps`` and ``compare`` apply to images).

    ``ratios``: a sweep, one job per image and ratio, each output named by its ratio
    (``photo_r2.5.png``, ``photo_rauto.png``; see :func:`ratio_job`), a ratio given twice (``3``
    and ``3.0``, ``auto`` and ``AUTO``) once, with a notice. Writes nothing. Raises
    FileNotFoundError for an input that matches no image and ValueError for an unusable ``out_dir``
    or outputs that would be unsafe (see :func:`check_outputs`). Clashing names are resolved as the module docstring says; the renames are listed in ``notices``.
    """
    check_output_path(out_dir, "output folder", folder=True)
    items, notices = collect_inputs([str(arg) for arg in inputs], videos=True)
    if ratios is not None:
        ratios, repeated = distinct_ratios(ratios)
        notices += repeated
    out_dir = Path(out_dir)
    if is_image_name(out_dir) and not out_dir.is_dir():
        notices.append(f"{out_dir}: named like an image, but it is the output folder: it is created as a folder, "
                       f"and the images are written inside it")
    suffix = OUTPUT_FORMATS[format]

    def written(job: Job) -> list[Job]:  # the jobs one planned image becomes: one per ratio of a sweep
        return [job] if ratios is None else [ratio_job(job, ratio) for ratio in ratios]

    jobs = [_job(item, out_dir, suffix, save_maps, compare) for item in items]
    clashing = _clashing(jobs)
    if clashing:
        jobs = [_job(job.source, out_dir, suffix, save_maps, compare, keep_suffix=True) if i in clashing else job
                for i, job in enumerate(jobs)]
        renamed = ", ".join(f"{jobs[i].source.path} → {_output_names(written(jobs[i]))}" for i in sorted(clashing))
        notices.append(f"inputs with the same name keep their suffix in the output name: {renamed}")
        jobs = _fail_remaining_clashes(jobs)
    jobs = _spare_files_beside_inputs(jobs, out_dir, suffix, save_maps, compare, notices, written)
    jobs = _fail_long_names([final for job in jobs for final in written(job)], out_dir)
    check_outputs(jobs, out_dir)
    return Plan(jobs, notices)


def _fail_long_names(jobs: list[Job], out_dir: Path) -> list[Job]:
    """Jobs with a file name longer than the file system allows (an input name near the limit, plus
    a sweep's ``_r2.5``, a map's ``_R_restored`` or a kept suffix) fail, saying so, before any work."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    limit = name_max(existing)
    result = []
    for job in jobs:
        long = next((t.name for t in job.targets() if len(os.fsencode(t.name)) > limit), None)
        if long is not None and job.error is None:
            job = Job(job.source, job.output, job.maps, job.compare, ratio=job.ratio,
                      error=f"the output name {long!r} would be {len(os.fsencode(long))} bytes, over the file "
                            f"system's {limit}; rename the input shorter")
        result.append(job)
    return result


def _output_names(jobs: Sequence[Job]) -> str:
    """The names of the main outputs of ``jobs`` (one image's, a sweep's several), for notices."""
    return ", ".join(job.output.name for job in jobs)


def _job(item: InputFile, out_dir: Path, suffix: str, save_maps: bool, compare: bool, keep_suffix: bool = False) -> Job:
    if is_video_name(item.path):  # a clip: a clip of its container (kind.io.video.output_suffix), no maps or panel
        return Job(item, out_dir / output_relpath(item.relpath, output_suffix(item.path), keep_suffix))
    output = out_dir / output_relpath(item.relpath, suffix, keep_suffix)

    def beside(name: str) -> Path:
        return output.with_name(f"{output.stem}_{name}.png")

    maps = {name: beside(name) for name in MAP_SUFFIXES} if save_maps else {}
    return Job(item, output, maps, beside("compare") if compare else None)


def ratio_tag(ratio: float | str) -> str:
    """A ratio as it appears in a sweep's file names: ``2.5``, ``5``, ``auto``."""
    return ratio.strip().lower() if isinstance(ratio, str) else f"{float(ratio):g}"


def ratio_job(job: Job, ratio: float | str) -> Job:
    """``job`` at its own ``ratio`` (checked by :func:`kind.constants.ratio_problem`), every file it
    writes named by it (``a/b.png`` → ``a/b_r2.5.png``, ``a/b_R.png`` → ``a/b_r2.5_R.png``)."""
    problem = ratio_problem(ratio)
    if problem:
        raise ValueError(f"ratio: {problem}")
    tag = f"_r{ratio_tag(ratio)}"

    def tagged(path: Path) -> Path:
        return path.with_name(path.name.replace(job.output.stem, job.output.stem + tag, 1))

    return Job(job.source, tagged(job.output), {name: tagged(path) for name, path in job.maps.items()},
               tagged(job.compare) if job.compare else None, job.error, ratio)


def _key(path: Path) -> str:
    """Paths compared case-folded: X.png and x.png are one file on macOS and Windows."""
    return path.resolve().as_posix().casefold()


def _clashing(jobs: Sequence[Job]) -> set[int]:
    """The indices of jobs that write a file another job also writes."""
    writers: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        for target in job.targets():
            writers.setdefault(_key(target), []).append(index)
    return {index for group in writers.values() if len(set(group)) > 1 for index in group}


def _fail_remaining_clashes(jobs: Sequence[Job]) -> list[Job]:
    """Jobs that still write another's file after the renaming: the first keeps it, the others fail."""
    claimed: dict[str, Job] = {}
    result = []
    for job in jobs:
        first = next((claimed[_key(t)] for t in job.targets() if _key(t) in claimed), None)
        if first is not None:
            job = Job(job.source, job.output, job.maps, job.compare,
                      error=f"would write {job.output.name}, as {first.source.path} does; enhance it into "
                            "another folder")
        else:
            claimed.update({_key(target): job for target in job.targets()})
        result.append(job)
    return result


def _spare_files_beside_inputs(jobs: list[Job], out_dir: Path, suffix: str, save_maps: bool, compare: bool,
                              notices: list[str], written: Callable[[Job], list[Job]]) -> list[Job]:
    """Jobs that would replace a file that exists in a folder holding inputs (``kind enhance own/a.jpg
    -o own`` beside an unrelated ``own/a.png``) keep their input's suffix instead (``own/a.jpg.png``,
    the clash rule), with a notice; if that name is taken too by another job, the job fails.
    ``written``: the jobs a planned job becomes (a sweep's, one per ratio), whose files are the ones
    checked and named."""
    inputs = {job.source.path.resolve() for job in jobs}  # an output over an input is refused, not renamed
    input_folders = {path.parent for path in inputs}
    result = []
    for job in jobs:
        taken = [t for final in written(job) for t in final.targets()
                 if t.resolve().parent in input_folders and t.resolve() not in inputs and t.exists()]
        if taken and job.error is None:
            renamed = _job(job.source, out_dir, suffix, save_maps, compare, keep_suffix=True)
            if renamed.output != job.output:
                notices.append(f"{taken[0]} exists beside the inputs and is kept: {job.source.path} is written as "
                               f"{_output_names(written(renamed))}")
                job = renamed
        result.append(job)
    return _fail_remaining_clashes(result) if len(result) > 1 else result


def check_outputs(jobs: Sequence[Job], out_dir: str | os.PathLike) -> None:
    """Raise ValueError unless every output is safe to write.

    Refused, in this order: an ``out_dir`` that is not a folder; an ``out_dir`` that is, or lies
    inside, an input folder (a folder argument, or a glob match's folder — folders that are searched;
    a file named on its own makes no input folder) unless it is empty or absent; any output inside
    an input folder that ``out_dir`` is not inside; an output path equal to an input file.

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
    for job in jobs:
        for target in job.targets():
            resolved = target.resolve()
            for folder in resolved.parents:
                if folder in roots and not out.is_relative_to(folder):
                    raise ValueError(f"{target}: the output for {job.source.path} would be written into the input folder {folder}")
            if resolved in inputs:
                raise ValueError(f"{target}: the output would overwrite the input {inputs[resolved]}")
