"""Text: English normalisation for training targets and scoring, and the CTC tokenizers.

``normalize_text`` turns written English into the spoken form the acoustic model is trained on: lower case,
numbers, ordinals, years, money and common abbreviations spelled out, punctuation dropped, apostrophes inside
words kept ("don't", "o'clock"). Numbers are spelled by num2words.

Tokenizers put the CTC blank at index 0 and serialise to a plain dict (``to_dict``/``tokenizer_from_dict``) of
strings, lists and bytes, so they travel inside a model file loadable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import re
import string
import unicodedata
from collections.abc import Iterable

import sentencepiece as spm
from num2words import num2words

BLANK = "<blank>"

_ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "prof": "professor", "st": "saint",
    "jr": "junior", "sr": "senior", "capt": "captain", "col": "colonel", "gen": "general", "lt": "lieutenant",
    "sgt": "sergeant", "rev": "reverend", "hon": "honourable", "mt": "mount", "ft": "fort", "vs": "versus",
    "etc": "et cetera", "approx": "approximately", "dept": "department", "govt": "government",
}
_DOTTED_ABBREVIATIONS = {"e.g.": "for example", "i.e.": "that is", "a.m.": "a m", "p.m.": "p m"}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at ", "=": " equals ", "#": " number "}
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents")}
_PUNCT_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'",
                            "\u201c": '"', "\u201d": '"', "\u2013": " ", "\u2014": " ", "\u2026": " "})

_ABBREV_RE = re.compile(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.", re.IGNORECASE)
_DOTTED_RE = re.compile("|".join(re.escape(k) for k in _DOTTED_ABBREVIATIONS), re.IGNORECASE)
_MONEY_RE = re.compile(r"([$£€])\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
# Decades and plural numbers (1990s, '80s, 1960's, two 6s, 1,000s); not the end of a decimal (5.5s).
_PLURAL_NUMBER_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)'?s\b")
_THOUSANDS_RE = re.compile(r"\b(\d{1,3}(?:,\d{3})+)\b")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_DECIMAL_RE = re.compile(r"(\d*)\.(\d+)")
_NUMBER_RE = re.compile(r"\d+")
_KEEP_RE = re.compile(r"[^a-z' ]+")


def _words(text: str) -> str:
    """num2words output without its hyphens and commas."""
    return " " + text.replace("-", " ").replace(",", "") + " "


def _spell_integer(digits: str) -> str:
    value = int(digits)
    if len(digits) > 1 and digits.startswith("0"):  # codes and zero-padded numbers are read digit by digit
        return " ".join(num2words(int(d)) for d in digits)
    if len(digits) == 4 and 1100 <= value <= 2099 and value % 1000 != 0:
        return num2words(value, to="year")
    return num2words(value)


def _plural_number(match: re.Match) -> str:
    """ "1990s" → "nineteen nineties": the number as it is read (a year, if it is one), its last word plural."""
    digits = match.group(1)
    spoken = num2words(int(digits.replace(",", ""))) if "," in digits else _spell_integer(digits)  # 1,990 no year
    words = spoken.replace("-", " ").replace(",", "").split()
    last = words[-1]
    if last.endswith("y"):
        words[-1] = last[:-1] + "ies"
    elif last.endswith(("s", "x")):
        words[-1] = last + "es"
    else:
        words[-1] = last + "s"
    return " " + " ".join(words) + " "


def _money(match: re.Match) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    out = f"{num2words(whole)} {one if whole == 1 else many}"
    if match.group(3):
        cents = int(match.group(3).ljust(2, "0"))
        if cents:
            out += f" {num2words(cents)} {sub_one if cents == 1 else sub_many}"
    return _words(out)


def _time(match: re.Match) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return _words(f"{num2words(hours)} o'clock")
    spoken_minutes = f"oh {num2words(minutes)}" if minutes < 10 else num2words(minutes)
    return _words(f"{num2words(hours)} {spoken_minutes}")


def _decimal(match: re.Match) -> str:
    whole = num2words(int(match.group(1))) if match.group(1) else ""
    digits = " ".join(num2words(int(d)) for d in match.group(2))
    return _words(f"{whole} point {digits}")


def normalize_text(text: str) -> str:
    """Written English → lower-case spoken words, ``[a-z' ]`` only, single spaces.

    >>> normalize_text("Dr. Smith paid $3.50 on the 21st of May, 1990 -- 50% more!")
    'doctor smith paid three dollars fifty cents on the twenty first of may nineteen ninety fifty percent more'
    """
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_MAP)
    # Strip accents: "café" → "cafe".
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _DOTTED_RE.sub(lambda m: " " + _DOTTED_ABBREVIATIONS[m.group(0).lower()] + " ", text)
    text = _ABBREV_RE.sub(lambda m: _ABBREVIATIONS[m.group(1).lower()], text)
    text = _MONEY_RE.sub(_money, text)
    text = _ORDINAL_RE.sub(lambda m: _words(num2words(int(m.group(1)), to="ordinal")), text)
    text = _PLURAL_NUMBER_RE.sub(_plural_number, text)
    text = _THOUSANDS_RE.sub(lambda m: _words(num2words(int(m.group(1).replace(",", "")))), text)  # never a year
    text = _TIME_RE.sub(_time, text)
    text = _DECIMAL_RE.sub(_decimal, text)
    text = _NUMBER_RE.sub(lambda m: _words(_spell_integer(m.group(0))), text)
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = text.lower().replace("-", " ")
    text = _KEEP_RE.sub(" ", text)
    # Apostrophes survive only inside a word ("don't") or as a plural possessive ("the boys' dog").
    words = []
    for word in text.split():
        word = word.lstrip("'")
        if word.endswith("'") and not word.rstrip("'").endswith("s"):
            word = word.rstrip("'")
        word = re.sub(r"'{2,}", "'", word)
        if word.strip("'"):
            words.append(word)
    return " ".join(words)


class TokenizerError(ValueError):
    """Text a tokenizer cannot encode."""


class CharTokenizer:
    """Characters as CTC targets. Index 0 is the blank, the space token separates words."""

    kind = "char"
    blank_id = 0
    word_boundary = " "
    DEFAULT_SYMBOLS = (" ", "'", *string.ascii_lowercase)

    def __init__(self, symbols: Iterable[str] | None = None):
        symbols = list(self.DEFAULT_SYMBOLS if symbols is None else symbols)
        if any(len(s) != 1 for s in symbols) or len(set(symbols)) != len(symbols):
            raise ValueError("symbols must be distinct single characters")
        self.tokens = [BLANK, *symbols]
        self._index = {s: i for i, s in enumerate(self.tokens) if i != self.blank_id}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharTokenizer:
        """The characters of already normalised ``texts``, space first, then sorted."""
        chars = set().union(*(set(t) for t in texts)) - {" "}
        return cls([" ", *sorted(chars)])

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def unknown_symbols(self, text: str) -> set[str]:
        return {c for c in text if c not in self._index}

    def encode(self, text: str) -> list[int]:
        try:
            return [self._index[c] for c in text]
        except KeyError:
            raise TokenizerError(f"characters not in the tokenizer: {sorted(self.unknown_symbols(text))}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (CTC repeats already collapsed) → text; blanks are dropped."""
        return "".join(self.tokens[i] for i in ids if i != self.blank_id)

    def spell(self, word: str) -> list[str]:
        """The tokens of one word, as a decoder's lexicon needs them."""
        self.encode(word)
        return list(word)

    def to_dict(self) -> dict:
        return {"type": self.kind, "symbols": self.tokens[1:]}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        return cls(d["symbols"])


class BPETokenizer:
    """Sentencepiece BPE (or unigram) pieces as CTC targets: piece id ``i`` is token ``i + 1``, blank is 0."""

    kind = "bpe"
    blank_id = 0
    word_boundary = "\u2581"  # sentencepiece's word-start marker

    def __init__(self, model_proto: bytes):
        self.model_proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        self.tokens = [BLANK, *(self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size()))]

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 256, model_type: str = "bpe") -> BPETokenizer:
        """Train on normalised ``texts``. ``vocab_size`` counts pieces (the blank comes on top)."""
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)), model_writer=model, vocab_size=vocab_size,
            model_type=model_type, character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
            hard_vocab_limit=False, num_threads=1, minloglevel=2)
        return cls(model.getvalue())

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def unknown_symbols(self, text: str) -> set[str]:
        return {c for c in set(text) - {" "} if self._sp.piece_to_id(c) == self._sp.unk_id()
                and self._sp.piece_to_id(self.word_boundary + c) == self._sp.unk_id()}

    def encode(self, text: str) -> list[int]:
        unknown = self.unknown_symbols(text)
        if unknown:
            raise TokenizerError(f"characters not in the tokenizer: {sorted(unknown)}")
        return [i + 1 for i in self._sp.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([i - 1 for i in ids if i != self.blank_id])

    def spell(self, word: str) -> list[str]:
        return self._sp.encode(word, out_type=str)

    def to_dict(self) -> dict:
        return {"type": self.kind, "model": self.model_proto}

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        return cls(d["model"])


Tokenizer = CharTokenizer | BPETokenizer
_KINDS = {CharTokenizer.kind: CharTokenizer, BPETokenizer.kind: BPETokenizer}


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from ``to_dict`` output (for example the one inside a packaged model)."""
    try:
        kind = _KINDS[d["type"]]
    except KeyError:
        raise ValueError(f"unknown tokenizer type {d.get('type')!r}; known: {sorted(_KINDS)}") from None
    return kind.from_dict(d)
