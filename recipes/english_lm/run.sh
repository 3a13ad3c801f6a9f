#!/usr/bin/env bash
# The general English language model: text from installed packages, a pruned, quantised 4-gram KenLM.
#
#   recipes/english_lm/run.sh [--stage N] [--stop-stage M] [--out DIR]
#
# Stages (a finished stage is skipped when its output exists; delete it to redo):
#   0  English text       asr prep lm-text   (7 sources, normalised; writes data/lm-text/)
#   1  the LM             asr lm build       (4-gram, prune 0 0 1 1, trie, 8-bit; vocabulary = words counted twice,
#                                             a word-list entry counting once: US and UK word lists, CMUdict)
#   2  measure            bench/lm_vocabulary.py (size, load and lexicon time, speed, OOV and WER against models/lm)
#
# Needs the packages of tools/apt-packages.txt (`make install`) and about 2 minutes on 2 cores. Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=2
out=exp/general-lm
while (($#)); do
    case $1 in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
asr=.venv/bin/asr
text=data/lm-text/english.txt
step() { (( stage <= $1 && $1 <= stop_stage )); }
say() { echo "== stage $1: $2  ($(date +%H:%M:%S))"; }

if step 0; then
    if [[ -f $text && -f data/lm-text/cmudict-words.txt ]]; then
        say 0 "English text: $text exists, kept"
    else
        say 0 "English text into $text"
        "$asr" prep lm-text "$text"
    fi
fi

if step 1; then
    if [[ -f $out/lm.json ]]; then
        say 1 "LM: $out exists, kept"
    else
        say 1 "4-gram LM into $out"
        "$asr" lm build --text "$text" --out "$out" --order 4 --prune 0 0 1 1 --binary-type trie --quantize 8 \
            --word-list /usr/share/dict/american-english-large /usr/share/dict/british-english-large \
                        data/lm-text/cmudict-words.txt \
            --min-count 2
    fi
fi

if step 2; then
    say 2 "measure against models/lm"
    .venv/bin/python bench/lm_vocabulary.py --lm models/lm "$out"
fi
