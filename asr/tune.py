"""``asr tune``: choose the LM weight alpha and word bonus beta on a dev set, by grid search on cached log-probs.

    asr tune --model models/synthetic-small.pt --manifest data/synthetic/dev.jsonl --lm models/synthetic-lm

Prints the WER grid and the best pair, writes a PNG heat map of WER over (alpha, beta), and with ``--json`` the
whole result. The model runs once per (model, manifest); every grid point only decodes (asr.evaluate's cache).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from asr.evaluate import add_common_arguments, cached_log_probs, search_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from asr.decoding.tuning import DEFAULT_ALPHAS, DEFAULT_BETAS

    add_common_arguments(parser)
    parser.add_argument("--lm", required=True, help="language model folder from `asr lm build`")
    parser.add_argument("--alphas", type=float, nargs="+", default=list(DEFAULT_ALPHAS), help="LM weights to try")
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS), help="word bonuses to try")
    parser.add_argument("--plot", help="heat map PNG (default: tune-<manifest>-<model>.png here)")
    parser.add_argument("--json", help="write the grid and the best pair to this JSON file")


def run(args: argparse.Namespace) -> int:
    from asr.decoding import BeamSearchConfig, tune_alpha_beta
    from asr.text import normalize_text, tokenizer_from_dict

    data = cached_log_probs(args.model, args.manifest, args.device, args.batch_size, args.cache_dir, args.refresh)
    cache = data.cache
    config = BeamSearchConfig(**search_options(args))  # beam width and unknown-word score; alpha/beta are tuned
    plot = Path(args.plot or f"tune-{Path(args.manifest).stem}-{Path(args.model).stem}.png")
    result = tune_alpha_beta([lp.numpy() for lp in cache.float_log_probs()], [normalize_text(t) for t in cache.texts],
                             tokenizer_from_dict(cache.tokenizer), args.lm, config, args.alphas, args.betas,
                             cache.frame_shift_s, workers=args.workers, plot=plot)
    print(result.format_table())
    print(f"best: alpha {result.best_alpha:g}, beta {result.best_beta:g} (WER {100 * result.best_wer:.2f}% on "
          f"{len(cache.ids)} utterances); heat map: {plot}")
    if args.json:
        Path(args.json).write_text(json.dumps({"best_alpha": result.best_alpha, "best_beta": result.best_beta,
                                               "best_wer": result.best_wer, "table": result.table}, indent=2) + "\n")
    return 0
