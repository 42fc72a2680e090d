"""One user's photos and what the page does with them, without any web framework.

A :class:`Session` keeps its files in its own folder of the :class:`kind.app.workspace.Workspace`
(nothing is shared between sessions). Each uploaded photo is checked (file size, then pixels from
the header, before decoding), copied into the folder, and reduced to a preview of at most
``preview_pixels`` (about what the page shows); a photo on view is decomposed and restored once
(:class:`kind.app.preview.PreviewPhoto`, kept for the last few photos viewed) so that each ratio
runs only the adjustment net, on a reduced L, and a product. The full-resolution file and the zip
of every photo are what ``kind enhance --ratio R --strength S`` writes: they come from
:func:`kind.enhance.enhance_files` itself, on the uploaded copies.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from kind.api import KinD
from kind.app.preview import PreviewPhoto
from kind.app.workspace import Workspace
from kind.constants import DEFAULT_STRENGTH, IMAGE_SUFFIXES
from kind.constants import parse_ratio as shared_parse_ratio
from kind.enhance import IMAGE_ERRORS, enhance_files, failure_reason
from kind.imageops import to_uint8
from kind.inference.pipeline import RatioChoice
from kind.inference.runner import Runner
from kind.io.inputs import is_image_name
from kind.io.plan import ratio_tag
from kind.io.read import LoadedImage, as_uint8, read_image

PREVIEW_PIXELS = 307_200  # the preview the slider relights: 640 × 480, what the page shows of a 4:3 photo
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # per file
PREVIEW_QUALITY = 90  # JPEG quality of the preview images
PREVIEWS_KEPT = 8  # preview files kept on disk per session (the page may still be fetching the last few)
PHOTOS_PREPARED = 4  # photos of a session kept decomposed and restored (about 20 bytes a preview pixel each)
MAP_LABELS = {"R": "reflectance R", "L": "illumination L", "R_restored": "restored R̂", "L_adjusted": "adjusted L̂"}
Progress = Callable[[int, int], None]  # (steps done, steps in all)


class UploadError(ValueError):
    """A file the app cannot take; the message names the file and the reason."""


def parse_ratio(value: object) -> RatioChoice:
    """A ratio from a page or an API call: a number from 0 to ``MAX_RATIO`` (or its text) or
    ``"auto"`` in any case — :func:`kind.constants.parse_ratio`, the command line's own rule."""
    try:
        return shared_parse_ratio(value)
    except ValueError as error:
        raise ValueError(f"ratio: {error}") from None


def reduce_for_preview(samples: np.ndarray, max_pixels: int = PREVIEW_PIXELS) -> np.ndarray:
    """uint8/uint16 H×W×3 → uint8 h×w×3 with h·w ≤ ``max_pixels`` (Lanczos; unchanged when small)."""
    pixels = as_uint8(samples)
    height, width = pixels.shape[:2]
    if height * width <= max_pixels:
        return pixels
    scale = math.sqrt(max_pixels / (height * width))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


@dataclass
class UploadedPhoto:
    """One photo of a session: its name as uploaded, its copy in the session folder, its full
    size (width, height), its preview-sized input (uint8 h×w×3) and that as a JPEG file
    (``before_file``, for the gallery and the before/after view)."""

    name: str
    path: Path
    size: tuple[int, int]
    before: np.ndarray
    before_file: Path


class Session:
    """One user's gallery. ``model`` (and ``preview_runner``, the networks of the previews, by
    default the model's) are shared and read-only; everything else is the session's own."""

    def __init__(self, model: KinD, folder: str | Path, *, preview_pixels: int = PREVIEW_PIXELS,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES, preview_runner: Runner | None = None) -> None:
        self.model = model
        self.folder = Path(folder)
        self.preview_pixels = preview_pixels
        self.max_upload_bytes = max_upload_bytes
        self.preview_runner = preview_runner or model.runner
        self.photos: list[UploadedPhoto] = []
        self.current: int | None = None
        self._prepared: OrderedDict[Path, PreviewPhoto] = OrderedDict()  # by the photo's copy, last viewed last
        self._files = itertools.count(1)  # unique folder names, from any thread (downloads run beside previews)
        self._previews: list[Path] = []
        self._shown: tuple | None = None  # what the last preview file shows: (ratio, pipeline, strength)
        self._map_files: dict[tuple, Path] = {}  # the ratio-free maps of the photo on view, as files

    # --- the gallery -------------------------------------------------------------------------

    def add(self, paths: list[str | os.PathLike]) -> list[str]:
        """Take uploaded files (their names as uploaded); returns one message per file that could
        not be taken, naming it. The first photo taken is shown. The uploaded files are only read:
        the web framework may hand the same file to other sessions."""
        problems, first = [], len(self.photos)
        for path in paths:
            try:
                self.photos.append(self._take(Path(path)))
            except UploadError as error:
                problems.append(str(error))
        if len(self.photos) > first:
            self.select(first)
        return problems

    def _take(self, upload: Path) -> UploadedPhoto:
        copy, loaded = take_upload(upload, self._new_folder("uploads"), self.max_upload_bytes, self.model.max_pixels)
        height, width = loaded.samples.shape[:2]
        before = reduce_for_preview(loaded.samples, self.preview_pixels)
        before_file = copy.parent / "before.jpg"
        Image.fromarray(before).save(before_file, quality=PREVIEW_QUALITY)
        return UploadedPhoto(upload.name, copy, (width, height), before, before_file)

    def select(self, index: int) -> UploadedPhoto:
        """Show photo ``index``: its preview is decomposed and restored once (the last
        ``PHOTOS_PREPARED`` photos viewed stay so)."""
        if not 0 <= index < len(self.photos):
            raise ValueError(f"photo {index}: the gallery holds {len(self.photos)}")
        photo = self.photos[index]
        if photo.path not in self._prepared:
            while len(self._prepared) >= PHOTOS_PREPARED:
                self._prepared.popitem(last=False)
            self._prepared[photo.path] = PreviewPhoto(self.preview_runner, photo.before)
        self._prepared.move_to_end(photo.path)
        if index != self.current:
            self._shown, self._map_files = None, {}
        self.current = index
        return photo

    def remove(self, index: int) -> None:
        """Take photo ``index`` out of the gallery (its files go); the next one, if any, is shown."""
        if not 0 <= index < len(self.photos):
            raise ValueError(f"photo {index}: the gallery holds {len(self.photos)}")
        photo = self.photos.pop(index)
        self._prepared.pop(photo.path, None)
        shutil.rmtree(photo.path.parent, ignore_errors=True)
        if self.current is None or index > self.current:
            return
        if index < self.current:
            self.current -= 1
            return
        self.current, self._shown, self._map_files = None, None, {}
        if self.photos:
            self.select(min(index, len(self.photos) - 1))

    @property
    def photo(self) -> UploadedPhoto:
        """The photo on view (ValueError when the gallery is empty)."""
        if self.current is None:
            raise ValueError("no photo yet: upload one first")
        return self.photos[self.current]

    @property
    def prepared(self) -> PreviewPhoto:
        """The preview of the photo on view, decomposed and restored."""
        photo = self.photo
        if photo.path not in self._prepared:
            self.select(self.current)
        return self._prepared[photo.path]

    @property
    def auto_ratio(self) -> float:
        """The automatic ratio of the preview on view."""
        return self.prepared.auto_ratio

    def ratio_of(self, ratio: RatioChoice) -> float:
        """A ratio as a number (``'auto'``: :attr:`auto_ratio`)."""
        return self.auto_ratio if isinstance(ratio, str) else float(ratio)

    # --- what the page shows -----------------------------------------------------------------

    def preview(self, ratio: RatioChoice, pipeline: str = "photo", strength: float = DEFAULT_STRENGTH) -> np.ndarray:
        """The photo on view at ``ratio``, preview-sized: uint8 h×w×3 (:meth:`PreviewPhoto.relight`)."""
        return self.prepared.relight(self.ratio_of(ratio), pipeline, strength)

    def preview_file(self, ratio: RatioChoice, pipeline: str = "photo",
                     strength: float = DEFAULT_STRENGTH) -> tuple[Path, bool]:
        """The preview at ``ratio`` as a JPEG in the session folder, named by what it shows
        (``preview-r3.50-s1.00-photo.jpg``), and whether it is new: the preview last made is not
        made again (a slider's release after its last move). The oldest files beyond
        ``PREVIEWS_KEPT`` are removed."""
        key = (self.current, self.ratio_of(ratio), pipeline, float(strength))
        if key == self._shown and self._previews:
            return self._previews[-1], False
        pixels = self.preview(ratio, pipeline, strength)
        path = self._new_path("previews", f"preview-r{key[1]:.2f}-s{key[3]:.2f}-{pipeline}.jpg")
        Image.fromarray(pixels).save(path, quality=PREVIEW_QUALITY)
        self._previews.append(path)
        self._shown = key
        while len(self._previews) > PREVIEWS_KEPT:
            shutil.rmtree(self._previews.pop(0).parent, ignore_errors=True)
        return path, True

    def maps(self, ratio: RatioChoice, strength: float = DEFAULT_STRENGTH) -> dict[str, np.ndarray]:
        """The preview's maps by label (R, L, R̂ at ``strength``, L̂ at ``ratio``), uint8 h×w×3."""
        return {MAP_LABELS[name]: array for name, array in self.prepared.maps(self.ratio_of(ratio), strength).items()}

    def map_files(self, ratio: RatioChoice, strength: float = DEFAULT_STRENGTH) -> list[tuple[Path, str]]:
        """The maps as JPEG files with their labels; R, L and R̂ are written once per photo
        (and strength), L̂ per ratio."""
        files = []
        for (name, label), array in zip(MAP_LABELS.items(), self.prepared.maps(self.ratio_of(ratio), strength).values()):
            key = (name, None if name in ("R", "L") else strength, self.ratio_of(ratio) if name == "L_adjusted" else None)
            if key not in self._map_files:
                self._map_files[key] = self._new_path("maps", f"{name}.jpg")
                Image.fromarray(array).save(self._map_files[key], quality=PREVIEW_QUALITY)
            files.append((self._map_files[key], label))
        return files

    # --- downloads: what `kind enhance --ratio R --strength S` writes -------------------------

    def full_resolution(self, ratio: RatioChoice, pipeline: str = "photo", strength: float = DEFAULT_STRENGTH,
                        progress: Progress | None = None) -> Path:
        """The photo on view enhanced at full resolution by :func:`kind.enhance.enhance_files`:
        the file ``kind enhance --ratio R --strength S [--pipeline lol]`` writes for it.
        ``progress`` hears (tiles done, tiles in all) of a tiled photo."""
        return enhance_uploads([self.photo.path], self._new_folder("downloads"), self.model, ratio, pipeline,
                               strength, progress)[0]

    def all_photos(self, ratio: RatioChoice, pipeline: str = "photo", strength: float = DEFAULT_STRENGTH,
                   progress: Progress | None = None) -> Path:
        """Every photo of the gallery at ``ratio``, as ``kind enhance`` writes them, in one zip;
        photos of one name get distinct names in it (``dark.png``, ``dark-2.png``). ``progress``
        hears (photos done, photos in all)."""
        photos = list(self.photos)
        if not photos:
            raise ValueError("no photo yet: upload one first")
        archive = self._new_path("downloads", f"kind-ratio-{ratio_tag(ratio)}.zip")
        names: set[str] = set()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:  # PNGs are compressed already
            for done, photo in enumerate(photos):
                if progress is not None:
                    progress(done, len(photos))
                output = enhance_uploads([photo.path], self._new_folder("downloads"), self.model, ratio, pipeline,
                                         strength)[0]
                bundle.write(output, distinct_name(output.name, names))
        return archive

    def close(self) -> None:
        """Forget the photos and remove the session's folder."""
        self.photos.clear()
        self._prepared.clear()
        self.current = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def _new_folder(self, kind: str) -> Path:
        folder = self.folder / kind / str(next(self._files))
        folder.mkdir(parents=True)
        return folder

    def _new_path(self, kind: str, name: str) -> Path:
        return self._new_folder(kind) / name


def distinct_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.suffix``, ``stem-3.suffix``, ... : the first not in ``taken`` (added to it)."""
    stem, suffix = os.path.splitext(name)
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{stem}-{count}{suffix}"
    taken.add(candidate)
    return candidate


def take_upload(upload: Path, folder: Path, max_bytes: int, max_pixels: int) -> tuple[Path, LoadedImage]:
    """Check an uploaded file (its size, its name, then its pixels from the header before decoding),
    copy it into ``folder`` (created) under its own name and decode it. Raises UploadError naming
    the file (the folder is removed then)."""
    name = upload.name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        size = upload.stat().st_size if upload.is_file() else 0
        if size > max_bytes:
            raise UploadError(f"{name}: file too large ({size:,} bytes, limit {max_bytes:,})")
        if not is_image_name(upload):
            raise UploadError(f"{name}: not an image file name (expected a suffix among {', '.join(IMAGE_SUFFIXES)})")
        copy = folder / name
        shutil.copyfile(upload, copy)
        try:
            return copy, read_image(copy, max_pixels)
        except IMAGE_ERRORS as error:
            raise UploadError(f"{name}: {failure_reason(error, copy)}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def enhance_uploads(paths: list[Path], out: Path, model: KinD, ratio: RatioChoice, pipeline: str = "photo",
                    strength: float = DEFAULT_STRENGTH, progress: Progress | None = None) -> list[Path]:
    """Enhance image files into the empty folder ``out`` with :func:`kind.enhance.enhance_files`
    (exactly ``kind enhance --strength S``); returns the outputs in order. ``progress`` hears the
    tiles of tiled photos. Raises ValueError naming the file that failed."""
    summary = enhance_files([str(path) for path in paths], out, _Reporting(model, strength, progress), ratio,
                            progress=False, pipeline=pipeline)
    if summary.failed:
        path, reason = summary.failed[0]
        raise ValueError(f"{Path(path).name}: {reason}")
    return [Path(item["output"]) for item in summary.files]


class _Reporting:
    """``model`` at denoise ``strength`` whose tiles are also reported to ``progress``: what
    :func:`kind.enhance.enhance_files` needs of a model (its limits, :meth:`KinD.enhance_samples`)."""

    def __init__(self, model: KinD, strength: float, progress: Progress | None) -> None:
        self.model, self.strength, self.progress = model, strength, progress
        self.max_pixels = model.max_pixels

    def enhance_samples(self, samples: np.ndarray, ratio: RatioChoice, **options):
        inner = options.pop("progress", None)

        def tiles(done: int, total: int) -> None:
            for listener in (inner, self.progress):
                if listener is not None:
                    listener(done, total)

        return self.model.enhance_samples(samples, ratio, progress=tiles, strength=self.strength, **options)


def map_arrays_to_uint8(reflectance: np.ndarray, illumination: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`kind.KinD.decompose`'s float maps as ``kind enhance --save-maps`` writes them: uint8
    H×W×3, L in all three channels."""
    return to_uint8(reflectance), to_uint8(np.repeat(illumination[..., None], 3, axis=2))


class Sessions:
    """The page's sessions by key (the browser session's id): each made on first use with its own
    folder of ``workspace``, closed (its folder removed) when the page goes away."""

    def __init__(self, model: KinD, workspace: Workspace, **options: int | Runner) -> None:
        self.model = model
        self.workspace = workspace
        self.options = options
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Session:
        """The session of ``key``, made on first use."""
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = Session(self.model, self.workspace.session_folder(), **self.options)
            return self._sessions[key]

    def close(self, key: str) -> None:
        """End the session of ``key`` (if any): its photos are forgotten and its folder removed."""
        with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            session.close()

    def close_all(self) -> None:
        """End every session."""
        for key in list(self._sessions):
            self.close(key)

    def __len__(self) -> int:
        return len(self._sessions)
