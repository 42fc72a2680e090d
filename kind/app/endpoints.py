"""The app's scriptable endpoints, ``/enhance`` and ``/decompose``: one uploaded image file in,
PNG files out, each request in its own folder of the workspace (kept ``REQUEST_MAX_AGE_S`` for
the client to fetch its files)."""

from __future__ import annotations

from pathlib import Path

from kind.api import KinD
from kind.app.session import MAX_UPLOAD_BYTES, UploadError, enhance_uploads, map_arrays_to_uint8, parse_ratio, take_upload
from kind.app.workspace import Workspace
from kind.io.write import save_png


def enhance_endpoint(model: KinD, workspace: Workspace, image: str | Path, ratio: object,
                     pipeline: str = "photo", max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """``image`` at ``ratio`` (a number, its text, or ``"auto"``) at full resolution: the PNG
    ``kind enhance --ratio R`` writes for it."""
    choice = parse_ratio(ratio)
    _check_given(image)
    folder = workspace.request_folder()
    copy, _ = take_upload(Path(image), folder / "in", max_upload_bytes, model.max_pixels)
    return enhance_uploads([copy], folder / "out", model, choice, pipeline)[0]


def decompose_endpoint(model: KinD, workspace: Workspace, image: str | Path,
                       max_upload_bytes: int = MAX_UPLOAD_BYTES) -> tuple[Path, Path]:
    """The DecomNet's reflectance R and illumination L of ``image`` (stretched, as the pipeline
    decomposes it) at full resolution, as the PNGs ``kind enhance --save-maps`` writes (``_R``, ``_L``)."""
    _check_given(image)
    folder = workspace.request_folder()
    copy, loaded = take_upload(Path(image), folder / "in", max_upload_bytes, model.max_pixels)
    reflectance, illumination = map_arrays_to_uint8(*model.decompose(loaded.samples))
    paths = (folder / f"{copy.stem}_R.png", folder / f"{copy.stem}_L.png")
    save_png(paths[0], reflectance)
    save_png(paths[1], illumination)
    return paths



def _check_given(image: str | Path | None) -> None:
    if image is None or str(image) == "":
        raise UploadError("image: an image file is required (none was sent)")
