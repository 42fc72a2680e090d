"""``kind enhance`` (files, folders and globs into a folder) and ``kind demo`` (the bundled samples)."""

from __future__ import annotations

import argparse

from kind.cli.arguments import add_runner_arguments, add_strength_argument, pixels_argument, ratio_sweep_argument, tune_for_command
from kind.constants import (AUTO, DEFAULT_CRF, DEFAULT_MAX_PIXELS, DEFAULT_QUALITY, DEFAULT_RATIO, DEFAULT_VIDEO_CODEC,
                            LOSSY_FORMATS, MIN_TILE, OUTPUT_FORMATS)


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
        "summary. Exit status: 0 all done, 1 some files failed (on any rank), 2 bad arguments, 130 interrupted by "
        "Ctrl-C (after the files being written are complete; the summary says how many inputs were left).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, video clips (.mp4 .mov .m4v .mkv .avi .webm), folders (searched recursively) "
                   "or glob patterns")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    add_runner_arguments(p)
    p.add_argument("--ratio", type=ratio_sweep_argument, default=None, metavar="FLOAT|auto[,...]",
                   help="brightening ratio (default 5.0 for photos, auto for clips: a fixed ratio follows a noisy "
                   "clip's flicker; the authors find 0-5 useful), or auto (from each image's illumination, for "
                   "clips smoothed over time); several, e.g. 1,3,5, write one output per ratio named by it (photo_r3.png)")
    p.add_argument("--pipeline", choices=["photo", "lol"], default="photo",
                   help="photo: the authors' photo pipeline (default); lol: the LOL protocol's plain R̂·L̂")
    add_strength_argument(p)
    p.add_argument("--format", choices=list(OUTPUT_FORMATS), default="png",
                   help="output format (default png); EXIF (orientation reset) and ICC profile are carried over")
    p.add_argument("--quality", type=pixels_argument(1, 100, "quality levels"), metavar="Q",
                   help=f"JPEG/WebP quality 1-100 (default {DEFAULT_QUALITY})")
    p.add_argument("--bits", type=int, choices=[8, 16], default=8,
                   help="bits a sample of the outputs: 16 for 16-bit PNG/TIFF (default 8)")
    p.add_argument("--codec", default=DEFAULT_VIDEO_CODEC, metavar="ENCODER",
                   help=f"clips: the video encoder (default {DEFAULT_VIDEO_CODEC}, H.264; e.g. libx265, mpeg4); "
                   "audio and subtitles are copied as they are (needs kind[video])")
    p.add_argument("--crf", type=pixels_argument(0, 63, "levels"), default=DEFAULT_CRF, metavar="N",
                   help=f"clips: the encoder's constant rate factor, 0 lossless to 51 (default {DEFAULT_CRF})")
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


def run_enhance(args: argparse.Namespace) -> int:
    from kind.io.atomic import check_output_path

    check_output_path(args.out, "-o/--out", folder=True)
    if args.quality is not None and args.format not in LOSSY_FORMATS:
        raise ValueError(f"--quality applies to {' and '.join(LOSSY_FORMATS)}, not {args.format} (lossless)")
    tune_for_command(args.max_pixels)
    from kind.api import KinD
    from kind.distributed import gather_objects, process_group, rank_device, wait_for_all
    from kind.enhance import SaveOptions, check_options, enhance_jobs, merge_summaries, shard_plan
    from kind.io.plan import plan_jobs
    from kind.io.atomic import atomic_write_json
    from kind.io.output_guard import check_output_files
    from kind.video.options import VideoOptions

    save = SaveOptions(args.format, args.quality or DEFAULT_QUALITY, args.bits)
    clip_ratio = AUTO if args.ratio is None else None  # no --ratio: photos at the default, clips at the steady auto
    args.ratio = DEFAULT_RATIO if args.ratio is None else args.ratio
    sweep = args.ratio if isinstance(args.ratio, list) else None
    for ratio in sweep or [args.ratio]:
        check_options(ratio, save)
    with process_group(args.device) as world:
        plan = plan_jobs(args.inputs, args.out, save_maps=args.save_maps, compare=args.compare, format=args.format,
                         ratios=sweep)
        check_output_files({"--json": args.json}, [job.source.path for job in plan.jobs],
                           {job.source.root for job in plan.jobs if job.source.root is not None},
                           [target for job in plan.jobs for target in job.targets()])
        wait_for_all(world)  # every rank has checked the output folder before any rank writes into it
        device = str(rank_device(args.device, world)) if world.distributed else args.device
        model = KinD.from_pretrained(args.weights, device, args.precision, max_pixels=args.max_pixels, tile=args.tile,
                                     strength=args.strength)
        share = shard_plan(plan, world.rank, world.size)
        summary = enhance_jobs(share, model, ratio=sweep[0] if sweep else args.ratio, skip_existing=args.skip_existing,
                               progress=not args.quiet and world.is_main, save=save, pipeline=args.pipeline,
                               video=VideoOptions(args.codec, args.crf, clip_ratio))
        summary = merge_summaries(gather_objects(summary, world))
    if world.is_main:
        if args.json is not None:
            atomic_write_json(args.json, {**summary.as_dict(), "ranks": world.size})
        print(summary.report())
    if summary.interrupted:
        return 130
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


def run_demo(args: argparse.Namespace) -> int:
    import glob
    from pathlib import Path

    from kind.io.atomic import check_output_path

    check_output_path(args.out, "-o/--out", folder=True)
    tune_for_command()
    from kind.api import KinD
    from kind.enhance import ASSETS_DIR, enhance_jobs
    from kind.io.plan import plan_jobs

    plan = plan_jobs([glob.escape(str(ASSETS_DIR)) + "/*.png"], args.out, save_maps=True, compare=True)
    summary = enhance_jobs(plan, KinD.from_pretrained(device=args.device), ratio=DEFAULT_RATIO)
    print(summary.report())
    out = Path(args.out).resolve()
    print(f"enhanced images, decomposition maps and input | output panels are in {out}:")
    for job in plan.jobs:
        print(f"  {job.compare}")
    return 1 if summary.failed else 0


COMMANDS = [(add_enhance_parser, run_enhance), (add_demo_parser, run_demo)]  # (parser builder, handler), in `kind --help` order
