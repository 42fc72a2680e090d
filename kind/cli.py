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


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a slim weight file (weights + training facts) from a training checkpoint",
    )
    p.add_argument("checkpoint", help="a checkpoint written by kind train (e.g. runs/restore/best.pt)")
    p.add_argument("out", help="output .pt file (e.g. checkpoints/restore.pt)")
    p.add_argument("--half", action="store_true", help="store the weights in float16 (loaded as float32)")


@command("export")
def run_export(args: argparse.Namespace) -> int:
    from kind.weights import export_weights

    record = export_weights(args.checkpoint, args.out, half=args.half)
    step = record["training"].get("step", "?")
    print(f"wrote {args.out}: {record['network']} weights from step {step}{' (float16)' if args.half else ''}")
    return 0


# --- train ----------------------------------------------------------------------------------


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train one KinD stage (decom, adjust, restore) from a YAML config",
        description="Train one stage. Config precedence: the stage's defaults (the official schedule), "
        "then --config, then each --set key=value.",
    )
    p.add_argument("stage", choices=["decom", "adjust", "restore"])
    p.add_argument("--config", help="YAML file whose keys are the stage config's fields")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field (repeatable), e.g. --set steps=2000")
    p.add_argument("--resume", metavar="PATH|auto", help="continue from a checkpoint; auto = OUT_DIR/last.pt if present")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command("train")
def run_train(args: argparse.Namespace) -> int:
    from kind.config import load_config
    from kind.train import TrainingDiverged, train

    config = load_config(args.stage, args.config, args.overrides)
    try:
        state = train(args.stage, config, resume=args.resume, progress=not args.quiet)
    except TrainingDiverged as error:
        print(f"kind train: error: {error}", file=sys.stderr)
        return 3
    best = f", best validation {state.best:.4f}" if state.best is not None else ""
    print(f"trained {args.stage} to step {state.step}{best}; checkpoints in {config.out_dir}")
    return 0


# --- enhance --------------------------------------------------------------------------------


def _ratio_arg(text: str) -> float | str:
    """``--ratio``: a finite number ≥ 0, or ``auto``."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if not 0 <= value < float("inf"):  # also rejects nan
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0 or 'auto', got {text!r}")
    return value


def _tile_arg(text: str) -> int:
    """``--tile``: a whole number of pixels, at least 32."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels, got {text!r}") from None
    if value < 32:
        raise argparse.ArgumentTypeError(f"expected a tile side of at least 32 pixels, got {value}")
    return value


def add_enhance_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enhance",
        help="enhance low-light images (files, folders, globs) into an output folder",
        description="Enhance images with the authors' pipeline for photos: global min-max stretch, "
        "KinD at a fixed or automatic brightening ratio, darkness weighting, blend with the input. "
        "photos/a/b.jpg becomes OUTDIR/a/b.png (alpha carried over). Never writes over an input; "
        "an OUTDIR inside an input folder must be new or empty. Exit status: 0 all done, 1 some "
        "files failed, 2 bad arguments.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or glob patterns")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--weights", metavar="DIR", help="folder with decom.pt, restore.pt, adjust.pt (default: checkpoints/)")
    p.add_argument("--ratio", type=_ratio_arg, default=5.0, metavar="FLOAT|auto",
                   help="brightening ratio (default 5.0; the authors find 0-5 useful), or auto (from each image's illumination)")
    p.add_argument("--tile", type=_tile_arg, metavar="N",
                   help="process in N x N tiles (default: only images over ~4 MP, in 512-px tiles)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="network precision (default fp32)")
    p.add_argument("--save-maps", action="store_true",
                   help="also write <stem>_R, _L, _R_restored, _L_adjusted.png beside each output")
    p.add_argument("--compare", action="store_true", help="also write <stem>_compare.png: input | output")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose output file exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command("enhance")
def run_enhance(args: argparse.Namespace) -> int:
    from kind.enhance import enhance_jobs, load_runner, plan_jobs

    jobs = plan_jobs(args.inputs, args.out, save_maps=args.save_maps, compare=args.compare)  # refuses before loading
    runner = load_runner(args.weights, args.device, args.precision)
    summary = enhance_jobs(jobs, runner, ratio=args.ratio, tile=args.tile, skip_existing=args.skip_existing,
                           progress=not args.quiet)
    print(summary.report())
    return 1 if summary.failed else 0


# --- main -----------------------------------------------------------------------------------

PARSERS = [add_convert_parser, add_export_parser, add_train_parser, add_enhance_parser]


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
