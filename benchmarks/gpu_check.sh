#!/usr/bin/env bash
# The GPU check for a machine with an NVIDIA GPU and driver (issue 8), in under 8 minutes:
#   1. installs onnxjit with its test extras and onnxruntime-gpu (replacing the CPU wheel);
#   2. runs the GPU tests: CUDA/PTX builds with ptxas budgets, and every family's models on the GPU
#      through TVM's CUDA runtime vs onnxruntime (rel_err <= 1e-4);
#   3. times each op family's benchmark model against onnxruntime's CUDAExecutionProvider.
# Usage (repository root):  bash benchmarks/gpu_check.sh [results_dir]   (default gpu_results/)
# Writes results_dir/{env.txt,tests.txt,bench.txt,bench.json}.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_results}
mkdir -p "$OUT"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

pip install -q -e ".[test]"
pip uninstall -q -y onnxruntime || true          # the CPU and GPU wheels share the module name
pip install -q "onnxruntime-gpu>=1.20" "nvidia-cudnn-cu12>=9,<10" "nvidia-cublas-cu12>=12,<13" \
  "nvidia-cuda-runtime-cu12>=12,<13" "nvidia-cufft-cu12>=11,<12" "nvidia-curand-cu12>=10,<11"
# TVM compiles the CUDA source when the kernels load: with nvcc where there is one, else NVRTC.
if command -v nvcc >/dev/null; then
  export TVM_CUDA_COMPILE_MODE=nvcc
else
  pip install -q "cuda-bindings>=12" "nvidia-cuda-nvrtc>=12"
fi

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  nvcc --version 2>&1 | tail -1
  python -c "import onnxruntime as o, tvm; print('onnxruntime', o.__version__, o.get_available_providers()); print('tvm', tvm.__version__, 'cuda', tvm.cuda(0).exist)"
  git log --oneline -1
} | tee "$OUT/env.txt"

timeout 240 python -m pytest -q --run-slow -p no:cacheprovider tests/targets/test_gpu_cuda.py \
  2>&1 | tee "$OUT/tests.txt" | tail -5

timeout 300 python -m benchmarks.gpu_bench --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.txt"
echo "results in $OUT/"
