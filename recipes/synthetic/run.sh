#!/usr/bin/env bash
# The default recipe: generated English speech, end to end on CPU.
#
#   recipes/synthetic/run.sh [--stage N] [--stop-stage M] [KEY=VALUE ...]
#
# Stages (each skips or resumes work that is already done, so a second run is quick):
#   0  generate the corpus            asr prep synthetic   (train / dev / test; test voices and sentences unseen)
#   1  features                       asr features         (log-mel store + CMVN; or a pretrained encoder's states)
#   2  language model                 asr lm build         (train-side sentences only)
#   3  train the acoustic model       asr train            (resumes from the last checkpoint)
#   4  average the best checkpoints   asr average
#   5  tune alpha/beta on dev         asr tune
#   6  evaluate dev and test          asr evaluate         (greedy, and beam search + LM with the tuned weights)
#   7  package model + LM             asr export           (one model file naming its LM and tuned weights)
#   8  transcribe the sample file     asr transcribe
#   9  print the results table
#
# Settings live in conf/experiment/synthetic_small.yaml. KEY=VALUE arguments are Hydra overrides of it, e.g.
#   recipes/synthetic/run.sh recipe.hours=1 train.epochs=1 run_name=quick
#   recipes/synthetic/run.sh experiment=synthetic_gpu          # the larger setting, for a machine with a GPU
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=9
overrides=()
while (($#)); do
    case $1 in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *=*) overrides+=("$1"); shift ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if ! printf '%s\n' "${overrides[@]}" | grep -q '^experiment='; then
    overrides=("experiment=synthetic_small" "${overrides[@]}")
fi

asr=.venv/bin/asr
# Every setting in one call (composing the configuration costs a second).
keys=(recipe.corpus run_dir recipe.package_name recipe.hours recipe.seed recipe.lm_order recipe.average_best
      recipe.alphas recipe.betas recipe.beam_width data.store recipe.engines features.encoder)
mapfile -t values < <("$asr" train "${overrides[@]}" --get "${keys[@]}")
((${#values[@]} == ${#keys[@]})) || { echo "run.sh: could not read the configuration" >&2; exit 1; }
declare -A setting
for i in "${!keys[@]}"; do setting[${keys[i]}]=${values[i]}; done
get() { echo "${setting[$1]}"; }
corpus=$(get recipe.corpus)
exp=$(get run_dir)
package=$exp/package/$(get recipe.package_name).pt
sample=models/sample.wav
step() { (( stage <= $1 && $1 <= stop_stage )); }
say() { echo "== stage $1: $2  ($(date +%H:%M:%S))"; }
mkdir -p "$exp"
start=$(date +%s)

if step 0; then
    say 0 "generate $(get recipe.hours) h of speech into $corpus"
    "$asr" prep synthetic "$corpus" --hours "$(get recipe.hours)" --seed "$(get recipe.seed)" \
        --engines "$(get recipe.engines)"
fi

if step 1; then
    say 1 "features into $(get data.store)"
    if [[ -f $(get data.store)/store.json ]]; then
        echo "features: $(get data.store) is complete"
    else
        encoder=$(get features.encoder)  # empty: log-mels; else a pretrained encoder's states (asr.pretrained)
        "$asr" features "$corpus/train.jsonl" "$corpus/dev.jsonl" "$corpus/test.jsonl" --out "$(get data.store)" \
            ${encoder:+--encoder "$encoder"}
    fi
fi

if step 2; then
    say 2 "$(get recipe.lm_order)-gram LM from the train-side text"
    "$asr" lm build --text "$corpus/lm_text.txt" --order "$(get recipe.lm_order)" --out "$exp/lm"
fi

if step 3; then
    say 3 "train (run folder $exp)"
    "$asr" train "${overrides[@]}"
fi

if step 4; then
    say 4 "average the $(get recipe.average_best) best checkpoints"
    "$asr" average "$exp" --best "$(get recipe.average_best)" --out "$exp/averaged.pt"
fi

if step 5; then
    say 5 "tune alpha and beta on dev"
    # shellcheck disable=SC2046  # the grids are space-separated lists on purpose
    "$asr" tune --model "$exp/averaged.pt" --manifest "$corpus/dev.jsonl" --lm "$exp/lm" \
        --alphas $(get recipe.alphas) --betas $(get recipe.betas) --beam-width "$(get recipe.beam_width)" \
        --plot "$exp/tune.png" --json "$exp/tune.json"
fi

best() { .venv/bin/python -c "import json; print(json.load(open('$exp/tune.json'))['best_$1'])"; }

if step 6; then
    say 6 "evaluate dev and test"
    for split in dev test; do
        "$asr" evaluate --model "$exp/averaged.pt" --manifest "$corpus/$split.jsonl" --lm "$exp/lm" \
            --alpha "$(best alpha)" --beta "$(best beta)" --beam-width "$(get recipe.beam_width)" \
            --report "$exp/report-$split.txt" --json "$exp/eval-$split.json"
    done
fi

if step 7; then
    say 7 "package the model and its LM into $(dirname "$package")"
    mkdir -p "$exp/package/lm"
    cp "$exp/lm/lm.bin" "$exp/lm/words.txt" "$exp/lm/lm.json" "$exp/package/lm/"
    measured=$(.venv/bin/python recipes/synthetic/results.py --provenance "$exp")
    # shellcheck disable=SC2086  # one KEY=VALUE word per line
    "$asr" export --model "$exp/averaged.pt" --out "$package" --fp16 --lm "$exp/package/lm" \
        --alpha "$(best alpha)" --beta "$(best beta)" --beam-width "$(get recipe.beam_width)" \
        --provenance recipe=recipes/synthetic $measured
fi

if step 8; then
    say 8 "transcribe $sample"
    "$asr" transcribe "$package" "$sample" | tee "$exp/sample.txt"
fi

if step 9; then
    say 9 "results"
    .venv/bin/python recipes/synthetic/results.py "$exp" "$package"
    echo "recipe: stages $stage-$stop_stage took $(( ($(date +%s) - start) / 60 )) min; everything is in $exp"
fi
