"""``kind train``: one stage, or the three in order."""

from __future__ import annotations

import argparse
import shlex
import sys

from kind.constants import NETWORK_NAMES


def add_train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train one KinD stage (decom, adjust, restore) from a YAML config",
        description="Train one stage. Config precedence: the stage's defaults (the official schedule), "
        "then --config, then each --set key=value (values read as YAML: --set 'train_dir=[a, b]'). "
        "Relative paths, in a config file too, are relative to the current folder (the configs in "
        "configs/ are written for the repository root). "
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
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config (defaults, --config, --set) as YAML and exit without training")
    return p


STOP_EXIT_STATUS = {"SIGINT": 130, "SIGTERM": 143}


def run_train(args: argparse.Namespace) -> int:
    from kind.train.config import config_to_yaml, load_config, load_pipeline_config
    from kind.distributed import process_group
    from kind.train.loop import TrainingDiverged, train, train_pipeline

    if args.stage == "pipeline":
        pipeline = load_pipeline_config(args.config, args.overrides)
        device = next(iter(pipeline.stages.values())).device
        configs = pipeline.stages
    else:
        config = load_config(args.stage, args.config, args.overrides)
        device = config.device
        configs = {args.stage: config}
    if args.print_config:
        for stage, stage_config in configs.items():
            print(f"# {stage}\n{config_to_yaml(stage_config)}")
        return 0
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
            best = f", best validation {state.best_metric} {state.best:.4f}" if state.best is not None else ""
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


COMMANDS = [(add_train_parser, run_train)]  # (parser builder, handler), in `kind --help` order
