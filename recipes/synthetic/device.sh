#!/usr/bin/env bash
# The larger model (conf/experiment/synthetic_gpu.yaml) trained on a lent GPU machine: one NVIDIA H200 with CUDA
# torch, but no package registry and no TTS engines, reached through the session's `run` tool, which takes at most
# 64 MiB of working tree per call (about 41 MiB of it is this repository) and gives back at most 8 files of 16 MiB.
# Hence three steps, the middle one there:
#
#   recipes/synthetic/device.sh pack [CORPUS] [MIB]
#       here: CORPUS's dev split and as much of its train split as fits in MIB (default: what the 64 MiB leave
#       beside the repository and the wheels, about 17 MiB or 3 h of speech) as ~11 kb/s Ogg/Opus
#       (recipes/synthetic/device_pack.py), and wheels of the Python packages that machine lacks, into .device/
#       (kept out of git by .git/info/exclude, so it travels only when a call carries it)
#   run tool: command "bash recipes/synthetic/device.sh train [KEY=VALUE ...]", carry [".device"]
#       there: features (16 processes), training in bf16 for at most TRAIN_MINUTES (default 7), the best epochs
#       averaged; the averaged model comes back in 15 MiB parts with the run's metrics, config and log
#   recipes/synthetic/device.sh unpack FILES_AT [CORPUS] [RUN_NAME]
#       here: the parts joined into exp/RUN_NAME/averaged.pt (default run name synthetic_gpu), then run.sh stages
#       2 and 5-9 (LM, tuning on dev, evaluation on the test split that never travelled, the package) here
#
# Rehearse the whole path on a CPU first, in an environment holding only what that machine has (torch, numpy, tqdm,
# tensorboard, matplotlib, sentencepiece, pyyaml): TEST=1 trains a tiny model for one epoch with AMP off, and
# DEVICE_PYTHON names the rehearsal Python's version for the wheels:
#   DEVICE_PYTHON=3.11 recipes/synthetic/device.sh pack data/synthetic 1
#   TEST=1 PYTHON=/tmp/bare-venv/bin/python OUT=/tmp/out recipes/synthetic/device.sh train
set -euo pipefail
cd "$(dirname "$0")/../.."
command=${1:-}
(($#)) && shift

# What the machine's Python (3.12) lacks of what training imports, at the versions this project installs.
WHEELS=(hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3 num2words==0.5.14 docopt==0.6.2
        rapidfuzz==3.14.6 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0)

pack() {
    local corpus=${1:-data/synthetic} mib=${2:-} python_version=${DEVICE_PYTHON:-3.12}
    grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
    rm -rf .device
    mkdir -p .device/whl
    # Binary wheels for the machine's CPython 3.12; the two packages published only as sources (antlr4's runtime,
    # docopt) are pure Python and built into wheels here.
    local platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
                     --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
    for spec in "${WHEELS[@]}"; do
        if [[ $spec == antlr4-python3-runtime* || $spec == docopt* ]]; then
            .venv/bin/python -m pip wheel -q --no-deps -w .device/whl "$spec"
        else
            .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version "$python_version" \
                --implementation cp "${platforms[@]}" -d .device/whl "$spec"
        fi
    done
    if [[ -z $mib ]]; then  # what is left of the 64 MiB a call carries, with 2 MiB to spare
        local tracked wheels
        tracked=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {print s}')
        wheels=$(du -sb .device/whl | cut -f1)
        mib=$(( (64 * 1048576 - tracked - wheels) / 1048576 - 2 ))
    fi
    .venv/bin/python recipes/synthetic/device_pack.py "$corpus" .device/corpus --mib "$mib"
    du -sh .device/corpus .device/whl
    echo "device.sh: now call the run tool with carry [\".device\"] and command" \
         "\"bash recipes/synthetic/device.sh train\" (timeout_s 600)"
}

train() {
    : "${OUT:?OUT (the folder whose files come back) is not set}"
    local python=${PYTHON:-python3} run=/tmp/device-run store=/tmp/device-features minutes=${TRAIN_MINUTES:-7}
    local settings=(experiment=synthetic_gpu run_dir=$run data.train_manifest=.device/corpus/train.jsonl
                    data.dev_manifest=.device/corpus/dev.jsonl data.store=$store log.wandb=off log.progress_bar=false
                    train.stop_after_minutes=$minutes)
    if [[ ${TEST:-0} == 1 ]]; then  # the CPU rehearsal: a tiny model, one short epoch
        python=${PYTHON:-.venv/bin/python}
        settings+=(model.hidden_size=64 model.num_layers=1 train.amp=off train.num_workers=0 train.epochs=1
                   train.max_frames=4000)
        minutes=2
    fi
    exec > >(tee "$OUT/device.log") 2>&1
    if [[ -d .device/whl ]] && ! "$python" -c 'import hydra, soundfile, soxr, rapidfuzz, num2words' 2>/dev/null; then
        "$python" -m pip install -q --no-index --no-deps --no-compile --target /tmp/device-site .device/whl/*.whl
        export PYTHONPATH=/tmp/device-site${PYTHONPATH:+:$PYTHONPATH}
    fi
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "device.sh: no GPU here"
    local start=$SECONDS
    "$python" -m asr.cli features .device/corpus/train.jsonl .device/corpus/dev.jsonl --out "$store" \
        --workers "$(nproc)"
    echo "device.sh: features in $((SECONDS - start)) s"
    "$python" -m asr.train "${settings[@]}" "$@"
    "$python" -m asr.cli average "$run" --best 5 --out "$run/averaged.pt"
    split -b 15M -d "$run/averaged.pt" "$OUT/averaged.pt.part-"
    cp "$run/metrics.jsonl" "$run/config.yaml" "$OUT/"
    echo "device.sh: done in $((SECONDS - start)) s; $(ls "$OUT" | tr '\n' ' ')"
}

unpack() {
    local from=${1:?usage: device.sh unpack FILES_AT [CORPUS] [RUN_NAME]} corpus=${2:-data/synthetic}
    local name=${3:-synthetic_gpu}
    local exp=exp/$name
    mkdir -p "$exp"
    cat "$from"/averaged.pt.part-* >"$exp/averaged.pt.tmp" && mv "$exp/averaged.pt.tmp" "$exp/averaged.pt"
    cp "$from/metrics.jsonl" "$from/config.yaml" "$from/device.log" "$exp/" 2>/dev/null || true
    # The LM, tuning, evaluation and package from the corpus's own splits (test never travelled).
    local settings=(experiment=synthetic_gpu run_name="$name" recipe.corpus="$corpus")
    recipes/synthetic/run.sh --stage 2 --stop-stage 2 "${settings[@]}"
    recipes/synthetic/run.sh --stage 5 --stop-stage 9 "${settings[@]}"
}

case $command in
    pack) pack "$@" ;;
    train) train "$@" ;;
    unpack) unpack "$@" ;;
    *) echo "usage: device.sh pack [CORPUS] [MIB] | train [KEY=VALUE ...] | unpack FILES_AT [CORPUS] [RUN_NAME]" >&2
       exit 2 ;;
esac
