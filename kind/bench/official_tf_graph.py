"""The official KinD TensorFlow graph, rebuilt from the spec, for side-by-side checks and timings.

Development tool only: needs ``tensorflow`` and ``tf_slim`` (not dependencies of ``kind``), e.g.
in a separate virtual environment: ``pip install tensorflow-cpu tf_slim``.

    python kind/bench/official_tf_graph.py outputs --decom CKPT --adjust CKPT [--restore CKPT] \
        --input x.npy --ratio 5 --out ref.npz          # R, L, restored R, adjusted L (NCHW)
    python kind/bench/official_tf_graph.py random-checkpoint --net restore --out DIR/model.ckpt
    python kind/bench/official_tf_graph.py time --decom CKPT --adjust CKPT --height 400 --width 600
    python kind/bench/official_tf_graph.py enhance --decom CKPT --adjust CKPT --restore CKPT --out DIR x.jpg ...
    python kind/bench/official_tf_graph.py lol --decom CKPT --adjust CKPT --restore CKPT --data eval15 --out DIR

Without a restoration checkpoint the restoration net runs with random (Glorot) weights; use
``random-checkpoint`` to write such weights as a real TF checkpoint, which ``kind convert-tf`` then
reads: that proves the restoration net's name and layout mapping against TensorFlow itself.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf
import tf_slim as slim

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


def lrelu(x):
    return tf.maximum(x * 0.2, x)


def upsample_and_concat(x1, x2, output_channels, in_channels, scope_name):
    with v1.variable_scope(scope_name, reuse=v1.AUTO_REUSE):
        kernel = v1.get_variable("weights", [2, 2, output_channels, in_channels])
        up = tf.nn.conv2d_transpose(x1, kernel, tf.shape(x2), strides=[1, 2, 2, 1])
        out = tf.concat([up, x2], 3)
        out.set_shape([None, None, None, output_channels * 2])
        return out


def conv(x, channels, size, scope, activation=lrelu):
    return slim.conv2d(x, channels, [size, size], rate=1, activation_fn=activation, scope=scope)


def pool(x):
    return slim.max_pool2d(x, [2, 2], stride=2, padding="SAME")


def decom_net(x):
    with v1.variable_scope("DecomNet", reuse=v1.AUTO_REUSE):
        conv1 = conv(x, 32, 3, "g_conv1_1")
        conv2 = conv(pool(conv1), 64, 3, "g_conv2_1")
        conv3 = conv(pool(conv2), 128, 3, "g_conv3_1")
        conv8 = conv(upsample_and_concat(conv3, conv2, 64, 128, "g_up_1"), 64, 3, "g_conv8_1")
        conv9 = conv(upsample_and_concat(conv8, conv1, 32, 64, "g_up_2"), 32, 3, "g_conv9_1")
        reflectance = tf.sigmoid(conv(conv9, 3, 1, "g_conv10", activation=None))
        l_conv = conv(conv1, 32, 3, "l_conv1_2")
        illumination = tf.sigmoid(conv(tf.concat([l_conv, conv9], 3), 1, 1, "l_conv1_4", activation=None))
    return reflectance, illumination


def restoration_net(r, i):
    with v1.variable_scope("Restoration_net", reuse=v1.AUTO_REUSE):
        x = tf.concat([r, i], 3)
        skips = []
        for level, width in enumerate((32, 64, 128, 256, 512), start=1):
            if level > 1:
                x = pool(x)
            x = conv(conv(x, width, 3, f"de_conv{level}_1"), width, 3, f"de_conv{level}_2")
            skips.append(x)
        for level, width in zip(range(6, 10), (256, 128, 64, 32)):
            x = upsample_and_concat(x, skips[9 - level], width, width * 2, f"up_{level}")
            x = conv(conv(x, width, 3, f"de_conv{level}_1"), width, 3, f"de_conv{level}_2")
        return tf.sigmoid(conv(x, 3, 3, "de_conv10", activation=None))


def illumination_adjust_net(i, ratio):
    with v1.variable_scope("Illumination_adjust_net", reuse=v1.AUTO_REUSE):
        x = tf.concat([i, ratio], 3)
        for k in range(1, 5):
            x = conv(x, 32 if k < 4 else 1, 3, f"en_conv_{k}")
        return tf.sigmoid(x)


SCOPES = {"decom": "DecomNet", "restore": "Restoration_net", "adjust": "Illumination_adjust_net"}


def build(height=None, width=None):
    x = v1.placeholder(tf.float32, [None, height, width, 3], name="input")
    ratio = v1.placeholder(tf.float32, [None, height, width, 1], name="ratio")
    reflectance, illumination = decom_net(x)
    restored = restoration_net(reflectance, illumination)
    adjusted = illumination_adjust_net(illumination, ratio)
    return x, ratio, (reflectance, illumination, restored, adjusted)


def session_with_weights(args):
    sess = v1.Session(config=v1.ConfigProto(intra_op_parallelism_threads=args.threads or 0))
    sess.run(v1.global_variables_initializer())
    for net in SCOPES:
        prefix = getattr(args, net, None)
        if prefix:
            variables = [v for v in v1.global_variables() if v.name.startswith(SCOPES[net] + "/")]
            v1.train.Saver(var_list=variables).restore(sess, prefix)
    return sess


def cmd_outputs(args):
    image = np.load(args.input).astype(np.float32)  # N×3×H×W
    x, ratio, outputs = build()
    sess = session_with_weights(args)
    nhwc = image.transpose(0, 2, 3, 1)
    plane = np.full(nhwc.shape[:3] + (1,), args.ratio, np.float32)
    values = sess.run(outputs, {x: nhwc, ratio: plane})
    names = ("R", "L", "R_restored", "L_adjusted")
    np.savez(args.out, **{n: v.transpose(0, 3, 1, 2) for n, v in zip(names, values)})


def load_official(path):
    """The official loader: RGB float32 / 255, stretched by the image's own min and max."""
    from PIL import Image

    image = np.array(Image.open(path).convert("RGB"), dtype="float32") / 255.0
    low, high = np.max(image), np.min(image)
    return np.float32((image - high) / np.maximum(low - high, 0.001))


def save_official(path, image):
    from PIL import Image

    Image.fromarray(np.clip(np.squeeze(image) * 255.0, 0, 255.0).astype("uint8")).save(path, "png")


def cmd_enhance(args):
    """The authors' pipeline for photos (evaluate.py), one image at a time, PNG outputs."""
    from pathlib import Path

    from skimage import color, filters

    x, ratio_in, outputs = build()
    sess = session_with_weights(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.inputs:
        image = load_official(path)[None]
        reflectance, illumination, restored = sess.run(outputs[:3], {x: image})
        h, w = image.shape[1:3]
        plane = (np.ones([h, w]) * args.ratio)[None, :, :, None]
        adjusted = sess.run(outputs[3], {x: image, ratio_in: plane})
        gray = color.rgb2gray(np.squeeze(reflectance))
        weight = np.minimum((filters.gaussian(gray, 3) * 2) ** 0.5, 1)[None, :, :, None]
        fused = illumination * image + (1 - illumination) * (restored * weight * adjusted)
        save_official(out_dir / (Path(path).stem + ".png"), fused)


def cmd_lol(args):
    """The authors' LOL evaluation (evaluate_LOLdataset.py): ratio from the ground truth."""
    from pathlib import Path

    x, ratio_in, outputs = build()
    sess = session_with_weights(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for low_path in sorted(Path(args.data, "low").iterdir()):
        low = load_official(low_path)[None]
        high = load_official(Path(args.data, "high", low_path.name))[None]
        r_low, i_low, restored = sess.run(outputs[:3], {x: low})
        i_high = sess.run(outputs[1], {x: high})
        ratio = np.mean(i_high / (i_low + 0.0001))
        plane = (np.ones(low.shape[1:3]) * ratio)[None, :, :, None]
        adjusted = sess.run(outputs[3], {x: low, ratio_in: plane})
        save_official(out_dir / (low_path.stem + ".png"), restored * adjusted)


def cmd_random_checkpoint(args):
    v1.set_random_seed(args.seed)
    build()
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        variables = [v for v in v1.global_variables() if v.name.startswith(SCOPES[args.net] + "/")]
        v1.train.Saver(var_list=variables).save(sess, args.out)


def cmd_time(args):
    x, ratio, outputs = build(args.height, args.width)
    sess = session_with_weights(args)
    image = np.random.default_rng(0).random((1, args.height, args.width, 3), np.float32)
    plane = np.full((1, args.height, args.width, 1), 5.0, np.float32)
    feed = {x: image, ratio: plane}
    fetch = [outputs[2], outputs[3]]
    for _ in range(args.warmup):
        sess.run(fetch, feed)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        sess.run(fetch, feed)
        times.append(time.perf_counter() - start)
    print(f"official TF graph, {args.width}x{args.height}: median {np.median(times):.3f} s "
          f"(min {min(times):.3f}, {args.repeat} runs)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("outputs", "time"):
        p = sub.add_parser(name)
        for net in SCOPES:
            p.add_argument(f"--{net}", help=f"TF checkpoint prefix of the {net} network")
        p.add_argument("--threads", type=int, default=0)
    outputs = sub.choices["outputs"]
    outputs.add_argument("--input", required=True, help=".npy of N×3×H×W float32 in [0,1]")
    outputs.add_argument("--ratio", type=float, default=5.0)
    outputs.add_argument("--out", required=True)
    timing = sub.choices["time"]
    timing.add_argument("--height", type=int, default=400)
    timing.add_argument("--width", type=int, default=600)
    timing.add_argument("--warmup", type=int, default=2)
    timing.add_argument("--repeat", type=int, default=5)
    for name in ("enhance", "lol"):
        p = sub.add_parser(name)
        for net in SCOPES:
            p.add_argument(f"--{net}", help=f"TF checkpoint prefix of the {net} network")
        p.add_argument("--threads", type=int, default=0)
        p.add_argument("--out", required=True)
    sub.choices["enhance"].add_argument("inputs", nargs="+")
    sub.choices["enhance"].add_argument("--ratio", type=float, default=5.0)
    sub.choices["lol"].add_argument("--data", required=True, help="folder with low/ and high/")
    rand = sub.add_parser("random-checkpoint")
    rand.add_argument("--net", choices=sorted(SCOPES), required=True)
    rand.add_argument("--out", required=True)
    rand.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    commands = {"outputs": cmd_outputs, "time": cmd_time, "enhance": cmd_enhance, "lol": cmd_lol,
                "random-checkpoint": cmd_random_checkpoint}
    commands[args.command](args)


if __name__ == "__main__":
    main()
