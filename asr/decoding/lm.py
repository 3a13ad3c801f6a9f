"""Word n-gram language models: ``asr lm build`` estimates one with KenLM, ``load_lm`` opens it for decoding.

An LM directory holds:

    lm.arpa     the model in ARPA text form (what other toolkits read)
    lm.bin      KenLM's binary form of the same model, memory-mapped, so it loads in well under a second (with one
                deliberate difference: log10 P(<unk>) = 0, see ``_binarise``)
    words.txt   the vocabulary, one word a line, most frequent first (the decoder's lexicon is built from it)
    lm.json     metadata: order, pruning, quantisation, vocabulary limits (min_count, vocab_size) and word lists,
                sentence/word counts, n-gram counts per order (kept after pruning, and seen), file sizes, the source
                files (or the imported ARPA file: imported_arpa), the KenLM version

The text is normalised with ``asr.text.normalize_text`` (the same function that makes the training targets), so
the LM's words are spelled the way the acoustic model spells them. The directory is written under a temporary name
next to ``--out`` and renamed into place at the end: a failed build leaves nothing behind.

Pruning: KenLM's lmplz prunes by count (``--prune``) and can keep only a given vocabulary (``--vocab-size N``:
the N most frequent words, as LibriSpeech's official LMs keep their 200,000 words; ``--min-count N``: words seen
at least N times). It has no relative-entropy
pruning, which made the official ``3-gram.pruned.1e-7`` / ``3e-7`` files (SRILM); users who have those, or any
other ARPA file, bring them in with ``asr lm build --arpa FILE`` (``import_arpa``): lower-cased to the toolkit's
spelling, binarised, and its unigrams become ``words.txt``.
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
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asr.decoding.kenlm_tools import KENLM_VERSION, MAX_ORDER, kenlm_tools
from asr.errors import ASRError, InputError
from asr.text import normalize_text

FORMAT_VERSION = 1
BINARY_UNK_LOG10 = 0.0  # see _binarise
ARPA, BINARY, WORDS, META = "lm.arpa", "lm.bin", "words.txt", "lm.json"
# KenLM's own vocabulary entries; they never go into words.txt.
SPECIAL_WORDS = ("<s>", "</s>", "<unk>")


@dataclass
class LMBuildConfig:
    order: int = 4
    # lmplz --prune: one count threshold per order (n-grams seen at most that often are dropped); the last value
    # applies to the higher orders, unigrams are never pruned. () keeps everything.
    prune: tuple[int, ...] = ()
    binary_type: str = "probing"  # KenLM's fastest query structure; "trie" is about half the size
    memory: str = "20%"  # lmplz's sort memory (-S); the machine is shared, so not its 80% default
    # build_binary -q/-b: bits per probability and back-off weight (trie only; 0 keeps 32-bit floats). 8 bits
    # shrink a trie by about half again, at a cost in perplexity well under 1% (KenLM's documentation).
    quantize: int = 0
    # Word lists (one word a line, normalised like the text): each word joins the vocabulary as a unigram, seen
    # once, so the decoder's lexicon can spell it even where the text never used it.
    word_lists: tuple[str, ...] = ()
    # Vocabulary limits, applied to the counts of the text plus one per word list naming the word: words counted
    # fewer than ``min_count`` times are left out, then the ``vocab_size`` most frequent of the rest are kept
    # (exactly that many, as LibriSpeech's official LMs keep exactly 200,000 words: equally frequent words at the
    # cut are taken in alphabetical order); 0 keeps all. Left-out words become <unk> for lmplz (its
    # --limit_vocab_file: n-grams with them are dropped) and stay out of words.txt.
    min_count: int = 1
    vocab_size: int = 0


@dataclass
class LanguageModel:
    """An LM directory, opened: the metadata and the vocabulary (the KenLM model itself is mapped by the decoder)."""

    directory: Path
    order: int
    vocabulary: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def binary(self) -> Path:
        return self.directory / BINARY

    def kenlm(self, words: list[str]):
        """flashlight's KenLM model over ``words`` (indices into that list); words it lacks score as <unk>."""
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        return KenLM(str(self.binary), Dictionary(words))

    def log10_prob(self, sentences: Iterable[str]) -> tuple[float, int]:
        """Total log10 probability of normalised ``sentences`` (each ending with </s>) and the number of tokens."""
        sentences = [s.split() for s in sentences]
        words = sorted({w for s in sentences for w in s}) or ["<unk>"]
        index = {w: i for i, w in enumerate(words)}
        model = self.kenlm(words)
        total, count = 0.0, 0
        for sentence in sentences:
            state = model.start(False)
            for word in sentence:
                state, score = model.score(state, index[word])
                total += score
            _, score = model.finish(state)
            total += score
            count += len(sentence) + 1
        return total, count

    def perplexity(self, sentences: Iterable[str]) -> float:
        total, count = self.log10_prob(sentences)
        return 10.0 ** (-total / max(count, 1))


def load_lm(directory: str | os.PathLike) -> LanguageModel:
    """Open an LM directory written by ``asr lm build``; a clear error when it is not one."""
    directory = Path(directory)
    meta_path = directory / META
    if not directory.is_dir():
        raise InputError(directory, "LM directory not found")
    for name in (META, BINARY, WORDS):
        if not (directory / name).is_file():
            raise InputError(directory, f"not an LM directory: {name} is missing (make one with `asr lm build`)")
    try:
        meta = json.loads(meta_path.read_text())
        order = int(meta["order"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InputError(meta_path, f"unreadable LM metadata ({err})") from None
    words = [w for w in (directory / WORDS).read_text(encoding="utf-8").split("\n") if w]
    return LanguageModel(directory, order, words, meta)


# --- building ---------------------------------------------------------------------------------------------------

def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_sentences(path: Path) -> Iterator[str]:
    """Raw sentences of one text file: plain text (one sentence a line, optionally .gz) or a JSON Lines manifest
    (its ``text`` fields)."""
    manifest = path.name.endswith((".jsonl", ".jsonl.gz"))
    with _open_text(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if manifest:
                try:
                    yield str(json.loads(line)["text"])
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise InputError(path, f"line {number}: not a JSON object with a 'text' field ({err})") from None
            else:
                yield line


def _check_config(config: LMBuildConfig) -> None:
    if not 1 <= config.order <= MAX_ORDER:
        raise ASRError(f"--order {config.order}: KenLM supports orders 1 to {MAX_ORDER}")
    prune = list(config.prune)
    if prune:
        if any(p < 0 for p in prune) or prune != sorted(prune):
            raise ASRError(f"--prune {' '.join(map(str, prune))}: thresholds must be non-negative and non-decreasing")
        if prune[0] != 0:
            raise ASRError(f"--prune {' '.join(map(str, prune))}: the first (unigram) threshold must be 0; "
                           f"KenLM does not prune unigrams")
        if len(prune) > config.order:
            raise ASRError(f"--prune has {len(prune)} thresholds for a {config.order}-gram model")
    if config.vocab_size < 0:
        raise ASRError(f"--vocab-size {config.vocab_size}: must be 0 (every word) or positive")
    if config.binary_type not in ("probing", "trie"):
        raise ASRError(f"binary type {config.binary_type!r}: use 'probing' or 'trie'")
    if config.quantize:
        if not 1 <= config.quantize <= 25:
            raise ASRError(f"--quantize {config.quantize}: KenLM quantises to 1 to 25 bits")
        if config.binary_type != "trie":
            raise ASRError("--quantize needs --binary-type trie (KenLM quantises only its trie structure)")
    if config.min_count < 1:
        raise ASRError(f"--min-count {config.min_count}: must be at least 1")


def _run(cmd: list[str], stdin=None, stdout=None, what: str = "") -> str:
    """Run a KenLM program; its stderr (where it reports) comes back, or the tail of it in the error."""
    proc = subprocess.run(cmd, stdin=stdin, stdout=stdout if stdout is not None else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        raise ASRError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stderr


_STATISTICS_RE = re.compile(r"^(\d+) (\d+)(?:/(\d+))? D1=", re.MULTILINE)


def ngram_counts(lmplz_report: str) -> dict[str, dict[str, int]]:
    """Per order, the n-grams lmplz kept and the n-grams it saw before pruning (its "Statistics" lines read
    "2 3381/20333 D1=..." for a pruned order, "1 5564 D1=..." for one kept whole)."""
    return {m.group(1): {"kept": int(m.group(2)), "seen": int(m.group(3) or m.group(2))}
            for m in _STATISTICS_RE.finditer(lmplz_report)}


def limit_vocabulary(vocabulary: list[str], counts: Counter[str], min_count: int = 1, vocab_size: int = 0
                     ) -> list[str]:
    """The words of ``vocabulary`` (ranked: most frequent first, ties alphabetical) that ``LMBuildConfig``'s
    limits keep: those counted ``min_count`` times or more, then the first ``vocab_size`` of them (0: all)."""
    kept = [w for w in vocabulary if counts[w] >= min_count]
    return kept[:vocab_size] if vocab_size else kept


def read_word_list(path: Path) -> list[str]:
    """The normalised single words of a word list (one a line); entries that normalise to several words or to
    none ("3-D" becomes "three d") are left out."""
    words = []
    with _open_text(path) as lines:
        for line in lines:
            word = normalize_text(line)
            if word and " " not in word:
                words.append(word)
    return list(dict.fromkeys(words))


def _binarise(build_binary: Path, binary_type: str, arpa: Path, out: Path, options: tuple[str, ...] = ()
              ) -> float:
    """Run build_binary on the ARPA with <unk>'s unigram log10 probability set to ``BINARY_UNK_LOG10``.

    Returns the ARPA's own value. The ARPA file stays as lmplz wrote it; the edited copy is streamed through a
    pipe, so nothing large is written twice. Why the edit: lmplz gives <unk> whatever mass its smoothing leaves
    (log10 about -2 for a small text, -5 or lower for a large one), and the decoder pays alpha times that for every
    piece of a word outside the lexicon, so the unknown-word penalty would depend on the LM's corpus size and
    drown the decoder's ``unk_score``. With log10 P(<unk>) = 0 the LM contributes only its back-off weight (how
    open the context is to new words) and ``unk_score`` is the penalty a user tunes.
    """
    with open(arpa, "rb") as source:
        head = source.read(1 << 16)
        at = head.find(b"\t<unk>\t")
        if at < 0:  # named without its folder: a temporary one, gone by the time this is read
            raise ASRError(f"lmplz wrote no <unk> unigram near the start of {arpa.name}; cannot binarise")
        line_start = head.rindex(b"\n", 0, at) + 1
        unk_arpa = float(head[line_start:at])
        head = head[:line_start] + f"{BINARY_UNK_LOG10:g}".encode() + head[at:]
        proc = subprocess.Popen([str(build_binary), *options, binary_type, "/dev/stdin", str(out)],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(head)
            shutil.copyfileobj(source, proc.stdin, 1 << 20)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        stderr = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            tail = "\n".join(stderr.strip().splitlines()[-6:])
            raise ASRError(f"build_binary failed (exit {proc.returncode}):\n{tail}")
    return unk_arpa


def _unigram_as_bigram(arpa: Path, out: Path) -> None:
    """Write a unigram ARPA model as the same model in bigram form: every word with a back-off of 0 and no bigrams,
    so every word scores exactly as in the unigram model. KenLM's binary formats need at least a bigram model."""
    with open(arpa, encoding="utf-8") as source, open(out, "w", encoding="utf-8") as sink:
        for line in source:
            if line.startswith("ngram 1="):
                line += "ngram 2=0\n"
            elif line.startswith("\\end\\"):
                line = "\\2-grams:\n\n" + line
            elif line.count("\t") == 1:  # a unigram without a back-off (an imported file's <unk> has one)
                line = line.rstrip("\n") + "\t0\n"
            sink.write(line)


def _binarise_staged(build_binary: Path, config: LMBuildConfig, staged: Path, order: int) -> float:
    """``_binarise`` the staged folder's ARPA into its binary (``config``'s structure, quantisation and sort memory);
    a unigram model goes through its bigram form."""
    options = ("-S", config.memory, "-T", str(staged)) if config.binary_type == "trie" else ()
    if config.quantize:
        options += ("-q", str(config.quantize), "-b", str(config.quantize))
    arpa = staged / ARPA
    if order == 1:
        arpa = staged / "bigram-form.arpa"
        _unigram_as_bigram(staged / ARPA, arpa)
    try:
        return _binarise(build_binary, config.binary_type, arpa, staged / BINARY, options)
    finally:
        if arpa != staged / ARPA:
            arpa.unlink(missing_ok=True)


def _place(staged: Path, out: Path) -> None:
    """Move the finished directory into place; an earlier LM at ``out`` is replaced, anything else is kept."""
    if out.exists():
        if not out.is_dir():
            raise InputError(out, "exists and is not a directory")
        contents = list(out.iterdir())
        if contents and not (out / META).exists():
            raise InputError(out, "exists, is not empty and holds no LM (lm.json); choose another --out")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staged, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, out)


def build_lm(texts: list[str | os.PathLike], out: str | os.PathLike, config: LMBuildConfig | None = None,
             progress: bool = True) -> LanguageModel:
    """Normalise ``texts``, estimate an n-gram LM with lmplz, binarise it, and write the LM directory ``out``."""
    config = config or LMBuildConfig()
    _check_config(config)
    paths = [Path(t) for t in texts]
    if not paths:
        raise ASRError("no text files given")
    for path in paths:
        if not path.is_file():
            raise InputError(path, "text file not found")
    for path in map(Path, config.word_lists):
        if not path.is_file():
            raise InputError(path, "word list not found")
    tools = kenlm_tools(build=True, quiet=not progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def say(message: str) -> None:
        if progress:
            print(f"asr lm build: {message}", file=sys.stderr, flush=True)

    from tqdm import tqdm

    started = time.perf_counter()
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        counts: Counter[str] = Counter()
        sources, sentences = [], 0
        corpus = staged / "corpus.txt"
        with open(corpus, "w", encoding="utf-8") as sink:
            for path in paths:
                kept = 0
                lines = tqdm(read_sentences(path), desc=f"normalising {path.name}", unit=" lines",
                             disable=not progress, leave=False)
                for raw in lines:
                    text = normalize_text(raw)
                    if text:
                        sink.write(text + "\n")
                        counts.update(text.split())
                        kept += 1
                sources.append({"path": str(path), "sentences": kept, "bytes": path.stat().st_size})
                sentences += kept
            word_lists = []
            for path in map(Path, config.word_lists):
                # A word list adds each word once, as a one-word sentence: a unigram the lexicon can spell.
                listed = read_word_list(path)
                word_lists.append({"path": str(path), "words": len(listed),
                                   "new": sum(1 for w in listed if w not in counts)})
                for word in listed:
                    sink.write(word + "\n")
                counts.update(listed)
                sentences += len(listed)
        if not counts:
            raise InputError(paths[0] if len(paths) == 1 else ", ".join(map(str, paths)),
                             "no words left after text normalisation")
        vocabulary = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                      if w not in SPECIAL_WORDS]
        say(f"{sentences:,} sentences, {sum(counts.values()):,} words, {len(counts):,} distinct; "
            f"estimating a {config.order}-gram LM (lmplz)")
        cmd = [str(tools.lmplz), "-o", str(config.order), "-S", config.memory, "-T", str(staged),
               # Kneser-Ney discounts cannot be estimated from small or very regular texts; fall back instead of
               # failing (KenLM's documented switch; it changes nothing when the estimates exist).
               "--discount_fallback", "--text", str(corpus), "--arpa", str(staged / ARPA)]
        if config.prune:
            cmd += ["--prune", *map(str, config.prune)]
        limited = limit_vocabulary(vocabulary, counts, config.min_count, config.vocab_size)
        if not limited:
            raise ASRError(f"no word is counted {config.min_count} times or more (--min-count)")
        if len(limited) < len(vocabulary):
            vocabulary = limited
            (staged / "limit_vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
            cmd += ["--limit_vocab_file", str(staged / "limit_vocab.txt")]
        ngrams = ngram_counts(_run(cmd, what="lmplz"))
        say(f"binarising ({config.binary_type}{f', {config.quantize}-bit' if config.quantize else ''})")
        unk_arpa = _binarise_staged(tools.build_binary, config, staged, config.order)
        corpus.unlink()
        (staged / "limit_vocab.txt").unlink(missing_ok=True)
        _finish(staged, out, vocabulary, {
            "order": config.order, "prune": list(config.prune), "binary_type": config.binary_type,
            "quantize": config.quantize, "sentences": sentences, "words": sum(counts.values()),
            "min_count": config.min_count, "vocab_size": config.vocab_size, "word_lists": word_lists,
            "ngrams": ngrams, "sources": sources, "normalisation": "asr.text.normalize_text",
            "config": asdict(config), "unk_arpa": unk_arpa, "build_seconds": round(time.perf_counter() - started, 1)})
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    _say_written(out, config.order, len(vocabulary),
                 f"{len(paths)} text file{'s' if len(paths) != 1 else ''}", time.perf_counter() - started)
    return load_lm(out)


def _finish(staged: Path, out: Path, vocabulary: list[str], meta: dict) -> None:
    """Write words.txt and lm.json (``meta`` plus what every LM folder records) and move the folder into place."""
    (staged / WORDS).write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    unk_arpa = meta.pop("unk_arpa")
    meta = {"format": FORMAT_VERSION, **meta, "vocabulary": len(vocabulary),
            "bytes": {ARPA: (staged / ARPA).stat().st_size, BINARY: (staged / BINARY).stat().st_size},
            "kenlm": KENLM_VERSION, "arpa": ARPA, "binary": BINARY,
            "unk_log10": {"arpa": unk_arpa, "binary": BINARY_UNK_LOG10}}
    (staged / META).write_text(json.dumps(meta, indent=2) + "\n")
    staged.chmod(0o755)
    _place(staged, out)


def _say_written(out: Path, order: int, words: int, source: str, seconds: float) -> None:
    size = (out / BINARY).stat().st_size
    print(f"asr lm build: wrote {out}/ ({order}-gram, {words:,} words, binary {size / 1e6:.1f} MB: {ARPA}, "
          f"{BINARY}, {WORDS}, {META}) from {source} in {seconds:.1f} s")


def _lowercase_arpa(source: Path, dest: Path) -> tuple[dict[int, int], list[str]]:
    """Copy an ARPA file (optionally .gz) lower-cased, with <unk> as the first unigram (added at log10 -100,
    KenLM's own default, when the file has none: ``_binarise`` looks for it near the start).

    Returns the n-gram counts and the vocabulary, most probable unigram first. The unigram section is held in
    memory (LibriSpeech's official LMs: 200,000 lines); the higher orders are streamed.
    """
    counts: dict[int, int] = {}
    with _open_text(source) as lines, open(dest, "w", encoding="utf-8") as out:
        header = []
        for line in lines:
            line = line.strip().lower()
            if line.startswith("ngram "):
                n, _, count = line[6:].partition("=")
                counts[int(n)] = int(count)
            if line == "\\1-grams:":
                break
            header.append(line)
        else:
            raise InputError(source, "not an ARPA file: no \\1-grams: section")
        if not counts or "\\data\\" not in header:
            raise InputError(source, "not an ARPA file: no \\data\\ header with ngram counts")
        unigrams: dict[str, tuple[float, str]] = {}
        for number, line in enumerate(lines, start=len(header) + 2):
            line = line.strip().lower()
            if not line:
                break
            fields = line.split("\t")
            try:
                prob = float(fields[0])
                word = fields[1]
            except (ValueError, IndexError):
                raise InputError(source, f"line {number}: not an ARPA unigram line") from None
            if word in unigrams:
                raise InputError(source, f"line {number}: unigram {word!r} appears twice (after lower-casing)")
            unigrams[word] = (prob, line)
        unk = unigrams.pop("<unk>", None)
        if unk is None:
            counts[1] += 1
        out.write("\n".join(line if not line.startswith("ngram 1=") else f"ngram 1={counts[1]}" for line in header))
        # with a back-off field always: that is how _binarise finds it
        out.write(f"\n\\1-grams:\n{unk[0] if unk else -100:g}\t<unk>\t0\n")
        out.writelines(line + "\n" for _, line in unigrams.values())
        out.write("\n")
        for line in lines:
            out.write(line.lower())
    vocabulary = [w for w, _ in sorted(unigrams.items(), key=lambda kv: (-kv[1][0], kv[0])) if w not in SPECIAL_WORDS]
    return counts, vocabulary


def import_arpa(arpa: str | os.PathLike, out: str | os.PathLike, binary_type: str = "probing",
                progress: bool = True, quantize: int = 0, memory: str = "20%") -> LanguageModel:
    """Write the LM directory ``out`` from an existing ARPA file (e.g. LibriSpeech's official 3-gram or 4-gram),
    binarised as ``binary_type``, quantised to ``quantize`` bits (trie only; 0: not)."""
    arpa, out = Path(arpa), Path(out)
    if not arpa.is_file():
        raise InputError(arpa, "ARPA file not found")
    config = LMBuildConfig(binary_type=binary_type, quantize=quantize, memory=memory)
    _check_config(config)
    tools = kenlm_tools(build=True, quiet=not progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        if progress:
            print(f"asr lm build: lower-casing {arpa}", file=sys.stderr, flush=True)
        counts, vocabulary = _lowercase_arpa(arpa, staged / ARPA)
        unk_arpa = _binarise_staged(tools.build_binary, config, staged, max(counts))
        # An ARPA file tells only the n-grams it kept (as lm.json's "ngrams" of a built LM, without "seen").
        _finish(staged, out, vocabulary, {
            "order": max(counts), "ngrams": {str(n): {"kept": c} for n, c in sorted(counts.items())},
            "binary_type": binary_type, "quantize": quantize, "imported_arpa": str(arpa.resolve()),
            "normalisation": "lower-cased", "unk_arpa": unk_arpa,
            "build_seconds": round(time.perf_counter() - started, 1)})
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    _say_written(out, max(counts), len(vocabulary), str(arpa), time.perf_counter() - started)
    return load_lm(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", nargs="+", metavar="TEXT",
                        help="text files, one sentence a line (.gz allowed), or JSON Lines manifests (their 'text')")
    source.add_argument("--arpa", metavar="FILE",
                        help="instead of estimating, bring in this ARPA file (.gz allowed), e.g. LibriSpeech's "
                             "official 3-gram.pruned.1e-7.arpa.gz or 4-gram.arpa.gz; only --binary-type, --quantize and "
                             "--memory apply")
    parser.add_argument("--order", type=int, default=4, help=f"n-gram order (1 to {MAX_ORDER})")
    parser.add_argument("--out", required=True, help="the LM directory to write")
    parser.add_argument("--prune", type=int, nargs="+", default=[], metavar="COUNT",
                        help="lmplz pruning: per order, drop n-grams seen at most COUNT times; e.g. 0 0 1 "
                             "drops singleton trigrams and higher (unigrams are never pruned)")
    parser.add_argument("--binary-type", choices=["probing", "trie"], default="probing",
                        help="KenLM binary structure: probing is fastest, trie about half the size")
    parser.add_argument("--quantize", type=int, default=0, metavar="BITS",
                        help="quantise probabilities and back-off weights to BITS bits (trie only; e.g. 8)")
    parser.add_argument("--word-list", nargs="+", default=[], metavar="FILE",
                        help="word lists (one word a line): each word joins the vocabulary as a unigram")
    parser.add_argument("--min-count", type=int, default=1, metavar="N",
                        help="leave out words counted fewer than N times (text counts plus one per word list)")
    parser.add_argument("--vocab-size", type=int, default=0, metavar="N",
                        help="keep only the N most frequent words (after --min-count; ties at the cut in "
                             "alphabetical order; LibriSpeech's official LMs: 200000); the rest become <unk>; 0: all")
    parser.add_argument("--memory", default="20%", help="lmplz and build_binary sort memory (-S), e.g. 20%% or 2G")
    parser.add_argument("--quiet", action="store_true", help="only the final line")


def run(args: argparse.Namespace) -> int:
    if args.arpa:
        # An ARPA file is already estimated: options that shape the estimate would be silently ignored.
        given = [name for name, value in (("--prune", args.prune), ("--vocab-size", args.vocab_size),
                                          ("--word-list", args.word_list), ("--min-count", args.min_count != 1))
                 if value]
        if given:
            raise ASRError(f"{', '.join(given)}: not for --arpa (the ARPA file is already estimated)")
        import_arpa(args.arpa, args.out, args.binary_type, progress=not args.quiet, quantize=args.quantize,
                    memory=args.memory)
        return 0
    config = LMBuildConfig(order=args.order, prune=tuple(args.prune), binary_type=args.binary_type,
                           memory=args.memory, quantize=args.quantize, word_lists=tuple(args.word_list),
                           min_count=args.min_count, vocab_size=args.vocab_size)
    build_lm(args.text, args.out, config, progress=not args.quiet)
    return 0


