"""Process-wide settings for a process whose main job is kind: one explicit opt-in call.

Importing kind, or constructing its objects, changes none of them, so a web server or notebook
that uses kind keeps its own. The ``kind`` commands call :func:`tune_process` first.
"""

from __future__ import annotations

import torch
from PIL import Image

from kind.constants import DEFAULT_MAX_PIXELS
from kind.fast import retain_freed_memory


def tune_process(
    *,
    threads: int | None = None,
    heap: bool = True,
    cudnn_benchmark: bool = True,
    max_image_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> dict[str, object]:
    """Apply the process-wide settings that make kind fastest, and return what was applied.

    threads: ``torch.set_num_threads(threads)`` (None: leave PyTorch's choice).
    heap: glibc keeps freed memory and serves blocks up to 128 MB from its heap
        (:func:`kind.fast.retain_freed_memory`; about 25% faster on the CPU fast path; Linux only).
    cudnn_benchmark: ``torch.backends.cudnn.benchmark = True`` (cuDNN picks the fastest kernels
        for each input size).
    max_image_pixels: raise Pillow's decompression-bomb limit ``PIL.Image.MAX_IMAGE_PIXELS`` to at
        least this (never lowers it), so that kind's own ``max_pixels`` check is the one that
        refuses large images (Pillow refuses above twice its limit). None leaves it.

    >>> import kind
    >>> kind.tune_process(heap=False, cudnn_benchmark=False, max_image_pixels=None)
    {}
    """
    applied: dict[str, object] = {}
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads: expected at least 1, got {threads}")
        torch.set_num_threads(threads)
        applied["threads"] = threads
    if heap:
        applied["heap"] = retain_freed_memory()
    if cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
        applied["cudnn_benchmark"] = True
    if max_image_pixels is not None:
        if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_image_pixels:
            Image.MAX_IMAGE_PIXELS = max_image_pixels
        applied["max_image_pixels"] = Image.MAX_IMAGE_PIXELS
    return applied
