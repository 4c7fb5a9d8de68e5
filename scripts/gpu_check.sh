#!/usr/bin/env bash
# GPU checks (run on a machine with a CUDA device, from the repo root): the gpu-marked tests,
# the smoke config on CUDA in each dtype and backend, and scripts/bench_gpu.py.
# Usage: scripts/gpu_check.sh OUT_DIR [NTREX_DIR]
set -uo pipefail
out="${1:-gpu-check}"; ntrex="${2:-../shared/data/ntrex128}"
mkdir -p "$out"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
export HARNESS_CACHE_DIR="${HARNESS_CACHE_DIR:-$(mktemp -d)}" PYTHONPATH="$PWD:${PYTHONPATH:-}"
py="${PYTHON:-python3}"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$py" -c "import torch, transformers, ctranslate2; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| transformers', transformers.__version__, '| ctranslate2', ctranslate2.__version__, 'cuda devices', ctranslate2.get_cuda_device_count())"
} 2>&1 | tee "$out/env.txt"
"$py" -m pytest -q -p no:cacheprovider -m gpu tests/test_translators.py 2>&1 | tee "$out/pytest-gpu.txt"
"$py" scripts/make_tiny_model.py --out models/tiny-marian-en-vi > /dev/null 2>&1
for variant in hf:float32 hf:float16 hf:bfloat16 ctranslate2:float16 ctranslate2:int8_float16; do
  backend="${variant%%:*}"; precision="${variant##*:}"
  if [[ $backend == hf ]]; then key=dtype; else key=compute_type; fi
  "$py" -m harness run configs/smoke.yaml -q --set "name=gpu-$backend-$precision" \
    --set models.0.device=cuda --set "models.0.backend=$backend" --set "models.0.$key=$precision" \
    --set output_dir="$out/runs" --format csv 2>&1 | tee -a "$out/smoke.txt"
done
"$py" -m harness table "$out"/runs/gpu-* 2>&1 | tee "$out/smoke-table.md"
if [[ -d "$ntrex" ]]; then
  "$py" scripts/bench_gpu.py --data "$ntrex" --work-dir /tmp/bench-gpu 2>&1 | tee "$out/bench-gpu.md"
fi
