#!/usr/bin/env bash
# What the recurrent cell, its direction and gradient clipping are worth on this task: the default recipe's model
# (`make demo` setting, the same corpus and LM) trained once per variant, each evaluated on the recipe's test split
# (its LM, weights tuned on dev) and, when given, the real-speech dev set (the general English LM, alpha 0.5, beta 0,
# as every real-dev figure in RESULTS.md). Then prints the table (recipes/synthetic/variants.py).
#
#   recipes/synthetic/variants.sh [REAL_DEV_MANIFEST] [VARIANT ...]
#
# Variants: lstm (the default: bidirectional LSTM, clipped at global norm 5), gru, rnn (plain tanh RNN),
# lstm-uni (unidirectional LSTM), rnn-noclip (plain RNN, no gradient clipping). Each trains in its own run folder
# (exp/variant-<name>) from the corpus stage 0 of the recipe made (recipe.corpus); finished stages are reused.
# About 15 minutes a variant on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
real_dev=${1:-}
(($#)) && shift
variants=("$@")
((${#variants[@]})) || variants=(lstm gru rnn lstm-uni rnn-noclip)

for variant in "${variants[@]}"; do
    case $variant in
        lstm) settings=() ;;
        gru) settings=(model.cell=gru) ;;
        rnn) settings=(model.cell=rnn) ;;
        lstm-uni) settings=(model.bidirectional=false) ;;
        rnn-noclip) settings=(model.cell=rnn train.grad_clip=0) ;;
        *) echo "variants.sh: unknown variant $variant" >&2; exit 2 ;;
    esac
    name=variant-$variant
    echo "== $name: ${settings[*]:-defaults}"
    recipes/synthetic/run.sh --stage 1 --stop-stage 6 run_name="$name" "${settings[@]}"
    if [[ -n $real_dev && ! -f exp/$name/eval-real-dev.json ]]; then
        # As every real-dev figure in RESULTS.md: the general English LM, alpha 0.5, beta 0, for every model.
        .venv/bin/asr evaluate --model "exp/$name/averaged.pt" --manifest "$real_dev" --lm models/english-lm \
            --alpha 0.5 --beta 0 --json "exp/$name/eval-real-dev.json" --report "exp/$name/report-real-dev.txt"
    fi
done
.venv/bin/python recipes/synthetic/variants.py "${variants[@]/#/exp/variant-}"
