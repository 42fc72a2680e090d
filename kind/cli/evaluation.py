"""``kind score``, ``kind eval``, ``kind diagnose`` and ``kind table``: measuring the enhancer."""

from __future__ import annotations

import argparse
import sys

from kind.cli.arguments import add_runner_arguments, pixels_argument, ratio_argument, tune_for_command
from kind.constants import DEFAULT_MAX_PIXELS, LOE_VARIANTS, NIQE_CHANNELS, NIQE_PARAM_SETS, PROTOCOLS, SCORE_METRICS


def _eval_ratio_arg(text: str) -> float:
    """``kind eval --ratio``: a number from 0 to ``MAX_RATIO`` (the ``auto`` rule is protocol ``auto``)."""
    value = ratio_argument(text)
    if isinstance(value, str):
        raise argparse.ArgumentTypeError("expected a number; for an automatic ratio use --protocol auto")
    return value


def _metrics_arg(text: str) -> list[str]:
    """``--metrics psnr,ssim,niqe``: a comma-separated list of known metrics."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCORE_METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(SCORE_METRICS)}, got {text!r}")
    return names


def metric_options(args: argparse.Namespace):
    """The metric options object of ``--niqe-channel``, ``--niqe-params`` and ``--loe-variant``."""
    from kind.metrics import MetricOptions

    return MetricOptions(args.niqe_channel, args.niqe_params, args.loe_variant)


def add_metric_options(p: argparse.ArgumentParser) -> None:
    """``--niqe-channel``, ``--niqe-params``, ``--loe-variant``: how NIQE and LOE are computed."""
    p.add_argument("--niqe-channel", choices=NIQE_CHANNELS, default="gray",
                   help="NIQE's plane: gray = MATLAB rgb2gray, as the niqe_release (default); "
                   "y = BasicSR's Y channel, as its calculate_niqe")
    p.add_argument("--niqe-params", choices=NIQE_PARAM_SETS, default="live",
                   help="NIQE's pristine model: live = the standard LIVE release's (default); "
                   "kindpp = KinD++'s retrained one, as every KinD++ NIQE number")
    p.add_argument("--loe-variant", choices=LOE_VARIANTS, default="npe",
                   help="LOE's grid: npe = NPE loe.m, short side resized to 50 px (default); "
                   "bimef = BIMEF loe100x100.m, a fixed 100x100 sample")


def add_score_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "score",
        help="PSNR / SSIM against ground truths, or no-reference NIQE (and LOE), of a folder of outputs",
        description="Score the images of --pred. With --gt, against the ground truths paired by file "
        "stem (1.png with 1.jpg): BasicSR (= MATLAB) PSNR and SSIM on uint8 RGB; ground truths "
        "without a prediction and predictions without a ground truth are listed, never silently "
        "dropped. Without --gt, the no-reference metrics: NIQE, and LOE with --loe-inputs. A pair "
        "that cannot be scored (different sizes, an unreadable file, too small for NIQE) is reported "
        "and skipped, the others scored. Exit status: 0 every file scored; 1 some files unpaired or "
        "skipped (the others are still scored, printed and written to --json); 2 bad arguments or "
        "nothing to score.",
    )
    p.add_argument("--pred", required=True, metavar="DIR", help="folder of enhanced images")
    p.add_argument("--gt", metavar="DIR", help="folder of ground-truth images (omit for no-reference scoring)")
    p.add_argument("--metrics", type=_metrics_arg, metavar="LIST",
                   help="comma-separated, some of psnr,ssim,loe,niqe (default: psnr,ssim with --gt, niqe "
                   "without; loe with --loe-inputs)")
    p.add_argument("--y", action="store_true", help="PSNR / SSIM on the BT.601 Y channel instead of RGB")
    p.add_argument("--crop", type=pixels_argument(0), default=0, metavar="N",
                   help="pixels removed from each side for PSNR / SSIM (default 0)")
    p.add_argument("--json", metavar="FILE",
                   help="also write the scores (mean, per_image, failed, missing, extra) as JSON")
    p.add_argument("--loe-inputs", metavar="DIR", help="folder of the low-light inputs: adds LOE (input vs prediction)")
    add_metric_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def run_score(args: argparse.Namespace) -> int:
    from kind.io.atomic import atomic_write_json
    from kind.io.output_guard import check_output_files
    from kind.evaluation.score import format_report, score_folders

    check_output_files({"--json": args.json}, input_folders=[d for d in (args.pred, args.gt, args.loe_inputs) if d])
    result = score_folders(args.pred, args.gt, y_channel=args.y, crop_border=args.crop,
                           with_loe_inputs=args.loe_inputs, metrics=args.metrics,
                           options=metric_options(args), progress=not args.quiet)
    print(format_report(result))
    if result["own_files"]:
        print(f"notice: {len(result['own_files'])} file(s) kind enhance writes beside its outputs (--compare panels, "
              f"--save-maps maps) not scored: {', '.join(result['own_files'])}", file=sys.stderr)
    if args.json:
        atomic_write_json(args.json, {"pred": args.pred, "gt": args.gt, **result})
    problems = []
    if result["missing"] or result["extra"]:
        problems.append(f"{len(result['missing'])} ground truth(s) without a prediction, "
                        f"{len(result['extra'])} prediction(s) without a ground truth")
    if result["failed"]:
        problems.append(f"{len(result['failed'])} image(s) skipped: {', '.join(result['failed'])}")
    if problems:
        print(f"kind score: {'; '.join(problems)}", file=sys.stderr)
        return 1
    return 0


def add_eval_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval",
        help="enhance a paired folder (DIR/low, DIR/high) or a folder of photos with a protocol, and score it",
        description="Run a KinD pipeline on every pair of DIR/low and DIR/high and score the outputs "
        "against the ground-truth files (PSNR, SSIM, PSNR-Y, SSIM-Y: BasicSR/MATLAB on uint8; LOE: "
        "low input vs output; NIQE of the output; seconds per image: median, pipeline only) — or, on "
        "a folder of photos without low/ and high/ (LIME, DICM, VV, ...), run the photo pipeline and "
        "score NIQE and LOE. Protocols: "
        "official = the authors' LOL evaluation (ratio from the ground truth's decomposition, "
        "mean(L_gt / (L_low + 1e-4)); output R_restored x L_adjusted); "
        "gt-ratio = the general pipeline (darkness weight, blend with the input) at that same "
        "ground-truth ratio; kindpp = KinD++'s LOL evaluation on these networks (adds "
        "mean(R_gt / (R_restored + 1e-4)) to the ratio when it is >= 1.1); "
        "fixed = the general pipeline at --ratio (default 5), no ground truth; "
        "auto = the general pipeline with an automatic ratio per image, no ground truth; "
        "input = the low images themselves (no weights). --gt-mean rescales every output to the "
        "ground truth's mean gray level first (Retinexformer's --GT_mean). "
        "Scores are against the ground-truth files as read (uint8), not the stretched ground truth the "
        "networks see; --out receives <stem>.png, exactly the arrays that were scored.",
    )
    p.add_argument("--data", required=True, metavar="DIR",
                   help="folder with low/ and high/ (e.g. LOLdataset/eval15), or a folder of photos")
    p.add_argument("--protocol", required=True, choices=PROTOCOLS, help="how the ratio is chosen (see above)")
    add_runner_arguments(p)
    p.add_argument("--label", help="short name of the weights in the JSON and the table (default: the folder's name)")
    p.add_argument("--ratio", type=_eval_ratio_arg, metavar="FLOAT", help="the ratio of protocol fixed (default 5.0)")
    p.add_argument("--gt-mean", action="store_true",
                   help="rescale each output to the ground truth's mean gray level before scoring (paired data)")
    add_metric_options(p)
    p.add_argument("--out", metavar="DIR", help="write the outputs here as <stem>.png")
    p.add_argument("--max-pixels", type=pixels_argument(1), default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse the folder, before any work, if an image is larger (from the headers; default "
                   f"{DEFAULT_MAX_PIXELS:,}); photos over 2.5 MP are enhanced in tiles, pairs whole")
    p.add_argument("--json", metavar="FILE", help="write the result (mean, per_image, protocol, weights) as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def run_eval_command(args: argparse.Namespace) -> int:
    tune_for_command(args.max_pixels)
    from kind.evaluation.evaluate import format_eval_report, run_eval

    result = run_eval(args.data, args.protocol, weights=args.weights, ratio=args.ratio, out_dir=args.out,
                      json_path=args.json, device=args.device, precision=args.precision,
                      progress=not args.quiet, label=args.label, gt_mean=args.gt_mean,
                      options=metric_options(args), max_pixels=args.max_pixels)
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


def run_diagnose_command(args: argparse.Namespace) -> int:
    from kind.evaluation.diagnose import format_diagnose_report, run_diagnose

    result = run_diagnose(args.data, weights=args.weights, json_path=args.json, panels_dir=args.panels,
                          device=args.device, precision=args.precision, progress=not args.quiet)
    print(format_diagnose_report(result))
    return 0


def add_table_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "table",
        help="the results tables (LOL; NIQE and LOE on the no-reference sets) from `kind eval --json` files",
        description="Build the results tables from kind eval result files: the LOL table (the KinD "
        "paper's confirmed numbers, marked reported, then one row per paired result: weights, "
        "protocol, PSNR, SSIM, PSNR-Y, SSIM-Y, LOE, NIQE, seconds per image, device) and, for photo "
        "results, mean NIQE and LOE per data set (LIME, DICM, VV, MEF, NPE). Prints the markdown. A file "
        "that cannot be tabulated is named on stderr with the reason and left out; the others make the "
        "tables. Exit status: 0 done (another command's result, e.g. kind diagnose's, left out with a "
        "notice), 1 some files were malformed and left out, 2 none could be tabulated.",
    )
    p.add_argument("--runs", nargs="+", required=True, metavar="JSON",
                   help="result files of kind eval --json, or of kind score --json (any method's outputs: "
                   "labelled by the predictions' folder, protocol score)")
    p.add_argument("--out-md", metavar="FILE", help="also write the markdown here")
    p.add_argument("--out-json", metavar="FILE", help="also write the rows as JSON here")
    p.add_argument("--out-tex", metavar="FILE", help="also write the tables as LaTeX (booktabs tabular) here")
    return p


def run_table(args: argparse.Namespace) -> int:
    from kind.evaluation.tables import write_table
    from kind.io.output_guard import check_output_files

    outputs = {"--out-md": args.out_md, "--out-json": args.out_json, "--out-tex": args.out_tex}
    check_output_files(outputs, args.runs)
    table, loaded = write_table(args.runs, args.out_md, args.out_json, args.out_tex)
    print(table)
    for line in loaded.malformed:
        print(f"skipped: {line}", file=sys.stderr)
    for line in loaded.other:
        print(f"notice: {line}", file=sys.stderr)
    return 1 if loaded.malformed else 0


COMMANDS = [(add_score_parser, run_score), (add_eval_parser, run_eval_command), (add_diagnose_parser, run_diagnose_command), (add_table_parser, run_table)]  # (parser builder, handler), in `kind --help` order
