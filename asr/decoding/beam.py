"""CTC beam search over flashlight-text, with a KenLM word language model (or none), hotwords and unknown words.

Parameters keep ctcdecode's names: ``beam_width``, ``alpha`` (LM weight), ``beta`` (word insertion bonus),
``cutoff_top_n``, ``cutoff_prob``, ``blank_id``. ``alpha`` weighs the LM's natural-log probability, as in ctcdecode
and pyctcdecode (KenLM answers in log10; the conversion happens here), so tuned values carry over.

How the search is set up, and why:

* With an LM it is flashlight's *lexicon* decoder: hypotheses walk a trie of word spellings (the LM vocabulary,
  plus ``extra_words`` and the hotwords) and the LM is asked for a score only when a word is complete, in C++.
  On the benchmark (bench/decode.py) it is 8-15x faster than pyctcdecode at a lower WER. The lexicon-free
  alternative, a Python word-LM adapter called for every token of every hypothesis (which would spell unknown
  words most naturally), measured about 1 ms per frame in a prototype, slower than pyctcdecode, so it was not
  taken; a Python adapter on the lexicon decoder's LM queries makes it about 4x slower (the hotword path).
* Out-of-vocabulary words. A word in the lexicon but not in the LM (``extra_words``, hotwords) is scored as the
  LM's unknown word ``<unk>``. A word in no lexicon can still be spelled: flashlight's unknown-word exit lets a
  hypothesis leave the trie after any lexicon prefix, paying ``unk_score`` (plus the LM's <unk> score, which
  ``asr lm build`` sets to log10 1 = 0 in the binary so that ``unk_score`` alone is the penalty; after an <unk>
  the LM context restarts), and restart at the root; any spelling is reachable as one or more such pieces.
  Text and word times are read from the decoded token path, not from the LM's word labels, so such a word comes
  out spelled as the model spelled it. Tokens that start no lexicon word (for BPE: every piece without "▁") get a
  one-token root entry scored as <unk> (with the word bonus ``beta``, as flashlight scores any lexicon entry), so a
  spelling can continue after an exit. ``unk_score = -inf`` turns free spelling off (a closed vocabulary).
  The price: an unknown word may be split into several pieces, each paying ``unk_score`` (about two for an
  English word against a 25k-word vocabulary) and the search takes about 1.3x as long; on the benchmark, where 4%
  of the test words are outside the LM, it cut WER from 12.8% (closed vocabulary) to 10.2%.
* Characters: every spelling ends with the space token, so a word is complete only where the model put a word
  boundary (no free splitting of one long word into short in-vocabulary ones); a boundary frame is appended after
  the last frame to close the final word. Sentencepiece: a word ends where the next "▁" piece begins.
* No unigram look-ahead by default (``word_lookahead``). Flashlight can give a partial word the best unigram score
  of the words it may still become (trie smearing), but that flatters short frequent words: a hypothesis that
  has just started a letter that can end as "a" or "i" looks better than one inside a longer word, and the beam
  filled with short words. On the shipped model's log-probs (bench/decode.py) the search without it output as many
  words as pyctcdecode and gained 1.6-1.9 WER points; a partial word is then scored only when it is complete, as
  in pyctcdecode. Hotword boosts are still looked ahead (only they), so that a hotword's prefix survives the beam.
* Alignments of one text add up (``log_add``): when two hypotheses meet with the same text, word history and last
  token, the survivor carries the sum of their probabilities, as CTC defines the probability of a text and as
  pyctcdecode merges its beams, not the better one alone. On the shipped model's dev log-probs that alone was
  0.4-1.1 WER points better than keeping the maximum, at 5-10% more time.
* An empty transcript is scored as one unknown word would be (``empty_score``, pyctcdecode's treatment): a recording
  handed to the recognizer is taken to hold speech. Without it a weak model answered nothing for 43 of real-dev's
  463 recordings, mostly one spoken letter whose LM probability made "nothing" the cheaper answer. A silent
  recording still comes out empty: the search keeps a spelled word as a rival only when the audio gave it some
  probability.
* Hotwords go through ``asr.decoding.hotwords.HotwordLM`` (a boost inside the search; see there).
* ``cutoff_top_n`` is flashlight's per-frame token limit; ``cutoff_prob`` < 1 keeps only the most likely tokens of
  each frame up to that cumulative probability (the others get a log-probability of -1e30); runs of frames where
  the blank is near-certain (``blank_skip_prob``) are searched as one frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from flashlight.lib.text.decoder import (
    CriterionType,
    LexiconDecoder,
    LexiconDecoderOptions,
    LexiconFreeDecoder,
    LexiconFreeDecoderOptions,
    SmearingMode,
    Trie,
    ZeroLM,
)

from asr.decoding.hotwords import HotwordLM, parse_hotwords
from asr.decoding.lm import LanguageModel, load_lm
from asr.decoding.result import DecodeResult, result_from_path
from asr.text import TokenizerError

LN10 = math.log(10.0)
UNK = "<unk>"
_MASKED = -1e30
_CLOSING_FRAME = -1e4  # log-prob of every token but the boundary in the frame appended for character models


@dataclass
class BeamSearchConfig:
    # The defaults are the benchmark's operating point (bench/decode.py): wider beams and more tokens per frame
    # cost time roughly in proportion (beam_width x cutoff_top_n). On the shipped model's dev log-probs 6 tokens
    # per frame were 0.4 WER points better than 4 and as good as 8; width 64 gained under a point at 3x the time.
    beam_width: int = 16
    alpha: float = 0.5  # LM weight (on natural-log LM probabilities)
    beta: float = 1.0  # word insertion bonus (natural log, per word)
    cutoff_top_n: int = 6  # at most this many tokens are tried per frame
    cutoff_prob: float = 1.0  # cumulative probability of the tokens tried per frame (1.0: no cut)
    blank_id: int = 0
    beam_threshold: float = 12.0  # hypotheses this far (log) below the best are dropped
    # Per piece of a word outside the lexicon (natural log; -inf: closed vocabulary). A trade-off worth tuning on
    # dev: -10 was 1-1.7 WER points better on the default recipe's dev set (0.5% unknown words), -6 on the
    # constructed log-probs of bench/decode.py (4%), and -6 keeps an unknown word whole at 0.999-confident BPE
    # pieces where -10 glues it to its neighbour.
    unk_score: float = -6.0
    hotwords: tuple[str, ...] = ()
    hotword_boost: float = 2.0  # natural log, per word of a hotword phrase
    # Runs of frames whose blank probability is at least this are searched as one frame (1.0: search every frame).
    blank_skip_prob: float = 0.999
    # A partial word carries the best unigram LM score it can still reach (flashlight's smearing; see above).
    word_lookahead: bool = False
    # Hypotheses that meet add their probabilities (True) or keep the better one (False); see above.
    log_add: bool = True
    # Added to the score of a transcript with no words (natural log; 0: none). See above.
    empty_score: float = -10.0

    def __post_init__(self):
        if self.beam_width < 1 or self.cutoff_top_n < 1:
            raise ValueError("beam_width and cutoff_top_n must be at least 1")
        if not 0.0 < self.cutoff_prob <= 1.0:
            raise ValueError("cutoff_prob must be in (0, 1]")
        if not 0.0 < self.blank_skip_prob <= 1.0:
            raise ValueError("blank_skip_prob must be in (0, 1]")
        self.hotwords = tuple(self.hotwords)

    def to_dict(self) -> dict:
        return asdict(self)


def _token_index(tokenizer) -> dict[str, int]:
    return {t: i for i, t in enumerate(tokenizer.tokens) if i != tokenizer.blank_id}


def _is_char(tokenizer) -> bool:
    return tokenizer.word_boundary == " "


class _Lexicon:
    """The word list, spellings and KenLM model behind the lexicon decoder; tries are built per LM scale."""

    def __init__(self, lm: LanguageModel, tokenizer, extra_words: Sequence[str]):
        self.tokenizer = tokenizer
        index = _token_index(tokenizer)
        self.sil = index[" "] if _is_char(tokenizer) else tokenizer.blank_id
        in_lm = set(lm.vocabulary)
        words = list(lm.vocabulary) + [w for w in dict.fromkeys(extra_words) if w not in in_lm and w != UNK]
        self.words: list[str] = []
        self.spellings: list[list[int]] = []
        self.skipped: list[str] = []  # words the tokenizer cannot spell (characters it lacks)
        is_char = _is_char(tokenizer)
        for word in words:
            try:
                # Characters spell themselves: looked up directly, which halves the time of spelling a 100k+ word
                # vocabulary (a KeyError is a character the tokenizer lacks, as in spell()).
                spelling = [index[t] for t in (word if is_char else tokenizer.spell(word))]
            except (TokenizerError, KeyError):
                self.skipped.append(word)
                continue
            if is_char:
                spelling.append(self.sil)
            self.words.append(word)
            self.spellings.append(spelling)
        self.unk = len(self.words)
        self.label = {w: i for i, w in enumerate(self.words)}
        self.kenlm = lm.kenlm(self.words + [UNK])
        null = self.kenlm.start(True)
        self.unigram = [self.kenlm.score(null, i)[1] for i in range(len(self.words) + 1)]
        self._tries: dict[tuple, Trie] = {}

    def trie(self, scale: float, bonus: Mapping[int, float], free_spelling: bool, lookahead: bool) -> Trie:
        """The spelling trie; look-ahead scores are the hotword bonus, plus ``scale`` × unigram log10 with
        ``lookahead`` (flashlight smears them to every prefix, so a hypothesis carries the best score reachable
        from where it is; the decoder takes them back when the word is complete and scored by the LM)."""
        key = (scale, tuple(sorted(bonus.items())), free_spelling, lookahead)
        trie = self._tries.get(key)
        if trie is None:
            trie = Trie(self.tokenizer.vocab_size, self.sil)
            unigram = self.unigram if lookahead else [0.0] * len(self.unigram)
            for label, spelling in enumerate(self.spellings):
                trie.insert(spelling, label, unigram[label] * scale + bonus.get(label, 0.0))
            if free_spelling:
                # (Computed from the spellings: touching flashlight's TrieNode objects from Python frees them
                # twice, since the bindings do not share the trie's ownership.)
                starts = {spelling[0] for spelling in self.spellings}
                for token in range(self.tokenizer.vocab_size):
                    if token not in starts and token not in (self.tokenizer.blank_id, self.sil):
                        trie.insert([token], self.unk, unigram[self.unk] * scale)
            trie.smear(SmearingMode.MAX)
            self._tries[key] = trie
        return trie


_LEXICONS: dict[tuple, _Lexicon] = {}


def _lexicon(lm: LanguageModel, tokenizer, extra_words: Sequence[str]) -> _Lexicon:
    """Shared across decoders of one process (tuning builds many decoders over the same LM)."""
    key = (str(lm.directory.resolve()), lm.binary.stat().st_mtime_ns, tokenizer.kind, tuple(tokenizer.tokens),
           tuple(extra_words))
    lexicon = _LEXICONS.get(key)
    if lexicon is None:
        lexicon = _LEXICONS[key] = _Lexicon(lm, tokenizer, extra_words)
    return lexicon


def _as_numpy(log_probs) -> np.ndarray:
    if hasattr(log_probs, "detach"):  # a torch tensor (torch is not imported here: decoding workers stay light)
        log_probs = log_probs.detach().float().cpu().numpy()
    return np.asarray(log_probs, dtype=np.float32)


def blank_frames_to_search(emissions: np.ndarray, blank_id: int, blank_skip_prob: float) -> np.ndarray | None:
    """Indices of the frames to search: all but the second and later frames of each run of near-certain blanks.

    A peaky CTC model says blank with probability > 0.999 in most frames; every hypothesis just stays put there,
    so searching the first frame of such a run is enough. (The first one stays: it is what separates two equal
    tokens, as in "l l" of "hello".) The skipped frames' blank log-probs (> -0.001 each) are left out of the score.
    None when nothing is skipped.
    """
    if blank_skip_prob >= 1.0:
        return None
    certain = emissions[:, blank_id] >= math.log(blank_skip_prob)
    skip = certain.copy()
    skip[0] = False
    skip[1:] &= certain[:-1]
    if not skip.any():
        return None
    return np.flatnonzero(~skip)


def apply_cutoff_prob(emissions: np.ndarray, cutoff_prob: float) -> np.ndarray:
    """Keep, per frame, the most likely tokens up to ``cutoff_prob`` cumulative probability (at least one)."""
    if cutoff_prob >= 1.0:
        return emissions
    order = np.argsort(-emissions, axis=1)
    probs = np.exp(np.take_along_axis(emissions, order, axis=1))
    before = np.cumsum(probs, axis=1) - probs  # probability mass of the tokens ranked above each one
    drop = before >= cutoff_prob
    out = emissions.copy()
    np.put_along_axis(out, order, np.where(drop, _MASKED, np.take_along_axis(emissions, order, axis=1)), axis=1)
    return out


class BeamSearchDecoder:
    """Beam search with an optional KenLM word LM (a directory from ``asr lm build``).

    >>> decoder = BeamSearchDecoder(BeamSearchConfig(alpha=0.8, beta=1.0), tokenizer, "exp/lm")  # doctest: +SKIP
    >>> decoder.decode(log_probs, frame_shift_s=0.04).text  # doctest: +SKIP
    """

    def __init__(self, config: BeamSearchConfig, tokenizer, lm: LanguageModel | str | os.PathLike | None = None,
                 extra_words: Iterable[str] = ()):
        self.config = config
        self.tokenizer = tokenizer
        if config.blank_id != tokenizer.blank_id:
            raise ValueError(f"blank_id {config.blank_id} differs from the tokenizer's blank ({tokenizer.blank_id})")
        vocab = tokenizer.vocab_size
        self.hotwords = parse_hotwords(config.hotwords, config.hotword_boost)
        self._closing_frame: np.ndarray | None = None
        if lm is None:
            if self.hotwords:
                raise ValueError("hotwords need a language model directory (they are boosts on LM word scores)")
            # No LM: the lexicon-free search over tokens; alpha, beta and unk_score do not apply (as in ctcdecode).
            sil = self._sil = _token_index(tokenizer)[" "] if _is_char(tokenizer) else tokenizer.blank_id
            options = LexiconFreeDecoderOptions(
                beam_size=config.beam_width, beam_size_token=min(config.cutoff_top_n, vocab),
                beam_threshold=config.beam_threshold, lm_weight=0.0, sil_score=0.0, log_add=config.log_add,
                criterion_type=CriterionType.CTC)
            self._decoder = LexiconFreeDecoder(options, ZeroLM(), sil, tokenizer.blank_id, [])
            self.lexicon = None
            return

        lm = lm if isinstance(lm, LanguageModel) else load_lm(lm)
        hotword_words = [w for h in self.hotwords for w in h.words]
        extra = list(dict.fromkeys([*extra_words, *hotword_words]))
        self.lexicon = lexicon = _lexicon(lm, tokenizer, extra)
        self._sil = lexicon.sil
        missing = [w for w in hotword_words if w not in lexicon.label]
        if missing:
            raise ValueError(f"hotwords the tokenizer cannot spell: {sorted(set(missing))}")
        free_spelling = config.unk_score > -math.inf
        if self.hotwords:
            # Scores come back final from the adapter (scale and boosts applied), so the decoder's weight is 1.
            scale = config.alpha * LN10
            phrases = [(tuple(lexicon.label[w] for w in h.words), h.boost) for h in self.hotwords]
            bonus: dict[int, float] = {}
            for words, boost in phrases:
                bonus[words[0]] = max(bonus.get(words[0], 0.0), boost)
            trie = lexicon.trie(scale, bonus, free_spelling, config.word_lookahead)
            model, lm_weight = HotwordLM(lexicon.kenlm, scale, phrases), 1.0
        else:
            trie = lexicon.trie(1.0, {}, free_spelling, config.word_lookahead)
            model, lm_weight = lexicon.kenlm, config.alpha * LN10
        options = LexiconDecoderOptions(
            beam_size=config.beam_width, beam_size_token=min(config.cutoff_top_n, vocab),
            beam_threshold=config.beam_threshold, lm_weight=lm_weight, word_score=config.beta,
            unk_score=config.unk_score if free_spelling else -math.inf, sil_score=0.0, log_add=config.log_add,
            criterion_type=CriterionType.CTC)
        self._model = model  # the decoder holds it by reference: keep it alive
        self._trie = trie
        self._decoder = LexiconDecoder(options, trie, model, lexicon.sil, tokenizer.blank_id, lexicon.unk, [], False)
        if _is_char(tokenizer):
            self._closing_frame = np.full((1, vocab), _CLOSING_FRAME, dtype=np.float32)
            self._closing_frame[0, lexicon.sil] = 0.0

    def decode(self, log_probs, frame_shift_s: float) -> DecodeResult:
        """Decode one utterance's CTC log-probs (T, V)."""
        emissions = _as_numpy(log_probs)
        if emissions.ndim != 2 or emissions.shape[1] != self.tokenizer.vocab_size:
            raise ValueError(f"log_probs must be (T, {self.tokenizer.vocab_size}), got {emissions.shape}")
        frames = emissions.shape[0]
        if frames == 0:
            return DecodeResult("", [], 0.0)
        kept = blank_frames_to_search(emissions, self.tokenizer.blank_id, self.config.blank_skip_prob)
        if kept is not None:
            emissions = emissions[kept]
        searched = emissions.shape[0]
        emissions = apply_cutoff_prob(emissions, self.config.cutoff_prob)
        if self._closing_frame is not None:
            emissions = np.concatenate([emissions, self._closing_frame])
        emissions = np.ascontiguousarray(emissions, dtype=np.float32)
        hypotheses = self._decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        if not hypotheses:
            return DecodeResult("", [], -math.inf)
        # flashlight's token path has one entry before the first frame and one after the last.
        best = hypotheses[0]  # sorted best first
        path = np.asarray(best.tokens[1: searched + 1], dtype=np.int64)
        if self.config.empty_score < 0 and self._is_empty(path):
            # The best hypothesis with words wins if it beats the empty one once that pays empty_score.
            for other in hypotheses[1:]:
                if other.score <= best.score + self.config.empty_score:
                    break  # sorted: none further down can
                other_path = np.asarray(other.tokens[1: searched + 1], dtype=np.int64)
                if not self._is_empty(other_path):
                    best, path = other, other_path
                    break
        if kept is not None:  # back to every frame: the skipped ones were blanks
            full = np.full(frames, self.tokenizer.blank_id, dtype=np.int64)
            full[kept] = path
            path = full
        return result_from_path(path, self.tokenizer, frame_shift_s, best.score)

    def _is_empty(self, path: np.ndarray) -> bool:
        """True when a token path spells nothing: blanks and word boundaries only."""
        return bool(np.all((path == self.tokenizer.blank_id) | (path == self._sil)))

    def decode_batch(self, log_probs, lengths: Sequence[int] | None, frame_shift_s: float) -> list[DecodeResult]:
        """Decode a padded batch (B, T, V) of utterances ``lengths`` frames long, one after another."""
        batch = _as_numpy(log_probs)
        lengths = [batch.shape[1]] * batch.shape[0] if lengths is None else [int(n) for n in lengths]
        return [self.decode(batch[b, :n], frame_shift_s) for b, n in enumerate(lengths)]


@dataclass
class DecoderSpec:
    """Everything a process needs to build the same decoder (picklable: the tokenizer travels as its dict)."""

    config: BeamSearchConfig
    tokenizer: dict
    lm_dir: str | None = None
    extra_words: tuple[str, ...] = field(default_factory=tuple)

    def build(self) -> BeamSearchDecoder:
        from asr.text import tokenizer_from_dict

        return BeamSearchDecoder(self.config, tokenizer_from_dict(self.tokenizer),
                                 None if self.lm_dir is None else Path(self.lm_dir), self.extra_words)
