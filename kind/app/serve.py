"""``kind app``: load the networks, make the app's temporary folder, serve the page until Ctrl-C.

This is an entry point (called by the ``kind`` command line and by ``app.py``): it sets the
process-wide settings Gradio reads from the environment — its cache folder (the app's temporary
folder, so that uploads land nowhere else) and analytics off — before Gradio is imported.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import signal
import socket
import sys
import tempfile
import warnings
from dataclasses import dataclass

import argparse

INSTALL_HINT = "kind app needs Gradio: pip install 'kind[app]'"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
APP_MAX_PIXELS = 50_000_000  # a photo's pixels: larger uploads are refused from their header


@dataclass(frozen=True)
class AppSettings:
    """What ``kind app`` serves: the networks (weights, device, precision) and the limits."""

    weights: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_pixels: int = APP_MAX_PIXELS
    max_upload_mb: int = 200
    preview_pixels: int = 307_200  # 640 × 480: the page shows a 4:3 preview at this size


def add_app_arguments(p: argparse.ArgumentParser) -> None:
    """``kind app``'s own options (the runner options come from the command line module)."""
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; others get a warning)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--max-pixels", type=int, default=APP_MAX_PIXELS, metavar="N",
                   help=f"refuse photos with more pixels, from their header (default {APP_MAX_PIXELS:,})")
    p.add_argument("--max-upload-mb", type=int, default=AppSettings.max_upload_mb, metavar="MB",
                   help=f"refuse larger files (default {AppSettings.max_upload_mb} MB)")
    p.add_argument("--preview-pixels", type=int, default=AppSettings.preview_pixels, metavar="N",
                   help=f"the preview the slider relights (default {AppSettings.preview_pixels:,} pixels)")


def run_app(args: argparse.Namespace) -> int:
    """``kind app``: :func:`serve` with the parsed options."""
    for option, value in (("--port", args.port), ("--max-pixels", args.max_pixels),
                          ("--max-upload-mb", args.max_upload_mb), ("--preview-pixels", args.preview_pixels)):
        if value < 1 or (option == "--port" and value > 65535):
            raise ValueError(f"{option}: expected {'1 to 65535' if option == '--port' else 'at least 1'}, got {value}")
    check_host(args.host)
    return serve(AppSettings(args.weights, args.device, args.precision, args.host, args.port, args.max_pixels,
                             args.max_upload_mb, args.preview_pixels))


def gradio_missing() -> bool:
    """Whether Gradio is not installed (``kind[app]`` not installed), found without importing it."""
    try:
        return importlib.util.find_spec("gradio") is None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules["gradio"] is None)
        return True


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> None:
    """Raise ValueError, naming ``--host``, unless the app can listen on ``host``: a valid address
    (or a name that resolves) of this machine."""
    try:
        if host.replace(".", "").isdigit():  # looks like an IPv4 address: no name lookup for it
            ipaddress.IPv4Address(host)
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (ValueError, socket.gaierror, UnicodeError):
        raise ValueError(f"--host {host}: not a valid IP address or known host name (e.g. 127.0.0.1, "
                         "0.0.0.0 for every interface)") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address[0], 0))
        except OSError as error:
            raise ValueError(f"--host {host}: cannot listen on this address ({error.strerror}); it must be an "
                             "address of this machine (e.g. 127.0.0.1, or 0.0.0.0 for every interface)") from None


def serve(settings: AppSettings) -> int:
    """Serve the app until interrupted; returns the exit status (2 without Gradio)."""
    if gradio_missing():
        print(f"kind app: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    if not is_loopback(settings.host):
        warnings.warn(f"--host {settings.host}: the app is reachable from other machines (it has no login); "
                      "the default 127.0.0.1 keeps it to this one", stacklevel=2)
    from kind.tuning import tune_process

    tune_process(max_image_pixels=settings.max_pixels)
    from kind.api import KinD

    model = KinD.from_pretrained(settings.weights, settings.device, settings.precision, max_pixels=settings.max_pixels)
    from kind.app.preview import preview_runner

    previews = preview_runner(model.runner, settings.weights)  # bf16 where the CPU has it; downloads stay as asked
    with tempfile.TemporaryDirectory(prefix="kind-app-") as root:
        os.environ["GRADIO_TEMP_DIR"] = root  # Gradio's uploads and cache: inside the app's folder
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
        from kind.app.ui import build_app, launch
        from kind.app.workspace import Workspace

        max_bytes = settings.max_upload_mb * 1024 * 1024
        demo = build_app(model, Workspace(root), preview_pixels=settings.preview_pixels, max_upload_bytes=max_bytes,
                         preview_runner=previews)
        previous = signal.signal(signal.SIGTERM, _interrupt)  # a terminated app cleans its folder too
        try:
            print(f"kind app: serving {model!r} (previews in {previews.precision}) at http://{settings.host}:{settings.port} (Ctrl-C stops it)",
                  flush=True)
            launch(demo, settings.host, settings.port, max_upload_bytes=max_bytes)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            demo.kind_sessions.close_all()
            demo.close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
