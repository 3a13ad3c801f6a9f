import json

import numpy as np
import pytest
from conftest import tone, write_audio

from asr.cli import main
from asr.data.manifest import ManifestError, Utterance, read_manifest, validate_manifest, write_manifest
from asr.text import CharTokenizer


def test_write_then_read_round_trip_with_relative_paths(tmp_path):
    (tmp_path / "audio").mkdir()
    inside = write_audio(tmp_path / "audio" / "a.wav", tone(1.0, 16000), 16000)
    outside = write_audio(tmp_path.parent / f"{tmp_path.name}-outside.wav", tone(0.5, 16000), 16000)
    utts = [Utterance("a", str(inside), 1.0, "hello there", "spk1"),
            Utterance("b", str(outside), 0.25, "bye", None, 0.25)]
    path = write_manifest(tmp_path / "m.jsonl", utts)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["audio"] == "audio/a.wav"  # inside the manifest's folder: relative
    assert lines[1]["audio"] == str(outside)  # outside: absolute
    assert "speaker" not in lines[1] and lines[1]["offset"] == 0.25
    assert read_manifest(path) == utts
    assert not list(tmp_path.glob(".*tmp*"))  # no temp file left behind


def test_read_manifest_lists_every_bad_line_by_number(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a", "audio": "a.wav", "duration": 1.0, "text": "ok"}),
        "{not json",
        json.dumps({"id": "b", "audio": "b.wav", "text": "no duration"}),
        json.dumps({"id": "a", "audio": "c.wav", "duration": 1.0, "text": "same id"}),
        json.dumps({"id": "d", "audio": "d.wav", "duration": 0, "text": "zero"}),
    ]) + "\n")
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert [n for n, _ in info.value.problems] == [2, 3, 4, 5]
    message = str(info.value)
    assert str(path) in message and "line 2: unreadable JSON" in message and "line 3: missing field duration" in message
    assert "line 4: duplicate id 'a' (first on line 1)" in message and "line 5: duration 0 is not positive" in message


def test_validate_reports_each_problem_with_its_line_and_cleans(tmp_path, capsys):
    good = write_audio(tmp_path / "good.wav", tone(1.0, 16000), 16000)
    lines = [
        {"id": "ok", "audio": "good.wav", "duration": 1.0, "text": "Hello, World!"},  # 1
        {"id": "missing", "audio": "nope.wav", "duration": 1.0, "text": "hi"},  # 2
        {"id": "zero", "audio": "good.wav", "duration": 0.0, "text": "hi"},  # 3
        {"id": "wrong", "audio": "good.wav", "duration": 2.5, "text": "hi"},  # 4
        {"id": "empty", "audio": "good.wav", "duration": 1.0, "text": "  "},  # 5
        {"id": "greek", "audio": "good.wav", "duration": 1.0, "text": "hello ωμέγα"},  # 6
        {"id": "ok", "audio": "good.wav", "duration": 1.0, "text": "again"},  # 7: duplicate id
        {"id": "seg", "audio": "good.wav", "duration": 0.5, "offset": 0.4, "text": "a segment"},  # 8
        {"id": "past", "audio": "good.wav", "duration": 0.5, "offset": 0.8, "text": "past the end"},  # 9
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(d) for d in lines[:5]) + "\n[1, 2\n"  # line 6: unreadable JSON
                        + "\n".join(json.dumps(d) for d in lines[5:]) + "\n")
    report = validate_manifest(manifest, CharTokenizer())
    problems = dict(report.problems)
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 10]
    assert "file not found" in problems[2]
    assert "not positive" in problems[3]
    assert "does not match the audio (1.000 s" in problems[4]
    assert problems[5] == "empty text"
    assert "unreadable JSON" in problems[6]
    assert "normalisation drops" in problems[7] and "ω" in problems[7]
    assert "duplicate id" in problems[8]
    assert "runs past the end" in problems[10]
    assert [u.id for u in report.good] == ["ok", "seg"]

    clean = tmp_path / "clean.jsonl"
    assert main(["prep", "validate", str(manifest), "--clean", str(clean)]) == 1
    captured = capsys.readouterr()
    assert f"{manifest}:4: duration 2.500 s" in captured.err
    assert "10 lines, 8 bad" in captured.out
    assert [u.id for u in read_manifest(clean)] == ["ok", "seg"]
    assert read_manifest(clean)[0].audio == str(good)
    assert main(["prep", "validate", str(clean)]) == 0


def test_validate_checks_the_tokenizer_after_normalisation(tmp_path):
    write_audio(tmp_path / "a.wav", tone(1.0, 16000), 16000)
    lines = [{"id": "a", "audio": "a.wav", "duration": 1.0, "text": "JAZZ"}, {"id": "b", "audio": "a.wav",
                                                                             "duration": 1.0, "text": "Blues"}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    no_z = CharTokenizer([c for c in CharTokenizer.DEFAULT_SYMBOLS if c != "z"])
    report = validate_manifest(tmp_path / "m.jsonl", no_z)
    assert report.problems == [(1, "characters the tokenizer cannot encode: 'z'")]


def test_validate_accepts_any_audio_rate(tmp_path):
    write_audio(tmp_path / "a.flac", np.zeros(22050, np.float32) + 0.1, 22050, "flac")
    write_manifest(tmp_path / "m.jsonl", [Utterance("a", str(tmp_path / "a.flac"), 1.0, "fine")])
    assert validate_manifest(tmp_path / "m.jsonl", CharTokenizer()).ok
