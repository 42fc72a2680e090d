"""KinD (Kindling the Darkness, ACM MM 2019): a faithful, fast PyTorch reproduction.

``from kind import KinD`` gives the Python API (:class:`kind.api.KinD`); ``kind.tune_process()``
applies the process-wide settings the ``kind`` commands use. Both load on first use, so that
``import kind`` (and ``kind --help``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["KinD", "tune_process", "__version__"]

if TYPE_CHECKING:
    from kind.api import KinD
    from kind.tuning import tune_process


def __getattr__(name: str) -> object:
    if name == "KinD":
        from kind.api import KinD

        return KinD
    if name == "tune_process":
        from kind.tuning import tune_process

        return tune_process
    raise AttributeError(f"module 'kind' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
