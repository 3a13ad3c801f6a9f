#!/usr/bin/env bash
# What each channel-augmentation family is worth on real speech: the default recipe (`make demo` setting) trained
# once per family with that family left out, and once with no augmentation, each evaluated on the real-speech
# dev set. Leaving a family out changes nothing else: every other random draw of the corpus stays the same
# (asr/data/channel.py draws each family from the same stream whether it is used or not).
#
#   recipes/synthetic/ablate.sh REAL_DEV_MANIFEST [FAMILY ...]     (default: none room device codec level noise vtlp)
#
# Each run takes about as long as `make demo` (15-20 minutes on 2 CPU cores) and uses its own corpus folder
# (data/ablate-<name>) and run folder (exp/ablate-<name>); finished stages are reused, so it resumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
(($#)) || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
real_dev=$1
shift
families=("$@")
((${#families[@]})) || families=(none room device codec level noise vtlp)
all=(room device codec level noise vtlp)

for leave_out in "${families[@]}"; do
    if [[ $leave_out == none ]]; then
        augment=none
    else
        kept=()
        for f in "${all[@]}"; do [[ $f == "$leave_out" ]] || kept+=("$f"); done
        augment=$(IFS=,; echo "${kept[*]}")
    fi
    name=ablate-${leave_out}
    corpus=data/$name
    echo "== $name: channel families $augment"
    if [[ ! -f $corpus/corpus.json ]]; then
        hours=$(.venv/bin/asr train experiment=synthetic_small --get recipe.hours)
        engines=$(.venv/bin/asr train experiment=synthetic_small --get recipe.engines)
        .venv/bin/asr prep synthetic "$corpus" --hours "$hours" --engines "$engines" --augment "$augment"
    fi
    recipes/synthetic/run.sh --stage 1 --stop-stage 6 recipe.corpus="$corpus" run_name="$name"
    best() { .venv/bin/python -c "import json; print(json.load(open('exp/$name/tune.json'))['best_$1'])"; }
    .venv/bin/asr evaluate --model "exp/$name/averaged.pt" --manifest "$real_dev" --lm "exp/$name/lm" \
        --alpha "$(best alpha)" --beta "$(best beta)" --json "exp/$name/eval-real-dev.json" \
        --report "exp/$name/report-real-dev.txt"
done
