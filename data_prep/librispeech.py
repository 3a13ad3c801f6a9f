"""LibriSpeech → manifests (`asr prep librispeech ROOT OUT`), and the optional download of its archives.

ROOT holds subsets in the official layout, ``SUBSET/SPEAKER/CHAPTER/SPEAKER-CHAPTER-UTT.flac`` beside
``SPEAKER-CHAPTER.trans.txt`` (ROOT may also be the folder above the archives' ``LibriSpeech/``). Each subset found
becomes ``OUT/<subset>.jsonl`` with durations read from the FLAC headers (in parallel threads: the work is
file I/O), speaker ids, and transcripts normalised with asr.text.normalize_text.

Odd cases are reported and skipped, never fatal: a transcript line without its audio file, an audio file
without a transcript line, an unparsable transcript line. An unreadable audio file is a per-item failure:
the rest is written and the command exits 1.

``--download SUBSETS`` fetches the official archives from openslr.org (resource 12) into ROOT, resuming a
partial download (HTTP range), verifying each archive's published MD5 before unpacking it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from asr.data.manifest import Utterance, write_manifest
from asr.errors import InputError
from asr.fileio import file_digest

SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean", "dev-other", "test-clean",
           "test-other")
URL = "https://www.openslr.org/resources/12/{subset}.tar.gz"
MD5 = {  # published in openslr.org/resources/12/md5sum.txt
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
}
_UTT_ID = re.compile(r"^\d+-\d+-\d+$")


@dataclass
class SubsetReport:
    """What preparing one subset found: the utterances and every skipped or failed item."""

    subset: str
    utterances: list[Utterance] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # reported, not fatal
    failures: list[str] = field(default_factory=list)  # unreadable audio: exit status 1


def find_subsets(root: Path) -> dict[str, Path]:
    """Subset name → folder, for the subsets present under ``root`` or ``root/LibriSpeech``."""
    found = {}
    for base in (root, root / "LibriSpeech"):
        for name in SUBSETS:
            if (base / name).is_dir() and name not in found:
                found[name] = base / name
    return found


def _duration(path: Path) -> float:
    from asr.audio import audio_info

    return audio_info(path).duration


def prepare_subset(folder: Path, workers: int = 8, progress: bool = True) -> SubsetReport:
    """Parse one subset folder; see the module docstring for what is reported."""
    from tqdm import tqdm

    from asr.audio import AudioError
    from asr.text import normalize_text

    report = SubsetReport(folder.name)
    texts: dict[str, tuple[str, str]] = {}  # id → (text, "file:line")
    for trans in sorted(folder.glob("*/*/*.trans.txt")):
        for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not _UTT_ID.match(parts[0]):
                report.warnings.append(f"{trans}:{number}: not '<SPEAKER-CHAPTER-UTT> <TEXT>', skipped")
                continue
            texts[parts[0]] = (parts[1], f"{trans}:{number}")
    audio = {p.stem: p for p in sorted(folder.glob("*/*/*.flac"))}
    for utt_id, (_, where) in sorted(texts.items()):
        if utt_id not in audio:
            report.warnings.append(f"{where}: transcript of {utt_id} has no audio file, skipped")
    for utt_id, path in audio.items():
        if utt_id not in texts:
            report.warnings.append(f"{path}: no transcript line, skipped")
    matched = [(utt_id, audio[utt_id]) for utt_id in sorted(audio) if utt_id in texts]

    def header(item: tuple[str, Path]) -> float | str:
        try:
            return _duration(item[1])
        except AudioError as err:
            return str(err)

    with ThreadPoolExecutor(max(1, workers)) as pool, \
            tqdm(total=len(matched), unit="file", desc=folder.name, disable=not progress, file=sys.stderr) as bar:
        for (utt_id, path), result in zip(matched, pool.map(header, matched)):
            bar.update()
            if isinstance(result, str):
                report.failures.append(result)
                continue
            report.utterances.append(Utterance(utt_id, str(path.resolve()), result,
                                               normalize_text(texts[utt_id][0]), speaker=utt_id.split("-")[0]))
    return report


# --- download ------------------------------------------------------------------------------------


def download(subset: str, root: Path, progress: bool = True) -> Path:
    """Fetch, verify and unpack one subset into ``root`` (giving ``root/LibriSpeech/<subset>``).

    A partial archive ``<subset>.tar.gz.part`` from an interrupted run is continued with an HTTP range request;
    a finished archive whose MD5 matches is not fetched again; a mismatch deletes the archive and fails.
    """
    from tqdm import tqdm

    if subset not in MD5:
        raise InputError(subset, f"not a LibriSpeech subset; known: {', '.join(SUBSETS)}")
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{subset}.tar.gz"
    if (root / "LibriSpeech" / subset).is_dir() and not archive.exists():
        return root / "LibriSpeech" / subset  # already unpacked earlier
    if not archive.exists():
        part = archive.with_name(archive.name + ".part")
        done = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(URL.format(subset=subset), headers={"Range": f"bytes={done}-"} if done else {})
        with urllib.request.urlopen(request, timeout=60) as response:
            if done and response.status != 206:  # the server ignored the range: start over
                done = 0
            total = int(response.headers.get("Content-Length", 0)) + done
            with open(part, "ab" if done else "wb") as out, tqdm(
                    total=total, initial=done, unit="B", unit_scale=True, desc=subset, disable=not progress,
                    file=sys.stderr) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
        os.replace(part, archive)
    digest = file_digest(archive, "md5")
    if digest != MD5[subset]:
        archive.unlink()
        raise InputError(archive, f"MD5 {digest} is not the published {MD5[subset]}; deleted it, run again")
    unpack = root / f".{subset}.unpacking"
    shutil.rmtree(unpack, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpack, filter="data")
    target = root / "LibriSpeech" / subset
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(unpack / "LibriSpeech" / subset, target)
    for extra in (unpack / "LibriSpeech").iterdir():  # README, SPEAKERS.TXT, ...: keep the first copy
        if not (target.parent / extra.name).exists():
            os.replace(extra, target.parent / extra.name)
    shutil.rmtree(unpack, ignore_errors=True)
    archive.unlink()
    return target


# --- `asr prep librispeech` ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="folder holding the subsets (or LibriSpeech/ with them)")
    parser.add_argument("out", help="folder for the manifests (<subset>.jsonl)")
    parser.add_argument("--subsets", nargs="+", choices=SUBSETS, metavar="SUBSET",
                        help="subsets to prepare (default: every one found under ROOT)")
    parser.add_argument("--download", nargs="+", choices=SUBSETS, metavar="SUBSET", default=[],
                        help="first fetch these subsets from openslr.org into ROOT (needs a network; resumable)")
    parser.add_argument("--download-only", action="store_true", help="with --download: fetch, write no manifests")
    parser.add_argument("--workers", type=int, default=8, help="threads reading audio headers")


def run(args: argparse.Namespace) -> int:
    root, out = Path(args.root), Path(args.out)
    for subset in args.download:
        print(f"downloaded and unpacked {subset} into {download(subset, root)}")
    if args.download_only:
        return 0
    if not root.is_dir():
        raise InputError(root, "not a folder")
    found = find_subsets(root)
    wanted = args.subsets or list(found)
    missing = [s for s in wanted if s not in found]
    if missing:
        raise InputError(root, f"no subset folder for {', '.join(missing)}")
    if not wanted:
        raise InputError(root, f"no LibriSpeech subset folders ({', '.join(SUBSETS)}) found")
    status = 0
    for subset in wanted:
        report = prepare_subset(found[subset], args.workers)
        for line in report.warnings:
            print(f"warning: {line}", file=sys.stderr)
        for line in report.failures:
            print(f"error: {line}", file=sys.stderr)
        path = write_manifest(out / f"{subset}.jsonl", report.utterances)
        hours = sum(u.duration for u in report.utterances) / 3600
        print(f"wrote {len(report.utterances)} utterances ({hours:.2f} h) of {subset} to {path}"
              + (f"; skipped {len(report.warnings)} (see warnings)" if report.warnings else "")
              + (f"; {len(report.failures)} unreadable" if report.failures else ""))
        status = status or (1 if report.failures else 0)
    return status
