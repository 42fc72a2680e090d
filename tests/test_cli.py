"""The command line's own tables agree with the library's, and its shared argument types."""

import argparse

import pytest

from kind.cli import EVAL_PROTOCOLS, NETWORK_NAMES, build_parser, pixels_argument
from kind.evaluate import PROTOCOLS
from kind.models import NETWORKS


def test_choices_match_the_library():
    assert sorted(NETWORK_NAMES) == sorted(NETWORKS)
    assert tuple(EVAL_PROTOCOLS) == PROTOCOLS


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
