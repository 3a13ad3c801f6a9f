"""Real human speech for training: The Ur-Quan Masters' voiced dialogue lines (`asr prep uqm-lines OUT`).

The 3DO voice pack (Debian `uqm-voice`, non-free, CC BY-NC-SA 2.5: non-commercial) holds about 2,200 recordings of
voice actors reading the game's alien dialogue, and the game shows each line's subtitle while it plays (the
conversation files ``comm/<race>/<race>.txt`` of `uqm-content`, or the voice pack's own for a few races). The
subtitle is the transcript. Kept: recordings whose subtitle is a whole line (not a piece the game splices with the
player's name), without digits or markup, 0.8-16 s long and spoken at most 25 characters a second (longer or
faster ones are lines the actor cut or a subtitle that is not what was said). No one listened to them: an actor
who left the script makes a noisy transcript, and some voices are processed by the game (Ur-Quan, Chmmr, Mycon,
...), so this is training material, not a test set.

Real-dev (data_prep/REAL_DEV.md) holds 53 UQM lines of 12 actors, one race each. So that real-dev stays held out by
speaker, the default races are the ones none of those actors voice: the Zoq-Fot-Pik, the Umgah and the races whose
voices the game processes. ``--races all`` adds the other lines of real-dev's actors (real-dev's ``uqm`` source then
measures seen speakers, its other four sources stay unseen); the recordings real-dev's review looked at are never
taken.

Writes ``OUT/train.jsonl`` and ``OUT/dev.jsonl`` (``--dev-lines`` random lines) with the usual manifest keys plus
``source`` and ``origin`` (``<archive>/<member>``), the recordings copied byte for byte to ``OUT/audio/`` (Ogg
Vorbis, read directly), and ``OUT/corpus.json`` (lines, hours and speakers per race). A member that is missing or
does not decode is reported and skipped; the rest is written and the command exits 1.

    apt-get install uqm-voice uqm-content      # make install does it (contrib/non-free)
    asr prep uqm-lines data/uqm-lines          # 0.8 h of the races real-dev does not hear
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import InputError
from asr.fileio import atomic_write_text
from asr.text import normalize_text
from data_prep.real_dev import write_copy, write_manifest_rows

VOICE_PACK = Path("/usr/share/games/uqm/content/addons/uqm-0.8.0-voice.uqm")  # uqm-voice
CONTENT = Path("/usr/share/games/uqm/content/packages/uqm-0.8.0-content.uqm")  # uqm-content: the subtitles
ENTRY = re.compile(r"^#\(([^)]*)\)[ \t]*(\S*)[ \t]*$")  # "#(LABEL)  race-012.ogg"
NOT_SPOKEN = re.compile(r"[0-9*<>%$#_]")  # digits and markup: the subtitle is not what was said word for word
REVIEW = Path(__file__).with_name("real_dev_review.tsv")  # every UQM recording real-dev's review looked at
# Races whose actors are in real-dev, and the sets that repeat one of those actors (commander: Hayes of starbase;
# safeones: the Spathi; yehatrebels: the Yehat).
REAL_DEV_ACTORS = ("starbase", "syreen", "spathi", "melnorme", "pkunk", "thraddash", "druuge", "utwig", "vux",
                   "shofixti", "yehat", "supox", "commander", "safeones", "yehatrebels")
# The rest (the probe, a synthesised voice, is left out).
OTHER_RACES = ("zoqfotpik", "umgah", "urquan", "kohrah", "chmmr", "mycon", "orz", "arilou", "ilwrath", "slylandro",
               "talkingpet")


def dialogue(text: str) -> list[tuple[str, str, str]]:
    """A UQM conversation file's entries: (label, recording or "", subtitle lines joined by spaces)."""
    entries: list[list] = []
    for line in text.splitlines():
        head = ENTRY.match(line)
        if head:
            entries.append([head.group(1), head.group(2), []])
        elif entries and line.strip():
            entries[-1][2].append(line.strip())
    return [(label, ogg, " ".join(lines)) for label, ogg, lines in entries]


def subtitled_recordings(voice: zipfile.ZipFile, content: zipfile.ZipFile, race: str,
                         once: bool = True) -> list[tuple[str, str]]:
    """(voice-pack member, subtitle) of the race's recordings whose subtitle is one whole, plainly spoken line.

    Left out: an entry the game splices with the player's or ship's name (it is followed by an entry without a
    recording whose label ends in a digit), subtitles with digits or markup, and (``once``) a recording that a
    second entry names again.
    """
    members = set(voice.namelist())
    own = f"3dovoice/{race}/{race}.txt"  # a few races' subtitles ship in the voice pack, the rest in the content
    name = f"base/comm/{race}/{race}.txt"
    if own in members:
        text = voice.read(own)
    elif name in content.namelist():
        text = content.read(name)
    else:
        return []
    entries = dialogue(text.decode("utf-8", errors="replace"))
    out, seen = [], set()
    for k, (_label, ogg, subtitle) in enumerate(entries):
        member = f"3dovoice/{race}/{ogg}"
        spliced = k + 1 < len(entries) and not entries[k + 1][1] and re.search(r"\d$", entries[k + 1][0])
        if (once and member in seen) or member not in members or spliced or not subtitle or NOT_SPOKEN.search(subtitle):
            continue
        seen.add(member)
        out.append((member, subtitle))
    return out


def reviewed_members(review: Path = REVIEW) -> set[str]:
    """The voice-pack members real-dev's review considered (kept or dropped): never training material."""
    text = review.read_text(encoding="utf-8") if review.is_file() else ""
    return set(re.findall(r"3dovoice/[^/\s]+/[^/\s]+\.ogg", text))


@dataclass
class UQMLinesConfig:
    races: tuple[str, ...] = OTHER_RACES
    min_s: float = 0.8
    max_s: float = 16.0
    max_chars_per_s: float = 25.0  # faster than any speech: the subtitle says more than the recording
    dev_lines: int = 60
    seed: int = 0
    voice_pack: Path = VOICE_PACK
    content: Path = CONTENT
    review: Path = REVIEW


@dataclass
class Prepared:
    rows: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why lines were left out → how many

    def keep(self, target: Path, data: bytes, *, id: str, duration: float, **row) -> None:
        """Copy a kept recording's bytes to ``target`` (unless they are there already) and add its manifest row."""
        if not (target.is_file() and target.stat().st_size == len(data)):
            write_copy(target, data)
        self.rows.append({"id": id, "audio": str(target.resolve()), "duration": round(duration, 4), **row})

    def keep_samples(self, target: Path, samples, rate: int, **row) -> None:
        """Write a kept recording's samples to ``target`` as 16-bit FLAC and add its manifest row."""
        import soundfile

        flac = io.BytesIO()
        soundfile.write(flac, samples, rate, format="FLAC", subtype="PCM_16")
        self.keep(target, flac.getvalue(), duration=len(samples) / rate, **row)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


@dataclass
class LineLimits:
    """Which of a game's lines to keep: its recording's length and pace, and text that says what was spoken."""

    min_s: float = 0.8
    max_s: float = 16.0
    min_chars_per_s: float = 4.0  # slower: laughing, humming, a long pause the text does not show
    max_chars_per_s: float = 25.0  # faster than any speech: the text says more than the recording

    def why_left_out(self, written: str, text: str, duration: float, not_spoken: re.Pattern) -> str:
        """Why the line is left out ("" to keep it): ``written`` as the game has it, ``text`` normalised."""
        if not_spoken.search(written) or not text:
            return "digits, stage directions or no words"
        if not self.min_s <= duration <= self.max_s:
            return f"shorter than {self.min_s:g} s or longer than {self.max_s:g} s"
        if not self.min_chars_per_s <= len(text) / duration <= self.max_chars_per_s:
            return f"not {self.min_chars_per_s:g}-{self.max_chars_per_s:g} characters a second"
        return ""


def prepare(config: UQMLinesConfig, out: Path, progress: bool = False) -> Prepared:
    """Copy the kept recordings to ``out/audio/`` and return their manifest rows (and what went wrong)."""
    import soundfile
    from tqdm import tqdm

    result = Prepared()
    excluded = reviewed_members(config.review)
    with zipfile.ZipFile(config.voice_pack) as voice, zipfile.ZipFile(config.content) as content:
        for race in config.races:
            lines = subtitled_recordings(voice, content, race)
            for member, subtitle in tqdm(lines, desc=race, unit="line", disable=not progress, leave=False,
                                         file=sys.stderr):
                if member in excluded:
                    result.skipped["in real-dev's review"] = result.skipped.get("in real-dev's review", 0) + 1
                    continue
                origin = f"{config.voice_pack}/{member}"
                try:
                    data = voice.read(member)
                    duration = soundfile.info(io.BytesIO(data)).duration
                except (zipfile.BadZipFile, RuntimeError) as err:  # soundfile's errors are RuntimeErrors
                    result.failures.append(f"{origin}: cannot read the recording ({err})")
                    continue
                text = normalize_text(subtitle)
                if not config.min_s <= duration <= config.max_s:
                    why = f"shorter than {config.min_s:g} s or longer than {config.max_s:g} s"
                elif not text or len(text) / duration > config.max_chars_per_s:
                    why = f"more than {config.max_chars_per_s:g} characters a second"
                else:
                    why = ""
                if why:
                    result.skipped[why] = result.skipped.get(why, 0) + 1
                    continue
                result.keep(out / "audio" / member, data, id=f"uqm-{Path(member).stem}", duration=duration,
                            text=text, speaker=f"uqm:{race}", source="uqm", origin=origin)
    return result


def split(rows: list[dict], dev_lines: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, dev): ``dev_lines`` random lines for the trainer's dev set (the same actors: for checkpoints only)."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    dev_ids = {r["id"] for r in order[:dev_lines]}
    return [r for r in rows if r["id"] not in dev_ids], [r for r in rows if r["id"] in dev_ids]


# --- `asr prep uqm-lines` ------------------------------------------------------------------------


def add_corpus_arguments(parser: argparse.ArgumentParser, dev_lines: int) -> None:
    """The options every game-lines command has: the output folder, the dev lines and the seed of their draw."""
    parser.add_argument("out", help="folder for train.jsonl, dev.jsonl, corpus.json and audio/")
    parser.add_argument("--dev-lines", type=int, default=dev_lines, help="random lines set aside as the trainer's dev set")
    parser.add_argument("--seed", type=int, default=0)


def prepare_and_write(prepare, config, out: Path, source: Path, name: str, package: str) -> int:
    """Run a game-lines command's ``prepare(config, out)`` into ``out`` and write its corpus (the exit status)."""
    out.mkdir(parents=True, exist_ok=True)
    prepared = prepare(config, out, progress=True)
    if not prepared.rows:
        raise InputError(source, "no usable recording")
    return write_corpus(out, name, package, prepared, config.dev_lines, config.seed, "characters")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="folder for train.jsonl, dev.jsonl, corpus.json and audio/")
    parser.add_argument("--races", nargs="+", default=list(OTHER_RACES), metavar="RACE",
                        help="races to take ('all': also the other lines of real-dev's actors; default: the races "
                             f"real-dev does not hear: {' '.join(OTHER_RACES)})")
    parser.add_argument("--dev-lines", type=int, default=UQMLinesConfig.dev_lines,
                        help="random lines set aside as the trainer's dev set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--voice-pack", type=Path, default=VOICE_PACK, help="the 3DO voice pack (uqm-voice's)")
    parser.add_argument("--content", type=Path, default=CONTENT, help="the game's content pack (uqm-content's)")


def run(args: argparse.Namespace) -> int:
    races = REAL_DEV_ACTORS + OTHER_RACES if args.races == ["all"] else tuple(args.races)
    unknown = sorted(set(races) - set(REAL_DEV_ACTORS + OTHER_RACES))
    if unknown:
        known = " ".join(REAL_DEV_ACTORS + OTHER_RACES)
        raise InputError("asr prep uqm-lines", f"unknown races {unknown}; known: {known}")
    config = UQMLinesConfig(races=races, dev_lines=args.dev_lines, seed=args.seed, voice_pack=args.voice_pack,
                            content=args.content)
    for path, package in ((config.voice_pack, "uqm-voice"), (config.content, "uqm-content")):
        if not path.is_file():
            raise InputError(path, f"not found: install the Debian package {package} (apt-get install {package})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prepared = prepare(config, out, progress=True)
    if not prepared.rows:
        raise InputError(config.voice_pack, f"no usable recording for the races {' '.join(races)}")
    seen = [r for r in races if r in REAL_DEV_ACTORS]
    if seen:
        print(f"uqm-lines: real-dev's actors are in this corpus ({' '.join(seen)}): real-dev's uqm source now "
              "measures speakers seen in training", file=sys.stderr)
    return write_corpus(out, "uqm-lines", "uqm-voice (non-free, CC BY-NC-SA 2.5)", prepared, config.dev_lines,
                        config.seed, "races", {"real_dev_actors_included": seen})


def write_corpus(out: Path, name: str, package: str, prepared: Prepared, dev_lines: int, seed: int, groups: str,
                 extra: dict | None = None) -> int:
    """Split the prepared lines, write ``train.jsonl``, ``dev.jsonl`` and ``corpus.json`` (lines and hours per
    speaker, the speaker id's part after the colon, listed under ``groups``), report failures and print a summary
    line; the exit status (1 if a recording failed)."""
    train, dev = split(prepared.rows, dev_lines, seed)
    write_manifest_rows(out / "train.jsonl", train)
    write_manifest_rows(out / "dev.jsonl", dev)
    per_group: dict[str, dict] = {}
    for row in prepared.rows:
        group = per_group.setdefault(row["speaker"].split(":", 1)[1], {"lines": 0, "hours": 0.0})
        group["lines"] += 1
        group["hours"] = round(group["hours"] + row["duration"] / 3600, 4)
    atomic_write_text(out / "corpus.json", json.dumps(
        {"name": name, "package": package, groups: per_group,
         "train": {"lines": len(train), "hours": round(sum(r["duration"] for r in train) / 3600, 3)},
         "dev": {"lines": len(dev), "hours": round(sum(r["duration"] for r in dev) / 3600, 3)},
         "left_out": prepared.skipped, **(extra or {})}, indent=2) + "\n")
    for line in prepared.failures:
        print(f"error: {line}", file=sys.stderr)
    hours = sum(r["duration"] for r in prepared.rows) / 3600
    print(f"{name}: {len(train)} train + {len(dev)} dev lines, {hours:.2f} h, {len(per_group)} {groups}; "
          f"left out: {', '.join(f'{n} {why}' for why, n in prepared.skipped.items()) or 'none'}; wrote {out}")
    return 1 if prepared.failures else 0
