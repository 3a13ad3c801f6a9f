"""The default recipe end to end on a tiny setting: a few minutes of generated speech and the `tiny` model."""

import json
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "recipes" / "synthetic" / "run.sh"


def recipe(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RUN), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_recipe_runs_end_to_end_and_reuses_finished_stages(tmp_path):
    settings = [f"recipe.corpus={tmp_path / 'corpus'}", f"run_dir={tmp_path / 'exp'}", "recipe.hours=0.06",
                "model=tiny", "train.epochs=2", "train.warmup_steps=5", "train.threads=1", "log.wandb=off",
                "log.progress_bar=false", "recipe.alphas=[0.5,1.0]", "recipe.betas=[0.0,1.0]", "recipe.lm_order=3"]
    first = recipe(*settings)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    for stage in range(10):
        assert f"== stage {stage}:" in first.stdout
    exp = tmp_path / "exp"
    for split in ("dev", "test"):
        figures = json.loads((exp / f"eval-{split}.json").read_text())
        assert set(figures["decoders"]) == {"greedy", "beam + LM"} and figures["utterances"] > 0
        assert (exp / f"report-{split}.txt").read_text().startswith("WER ")
    package = exp / "package" / "synthetic-small.pt"
    model = torch.load(package, weights_only=True)
    assert model["model_config"]["hidden_size"] == 64
    assert set(model["provenance"]["decoder"]) == {"lm", "alpha", "beta", "beam_width"}
    assert sorted(p.name for p in (exp / "package" / "lm").iterdir()) == ["lm.bin", "lm.json", "words.txt"]
    table = first.stdout[first.stdout.index("== stage 9"):]
    assert "| dev |" in table and "| test |" in table and "sample transcription:" in table
    assert (exp / "tune.png").is_file() and (exp / "curves.png").is_file()

    # a second run reuses what is done: the corpus and features are not made again, training resumes at its end
    again = recipe("--stage", "0", "--stop-stage", "3", *settings)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "is complete" in again.stdout
    assert "resuming at step" in again.stdout

    # the same corpus through the pretrained encoder (experiment=synthetic_whisper): its own store, a model that
    # stacks encoder states, a package that records the encoder
    whisper = recipe("--stage", "1", "experiment=synthetic_whisper", *settings[:1], f"run_dir={tmp_path / 'exp-w'}",
                     "model.hidden_size=32", "model.num_layers=1", *settings[4:])
    assert whisper.returncode == 0, whisper.stdout[-4000:] + whisper.stderr[-4000:]
    store = json.loads((tmp_path / "corpus" / "whisper-features" / "store.json").read_text())
    assert store["feature_config"]["encoder"] == "whisper-tiny.en"
    model = torch.load(tmp_path / "exp-w" / "package" / "synthetic-whisper.pt", weights_only=True)
    assert model["feature_config"]["encoder"] == "whisper-tiny.en" and model["model_config"]["stack_frames"] == 2
    assert "| test |" in whisper.stdout[whisper.stdout.index("== stage 9"):]


def test_recipe_help_and_bad_arguments():
    assert "Stages" in recipe("--help").stdout
    bad = recipe("--frobnicate")
    assert bad.returncode == 2 and "unknown argument" in bad.stderr
