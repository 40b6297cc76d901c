#!/usr/bin/env bash
# Issue 20's study: baseline and IMLE shapes generators trained on a world with one rare class, with equal steps,
# one pair per seed; each judged by ganalyze-audit (inclusiveness) and ganalyze-quality, then the table of both arms.
# Resumable: a finished stage is skipped and a stopped training resumes from its checkpoint; one job at a time.
# Usage (defaults shown; session 7's study was WORLD=rare_class RARE=star IMLE_WEIGHT=1 INTERP_WEIGHT=0.25 FEATURE_RES=16):
#   STEPS=1500 SEEDS="0 1 2" WORLD=rare_square RARE=square IMLE_WEIGHT=1 INTERP_WEIGHT=0 FEATURE_RES=32 \
#     ROOT=runs/inclusive_square_w1 scripts/inclusive_generator_study.sh
# MODEL replaces the trainer's model overrides (default: recipe C, the σ-VAE with the broadcast decoder), e.g. the
# GAN arm: MODEL="loss=gan model.decoder=upsample model.width=32 model.flow_layers=0 checkpoint_every=250";
# LABEL prefixes the table's arm names (e.g. LABEL="GAN "); IMLE_EXTRA adds IMLE overrides (e.g. imle.pool_law=fitted);
# POOL_SIZE is imle.pool_size (32; session 9's code-space matches used 1024).
set -euo pipefail
export OMP_NUM_THREADS=1
STEPS=${STEPS:-1500}
SEEDS=${SEEDS:-"0 1 2"}
WORLD=${WORLD:-rare_square}
RARE=${RARE:-square}
IMLE_WEIGHT=${IMLE_WEIGHT:-1}
INTERP_WEIGHT=${INTERP_WEIGHT:-0}
FEATURE_RES=${FEATURE_RES:-32}
POOL_SIZE=${POOL_SIZE:-32}
IMLE_EXTRA=${IMLE_EXTRA:-}
ROOT=${ROOT:-runs/inclusive_square_w1}
LABEL=${LABEL:-}
MODEL=${MODEL:-"model.decoder=broadcast model.frame=true model.fourier=3 model.width=32 model.flow_layers=0 beta=0.25 fit_samples=12000 checkpoint_every=250"}
IMLE="imle.weight=$IMLE_WEIGHT imle.interpolation_weight=$INTERP_WEIGHT imle.minority.shape=$RARE imle.batch_size=8 imle.pool_size=$POOL_SIZE imle.feature_resolution=$FEATURE_RES $IMLE_EXTRA"

for seed in $SEEDS; do
  for arm in baseline imle; do
    run="$ROOT/${arm}_s${seed}"
    mkdir -p "$run"
    arm_extra=""
    if [ "$arm" = imle ]; then arm_extra="$IMLE"; fi
    if [ ! -f "$run/final/model.pt" ]; then
      # shellcheck disable=SC2086  # MODEL and arm_extra are lists of overrides
      python scripts/train_shapes_generator.py variant="$WORLD" seed="$seed" steps="$STEPS" $MODEL $arm_extra \
        checkpoint="$run/checkpoint.pt" out_dir="$run/final" resume=true progress_interval=60 >> "$run/train.log" 2>&1
    fi
    if [ ! -f "$run/audit/report.json" ]; then
      ganalyze-audit audit=inclusiveness "sources=[$WORLD]" generator.folder="$run/final" out_dir="$run/audit" \
        > "$run/audit.log" 2>&1
    fi
    if [ ! -f "$run/quality/quality.json" ]; then
      ganalyze-quality --generator-dir "$run/final" --variant "$WORLD" --out-dir "$run/quality" > "$run/quality.log" 2>&1
    fi
  done
done
python scripts/compare_inclusive_generators.py --arm "${LABEL}baseline=$ROOT/baseline_s*" \
  --arm "${LABEL}IMLE=$ROOT/imle_s*" --rare "$RARE" --reference "$WORLD" --out "$ROOT/table"
