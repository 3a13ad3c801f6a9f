"""Word and character error rates with their substitution, deletion and insertion counts, and alignment reports.

The edit operations come from rapidfuzz's Levenshtein (C++), which takes word lists as well as strings.
Rates: ``errors / reference length``. An empty reference has no length to divide by; its rate is the number of
inserted tokens (0.0 when the hypothesis is empty too), so one spurious word on silence counts as 100%.
Corpus rates sum the counts over utterances first (as sclite does), they are not an average of rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein


@dataclass
class ErrorCounts:
    """Edit counts of hypotheses against references."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_length: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def hits(self) -> int:
        return self.reference_length - self.substitutions - self.deletions

    @property
    def rate(self) -> float:
        return self.errors / self.reference_length if self.reference_length else float(self.insertions)

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(self.substitutions + other.substitutions, self.deletions + other.deletions,
                           self.insertions + other.insertions, self.reference_length + other.reference_length)

    def to_dict(self) -> dict:
        return {"rate": self.rate, "errors": self.errors, "substitutions": self.substitutions,
                "deletions": self.deletions, "insertions": self.insertions,
                "reference_length": self.reference_length}


@dataclass(frozen=True)
class AlignedPair:
    """One step of an alignment: ``op`` is ``=`` (match), ``S``, ``D`` (ref only) or ``I`` (hyp only)."""

    op: str
    ref: str | None
    hyp: str | None


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[AlignedPair]:
    """A minimum-edit alignment of two token sequences."""
    pairs: list[AlignedPair] = []
    for op in Levenshtein.opcodes(ref, hyp):
        if op.tag == "equal":
            pairs += [AlignedPair("=", ref[i], hyp[j]) for i, j in zip(range(op.src_start, op.src_end),
                                                                       range(op.dest_start, op.dest_end))]
        elif op.tag == "replace":
            pairs += [AlignedPair("S", ref[i], hyp[j]) for i, j in zip(range(op.src_start, op.src_end),
                                                                       range(op.dest_start, op.dest_end))]
        elif op.tag == "delete":
            pairs += [AlignedPair("D", ref[i], None) for i in range(op.src_start, op.src_end)]
        else:
            pairs += [AlignedPair("I", None, hyp[j]) for j in range(op.dest_start, op.dest_end)]
    return pairs


def _counts(ref: Sequence[str], hyp: Sequence[str]) -> ErrorCounts:
    counts = ErrorCounts(reference_length=len(ref))
    for op in Levenshtein.editops(ref, hyp):
        if op.tag == "replace":
            counts.substitutions += 1
        elif op.tag == "delete":
            counts.deletions += 1
        else:
            counts.insertions += 1
    return counts


def word_errors(ref: str, hyp: str) -> ErrorCounts:
    """Word-level edit counts of ``hyp`` against ``ref`` (words split on white space)."""
    return _counts(ref.split(), hyp.split())


def char_errors(ref: str, hyp: str) -> ErrorCounts:
    """Character-level edit counts, spaces included (runs of white space count as one space)."""
    return _counts(list(" ".join(ref.split())), list(" ".join(hyp.split())))


def wer(ref: str, hyp: str) -> float:
    return word_errors(ref, hyp).rate


def cer(ref: str, hyp: str) -> float:
    return char_errors(ref, hyp).rate


def format_alignment(pairs: Iterable[AlignedPair]) -> tuple[str, str, str]:
    """Three column-aligned lines: reference, hypothesis, and the error marks under them.

    Deleted words show ``***`` in the hypothesis line, inserted words ``***`` in the reference line.
    """
    ref_cells, hyp_cells, mark_cells = [], [], []
    for p in pairs:
        ref_word = p.ref if p.ref is not None else "***"
        hyp_word = p.hyp if p.hyp is not None else "***"
        if p.op == "S":  # upper case draws the eye to the differing words
            ref_word, hyp_word = ref_word.upper(), hyp_word.upper()
        width = max(len(ref_word), len(hyp_word))
        ref_cells.append(ref_word.ljust(width))
        hyp_cells.append(hyp_word.ljust(width))
        mark_cells.append(("" if p.op == "=" else p.op).ljust(width))
    return " ".join(ref_cells).rstrip(), " ".join(hyp_cells).rstrip(), " ".join(mark_cells).rstrip()


@dataclass
class UtteranceScore:
    utt_id: str
    ref: str
    hyp: str
    words: ErrorCounts
    chars: ErrorCounts


@dataclass
class ErrorRateAccumulator:
    """Scores utterance by utterance and aggregates corpus WER and CER."""

    utterances: list[UtteranceScore] = field(default_factory=list)
    words: ErrorCounts = field(default_factory=ErrorCounts)
    chars: ErrorCounts = field(default_factory=ErrorCounts)

    def add(self, ref: str, hyp: str, utt_id: str | None = None) -> UtteranceScore:
        score = UtteranceScore(utt_id if utt_id is not None else str(len(self.utterances)), ref, hyp,
                               word_errors(ref, hyp), char_errors(ref, hyp))
        self.utterances.append(score)
        self.words += score.words
        self.chars += score.chars
        return score

    @property
    def wer(self) -> float:
        return self.words.rate

    @property
    def cer(self) -> float:
        return self.chars.rate

    def summary(self) -> dict:
        return {"utterances": len(self.utterances), "wer": self.wer, "cer": self.cer,
                "words": self.words.to_dict(), "chars": self.chars.to_dict()}

    def report(self, errors_only: bool = False) -> str:
        """The per-utterance alignment report: a header with corpus figures, then each utterance aligned."""
        w = self.words
        lines = [f"WER {100 * self.wer:.2f}% ({w.errors} errors / {w.reference_length} words: "
                 f"{w.substitutions} sub, {w.deletions} del, {w.insertions} ins)  "
                 f"CER {100 * self.cer:.2f}%  utterances {len(self.utterances)}", ""]
        for u in sorted(self.utterances, key=lambda u: -u.words.errors):
            if errors_only and u.words.errors == 0:
                continue
            ref_line, hyp_line, marks = format_alignment(align(u.ref.split(), u.hyp.split()))
            lines += [f"{u.utt_id}  WER {100 * u.words.rate:.1f}% (S={u.words.substitutions} "
                      f"D={u.words.deletions} I={u.words.insertions} N={u.words.reference_length})",
                      f"  REF: {ref_line}", f"  HYP: {hyp_line}"]
            if marks:
                lines.append(f"       {marks}")
            lines.append("")
        return "\n".join(lines)
