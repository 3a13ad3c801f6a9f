"""`asr live`: a file through the live pipeline prints the right text; saving; the missing-device messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from asr.audio import load_audio
from asr.cli import main
from asr.data.manifest import read_manifest
from asr.live import terminal

RATE = 16000


def two_sentence_file(corpus, path):
    utts = read_manifest(corpus.train)
    pause = np.zeros(RATE, dtype=np.float32)
    audio = np.concatenate([pause, load_audio(utts[0].audio, RATE), pause, load_audio(utts[3].audio, RATE), pause])
    soundfile.write(str(path), audio, RATE)
    return path, [utts[0].text, utts[3].text]


LIVE = ["--preroll", "0.5", "--endpoint-silence", "0.5"]  # the tiny model heard 0.2-0.7 s of silence around speech


@pytest.mark.slow
def test_live_input_prints_the_finals_and_saves_them(tiny_model, tiny_corpus, tmp_path, capsys):
    wav, texts = two_sentence_file(tiny_corpus, tmp_path / "talk.wav")
    prefix = tmp_path / "out" / "session"
    assert main(["live", "--model", str(tiny_model), "--input", str(wav), "--speed", "0", "--save", str(prefix),
                 *LIVE]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == texts  # not a terminal: the final lines only
    assert (prefix.parent / "session.txt").read_text().splitlines() == texts
    saved = json.loads((prefix.parent / "session.json").read_text())
    assert saved["text"] == " ".join(texts) and [s["text"] for s in saved["segments"]] == texts
    first, second = saved["segments"]
    # times are seconds of the file: the first segment opens within the pre-roll before the speech at 1 s
    assert 0.4 < first["start"] <= first["words"][0]["start"] < first["end"] <= second["start"]
    assert second["start"] <= second["words"][0]["start"] < second["end"] <= len(load_audio(wav, RATE)) / RATE
    audio, rate = soundfile.read(str(prefix.parent / "session.wav"))
    assert rate == RATE and len(audio) == len(load_audio(wav, RATE))
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["session.json", "session.txt", "session.wav"]


def test_live_input_paces_real_time(tiny_model, tiny_corpus, tmp_path, capsys):
    import time

    utt = read_manifest(tiny_corpus.train)[0]
    start = time.perf_counter()
    assert main(["live", "--model", str(tiny_model), "--input", utt.audio, "--speed", "4", *LIVE]) == 0
    duration = len(load_audio(utt.audio, RATE)) / RATE
    assert time.perf_counter() - start >= duration / 4  # never faster than the given pace
    assert capsys.readouterr().out.strip() == utt.text


def test_missing_input_device_message(monkeypatch, capsys):
    sd = pytest.importorskip("sounddevice")
    if terminal.input_devices(sd):
        pytest.skip("this machine has an audio input device")
    assert main(["live"]) == 2
    err = capsys.readouterr().err
    assert "no audio input device found" in err and "--input FILE" in err and "Traceback" not in err
    assert main(["live", "--list-devices"]) == 2


def test_missing_portaudio_message(monkeypatch, capsys):
    def no_portaudio():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(terminal, "_import_sounddevice", no_portaudio)
    assert main(["live", "--list-devices"]) == 2
    err = capsys.readouterr().err
    assert "PortAudio" in err and "libportaudio2" in err and "--input FILE" in err


def test_live_missing_file(tiny_model, capsys):
    assert main(["live", "--model", str(tiny_model), "--input", "nowhere.wav"]) == 2
    assert "nowhere.wav: no such file" in capsys.readouterr().err
