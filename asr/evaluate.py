"""``asr evaluate``: WER/CER of a packaged model on a manifest, greedy and with beam search + LM.

    asr evaluate --model models/synthetic-small.pt --manifest data/synthetic/test.jsonl --lm models/synthetic-lm

The model's log-probs are cached (asr.decoding.LogProbCache, keyed by the contents of the model file and the
manifest), so evaluating again with another LM, beam width or alpha/beta decodes without running the model.
Prints WER and CER (greedy, and beam when an LM or a beam width is given), the real-time factor of the model and
of each decoder, and writes the per-utterance alignment report to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from asr.errors import ASRError, InputError


@dataclass
class LogProbs:
    cache: object  # asr.decoding.LogProbCache
    audio_seconds: float
    model_seconds: float | None  # None when read from the cache


def cached_log_probs(model: str | os.PathLike, manifest: str | os.PathLike, device: str = "cpu",
                     batch_size: int = 16, cache_dir: str | os.PathLike | None = None,
                     refresh: bool = False) -> LogProbs:
    """The model's log-probs of every utterance of ``manifest``, from the cache or computed (and cached)."""
    import torch
    from tqdm import tqdm

    from asr.data.manifest import read_manifest, read_utterance_audio
    from asr.decoding import LogProbCache, fingerprint
    from asr.inference import Transcriber

    utterances = read_manifest(manifest)
    if not utterances:
        raise InputError(manifest, "no utterances")
    audio_seconds = sum(u.duration for u in utterances)
    cache = None if refresh else LogProbCache.load_for(model, manifest, cache_dir)
    if cache is not None:
        return LogProbs(cache, audio_seconds, None)
    transcriber = Transcriber(model, device=device, batch_size=batch_size)
    log_probs, failures = [], []
    start = time.perf_counter()
    group = batch_size * 8  # read this many utterances at a time; the Transcriber sorts them into batches
    with tqdm(total=len(utterances), unit="utt", desc="log-probs", file=sys.stderr) as progress:
        for first in range(0, len(utterances), group):
            part = utterances[first:first + group]
            waves = []
            for u in part:
                try:
                    waves.append(read_utterance_audio(u, transcriber.sample_rate))
                except ASRError as err:
                    failures.append(f"{u.id}: {err}")
                    waves.append(None)
            computed = iter(transcriber.log_probs([w for w in waves if w is not None]))
            log_probs += [None if w is None else torch.from_numpy(next(computed)).half() for w in waves]
            progress.update(len(part))
    if failures:
        raise InputError(manifest, f"{len(failures)} utterances could not be read: " + "; ".join(failures[:5]))
    model_seconds = time.perf_counter() - start
    cache = LogProbCache(fingerprint(model, manifest), [u.id for u in utterances], [u.text for u in utterances],
                         log_probs, transcriber.frame_shift, transcriber.tokenizer.to_dict())
    cache.save(LogProbCache.path_for(model, manifest, cache_dir))
    return LogProbs(cache, audio_seconds, model_seconds)


def score(references: list[str], hypotheses: list[str], ids: list[str]):
    from asr.metrics import ErrorRateAccumulator
    from asr.text import normalize_text

    scores = ErrorRateAccumulator()
    for utt_id, ref, hyp in zip(ids, references, hypotheses):
        scores.add(normalize_text(ref), hyp, utt_id)
    return scores


# The BeamSearchConfig fields that asr evaluate, tune and transcribe take from the command line.
SEARCH_OPTIONS = ("alpha", "beta", "beam_width", "unk_score")
UNK_SCORE_HELP = "log-score per piece of a word outside the LM's vocabulary (default -6; -inf: closed vocabulary)"


def add_unk_score_argument(parser: argparse.ArgumentParser, help_text: str = UNK_SCORE_HELP) -> None:
    """``--unk-score``, which takes ``-inf`` as a value the way the help offers it.

    argparse reads an argument that starts with "-" as an option name unless it looks like a negative number, and
    for that it knows digits only, so ``--unk-score -inf`` failed ("expected one argument"). The parser's test is
    widened to negative infinity (and exponents); ``--unk-score=-inf`` works with any argparse.
    """
    parser.add_argument("--unk-score", type=float, help=help_text)
    if hasattr(parser, "_negative_number_matcher"):  # argparse's own attribute, present since Python 2.7
        parser._negative_number_matcher = re.compile(
            r"^-(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$|^-inf(?:inity)?$", re.IGNORECASE)


def search_options(args: argparse.Namespace, names: tuple[str, ...] = SEARCH_OPTIONS) -> dict:
    """The search settings given on the command line (an option left out is None and is not included)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="packaged model file")
    parser.add_argument("--manifest", required=True, help="JSON Lines manifest with reference texts")
    parser.add_argument("--beam-width", type=int, help="beam width")
    add_unk_score_argument(parser)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes")
    parser.add_argument("--device", default="cpu", help="where the model runs: cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cache-dir", help="log-prob cache folder (default ~/.cache/asr/logprobs)")
    parser.add_argument("--refresh", action="store_true", help="run the model even when a cache exists")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--lm", help="language model folder from `asr lm build`")
    parser.add_argument("--alpha", type=float, help="LM weight")
    parser.add_argument("--beta", type=float, help="word insertion bonus")
    parser.add_argument("--report", help="alignment report file (default: beside --json as .report.txt, else "
                                         "<manifest>-<model>[-lm].report.txt here)")
    parser.add_argument("--json", help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    from asr.decoding import BeamSearchConfig, decode_all, greedy_decode
    from asr.text import tokenizer_from_dict

    data = cached_log_probs(args.model, args.manifest, args.device, args.batch_size, args.cache_dir, args.refresh)
    cache = data.cache
    tokenizer = tokenizer_from_dict(cache.tokenizer)
    log_probs = cache.float_log_probs()
    rows = {}
    start = time.perf_counter()
    greedy = [greedy_decode(lp, None, tokenizer, cache.frame_shift_s)[0].text for lp in log_probs]
    rows["greedy"] = (score(cache.texts, greedy, cache.ids), time.perf_counter() - start)
    if args.lm or args.beam_width:
        try:
            config = BeamSearchConfig(**search_options(args))
        except ValueError as err:
            raise ASRError(str(err)) from None
        start = time.perf_counter()
        results = decode_all([lp.numpy() for lp in log_probs], config, args.lm, tokenizer, cache.frame_shift_s,
                             workers=args.workers)
        name = "beam + LM" if args.lm else "beam"
        rows[name] = (score(cache.texts, [r.text for r in results], cache.ids), time.perf_counter() - start)
    final_name, (final, _) = list(rows.items())[-1]
    # beside the JSON when there is one: a run's results stay in its folder, not the working directory
    if args.report:
        report = Path(args.report)
    elif args.json:
        report = Path(args.json).with_suffix(".report.txt")
    else:
        report = Path(f"{Path(args.manifest).stem}-{Path(args.model).stem}{'-lm' if args.lm else ''}.report.txt")
    report.write_text(final.report(), encoding="utf-8")

    model_rtf = None if data.model_seconds is None else data.model_seconds / data.audio_seconds
    print(f"{len(cache.ids)} utterances, {data.audio_seconds / 3600:.2f} h; model real-time factor "
          + ("(log-probs from cache)" if model_rtf is None else f"{model_rtf:.4f} on {args.device}"))
    print(f"{'decoder':<12} {'WER':>7} {'CER':>7} {'sub':>6} {'del':>6} {'ins':>6} {'decode RTF':>11}")
    figures = {"utterances": len(cache.ids), "audio_hours": data.audio_seconds / 3600, "model_rtf": model_rtf,
               "device": args.device, "decoders": {}}
    for name, (scores, seconds) in rows.items():
        w = scores.words
        rtf = seconds / data.audio_seconds
        print(f"{name:<12} {100 * scores.wer:6.2f}% {100 * scores.cer:6.2f}% {w.substitutions:>6} {w.deletions:>6} "
              f"{w.insertions:>6} {rtf:>11.5f}")
        figures["decoders"][name] = {**scores.summary(), "decode_rtf": rtf}
    print(f"alignment report ({final_name}): {report}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0
