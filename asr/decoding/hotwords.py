"""Hotwords: words or phrases whose score is raised inside the beam search, so they survive pruning.

flashlight's lexicon decoder asks its language model for a score each time a hypothesis completes a word, and
that is where the boost goes: ``HotwordLM`` wraps the KenLM model, adds ``boost`` (natural log) for every word that
starts or continues a hotword phrase, and takes the partial boost back when a phrase breaks off before its end
(or the utterance ends inside it), so only complete phrases keep their bonus. The hotwords' words join the
decoder's lexicon (a hotword need not be in the LM's vocabulary), and their look-ahead in the lexicon trie carries
the boost too, so the beam keeps a hotword's partial spelling alive. The phrase progress is part of the LM state,
so hypotheses are merged only when their word history is the same, exactly as without hotwords.

This is a boost during the search, not a rescoring of finished hypotheses: a hotword the plain beam would have
pruned early can still win. The cost is a Python call per LM query, so decoding with hotwords is about 4x slower
than the plain C++ path (bench/decode.py); still faster than pyctcdecode without them. A large boost also crowds
a narrow beam with hotword prefixes: 2 (the default) raised the recall of 20 boosted words on the benchmark
without a false hit; 4 cost 0.7 points of WER.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flashlight.lib.text.decoder import LM, LMState

from asr.text import normalize_text


@dataclass(frozen=True)
class Hotword:
    words: tuple[str, ...]
    boost: float


def parse_hotwords(hotwords: Iterable[str] | Mapping[str, float] | None, boost: float) -> list[Hotword]:
    """Normalised hotwords; a mapping gives each phrase its own boost, a list uses ``boost`` for all."""
    if not hotwords:
        return []
    items = hotwords.items() if isinstance(hotwords, Mapping) else ((h, boost) for h in hotwords)
    parsed, seen = [], set()
    for phrase, value in items:
        words = tuple(normalize_text(str(phrase)).split())
        if not words:
            raise ValueError(f"hotword {phrase!r} has no words after normalisation")
        if words not in seen:
            seen.add(words)
            parsed.append(Hotword(words, float(value)))
    return parsed


class HotwordLM(LM):
    """A word LM for flashlight's LexiconDecoder: ``scale`` × KenLM log10 score + hotword boosts.

    ``phrases`` are hotwords as tuples of word-dictionary indices. flashlight calls ``score`` with the state it got
    from an earlier call; the adapter's states are its own ``LMState`` tree (one node per word history), each mapped
    to the KenLM state and the phrases matched so far.
    """

    def __init__(self, kenlm, scale: float, phrases: list[tuple[tuple[int, ...], float]]):
        LM.__init__(self)
        self._kenlm = kenlm
        self._scale = scale
        self._phrases = phrases
        self._starts: dict[int, list[int]] = {}
        for p, (words, _) in enumerate(phrases):
            self._starts.setdefault(words[0], []).append(p)
        self._info: dict[LMState, tuple[object, tuple[tuple[int, int], ...]]] = {}
        self._cache: dict[tuple[LMState, int], tuple[LMState, float]] = {}

    def start(self, start_with_nothing: bool):
        # A new utterance: the states of the last one are no longer referenced by the decoder.
        self._info.clear()
        self._cache.clear()
        state = LMState()
        self._info[state] = (self._kenlm.start(start_with_nothing), ())
        return state

    def _advance(self, progress: tuple[tuple[int, int], ...], word: int) -> tuple[float, tuple]:
        bonus = 0.0
        moved: list[tuple[int, int]] = []
        for p, matched in progress:
            words, boost = self._phrases[p]
            if words[matched] == word:
                bonus += boost
                if matched + 1 < len(words):
                    moved.append((p, matched + 1))
            else:
                bonus -= boost * matched  # the phrase broke off: take back what its first words got
        for p in self._starts.get(word, ()):
            words, boost = self._phrases[p]
            bonus += boost
            if len(words) > 1:
                moved.append((p, 1))
        return bonus, tuple(moved)

    def score(self, state, word: int):
        key = (state, word)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        ken, progress = self._info[state]
        ken_next, log10 = self._kenlm.score(ken, word)
        bonus, progress_next = self._advance(progress, word) if (progress or word in self._starts) else (0.0, ())
        child = state.child(word)
        self._info[child] = (ken_next, progress_next)
        result = (child, log10 * self._scale + bonus)
        self._cache[key] = result
        return result

    def finish(self, state):
        ken, progress = self._info[state]
        _, log10 = self._kenlm.finish(ken)
        unfinished = sum(self._phrases[p][1] * matched for p, matched in progress)
        return state.child(-1), log10 * self._scale - unfinished
