"""English text for a general language model, from packages that install offline (`asr prep lm-text OUT`).

Every source is read from an installed package, cleaned (markup, headwords, etymologies, verse numbers and
attributions dropped), split into sentences and normalised with ``asr.text.normalize_text`` (the function that
makes the training targets), so the LM's words are spelled the way the acoustic model spells them:

    source      package (licence)                                    what is kept
    chatterbot  PyPI chatterbot-corpus (BSD-3-Clause)                English conversations: greetings, small talk
    austen      Debian r-cran-janeaustenr (MIT; the novels are       Jane Austen's six novels: much dialogue
                public domain)
    fortunes    Debian fortunes, fortunes-min (BSD; collected        quips, quotations, jokes, Q&A
                quotations)
    devil       Debian dict-devil (public domain)                    The Devil's Dictionary, definitions as prose
    wordnet     Debian wordnet-base (WordNet 3.0 licence)            usage examples ("turned off the lights")
    gcide       Debian dict-gcide (GPL-3+; Webster's 1913 is         quotations from literature inside entries
                public domain)
    bible       Debian bible-kjv-text + bible-kjv (public domain     the King James Bible, verse by verse
                text; GPL-2+ reader)

Weights. The model transcribes people saying everyday phrases, so conversational text counts for more: each
source's sentences are written ``weight`` times (chatterbot 4, austen and fortunes 2, the others once). The Bible
(0.8 M words) then stays below a fifth of the text instead of the largest share.

Held out. WordNet's usage examples are also the sentences of the synthetic corpus (data_prep/synthetic.py); the
dev and test sentences of its default split (seed 0) are left out of every source here, so the general LM never
saw the sentences it may be evaluated on. The real-speech dev set's packages (klettres, ktuberling, tuxpaint,
hedgewars) are never read.

A source whose package is absent is skipped with one line saying which package to install; the output is the same
bytes for the same installed packages (sources in a fixed order, no randomness). Written under a temporary name,
then renamed, with a summary beside it (OUT.json: sentences, words and vocabulary per source).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asr.errors import ASRError

DICTD = Path("/usr/share/dictd")
FORTUNES = Path("/usr/share/games/fortunes")
WORDNET = Path("/usr/share/wordnet")


class SourceMissing(Exception):
    """A source's package is not installed (the message names it)."""


# --- sentence splitting --------------------------------------------------------------------------------------------
# Hand-written rather than a library: the sentence splitters on PyPI either download models at run time (nltk's
# punkt) or are large for this job; English prose from these sources needs only abbreviations and initials kept.

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "capt", "col", "gen", "lt", "sgt", "rev",
                  "hon", "mt", "ft", "vs", "etc", "no", "vol", "ch", "p", "pp", "cf", "viz", "esq", "messrs",
                  "e.g", "i.e", "co", "inc", "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
                  "oct", "nov", "dec"}
_BOUNDARY = re.compile(r"""(?<=[.!?])["')\]]*\s+(?=["'(\[]*[A-Z0-9])""")
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph of prose: cut after . ! ? (and closing quotes) before a capital or a digit,
    except after an abbreviation ("Mr. Knightley") or an initial ("J. Smith")."""
    text = " ".join(text.split())
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        before = _WORD_BEFORE_DOT.search(text[start:match.start()])
        if before:
            word = before.group(1).lower()
            if word in _ABBREVIATIONS or len(word) == 1:
                continue
        sentences.append(text[start:match.end()].strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def _output(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ASRError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return proc.stdout


def _paragraphs(text: str) -> Iterator[str]:
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split())
        if block:
            yield block


# --- sources -------------------------------------------------------------------------------------------------------


def chatterbot() -> Iterator[str]:
    """Both sides of every English conversation in chatterbot-corpus (YAML files inside the wheel)."""
    try:
        import chatterbot_corpus
        import yaml
    except ImportError:
        raise SourceMissing("PyPI chatterbot-corpus (pip install chatterbot-corpus; `make install` does)") from None
    folder = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for conversation in data.get("conversations") or []:
            for turn in conversation:
                if isinstance(turn, str) and "```" not in turn and "\n" not in turn.strip():
                    yield from split_sentences(turn)


_AUSTEN_NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")


def austen() -> Iterator[str]:
    """Jane Austen's novels, from the R data package (read through Rscript, which the package depends on)."""
    rscript = shutil.which("Rscript")
    if rscript is None or not Path("/usr/lib/R/site-library/janeaustenr").is_dir():
        raise SourceMissing("Debian r-cran-janeaustenr")
    program = ("e <- new.env(); for (b in commandArgs(TRUE)) { data(list = b, package = 'janeaustenr', envir = e);"
               " writeLines(c(get(b, envir = e), '')) }")
    text = _output([rscript, "-e", program, *_AUSTEN_NOVELS])
    for paragraph in _paragraphs(text):
        if (re.fullmatch(r"(CHAPTER|Chapter|VOLUME|Volume) [IVXLC\d]+\.?|by Jane Austen|\(\d{4}\)", paragraph)
                or paragraph.isupper()):
            continue  # headings and title lines
        yield from split_sentences(paragraph)


def fortunes() -> Iterator[str]:
    """Every fortune cookie of the installed fortune files (not the offensive ones), attributions dropped."""
    files = sorted(p for p in FORTUNES.glob("*") if p.is_file() and not p.is_symlink() and p.suffix == ""
                   and p.name not in ("ascii-art",)) if FORTUNES.is_dir() else []
    if not files:
        raise SourceMissing("Debian fortunes")
    for path in files:
        for cookie in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = [line for line in cookie.split("\n")
                     if line.strip() and not re.match(r"\s*(--|—|- [A-Z])", line)]  # attributions
            text = " ".join(lines)
            text = re.sub(r"\b[QA]:\s", " ", text)  # "Q: ... A: ..." jokes
            if re.search(r"[|\\{}<>]|_{2,}|/{2,}|\w+\(\)", text):
                continue  # ascii art, code, tables
            yield from split_sentences(text)


def _dictd_text(name: str, package: str) -> str:
    """A dictd database's text (dictzip is gzip with an index of its own)."""
    path = DICTD / f"{name}.dict.dz"
    if not path.is_file():
        raise SourceMissing(package)
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


def devil() -> Iterator[str]:
    """The Devil's Dictionary: each definition and its verses as prose, headwords dropped."""
    text = _dictd_text("devil", "Debian dict-devil")
    text = text[text.find("PREFACE"):]  # the distribution notice before it is not Bierce's
    for paragraph in _paragraphs(text):
        if re.search(r"00-database|https?:|@|Copyright|Wiretap", paragraph):
            continue
        paragraph = re.sub(r"^[A-Z][A-Z' -]*[A-Z],\s+(?:[a-z]+\.\s*)+", "", paragraph)  # "ABNORMAL, adj."
        if paragraph.isupper():
            continue
        yield from split_sentences(paragraph)


_WORDNET_EXAMPLE = re.compile(r'"([^"]+)"')


def wordnet() -> Iterator[str]:
    """The usage examples of WordNet 3.0 (the quoted parts of its glosses)."""
    files = [WORDNET / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.is_file() for f in files):
        raise SourceMissing("Debian wordnet-base")
    for path in files:
        with open(path, encoding="latin-1") as f:
            for line in f:
                if not line.startswith("  "):  # lines starting with spaces are the licence header
                    yield from _WORDNET_EXAMPLE.findall(line.partition(" | ")[2])


# GCIDE's ASCII markup for letters outside ASCII: ligatures become their letters, accents go.
_GCIDE_LETTERS = {"[ae]": "ae", "[AE]": "AE", "[oe]": "oe", "[OE]": "OE", "[aum]": "a", "[eum]": "e",
                  "[ium]": "i", "[oum]": "o", "[uum]": "u"}
_GCIDE_ACCENT = re.compile(r"\[([=.\"`'^~]?)([A-Za-z])([=.\"`'^~]?)\]")
_GCIDE_BLOCK_QUOTE = re.compile(r"^(.*?)\s*--\s*[A-Z][^\"]*$")
_GCIDE_INLINE_QUOTE = re.compile(r'"([^"]{3,}?)"\s*--')
_GCIDE_TAG = re.compile(r"^\s*\[[^\]]*\]\s*$")


def _gcide_clean(text: str) -> str | None:
    for code, letters in _GCIDE_LETTERS.items():
        text = text.replace(code, letters)
    text = _GCIDE_ACCENT.sub(lambda m: m.group(2), text)
    text = re.sub(r"\[([A-Za-z' ,]+)\]", r"\1", text)  # editorial insertions "[I'll] leave you"
    if re.search(r"[\[\]{}\\<>|]", text):
        return None  # markup left that we cannot read
    return text


def gcide() -> Iterator[str]:
    """The quotations inside GCIDE's entries: indented blocks and inline "..." followed by an author."""
    text = _dictd_text("gcide", "Debian dict-gcide")
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip() and not _GCIDE_TAG.match(line)]
        if not lines:
            continue
        joined = " ".join(line.strip() for line in lines)
        quotes = []
        # An indented block whose last line ends with "--Author." is a quotation (the entry text is indented 3).
        if all(len(line) - len(line.lstrip()) >= 6 for line in lines) and not joined.startswith('"'):
            match = _GCIDE_BLOCK_QUOTE.match(joined)
            if match:
                quotes.append(match.group(1))
        quotes += _GCIDE_INLINE_QUOTE.findall(joined)
        for quote in quotes:
            quote = _gcide_clean(quote)
            if quote:
                yield from split_sentences(quote.replace(" . . .", ",").replace(". . .", ","))


def bible() -> Iterator[str]:
    """The King James Bible, one verse at a time (verse numbers and book headings dropped)."""
    program = shutil.which("bible")
    if program is None or not Path("/usr/lib/bible.data").is_file():
        raise SourceMissing("Debian bible-kjv and bible-kjv-text")
    text = _output([program, "-l0", "gen1:1-rev22:21"])
    for line in text.split("\n"):
        match = re.match(r"\s+\d+\s+(.*)", line)  # "  1 In the beginning ..."; headings start unindented
        if match:
            yield match.group(1)


CMUDICT = Path("/usr/share/festival/dicts/cmu/cmudict-0.4.out")
_CMUDICT_ENTRY = re.compile(r'^\("([^"]+)"')


def cmudict_words(path: Path = CMUDICT) -> list[str]:
    """The words of the CMU Pronouncing Dictionary (Debian festlex-cmu, which festival's voices depend on): words
    people say, names included. As a word list for `asr lm build` it attests spoken words beside the spelling
    dictionaries (wamerican, wbritish)."""
    if not path.is_file():
        raise SourceMissing("Debian festlex-cmu")
    words = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            match = _CMUDICT_ENTRY.match(line)
            if match:
                words.append(match.group(1))
    return list(dict.fromkeys(words))


@dataclass(frozen=True)
class Source:
    name: str
    read: Callable[[], Iterable[str]]
    weight: int  # how many times each sentence is written
    package: str
    licence: str


SOURCES = (
    Source("chatterbot", chatterbot, 4, "PyPI chatterbot-corpus", "BSD-3-Clause"),
    Source("austen", austen, 2, "Debian r-cran-janeaustenr", "public domain text (package MIT)"),
    Source("fortunes", fortunes, 2, "Debian fortunes, fortunes-min", "BSD (fortune-mod); collected quotations"),
    Source("devil", devil, 1, "Debian dict-devil", "public domain"),
    Source("wordnet", wordnet, 1, "Debian wordnet-base", "WordNet 3.0 licence (free, with notice)"),
    Source("gcide", gcide, 1, "Debian dict-gcide", "GPL-3+ (GCIDE); Webster's 1913 public domain"),
    Source("bible", bible, 1, "Debian bible-kjv, bible-kjv-text", "public domain text (reader GPL-2+)"),
)


@dataclass
class EnglishTextConfig:
    sources: tuple[str, ...] = tuple(s.name for s in SOURCES)
    # Leave out the dev and test sentences of the synthetic corpus made with this seed (None: keep everything).
    synthetic_seed: int | None = 0
    weights: dict[str, int] | None = None  # per-source overrides of Source.weight


def synthetic_held_out(seed: int) -> set[str]:
    """The normalised dev and test sentences of the synthetic corpus for ``seed`` (no audio is made)."""
    from data_prep.synthetic import SyntheticConfig, load_sentences
    from data_prep.synthetic import split_sentences as split_pool

    config = SyntheticConfig(seed=seed)
    pools = split_pool(load_sentences(config), config)
    return {s.text for split in ("dev", "test") for s in pools[split]}


def write_lm_text(out: str | os.PathLike, config: EnglishTextConfig | None = None,
                  say: Callable[[str], None] = lambda m: None) -> dict:
    """Write the normalised sentences of every available source to ``out``; the summary goes to ``out``.json."""
    from asr.text import normalize_text

    config = config or EnglishTextConfig()
    by_name = {s.name: s for s in SOURCES}
    unknown = [n for n in config.sources if n not in by_name]
    if unknown:
        raise ASRError(f"unknown sources {unknown}; known: {', '.join(by_name)}")
    weights = {s.name: s.weight for s in SOURCES} | (config.weights or {})
    held_out = synthetic_held_out(config.synthetic_seed) if config.synthetic_seed is not None else set()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    summary: dict = {"sources": {}, "skipped": {}, "held_out_sentences": len(held_out)}
    total_counts: Counter[str] = Counter()
    try:
        with open(temporary, "w", encoding="utf-8") as sink:
            for name in config.sources:
                source = by_name[name]
                started = time.perf_counter()
                counts: Counter[str] = Counter()
                sentences = dropped = 0
                try:
                    for raw in source.read():
                        text = normalize_text(raw)
                        if not text:
                            continue
                        if text in held_out:
                            dropped += 1
                            continue
                        sink.write((text + "\n") * weights[name])
                        counts.update(text.split())
                        sentences += 1
                except SourceMissing as missing:
                    summary["skipped"][name] = f"install {missing}"
                    say(f"{name}: skipped, its package is absent (install {missing})")
                    continue
                words = sum(counts.values())
                summary["sources"][name] = {
                    "package": source.package, "licence": source.licence, "weight": weights[name],
                    "sentences": sentences, "words": words, "vocabulary": len(counts),
                    "held_out_dropped": dropped}
                for word, count in counts.items():
                    total_counts[word] += count * weights[name]
                say(f"{name}: {sentences:,} sentences, {words:,} words, {len(counts):,} distinct "
                    f"(x{weights[name]}; {time.perf_counter() - started:.1f} s)")
        if not summary["sources"]:
            raise ASRError("no English text source is installed: " + "; ".join(summary["skipped"].values()))
        summary["total"] = {"sentences": sum(s["sentences"] * s["weight"] for s in summary["sources"].values()),
                            "words": sum(total_counts.values()), "vocabulary": len(total_counts)}
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    summary_path = out.with_name(out.name + ".json")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def write_cmudict_words(out: str | os.PathLike) -> int:
    """Write CMUdict's words, one a line (temporary name, then rename); returns how many."""
    words = cmudict_words()
    out = Path(out)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    temporary.write_text("\n".join(words) + "\n", encoding="utf-8")
    os.replace(temporary, out)
    return len(words)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="the text file to write (one normalised sentence a line); OUT.json: summary")
    parser.add_argument("--sources", nargs="+", default=list(EnglishTextConfig().sources),
                        choices=[s.name for s in SOURCES], help="sources to read, in this order")
    parser.add_argument("--keep-synthetic-held-out", action="store_true",
                        help="keep the synthetic corpus's dev/test sentences (left out by default)")
    parser.add_argument("--synthetic-seed", type=int, default=0, help="the synthetic corpus's --seed")
    parser.add_argument("--cmudict-words", metavar="FILE",
                        help="also write CMUdict's words here, a word list for `asr lm build --word-list` "
                             "(default: cmudict-words.txt beside OUT)")


def run(args: argparse.Namespace) -> int:
    config = EnglishTextConfig(sources=tuple(args.sources),
                               synthetic_seed=None if args.keep_synthetic_held_out else args.synthetic_seed)
    summary = write_lm_text(args.out, config, say=lambda m: print(f"asr prep lm-text: {m}", file=sys.stderr))
    total = summary["total"]
    words_out = args.cmudict_words or str(Path(args.out).with_name("cmudict-words.txt"))
    try:
        count = write_cmudict_words(words_out)
        print(f"asr prep lm-text: wrote {words_out} ({count:,} CMUdict words)", file=sys.stderr)
    except SourceMissing as missing:
        print(f"asr prep lm-text: no CMUdict word list (install {missing})", file=sys.stderr)
    print(f"asr prep lm-text: wrote {args.out} ({total['sentences']:,} lines, {total['words']:,} words, "
          f"{total['vocabulary']:,} distinct, from {len(summary['sources'])} sources"
          + (f"; skipped {', '.join(summary['skipped'])}" if summary["skipped"] else "")
          + f"); summary {args.out}.json")
    return 0
