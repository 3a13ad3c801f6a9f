"""``asr score``: WER and CER of a hypothesis file against a reference file, with an alignment report.

Each file is either JSON Lines with ``text`` and an ``id`` (a manifest) or a ``source`` (``asr transcribe --format
json`` output: the audio file, as given on its command line), or plain text, one ``ID words...`` line per utterance
(Kaldi's text format). Utterances pair by id; a hypothesis that names only its audio file pairs with the reference
whose ``audio`` is that file (relative paths are taken from the current folder for ``source``, and from the
manifest's folder for ``audio``, as everywhere else).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import InputError
from asr.metrics import ErrorRateAccumulator
from asr.text import normalize_text


@dataclass
class Transcripts:
    texts: dict[str, str]  # by utterance id; a record with only a "source" is under that audio file's path
    audio: dict[str, str] = field(default_factory=dict)  # absolute audio path → the id of the one record naming it


def _audio_path(name: str, base: Path) -> str:
    return os.path.realpath(base / Path(name).expanduser())


def read_transcripts(path: str | os.PathLike) -> Transcripts:
    """The texts of a JSON Lines file or ``ID text`` lines (see the module docstring); bad lines are reported by
    number."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    texts: dict[str, str] = {}
    audio: dict[str, list[str]] = {}
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
                if "id" in record:
                    utt_id = str(record["id"])
                    if isinstance(record.get("audio"), str):  # a manifest: audio relative to its folder
                        audio.setdefault(_audio_path(record["audio"], path.resolve().parent), []).append(utt_id)
                else:  # asr transcribe's JSON: the file as given on its command line
                    utt_id = _audio_path(str(record["source"]), Path.cwd())
                text = str(record.get("text", ""))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
                problems.append(f"line {number}: not a JSON object with an 'id' or a 'source' ({err})")
                continue
        else:
            utt_id, _, text = line.strip().partition(" ")
        if utt_id in texts:
            problems.append(f"line {number}: id {utt_id!r} appears twice")
        texts[utt_id] = text
    if problems:
        raise InputError(path, "; ".join(problems))
    # A file with several utterances (segments at offsets) cannot stand for one of them.
    return Transcripts(texts, {file: ids[0] for file, ids in audio.items() if len(ids) == 1})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", help="reference transcripts (JSON Lines with id/text, or 'ID text' lines)")
    parser.add_argument("hyp", help="hypothesis transcripts, same formats or `asr transcribe --format json` output")
    parser.add_argument("--normalize", action="store_true", help="apply English normalisation to both sides")
    parser.add_argument("--report", help="write the per-utterance alignment report to this file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    references = read_transcripts(args.ref)
    refs = references.texts
    # a hypothesis under its audio file's path takes the id of the reference with that audio
    hyps = {references.audio.get(key, key): text for key, text in read_transcripts(args.hyp).texts.items()}
    missing = sorted(set(refs) - set(hyps))
    extra = sorted(set(hyps) - set(refs))
    scores = ErrorRateAccumulator()
    for utt_id, ref in refs.items():
        hyp = hyps.get(utt_id, "")
        if args.normalize:
            ref, hyp = normalize_text(ref), normalize_text(hyp)
        scores.add(ref, hyp, utt_id)
    if missing:
        print(f"asr score: {len(missing)} reference utterances have no hypothesis (scored as empty), "
              f"e.g. {missing[0]}", file=sys.stderr)
    if extra:
        print(f"asr score: {len(extra)} hypotheses have no reference and were ignored, e.g. {extra[0]}",
              file=sys.stderr)
    if args.report:
        Path(args.report).write_text(scores.report(), encoding="utf-8")
    summary = scores.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        w = scores.words
        print(f"WER {100 * scores.wer:.2f}%  [{w.errors} / {w.reference_length}: {w.substitutions} sub, "
              f"{w.deletions} del, {w.insertions} ins]  CER {100 * scores.cer:.2f}%  "
              f"({len(scores.utterances)} utterances)" + (f"; report: {args.report}" if args.report else ""))
    return 0
