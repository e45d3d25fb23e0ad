#!/usr/bin/env bash
# The CUDA path, checked in one command on a GPU machine (a few minutes):
#
#   benchmarks/gpu_check.sh [PYTHON]        # PYTHON defaults to .venv/bin/python, else python3
#
# 1. what torch sees (GPU, CUDA, cuDNN, bf16);
# 2. the CUDA tests (tests/test_cuda.py) and the data/store/training tests with the GPU visible;
# 3. a short training run on the built-in corpus on the GPU, then evaluate and generate from it;
# 4. with 2+ GPUs, the same run in 2 processes (torchrun, NCCL);
# 5. the GPU benchmarks (python -m benchmarks.gpu_bench): training tokens/s fp32 / bf16 at batch
#    32 and 256, generation tokens/s at batch 1 and 32 (fast path and nn.LSTM per token).
#
# Everything it prints also goes to benchmarks/results/gpu-check-<date>.log, the benchmark
# figures to a new benchmarks/results/gpu-<time>.json: copy them into benchmarks/README.md and the
# README's "CUDA path" note (which says the path is unmeasured until this has run).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
LOG=benchmarks/results/gpu-check-$(date +%F).log
RUN=$(mktemp -d)
trap 'rm -rf "$RUN"' EXIT
export WORDGEN_CACHE="$RUN/cache" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p benchmarks/results
{
  echo "== gpu_check $(date -Is) on $(hostname); $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PY" -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA GPU"; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpus", torch.cuda.device_count(), torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())'

  echo "== tests with the GPU visible"
  "$PY" -m pytest -q -x tests/test_cuda.py tests/test_store.py tests/test_data.py tests/test_evaluate.py tests/test_model.py tests/test_fast_paths.py

  echo "== a short training run on the built-in corpus, on the GPU"
  time "$PY" -m wordgen train --corpus shakespeare --tokenizer word --device cuda --time-budget 60 --eval-interval 200 \
      --out "$RUN/gpu" --quiet
  "$PY" -m wordgen evaluate "$RUN/gpu" --split validation --device cuda
  "$PY" -m wordgen generate "$RUN/gpu" --prompt "ROMEO:" --max-tokens 40 --seed 1 --device cuda

  if [ "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
    echo "== 2 processes, NCCL"
    time "$PY" -m wordgen train --corpus shakespeare --tokenizer word --device cuda --max-steps 200 --eval-interval 100 \
        --out "$RUN/ddp" --quiet --nproc 2
  else
    echo "== one GPU: the NCCL run is left out"
  fi

  echo "== benchmarks"
  "$PY" -m benchmarks.gpu_bench --device cuda
  echo "== gpu_check done $(date -Is)"
} 2>&1 | tee "$LOG"
