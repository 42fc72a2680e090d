"""The ``kind`` command line: one thin subcommand per library entry point."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from collections.abc import Callable, Sequence

from kind.constants import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_OPSET,
    DEFAULT_QUALITY,
    DEFAULT_RATIO,
    LOSSY_FORMATS,
    MIN_TILE,
    NETWORK_NAMES,
    OUTPUT_FORMATS,
    PRECISIONS,
    PROTOCOLS,
    SHIPPED,
)

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


WEIGHTS_HELP = (f"{SHIPPED} (the weights inside the package, the default), a shipped version (e.g. v0.1), "
                "or a folder with decom.pt, restore.pt, adjust.pt")


def add_runner_arguments(p: argparse.ArgumentParser, weights_help: str | None = None) -> None:
    """``--weights``, ``--device`` and ``--precision``: where the networks come from and run."""
    p.add_argument("--weights", metavar="SPEC", help=weights_help or WEIGHTS_HELP)
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="network precision (default fp32)")


def tune_for_command(max_image_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """The process-wide settings of a kind command (:func:`kind.tune_process`), before its work."""
    from kind.tuning import tune_process

    tune_process(max_image_pixels=max_image_pixels)


def pixels_argument(minimum: int, maximum: int | None = None, unit: str = "pixels"):
    """An argparse type: a whole number (of ``unit``) from ``minimum`` to ``maximum`` (if given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of {unit}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"expected {bounds} {unit}, got {value}")
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
    p.add_argument("out", help="output .pt file (e.g. runs/restore.pt)")
    p.add_argument("--half", action="store_true", help="store the weights in float16 (loaded as float32)")
    return p


@subcommand(add_export_parser)
def run_export(args: argparse.Namespace) -> int:
    from kind.weights import export_weights

    record = export_weights(args.checkpoint, args.out, half=args.half)
    step = record["training"].get("step", "?")
    print(f"wrote {args.out}: {record['network']} weights from step {step}{' (float16)' if args.half else ''}")
    return 0


def add_export_onnx_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export-onnx",
        help="export the three networks to ONNX (decom.onnx, restore.onnx, adjust.onnx)",
        description="Write decom.onnx (image -> reflectance, illumination), restore.onnx (reflectance, "
        "illumination -> restored) and adjust.onnx (illumination, ratio plane N x 1 x H x W -> adjusted) "
        "to OUTDIR, float32, with dynamic batch, height and width. Run them with onnxruntime "
        "(pip install 'kind[onnx]'); the README shows the photo pipeline around them.",
    )
    p.add_argument("out", metavar="OUTDIR", help="output folder")
    p.add_argument("--weights", metavar="SPEC", help=WEIGHTS_HELP)
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset version (default {DEFAULT_OPSET})")
    return p


@subcommand(add_export_onnx_parser)
def run_export_onnx(args: argparse.Namespace) -> int:
    from kind.fileio import check_output_path

    check_output_path(args.out, "OUTDIR", folder=True)
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ValueError("export-onnx needs the onnx package: pip install 'kind[onnx]'")
    from kind.onnx_export import export_onnx

    for path in export_onnx(args.out, args.weights, args.opset).values():
        print(f"wrote {path}")
    return 0


# --- train ----------------------------------------------------------------------------------


def add_train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train one KinD stage (decom, adjust, restore) from a YAML config",
        description="Train one stage. Config precedence: the stage's defaults (the official schedule), "
        "then --config, then each --set key=value (values read as YAML: --set 'train_dir=[a, b]'). "
        "Under torchrun (torchrun --nproc_per_node=N -m kind train ...) every process trains one rank "
        "of a DistributedDataParallel run. Exit status: 0 done, 2 bad arguments or data, 3 the loss "
        "became NaN/Inf, 130/143 stopped by SIGINT/SIGTERM (last.pt written; --resume auto continues).",
    )
    p.add_argument("stage", choices=[*NETWORK_NAMES, "pipeline"],
                   help="a stage, or pipeline: decom → adjust on its L → restore on its R, L (configs/pipeline.yaml)")
    p.add_argument("--config", help="YAML file whose keys are the stage config's fields (pipeline: see configs/pipeline.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field (repeatable), e.g. --set steps=2000")
    p.add_argument("--resume", metavar="PATH|auto",
                   help="continue from a checkpoint; auto = OUT_DIR/last.pt if present (else start fresh, said so)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an out_dir that holds a run, replacing its checkpoints")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


STOP_EXIT_STATUS = {"SIGINT": 130, "SIGTERM": 143}


@subcommand(add_train_parser)
def run_train(args: argparse.Namespace) -> int:
    from kind.config import load_config, load_pipeline_config
    from kind.distributed import process_group
    from kind.train import TrainingDiverged, train, train_pipeline

    if args.stage == "pipeline":
        pipeline = load_pipeline_config(args.config, args.overrides)
        device = next(iter(pipeline.stages.values())).device
    else:
        config = load_config(args.stage, args.config, args.overrides)
        device = config.device
    with process_group(device) as world:
        try:
            if args.stage == "pipeline":
                weights, states = train_pipeline(pipeline, resume=args.resume, overwrite=args.overwrite,
                                                 progress=not args.quiet)
            else:
                states = {args.stage: train(args.stage, config, resume=args.resume, overwrite=args.overwrite,
                                            progress=not args.quiet)}
        except TrainingDiverged as error:
            print(f"kind train: error: {error}", file=sys.stderr)
            return 3
    stopped = next((s.stopped for s in states.values() if s.stopped in STOP_EXIT_STATUS), None)
    if world.is_main:
        for stage, state in states.items():
            best = f", best validation {state.best:.4f}" if state.best is not None else ""
            speed = f" ({len(state.losses) / state.seconds:.2f} steps/s)" if state.seconds else ""
            out_dir = pipeline.stages[stage].out_dir if args.stage == "pipeline" else config.out_dir
            print(f"trained {stage} to step {state.step}{speed}{best}; checkpoints in {out_dir}")
        if args.stage == "pipeline" and not stopped:
            print(f"weights for kind enhance --weights: {weights}")
        if stopped:
            words = ["kind", "train", args.stage] + (["--config", args.config] if args.config else [])
            words += [word for override in args.overrides for word in ("--set", override)] + ["--resume", "auto"]
            resume = " ".join(shlex.quote(word) for word in words)
            print(f"stopped by {stopped}; continue with: {resume}", file=sys.stderr)
    return STOP_EXIT_STATUS.get(stopped or "", 0)


# --- enhance --------------------------------------------------------------------------------


def _ratio_arg(text: str) -> float | str | list[float | str]:
    """``--ratio``: a finite number ≥ 0, or ``auto``; several, comma-separated, for a sweep."""
    if "," in text:
        return [_ratio_arg(part.strip()) for part in text.split(",")]
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
        "photos/a/b.jpg becomes OUTDIR/a/b.png (alpha, EXIF and ICC profile carried over); inputs that "
        "would write one file (photo.tif, photo.webp) keep their suffix (photo.tif.png, photo.webp.png). "
        "Never writes over an input; an OUTDIR inside an input folder must be new or empty. Under "
        "torchrun (torchrun --nproc_per_node=N -m kind enhance ...) the inputs are split among the "
        "processes, each on its own GPU (or OMP_NUM_THREADS CPU threads), and rank 0 prints the merged "
        "summary. Exit status: 0 all done, 1 some files failed (on any rank), 2 bad arguments.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or glob patterns")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    add_runner_arguments(p)
    p.add_argument("--ratio", type=_ratio_arg, default=DEFAULT_RATIO, metavar="FLOAT|auto[,...]",
                   help="brightening ratio (default 5.0; the authors find 0-5 useful), or auto (from each image's "
                   "illumination); several, e.g. 1,3,5, write one output per ratio named by it (photo_r3.png)")
    p.add_argument("--pipeline", choices=["photo", "lol"], default="photo",
                   help="photo: the authors' photo pipeline (default); lol: the LOL protocol's plain R̂·L̂")
    p.add_argument("--format", choices=list(OUTPUT_FORMATS), default="png",
                   help="output format (default png); EXIF (orientation reset) and ICC profile are carried over")
    p.add_argument("--quality", type=pixels_argument(1, 100, "quality levels"), metavar="Q",
                   help=f"JPEG/WebP quality 1-100 (default {DEFAULT_QUALITY})")
    p.add_argument("--bits", type=int, choices=[8, 16], default=8,
                   help="bits a sample of the outputs: 16 for 16-bit PNG/TIFF (default 8)")
    p.add_argument("--max-pixels", type=pixels_argument(1), default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse larger images from their header, before decoding (default {DEFAULT_MAX_PIXELS:,}); "
                   "larger photos are enhanced in streamed tiles (100 MP: about 3 GB of memory)")
    p.add_argument("--tile", type=pixels_argument(MIN_TILE), metavar="N",
                   help="process in N x N tiles (default: only images over 2.5 MP, in 512-px tiles)")
    p.add_argument("--save-maps", action="store_true",
                   help="also write <stem>_R, _L, _R_restored, _L_adjusted.png beside each output")
    p.add_argument("--compare", action="store_true", help="also write <stem>_compare.png: input | output")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose output file exists")
    p.add_argument("--json", metavar="FILE",
                   help="also write the summary (counts, failures with their reasons, each output's ratio) as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@subcommand(add_enhance_parser)
def run_enhance(args: argparse.Namespace) -> int:
    from kind.fileio import check_output_path

    check_output_path(args.out, "-o/--out", folder=True)
    if args.json is not None:
        check_output_path(args.json, "--json")
    if args.quality is not None and args.format not in LOSSY_FORMATS:
        raise ValueError(f"--quality applies to {' and '.join(LOSSY_FORMATS)}, not {args.format} (lossless)")
    tune_for_command(args.max_pixels)
    from kind.api import KinD
    from kind.distributed import gather_objects, process_group, rank_device, wait_for_all
    from kind.enhance import SaveOptions, check_options, enhance_jobs, merge_summaries, plan_jobs, shard_plan
    from kind.fileio import atomic_write_json

    save = SaveOptions(args.format, args.quality or DEFAULT_QUALITY, args.bits)
    sweep = args.ratio if isinstance(args.ratio, list) else None
    for ratio in sweep or [args.ratio]:
        check_options(ratio, save)
    with process_group(args.device) as world:
        plan = plan_jobs(args.inputs, args.out, save_maps=args.save_maps, compare=args.compare, format=args.format,
                         ratios=sweep)
        wait_for_all(world)  # every rank has checked the output folder before any rank writes into it
        device = str(rank_device(args.device, world)) if world.distributed else args.device
        model = KinD.from_pretrained(args.weights, device, args.precision, max_pixels=args.max_pixels, tile=args.tile)
        share = shard_plan(plan, world.rank, world.size)
        summary = enhance_jobs(share, model, ratio=sweep[0] if sweep else args.ratio, skip_existing=args.skip_existing,
                               progress=not args.quiet and world.is_main, save=save, pipeline=args.pipeline)
        summary = merge_summaries(gather_objects(summary, world))
    if world.is_main:
        if args.json is not None:
            atomic_write_json(args.json, {**summary.as_dict(), "ranks": world.size})
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
    import glob
    from pathlib import Path

    from kind.fileio import check_output_path

    check_output_path(args.out, "-o/--out", folder=True)
    tune_for_command()
    from kind.api import KinD
    from kind.enhance import ASSETS_DIR, enhance_jobs, plan_jobs

    plan = plan_jobs([glob.escape(str(ASSETS_DIR)) + "/*.png"], args.out, save_maps=True, compare=True)
    summary = enhance_jobs(plan, KinD.from_pretrained(device=args.device), ratio=DEFAULT_RATIO)
    print(summary.report())
    out = Path(args.out).resolve()
    print(f"enhanced images, decomposition maps and input | output panels are in {out}:")
    for job in plan.jobs:
        print(f"  {job.compare}")
    return 1 if summary.failed else 0


def add_app_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from kind.app.serve import add_app_arguments  # argparse only: Gradio is imported when the app starts

    p = sub.add_parser("app", help="a local web page to choose the light level with a slider (pip install 'kind[app]')",
                       description="Serve a page (Gradio) at http://127.0.0.1:7860: upload photos, drag the ratio, "
                       "download what kind enhance --ratio R writes. Needs pip install 'kind[app]'.")
    add_runner_arguments(p)
    add_app_arguments(p)
    return p


@subcommand(add_app_parser)
def run_app(args: argparse.Namespace) -> int:
    from kind.app.serve import run_app

    return run_app(args)


# --- bench ----------------------------------------------------------------------------------


def add_bench_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench",
        help="latency, throughput, memory and GFLOP/s of the pipeline; prints a table, writes JSON",
    )
    add_runner_arguments(p, weights_help="weights folder (default: the shipped ones, else random weights)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs per measurement (median reported)")
    p.add_argument("--warmup", type=int, help="untimed runs first (default 2; --train: steps, 100 on CUDA, 3 on a CPU)")
    p.add_argument("--folder", help="also time `kind enhance` on this folder (images/s)")
    p.add_argument("--batch", type=int, default=0, help="also time batches of this many 600×400 images")
    p.add_argument("--no-large", action="store_true", help="skip the 12-megapixel tiled photo")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument("--no-onnx", action="store_true", help="skip timing the ONNX export in onnxruntime")
    p.add_argument("--huge", action="store_true",
                   help="also time kind enhance on 100- and 144-megapixel PNGs with their peak memory (minutes)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks (CUDA)")
    p.add_argument("--tf-python", help="a Python with tensorflow + tf_slim: time the official TF graph in the same run")
    p.add_argument("--json", help="write the measurements to this JSON file")
    p.add_argument("--train", action="store_true",
                   help="time training instead: the loop as kind train runs it beside the bare compiled step, per stage")
    p.add_argument("--stages", default="decom,adjust,restore", help="--train: stages to time (default all three)")
    p.add_argument("--steps", type=int, default=200,
                   help="--train: timed steps per stage, after --warmup steps (default 100 on CUDA, 3 on a CPU)")
    return p


@subcommand(add_bench_parser)
def run_bench_command(args: argparse.Namespace) -> int:
    tune_for_command()
    from kind.bench import format_table, run_bench
    from kind.fileio import atomic_write_json, check_output_path

    if args.json:
        check_output_path(args.json, "--json")
    if args.train:
        from kind.bench_train import format_train_table, run_train_bench

        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = sorted(set(stages) - set(NETWORK_NAMES))
        if unknown or not stages:
            raise ValueError(f"--stages: expected a comma-separated list of {', '.join(NETWORK_NAMES)}, got {args.stages!r}")
        if args.steps < 1:
            raise ValueError(f"--steps: expected at least 1, got {args.steps}")
        result = run_train_bench(stages, device=args.device, steps=args.steps, warmup=args.warmup)
        print(format_train_table(result))
        if args.json:
            atomic_write_json(args.json, result)
            print(f"wrote {args.json}")
        return 0

    result = run_bench(
        device=args.device, precision=args.precision, weights=args.weights, repeat=args.repeat,
        warmup=2 if args.warmup is None else args.warmup, large=not args.no_large, folder=args.folder,
        memory=not args.no_memory, batch=args.batch, tf_python=args.tf_python, compile=args.compile,
        onnx=not args.no_onnx, huge=args.huge,
    )
    print(format_table(result))
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


# --- score, eval, table ---------------------------------------------------------------------


def _eval_ratio_arg(text: str) -> float:
    """``kind eval --ratio``: a finite number >= 0 (the ``auto`` rule is protocol ``auto``)."""
    value = _ratio_arg(text)
    if isinstance(value, str):
        raise argparse.ArgumentTypeError("expected a number; for an automatic ratio use --protocol auto")
    return value


NIQE_CHANNELS = ["gray", "y"]  # = kind.metrics.NIQE_CHANNELS
NIQE_PARAM_SETS = ["live", "kindpp"]  # = kind.metrics.NIQE_PARAMS
LOE_VARIANTS = ["npe", "bimef"]  # = kind.metrics.LOE_VARIANTS
SCORE_METRICS = ["psnr", "ssim", "loe", "niqe"]  # = kind.score.SCORE_METRICS


def _metrics_arg(text: str) -> list[str]:
    """``--metrics psnr,ssim,niqe``: a comma-separated list of known metrics."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCORE_METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(SCORE_METRICS)}, got {text!r}")
    return names


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


@subcommand(add_score_parser)
def run_score(args: argparse.Namespace) -> int:
    from kind.fileio import atomic_write_json, check_output_path
    from kind.score import format_report, score_folders

    if args.json is not None:
        check_output_path(args.json, "--json")
    result = score_folders(args.pred, args.gt, y_channel=args.y, crop_border=args.crop,
                           with_loe_inputs=args.loe_inputs, metrics=args.metrics,
                           niqe_channel=args.niqe_channel, niqe_params=args.niqe_params,
                           loe_variant=args.loe_variant, progress=not args.quiet)
    print(format_report(result))
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


@subcommand(add_eval_parser)
def run_eval_command(args: argparse.Namespace) -> int:
    tune_for_command(args.max_pixels)
    from kind.evaluate import format_eval_report, run_eval

    result = run_eval(args.data, args.protocol, weights=args.weights, ratio=args.ratio, out_dir=args.out,
                      json_path=args.json, device=args.device, precision=args.precision,
                      progress=not args.quiet, label=args.label, gt_mean=args.gt_mean,
                      niqe_channel=args.niqe_channel, niqe_params=args.niqe_params, loe_variant=args.loe_variant,
                      max_pixels=args.max_pixels)
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
        help="the results tables (LOL; NIQE and LOE on the no-reference sets) from `kind eval --json` files",
        description="Build the results tables from kind eval result files: the LOL table (the KinD "
        "paper's confirmed numbers, marked reported, then one row per paired result: weights, "
        "protocol, PSNR, SSIM, PSNR-Y, SSIM-Y, LOE, NIQE, seconds per image, device) and, for photo "
        "results, mean NIQE and LOE per data set (LIME, DICM, VV, MEF, NPE). Prints the markdown.",
    )
    p.add_argument("--runs", nargs="+", required=True, metavar="JSON", help="result files of kind eval --json")
    p.add_argument("--out-md", metavar="FILE", help="also write the markdown here")
    p.add_argument("--out-json", metavar="FILE", help="also write the rows as JSON here")
    return p


@subcommand(add_table_parser)
def run_table(args: argparse.Namespace) -> int:
    from kind.fileio import check_output_path
    from kind.tables import write_table

    for option, path in (("--out-md", args.out_md), ("--out-json", args.out_json)):
        if path is not None:
            check_output_path(path, option)
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
