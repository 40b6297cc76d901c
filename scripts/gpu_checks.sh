#!/usr/bin/env bash
# The GPU checks of a session lent a device machine, in one call (issue 22: test_cuda, the benchmark with its
# roofline, the main job on CUDA). Two steps, because the device image has torch but not our pure-Python deps:
#   scripts/gpu_checks.sh prepare      # here: copy hydra, omegaconf, antlr4, pytorch_pretrained_biggan... into .devsite/
#   scripts/gpu_checks.sh run          # there (device tool, carry [".devsite"]): results under $OUT
set -u
case "${1:-}" in
prepare)
    site=$(python -c "import omegaconf, pathlib; print(pathlib.Path(omegaconf.__file__).parents[1])")
    rm -rf .devsite && mkdir -p .devsite
    for package in antlr4 hydra omegaconf pytorch_pretrained_biggan boto3 botocore jmespath s3transfer tqdm yaml; do
        cp -r "$site/$package" .devsite/
    done
    rm -rf .devsite/botocore/data  # 80 MB of AWS service models that BigGAN's loader never reads
    du -sh .devsite ;;
run)
    : "${OUT:?run on the device machine, where \$OUT is set}"
    export PYTHONPATH=$PWD/.devsite:$PWD OMP_NUM_THREADS=1
    ln -sfn ../conf ganalyze/conf  # the package is not installed there; pyproject maps ganalyze.conf to conf/
    nvidia-smi > "$OUT/nvidia_smi.txt" 2>&1
    python -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" > "$OUT/torch.txt" 2>&1
    timeout 150 python -m pytest -q -p no:cacheprovider tests/test_cuda.py > "$OUT/test_cuda.txt" 2>&1
    timeout 330 python -m ganalyze.bench --worlds biggan --devices cuda --batches 128,256 --steps 5 \
        --variant compile=true --out "$OUT/bench_cuda_roofline.json" > "$OUT/bench_cuda_roofline.txt" 2>&1
    tail -n 3 "$OUT"/*.txt ;;
*)
    echo "usage: scripts/gpu_checks.sh prepare|run (see the comment at its top)" >&2; exit 2 ;;
esac
