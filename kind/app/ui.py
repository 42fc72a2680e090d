"""The Gradio page of ``kind app`` (the only module of kind that imports Gradio).

Upload photos (or click a bundled sample) into a gallery, drag the ratio slider (the preview
follows it: the adjustment net on a reduced L and a product, :mod:`kind.app.preview`), press
``auto`` or the authors' 5.0, set the denoise strength, compare before and after, show the maps,
choose the photo pipeline or the LOL protocol's R̂·L̂, and download the full-resolution result (with
a progress bar) or a zip of the whole gallery. The API endpoints ``/enhance`` and ``/decompose``
are scriptable with ``gradio_client``. Offline: a theme of system fonts (no Google Fonts), analytics
off, no share link.

Speed: every event that computes a preview shares one queue (``PREVIEW_QUEUE``, one at a time), a
drag sends only its last position while one is computing (``always_last``), and the release of a
slider whose last position is on screen already computes nothing (:meth:`Session.preview_file`).
"""

from __future__ import annotations

import logging

import gradio as gr

from kind.api import KinD
from kind.app.endpoints import decompose_endpoint, enhance_endpoint
from kind.app.session import MAX_UPLOAD_BYTES, PREVIEW_PIXELS, Session, Sessions, UploadError
from kind.app.workspace import Workspace
from kind.constants import DEFAULT_RATIO, DEFAULT_STRENGTH
from kind.enhance import ASSETS_DIR
from kind.inference.pipeline import RatioChoice
from kind.inference.runner import Runner

SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
RATIO_RANGE = (0.5, 10.0)
RATIO_STEP = 0.05
STRENGTH_STEP = 0.05
PIPELINES = {"photo pipeline (darkness weight and blend)": "photo", "LOL protocol (plain R̂·L̂)": "lol"}
CACHE_SWEEP = (300, 900)  # Gradio's own cache files: checked every 5 min, removed after 15 min
TITLE = "KinD: brighten a dark photo"
ABOUT = ("KinD (Zhang et al., ACM MM 2019) splits a photo into its reflectance R, the colours, cleaned of noise "
         "by a restoration net, and its illumination L, then relights L with a small adjustment net and "
         "multiplies them back. The **ratio** is how much brighter the light becomes (1 keeps it, 5 is the "
         "authors' choice, *auto* reads it from the photo); only the adjustment net depends on it, so the preview "
         "follows the slider, and the download is exactly what `kind enhance --ratio R` writes.")
PAGE_ONLY = "undocumented"  # the page's own events: not listed with the API endpoints
PREVIEW_QUEUE = "preview"  # the events that compute previews, one at a time
PREVIEW_HEIGHT = 480  # CSS pixels: a 4:3 preview of PREVIEW_PIXELS shows at its own size
SAMPLES = sorted(str(path) for path in ASSETS_DIR.glob("*.png"))
CSS = ("#status p { margin: 0; } footer { margin-top: 0 !important; } "
       "#gallery .grid-container { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }")  # one photo: a third
log = logging.getLogger("kind.app")


def offline_theme() -> gr.themes.Base:
    """Gradio's default look in system fonts: nothing is fetched from Google Fonts."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(model: KinD, workspace: Workspace, *, preview_pixels: int = PREVIEW_PIXELS,
              max_upload_bytes: int = MAX_UPLOAD_BYTES, preview_runner: Runner | None = None) -> gr.Blocks:
    """The page, for ``model`` (previews on ``preview_runner``, by default the model's); every file
    it writes lies in ``workspace``."""
    sessions = Sessions(model, workspace, preview_pixels=preview_pixels, max_upload_bytes=max_upload_bytes,
                        preview_runner=preview_runner)

    def session_of(request: gr.Request) -> Session:
        return sessions.get(request.session_hash)

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_SWEEP) as demo:
        demo.kind_sessions = sessions  # for tests and for closing at shutdown
        choice = gr.State(DEFAULT_RATIO)  # the ratio asked for: a number, or "auto"
        gr.Markdown(f"## {TITLE}\n{ABOUT}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                files = gr.File(label="Add photos", file_count="multiple", file_types=["image"], elem_id="uploads",
                                height=120)
                gallery = gr.Gallery(label="Gallery (click one to view it)", columns=3, rows=1, height=140, allow_preview=False,
                                     elem_id="gallery", interactive=False, buttons=[], object_fit="cover")
                remove_button = gr.Button("Remove this photo", size="sm", elem_id="remove")
                sample = gr.Image(type="filepath", visible=False, label="sample")
                examples_row = gr.Column()
            with gr.Column(scale=2, min_width=400):
                preview = gr.Image(label="Preview", type="filepath", interactive=False, elem_id="preview",
                                   height=PREVIEW_HEIGHT, buttons=["fullscreen"])
                status = gr.Markdown("Upload a photo, or click a sample, to begin.", elem_id="status")
        with gr.Row():
            slider = gr.Slider(*RATIO_RANGE, value=DEFAULT_RATIO, step=RATIO_STEP, label="Ratio (light level)",
                               elem_id="ratio", scale=3)
            auto_button = gr.Button("auto", elem_id="auto", scale=0, min_width=80)
            authors_button = gr.Button("5.0 (the authors')", elem_id="authors", scale=0, min_width=140)
        with gr.Row():
            strength = gr.Slider(0.0, 1.0, value=DEFAULT_STRENGTH, step=STRENGTH_STEP, elem_id="strength", scale=3,
                                 label="Denoise strength (0 keeps R's texture and noise, 1 is KinD's restoration R̂)")
            pipeline = gr.Radio(list(PIPELINES), value=next(iter(PIPELINES)), label="Output", scale=2)
        with gr.Row(equal_height=False):
            download_button = gr.Button("Full-resolution result", variant="primary", elem_id="download")
            zip_button = gr.Button("Apply these settings to all (zip)", elem_id="zip")
            download = gr.File(label="Download", elem_id="download-file", interactive=False, visible=False)
        with gr.Accordion("Before / after", open=False):
            compare = gr.ImageSlider(label="Before / after", type="filepath", elem_id="compare", height=PREVIEW_HEIGHT)
        with gr.Accordion("Maps: R, L, R̂, L̂ (they follow the slider)", open=False) as maps_panel:
            maps = gr.Gallery(label="Maps (preview size)", columns=4, height=220, elem_id="maps", interactive=False)
        maps_open = gr.State(False)
        settings = [choice, pipeline, strength, maps_open]
        views = [preview, compare, status, maps]

        def shown(session: Session, ratio: RatioChoice, mode: str, level: float, maps_on: bool,
                  everything: bool = True) -> tuple:
            """(preview, before/after, status, maps) of the photo on view: the preview only when
            new, the rest with ``everything``."""
            path, new = session.preview_file(ratio, PIPELINES[mode], level)
            after = str(path) if new else gr.skip()
            if not everything:
                return after, gr.skip(), gr.skip(), gr.skip()
            map_list = [(str(f), label) for f, label in session.map_files(ratio, level)] if maps_on else gr.skip()
            return after, (str(session.photo.before_file), str(path)), describe(session, ratio, level), map_list

        def gallery_of(session: Session) -> list:
            return [(str(photo.before_file), photo.name) for photo in session.photos]

        def empty(text: str) -> tuple:
            return None, None, text, []

        def on_upload(paths: list[str] | None, ratio: RatioChoice, mode: str, level: float, maps_on: bool,
                      request: gr.Request):
            session = session_of(request)
            problems = session.add(paths or [])  # the uploads are only read: other sessions may share them
            for problem in problems:
                gr.Warning(problem)
            if session.current is None:
                return None, gallery_of(session), *empty(report(problems) or "Upload a photo to begin.")
            after, pair, text, map_list = shown(session, ratio, mode, level, maps_on)
            return None, gallery_of(session), after, pair, "\n\n".join(filter(None, [text, report(problems)])), map_list

        preview_events = dict(concurrency_id=PREVIEW_QUEUE, concurrency_limit=1, api_visibility=PAGE_ONLY)
        files.upload(on_upload, [files, *settings], [files, gallery, *views], show_progress="minimal", **preview_events)

        def on_sample(path: str | None, ratio: RatioChoice, mode: str, level: float, maps_on: bool,
                      request: gr.Request):
            if not path:  # the hidden input cleared after a sample was taken
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return on_upload([path], ratio, mode, level, maps_on, request)

        with examples_row:
            gr.Examples([[path] for path in SAMPLES], [sample], label="Or try a sample (synthetic low-light photos)",
                        examples_per_page=len(SAMPLES), elem_id="samples")
        sample.change(on_sample, [sample, *settings], [sample, gallery, *views], show_progress="minimal",
                      **preview_events)

        def on_select(ratio: RatioChoice, mode: str, level: float, maps_on: bool, event: gr.SelectData,
                      request: gr.Request):
            session = session_of(request)
            session.select(event.index)
            return shown(session, ratio, mode, level, maps_on)

        gallery.select(on_select, settings, views, **preview_events)

        def on_remove(ratio: RatioChoice, mode: str, level: float, maps_on: bool, request: gr.Request):
            session = session_of(request)
            if session.current is None:
                return gr.skip(), *user_error("Upload a photo first: there is none to remove.", 4)
            session.remove(session.current)
            if session.current is None:
                return gallery_of(session), *empty("Upload a photo, or click a sample, to begin.")
            return gallery_of(session), *shown(session, ratio, mode, level, maps_on)

        remove_button.click(on_remove, settings, [gallery, *views], **preview_events)

        def on_slide(value: float, mode: str, level: float, request: gr.Request):
            ratio = round(float(value), 2)  # the number the slider shows (steps of 0.05)
            session = session_of(request)
            if session.current is None:
                return ratio, gr.skip()
            return ratio, shown(session, ratio, mode, level, False, everything=False)[0]

        slider.input(on_slide, [slider, pipeline, strength], [choice, preview], trigger_mode="always_last",
                     show_progress="hidden", **preview_events)

        def on_settle(ratio: RatioChoice, mode: str, level: float, maps_on: bool, request: gr.Request):
            session = session_of(request)
            if session.current is None:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return shown(session, ratio, mode, level, maps_on)

        def on_release(value: float, mode: str, level: float, maps_on: bool, request: gr.Request):
            ratio = round(float(value), 2)
            return ratio, *on_settle(ratio, mode, level, maps_on, request)

        # every release is sent, even while an earlier one waits (Gradio's default, "once", would drop it
        # and leave the page on the last position an input event sent)
        slider.release(on_release, [slider, pipeline, strength, maps_open], [choice, *views], show_progress="hidden",
                       trigger_mode="multiple", **preview_events)
        strength.release(on_settle, settings, views, show_progress="hidden", trigger_mode="multiple", **preview_events)
        pipeline.change(on_settle, settings, views, show_progress="hidden", **preview_events)

        def on_maps(ratio: RatioChoice, mode: str, level: float, request: gr.Request):
            return True, *on_settle(ratio, mode, level, True, request)

        maps_panel.expand(on_maps, [choice, pipeline, strength], [maps_open, *views], **preview_events)
        maps_panel.collapse(lambda: False, None, [maps_open], api_visibility=PAGE_ONLY)

        def on_auto(mode: str, level: float, maps_on: bool, request: gr.Request):
            session = session_of(request)
            if session.current is None:  # the ratio stays what the slider shows
                return gr.skip(), gr.skip(), *user_error("Upload a photo first: auto reads the ratio from it.", 4)
            return "auto", round(session.auto_ratio, 2), *shown(session, "auto", mode, level, maps_on)

        auto_button.click(on_auto, [pipeline, strength, maps_open], [choice, slider, *views], **preview_events)

        def on_authors(mode: str, level: float, maps_on: bool, request: gr.Request):
            session = session_of(request)
            if session.current is None:
                return DEFAULT_RATIO, DEFAULT_RATIO, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return DEFAULT_RATIO, DEFAULT_RATIO, *shown(session, DEFAULT_RATIO, mode, level, maps_on)

        authors_button.click(on_authors, [pipeline, strength, maps_open], [choice, slider, *views], **preview_events)

        def on_download(ratio: RatioChoice, mode: str, level: float, request: gr.Request, progress=gr.Progress()):
            session = session_of(request)
            if session.current is None:
                return user_error("Upload a photo first: there is nothing to download.", 1)[0]
            progress(0, desc="enhancing at full resolution")
            path = session.full_resolution(ratio, PIPELINES[mode], level, tile_progress(progress, "tile"))
            return gr.update(value=str(path), visible=True)

        downloads = dict(concurrency_limit=1, show_progress_on=[preview], api_visibility=PAGE_ONLY)
        download_button.click(on_download, [choice, pipeline, strength], [download], **downloads)

        def on_zip(ratio: RatioChoice, mode: str, level: float, request: gr.Request, progress=gr.Progress()):
            session = session_of(request)
            if session.current is None:
                return user_error("Upload a photo first: there is nothing to download.", 1)[0]
            try:
                path = session.all_photos(ratio, PIPELINES[mode], level, tile_progress(progress, "photo"))
                return gr.update(value=str(path), visible=True)
            except ValueError as error:
                raise gr.Error(str(error), print_exception=False) from None

        zip_button.click(on_zip, [choice, pipeline, strength], [download], **downloads)

        def on_leave(request: gr.Request) -> None:
            sessions.close(request.session_hash)

        demo.unload(on_leave)

        # --- the API: /enhance (image file, ratio) -> PNG, /decompose (image file) -> R, L PNGs ---
        with gr.Column(visible=False):
            api_image = gr.File(label="image")
            api_ratio = gr.Textbox(label="ratio", value=str(DEFAULT_RATIO))
            api_result = gr.File(label="result")
            api_maps = [gr.File(label="R"), gr.File(label="L")]
            api_button = gr.Button()

        def api_enhance(image: str, ratio: str) -> str:
            """An image file at a ratio (a number or "auto"): the full-resolution PNG of `kind enhance --ratio R`."""
            return str(_answer(lambda: enhance_endpoint(model, workspace, image, ratio, max_upload_bytes=max_upload_bytes)))

        def api_decompose(image: str) -> tuple[str, str]:
            """An image file: its reflectance R and illumination L as PNGs (as `kind enhance --save-maps`)."""
            paths = _answer(lambda: decompose_endpoint(model, workspace, image, max_upload_bytes=max_upload_bytes))
            return str(paths[0]), str(paths[1])

        api_button.click(api_enhance, [api_image, api_ratio], [api_result], api_name="enhance", concurrency_limit=1)
        api_button.click(api_decompose, [api_image], api_maps, api_name="decompose", concurrency_limit=1)
    return demo


def describe(session: Session, ratio: RatioChoice, strength: float = DEFAULT_STRENGTH) -> str:
    """The status line of the photo on view."""
    photo = session.photo
    width, height = photo.size
    asked = f"auto ({session.auto_ratio:.2f} on the preview)" if ratio == "auto" else f"{float(ratio):.2f}"
    return (f"**{photo.name}**: {width} × {height}, ratio {asked}, denoise strength {float(strength):.2f}; "
            f"the preview is {photo.before.shape[1]} × {photo.before.shape[0]}")


def report(problems: list[str]) -> str:
    """Upload problems as a Markdown list (empty when none)."""
    return "\n".join(f"- could not take {problem}" for problem in problems)


def user_error(message: str, outputs: int) -> tuple:
    """A user's mistake (nothing to act on yet): one line in the server's log, a notice in the page,
    and ``outputs`` outputs left as they are."""
    log.warning("kind app: %s", message)
    gr.Warning(message)
    return (gr.skip(),) * outputs


def tile_progress(progress: gr.Progress, unit: str):
    """A (done, total) listener that moves the page's progress bar."""

    def listener(done: int, total: int) -> None:
        progress((done, total), desc=f"{unit} {done} of {total}", unit=f"{unit}s")

    return listener


def _answer(work):
    """Run an endpoint; a bad upload or ratio becomes a message for the caller (gr.Error), and one
    line in the server's log."""
    try:
        return work()
    except (UploadError, ValueError) as error:
        log.warning("kind app: %s", error)
        raise gr.Error(str(error), print_exception=False) from None


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
           block: bool = True) -> None:
    """Serve ``demo`` at http://host:port: offline theme, no share link, uploads bounded (the
    bundled samples readable)."""
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=max_upload_bytes,
                theme=offline_theme(), css=CSS, ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                show_error=True, footer_links=["api"], prevent_thread_lock=not block, quiet=True,
                allowed_paths=[str(ASSETS_DIR)])
