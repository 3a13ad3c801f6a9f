"""Manifests: JSON Lines, one utterance a line, and their validation (`asr prep validate`).

A line is ``{"id", "audio", "duration", "text"}`` plus optional ``"speaker"`` and ``"offset"`` (seconds into
the file, for corpora with several utterances in one file). ``audio`` may be relative to the manifest's folder;
``read_manifest`` resolves it to an absolute path and ``write_manifest`` writes it relative again when the file
lies under the manifest's folder, so a corpus folder can be moved as a whole.

``read_manifest`` checks the schema only (cheap). ``validate_manifest`` also opens every audio header and
tokenises every text: what ``asr prep validate`` runs before hours of training are spent on a corpus.
``read_utterance_audio`` is the one way the toolkit reads a line's samples (features, evaluation, perturbation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.errors import InputError
from asr.fileio import atomic_path

# A duration may differ from the audio header by this much (seconds) before it counts as wrong: manifests from
# other tools round durations to 10 ms, and compressed formats' headers can be off by a frame.
DURATION_TOLERANCE_S = 0.05


@dataclass
class Utterance:
    """One manifest line. ``audio`` is an absolute path once read from a manifest."""

    id: str
    audio: str
    duration: float
    text: str
    speaker: str | None = None
    offset: float | None = None

    def to_dict(self, base: Path | None = None) -> dict:
        """The manifest line; ``audio`` relative to ``base`` when it lies under it."""
        audio = self.audio
        if base is not None:
            try:
                audio = Path(os.path.abspath(audio)).relative_to(base.resolve()).as_posix()
            except ValueError:
                pass
        d = {"id": self.id, "audio": audio, "duration": round(float(self.duration), 4), "text": self.text}
        if self.speaker is not None:
            d["speaker"] = self.speaker
        if self.offset is not None:
            d["offset"] = self.offset
        return d


class ManifestError(InputError):
    """A manifest with bad lines; ``problems`` holds ``(line_number, problem)`` pairs, all of them."""

    def __init__(self, path: str | os.PathLike, problems: list[tuple[int, str]]):
        self.problems = problems
        listing = "; ".join(f"line {n}: {p}" for n, p in problems)
        super().__init__(path, f"{len(problems)} bad line{'s' if len(problems) != 1 else ''}: {listing}")


def _parse_line(line: str, base: Path) -> Utterance:
    """One manifest line → Utterance, or ValueError saying what is wrong with it."""
    try:
        d = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"unreadable JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in ("id", "audio", "duration", "text") if k not in d]
    if missing:
        raise ValueError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for key in ("id", "audio", "text"):
        if not isinstance(d[key], str):
            raise ValueError(f"{key} must be a string, not {type(d[key]).__name__}")
    if not d["id"]:
        raise ValueError("empty id")
    if not d["audio"]:
        raise ValueError("empty audio path")
    duration = d["duration"]
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration):
        raise ValueError(f"duration must be a number, not {duration!r}")
    if duration <= 0:
        raise ValueError(f"duration {duration} is not positive")
    offset = d.get("offset")
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int | float)
                               or not math.isfinite(offset) or offset < 0):
        raise ValueError(f"offset must be a non-negative number, not {offset!r}")
    speaker = d.get("speaker")
    if speaker is not None and not isinstance(speaker, str):
        speaker = str(speaker)
    audio = Path(d["audio"]).expanduser()
    audio = audio if audio.is_absolute() else base / audio
    return Utterance(d["id"], os.path.abspath(audio), float(duration), d["text"], speaker,
                     None if offset is None else float(offset))


def _parse(path: Path) -> tuple[list[tuple[int, Utterance]], list[tuple[int, str]]]:
    """Every line of a manifest: the good ones with their numbers, and the schema problems."""
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, not a manifest")
    base = path.resolve().parent
    good: list[tuple[int, Utterance]] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            utt = _parse_line(line, base)
        except ValueError as err:
            problems.append((number, str(err)))
            continue
        if utt.id in seen:
            problems.append((number, f"duplicate id {utt.id!r} (first on line {seen[utt.id]})"))
            continue
        seen[utt.id] = number
        good.append((number, utt))
    return good, problems


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """All utterances of a manifest; ``ManifestError`` lists every line that breaks the schema."""
    path = Path(path)
    good, problems = _parse(path)
    if problems:
        raise ManifestError(path, problems)
    return [utt for _, utt in good]


def read_utterance_audio(utt: Utterance, sample_rate: int) -> np.ndarray:
    """The samples of one manifest line as float32 mono at ``sample_rate``.

    A line with an ``offset`` (0.0 included) is the segment ``[offset, offset + duration)`` of its file; a line
    without one is the whole file (its ``duration`` is what the header says, checked by validation). Anything
    with ``audio``, ``offset`` and ``duration`` attributes will do. Raises ``asr.audio.AudioError``.
    """
    from asr.audio import load_audio

    if utt.offset is None:
        return load_audio(utt.audio, sample_rate)
    return load_audio(utt.audio, sample_rate, utt.offset, utt.duration)


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> Path:
    """Write a manifest atomically (temp name, then rename); audio paths under its folder become relative."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for utt in utterances:
            f.write(json.dumps(utt.to_dict(base), ensure_ascii=False) + "\n")
    return path


# --- validation ----------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """Outcome of ``validate_manifest``: the good utterances and every bad line with its problems."""

    path: Path
    lines: int
    good: list[Utterance] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_audio(utt: Utterance) -> str | None:
    """The problem with an utterance's audio, or None."""
    from asr.audio import AudioError, audio_info

    try:
        info = audio_info(utt.audio)
    except AudioError as err:
        return f"audio {err}"
    offset = utt.offset or 0.0
    if utt.offset is None:
        if abs(info.duration - utt.duration) > DURATION_TOLERANCE_S + 0.01 * info.duration:
            return f"duration {utt.duration:.3f} s does not match the audio ({info.duration:.3f} s in {utt.audio})"
    elif offset + utt.duration > info.duration + DURATION_TOLERANCE_S:
        return (f"offset {offset:.3f} s + duration {utt.duration:.3f} s runs past the end of the audio "
                f"({info.duration:.3f} s in {utt.audio})")
    return None


def _dropped_letters(text: str) -> set[str]:
    """Letters that normalisation would silently drop (non-Latin scripts): the transcript would lose words."""
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return {c for c in plain if c.isalpha() and not ("a" <= c.lower() <= "z")}


def validate_manifest(path: str | os.PathLike, tokenizer=None, check_audio: bool = True,
                      workers: int = 8) -> ValidationReport:
    """Check every line: schema, duplicate ids, empty text, letters normalisation would drop (non-Latin
    scripts), text the tokenizer cannot encode (after ``normalize_text``), missing or unreadable audio, and
    durations against the audio headers.

    ``tokenizer`` is any asr.text tokenizer (None skips that check). Headers are read by ``workers`` threads
    (the work is file I/O, so threads suffice). Never raises for a bad line: every problem goes in the report.
    """
    from asr.text import normalize_text

    path = Path(path)
    parsed, problems = _parse(path)
    lines = len(parsed) + len(problems)
    bad: dict[int, list[str]] = {}
    for number, problem in problems:
        bad.setdefault(number, []).append(problem)
    for number, utt in parsed:
        text = normalize_text(utt.text)
        dropped = _dropped_letters(utt.text)
        if dropped:
            bad.setdefault(number, []).append(
                f"letters that normalisation drops: {''.join(sorted(dropped))!r}")
        if not text:
            bad.setdefault(number, []).append("empty text" if not utt.text.strip()
                                              else f"text {utt.text!r} has no words after normalisation")
        elif tokenizer is not None:
            unknown = tokenizer.unknown_symbols(text)
            if unknown:
                bad.setdefault(number, []).append(
                    f"characters the tokenizer cannot encode: {''.join(sorted(unknown))!r}")
    if check_audio and parsed:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for (number, _), problem in zip(parsed, pool.map(_check_audio, [u for _, u in parsed])):
                if problem:
                    bad.setdefault(number, []).append(problem)
    report = ValidationReport(path, lines)
    report.good = [utt for number, utt in parsed if number not in bad]
    report.problems = [(number, "; ".join(bad[number])) for number in sorted(bad)]
    return report


# --- `asr prep validate` -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", help="manifest to check (JSON Lines)")
    parser.add_argument("--tokenizer", choices=["char", "none"], default="char",
                        help="check that every normalised text is encodable by this tokenizer "
                             "(char: a-z, apostrophe, space)")
    parser.add_argument("--clean", metavar="OUT", help="also write the good lines to this manifest")
    parser.add_argument("--no-audio", action="store_true", help="skip opening the audio files")
    parser.add_argument("--workers", type=int, default=8, help="threads reading audio headers")


def run(args: argparse.Namespace) -> int:
    import sys

    from asr.text import CharTokenizer

    tokenizer = CharTokenizer() if args.tokenizer == "char" else None
    report = validate_manifest(args.manifest, tokenizer, check_audio=not args.no_audio, workers=args.workers)
    for number, problem in report.problems:
        print(f"{report.path}:{number}: {problem}", file=sys.stderr)
    summary = f"{report.path}: {report.lines} lines, {len(report.problems)} bad"
    if args.clean:
        out = write_manifest(args.clean, report.good)
        summary += f"; wrote {len(report.good)} good lines to {out}"
    print(summary)
    return 0 if report.ok else 1
