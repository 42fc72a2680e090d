"""Weights mixed per network: ``decom=PATH,adjust=PATH,restore=shipped``.

Wherever a whole weights set is named (``--weights``, ``KinD.from_pretrained``), a *mixed spec*
names each network's weights on its own: ``NETWORK=SPEC`` for each of decom, adjust and restore,
comma-separated, where SPEC is what a single network accepts (``shipped``, a version such as
``v0.1``, a folder holding that network's file, or the weight file itself). No files need copying
into a folder. Torch-free: this module only reads the text.
"""

from __future__ import annotations

import os

from kind.constants import NETWORK_NAMES


def is_mixed(spec: str | os.PathLike | None) -> bool:
    """Whether ``spec`` is a mixed spec (it holds ``=``) rather than one folder or version."""
    return spec is not None and "=" in os.fspath(spec)


def parse_mixed(spec: str | os.PathLike) -> dict[str, str]:
    """``"decom=a.pt,adjust=b.pt,restore=shipped"`` → ``{"decom": "a.pt", "adjust": "b.pt",
    "restore": "shipped"}``; ValueError naming the spec for an unknown or repeated network, an
    empty part, or a network left out."""
    text = os.fspath(spec)
    result: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(",")):
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if name not in NETWORK_NAMES or not value:
            raise ValueError(f"weights {text!r}: {part!r} is not NETWORK=SPEC with NETWORK one of "
                             f"{', '.join(NETWORK_NAMES)}")
        if name in result:
            raise ValueError(f"weights {text!r}: {name} is named twice")
        result[name] = value
    missing = [name for name in NETWORK_NAMES if name not in result]
    if missing:
        raise ValueError(f"weights {text!r}: no {', '.join(missing)}; name every network "
                         f"({missing[0]}=shipped for the shipped one)")
    return result


__all__ = ["is_mixed", "parse_mixed"]
