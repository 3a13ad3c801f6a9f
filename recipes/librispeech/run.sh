#!/usr/bin/env bash
# LibriSpeech with the ds2 model (5 x BiLSTM 1024, CTC), end to end.
#
#   recipes/librispeech/run.sh [--stage N] [--stop-stage M] [--download] [--shard I/N|auto] [KEY=VALUE ...]
#
# Stages (each skips or resumes work that is already done, so a second run is quick):
#   0  download the subsets           asr prep librispeech --download   (only with --download; resumable, MD5-checked)
#   1  manifests of every subset      asr prep librispeech               (each subset present under recipe.root)
#   2  speed perturbation             asr prep speed-perturb             (recipe.speed_factors, of every train-* subset)
#   3  features                       asr features                       (--shard I/N: one slice, for job arrays)
#   4  language model                 asr lm build                       (official ARPA or LM text if present, else
#                                                                         the training transcripts)
#   5  tokenizer                      asr prep tokenizer                 (recipe.tokenizer: char or bpe)
#   6  train ds2                      torchrun -m asr.train              (recipe.nproc_per_node processes; resumes)
#   7  average the best checkpoints   asr average
#   8  tune alpha/beta/unk_score      asr tune                           (dev-clean + dev-other)
#   9  evaluate                       asr evaluate                       (greedy and beam + LM: dev and test sets)
#  10  package model + LM             asr export
#  11  print the results table
#
# Settings live in conf/experiment/librispeech_ds2.yaml; KEY=VALUE arguments are Hydra overrides of it, e.g.
#   recipes/librispeech/run.sh --download recipe.nproc_per_node=8          # one machine, eight GPUs
#   recipes/librispeech/run.sh --stage 3 --stop-stage 3 --shard auto       # one task of a SLURM array
# Several machines: recipes/librispeech/slurm_train.sh; see recipes/librispeech/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=11
download=false
shard=
overrides=()
while (($#)); do
    case $1 in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        --download) download=true; shift ;;
        --shard) shard=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *=*) overrides+=("$1"); shift ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if ! printf '%s\n' "${overrides[@]}" | grep -q '^experiment='; then
    overrides=("experiment=librispeech_ds2" "${overrides[@]}")
fi

asr=.venv/bin/asr
# Every setting in one call (composing the configuration costs a second).
keys=(run_dir data.store data.train_manifest data.tokenizer data.bpe_vocab_size recipe.root recipe.download
      recipe.data recipe.speed_factors recipe.lm_dir recipe.lm_arpa recipe.lm_text recipe.lm_order recipe.lm_prune
      recipe.lm_vocab_size recipe.tokenizer recipe.nproc_per_node recipe.average_best recipe.alphas recipe.betas
      recipe.unk_scores recipe.beam_width recipe.package_name)
mapfile -t values < <("$asr" train "${overrides[@]}" --get "${keys[@]}")
((${#values[@]} == ${#keys[@]})) || { echo "run.sh: could not read the configuration" >&2; exit 1; }
declare -A setting
for i in "${!keys[@]}"; do setting[${keys[i]}]=${values[i]}; done
get() { echo "${setting[$1]}"; }
exp=$(get run_dir)
data=$(get recipe.data)
root=$(get recipe.root)
store=$(get data.store)
package=$exp/package/$(get recipe.package_name).pt
step() { (( stage <= $1 && $1 <= stop_stage )); }
say() { echo "== stage $1: $2  ($(date +%H:%M:%S))"; }
# The subsets with a folder under the root (or its LibriSpeech/), and those with a manifest, in the official order.
all_subsets=(train-clean-100 train-clean-360 train-other-500 dev-clean dev-other test-clean test-other)
on_disk() { [[ -d $root/$1 || -d $root/LibriSpeech/$1 ]]; }
# The manifests of those of the given subsets that are prepared.
manifests() { for s in "$@"; do [[ -f $data/$s.jsonl ]] && echo "$data/$s.jsonl"; done; return 0; }
# concat OUT FILES...: OUT is rewritten only when its contents change (later stages go by its age).
concat() {
    local out=$1; shift
    cat "$@" > "$out.tmp"
    if cmp -s "$out.tmp" "$out"; then rm "$out.tmp"; else mv "$out.tmp" "$out"; fi
}
mkdir -p "$exp" "$data"
start=$(date +%s)

if step 0; then
    if $download; then
        say 0 "download $(get recipe.download) into $root"
        # shellcheck disable=SC2046  # the subsets are a space-separated list on purpose
        "$asr" prep librispeech "$root" "$data" --download $(get recipe.download) --download-only
    else
        say 0 "download: skipped (give --download to fetch the subsets from openslr.org)"
    fi
fi

if step 1; then
    say 1 "manifests of the subsets under $root"
    todo=()
    for s in "${all_subsets[@]}"; do
        if on_disk "$s" && [[ ! -f $data/$s.jsonl ]]; then todo+=("$s"); fi
    done
    if ((${#todo[@]})); then
        "$asr" prep librispeech "$root" "$data" --subsets "${todo[@]}"
    else
        echo "manifests: every subset under $root has its manifest in $data; stage 1 is complete"
    fi
fi

if step 2; then
    say 2 "speed perturbation ($(get recipe.speed_factors)) of the training subsets"
    mapfile -t train_parts < <(manifests train-clean-100 train-clean-360 train-other-500)
    mapfile -t dev_parts < <(manifests dev-clean dev-other)
    ((${#train_parts[@]} && ${#dev_parts[@]})) || { echo "run.sh: no train-* or dev-* manifest in $data" >&2; exit 1; }
    concat "$data/train.jsonl" "${train_parts[@]}"
    concat "$data/dev.jsonl" "${dev_parts[@]}"   # the tuning set
    sp=$(get data.train_manifest)
    if [[ -f $sp && $sp -nt $data/train.jsonl ]]; then
        echo "speed perturbation: $sp is complete"
    else
        # shellcheck disable=SC2046
        "$asr" prep speed-perturb "$data/train.jsonl" --factors 1.0 $(get recipe.speed_factors) --out "$(dirname "$sp")"
    fi
fi

if step 3; then
    say 3 "features into $store${shard:+ (shard $shard)}"
    if [[ -f $store/store.json ]]; then
        echo "features: $store is complete"
    else
        mapfile -t others < <(manifests dev-clean dev-other test-clean test-other)
        "$asr" features "$(get data.train_manifest)" "${others[@]}" --out "$store" --shard "${shard:-0/1}" \
            --workers "$(nproc)"   # the cores this job may use (a SLURM task's allocation, not the node's)
    fi
fi

if step 4; then
    lm_dir=$(get recipe.lm_dir)
    if [[ -f $exp/lm/lm.json ]]; then
        say 4 "language model: $exp/lm is complete"
    elif [[ -f $lm_dir/$(get recipe.lm_arpa) ]]; then
        say 4 "language model: the official $lm_dir/$(get recipe.lm_arpa)"
        "$asr" lm build --arpa "$lm_dir/$(get recipe.lm_arpa)" --out "$exp/lm"
    else
        text=$data/train.jsonl
        [[ -f $lm_dir/$(get recipe.lm_text) ]] && text=$lm_dir/$(get recipe.lm_text)
        say 4 "$(get recipe.lm_order)-gram language model from $text"
        # shellcheck disable=SC2046
        "$asr" lm build --text "$text" --order "$(get recipe.lm_order)" --prune $(get recipe.lm_prune) \
            --vocab-size "$(get recipe.lm_vocab_size)" --out "$exp/lm"
    fi
fi

if step 5; then
    say 5 "$(get recipe.tokenizer) tokenizer into $(get data.tokenizer)"
    if [[ -f $(get data.tokenizer) ]]; then
        echo "tokenizer: $(get data.tokenizer) is complete"
    else
        "$asr" prep tokenizer "$data/train.jsonl" --kind "$(get recipe.tokenizer)" \
            --vocab-size "$(get data.bpe_vocab_size)" --out "$(get data.tokenizer)"
    fi
fi

if step 6; then
    say 6 "train on $(get recipe.nproc_per_node) process(es) (run folder $exp)"
    .venv/bin/torchrun --standalone --nproc_per_node "$(get recipe.nproc_per_node)" -m asr.train "${overrides[@]}"
fi

if step 7; then
    say 7 "average the $(get recipe.average_best) best checkpoints"
    "$asr" average "$exp" --best "$(get recipe.average_best)" --out "$exp/averaged.pt"
fi

if step 8; then
    say 8 "tune alpha, beta and the unknown-word score on dev-clean + dev-other"
    # shellcheck disable=SC2046  # the grids are space-separated lists on purpose
    "$asr" tune --model "$exp/averaged.pt" --manifest "$data/dev.jsonl" --lm "$exp/lm" \
        --alphas $(get recipe.alphas) --betas $(get recipe.betas) --unk-scores $(get recipe.unk_scores) \
        --beam-width "$(get recipe.beam_width)" --cache-dir "$exp/logprobs" --plot "$exp/tune.png" \
        --json "$exp/tune.json"
fi

best() { .venv/bin/python -c "import json; print(json.load(open('$exp/tune.json'))['best_$1'])"; }

if step 9; then
    say 9 "evaluate greedy and with the LM"
    for manifest in $(manifests dev-clean dev-other test-clean test-other); do
        s=$(basename "$manifest" .jsonl)
        "$asr" evaluate --model "$exp/averaged.pt" --manifest "$manifest" --lm "$exp/lm" \
            --alpha "$(best alpha)" --beta "$(best beta)" --unk-score "$(best unk_score)" \
            --beam-width "$(get recipe.beam_width)" --cache-dir "$exp/logprobs" \
            --report "$exp/report-$s.txt" --json "$exp/eval-$s.json"
    done
fi

if step 10; then
    say 10 "package the model and its LM into $(dirname "$package")"
    mkdir -p "$exp/package/lm"
    cp "$exp/lm/lm.bin" "$exp/lm/words.txt" "$exp/lm/lm.json" "$exp/package/lm/"
    measured=$(.venv/bin/python recipes/librispeech/results.py --provenance "$exp")
    # shellcheck disable=SC2086  # one KEY=VALUE word per line
    "$asr" export --model "$exp/averaged.pt" --out "$package" --fp16 --lm "$exp/package/lm" \
        --alpha "$(best alpha)" --beta "$(best beta)" --unk-score "$(best unk_score)" \
        --beam-width "$(get recipe.beam_width)" --provenance recipe=recipes/librispeech $measured
fi

if step 11; then
    say 11 "results"
    .venv/bin/python recipes/librispeech/results.py "$exp" "$package"
    echo "recipe: stages $stage-$stop_stage took $(( ($(date +%s) - start) / 60 )) min; everything is in $exp"
fi
