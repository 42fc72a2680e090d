#!/usr/bin/env bash
# One prepared command on the lent GPU machine, run from the repository root there (docs/scaling-out.md,
# "Training on a lent GPU"): optionally `kind bench --train`, then `kind train pipeline` with
# configs/pipeline-gpu.yaml. Everything to keep goes to $OUT as it is made, so a command cut short
# by the device's time limit still returns the best weights so far.
#
#   CONFIG=configs/pipeline-gpu.yaml   the pipeline config
#   DEVICE=cuda                        DEVICE=cpu rehearses the whole procedure on a CPU
#   SET="key=value stage.key=value"    overrides (e.g. SET="stages=[restore] decom_weights=.gpu_weights/decom.pt")
#   RESUME=1                           --resume auto: continue the stage a previous command left on the machine
#   BENCH=1                            time the loop first (kind bench --train; JSON in $OUT)
# $OUT receives: machine.txt, bench-train.json, train.log, decom.pt, adjust.pt, restore.pt (float16), runs.tgz,
# decom-steps.tgz (the decomposition's numbered checkpoints, slim, for experiments/decomposition_study.py trajectory).
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-session-out}
CONFIG=${CONFIG:-configs/pipeline-gpu.yaml}
DEVICE=${DEVICE:-cuda}
SET=${SET:-}
RESUME=${RESUME:-0}
BENCH=${BENCH:-0}
mkdir -p "$OUT"
if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then  # packages the device image lacks (kornia), carried as wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
kind() { python3 -m kind "$@"; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
  python3 -c "import torch; print('torch', torch.__version__)"; } | tee "$OUT/machine.txt"

if [ "$BENCH" = 1 ]; then
  timeout 240 python3 -m kind bench --train --device "$DEVICE" --json "$OUT/bench-train.json" 2>&1 | tee -a "$OUT/train.log" || true
fi

args=(--config "$CONFIG" --set "device=$DEVICE" --quiet)
for s in $SET; do args+=(--set "$s"); done
[ "$RESUME" = 1 ] && args+=(--resume auto)
out_dir=$(python3 -c 'import sys; from kind.train.config import load_pipeline_config as l; print(l(sys.argv[1], sys.argv[2:]).out_dir)' \
  "$CONFIG" $SET)

copy_weights() {  # finished stages' exports, else the running stage's best.pt, into $OUT
  for stage in decom adjust restore; do
    local half=""; [ "$stage" = restore ] && half="--half"
    if [ -f "$out_dir/weights/$stage.pt" ]; then
      cp "$out_dir/weights/$stage.pt" "$OUT/$stage.pt"
    elif [ -f "$out_dir/$stage/best.pt" ]; then
      kind export "$out_dir/$stage/best.pt" "$OUT/$stage.pt" $half >/dev/null 2>&1 || true
    fi
  done
}
kind train pipeline "${args[@]}" >>"$OUT/train.log" 2>&1 &
pid=$! ticks=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 2; ticks=$((ticks + 1))
  [ $((ticks % 10)) = 0 ] && copy_weights
done
status=0; wait "$pid" || status=$?
copy_weights
tail -n 5 "$OUT/train.log"
tar czf "$OUT/runs.tgz" "$out_dir"/*/config.yaml "$out_dir"/*/events.out.tfevents.* 2>/dev/null || true
steps=$(mktemp -d)
for checkpoint in "$out_dir"/decom/step_*.pt; do
  [ -f "$checkpoint" ] && { kind export "$checkpoint" "$steps/$(basename "$checkpoint")" >/dev/null 2>&1 || true; }
done
if compgen -G "$steps/*.pt" >/dev/null; then tar czf "$OUT/decom-steps.tgz" -C "$steps" .; fi
exit "$status"
