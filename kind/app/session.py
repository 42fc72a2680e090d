"""One user's photos and what the page does with them, without any web framework.

A :class:`Session` keeps its files in its own folder of the :class:`kind.app.workspace.Workspace`
(nothing is shared between sessions). Each uploaded photo is checked (file size, then pixels from
the header, before decoding), copied into the folder, and reduced to a preview of at most
``preview_pixels``; the photo on view is prepared once (:meth:`kind.KinD.prepare`: decomposition and
restoration) so that each ratio runs only the adjustment net and the product. The full-resolution
file and the zip of every photo are what ``kind enhance --ratio R`` writes: they come from
:func:`kind.enhance.enhance_files` itself, on the uploaded copies.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from kind.api import KinD, Prepared
from kind.app.workspace import Workspace
from kind.constants import IMAGE_SUFFIXES
from kind.enhance import IMAGE_ERRORS, enhance_files, failure_reason
from kind.imageops import to_uint8
from kind.inference.pipeline import RatioChoice, check_pipeline, check_ratio
from kind.io.inputs import is_image_name
from kind.io.plan import ratio_tag
from kind.io.read import LoadedImage, as_uint8, read_image

PREVIEW_PIXELS = 1_000_000  # the preview the slider relights
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # per file
PREVIEW_QUALITY = 90  # JPEG quality of the preview images
PREVIEWS_KEPT = 8  # preview files kept on disk per session (the page may still be fetching the last few)
MAP_LABELS = {"R": "reflectance R", "L": "illumination L", "R_restored": "restored R̂", "L_adjusted": "adjusted L̂"}


class UploadError(ValueError):
    """A file the app cannot take; the message names the file and the reason."""


def parse_ratio(value: object) -> RatioChoice:
    """A ratio from a page or an API call: a number ≥ 0 (or its text) or ``"auto"``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"ratio: expected a number or 'auto', got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"ratio: expected a number or 'auto', got {value!r}")
    check_ratio(float(value))
    return float(value)


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
    """One user's gallery. ``model`` is shared (read-only); everything else is the session's own."""

    def __init__(self, model: KinD, folder: str | Path, *, preview_pixels: int = PREVIEW_PIXELS,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.model = model
        self.folder = Path(folder)
        self.preview_pixels = preview_pixels
        self.max_upload_bytes = max_upload_bytes
        self.photos: list[UploadedPhoto] = []
        self.current: int | None = None
        self._prepared: Prepared | None = None
        self._files = 0  # a counter for unique file names
        self._previews: list[Path] = []

    # --- the gallery -------------------------------------------------------------------------

    def add(self, paths: list[str | os.PathLike]) -> list[str]:
        """Take uploaded files (their names as uploaded); returns one message per file that could
        not be taken, naming it. The first photo taken is shown if none was."""
        problems = []
        for path in paths:
            try:
                self.photos.append(self._take(Path(path)))
            except UploadError as error:
                problems.append(str(error))
        if self.current is None and self.photos:
            self.select(0)
        return problems

    def _take(self, upload: Path) -> UploadedPhoto:
        copy, loaded = take_upload(upload, self._new_folder("uploads"), self.max_upload_bytes, self.model.max_pixels)
        height, width = loaded.samples.shape[:2]
        before = reduce_for_preview(loaded.samples, self.preview_pixels)
        before_file = copy.parent / "before.jpg"
        Image.fromarray(before).save(before_file, quality=PREVIEW_QUALITY)
        return UploadedPhoto(upload.name, copy, (width, height), before, before_file)

    def select(self, index: int) -> UploadedPhoto:
        """Show photo ``index``: its preview is prepared (decomposed and restored) once."""
        if not 0 <= index < len(self.photos):
            raise ValueError(f"photo {index}: the gallery holds {len(self.photos)}")
        if index != self.current or self._prepared is None:
            self._prepared = None  # one prepared preview a session: the old one is freed first
            self._prepared = self.model.prepare(self.photos[index].before)
            self.current = index
        return self.photos[index]

    @property
    def photo(self) -> UploadedPhoto:
        """The photo on view (ValueError when the gallery is empty)."""
        if self.current is None:
            raise ValueError("no photo yet: upload one first")
        return self.photos[self.current]

    @property
    def auto_ratio(self) -> float:
        """The automatic ratio of the preview on view."""
        self.photo  # noqa: B018 - raises when there is none
        return self._prepared.auto_ratio

    # --- what the page shows -----------------------------------------------------------------

    def preview(self, ratio: RatioChoice, pipeline: str = "photo") -> np.ndarray:
        """The photo on view at ``ratio``, preview-sized: uint8 h×w×3 (adjustment net and product only)."""
        check_pipeline(pipeline)
        self.photo  # noqa: B018
        return self._prepared.relight(ratio, pipeline=pipeline)

    def maps(self, ratio: RatioChoice, pipeline: str = "photo") -> dict[str, np.ndarray]:
        """The preview's maps by label (R, L, R̂, L̂ at ``ratio``), uint8 h×w×3."""
        self.photo  # noqa: B018
        photo = self._prepared.photo(ratio, pipeline=pipeline, maps=True)
        return {MAP_LABELS[name]: array for name, array in photo.maps.items()}

    def preview_file(self, pixels: np.ndarray) -> Path:
        """``pixels`` as a JPEG in the session folder, for the page (the oldest beyond
        ``PREVIEWS_KEPT`` are removed)."""
        path = self._new_path("previews", "preview.jpg")
        Image.fromarray(pixels).save(path, quality=PREVIEW_QUALITY)
        self._previews.append(path)
        while len(self._previews) > PREVIEWS_KEPT:
            shutil.rmtree(self._previews.pop(0).parent, ignore_errors=True)
        return path

    # --- downloads: what `kind enhance --ratio R` writes ---------------------------------------

    def full_resolution(self, ratio: RatioChoice, pipeline: str = "photo") -> Path:
        """The photo on view enhanced at full resolution by :func:`kind.enhance.enhance_files`:
        the file ``kind enhance --ratio R [--pipeline lol]`` writes for it."""
        return enhance_uploads([self.photo.path], self._new_folder("downloads"), self.model, ratio, pipeline)[0]

    def all_photos(self, ratio: RatioChoice, pipeline: str = "photo") -> Path:
        """Every photo of the gallery at ``ratio``, as ``kind enhance`` writes them, in one zip."""
        if not self.photos:
            raise ValueError("no photo yet: upload one first")
        outputs = enhance_uploads([photo.path for photo in self.photos], self._new_folder("downloads"),
                                  self.model, ratio, pipeline)
        archive = self._new_path("downloads", f"kind-ratio-{ratio_tag(ratio)}.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:  # PNGs are compressed already
            for output in outputs:
                bundle.write(output, output.name)
        return archive

    def close(self) -> None:
        """Forget the photos and remove the session's folder."""
        self.photos.clear()
        self._prepared = None
        self.current = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def _new_folder(self, kind: str) -> Path:
        self._files += 1
        folder = self.folder / kind / str(self._files)
        folder.mkdir(parents=True)
        return folder

    def _new_path(self, kind: str, name: str) -> Path:
        return self._new_folder(kind) / name


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


def enhance_uploads(paths: list[Path], out: Path, model: KinD, ratio: RatioChoice, pipeline: str = "photo") -> list[Path]:
    """Enhance image files into the empty folder ``out`` with :func:`kind.enhance.enhance_files`
    (exactly ``kind enhance``); returns the outputs in order. Raises ValueError naming the file
    that failed."""
    summary = enhance_files([str(path) for path in paths], out, model, ratio, progress=False, pipeline=pipeline)
    if summary.failed:
        path, reason = summary.failed[0]
        raise ValueError(f"{Path(path).name}: {reason}")
    return [Path(item["output"]) for item in summary.files]


def map_arrays_to_uint8(reflectance: np.ndarray, illumination: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`kind.KinD.decompose`'s float maps as ``kind enhance --save-maps`` writes them: uint8
    H×W×3, L in all three channels."""
    return to_uint8(reflectance), to_uint8(np.repeat(illumination[..., None], 3, axis=2))


class Sessions:
    """The page's sessions by key (the browser session's id): each made on first use with its own
    folder of ``workspace``, closed (its folder removed) when the page goes away."""

    def __init__(self, model: KinD, workspace: Workspace, **options: int) -> None:
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
