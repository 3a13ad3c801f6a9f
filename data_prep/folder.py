"""A folder of your own recordings → manifests (`asr prep folder DIR OUT`), for fine-tuning or evaluation.

Transcripts come from either
  * a text file beside each recording: ``talk/001.wav`` with ``talk/001.txt`` (or ``.lab``), or
  * one table, ``--transcripts FILE``: a line per recording, ``KEY<TAB>TEXT`` or ``KEY|TEXT`` (LJSpeech's
    ``metadata.csv`` with ``ID|raw text|normalised text`` works: the last field is the text); KEY is the recording's
    path under DIR or under the table's folder, with or without its extension, or its file name without
    extension. ``#`` lines are comments.

Recordings are every audio file under DIR (``asr.audio.AUDIO_SUFFIXES``: .wav, .flac, .ogg, .opus, .mp3, ...).
Writes ``OUT/all.jsonl``, and with ``--dev-fraction F`` also ``OUT/train.jsonl`` and ``OUT/dev.jsonl`` (a random share F of the recordings for dev, or,
with ``--speaker-from-folder`` and two speakers or more, whole speakers coming as close to that share as they can,
so that dev measures unheard voices).
Utterance ids are the paths under DIR without extension, ``/`` replaced by ``-``.

A recording that cannot be read, has no transcript or an empty one, or a table line that names no recording, is
reported by name and left out; the rest is written and the command exits 1.

    asr prep folder my-recordings/ data/mine --dev-fraction 0.1
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from pathlib import Path

from asr.audio import AUDIO_SUFFIXES, audio_info, find_audio_files
from asr.data.manifest import Utterance, write_manifest
from asr.errors import InputError
from asr.text import normalize_text

TRANSCRIPT_SUFFIXES = (".txt", ".lab")


def read_table(path: Path) -> tuple[dict[str, str], list[str]]:
    """KEY → text from a transcript table; and its unparsable lines, as problems."""
    if not path.is_file():
        raise InputError(path, "transcript table not found")
    table, problems = {}, []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = re.split(r"\t|\|", line)
        if len(fields) < 2:
            problems.append(f"{path}:{number}: no tab or | between the recording and its text")
            continue
        table[fields[0].strip()] = fields[-1].strip()
    return table, problems


def table_keys(recording: Path, bases: list[Path]) -> list[str]:
    """The keys a table may use for ``recording``: its path under each base (DIR, the table's folder) with and
    without extension, and its file name without extension."""
    keys = []
    for base in bases:
        try:
            relative = recording.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
        keys += [relative, relative.rsplit(".", 1)[0]]
    return keys + [recording.stem]


def sibling_transcript(recording: Path) -> str | None:
    for suffix in TRANSCRIPT_SUFFIXES:
        path = recording.with_suffix(suffix)
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace").strip()
    return None


def collect(root: Path, table: dict[str, str] | None, speaker: str | None, speaker_from_folder: bool,
            table_folder: Path | None = None) -> tuple[list[Utterance], list[str]]:
    """The utterances of the recordings under ``root``, and a line per recording or table entry left out."""
    utterances, problems, used_keys, ids = [], [], set(), {}
    bases = [root] + ([table_folder] if table_folder is not None else [])
    for recording in find_audio_files(root):
        if table is not None:
            key = next((k for k in table_keys(recording, bases) if k in table), None)
            text = None if key is None else table[key]
            used_keys.add(key)
        else:
            text = sibling_transcript(recording)
        if text is None:
            where = ("no line for it in the transcript table" if table is not None else
                     f"no {' or '.join(recording.with_suffix(s).name for s in TRANSCRIPT_SUFFIXES)} beside it")
            problems.append(f"{recording}: no transcript ({where})")
            continue
        if not normalize_text(text):
            problems.append(f"{recording}: the transcript is empty (after normalisation)")
            continue
        try:
            duration = audio_info(recording).duration
        except InputError as err:
            problems.append(str(err))
            continue
        utt_id = recording.relative_to(root).as_posix().rsplit(".", 1)[0].replace("/", "-")
        if utt_id in ids:
            problems.append(f"{recording}: same id {utt_id!r} as {ids[utt_id]} (two formats of one recording?)")
            continue
        ids[utt_id] = recording
        who = recording.parent.relative_to(root).as_posix() if speaker_from_folder else speaker
        utterances.append(Utterance(utt_id, str(recording.resolve()), duration, text, who or None))
    if table is not None:
        problems += [f"table entry {k!r}: no such recording under {root}" for k in table if k not in used_keys]
    return utterances, problems


def split_dev(utterances: list[Utterance], fraction: float, seed: int, by_speaker: bool
              ) -> tuple[list[Utterance], list[Utterance]]:
    """(train, dev): whole speakers for dev when asked and there are two or more, else recordings at random."""
    rng = random.Random(seed)
    sizes = Counter(u.speaker for u in utterances if u.speaker)
    if by_speaker and len(sizes) >= 2:
        # Whole speakers, as close to the share of recordings as they come: first the one nearest the target,
        # then others (in random order) while they fit under it; at least one speaker stays in train.
        speakers = sorted(sizes)
        rng.shuffle(speakers)
        target = fraction * len(utterances)
        held = {min(speakers, key=lambda s: abs(sizes[s] - target))}
        for s in speakers:
            if s not in held and len(held) < len(speakers) - 1 and sum(sizes[h] for h in held) + sizes[s] <= target:
                held.add(s)
        in_dev = {u.id for u in utterances if u.speaker in held}
    else:
        order = list(utterances)
        rng.shuffle(order)
        in_dev = {u.id for u in order[: min(len(order) - 1, max(1, round(fraction * len(order))))]}
    return [u for u in utterances if u.id not in in_dev], [u for u in utterances if u.id in in_dev]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="folder of recordings (searched recursively)")
    parser.add_argument("out", help="folder for the manifests (all.jsonl; train.jsonl and dev.jsonl with "
                                    "--dev-fraction)")
    parser.add_argument("--transcripts", metavar="FILE", help="a table KEY<TAB>TEXT or KEY|TEXT instead of a .txt "
                                                               "beside each recording")
    parser.add_argument("--dev-fraction", type=float, default=0.0, help="share of the recordings (or speakers) "
                                                                        "for a dev manifest")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--speaker", help="one speaker name for every recording")
    who.add_argument("--speaker-from-folder", action="store_true", help="each recording's folder names its speaker")
    parser.add_argument("--seed", type=int, default=0, help="for the dev split")


def run(args: argparse.Namespace) -> int:
    root, out = Path(args.root), Path(args.out)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    if not 0.0 <= args.dev_fraction < 1.0:
        raise InputError(args.dev_fraction, "--dev-fraction must be at least 0 and below 1")
    table, problems = (None, []) if args.transcripts is None else read_table(Path(args.transcripts))
    utterances, left_out = collect(root, table, args.speaker, args.speaker_from_folder,
                                   None if args.transcripts is None else Path(args.transcripts).parent)
    problems += left_out
    for problem in problems:
        print(f"asr prep folder: {problem}", file=sys.stderr)
    if not utterances:
        raise InputError(root, f"no usable recordings ({len(problems)} left out, {', '.join(sorted(AUDIO_SUFFIXES))} "
                               f"searched)")
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out / "all.jsonl", utterances)
    written = [f"{out / 'all.jsonl'} ({len(utterances)})"]
    if args.dev_fraction > 0:
        if len(utterances) < 2:
            raise InputError(root, "one usable recording cannot be split into train and dev")
        train, dev = split_dev(utterances, args.dev_fraction, args.seed, args.speaker_from_folder)
        write_manifest(out / "train.jsonl", train)
        write_manifest(out / "dev.jsonl", dev)
        written += [f"{out / 'train.jsonl'} ({len(train)})", f"{out / 'dev.jsonl'} ({len(dev)})"]
    minutes = sum(u.duration for u in utterances) / 60
    print(f"asr prep folder: {len(utterances)} recordings, {minutes:.1f} min; wrote {', '.join(written)}"
          + (f"; {len(problems)} left out (above)" if problems else ""))
    return 1 if problems else 0
