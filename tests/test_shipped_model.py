"""The models and LMs shipped in models/ work right after `make install` and stay small."""

import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"


def test_shipped_model_transcribes_its_sample_file():
    expected = (MODELS / "sample.txt").read_text().strip()
    result = subprocess.run([str(REPO / ".venv" / "bin" / "asr"), "transcribe", str(MODELS / "synthetic-small.pt"),
                             str(MODELS / "sample.wav")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_shipped_files_are_small_and_self_describing():
    model = torch.load(MODELS / "synthetic-small.pt", map_location="cpu", weights_only=True)
    decoder = model["provenance"]["decoder"]
    lm = MODELS / decoder["lm"]
    assert sorted(p.name for p in lm.iterdir()) == ["lm.bin", "lm.json", "words.txt"]
    total = (MODELS / "synthetic-small.pt").stat().st_size + sum(p.stat().st_size for p in lm.iterdir())
    assert total <= 60e6  # model and LM together: what the repository can carry
    assert (MODELS / "synthetic-small.pt").stat().st_size + sum(
        p.stat().st_size for p in (MODELS / "lm").iterdir()) <= 20e6  # the recipe's domain LM beside it
    assert {"alpha", "beta", "beam_width", "unk_score"} <= set(decoder)
    assert {"test_wer_greedy", "test_wer_lm", "dev_wer_lm", "steps", "train_hours"} <= set(model["provenance"])


# Recordings of people that ship in a Debian package `make install` installs (hedgewars-data), with their words:
# README's example for the model for people, models/whisper-bilstm.pt. Both are real-dev recordings (never trained
# on); the model writes 21 of real-dev's 147 hedgewars recordings exactly, and has 54.3% WER on real-dev overall.
HUMAN_RECORDINGS = {
    "/usr/share/games/hedgewars/Data/Sounds/voices/Default/Boring.ogg": "this is so boring",
    "/usr/share/games/hedgewars/Data/Sounds/voices/British/Thisoneismine.ogg": "this one is mine",
}


@pytest.mark.parametrize("recording", sorted(HUMAN_RECORDINGS))
def test_model_for_people_transcribes_a_human_recording(recording):
    if not Path(recording).is_file():
        pytest.skip(f"{recording} is absent: Debian's hedgewars-data is not installed (`make install` installs it)")
    result = subprocess.run([str(REPO / ".venv" / "bin" / "asr"), "transcribe", str(MODELS / "whisper-bilstm.pt"),
                             recording], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == HUMAN_RECORDINGS[recording]


def test_transcribe_uses_the_model_for_people_when_no_model_is_named():
    recording = "/usr/share/games/hedgewars/Data/Sounds/voices/Default/Boring.ogg"
    if not Path(recording).is_file():
        pytest.skip(f"{recording} is absent: Debian's hedgewars-data is not installed (`make install` installs it)")
    result = subprocess.run([str(REPO / ".venv" / "bin" / "asr"), "transcribe", recording],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == HUMAN_RECORDINGS[recording]


def test_live_streams_a_human_recording_with_the_model_for_people_by_default():
    recording = "/usr/share/games/hedgewars/Data/Sounds/voices/Default/Boring.ogg"
    if not Path(recording).is_file():
        pytest.skip(f"{recording} is absent: Debian's hedgewars-data is not installed (`make install` installs it)")
    result = subprocess.run([str(REPO / ".venv" / "bin" / "asr"), "live", "--input", recording, "--speed", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == HUMAN_RECORDINGS[recording]  # the final line, as `asr transcribe` gives it


def test_model_for_people_is_small_and_names_its_encoder():
    path = MODELS / "whisper-bilstm.pt"
    model = torch.load(path, map_location="cpu", weights_only=True)
    assert model["feature_config"]["encoder"] == "whisper-tiny.en"
    decoder = model["provenance"]["decoder"]
    assert decoder["lm"] == "english-lm" and {"alpha", "beta", "beam_width", "unk_score"} <= set(decoder)
    lm = MODELS / decoder["lm"]
    assert path.stat().st_size + sum(p.stat().st_size for p in lm.iterdir()) <= 60e6
