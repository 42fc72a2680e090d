"""The command line: built from the torch-free constants, and its shared argument types."""

import argparse
import subprocess
import sys

import pytest

from kind.cli import build_parser
from kind.cli.arguments import pixels_argument


def test_parser_is_built_without_torch():
    """`kind --help` needs only kind.constants: no torch, numpy or Pillow import."""
    code = "import sys, kind.cli; kind.cli.build_parser(); print(sorted({'torch', 'numpy', 'PIL'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("text,minimum,ok", [("32", 32, True), ("31", 32, False), ("0", 0, True), ("1.5", 0, False)])
def test_pixels_argument(text, minimum, ok):
    parse = pixels_argument(minimum)
    if ok:
        assert parse(text) == int(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="pixels"):
            parse(text)


@pytest.mark.parametrize("command", [["enhance", "x", "-o", "y"], ["eval", "--data", "d", "--protocol", "official"], ["bench"]])
def test_runner_options_are_shared(command):
    args = build_parser().parse_args(command + ["--weights", "w", "--device", "cpu", "--precision", "bf16"])
    assert (args.weights, args.device, args.precision) == ("w", "cpu", "bf16")
