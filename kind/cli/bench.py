"""``kind bench``: inference speed and memory, or the training loop's speed."""

from __future__ import annotations

import argparse

from kind.cli.arguments import add_runner_arguments, tune_for_command
from kind.constants import NETWORK_NAMES


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
    p.add_argument("--recipe", metavar="PIPELINE_YAML",
                   help="--train: each stage's batch size, patch size and precision from this pipeline config "
                        "(e.g. configs/pipeline-cpu-long.yaml; default: the official sizes, bf16 on CUDA)")
    p.add_argument("--sizes", metavar="BxP,...",
                   help="--train: time each batch × patch size instead, e.g. 8x96,4x192,1x384 (pixels/s per row)")
    p.add_argument("--precisions", metavar="fp32,bf16", help="--train: time each precision (fp32, bf16 autocast)")
    p.add_argument("--steps", type=int, default=200,
                   help="--train: timed steps per stage, after --warmup steps (default 100 on CUDA, 3 on a CPU)")
    return p


def run_bench_command(args: argparse.Namespace) -> int:
    tune_for_command()
    from kind.bench.inference import format_table, run_bench
    from kind.io.atomic import atomic_write_json
    from kind.io.output_guard import check_output_files

    if args.json:
        check_output_files({"--json": args.json}, input_folders=[args.folder] if args.folder else [])
    if args.train:
        from kind.bench.training import format_train_table, parse_sizes, run_train_bench

        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = sorted(set(stages) - set(NETWORK_NAMES))
        if unknown or not stages:
            raise ValueError(f"--stages: expected a comma-separated list of {', '.join(NETWORK_NAMES)}, got {args.stages!r}")
        if args.steps < 1:
            raise ValueError(f"--steps: expected at least 1, got {args.steps}")
        recipe = None
        if args.recipe:
            from kind.train.config import load_pipeline_config

            recipe = load_pipeline_config(args.recipe).stages
        sizes = parse_sizes(args.sizes) if args.sizes else None
        precisions = [p.strip() for p in args.precisions.split(",") if p.strip()] if args.precisions else None
        if args.recipe and (sizes or precisions):
            raise ValueError("--recipe and --sizes/--precisions both set the sizes and precision: choose one")
        result = run_train_bench(stages, device=args.device, steps=args.steps, warmup=args.warmup, recipe=recipe,
                                 sizes=sizes, precisions=precisions)
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


COMMANDS = [(add_bench_parser, run_bench_command)]  # (parser builder, handler), in `kind --help` order
