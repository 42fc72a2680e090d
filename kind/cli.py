"""The ``kind`` command line: one thin subcommand per library entry point."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    """Register ``fn`` as the handler of subcommand ``name`` (returns the exit status)."""

    def register(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = fn
        return fn

    return register


# --- convert-tf ---------------------------------------------------------------------------


def add_convert_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-tf",
        help="convert an official TensorFlow checkpoint into a kind weight file",
        description="Convert the authors' TF checkpoint (model.ckpt.index + .data-*) of one network "
        "into a kind weight file (.pt). No TensorFlow needed.",
    )
    p.add_argument("checkpoint", help="TF checkpoint prefix (…/model.ckpt), its .index file, or its folder")
    p.add_argument("out", help="output .pt file")
    p.add_argument("--net", required=True, choices=["decom", "restore", "adjust"], help="which network")


@command("convert-tf")
def run_convert(args: argparse.Namespace) -> int:
    from kind.tf_import import convert_tf_checkpoint

    record = convert_tf_checkpoint(args.checkpoint, args.out, args.net)
    count = sum(value.numel() for value in record["state_dict"].values())
    print(f"wrote {args.out}: {args.net}, {len(record['state_dict'])} tensors, {count:,} parameters")
    return 0


# --- main -----------------------------------------------------------------------------------

PARSERS = [add_convert_parser]


def build_parser() -> argparse.ArgumentParser:
    from kind import __version__

    parser = argparse.ArgumentParser(
        prog="kind", description="KinD low-light image enhancement (ACM MM 2019), in PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"kind {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in PARSERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kind`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, OSError) as error:  # bad input: a message naming the file, no traceback
        if os.environ.get("KIND_DEBUG"):
            raise
        print(f"kind {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
