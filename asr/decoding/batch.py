"""Decoding many utterances, in parallel across processes: ``decode_all``.

flashlight's decoder holds the GIL while it searches (two threads measured no faster than one), so parallelism
comes from worker processes. Each worker builds its decoder once (LM load + lexicon trie) and then decodes chunks
of utterances; results come back in input order and are identical to decoding sequentially, because each utterance
is decoded independently by the same deterministic search. On Linux the workers are forked, so they inherit the
parent's already built lexicon instead of building their own.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np

from asr.decoding.beam import BeamSearchConfig, BeamSearchDecoder, DecoderSpec, _as_numpy
from asr.decoding.result import DecodeResult

_worker_decoders: dict[int, BeamSearchDecoder] = {}
_worker_spec: DecoderSpec | None = None
_worker_frame_shift = 0.0


def _init_worker(spec: DecoderSpec, frame_shift_s: float) -> None:
    global _worker_spec, _worker_frame_shift
    _worker_spec, _worker_frame_shift = spec, frame_shift_s
    _worker_decoders.clear()


def _decode_chunk(task: tuple[dict | None, list[tuple[int, np.ndarray]]]) -> list[tuple[int, DecodeResult]]:
    overrides, items = task
    key = hash(tuple(sorted((overrides or {}).items())))
    decoder = _worker_decoders.get(key)
    if decoder is None:
        spec = _worker_spec if not overrides else DecoderSpec(replace(_worker_spec.config, **overrides),
                                                               _worker_spec.tokenizer, _worker_spec.lm_dir,
                                                               _worker_spec.extra_words)
        decoder = _worker_decoders[key] = spec.build()
    return [(i, decoder.decode(lp, _worker_frame_shift)) for i, lp in items]


def _chunks(items: list, count: int) -> list[list]:
    """``count`` contiguous chunks of near-equal total frames (long utterances dominate the time)."""
    total = sum(len(lp) for _, lp in items) or 1
    chunks: list[list] = [[]]
    done = 0
    for item in items:
        if done >= total * len(chunks) / count and len(chunks) < count:
            chunks.append([])
        chunks[-1].append(item)
        done += len(item[1])
    return [c for c in chunks if c]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_parallel(spec: DecoderSpec, frame_shift_s: float, tasks: list[tuple[dict | None, list]], workers: int
                 ) -> list[list[tuple[int, DecodeResult]]]:
    """Run decode tasks (config overrides, [(index, log-probs)]) in ``workers`` processes (1: in this one)."""
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(spec, frame_shift_s)
        return [_decode_chunk(t) for t in tasks]
    fork = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    if fork:  # build the shared lexicon here once; the forked workers inherit it
        spec.build()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(spec, frame_shift_s)) as pool:
        return list(pool.map(_decode_chunk, tasks))


def decode_all(log_probs_list: Sequence, decoder_config: BeamSearchConfig, lm_dir: str | os.PathLike | None,
               tokenizer, frame_shift_s: float, workers: int = 1, extra_words: Sequence[str] = ()
               ) -> list[DecodeResult]:
    """Beam-search decode every utterance (each (T, V) log-probs, numpy or torch), ``workers`` processes at once.

    ``lm_dir`` is a directory from ``asr lm build`` (None: no LM). Results are in input order.
    """
    spec = DecoderSpec(decoder_config, tokenizer.to_dict(), None if lm_dir is None else str(lm_dir),
                       tuple(extra_words))
    items = [(i, _as_numpy(lp)) for i, lp in enumerate(log_probs_list)]
    if not items:
        return []
    workers = max(1, min(workers, len(items)))
    # A few chunks per worker balance the load when utterance lengths differ.
    tasks = [(None, chunk) for chunk in _chunks(items, workers * 4 if workers > 1 else 1)]
    results: list[DecodeResult | None] = [None] * len(items)
    for chunk in run_parallel(spec, frame_shift_s, tasks, workers):
        for i, result in chunk:
            results[i] = result
    return results  # type: ignore[return-value]
