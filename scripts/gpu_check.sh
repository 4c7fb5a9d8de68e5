#!/usr/bin/env bash
# GPU checks in one call (about 6-8 minutes on one H200), from the repo root, no network:
#   1. the gpu-marked tests (half precision, ctranslate2, device_map: auto, 8bit/4bit);
#   2. why bf16 was slower than fp32 at opus-mt size: scripts/profile_half.py (dtype x
#      attention implementation, one forward pass alone, torch.profiler summaries);
#   3. the multi-process path on the GPU: torchrun with 2 processes on cuda:LOCAL_RANK against
#      1 process, and two "nodes" (own caches) with device_map: auto, same hypotheses;
#   4. seg/s of a ~330 M-parameter causal LLM (random weights) with HF generate: bf16,
#      device_map: auto, fp16, 8bit, 4bit: scripts/bench_llm.py;
#   5. the smoke config on CUDA in each dtype and backend, and scripts/bench_gpu.py when
#      NTREX is there (../shared does not travel to the lent machine).
# Wheels the image lacks travel in .whl/ (scripts/gpu_wheels.sh, run beforehand where pip
# works); they are installed with --no-index into /tmp/site. At most 8 files come back: all
# results go to OUT_DIR as the files below, run folders and caches to /tmp.
# Usage: scripts/gpu_check.sh OUT_DIR [NTREX_DIR]
set -uo pipefail
out="${1:-gpu-check}"; ntrex="${2:-../shared/data/ntrex128}"
mkdir -p "$out"
work="$(mktemp -d)"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=4
export HARNESS_CACHE_DIR="$work/cache" PYTHONPATH="$PWD:${PYTHONPATH:-}"
py="${PYTHON:-python3}"
if compgen -G ".whl/*.whl" > /dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
step() { echo "== $(date +%T) $*" | tee -a "$out/log.txt"; }

step env
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$py" - <<'PY'
import importlib.metadata as m, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())
for name in ("transformers", "accelerate", "bitsandbytes", "pydantic", "ctranslate2", "tokenizers"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "absent")
PY
} > "$out/env.txt" 2>&1

step "gpu tests"
timeout 150 "$py" -m pytest -q -p no:cacheprovider -m gpu -rs \
  tests/test_translators.py tests/test_placement.py > "$out/pytest-gpu.txt" 2>&1

step "profile half precision"
timeout 150 "$py" scripts/profile_half.py --work-dir "$work/profile" > "$out/profile.txt" 2>&1

step "multi-process"
timeout 120 bash scripts/gpu_multiproc.sh "$work/mp" > "$out/multiproc.txt" 2>&1

step "llm"
timeout 120 "$py" scripts/bench_llm.py --work-dir "$work/llm" > "$out/llm.txt" 2>&1

step "smoke"
"$py" scripts/make_tiny_model.py --out "$work/models/tiny-marian-en-vi" > /dev/null 2>&1
{
  for variant in hf:float32 hf:bfloat16 ctranslate2:float16; do
    backend="${variant%%:*}"; precision="${variant##*:}"
    if [[ $backend == hf ]]; then key=dtype; else key=compute_type; fi
    timeout 60 "$py" -m harness run configs/smoke.yaml -q --set "name=gpu-$backend-$precision" \
      --set "models.0.model=$work/models/tiny-marian-en-vi" --set models.0.device=cuda \
      --set "models.0.backend=$backend" --set "models.0.$key=$precision" \
      --set output_dir="$work/runs" --format csv
  done
  "$py" -m harness table "$work"/runs/gpu-*
  if [[ -d "$ntrex" ]]; then
    timeout 120 "$py" scripts/bench_gpu.py --data "$ntrex" --work-dir "$work/bench-gpu"
  fi
} > "$out/smoke.txt" 2>&1
step done
