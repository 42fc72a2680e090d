"""The Python API: :class:`KinD`, the photo pipeline on images, arrays and tensors.

>>> from kind import KinD
>>> model = KinD.from_pretrained()              # the shipped weights, on CUDA when present   # doctest: +SKIP
>>> out = model(image)                          # PIL → PIL, ndarray → ndarray, tensor → tensor  # doctest: +SKIP
>>> R, L = model.decompose(image)                                                              # doctest: +SKIP

Every call runs the pipeline of ``kind enhance`` (which calls this class): each image is stretched
by its own min and max, enhanced by :func:`kind.inference.pipeline.enhance_general`, tiled above
``auto_tile_pixels`` (:mod:`kind.inference.tiling`, streamed so that memory stays a few bytes a pixel), and
integer outputs get the official truncating conversion.

Modules: ``model`` (:class:`KinD`), ``prepared`` (:class:`Prepared`, one image decomposed and
restored once), ``photos`` (integer samples in, :class:`Photo` out, unchecked), ``inputs`` (the
images the calls take, and the sources the pipeline reads them through).
"""

from kind.api.model import KinD
from kind.api.photos import MAP_NAMES, Photo
from kind.api.prepared import Prepared

__all__ = ["KinD", "Photo", "Prepared", "MAP_NAMES"]
