"""Several packaged models on one manifest (the real-speech dev set): corpus WER/CER greedy and with one LM, per
source, and each model's difference from the first with a 95% paired-bootstrap interval over utterances. The
interval says which differences a set of this size can tell apart from chance: the ablation and CMVN tables of
RESULTS.md come from here.

    .venv/bin/python recipes/synthetic/compare.py --manifest data/real-dev/real-dev.jsonl \
        --lm models/english-lm --alpha 0.5 --beta 0 all=exp/synthetic_small/averaged.pt no-room=exp/ablate-room/averaged.pt

Every model is decoded the same way (the LM and weights given), so a row differs from the first only by what its
acoustic model learned. Log-probs come from asr evaluate's cache where present. A source is the utterance id's
first part (``hedgewars-Pirate-Hello`` → ``hedgewars``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def errors_per_utterance(model: str, manifest: str, lm: str | None, alpha: float, beta: float, unk_score: float | None,
                         workers: int):
    """Per decoder (greedy, LM): arrays of word errors, reference words, char errors, reference chars."""
    from asr.decoding import BeamSearchConfig, decode_all, greedy_decode
    from asr.evaluate import cached_log_probs, score
    from asr.text import tokenizer_from_dict

    cache = cached_log_probs(model, manifest).cache
    tokenizer = tokenizer_from_dict(cache.tokenizer)
    log_probs = cache.float_log_probs()
    hyps = {"greedy": [greedy_decode(lp, None, tokenizer, cache.frame_shift_s)[0].text for lp in log_probs]}
    if lm:
        search = {} if unk_score is None else {"unk_score": unk_score}
        results = decode_all([lp.numpy() for lp in log_probs], BeamSearchConfig(alpha=alpha, beta=beta, **search), lm,
                             tokenizer, cache.frame_shift_s, workers=workers)
        hyps["lm"] = [r.text for r in results]
    out = {}
    for name, texts in hyps.items():
        scores = score(cache.texts, texts, cache.ids).utterances
        out[name] = np.array([[u.words.errors, u.words.reference_length, u.chars.errors, u.chars.reference_length]
                              for u in scores], dtype=np.float64)
    return cache.ids, out


def bootstrap_difference(a: np.ndarray, b: np.ndarray, col: int, reps: int = 2000, seed: int = 0):
    """95% interval of corpus rate(b) - rate(a) (errors column ``col``, its reference length next to it),
    resampling utterances in pairs."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(reps, len(a)))
    diff = (b[idx, col].sum(1) - a[idx, col].sum(1)) / a[idx, col + 1].sum(1)
    return np.percentile(diff, [2.5, 97.5])


def rate(m: np.ndarray, col: int, rows=slice(None)) -> float:
    return m[rows, col].sum() / max(m[rows, col + 1].sum(), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="NAME=MODEL", help="packaged models; the first is the reference")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--lm", help="LM folder for the beam-search rows (none: greedy only)")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=0.0)
    parser.add_argument("--unk-score", type=float, help="unknown-word score (default: the decoder's; the shipped model "
                                                          "stores -10)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    named = [m.split("=", 1) for m in args.models]
    results, ids = {}, None
    for name, model in named:
        ids, results[name] = errors_per_utterance(model, args.manifest, args.lm, args.alpha, args.beta, args.unk_score,
                                                  args.workers)
    sources = sorted({i.split("-", 1)[0] for i in ids})
    by_source = {s: np.array([i.split("-", 1)[0] == s for i in ids]) for s in sources}
    base = results[named[0][0]]
    decoders = list(base)
    figures = {"manifest": args.manifest, "utterances": len(ids), "lm": args.lm, "alpha": args.alpha,
               "beta": args.beta, "unk_score": args.unk_score, "models": {}}
    head = ["model", "greedy WER", "greedy CER", *(["WER + LM", "CER + LM"] if "lm" in decoders else []),
            *(f"{s} WER{' + LM' if 'lm' in decoders else ''}" for s in sources), "Δ vs first (95% interval)"]
    print("| " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * (len(head) - 1))
    main_decoder = decoders[-1]
    for name, model in named:
        r = results[name]
        entry = {d: {"wer": rate(r[d], 0), "cer": rate(r[d], 2),
                     "per_source_wer": {s: rate(r[d], 0, by_source[s]) for s in sources}} for d in decoders}
        cells = [name, f"{100 * entry['greedy']['wer']:.1f}%", f"{100 * entry['greedy']['cer']:.1f}%"]
        if "lm" in decoders:
            cells += [f"{100 * entry['lm']['wer']:.1f}%", f"{100 * entry['lm']['cer']:.1f}%"]
        cells += [f"{100 * entry[main_decoder]['per_source_wer'][s]:.1f}%" for s in sources]
        if name == named[0][0]:
            cells.append("reference")
        else:
            diffs = []
            for d, col, label in ((main_decoder, 0, "WER"), ("greedy", 2, "greedy CER")):
                lo, hi = bootstrap_difference(base[d], r[d], col)
                delta = rate(r[d], col) - rate(base[d], col)
                entry[d][f"delta_{'wer' if col == 0 else 'cer'}"] = {"delta": delta, "low": lo, "high": hi}
                diffs.append(f"{label} {100 * delta:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
            cells.append("; ".join(diffs))
        print("| " + " | ".join(cells) + " |")
        figures["models"][name] = {"model": model, **entry}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
