#!/usr/bin/env bash
# The checks that need a GPU, in one run, for a session that has one (none of the development machines had):
#   recipes/librispeech/gpu_check.sh            # about 5 minutes on one recent GPU
# 1. the CUDA tests (pytest -m cuda: log-mel features on the GPU against the CPU);
# 2. bench/train.py: training throughput and MFU of `small` and `ds2` with bf16 AMP on the GPU (and the CPU rows),
#    written to bench/results/train.json; copy its CUDA rows into README.md and recipes/librispeech/README.md.
# It needs a CUDA build of torch in .venv (tools/install.sh installs one where nvidia-smi sees a GPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
nvidia-smi -L
.venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'this torch does not see a GPU'; \
print(torch.__version__, torch.cuda.get_device_name(0))"
.venv/bin/python -m pytest -q -m cuda
.venv/bin/python bench/train.py --hours 0.15 --steps 40
