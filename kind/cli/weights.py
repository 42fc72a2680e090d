"""``kind convert-tf``, ``kind export`` and ``kind export-onnx``: weight files in and out."""

from __future__ import annotations

import argparse

from kind.cli.arguments import WEIGHTS_HELP
from kind.constants import DEFAULT_OPSET, NETWORK_NAMES


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


def run_convert(args: argparse.Namespace) -> int:
    from kind.io.output_guard import check_output_files
    from kind.weights.tf_checkpoint import read_index
    from kind.weights.tf_import import convert_tf_checkpoint

    index = read_index(args.checkpoint)
    check_output_files({"OUT": args.out}, [index.index_path, *map(index.data_path, range(index.num_shards))])
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


def run_export(args: argparse.Namespace) -> int:
    from kind.io.output_guard import check_output_files
    from kind.weights.format import export_weights

    check_output_files({"OUT": args.out}, [args.checkpoint])
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
        "(pip install 'kind[onnx]'); docs/python-api.md shows the photo pipeline around them.",
    )
    p.add_argument("out", metavar="OUTDIR", help="output folder")
    p.add_argument("--weights", metavar="SPEC", help=WEIGHTS_HELP)
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset version (default {DEFAULT_OPSET})")
    return p


def run_export_onnx(args: argparse.Namespace) -> int:
    from kind.io.atomic import check_output_path

    check_output_path(args.out, "OUTDIR", folder=True)
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ValueError("export-onnx needs the onnx package: pip install 'kind[onnx]'")
    from kind.weights.onnx_export import export_onnx

    for path in export_onnx(args.out, args.weights, args.opset).values():
        print(f"wrote {path}")
    return 0


COMMANDS = [(add_convert_parser, run_convert), (add_export_parser, run_export), (add_export_onnx_parser, run_export_onnx)]  # (parser builder, handler), in `kind --help` order
