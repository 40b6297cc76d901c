#!/usr/bin/env bash
# Issue 20's study: baseline and IMLE shapes generators trained on rare_class (stars 3%) with equal steps, one
# pair per seed; each judged by ganalyze-audit (inclusiveness) and ganalyze-quality, then the table of both arms.
# Resumable: a finished stage is skipped and a stopped training resumes from its checkpoint; one job at a time.
# Usage: STEPS=1500 SEEDS="0 1 2" ROOT=runs/inclusive scripts/inclusive_generator_study.sh
set -euo pipefail
export OMP_NUM_THREADS=1
STEPS=${STEPS:-1500}
SEEDS=${SEEDS:-"0 1 2"}
ROOT=${ROOT:-runs/inclusive}
MODEL="model.decoder=broadcast model.frame=true model.fourier=3 model.width=32 model.flow_layers=0 beta=0.25 fit_samples=12000 checkpoint_every=250"
IMLE="imle.weight=1 imle.interpolation_weight=0.25 imle.minority.shape=star imle.batch_size=8 imle.pool_size=32"

for seed in $SEEDS; do
  for arm in baseline imle; do
    run="$ROOT/${arm}_s${seed}"
    mkdir -p "$run"
    extra=""
    if [ "$arm" = imle ]; then extra="$IMLE"; fi
    if [ ! -f "$run/final/model.pt" ]; then
      # shellcheck disable=SC2086  # MODEL and extra are lists of overrides
      python scripts/train_shapes_generator.py variant=rare_class seed="$seed" steps="$STEPS" $MODEL $extra \
        checkpoint="$run/checkpoint.pt" out_dir="$run/final" resume=true progress_interval=60 >> "$run/train.log" 2>&1
    fi
    if [ ! -f "$run/audit/report.json" ]; then
      ganalyze-audit audit=inclusiveness "sources=[rare_class]" generator.folder="$run/final" out_dir="$run/audit" \
        > "$run/audit.log" 2>&1
    fi
    if [ ! -f "$run/quality/quality.json" ]; then
      ganalyze-quality --generator-dir "$run/final" --variant rare_class --out-dir "$run/quality" > "$run/quality.log" 2>&1
    fi
  done
done
python scripts/compare_inclusive_generators.py --arm "baseline=$ROOT/baseline_s*" --arm "IMLE=$ROOT/imle_s*" \
  --rare star --out "$ROOT/table"
