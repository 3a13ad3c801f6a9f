"""The LibriSpeech recipe end to end on a generated miniature tree in the official layout, and its SLURM scripts."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "librispeech"
SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean", "dev-other", "test-clean",
           "test-other")


def recipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)


def check_official_layout(root: Path) -> None:
    speakers = (root / "SPEAKERS.TXT").read_text().splitlines()
    listed = {line.split("|")[0].strip(): line.split("|")[2].strip() for line in speakers if not line.startswith(";")}
    for subset in SUBSETS:
        flacs = sorted((root / subset).glob("*/*/*.flac"))
        assert len(flacs) == 24
        for flac in flacs:
            speaker, chapter = flac.parent.parent.name, flac.parent.name
            assert re.fullmatch(rf"{speaker}-{chapter}-\d{{4}}\.flac", flac.name)
            assert listed[speaker] == subset
            transcript = flac.parent / f"{speaker}-{chapter}.trans.txt"
            line = next(t for t in transcript.read_text().splitlines() if t.startswith(flac.stem + " "))
            assert re.fullmatch(r"[A-Z' ]+", line.split(" ", 1)[1])


@pytest.mark.slow
def test_recipe_end_to_end_on_a_miniature_librispeech_then_reuses_finished_stages(tmp_path):
    mini = tmp_path / "mini"
    subprocess.run([sys.executable, str(RECIPE / "miniature.py"), str(mini)], check=True, capture_output=True)
    check_official_layout(mini / "LibriSpeech")
    exp, data = tmp_path / "exp", tmp_path / "data"
    settings = [f"recipe.root={mini}", f"recipe.data={data}", f"recipe.lm_dir={mini / 'lm'}", f"run_dir={exp}",
                "model=tiny", "train.epochs=2", "train.warmup_steps=5", "train.threads=1", "train.num_workers=0",
                "train.max_frames=2000", "log.wandb=off", "log.progress_bar=false", "log.tensorboard=false",
                "recipe.nproc_per_node=2", "recipe.alphas=[0.5,1.0]", "recipe.betas=[0.0,1.0]",
                "recipe.unk_scores=[-10.0,-6.0]", "recipe.lm_order=3", "recipe.lm_prune=[0]", "recipe.average_best=2",
                "recipe.beam_width=8"]
    first = recipe(*settings)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    out = first.stdout
    for stage in range(12):
        assert f"== stage {stage}:" in out
    assert "download: skipped" in out
    for subset in SUBSETS:
        assert f"wrote 24 utterances (0.02 h) of {subset}" in out
    assert "wrote 216 lines (factors 1 0.9 1.1)" in out  # 72 training utterances and two perturbed copies
    assert "wrote features of 312 utterances" in out
    assert "language model from " + str(mini / "lm" / "librispeech-lm-norm.txt.gz") in out
    assert "15 steps/epoch × 2 epochs on 2 × cpu" in out  # torchrun, two CPU processes (gloo DDP)
    for subset in ("dev-clean", "dev-other", "test-clean", "test-other"):
        figures = json.loads((exp / f"eval-{subset}.json").read_text())
        assert figures["utterances"] == 24 and set(figures["decoders"]) == {"greedy", "beam + LM"}
    tune = json.loads((exp / "tune.json").read_text())
    assert len(tune["table"]) == 8 and tune["best_unk_score"] in (-10.0, -6.0)
    package = exp / "package" / "librispeech-ds2.pt"
    model = torch.load(package, weights_only=True)
    assert model["model_config"]["hidden_size"] == 64 and model["tokenizer"]["type"] == "char"
    assert model["provenance"]["decoder"]["unk_score"] == tune["best_unk_score"]
    assert "test_other_wer_lm" in model["provenance"] and model["provenance"]["recipe"] == "recipes/librispeech"
    table = out[out.index("== stage 11"):]
    for subset in ("dev-clean", "dev-other", "test-clean", "test-other"):
        assert f"| {subset} | 24 | 0.02 |" in table
    assert "unk_score" in table

    # a second run reuses what is done: nothing is prepared, perturbed, extracted or built again, training resumes
    again = recipe("--stage", "1", "--stop-stage", "6", *settings)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for done in ("manifests: every subset", "speed perturbation: ", "features: ", "language model: ", "tokenizer: "):
        assert re.search(re.escape(done) + r".* is complete", again.stdout), done
    assert "resuming at step 30" in again.stdout


def test_recipe_help_and_bad_arguments():
    assert "Stages" in recipe("--help").stdout
    bad = recipe("--frobnicate")
    assert bad.returncode == 2 and "unknown argument" in bad.stderr


def joined_command(text: str, start: str) -> str:
    """The shell command starting with ``start`` in ``text``, continuation lines joined, spaces collapsed."""
    tail = text[text.index(start):]
    command = []
    for line in tail.splitlines():
        command.append(line.strip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(" ".join(command).split())


@pytest.mark.parametrize("script", ["slurm_train.sh", "slurm_features.sh", "gpu_check.sh", "run.sh"])
def test_scripts_parse(script):
    check = subprocess.run(["bash", "-n", str(RECIPE / script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_readmes_show_the_slurm_scripts_torchrun_line():
    script = (RECIPE / "slurm_train.sh").read_text()
    assert re.search(r"^#SBATCH --nodes=2$", script, re.M) and script.count("#SBATCH") >= 6
    torchrun = joined_command(script, "srun .venv/bin/torchrun")
    assert "--rdzv-backend c10d" in torchrun and "-m asr.train experiment=librispeech_ds2" in torchrun
    for readme in (REPO / "README.md", RECIPE / "README.md"):
        assert joined_command(readme.read_text(), "srun .venv/bin/torchrun") == torchrun, readme
