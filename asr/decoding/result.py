"""The result every decoder returns, and the one function that turns a frame-level CTC path into it.

A CTC path is one token per output frame (blank included). Collapsing repeats and dropping blanks gives the
emitted tokens; each emitted token spans the frames of its run. Words are cut from the emitted tokens at the
tokenizer's word boundary (the space token for characters; a sentencepiece piece starting with "▁" starts a word),
and a word's time runs from the first frame of its first token to the end of the last frame of its last token.
Greedy and beam search both report their best path this way, so their word times mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds from the start of the audio
    end: float
    # The output frames the word spans, first and last included: what per-frame scores of the word are taken
    # over (turning the rounded seconds back into frames can land one frame early). None when not known.
    first_frame: int | None = None
    last_frame: int | None = None


@dataclass
class DecodeResult:
    text: str
    words: list[WordTiming] = field(default_factory=list)
    score: float = 0.0  # the decoder's log score of this hypothesis (natural log; with LM and bonuses for beam)


def emitted_tokens(path: np.ndarray, blank_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens, first frames, last frames) of the tokens a CTC ``path`` emits (repeats collapsed, blanks dropped)."""
    path = np.asarray(path)
    if path.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.diff(path, prepend=path[0] - 1) != 0)
    ends = np.append(starts[1:], path.size) - 1
    keep = path[starts] != blank_id
    return path[starts][keep], starts[keep], ends[keep]


def result_from_path(path: np.ndarray, tokenizer, frame_shift_s: float, score: float = 0.0) -> DecodeResult:
    """The ``DecodeResult`` of a frame-level CTC path (token ids, one per frame)."""
    tokens, first, last = emitted_tokens(path, tokenizer.blank_id)
    names = tokenizer.tokens
    boundary = tokenizer.word_boundary
    words: list[WordTiming] = []
    pieces: list[str] = []
    start = end = 0

    def flush() -> None:
        word = "".join(pieces)
        if word:
            words.append(WordTiming(word, round(start * frame_shift_s, 6), round((end + 1) * frame_shift_s, 6),
                                    start, end))
        pieces.clear()

    for token, begin, finish in zip(tokens.tolist(), first.tolist(), last.tolist()):
        name = names[token]
        if boundary == " ":  # characters: the space token separates words
            if name == " ":
                flush()
                continue
        elif name.startswith(boundary):  # sentencepiece: "▁" opens a word
            flush()
            name = name[len(boundary):]
        if not pieces:
            start = begin
        if name:
            pieces.append(name)
            end = finish
    flush()
    return DecodeResult(" ".join(w.word for w in words), words, float(score))
