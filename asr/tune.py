"""``asr tune``: choose the LM weight alpha and word bonus beta on a dev set, by grid search on cached log-probs.

    asr tune --model models/synthetic-small.pt --manifest data/synthetic/dev.jsonl --lm models/synthetic-lm
    asr tune ... --unk-scores -10 -6 -3        # the unknown-word score too: one (alpha, beta) grid per value

Prints the WER grid and the best pair, writes a PNG heat map of WER over (alpha, beta) (at the best unknown-word
score), and with ``--json`` the whole result. The model runs once per (model, manifest); every grid point only
decodes (asr.evaluate's cache).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from asr.evaluate import add_common_arguments, cached_log_probs, search_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from asr.decoding.tuning import DEFAULT_ALPHAS, DEFAULT_BETAS

    add_common_arguments(parser)
    parser.add_argument("--lm", required=True, help="language model folder from `asr lm build`")
    parser.add_argument("--alphas", type=float, nargs="+", default=list(DEFAULT_ALPHAS), help="LM weights to try")
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS), help="word bonuses to try")
    parser.add_argument("--unk-scores", type=float, nargs="+", metavar="SCORE",
                        help="unknown-word scores to try as well (instead of the one --unk-score)")
    parser.add_argument("--plot", help="heat map PNG (default: beside --json with .png, "
                        "else tune-<manifest>-<model>.png here)")
    parser.add_argument("--json", help="write the grid and the best pair to this JSON file")


def run(args: argparse.Namespace) -> int:
    from asr.decoding import BeamSearchConfig, tune_alpha_beta
    from asr.decoding.tuning import plot_wer_heatmap
    from asr.text import normalize_text, tokenizer_from_dict

    data = cached_log_probs(args.model, args.manifest, args.device, args.batch_size, args.cache_dir, args.refresh)
    cache = data.cache
    config = BeamSearchConfig(**search_options(args))  # beam width and unknown-word score; alpha/beta are tuned
    # beside the JSON when there is one: a run's results stay in its folder, not the working directory
    default_plot = (Path(args.json).with_suffix(".png") if args.json
                    else Path(f"tune-{Path(args.manifest).stem}-{Path(args.model).stem}.png"))
    plot = Path(args.plot) if args.plot else default_plot
    log_probs = [lp.numpy() for lp in cache.float_log_probs()]
    references = [normalize_text(t) for t in cache.texts]
    tokenizer = tokenizer_from_dict(cache.tokenizer)
    results = {}  # unknown-word score -> TuningResult
    for unk_score in args.unk_scores or [config.unk_score]:
        results[unk_score] = tune_alpha_beta(log_probs, references, tokenizer, args.lm,
                                             replace(config, unk_score=unk_score), args.alphas, args.betas,
                                             cache.frame_shift_s, workers=args.workers)
        if len(results) > 1 or args.unk_scores:
            print(f"unknown-word score {unk_score:g}:")
        print(results[unk_score].format_table())
    # the lowest WER; ties go to the first score given (list them from the most to the least cautious)
    best_unk = min(results, key=lambda u: round(results[u].best_wer, 12))
    result = results[best_unk]
    plot_wer_heatmap(result, plot)
    print(f"best: alpha {result.best_alpha:g}, beta {result.best_beta:g}, unk_score {best_unk:g} "
          f"(WER {100 * result.best_wer:.2f}% on {len(cache.ids)} utterances); heat map: {plot}")
    if args.json:
        table = [{**row, "unk_score": u} for u, r in results.items() for row in r.table]
        Path(args.json).write_text(json.dumps({"best_alpha": result.best_alpha, "best_beta": result.best_beta,
                                               "best_unk_score": best_unk, "best_wer": result.best_wer,
                                               "table": table}, indent=2) + "\n")
    return 0
