"""The real-speech dev set: the checked-in transcript table, `asr prep real-dev` on every source, missing packages."""

import json
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conftest import tone, write_audio

from asr.audio import load_audio
from asr.cli import main
from asr.data.manifest import read_manifest
from asr.errors import InputError
from asr.text import CharTokenizer, normalize_text
from data_prep import real_dev
from data_prep.real_dev import SOURCES, TABLE, Source, read_table, utterance_id

BY_NAME = {s.name: s for s in SOURCES}


@cache
def package_files(package: str) -> frozenset[str] | None:
    """The paths a Debian package installed, or None when it is not installed."""
    done = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    return frozenset(done.stdout.splitlines()) if done.returncode == 0 else None


def require(source: Source) -> frozenset[str]:
    files = package_files(source.package)
    if files is None or not real_dev.installed(source):
        pytest.skip(f"Debian package {source.package} is not installed (make install installs it)")
    return files


def test_table_rows_are_well_formed():
    entries = read_table(TABLE)
    assert {e.source for e in entries} == set(BY_NAME)
    ids = [utterance_id(e, BY_NAME[e.source]) for e in entries]
    assert len(set(ids)) == len(ids)
    alphabet = set(CharTokenizer.DEFAULT_SYMBOLS)
    for e in entries:
        assert normalize_text(e.text) == e.text and set(e.text) <= alphabet, e
        assert e.speaker.startswith(f"{e.source}:") and e.check, e
    # one speaker per recording folder or voice pack: several for each source, many in all
    assert len({e.speaker for e in entries}) >= 12


@pytest.mark.parametrize("name", list(BY_NAME))
def test_every_row_is_a_file_of_its_package_that_decodes(name, tmp_path):
    source = BY_NAME[name]
    files = require(source)
    entries = [e for e in read_table(TABLE) if e.source == name]
    assert entries
    audio = {e.path: e.path for e in entries}
    if source.archive:  # the package installs the archive; the rows name its members
        assert str(Path(source.root) / source.archive) in files
        audio = real_dev.extract_members(source, list(audio), tmp_path)
    else:
        assert [e.path for e in entries if e.path not in files] == []
    for e in entries:
        samples = load_audio(audio[e.path], 16000)
        assert samples.size > 1600 and np.isfinite(samples).all() and np.abs(samples).max() > 0.01, e.path


@pytest.mark.parametrize("name", list(BY_NAME))
def test_prep_parses_every_source(name, tmp_path, capsys):
    require(BY_NAME[name])
    assert main(["prep", "real-dev", str(tmp_path), "--sources", name]) == 0
    expected = {e.path: e.text for e in read_table(TABLE) if e.source == name}
    manifest = read_manifest(tmp_path / f"{name}.jsonl")
    assert all(0.1 < u.duration < 30 for u in manifest)
    lines = [json.loads(line) for line in (tmp_path / "real-dev.jsonl").read_text().splitlines()]
    assert {line["origin"]: line["text"] for line in lines} == expected
    assert {line["source"] for line in lines} == {name}
    # the package's own file, or (archive members) a copy under OUT/<source>/
    assert all(Path(line["audio"]) == (tmp_path / name / BY_NAME[name].member(line["origin"])
                                       if BY_NAME[name].archive else Path(line["origin"])) for line in lines)
    stats = json.loads((tmp_path / "corpus.json").read_text())["sources"][name]
    assert stats["utterances"] == len(expected) and stats["installed"]
    assert f"{name} {len(expected)} utt" in capsys.readouterr().out


def test_missing_package_is_skipped_with_one_clear_line(tmp_path, monkeypatch, capsys):
    present = tmp_path / "klettres"
    present.mkdir()
    write_audio(present / "A.ogg", tone(0.6, 22050), 22050, "ogg")
    monkeypatch.setattr(real_dev, "SOURCES", (
        Source("klettres", "klettres-data", str(present), "letters"),
        Source("hedgewars", "hedgewars-data", str(tmp_path / "not-installed"), "phrases")))
    table = tmp_path / "table.tsv"
    rows = [real_dev.COLUMNS,
            ("klettres", "klettres-data", str(present / "A.ogg"), "klettres:en", "a", "hint"),
            ("hedgewars", "hedgewars-data", str(tmp_path / "not-installed" / "Hello.ogg"), "hedgewars:x", "hello",
             "hint")]
    table.write_text("".join("\t".join(r) + "\n" for r in rows))
    out = tmp_path / "out"
    assert main(["prep", "real-dev", str(out), "--table", str(table)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("not installed") == 1
    assert "skipping hedgewars: Debian package hedgewars-data is not installed" in captured.err
    assert [u.text for u in read_manifest(out / "real-dev.jsonl")] == ["a"]
    assert not (out / "hedgewars.jsonl").exists()
    assert json.loads((out / "corpus.json").read_text())["sources"]["hedgewars"]["installed"] is False

    # a listed file that is gone from an installed package: reported with the table's line, the rest written
    (present / "A.ogg").rename(present / "B.ogg")
    assert main(["prep", "real-dev", str(out), "--table", str(table)]) == 1
    assert f"{table}:2: " in capsys.readouterr().err


def test_archive_members_are_copied_out_byte_for_byte(tmp_path, monkeypatch, capsys):
    """A source inside a zip (UQM's voice pack): members copied to OUT/<source>/, a missing one reported by line."""
    import zipfile

    write_audio(tmp_path / "hello.ogg", tone(0.8, 22050), 22050, "ogg")
    root = tmp_path / "pkg"
    root.mkdir()
    with zipfile.ZipFile(root / "voice.zip", "w", zipfile.ZIP_STORED) as zf:
        zf.write(tmp_path / "hello.ogg", "voice/race/hello-000.ogg")
    source = Source("zipped", "some-voice", str(root), "zipped voices", archive="voice.zip")
    table = tmp_path / "table.tsv"
    rows = [real_dev.COLUMNS,
            ("zipped", "some-voice", f"{root}/voice.zip/voice/race/hello-000.ogg", "zipped:race", "hello", "hint"),
            ("zipped", "some-voice", f"{root}/voice.zip/voice/race/gone-001.ogg", "zipped:race", "gone", "hint")]
    table.write_text("".join("\t".join(r) + "\n" for r in rows))
    monkeypatch.setattr(real_dev, "SOURCES", (source,))
    out = tmp_path / "out"
    assert main(["prep", "real-dev", str(out), "--table", str(table)]) == 1
    err = capsys.readouterr().err
    assert f"{table}:3: " in err and "voice/race/gone-001.ogg is not in" in err
    (line,) = [json.loads(x) for x in (out / "real-dev.jsonl").read_text().splitlines()]
    copy = out / "zipped" / "voice" / "race" / "hello-000.ogg"
    assert line["audio"] == str(copy) and line["id"] == "zipped-voice-race-hello-000" and line["text"] == "hello"
    assert copy.read_bytes() == (tmp_path / "hello.ogg").read_bytes()
    assert not [p for p in copy.parent.iterdir() if p != copy]  # no temporary file left behind


def test_bad_table_rows_are_named(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("\t".join(real_dev.COLUMNS) + "\n"
                     "klettres\tklettres-data\t/usr/share/klettres/A.ogg\tklettres:en\tA.\thint\n"
                     "nosuch\tpkg\t/x/B.ogg\tnosuch:x\tb\thint\n"
                     "klettres\tklettres-data\t/x/C.ogg\tklettres:en\tc\thint\n")
    expected = "line 2: transcript 'A.' is not normalised.*line 3: unknown source.*line 4: /x/C.ogg is not under /usr/share/klettres"
    with pytest.raises(InputError, match=expected):
        read_table(table)


def test_synthetic_corpus_never_reads_real_dev():
    """Evaluation only: the generator of the training corpus must not know the dev set exists."""
    source = (Path(real_dev.__file__).parent / "synthetic.py").read_text()
    assert "real_dev" not in source and "real-dev" not in source
    assert not any(s.root in source for s in SOURCES)
