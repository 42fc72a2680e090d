"""The ``kind`` command: :func:`main` parses the arguments and runs one subcommand."""

from kind.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
