"""Real human speech for training: Flight of the Amazon Queen's voiced dialogue (`asr prep fotaq-lines OUT`).

The talkie release of the adventure game (Debian `flight-of-the-amazon-queen`, contrib; freeware: free to
redistribute with its readme, see the package's copyright file) holds about 6,700 recordings of its voice actors,
4,000 of them the lines of its conversations, and the game's dialogue files say what each line is. No one listened
to them: an actor who left the script makes a noisy transcript, so this is training material, not a test set.

Everything is in one archive, ``queen.1c``: ``b"QTBL"``, a 6-byte version (``CEM10``: CD, English), 2 bytes, the
speech codec (1: MP3; the Debian release's clips are MP3 at 16 kbit/s, 11,025 Hz), a big-endian 16-bit count and
that many 21-byte entries (12-byte name, bundle byte, big-endian 32-bit offset and size; offsets from the start of
the file). A conversation is a ``.DOG`` entry: after its 20-byte header, 15 big-endian 16-bit fields (the number of
levels, the talk key, how many lines Joe and the other person have, the offsets of the other person's lines and of
the two greetings), then Joe's lines after ``32 + 96 * levels`` bytes. A line is 2 bytes, its 16-bit id and a
length-prefixed string (padded to 4 bytes; the greetings to 2). Its recording is named ``KKIIIISN.SB``: the talk
key (2 digits), the line's id (4 hex digits, ``SSSS`` for Joe's first greeting, ``XXXX`` for the greetings of a
second meeting), ``J`` for Joe or ``P`` for the other person, and N the part of the line: ``*`` commands (``*`` and
2 letters; ``*XY`` 11 more characters) cut a line into parts, each its own recording, except a part whose command
is ``*GD`` or ``*GM`` (not spoken). That is how the game finds a line's voice; the pairing is checked here by
duration against length (a test: a pairing one line off would not correlate).

Kept: 0.8-16 s, 4-25 characters a second (slower is laughing and humming, faster a line the actor cut), text
without digits. The speaker is the character (Joe, or the conversation's other person, named by the file: one
actor may voice several). Writes ``OUT/train.jsonl`` and ``OUT/dev.jsonl`` (``--dev-lines`` random lines, for the
trainer's checkpoints only), the clips copied byte for byte to ``OUT/audio/`` (MP3, read directly) and
``OUT/corpus.json``. A clip that does not decode is reported and skipped; the rest is written and the command exits 1.

    apt-get install flight-of-the-amazon-queen      # make install does it (contrib)
    asr prep fotaq-lines data/fotaq-lines            # about 2.4 h
"""

from __future__ import annotations

import argparse
import io
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from asr.errors import InputError
from asr.text import normalize_text
from data_prep.uqm_lines import Prepared, write_corpus

ARCHIVE = Path("/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")
CODECS = {1: "mp3", 2: "ogg", 3: "flac"}  # the speech codec byte → the clips' extension (0: raw .SB, not read here)
ENTRY = struct.Struct(">12sBII")  # name, bundle, offset, size
NOT_SPOKEN = re.compile(r"[0-9]")  # digits: the text is not what was said word for word


class QueenArchive:
    """The entries of a ``queen.1c`` archive: ``read(name)`` gives an entry's bytes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(15)
            if len(head) < 15 or head[:4] != b"QTBL":
                raise InputError(self.path, "not a Flight of the Amazon Queen archive (no QTBL table)")
            self.version = head[4:10].split(b"\0")[0].decode("ascii", errors="replace")
            self.codec = CODECS.get(head[12], "")
            (count,) = struct.unpack(">H", head[13:15])
            table = f.read(ENTRY.size * count)
        if len(table) < ENTRY.size * count:
            raise InputError(self.path, f"its table is cut short ({count} entries announced)")
        self.entries: dict[str, tuple[int, int]] = {}
        for k in range(count):
            name, _bundle, offset, size = ENTRY.unpack_from(table, ENTRY.size * k)
            self.entries[name.split(b"\0")[0].decode("ascii", errors="replace")] = (offset, size)

    def read(self, name: str) -> bytes:
        offset, size = self.entries[name]
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise InputError(f"{self.path}/{name}", "the archive ends before this entry does")
        return data


def _string(data: bytes, at: int, align: int) -> tuple[str, int]:
    """A length-prefixed string at ``at`` and the offset after it (a non-empty one is padded to ``align``)."""
    n = data[at]
    at += 1
    if n == 0:
        return "", at
    return data[at:at + n].decode("latin-1"), (at + n + align - 1) & ~(align - 1)


def _lines(data: bytes, at: int, count: int) -> list[tuple[int, str]]:
    """``count`` lines from ``at``: (id, text)."""
    out = []
    for _ in range(count):
        (line_id,) = struct.unpack_from(">h", data, at + 2)
        text, at = _string(data, at + 4, 4)
        out.append((line_id, text))
    return out


def spoken_parts(line: str) -> list[tuple[int, str]]:
    """(part number from 1, text) of the parts of a line the actor speaks, each its own recording."""
    parts, start, k, part = [], 0, 0, 1
    while k < len(line):
        if line[k] != "*":
            k += 1
            continue
        command = line[k + 1:k + 3]
        if command not in ("GD", "GM"):  # not spoken
            parts.append((part, line[start:k]))
        part += 1
        k += 3 + (11 if command == "XY" else 0)
        start = k
    if start < len(line):
        parts.append((part, line[start:]))
    return [(n, text.strip()) for n, text in parts if text.strip() and text.strip() != "0"]


def conversation(name: str, data: bytes) -> list[tuple[str, str, str]]:
    """(recording name, speaker, text) of the spoken parts of one ``.DOG`` conversation."""
    body = data[20:]
    fields = struct.unpack_from(">15h", body, 0)
    levels, talk_key, joe_count, person_count = abs(fields[0]), fields[2], fields[3], fields[4]
    person_at, greetings_at = fields[11] & 0xFFFF, fields[13] & 0xFFFF
    person = name.rsplit(".", 1)[0].rstrip("0123456789") or name
    key = f"{talk_key:02d}"
    said: list[tuple[str, str, str]] = []

    def add(line_key: str, who: str, line: str) -> None:
        for part, text in spoken_parts(line):
            said.append((f"{key}{line_key}{part:X}.SB".upper(), who, text))

    for line_id, line in _lines(body, 32 + levels * 96, joe_count):
        add("SSSSJ" if line_id == 0 else f"{line_id:04X}J", "JOE", line)
    for line_id, line in _lines(body, person_at, person_count):
        if line_id > 0:
            add(f"{line_id:04X}P", person, line)
    person_again, at = _string(body, greetings_at, 2)
    joe_again, _ = _string(body, at, 2)
    add("XXXXP", person, person_again)
    add("XXXXJ", "JOE", joe_again)
    return said


def dialogue(archive: QueenArchive) -> dict[str, tuple[str, str]]:
    """Recording name → (speaker, text) over every conversation (the first conversation to name one wins)."""
    out: dict[str, tuple[str, str]] = {}
    for name in sorted(n for n in archive.entries if n.endswith(".DOG")):
        for recording, speaker, text in conversation(name, archive.read(name)):
            out.setdefault(recording, (speaker, text))
    return out


@dataclass
class FotaqLinesConfig:
    min_s: float = 0.8
    max_s: float = 16.0
    min_chars_per_s: float = 4.0  # slower: laughing, humming, a long pause the text does not show
    max_chars_per_s: float = 25.0  # faster than any speech: the text says more than the recording
    dev_lines: int = 100
    seed: int = 0
    archive: Path = ARCHIVE


def prepare(config: FotaqLinesConfig, out: Path, progress: bool = False) -> Prepared:
    """Copy the kept clips to ``out/audio/`` and return their manifest rows (and what went wrong)."""
    import soundfile
    from tqdm import tqdm

    result = Prepared()
    archive = QueenArchive(config.archive)
    if not archive.codec:
        raise InputError(config.archive, "its speech codec is not one soundfile reads (MP3, Ogg or FLAC)")
    lines = dialogue(archive)

    def skip(why: str) -> None:
        result.skipped[why] = result.skipped.get(why, 0) + 1

    for recording in tqdm(sorted(lines), desc="fotaq", unit="line", disable=not progress, file=sys.stderr):
        if recording not in archive.entries:
            skip("no recording")
            continue
        speaker, line = lines[recording]
        origin = f"{config.archive}/{recording}"
        try:
            data = archive.read(recording)
            duration = soundfile.info(io.BytesIO(data)).duration
        except (InputError, RuntimeError) as err:  # soundfile's errors are RuntimeErrors
            result.failures.append(f"{origin}: cannot read the recording ({err})")
            continue
        text = normalize_text(line)
        if NOT_SPOKEN.search(line) or not text:
            skip("digits or no words")
        elif not config.min_s <= duration <= config.max_s:
            skip(f"shorter than {config.min_s:g} s or longer than {config.max_s:g} s")
        elif not config.min_chars_per_s <= len(text) / duration <= config.max_chars_per_s:
            skip(f"not {config.min_chars_per_s:g}-{config.max_chars_per_s:g} characters a second")
        else:
            stem = Path(recording).stem
            result.keep(out / "audio" / f"{stem}.{archive.codec}", data, id=f"fotaq-{stem.lower()}",
                        duration=duration, text=text, speaker=f"fotaq:{speaker.lower()}", source="fotaq",
                        origin=origin)
    return result


# --- `asr prep fotaq-lines` ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="folder for train.jsonl, dev.jsonl, corpus.json and audio/")
    parser.add_argument("--dev-lines", type=int, default=FotaqLinesConfig.dev_lines,
                        help="random lines set aside as the trainer's dev set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--archive", type=Path, default=ARCHIVE,
                        help="the game's queen.1c (flight-of-the-amazon-queen's)")


def run(args: argparse.Namespace) -> int:
    config = FotaqLinesConfig(dev_lines=args.dev_lines, seed=args.seed, archive=args.archive)
    if not config.archive.is_file():
        raise InputError(config.archive, "not found: install the Debian package flight-of-the-amazon-queen "
                                         "(contrib; apt-get install flight-of-the-amazon-queen)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prepared = prepare(config, out, progress=True)
    if not prepared.rows:
        raise InputError(config.archive, "no usable recording")
    return write_corpus(out, "fotaq-lines", "flight-of-the-amazon-queen (contrib, freeware)", prepared,
                        config.dev_lines, config.seed, "characters")
