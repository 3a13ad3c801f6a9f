"""`asr prep folder`: your own recordings and transcripts to manifests, with per-item problems named."""

import json

import numpy as np
import soundfile

from asr.cli import main as asr_main


def tone(path, seconds, rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sibling_transcripts_speakers_and_problems(tmp_path, capsys):
    root = tmp_path / "rec"
    for speaker in ("ann", "bob", "cat"):
        for i in range(4):
            tone(root / speaker / f"{i:02d}.wav", 0.5 + 0.25 * i)
            (root / speaker / f"{i:02d}.txt").write_text(f"take {i} by {speaker}\n")
    tone(root / "bob" / "untranscribed.flac", 1.0)
    (root / "cat" / "broken.wav").write_bytes(b"RIFF not really audio")
    (root / "cat" / "broken.txt").write_text("never read")
    (root / "cat" / "blank.wav").write_bytes((root / "cat" / "00.wav").read_bytes())
    (root / "cat" / "blank.lab").write_text("  ...  \n")

    out = tmp_path / "manifests"
    status = asr_main(["prep", "folder", str(root), str(out), "--speaker-from-folder", "--dev-fraction", "0.34"])
    err = capsys.readouterr().err
    assert status == 1  # the rest is written, the problems are named
    assert "untranscribed.flac: no transcript" in err and "broken.wav" in err and "blank.wav" in err
    every = lines(out / "all.jsonl")
    assert len(every) == 12 and {u["speaker"] for u in every} == {"ann", "bob", "cat"}
    first = next(u for u in every if u["id"] == "ann-01")
    assert first["text"] == "take 1 by ann" and abs(first["duration"] - 0.75) < 1e-3
    train, dev = lines(out / "train.jsonl"), lines(out / "dev.jsonl")
    # a third of three speakers: one whole speaker held out for dev, none shared
    assert len(dev) == 4 and len({u["speaker"] for u in dev}) == 1
    assert not {u["speaker"] for u in dev} & {u["speaker"] for u in train} and len(train) == 8


def test_a_transcript_table_in_ljspeech_form(tmp_path, capsys):
    root = tmp_path / "wavs"
    for name in ("LJ001-0001", "LJ001-0002", "LJ001-0003"):
        tone(root / f"{name}.wav", 1.0)
    table = tmp_path / "metadata.csv"
    table.write_text("LJ001-0001|Printing, in 1st sense|printing in the first sense\n"
                     "wavs/LJ001-0002.wav|x|second one\n"      # a path with its extension works too
                     "LJ001-0003\tthird one\n"                  # and tabs
                     "LJ009-9999|gone|no such recording\n")
    out = tmp_path / "m"
    assert asr_main(["prep", "folder", str(root), str(out), "--transcripts", str(table), "--speaker", "lj"]) == 1
    assert "'LJ009-9999': no such recording" in capsys.readouterr().err
    every = {u["id"]: u for u in lines(out / "all.jsonl")}
    assert every["LJ001-0001"]["text"] == "printing in the first sense" and every["LJ001-0001"]["speaker"] == "lj"
    assert every["LJ001-0003"]["text"] == "third one" and len(every) == 3
    assert not (out / "train.jsonl").exists()


def test_a_folder_without_usable_recordings_is_an_error_naming_it(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert asr_main(["prep", "folder", str(tmp_path / "empty"), str(tmp_path / "m")]) == 2
    assert "empty" in capsys.readouterr().err and not (tmp_path / "m").exists()
