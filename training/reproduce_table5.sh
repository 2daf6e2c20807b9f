#!/usr/bin/env bash
# Table 5 (diffusion vs no diffusion) on more seeds, at a reduced stage-2 length that fits a
# 2-core CPU (`make table5`). Per seed: one stage-1 teacher (the shipped recipe: mobile, 1 epoch),
# then two stage-2 students from it with the same recipe except the ablation flag:
#   V4 (shipped): diffusion, chain started from Z_T = 0 (--no-insert-noise)
#   V1          : PNET_S2 straight to Z (--no-diffusion)
# each for EPOCHS stage-2 epochs (shipped: 20; default here 3), then `lrdif-eval --ablation` on the
# canonical UDC-P and UDC-T PrivateTest sets (each row: all rows and the FER+ majority protocol),
# and the mean / spread over seeds by
# `python -m lrdif.training.table5`. Each step is skipped when its output exists.
# Env: SEEDS ("1 2"), EPOCHS (3), OUT (runs/table5), CANON (runs/canonical), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-runs/table5}
CANON=${CANON:-runs/canonical}
SEEDS=${SEEDS:-1 2}
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-2}
COMMON="--batch-size 64 --lr 1e-3 --ema 0.999 --dedup --soft-targets --val-size 1000 --no-progress"

CANON=$CANON THREADS=$THREADS bash training/reproduce_default.sh data
for s in $SEEDS; do
  d=$OUT/seed$s
  [ -f "$d/stage1/last.pt" ] || "$BIN/lrdif-train" stage1 --preset mobile --epochs 1 $COMMON \
    --seed "$s" --threads "$THREADS" --out "$d/stage1"
  S2="$BIN/lrdif-train stage2 --epochs $EPOCHS --amp bf16 $COMMON --seed $s --teacher $d/stage1/train_state.pt"
  # one thread each, side by side (as reproduce_default.sh)
  [ -f "$d/v4/last.pt" ] || $S2 --no-insert-noise --threads 1 --out "$d/v4" &
  [ -f "$d/v1/last.pt" ] || $S2 --no-diffusion --threads 1 --out "$d/v1" &
  wait
  for k in udc-poled udc-toled; do       # each ablation row holds both protocols
    j=$d/ablation_$k.json
    [ -f "$j" ] || "$BIN/lrdif-eval" --checkpoint "$d/v4/last.pt" --split test \
      --data "$CANON/ferplus_test_${k}_s0_64.npz" --threads "$THREADS" \
      --ablation V1="$d/v1/last.pt" V4="$d/v4/last.pt" --json "$j"
  done
done
"$BIN/python" -m lrdif.training.table5 "$OUT" --json "$OUT/table5.json"
