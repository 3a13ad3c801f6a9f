"""The real-speech dev set (`asr prep real-dev OUT`): human recordings that ship in Debian packages.

Evaluation only: nothing trains on it (data_prep/synthetic.py never reads it). The audio stays where the packages
install it, under their own licences; the manifests point at those files, and the words of each recording come
from the checked-in table ``data_prep/real_dev_transcripts.tsv`` (one row a recording: source, Debian package,
path, speaker, transcript, how the transcript was checked). ``data_prep/real_dev_review.py`` built that table;
``data_prep/REAL_DEV.md`` says how, which files were dropped and why, and what the systems score on it.

Writes ``OUT/real-dev.jsonl`` (every source), ``OUT/<source>.jsonl`` (one per source) and ``OUT/corpus.json`` (per
source: package, utterances, minutes, speakers). Manifest lines are the usual ``{"id", "audio", "duration",
"text", "speaker"}`` plus ``"source"`` and ``"origin"`` (the table's path; readers ignore keys they do not know).
Recordings stored inside a package's zip archive (The Ur-Quan Masters' voice pack) are copied out, byte for byte,
to ``OUT/<source>/``; every other manifest line points at the package's own file. A source whose package is not
installed is skipped with one line naming the package to install; a listed file that is missing or does not
decode is a per-item failure: the rest is written and the command exits 1.

    asr prep real-dev data/real-dev            # build it
    asr prep real-dev --list                   # per source: package, installed or not, files, minutes, speakers
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import InputError
from asr.fileio import atomic_path, atomic_write_text

TABLE = Path(__file__).with_name("real_dev_transcripts.tsv")
COLUMNS = ("source", "package", "path", "speaker", "text", "check")


@dataclass(frozen=True)
class Source:
    """One Debian package's recordings. ``root`` is a folder the package installs: its absence means not installed.

    ``archive``: the recordings are members of this zip file under ``root`` (the table names one as
    ``<root>/<archive>/<member>``); ``asr prep real-dev`` copies each member's bytes out to ``OUT/<source>/``.
    """

    name: str
    package: str
    root: str
    what: str
    archive: str = ""

    def member(self, path: str) -> str | None:
        """The archive member a table path names, or None when this source's recordings are plain files."""
        return Path(path).relative_to(Path(self.root) / self.archive).as_posix() if self.archive else None


SOURCES = (
    Source("klettres", "klettres-data", "/usr/share/klettres",
           "KLettres: letters and short words read aloud for learners, a US and a British speaker"),
    Source("ktuberling", "ktuberling-data", "/usr/share/ktuberling/sounds",
           "KTuberling: names of the objects a child puts on the picture, one speaker"),
    Source("tuxpaint", "tuxpaint-stamps-default", "/usr/share/tuxpaint/stamps",
           "Tux Paint stamps: short descriptions of animals, letters and digits read aloud"),
    Source("hedgewars", "hedgewars-data", "/usr/share/games/hedgewars/Data/Sounds/voices",
           "Hedgewars: acted phrases of the English voice packs (accents, characters)"),
    Source("uqm", "uqm-voice", "/usr/share/games/uqm/content/addons",
           "The Ur-Quan Masters: the 3DO version's voiced alien dialogue, one actor per race (non-free)",
           archive="uqm-0.8.0-voice.uqm"),
)


@dataclass(frozen=True)
class Entry:
    """One row of the transcript table; ``line`` is its line number, for error messages."""

    source: str
    package: str
    path: str
    speaker: str
    text: str
    check: str
    line: int


@dataclass
class RealDevConfig:
    table: Path = TABLE
    sources: tuple[Source, ...] = SOURCES


@dataclass
class SourceReport:
    source: Source
    installed: bool
    rows: list[dict] = field(default_factory=list)  # manifest lines
    failures: list[str] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        return sum(r["duration"] for r in self.rows) / 60

    @property
    def speakers(self) -> int:
        return len({r["speaker"] for r in self.rows})

    def stats(self) -> dict:
        return {"package": self.source.package, "installed": self.installed, "what": self.source.what,
                "utterances": len(self.rows), "minutes": round(self.minutes, 2), "speakers": self.speakers}


def read_table(path: Path) -> list[Entry]:
    """Every row of the transcript table; an ``InputError`` names the bad rows by line number (the first ten)."""
    from asr.text import normalize_text

    by_name = {s.name: s for s in SOURCES}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(path, "transcript table not found") from None
    rows = list(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise InputError(path, f"the first line must be the header {' '.join(COLUMNS)}")
    entries, problems, seen = [], [], set()
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS):
            problems.append(f"line {number}: {len(row)} fields, not {len(COLUMNS)}")
            continue
        entry = Entry(*row, line=number)
        source = by_name.get(entry.source)
        if source is None:
            problems.append(f"line {number}: unknown source {entry.source!r}")
        elif entry.package != source.package:
            problems.append(f"line {number}: {entry.source} comes from {source.package}, not {entry.package}")
        elif not Path(entry.path).is_relative_to(source.root):
            problems.append(f"line {number}: {entry.path} is not under {source.root}, where {source.package} installs")
        elif not entry.text or normalize_text(entry.text) != entry.text:
            problems.append(f"line {number}: transcript {entry.text!r} is not normalised text")
        elif entry.path in seen:
            problems.append(f"line {number}: {entry.path} is listed twice")
        else:
            seen.add(entry.path)
            entries.append(entry)
    if problems:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise InputError(path, f"{len(problems)} bad rows: " + "; ".join(problems[:10]) + more)
    return entries


def utterance_id(entry: Entry, source: Source) -> str:
    """``<source>-<path under the package's folder or archive>`` with every run of other characters as one ``-``."""
    relative = Path(source.member(entry.path) or Path(entry.path).relative_to(source.root)).with_suffix("")
    return f"{source.name}-" + re.sub(r"[^A-Za-z0-9]+", "-", relative.as_posix()).strip("-")


def extract_members(source: Source, paths: list[str], dest: Path) -> dict[str, Path | str]:
    """Copy the archive members that ``paths`` name to ``dest/<member>``; per path the copy, or why it failed.

    The members are stored uncompressed in the package's zip, so a copy is the package's own bytes, not a conversion;
    each is written under a temporary name and renamed, and one already there with the same size is kept.
    """
    import zipfile

    archive = Path(source.root) / source.archive
    out: dict[str, Path | str] = {}
    with zipfile.ZipFile(archive) as zf:
        members = {info.filename: info for info in zf.infolist()}
        for path in paths:
            name = source.member(path)
            info = members.get(name)
            if info is None:
                out[path] = f"{name} is not in {archive}"
                continue
            target = dest / name
            if not (target.is_file() and target.stat().st_size == info.file_size):
                write_copy(target, zf.read(info))
            out[path] = target
    return out


def write_copy(target: Path, data: bytes) -> None:
    """Write an archive member's bytes to ``target`` under a temporary name, then rename (no half-written file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def missing_package_line(source: Source) -> str:
    return (f"real-dev: skipping {source.name}: Debian package {source.package} is not installed "
            f"(install it: apt-get install {source.package})")


def installed(source: Source) -> bool:
    return Path(source.root).is_dir() and (not source.archive or (Path(source.root) / source.archive).is_file())


def prepare(config: RealDevConfig, media: Path, progress: bool = True) -> list[SourceReport]:
    """Read the table and every listed file's header; one report per source, in ``config.sources`` order.

    Archive members are copied out to ``media/<source>/`` first (the manifest's ``audio`` is then that copy, and
    ``origin`` the table's path).
    """
    from tqdm import tqdm

    from asr.audio import AudioError, audio_info

    entries = read_table(config.table)
    reports = []
    for source in config.sources:
        report = SourceReport(source, installed(source))
        reports.append(report)
        mine = [e for e in entries if e.source == source.name]
        if not report.installed:
            continue
        audio: dict[str, Path | str] = {e.path: Path(e.path) for e in mine}
        if source.archive:
            audio = extract_members(source, [e.path for e in mine], media / source.name)
        for entry in tqdm(mine, desc=source.name, unit="file", disable=not progress, leave=False, file=sys.stderr):
            try:
                if isinstance(audio[entry.path], str):  # the member is not in the archive
                    raise AudioError(entry.path, audio[entry.path])
                duration = audio_info(audio[entry.path]).duration
            except AudioError as err:
                report.failures.append(f"{config.table}:{entry.line}: {err}")
                continue
            report.rows.append({"id": utterance_id(entry, source), "audio": str(audio[entry.path]),
                                "duration": round(duration, 4), "text": entry.text, "speaker": entry.speaker,
                                "source": source.name, "origin": entry.path})
    return reports


def write_manifest_rows(path: Path, rows: list[dict]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def summary(reports: list[SourceReport]) -> str:
    parts = [f"{r.source.name} {len(r.rows)} utt / {r.minutes:.1f} min / {r.speakers} spk"
             for r in reports if r.installed]
    total = sum(len(r.rows) for r in reports)
    minutes = sum(r.minutes for r in reports)
    return f"real-dev: {total} utterances, {minutes:.1f} min ({'; '.join(parts)})"


# --- `asr prep real-dev` -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", nargs="?", help="folder for real-dev.jsonl, <source>.jsonl and corpus.json")
    parser.add_argument("--table", type=Path, default=TABLE, help="the transcript table (default: the checked-in one)")
    parser.add_argument("--sources", nargs="+", choices=[s.name for s in SOURCES], metavar="SOURCE",
                        help=f"only these sources ({', '.join(s.name for s in SOURCES)}; default: all)")
    parser.add_argument("--list", action="store_true",
                        help="print per source: package, installed or not, utterances, minutes, speakers; write nothing")


def run(args: argparse.Namespace) -> int:
    sources = tuple(s for s in SOURCES if not args.sources or s.name in args.sources)
    if not args.list and not args.out:
        raise InputError("asr prep real-dev", "give OUT (the folder to write) or --list")
    if args.list:
        with tempfile.TemporaryDirectory(prefix="real-dev-") as media:  # archive members, read for their length
            reports = prepare(RealDevConfig(args.table, sources), Path(media), progress=False)
    else:
        reports = prepare(RealDevConfig(args.table, sources), Path(args.out).resolve(), progress=True)
    for r in reports:
        if not r.installed:
            print(missing_package_line(r.source), file=sys.stderr)
        for line in r.failures:
            print(f"error: {line}", file=sys.stderr)
    if args.list:
        for r in reports:
            state = "installed" if r.installed else "NOT INSTALLED"
            print(f"{r.source.name:<11} {r.source.package:<24} {state:<13} {len(r.rows):>4} utterances "
                  f"{r.minutes:5.1f} min {r.speakers:>3} speakers  {r.source.what}")
        return 0
    if not any(r.installed for r in reports):
        raise InputError("asr prep real-dev", "none of the packages is installed: apt-get install "
                         + " ".join(s.package for s in sources))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for r in reports:
        if r.installed:
            write_manifest_rows(out / f"{r.source.name}.jsonl", r.rows)
    write_manifest_rows(out / "real-dev.jsonl", [row for r in reports for row in r.rows])
    atomic_write_text(out / "corpus.json", json.dumps(
        {"name": "real-dev", "use": "evaluation only; never trained on", "table": str(args.table),
         "sources": {r.source.name: r.stats() for r in reports}}, indent=2) + "\n")
    print(summary(reports) + f"; wrote {out / 'real-dev.jsonl'}")
    return 1 if any(r.failures for r in reports) else 0
