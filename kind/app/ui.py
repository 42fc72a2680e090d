"""The Gradio page of ``kind app`` (the only module of kind that imports Gradio).

Upload photos into a gallery, drag the ratio slider (the preview follows it: adjustment net and
product only), press ``auto`` or the authors' 5.0, compare before and after, show the maps, choose
the photo pipeline or the LOL protocol's R̂·L̂, and download the full-resolution result or a zip of
the whole gallery. The API endpoints ``/enhance`` and ``/decompose`` are scriptable with
``gradio_client``. Offline: a theme of system fonts (no Google Fonts), analytics off, no share link.
"""

from __future__ import annotations

import gradio as gr

from kind.api import KinD
from kind.app.endpoints import decompose_endpoint, enhance_endpoint
from kind.app.session import MAX_UPLOAD_BYTES, PREVIEW_PIXELS, Session, Sessions, UploadError
from kind.app.workspace import Workspace
from kind.constants import DEFAULT_RATIO
from kind.inference.pipeline import RatioChoice

SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
RATIO_RANGE = (0.5, 10.0)
RATIO_STEP = 0.05
PIPELINES = {"photo pipeline (darkness weight and blend)": "photo", "LOL protocol (plain R̂·L̂)": "lol"}
CACHE_SWEEP = (300, 900)  # Gradio's own cache files: checked every 5 min, removed after 15 min
TITLE = "KinD: choose the light level"
PAGE_ONLY = "undocumented"  # the page's own events: not listed with the API endpoints


def offline_theme() -> gr.themes.Base:
    """Gradio's default look in system fonts: nothing is fetched from Google Fonts."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(model: KinD, workspace: Workspace, *, preview_pixels: int = PREVIEW_PIXELS,
              max_upload_bytes: int = MAX_UPLOAD_BYTES) -> gr.Blocks:
    """The page, for ``model``; every file it writes lies in ``workspace``."""
    sessions = Sessions(model, workspace, preview_pixels=preview_pixels, max_upload_bytes=max_upload_bytes)

    def session_of(request: gr.Request) -> Session:
        return sessions.get(request.session_hash)

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_SWEEP) as demo:
        demo.kind_sessions = sessions  # for tests and for closing at shutdown
        choice = gr.State(DEFAULT_RATIO)  # the ratio asked for: a number, or "auto"
        gr.Markdown(f"## {TITLE}\nDrop dark photos, drag the ratio, download the result "
                    "(exactly what `kind enhance --ratio R` writes).")
        with gr.Row():
            with gr.Column(scale=1):
                files = gr.File(label="Add photos", file_count="multiple", file_types=["image"], elem_id="uploads")
                gallery = gr.Gallery(label="Gallery (pick one)", columns=4, height=180, allow_preview=False,
                                     elem_id="gallery", interactive=False)
                status = gr.Markdown("Upload a photo to begin.", elem_id="status")
            with gr.Column(scale=2):
                preview = gr.Image(label="Preview", type="filepath", interactive=False, elem_id="preview",
                                   buttons=["fullscreen"])
        with gr.Row():
            slider = gr.Slider(*RATIO_RANGE, value=DEFAULT_RATIO, step=RATIO_STEP, label="Ratio (light level)",
                               elem_id="ratio", scale=3)
            auto_button = gr.Button("auto", elem_id="auto", scale=0)
            authors_button = gr.Button("5.0 (the authors')", elem_id="authors", scale=0)
            pipeline = gr.Radio(list(PIPELINES), value=next(iter(PIPELINES)), label="Output", scale=2)
        with gr.Row():
            download_button = gr.Button("Full-resolution result", variant="primary", elem_id="download")
            zip_button = gr.Button("Apply this ratio to all (zip)", elem_id="zip")
            download = gr.File(label="Download", elem_id="download-file", interactive=False)
        with gr.Accordion("Before / after", open=True):
            compare = gr.ImageSlider(label="Before / after", type="filepath", elem_id="compare")
        with gr.Accordion("Maps: R, L, R̂, L̂", open=False):
            maps_button = gr.Button("Show the maps")
            maps = gr.Gallery(label="Maps (preview size)", columns=4, elem_id="maps", interactive=False)

        def view(session: Session, ratio: RatioChoice, mode: str) -> tuple:
            """(preview file, before/after pair, status) of the photo on view."""
            after = session.preview_file(session.preview(ratio, PIPELINES[mode]))
            return str(after), (str(session.photo.before_file), str(after)), describe(session, ratio)

        def on_upload(paths: list[str] | None, ratio: RatioChoice, mode: str, request: gr.Request):
            session = session_of(request)
            problems = session.add(paths or [])
            workspace.discard(paths or [])  # copied into the session's folder: Gradio's copy goes
            for problem in problems:
                gr.Warning(problem)
            thumbs = [(str(photo.before_file), photo.name) for photo in session.photos]
            if session.current is None:
                return None, thumbs, gr.update(), gr.update(), report(problems) or "Upload a photo to begin."
            after, pair, text = view(session, ratio, mode)
            return None, thumbs, after, pair, "\n\n".join(filter(None, [text, report(problems)]))

        files.upload(on_upload, [files, choice, pipeline], [files, gallery, preview, compare, status], api_visibility=PAGE_ONLY)

        def on_select(ratio: RatioChoice, mode: str, event: gr.SelectData, request: gr.Request):
            session = session_of(request)
            session.select(event.index)
            return view(session, ratio, mode)

        gallery.select(on_select, [choice, pipeline], [preview, compare, status], api_visibility=PAGE_ONLY)

        def on_slide(value: float, mode: str, request: gr.Request):
            ratio = round(float(value), 2)  # the number the slider shows (steps of 0.05)
            session = session_of(request)
            if session.current is None:
                return ratio, gr.update()
            return ratio, str(session.preview_file(session.preview(ratio, PIPELINES[mode])))

        slider.input(on_slide, [slider, pipeline], [choice, preview], trigger_mode="always_last",
                     show_progress="hidden", concurrency_limit=2, api_visibility=PAGE_ONLY)

        def on_settle(ratio: RatioChoice, mode: str, request: gr.Request):
            session = session_of(request)
            if session.current is None:
                return gr.update(), gr.update(), gr.update()
            return view(session, ratio, mode)

        def on_release(value: float, mode: str, request: gr.Request):
            ratio = round(float(value), 2)
            return ratio, *on_settle(ratio, mode, request)

        slider.release(on_release, [slider, pipeline], [choice, preview, compare, status], show_progress="hidden", api_visibility=PAGE_ONLY)
        pipeline.change(on_settle, [choice, pipeline], [preview, compare, status], show_progress="hidden", api_visibility=PAGE_ONLY)

        def on_auto(mode: str, request: gr.Request):
            session = session_of(request)
            if session.current is None:
                return "auto", gr.update(), gr.update(), gr.update(), "Upload a photo first."
            return "auto", round(session.auto_ratio, 2), *view(session, "auto", mode)

        auto_button.click(on_auto, [pipeline], [choice, slider, preview, compare, status], api_visibility=PAGE_ONLY)

        def on_authors(mode: str, request: gr.Request):
            session = session_of(request)
            if session.current is None:
                return DEFAULT_RATIO, DEFAULT_RATIO, gr.update(), gr.update(), gr.update()
            return DEFAULT_RATIO, DEFAULT_RATIO, *view(session, DEFAULT_RATIO, mode)

        authors_button.click(on_authors, [pipeline], [choice, slider, preview, compare, status], api_visibility=PAGE_ONLY)

        def on_maps(ratio: RatioChoice, mode: str, request: gr.Request):
            session = _with_photo(session_of(request))
            return [(str(session.preview_file(array)), label) for label, array in session.maps(ratio, PIPELINES[mode]).items()]

        maps_button.click(on_maps, [choice, pipeline], [maps], api_visibility=PAGE_ONLY)

        def on_download(ratio: RatioChoice, mode: str, request: gr.Request):
            return str(_with_photo(session_of(request)).full_resolution(ratio, PIPELINES[mode]))

        download_button.click(on_download, [choice, pipeline], [download], concurrency_limit=1, api_visibility=PAGE_ONLY)

        def on_zip(ratio: RatioChoice, mode: str, request: gr.Request):
            return str(_with_photo(session_of(request)).all_photos(ratio, PIPELINES[mode]))

        zip_button.click(on_zip, [choice, pipeline], [download], concurrency_limit=1, api_visibility=PAGE_ONLY)
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


def describe(session: Session, ratio: RatioChoice) -> str:
    """The status line of the photo on view."""
    photo = session.photo
    width, height = photo.size
    asked = f"auto ({session.auto_ratio:.2f} on the preview)" if ratio == "auto" else f"{float(ratio):.2f}"
    return (f"**{photo.name}**: {width} × {height}, ratio {asked}; the preview is "
            f"{photo.before.shape[1]} × {photo.before.shape[0]}")


def report(problems: list[str]) -> str:
    """Upload problems as a Markdown list (empty when none)."""
    return "\n".join(f"- could not take {problem}" for problem in problems)


def _with_photo(session: Session) -> Session:
    if session.current is None:
        raise gr.Error("Upload a photo first.")
    return session


def _answer(work):
    """Run an endpoint; a bad upload or ratio becomes a message for the caller (gr.Error)."""
    try:
        return work()
    except (UploadError, ValueError) as error:
        raise gr.Error(str(error)) from None


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
           block: bool = True) -> None:
    """Serve ``demo`` at http://host:port: offline theme, no share link, uploads bounded."""
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=max_upload_bytes,
                theme=offline_theme(), ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                show_error=True, footer_links=["api"], prevent_thread_lock=not block, quiet=True)

