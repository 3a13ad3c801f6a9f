#!/bin/bash
# Stage 3 of the LibriSpeech recipe (features) as a SLURM job array:
#   sbatch recipes/librispeech/slurm_features.sh [HYDRA_OVERRIDE ...]
# Every task extracts its contiguous slice of the feature store's shard files (asr features --shard auto reads
# SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT) into the same store folder on the shared filesystem; the task
# that finds every shard finished writes the index, CMVN statistics and store.json, the same bytes one process
# would write. A failed task is simply resubmitted; finished shards are kept. If the filesystem caches metadata
# (NFS), run `recipes/librispeech/run.sh --stage 3 --stop-stage 3` once after the array: it only merges.
#SBATCH --job-name=asr-features
#SBATCH --array=0-31
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
recipes/librispeech/run.sh --stage 3 --stop-stage 3 --shard auto "$@"
