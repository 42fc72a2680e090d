"""Labelled side-by-side panels of images (diagnose, figures)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def make_panel(images: list[np.ndarray], labels: list[str] | None = None, gap: int = 8) -> np.ndarray:
    """Place uint8 H x W x 3 images side by side on white, ``gap`` pixels apart.

    Shorter images are padded at the bottom to the tallest height. With ``labels`` (one a image),
    a strip above holds each label in Pillow's default font. Returns uint8 (strip + H) x W_total x 3.

    >>> make_panel([np.zeros((4, 5, 3), np.uint8), np.zeros((6, 2, 3), np.uint8)], gap=1).shape
    (6, 8, 3)
    """
    if not images:
        raise ValueError("expected at least one image, got none")
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise TypeError(f"expected uint8 arrays, got {getattr(image, 'dtype', type(image))} at {index}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected H x W x 3 images, got {image.shape} at {index}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"expected {len(images)} labels, got {len(labels)}")
    if gap < 0:
        raise ValueError(f"expected gap >= 0, got {gap}")

    font = ImageFont.load_default()
    strip = 0
    if labels is not None:
        text_height = max(_text_size(font, label)[1] for label in labels)
        strip = text_height + 6 if any(labels) else 0
    height = max(image.shape[0] for image in images)
    width = sum(image.shape[1] for image in images) + gap * (len(images) - 1)
    panel = np.full((strip + height, width, 3), 255, dtype=np.uint8)
    x = 0
    for image in images:
        h, w = image.shape[:2]
        panel[strip : strip + h, x : x + w] = image
        x += w + gap
    if strip:
        canvas = Image.fromarray(panel)
        draw = ImageDraw.Draw(canvas)
        x = 0
        for image, label in zip(images, labels):
            draw.text((x + 2, 3), label, fill=(0, 0, 0), font=font)
            x += image.shape[1] + gap
        panel = np.asarray(canvas).copy()
    return panel


def _text_size(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    if not text:
        return 0, 0
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom
