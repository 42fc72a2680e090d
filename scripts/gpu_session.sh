#!/usr/bin/env bash
# One prepared GPU session (the lent-device tool runs it from the repository root):
# train the three stages with the *-gpu configs inside their time budgets, export the weights
# we ship, and time the GPU inference paths. Everything to keep is written under $OUT.
#
#   DATA=.gpu_data/train80   a copy of the LOL training pairs that travels with the call
#   DEVICE=cuda              (DEVICE=cpu plus SET="max_seconds=5" rehearses it on a CPU machine)
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-session-out}
DATA=${DATA:-.gpu_data/train80}
DEVICE=${DEVICE:-cuda}
SET=${SET:-}
mkdir -p "$OUT"
if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then  # packages the device image lacks (kornia), carried as wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
kind() { python3 -m kind.cli "$@"; }
overrides() { echo "--set train_dir=$DATA --set device=$DEVICE --quiet"; for s in $SET; do echo "--set $s"; done; }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
  python3 -c "import torch; print('torch', torch.__version__)"; } | tee "$OUT/machine.txt"

for stage in decom adjust restore; do
  # shellcheck disable=SC2046
  kind train "$stage" --config "configs/$stage-gpu.yaml" $(overrides) 2>&1 | tee -a "$OUT/train.log"
done
kind export runs/decom-gpu/best.pt "$OUT/decom.pt"
kind export runs/adjust-gpu/best.pt "$OUT/adjust.pt"
kind export runs/restore-gpu/best.pt "$OUT/restore.pt" --half
tar czf "$OUT/runs.tgz" runs/*-gpu/config.yaml runs/*-gpu/events.out.tfevents.*

mkdir -p /tmp/shipped && cp "$OUT"/{decom,adjust,restore}.pt /tmp/shipped/
for precision in fp32 bf16; do
  timeout 120 python3 -m kind.cli bench --device "$DEVICE" --precision "$precision" --weights /tmp/shipped \
    --batch 8 --no-memory --repeat 50 --warmup 5 --json "$OUT/bench-$precision.json" 2>&1 | tee -a "$OUT/bench.log" || true
done
timeout 100 python3 -m kind.cli bench --device "$DEVICE" --precision bf16 --weights /tmp/shipped --compile \
  --batch 8 --no-memory --no-large --repeat 50 --warmup 5 --json "$OUT/bench-bf16-compile.json" 2>&1 | tee -a "$OUT/bench.log" || true
