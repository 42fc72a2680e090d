#!/usr/bin/env bash
# One prepared GPU session (the lent-device tool runs it from the repository root):
# train stages with their *-gpu configs inside their time budgets, export the weights
# we ship, and time the GPU inference paths. Everything to keep is written under $OUT.
#
#   DATA=.gpu_data/train80   a copy of the LOL training pairs that travels with the call
#   DEVICE=cuda              (DEVICE=cpu plus SET="max_seconds=5" rehearses it on a CPU machine)
#   STAGES=restore           the stages to train, in order (each needs configs/<stage>-gpu.yaml)
#   SET="key=value ..."      overrides for every stage (e.g. decom_weights=.gpu_data/decom.pt)
#   BENCH=1                  time the GPU inference paths afterwards
# While a stage trains, its best checkpoint is exported to $OUT every 20 s, so a call cut short by
# the device's time limit still returns the best weights so far.
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-session-out}
DATA=${DATA:-.gpu_data/train80}
DEVICE=${DEVICE:-cuda}
SET=${SET:-}
STAGES=${STAGES:-restore}
BENCH=${BENCH:-1}
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

export_best() {  # stage: the run's best.pt → $OUT/<stage>.pt (restoration in float16: 15.5 MB)
  local half=""; [ "$1" = restore ] && half="--half"
  [ -f "runs/$1-gpu/best.pt" ] && kind export "runs/$1-gpu/best.pt" "$OUT/$1.pt" $half >/dev/null 2>&1 || true
}
for stage in $STAGES; do
  # shellcheck disable=SC2046
  kind train "$stage" --config "configs/$stage-gpu.yaml" $(overrides) >>"$OUT/train.log" 2>&1 &
  pid=$! ticks=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2; ticks=$((ticks + 1))
    [ $((ticks % 10)) = 0 ] && export_best "$stage"
  done
  wait "$pid" || echo "train $stage failed (exit $?)" | tee -a "$OUT/train.log"
  export_best "$stage"
  tail -n 3 "$OUT/train.log"
done
tar czf "$OUT/runs.tgz" runs/*-gpu/config.yaml runs/*-gpu/events.out.tfevents.* || true
[ "$BENCH" = 1 ] || exit 0

mkdir -p /tmp/shipped && cp "$OUT"/{decom,adjust,restore}.pt /tmp/shipped/
for precision in fp32 bf16; do
  timeout 120 python3 -m kind.cli bench --device "$DEVICE" --precision "$precision" --weights /tmp/shipped \
    --batch 8 --no-memory --repeat 50 --warmup 5 --json "$OUT/bench-$precision.json" 2>&1 | tee -a "$OUT/bench.log" || true
done
timeout 100 python3 -m kind.cli bench --device "$DEVICE" --precision bf16 --weights /tmp/shipped --compile \
  --batch 8 --no-memory --no-large --repeat 50 --warmup 5 --json "$OUT/bench-bf16-compile.json" 2>&1 | tee -a "$OUT/bench.log" || true
