"""Real human speech for training: Drascula's voiced lines (`asr prep drascula-lines OUT`).

Drascula: The Vampire Strikes Back (Debian `drascula`, main; freeware, free to redistribute with its readme: see the
package's copyright file) holds about 780 recordings of its English voice actors, 47 minutes in all, and the game's
text file says what each one says. No one listened to them: this is training material, not a test set.

The recordings (``N.ALS``, ``D12.ALS``, ...) are headerless unsigned 8-bit mono at 11,025 Hz; the game plays each
but its first and last 32 bytes. A name is a prefix and a line number: the prefix chooses the character's table of
lines in ``drascula.dat`` (no prefix: John Hacker, the hero; ``D``: Count Drascula, except lines 56-67, John, 68-78,
the blind man, 82, the bartender; ``I`` Igor, ``B`` the drunk, ``BJ`` B.J., ``E`` the skeleton, ``L`` the werewolf,
``P`` the pianist, ``T`` the bartender, ``VB`` Von Braun; ``S`` are sound effects), the number the line in it.

``drascula.dat`` (all integers big-endian): ``b"DRASCULA"``, a version byte, 13 tables of fixed-size records (each a
16-bit count, then the records: sizes in ``FIXED_TABLES``), a 16-bit number of languages (English first), then 15
tables of lines. A table of lines: a 16-bit count of lines; per language a 16-bit byte length and that block: 2
bytes, then per line a 16-bit record length (counting itself) and the text up to a NUL (code page 437). Line 0 is
empty; line n goes with recording n. The layout was established by reading the engine that plays the game
(ScummVM's ``engines/drascula``) and checked: a line's length follows its recording's duration (r = 0.91; paired
one line off, 0.39, neighbouring lines of a scene being alike), and a transcription of every recording with this
project's model matched its text (character error rate 0.26 against 0.85 one line off). That transcription also
found the few recordings that are not their line (``NOT_THEIR_LINE``): left out.

Kept: 0.8-16 s, 4-25 characters a second, text without digits or stage directions in brackets. The speaker is the
character. Writes ``OUT/train.jsonl``, ``OUT/dev.jsonl`` (``--dev-lines`` random lines, for the trainer's checkpoints
only), the clips as FLAC in ``OUT/audio/`` and ``OUT/corpus.json``.

    apt-get install drascula                        # make install does it
    asr prep drascula-lines data/drascula-lines     # about 0.7 h
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import InputError
from asr.text import normalize_text
from data_prep.uqm_lines import LineLimits, Prepared, add_corpus_arguments, prepare_and_write

GAME = Path("/usr/share/scummvm/drascula/en")
RATE = 11025
TRIM = 32  # bytes the game leaves out at each end of a recording
# bytes per record of the tables before the lines: font map, item and pointer positions, menus, animation frames,
# room updates and actions, talk sequences
FIXED_TABLES = (4, 4, 4, 2, 4, 2, 4, 2, 2, 20, 20, 10, 8)
LINE_TABLES = ("", "D", "B", "BJ", "E", "I", "L", "P", "T", "VB")  # the first ten tables of lines, by prefix
SPEAKERS = {"": "john", "D": "drascula", "B": "drunk", "BJ": "bj", "E": "skeleton", "I": "igor", "L": "werewolf",
            "P": "pianist", "T": "bartender", "VB": "vonbraun"}
D_SPEAKERS = {**{n: "john" for n in range(56, 68)}, **{n: "blindman" for n in range(68, 79)}, 82: "bartender"}
# heard (by transcription) not to be the line their name gives: another line or take, part of it, Spanish, or
# seconds of silence around it (3)
NOT_THEIR_LINE = {"3", "8", "122", "207", "278", "368", "255", "256", "257", "258", "259", "290", "295", "379",
                  "D26", "D28", "D67", "D82", "D83"}
NAME = re.compile(r"^([A-Z]*)([0-9]+)\.ALS$")
NOT_SPOKEN = re.compile(r"[0-9()\[\]]")  # digits, stage directions: the text is not what was said word for word


def read_lines(path: Path) -> dict[str, list[str]]:
    """The English lines of ``drascula.dat``: prefix → the lines of that character's table (line 0 is empty)."""
    data = Path(path).read_bytes()
    if data[:8] != b"DRASCULA":
        raise InputError(path, "not Drascula's text file (no DRASCULA signature)")
    at = 9

    def u16() -> int:
        nonlocal at
        if at + 2 > len(data):
            raise InputError(path, "ends before its tables do")
        (value,) = struct.unpack_from(">H", data, at)
        at += 2
        return value

    for size in FIXED_TABLES:
        count = u16()
        at += size * count
    languages = u16()
    tables: dict[str, list[str]] = {}
    for prefix in LINE_TABLES:
        count = u16()
        first_block = at + 2
        for _ in range(languages):  # English is the first block; the others are skipped
            length = u16()
            at += length
        lines, k = [], first_block + 2
        for _ in range(count):
            (length,) = struct.unpack_from(">H", data, k)
            lines.append(data[k + 2:k + length].split(b"\0", 1)[0].decode("cp437").strip())
            k += length
        tables[prefix] = lines
    return tables


def line_of(name: str, tables: dict[str, list[str]]) -> tuple[str, str] | None:
    """(speaker, text) of a recording's file name, or None where the name is not a line (sound effects)."""
    match = NAME.match(name.upper())
    if not match or match.group(1) not in tables:
        return None
    prefix, number = match.group(1), int(match.group(2))
    lines = tables[prefix]
    if not 0 < number < len(lines) or not lines[number]:
        return None
    speaker = D_SPEAKERS.get(number, SPEAKERS[prefix]) if prefix == "D" else SPEAKERS[prefix]
    return speaker, lines[number]


@dataclass
class DrasculaLinesConfig:
    limits: LineLimits = field(default_factory=LineLimits)
    dev_lines: int = 40
    seed: int = 0
    game: Path = GAME


def prepare(config: DrasculaLinesConfig, out: Path, progress: bool = False) -> Prepared:
    """Write the kept clips to ``out/audio/`` as FLAC and return their manifest rows (and what went wrong)."""
    import numpy as np
    from tqdm import tqdm

    result = Prepared()
    tables = read_lines(config.game / "drascula.dat")

    recordings = sorted(p for p in config.game.iterdir() if p.suffix.upper() == ".ALS")
    for path in tqdm(recordings, desc="drascula", unit="line", disable=not progress, file=sys.stderr):
        line = line_of(path.name, tables)
        if line is None:
            result.skip("not a line (a sound effect, or a line the game does not use)")
            continue
        if path.stem.upper() in NOT_THEIR_LINE:
            result.skip("not the line its name gives")
            continue
        speaker, written = line
        try:
            raw = path.read_bytes()[TRIM:-TRIM]
        except OSError as err:
            result.failures.append(f"{path}: cannot read the recording ({err})")
            continue
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        text = normalize_text(written)
        why = config.limits.why_left_out(written, text, len(samples) / RATE, NOT_SPOKEN)
        if why:
            result.skip(why)
            continue
        stem = path.stem.lower()
        result.keep_samples(out / "audio" / f"{stem}.flac", samples, RATE, id=f"drascula-{stem}", text=text,
                            speaker=f"drascula:{speaker}", source="drascula", origin=str(path))
    return result


# --- `asr prep drascula-lines` -------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_corpus_arguments(parser, DrasculaLinesConfig.dev_lines)
    parser.add_argument("--game", type=Path, default=GAME,
                        help="the folder of the game's English data (drascula's)")


def run(args: argparse.Namespace) -> int:
    config = DrasculaLinesConfig(dev_lines=args.dev_lines, seed=args.seed, game=args.game)
    if not (config.game / "drascula.dat").is_file():
        raise InputError(config.game / "drascula.dat", "not found: install the Debian package drascula "
                                                       "(apt-get install drascula)")
    return prepare_and_write(prepare, config, Path(args.out), config.game, "drascula-lines", "drascula (freeware)")
