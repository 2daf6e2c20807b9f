#!/usr/bin/env bash
# Reproduces the shipped default model end to end (`make train-default`):
#   canonical test sets -> stage 1 -> stage 2 (+ the no-diffusion ablation) -> 3.1.0 (prior shift
#   and temperature chosen on PublicTest) -> 3.2.0 (7-epoch fine-tune from 3.1.0, then prior shift,
#   temperature chosen on PublicTest; mirror averaging measured and left off) -> 3.3.0 (3.2.0 + the FaceMesh
#   emotion fork, `python -m lrdif.training.fork`, then its temperature) -> 3.3.1 (3.3.0 with the fork's
#   ensemble weight chosen jointly with an ensemble prior shift on PublicTest, then T) -> lrdif-eval on PrivateTest
#   (clean / UDC-T / UDC-P / low-light / unseen panel / unseen low light) and PublicTest+PrivateTest
#   -> model card -> TFLite export for the SDK. Each phase is skipped when its output exists.
# Phases: all (default) | data | train | finetune | fork | eval | package.   Env: RUN (runs/default), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUN=${RUN:-runs/default}
ABL=${ABL:-runs/ablation_nodiff}
FT=${FT:-runs/finetune32}
FT32=$FT/calibrated.pt
FORK=${FORK:-runs/fork33}
FORK33=$FORK/calibrated.pt
FINAL=$FORK/calibrated331.pt
CANON=${CANON:-runs/canonical}
THREADS=${THREADS:-2}
DATA=../shared/data/ferplus/ferplus_48x48_uint8.npz
PHASE=${1:-all}
COMMON="--batch-size 64 --lr 1e-3 --ema 0.999 --dedup --soft-targets --val-size 1000"
STAGE1="$BIN/lrdif-train stage1 --preset mobile --epochs 1 $COMMON --threads $THREADS --out $RUN/stage1"
STAGE2="$BIN/lrdif-train stage2 --epochs 20 --amp bf16 $COMMON --teacher $RUN/stage1/train_state.pt"

data() {
  mkdir -p "$CANON"
  for k in none udc-toled udc-poled lowlight; do
    f="$CANON/ferplus_test_${k}_s0_64.npz"
    [ -f "$f" ] || "$BIN/lrdif-degrade" --kind "$k" --seed 0 --size 64 --split 1,2 --threads "$THREADS" "$DATA" "$f"
  done
  (cd "$CANON" && sha256sum ferplus_test_*_s0_64.npz)
}

train() {
  [ -f "$RUN/stage1/train_state.pt" ] || $STAGE1
  # stage 2 as shipped (diffusion, chain started from Z_T = 0 as at inference) and the table-5
  # V1 ablation (PNET_S2 straight to Z) with the same recipe; 1 thread each, side by side.
  [ -f "$RUN/stage2/last.pt" ] || $STAGE2 --no-insert-noise --threads 1 --out "$RUN/stage2" &
  [ -f "$ABL/stage2/last.pt" ] || $STAGE2 --no-diffusion --threads 1 --out "$ABL/stage2" &
  wait
}

calibrate() {  # calibrate SRC DST VERSION [flags]: a copy of SRC with shift / T (and flags) written in
  local src=$1 dst=$2 version=$3; shift 3
  [ -f "$dst" ] && return
  cp "$src" "$dst.tmp.pt"
  "$BIN/python" -m lrdif.training.calibration --checkpoint "$dst.tmp.pt" --out "${dst%.pt}_calibration" \
    --write-checkpoint --version "$version" --no-progress "$@"
  mv "$dst.tmp.pt" "$dst"
}

finetune() {
  calibrate "$RUN/stage2/last.pt" "$RUN/stage2/calibrated.pt" 3.1.0 --prior-shift
  [ -f "$FT/last.pt" ] || "$BIN/lrdif-train" stage2 --init "$RUN/stage2/calibrated.pt" --epochs 7 --lr 3e-4 \
    --ema 0.999 --amp off --dedup --soft-targets --val-size 1000 --threads "$THREADS" --out "$FT"
  calibrate "$FT/last.pt" "$FT32" 3.2.0 --prior-shift
}
fork() {  # 3.3.0: the FaceMesh emotion fork on 3.2.0 (its prior shift kept), then the ensemble's temperature;
  # 3.3.1: the fork weight (grid lrdif.training.fork.WEIGHTS) and an ensemble prior shift chosen together
  [ -f "$FORK/fork.pt" ] || "$BIN/python" -m lrdif.training.fork --checkpoint "$FT32" --out "$FORK/fork.pt" \
    --threads "$THREADS"
  calibrate "$FORK/fork.pt" "$FORK33" 3.3.0
  calibrate "$FORK33" "$FINAL" 3.3.1 --prior-shift --fork-weights default
}

evaluate() {
  local ckpt=$RUN/stage2/last.pt out=$RUN/eval
  mkdir -p "$out"
  for proto in private public+private; do
    split=$([ "$proto" = private ] && echo test || echo public+private)
    for k in clean udc-toled udc-poled lowlight udc-unseen lowlight-unseen; do
      case $k in
        clean) set -- --data "$DATA" ;;
        *-unseen) [ "$proto" = private ] || continue; set -- --data "$DATA" --degradation "$k" --seed 0 ;;
        *) set -- --data "$CANON/ferplus_test_${k}_s0_64.npz" ;;
      esac
      j="$out/${proto}__${k}.json"
      [ -f "$j" ] || "$BIN/lrdif-eval" --checkpoint "$FINAL" "$@" --split "$split" \
        --threads "$THREADS" --json "$j" --confusion "${j%.json}.png"
    done
  done
  # table 5 (V1 no diffusion vs V4 = stage 2 as trained, before the 3.2.0 fine-tune: same recipe) on the
  # canonical UDC-P and UDC-T sets, fig. 6 (steps curve)
  [ -f "$out/ablation.json" ] || "$BIN/lrdif-eval" --checkpoint "$ckpt" --split test \
    --data "$CANON/ferplus_test_udc-poled_s0_64.npz" --threads "$THREADS" \
    --ablation V1=$ABL/stage2/last.pt V4=$ckpt --json "$out/ablation.json"
  [ -f "$out/ablation_udc-toled.json" ] || "$BIN/lrdif-eval" --checkpoint "$ckpt" --split test \
    --data "$CANON/ferplus_test_udc-toled_s0_64.npz" --threads "$THREADS" \
    --ablation V1=$ABL/stage2/last.pt V4=$ckpt --json "$out/ablation_udc-toled.json"
  [ -f "$out/steps_curve.json" ] || "$BIN/lrdif-eval" --checkpoint "$ckpt" --split test \
    --steps-curve 1,2,3,4,5,6,8 --threads "$THREADS" --json "$out/steps_curve.json"
}

package() {
  cp "$FINAL" training/weights/lrdif-mobile.pt
  { echo "make train-default   # = training/reproduce_default.sh, i.e.:"; echo "$STAGE1";
    echo "$STAGE2 --no-insert-noise --threads 1 --out $RUN/stage2";
    echo "python -m lrdif.training.calibration --checkpoint <copy of $RUN/stage2/last.pt> --prior-shift --write-checkpoint --version 3.1.0";
    echo "lrdif-train stage2 --init <that 3.1.0 copy> --epochs 7 --lr 3e-4 --ema 0.999 --amp off --dedup --soft-targets --val-size 1000 --out $FT";
    echo "python -m lrdif.training.calibration --checkpoint <copy of $FT/last.pt> --prior-shift --write-checkpoint --version 3.2.0";
    echo "python -m lrdif.training.fork --checkpoint <that 3.2.0 copy> --out $FORK/fork.pt";
    echo "python -m lrdif.training.calibration --checkpoint <copy of $FORK/fork.pt> --write-checkpoint --version 3.3.0";
    echo "python -m lrdif.training.calibration --checkpoint <copy of that 3.3.0> --prior-shift --fork-weights default --write-checkpoint --version 3.3.1"; } > "$RUN/commands.txt"
  "$BIN/python" -m lrdif.training.model_card --checkpoint training/weights/lrdif-mobile.pt \
    --evals "$RUN/eval" --commands "$RUN/commands.txt" --calibration "${FINAL%.pt}_calibration/calibration.json" \
    --out training/weights/MODEL_CARD.md
  "$BIN/lrdif-export" --target tflite --checkpoint training/weights/lrdif-mobile.pt --out "$RUN/export_sdk"
  "$BIN/python" -m lrdif.export.ship "$RUN/export_sdk" --format tflite
}

case "$PHASE" in
  data) data ;; train) train ;; finetune) finetune ;; fork) fork ;; eval) evaluate ;; package) package ;;
  all) data; train; finetune; fork; evaluate; package ;;
  *) echo "usage: $0 [all|data|train|finetune|fork|eval|package]" >&2; exit 2 ;;
esac
