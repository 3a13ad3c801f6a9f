#!/bin/bash
# Stage 6 of the LibriSpeech recipe on two machines of eight GPUs each:
#   sbatch recipes/librispeech/slurm_train.sh [HYDRA_OVERRIDE ...]
# Run stages 0-5 first (recipes/librispeech/run.sh --stop-stage 5; stage 3 may be a job array:
# slurm_features.sh), with the checkout, data/ and exp/ on a filesystem every node mounts. One torchrun per node;
# they meet at the first node's c10d rendezvous. A failed worker restarts all of them from the last checkpoint
# (--max-restarts); a resubmitted or requeued job continues the run the same way. Then run stages 7-11 anywhere:
#   recipes/librispeech/run.sh --stage 7
#SBATCH --job-name=asr-ds2
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=32
#SBATCH --time=48:00:00
#SBATCH --requeue
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)
srun .venv/bin/torchrun --nnodes "$SLURM_NNODES" --nproc_per_node 8 --rdzv-backend c10d \
    --rdzv-endpoint "$head:29500" --rdzv-id "$SLURM_JOB_ID" --max-restarts 3 \
    -m asr.train experiment=librispeech_ds2 train.amp=bf16 train.checkpoint_every_steps=1000 "$@"
