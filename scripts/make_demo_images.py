"""Make the demo inputs in kind/assets/: public-domain/CC0 photos from scikit-image's sample data,
turned into synthetic low-light shots (linear-light exposure cut, shot and read noise, 8-bit).

    pip install scikit-image && python scripts/make_demo_images.py

Sources (scikit-image's own notes): coffee (Rachel Michetti, CC0), chelsea (Stefan van der Walt,
CC0), astronaut (NASA, public domain).
"""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from kind.imageops import linear_to_srgb, srgb_to_linear

ASSETS = Path(__file__).resolve().parent.parent / "kind" / "assets"
SOURCES = {"coffee": (data.coffee, 0.07), "chelsea": (data.chelsea, 0.05), "astronaut": (data.astronaut, 0.06)}


def darken(rgb: np.ndarray, exposure: float, rng: np.random.Generator) -> np.ndarray:
    """A low-light version of an sRGB uint8 image: exposure × linear light, Poisson-Gaussian noise."""
    linear = srgb_to_linear(rgb.astype(np.float64) / 255) * exposure
    photons = 4000.0  # full-well electrons: shot noise grows as the light falls
    noisy = rng.poisson(linear * photons) / photons + rng.normal(0, 0.0015, linear.shape)
    return (np.clip(linear_to_srgb(noisy), 0, 1) * 255).astype(np.uint8)


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (load, exposure) in SOURCES.items():
        image = Image.fromarray(load())
        image.thumbnail((400, 400), Image.LANCZOS)
        dark = darken(np.asarray(image), exposure, rng)
        Image.fromarray(dark).save(ASSETS / f"{name}-dark.png", optimize=True)
        print(ASSETS / f"{name}-dark.png", dark.shape, f"mean {dark.mean():.1f}/255")


if __name__ == "__main__":
    main()
