"""Constructed CTC log-probs and a small LM text for the decoding tests."""

from __future__ import annotations

import itertools

import numpy as np

SUBJECTS = ["the cat", "the dog", "a bird", "my friend", "the teacher", "her brother"]
VERBS = ["sat on", "looked at", "ran to", "jumped over", "slept near"]
OBJECTS = ["the mat", "the wall", "the house", "the old tree", "the red car"]
# Sentences every LM test builds on: every subject/verb/object combination, plus "hat" in other contexts only.
LM_SENTENCES = [f"{s} {v} {o}" for s, v, o in itertools.product(SUBJECTS, VERBS, OBJECTS)] + [
    "she wore the hat", "he bought a new hat", "the hat was blue", "my friend likes the hat",
    "the weather was fine today", "we walked home together",
]


def ctc_log_probs(text: str, tokenizer, confusions: dict[int, tuple[str, float]] | None = None,
                  token_frames: int = 2, blank_frames: int = 2, lead_frames: int = 3, confidence: float = 0.97
                  ) -> np.ndarray:
    """Peaky CTC log-probs (T, V) that spell ``text`` token by token (characters or sentencepiece pieces).

    ``confusions`` maps a token position (index into ``tokenizer.encode(text)``) to (another token, its
    probability): that position's frames then give the other token this share and the true one the rest
    (other = "<blank>" makes the token weak rather than confused).
    """
    confusions = confusions or {}
    ids = tokenizer.encode(text)
    vocab = tokenizer.vocab_size
    floor = 1e-4
    frames: list[np.ndarray] = []

    def frame(probs: dict[int, float]) -> np.ndarray:
        p = np.full(vocab, floor)
        for token, value in probs.items():
            p[token] = value
        return np.log(p / p.sum())

    blank = frame({tokenizer.blank_id: 1.0})
    frames += [blank] * lead_frames
    for position, token in enumerate(ids):
        if position in confusions:
            other, share = confusions[position]
            other_id = tokenizer.tokens.index(other)
            if other_id == tokenizer.blank_id:  # a weak token: the blank takes the share
                probs = {token: 1.0 - share, other_id: share}
            else:
                probs = {other_id: share, token: 1.0 - share - 0.02, tokenizer.blank_id: 0.02}
        else:
            probs = {token: confidence, tokenizer.blank_id: 1.0 - confidence}
        frames += [frame(probs)] * token_frames
        frames += [blank] * blank_frames
    frames += [blank] * lead_frames
    return np.stack(frames).astype(np.float32)


def position_of(text: str, word_index: int, char_in_word: int = 0) -> int:
    """The character position of a word's character in ``text`` (for character tokenizers)."""
    words = text.split(" ")
    return sum(len(w) + 1 for w in words[:word_index]) + char_in_word


def noisy_log_probs(texts: list[str], tokenizer, seed: int = 0) -> list[np.ndarray]:
    """Log-probs with random confusions and per-frame noise (for parallel-vs-sequential checks)."""
    rng = np.random.default_rng(seed)
    out = []
    letters = [t for t in tokenizer.tokens if t.isalpha()]
    for text in texts:
        confusions = {i: (str(rng.choice(letters)), float(rng.uniform(0.3, 0.7)))
                      for i, c in enumerate(text) if c != " " and rng.random() < 0.15}
        lp = ctc_log_probs(text, tokenizer, confusions, token_frames=int(rng.integers(1, 3)))
        lp = lp + rng.normal(0, 0.3, lp.shape).astype(np.float32)
        lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
        out.append(lp.astype(np.float32))
    return out
