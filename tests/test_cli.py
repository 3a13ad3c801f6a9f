import json
import subprocess
import sys

import pytest

from asr.cli import COMMANDS, Command, main


def all_commands():
    for name, entry in COMMANDS.items():
        if isinstance(entry, Command):
            yield [name]
        else:
            yield from ([name, sub] for sub in entry)


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name}" in out


@pytest.mark.parametrize("words", list(all_commands()), ids=lambda w: " ".join(w))
def test_each_command_has_help(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: asr {' '.join(words)}" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "asr.cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("asr ")


def test_score_command(tmp_path, capsys):
    ref = tmp_path / "ref.jsonl"
    ref.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "text": "The cat sat on the mat."}, {"id": "b", "text": "hello world"}]) + "\n")
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("a the cat sit on the mat\nb hello world\n")
    report = tmp_path / "report.txt"
    assert main(["score", str(ref), str(hyp), "--normalize", "--report", str(report), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["words"]["substitutions"] == 1 and summary["words"]["reference_length"] == 8
    assert "SAT" in report.read_text()


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["score", str(tmp_path / "missing.txt"), str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "missing.txt: file not found" in err and "Traceback" not in err


def test_score_matches_transcribe_json_to_a_manifest_by_audio_path(tmp_path, capsys, monkeypatch):
    from asr.inference import Transcript
    from asr.transcribe import render

    monkeypatch.chdir(tmp_path)  # asr transcribe writes "source" as given on its command line: here, relative
    (tmp_path / "corpus").mkdir()
    ref = tmp_path / "corpus" / "test.jsonl"  # a manifest: audio relative to its own folder
    ref.write_text("\n".join(json.dumps(r) for r in [
        {"id": "u1", "audio": "wav/a.wav", "duration": 1.0, "text": "the cat sat on the mat"},
        {"id": "u2", "audio": "wav/b.wav", "duration": 1.0, "text": "hello world"}]) + "\n")
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text(render(Transcript("hello world", [], 1.0, "corpus/wav/b.wav"), "json")
                   + render(Transcript("the cat sit on the mat", [], 1.0, "corpus/wav/a.wav"), "json"))
    assert main(["score", str(ref), str(hyp), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["utterances"] == 2 and summary["words"]["reference_length"] == 8
    assert summary["words"]["substitutions"] == 1 and summary["words"]["errors"] == 1
    assert "no hypothesis" not in captured.err
    # a hypothesis that matches no reference audio is reported, not silently scored as another utterance
    hyp.write_text(render(Transcript("hello world", [], 1.0, "elsewhere/c.wav"), "json"))
    assert main(["score", str(ref), str(hyp), "--json"]) == 0
    err = capsys.readouterr().err
    assert "2 reference utterances have no hypothesis" in err and "1 hypotheses have no reference" in err
