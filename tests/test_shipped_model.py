"""The model and LM shipped in models/ work right after `make install` and stay small."""

import subprocess
from pathlib import Path

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
