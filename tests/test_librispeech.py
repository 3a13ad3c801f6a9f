import json

from conftest import tone, write_audio

from asr.cli import main
from asr.data.manifest import read_manifest


def make_tree(root):
    """A miniature LibriSpeech: two subsets in the official layout, with the odd cases."""
    subset = root / "LibriSpeech" / "dev-clean"
    durations = {}
    for speaker, chapter, n in (("84", "121123", 3), ("174", "50561", 2)):
        folder = subset / speaker / chapter
        folder.mkdir(parents=True)
        lines = []
        for k in range(n):
            utt = f"{speaker}-{chapter}-{k:04d}"
            seconds = 0.5 + 0.25 * k
            write_audio(folder / f"{utt}.flac", tone(seconds, 16000, 200 + 50 * k), 16000, "flac")
            durations[utt] = seconds
            lines.append(f"{utt} GO DO YOU HEAR {k}")
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    odd = subset / "84" / "121123"
    with open(odd / "84-121123.trans.txt", "a") as f:
        f.write("84-121123-0099 THIS LINE HAS NO AUDIO\n")  # line 4
    write_audio(odd / "84-121123-0042.flac", tone(0.3, 16000), 16000, "flac")  # audio with no transcript line
    other = root / "LibriSpeech" / "test-clean" / "7" / "8"
    other.mkdir(parents=True)
    write_audio(other / "7-8-0000.flac", tone(1.0, 16000), 16000, "flac")
    (other / "7-8.trans.txt").write_text("7-8-0000 MISTER SMITH'S 2ND DOG\n")
    return durations


def test_librispeech_tree_with_odd_cases(tmp_path, capsys):
    durations = make_tree(tmp_path / "root")
    out = tmp_path / "manifests"
    assert main(["prep", "librispeech", str(tmp_path / "root"), str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "84-121123.trans.txt:4: transcript of 84-121123-0099 has no audio file" in captured.err
    assert "84-121123-0042.flac: no transcript line" in captured.err
    assert "wrote 5 utterances" in captured.out and "dev-clean.jsonl" in captured.out

    dev = read_manifest(out / "dev-clean.jsonl")
    assert {u.id: round(u.duration, 4) for u in dev} == durations
    first = next(u for u in dev if u.id == "84-121123-0001")
    assert first.text == "go do you hear one" and first.speaker == "84"
    assert first.audio.endswith("dev-clean/84/121123/84-121123-0001.flac")
    test = read_manifest(out / "test-clean.jsonl")
    assert [u.text for u in test] == ["mister smith's second dog"]
    assert json.loads((out / "test-clean.jsonl").read_text())["speaker"] == "7"


def test_librispeech_subset_choice_and_unreadable_audio(tmp_path, capsys):
    make_tree(tmp_path / "root")
    broken = tmp_path / "root" / "LibriSpeech" / "test-clean" / "7" / "8"
    (broken / "7-8-0001.flac").write_bytes(b"fLaC not really")
    with open(broken / "7-8.trans.txt", "a") as f:
        f.write("7-8-0001 BROKEN FILE\n")
    out = tmp_path / "m"
    assert main(["prep", "librispeech", str(tmp_path / "root"), str(out), "--subsets", "test-clean"]) == 1
    captured = capsys.readouterr()
    assert "7-8-0001.flac: corrupt or unreadable audio" in captured.err
    assert [u.id for u in read_manifest(out / "test-clean.jsonl")] == ["7-8-0000"]
    assert not (out / "dev-clean.jsonl").exists()
    assert main(["prep", "librispeech", str(tmp_path / "root"), str(out), "--subsets", "train-clean-100"]) == 2
    assert "no subset folder for train-clean-100" in capsys.readouterr().err
