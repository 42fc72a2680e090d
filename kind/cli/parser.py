"""The ``kind`` command line: the parser of every subcommand, and :func:`main`, which runs one.

Each group of subcommands lives in its own module (``kind.cli.weights``, ``train``, ``enhance``,
``app``, ``bench``, ``evaluation``) as ``COMMANDS``: (parser builder, handler) pairs; a handler makes one
library call and returns the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from kind.cli import app, bench, enhance, evaluation, train, weights

GROUPS = (weights, train, enhance, app, bench, evaluation)  # in the order `kind --help` lists them


def build_parser() -> argparse.ArgumentParser:
    from kind import __version__

    parser = argparse.ArgumentParser(
        prog="kind", description="KinD low-light image enhancement (ACM MM 2019), in PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"kind {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        for add_parser, handler in group.COMMANDS:
            add_parser(sub).set_defaults(handler=handler)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, ``kind: warning: MESSAGE``."""
    print(f"kind: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kind`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # the library's notices as one line each, for this command only
            warnings.showwarning = _show_warning
            return args.handler(args)
    except (ValueError, OSError) as error:  # bad input: a message naming the file, no traceback
        if os.environ.get("KIND_DEBUG"):
            raise
        print(f"kind {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or a message saying what else (the training stop rule's)
        if os.environ.get("KIND_DEBUG"):
            raise
        print(f"kind {args.command}: interrupted ({str(interrupt) or 'Ctrl-C'})", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
