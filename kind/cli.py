"""The ``kind`` command line: one thin subcommand per library entry point."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]
ParserBuilder = Callable[[argparse._SubParsersAction], argparse.ArgumentParser]
SUBCOMMANDS: list[tuple[ParserBuilder, Handler]] = []  # in the order `kind --help` lists them


def subcommand(add_parser: ParserBuilder):
    """Register the decorated function as the handler of the subcommand ``add_parser`` builds;
    the handler returns the exit status."""

    def register(handler: Handler) -> Handler:
        SUBCOMMANDS.append((add_parser, handler))
        return handler

    return register


NETWORK_NAMES = ["decom", "restore", "adjust"]  # = kind.models.NETWORKS (not imported: --help stays fast)


def add_runner_arguments(p: argparse.ArgumentParser, weights_help: str | None = None) -> None:
    """``--weights``, ``--device`` and ``--precision``: where the networks come from and run."""
    p.add_argument("--weights", metavar="DIR",
                   help=weights_help or "folder with decom.pt, restore.pt, adjust.pt (default: checkpoints/)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="network precision (default fp32)")


def pixels_argument(minimum: int):
    """An argparse type: a whole number of pixels, at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of pixels, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum} pixels, got {value}")
        return value

    return parse


# --- convert-tf ---------------------------------------------------------------------------


def add_convert_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "convert-tf",
        help="convert an official TensorFlow checkpoint into a kind weight file",
        description="Convert the authors' TF checkpoint (model.ckpt.index + .data-*) of one network "
        "into a kind weight file (.pt). No TensorFlow needed.",
    )
    p.add_argument("checkpoint", help="TF checkpoint prefix (…/model.ckpt), its .index file, or its folder")
    p.add_argument("out", help="output .pt file")
    p.add_argument("--net", required=True, choices=NETWORK_NAMES, help="which network")
    return p


@subcommand(add_convert_parser)
def run_convert(args: argparse.Namespace) -> int:
    from kind.tf_import import convert_tf_checkpoint

    record = convert_tf_checkpoint(args.checkpoint, args.out, args.net)
    count = sum(value.numel() for value in record["state_dict"].values())
    print(f"wrote {args.out}: {args.net}, {len(record['state_dict'])} tensors, {count:,} parameters")
    return 0


def add_export_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export",
        help="write a slim weight file (weights + training facts) from a training checkpoint",
    )
    p.add_argument("checkpoint", help="a checkpoint written by kind train (e.g. runs/restore/best.pt)")
    p.add_argument("out", help="output .pt file (e.g. checkpoints/restore.pt)")
    p.add_argument("--half", action="store_true", help="store the weights in float16 (loaded as float32)")
    return p


@subcommand(add_export_parser)
def run_export(args: argparse.Namespace) -> int:
    from kind.weights import export_weights

    record = export_weights(args.checkpoint, args.out, half=args.half)
    step = record["training"].get("step", "?")
    print(f"wrote {args.out}: {record['network']} weights from step {step}{' (float16)' if args.half else ''}")
    return 0


# --- train ----------------------------------------------------------------------------------


def add_train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train one KinD stage (decom, adjust, restore) from a YAML config",
        description="Train one stage. Config precedence: the stage's defaults (the official schedule), "
        "then --config, then each --set key=value.",
    )
    p.add_argument("stage", choices=NETWORK_NAMES)
    p.add_argument("--config", help="YAML file whose keys are the stage config's fields")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field (repeatable), e.g. --set steps=2000")
    p.add_argument("--resume", metavar="PATH|auto", help="continue from a checkpoint; auto = OUT_DIR/last.pt if present")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@subcommand(add_train_parser)
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
    speed = f" ({len(state.losses) / state.seconds:.2f} steps/s)" if state.seconds else ""
    print(f"trained {args.stage} to step {state.step}{speed}{best}; checkpoints in {config.out_dir}")
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


def add_enhance_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    add_runner_arguments(p)
    p.add_argument("--ratio", type=_ratio_arg, default=5.0, metavar="FLOAT|auto",
                   help="brightening ratio (default 5.0; the authors find 0-5 useful), or auto (from each image's illumination)")
    p.add_argument("--tile", type=pixels_argument(32), metavar="N",
                   help="process in N x N tiles (default: only images over 2.5 MP, in 512-px tiles)")
    p.add_argument("--save-maps", action="store_true",
                   help="also write <stem>_R, _L, _R_restored, _L_adjusted.png beside each output")
    p.add_argument("--compare", action="store_true", help="also write <stem>_compare.png: input | output")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose output file exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@subcommand(add_enhance_parser)
def run_enhance(args: argparse.Namespace) -> int:
    from kind.enhance import enhance_jobs, load_runner, plan_jobs

    jobs = plan_jobs(args.inputs, args.out, save_maps=args.save_maps, compare=args.compare)  # refuses before loading
    runner = load_runner(args.weights, args.device, args.precision)
    summary = enhance_jobs(jobs, runner, ratio=args.ratio, tile=args.tile, skip_existing=args.skip_existing,
                           progress=not args.quiet)
    print(summary.report())
    return 1 if summary.failed else 0


def add_demo_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="enhance the bundled sample photos with the shipped weights (no download, no dataset)",
        description="Run `kind enhance --compare` on the low-light samples bundled with kind "
        "(kind/assets/) using the project's own trained weights, and say where the results are.",
    )
    p.add_argument("-o", "--out", default="kind-demo", metavar="OUTDIR", help="output folder (default: kind-demo)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:1, ...")
    return p


@subcommand(add_demo_parser)
def run_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kind.enhance import ASSETS_DIR, enhance_jobs, load_runner, plan_jobs

    jobs = plan_jobs([str(ASSETS_DIR)], args.out, save_maps=True, compare=True)
    runner = load_runner(None, args.device)
    summary = enhance_jobs(jobs, runner, ratio=5.0)
    print(summary.report())
    out = Path(args.out).resolve()
    print(f"enhanced images, decomposition maps and input | output panels are in {out}:")
    for job in jobs:
        print(f"  {job.compare}")
    return 1 if summary.failed else 0


# --- bench ----------------------------------------------------------------------------------


def add_bench_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench",
        help="latency, throughput, memory and GFLOP/s of the pipeline; prints a table, writes JSON",
    )
    add_runner_arguments(p, weights_help="weights folder (default: the shipped ones, else random weights)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs per measurement (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--folder", help="also time `kind enhance` on this folder (images/s)")
    p.add_argument("--batch", type=int, default=0, help="also time batches of this many 600×400 images")
    p.add_argument("--no-large", action="store_true", help="skip the 12-megapixel tiled photo")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks (CUDA)")
    p.add_argument("--tf-python", help="a Python with tensorflow + tf_slim: time the official TF graph in the same run")
    p.add_argument("--json", help="write the measurements to this JSON file")
    return p


@subcommand(add_bench_parser)
def run_bench_command(args: argparse.Namespace) -> int:
    from kind.bench import format_table, run_bench
    from kind.fileio import atomic_write_json

    result = run_bench(
        device=args.device, precision=args.precision, weights=args.weights, repeat=args.repeat,
        warmup=args.warmup, large=not args.no_large, folder=args.folder, memory=not args.no_memory,
        batch=args.batch, tf_python=args.tf_python, compile=args.compile,
    )
    print(format_table(result))
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


# --- score, eval, table ---------------------------------------------------------------------

EVAL_PROTOCOLS = ["official", "gt-ratio", "fixed", "auto", "input"]  # = kind.evaluate.PROTOCOLS


def _eval_ratio_arg(text: str) -> float:
    """``kind eval --ratio``: a finite number >= 0 (the ``auto`` rule is protocol ``auto``)."""
    value = _ratio_arg(text)
    if isinstance(value, str):
        raise argparse.ArgumentTypeError("expected a number; for an automatic ratio use --protocol auto")
    return value


def add_score_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "score",
        help="PSNR / SSIM (and LOE) of a folder of outputs against a folder of ground truths",
        description="Score the images of --pred against those of --gt, paired by file stem (1.png with "
        "1.jpg), with the BasicSR (= MATLAB) PSNR and SSIM on uint8 RGB. Ground truths without a "
        "prediction and predictions without a ground truth are listed, never silently dropped. "
        "Exit status: 0 every file paired; 1 some files unpaired (the paired ones are still scored, "
        "printed and written to --json); 2 bad arguments, no pair at all, or an unreadable file.",
    )
    p.add_argument("--pred", required=True, metavar="DIR", help="folder of enhanced images")
    p.add_argument("--gt", required=True, metavar="DIR", help="folder of ground-truth images")
    p.add_argument("--y", action="store_true", help="score the BT.601 Y channel instead of RGB")
    p.add_argument("--crop", type=pixels_argument(0), default=0, metavar="N", help="pixels removed from each side (default 0)")
    p.add_argument("--json", metavar="FILE", help="also write the scores (mean, per_image, missing, extra) as JSON")
    p.add_argument("--loe-inputs", metavar="DIR", help="folder of the low-light inputs: adds LOE (input vs prediction)")
    return p


@subcommand(add_score_parser)
def run_score(args: argparse.Namespace) -> int:
    from kind.fileio import atomic_write_json
    from kind.score import format_report, score_folders

    result = score_folders(args.pred, args.gt, y_channel=args.y, crop_border=args.crop, with_loe_inputs=args.loe_inputs)
    print(format_report(result))
    if args.json:
        atomic_write_json(args.json, {"pred": args.pred, "gt": args.gt, **result})
    if result["missing"] or result["extra"]:
        print(f"kind score: {len(result['missing'])} ground truth(s) without a prediction, "
              f"{len(result['extra'])} prediction(s) without a ground truth", file=sys.stderr)
        return 1
    return 0


def add_eval_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval",
        help="enhance a paired folder (DIR/low, DIR/high) with a protocol and score it",
        description="Run a KinD pipeline on every pair of DIR/low and DIR/high and score the outputs "
        "against the ground-truth files (PSNR, SSIM, PSNR-Y, SSIM-Y: BasicSR/MATLAB on uint8; LOE: "
        "low input vs output; seconds per image: median, pipeline only). Protocols: "
        "official = the authors' LOL evaluation (ratio from the ground truth's decomposition, "
        "mean(L_gt / (L_low + 1e-4)); output R_restored x L_adjusted); "
        "gt-ratio = the general pipeline (darkness weight, blend with the input) at that same "
        "ground-truth ratio; fixed = the general pipeline at --ratio (default 5), no ground truth; "
        "auto = the general pipeline with an automatic ratio per image, no ground truth; "
        "input = the low images themselves scored against the ground truth (no weights). "
        "Scores are against the ground-truth files as read (uint8), not the stretched ground truth the "
        "networks see; --out receives <stem>.png, exactly the arrays that were scored.",
    )
    p.add_argument("--data", required=True, metavar="DIR",
                   help="folder with low/ and high/ (e.g. LOLdataset/eval15)")
    p.add_argument("--protocol", required=True, choices=EVAL_PROTOCOLS, help="how the ratio is chosen (see above)")
    add_runner_arguments(p)
    p.add_argument("--label", help="short name of the weights in the JSON and the table (default: the folder's name)")
    p.add_argument("--ratio", type=_eval_ratio_arg, metavar="FLOAT", help="the ratio of protocol fixed (default 5.0)")
    p.add_argument("--out", metavar="DIR", help="write the outputs here as <stem>.png")
    p.add_argument("--json", metavar="FILE", help="write the result (mean, per_image, protocol, weights) as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


@subcommand(add_eval_parser)
def run_eval_command(args: argparse.Namespace) -> int:
    from kind.evaluate import format_eval_report, run_eval

    result = run_eval(args.data, args.protocol, weights=args.weights, ratio=args.ratio, out_dir=args.out,
                      json_path=args.json, device=args.device, precision=args.precision,
                      progress=not args.quiet, label=args.label)
    print(format_eval_report(result))
    return 0


def add_diagnose_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "diagnose",
        help="stage attribution on a paired folder: which stage (decomposition, restoration, adjustment) limits the output",
        description="Run the official LOL protocol on every pair of DIR/low and DIR/high (ratio from the "
        "ground truth's decomposition), then swap one stage's output at a time for its ideal and score "
        "each product against the ground truth (BasicSR PSNR/SSIM on uint8, mean over pairs): "
        "official = R_restored x L_adjusted; recon = R_high x L_high (the decomposition's ceiling); "
        "ideal_reflectance = R_high^1.2 x L_adjusted; ideal_illumination = R_restored x L_high; "
        "ideal_both = R_high^1.2 x L_high; unrestored = R_low x L_adjusted. Also the restoration and "
        "adjustment nets against their own targets, and the colour saturation of the outputs and "
        "the ground truth.",
    )
    p.add_argument("--data", required=True, metavar="DIR", help="folder with low/ and high/ (e.g. LOLdataset/eval15)")
    add_runner_arguments(p)
    p.add_argument("--json", metavar="FILE", help="write the result (rows, stages, saturation, per_image, weight files) as JSON")
    p.add_argument("--panels", metavar="DIR", help="write <stem>.png: input | official | ideal rows | ground truth")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


@subcommand(add_diagnose_parser)
def run_diagnose_command(args: argparse.Namespace) -> int:
    from kind.diagnose import format_diagnose_report, run_diagnose

    result = run_diagnose(args.data, weights=args.weights, json_path=args.json, panels_dir=args.panels,
                          device=args.device, precision=args.precision, progress=not args.quiet)
    print(format_diagnose_report(result))
    return 0


def add_table_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "table",
        help="a markdown results table from `kind eval --json` files, beside the published numbers",
        description="Build the results table: the published KinD numbers (marked reported, with their "
        "source), then one row per result file with its weights, protocol, PSNR, SSIM, PSNR-Y, "
        "SSIM-Y, LOE, seconds per image and device. Prints the markdown.",
    )
    p.add_argument("--runs", nargs="+", required=True, metavar="JSON", help="result files of kind eval --json")
    p.add_argument("--out-md", metavar="FILE", help="also write the markdown here")
    p.add_argument("--out-json", metavar="FILE", help="also write the rows as JSON here")
    return p


@subcommand(add_table_parser)
def run_table(args: argparse.Namespace) -> int:
    from kind.evaluate import write_table

    print(write_table(args.runs, args.out_md, args.out_json))
    return 0


# --- main -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from kind import __version__

    parser = argparse.ArgumentParser(
        prog="kind", description="KinD low-light image enhancement (ACM MM 2019), in PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"kind {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser, handler in SUBCOMMANDS:
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


if __name__ == "__main__":
    sys.exit(main())
