"""Real human speech for training: Flight of the Amazon Queen's voiced lines (`asr prep fotaq-lines OUT`).

The talkie release of the adventure game (Debian `flight-of-the-amazon-queen`, contrib; freeware: free to
redistribute with its readme, see the package's copyright file) holds about 6,700 recordings of its voice actors,
and the game's own files say what each one says (``data_prep/queen_archive.py``: the archive, the naming rule and
the three places lines are): its conversations (4,000 recordings), its cutaway scenes (2,000) and Joe's remarks on
what he looks at (560). No one listened to them: an actor who left the script makes a noisy transcript, so this is
training material, not a test set.

The clips are MP3 whose headers say 11,025 Hz; the voices were recorded at 11,840 Hz, the rate the game plays
them at, so each clip is decoded and written as FLAC at that rate (read at the header's, every voice is 7% slower
and lower). Kept: 0.8-16 s, 4-25 characters a second (slower is laughing and humming, faster a line the actor cut),
text without digits. The speaker is the character (Joe, or the other person: in a conversation the file names
them, in a cutaway the game's actor table does; one actor may voice several); a line the game does not attribute is
``unknown``. Writes ``OUT/train.jsonl`` and ``OUT/dev.jsonl`` (``--dev-lines`` random lines, for the trainer's
checkpoints only), the clips in ``OUT/audio/`` and ``OUT/corpus.json``. A clip that does not decode is reported and
skipped; the rest is written and the command exits 1.

    apt-get install flight-of-the-amazon-queen      # make install does it (contrib)
    asr prep fotaq-lines data/fotaq-lines            # about 4 h; --kinds conversation for the dialogue only
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import InputError
from asr.text import normalize_text
from data_prep.queen_archive import ARCHIVE, HEADER_RATE, KINDS, SPEECH_RATE, QueenArchive, voiced_lines
from data_prep.uqm_lines import LineLimits, Prepared, add_corpus_arguments, prepare_and_write

NOT_SPOKEN = re.compile(r"[0-9]")  # digits: the text is not what was said word for word


@dataclass
class FotaqLinesConfig:
    limits: LineLimits = field(default_factory=LineLimits)
    dev_lines: int = 100
    seed: int = 0
    archive: Path = ARCHIVE
    kinds: tuple[str, ...] = KINDS  # conversation, cutaway, remark


def prepare(config: FotaqLinesConfig, out: Path, progress: bool = False) -> Prepared:
    """Write the kept clips to ``out/audio/`` (FLAC at the voices' rate) and return their manifest rows (and what
    went wrong)."""
    import soundfile
    from tqdm import tqdm

    result = Prepared()
    archive = QueenArchive(config.archive)
    if not archive.codec:
        raise InputError(config.archive, "its speech codec is not one soundfile reads (MP3, Ogg or FLAC)")
    lines = voiced_lines(archive, config.kinds)

    for recording in tqdm(sorted(lines), desc="fotaq", unit="line", disable=not progress, file=sys.stderr):
        if recording not in archive.entries:
            result.skip("no recording")
            continue
        line = lines[recording]
        origin = f"{config.archive}/{recording}"
        try:
            samples, rate = soundfile.read(io.BytesIO(archive.read(recording)), dtype="float32")
        except (InputError, RuntimeError) as err:  # soundfile's errors are RuntimeErrors
            result.failures.append(f"{origin}: cannot read the recording ({err})")
            continue
        rate = SPEECH_RATE if rate == HEADER_RATE else rate  # the header's rate is the compressor's mistake
        text = normalize_text(line.text)
        why = config.limits.why_left_out(line.text, text, len(samples) / rate, NOT_SPOKEN)
        if why:
            result.skip(why)
            continue
        stem = Path(recording).stem
        result.keep_samples(out / "audio" / f"{stem}.flac", samples, rate, id=f"fotaq-{stem.lower()}", text=text,
                            speaker=f"fotaq:{line.speaker.lower()}", source="fotaq", kind=line.kind, origin=origin)
    return result


# --- `asr prep fotaq-lines` ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_corpus_arguments(parser, FotaqLinesConfig.dev_lines)
    parser.add_argument("--archive", type=Path, default=ARCHIVE,
                        help="the game's queen.1c (flight-of-the-amazon-queen's)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                        help="which lines: the conversations, the cutaway scenes, Joe's remarks (default: all)")


def run(args: argparse.Namespace) -> int:
    config = FotaqLinesConfig(dev_lines=args.dev_lines, seed=args.seed, archive=args.archive,
                              kinds=tuple(args.kinds))
    if not config.archive.is_file():
        raise InputError(config.archive, "not found: install the Debian package flight-of-the-amazon-queen "
                                         "(contrib; apt-get install flight-of-the-amazon-queen)")
    return prepare_and_write(prepare, config, Path(args.out), config.archive, "fotaq-lines",
                             "flight-of-the-amazon-queen (contrib, freeware)")
