"""Shared fixtures: audio files written inside the test's own folder, generated speech."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

FORMATS = {  # extension → (soundfile format, subtype, lossless)
    "wav": ("WAV", "PCM_16", True),
    "wav-float": ("WAV", "FLOAT", True),
    "flac": ("FLAC", "PCM_16", True),
    "ogg": ("OGG", "VORBIS", False),
    "mp3": ("MP3", "MPEG_LAYER_III", False),
}


def tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, rate: int, kind: str = "wav") -> Path:
    fmt, subtype, _ = FORMATS[kind]
    soundfile.write(str(path), samples, rate, format=fmt, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def espeak() -> str:
    """The espeak-ng binary (`make install` provides it)."""
    path = shutil.which("espeak-ng")
    if path is None:
        pytest.fail("espeak-ng is missing: run `make install`")
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory, espeak) -> Path:
    """About 8 s of generated English speech at espeak's native 22.05 kHz."""
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    text = ("Speech recognition turns sound into words. The quick brown fox jumps over the lazy dog, "
            "and seven silver swans swim south in the summer sun.")
    subprocess.run([espeak, "-w", str(path), text], check=True)
    return path


TINY_SENTENCES = [
    "the cat sat on the mat", "a dog ran in the park", "she sells sea shells", "birds fly south in winter",
    "open the door please", "the sun is bright today", "we read books at night", "my car is red",
    "green leaves fall slowly", "he drinks hot tea", "the river runs deep", "they sing a happy song",
]


@dataclass
class TinyCorpus:
    root: Path
    train: Path  # manifest of all utterances
    dev: Path  # manifest of the first four
    store: Path  # feature store of all of them


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory, espeak) -> TinyCorpus:
    """Twelve short espeak-ng utterances (two voices), their manifests and a feature store."""
    from asr.audio import audio_info
    from asr.data import Utterance, extract_features, write_manifest
    from asr.features import FeatureConfig

    root = tmp_path_factory.mktemp("tiny_corpus")
    (root / "wav").mkdir()
    utts = []
    for i, sentence in enumerate(TINY_SENTENCES):
        voice = "en-us" if i % 2 == 0 else "en"
        path = root / "wav" / f"utt{i:02d}.wav"
        subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(path), sentence], check=True)
        utts.append(Utterance(f"utt{i:02d}", str(path), audio_info(path).duration, sentence, voice))
    write_manifest(root / "train.jsonl", utts)
    write_manifest(root / "dev.jsonl", utts[:4])
    extract_features([root / "train.jsonl"], root / "store", FeatureConfig(), workers=1, progress=False)
    return TinyCorpus(root, root / "train.jsonl", root / "dev.jsonl", root / "store")


def train_overrides(corpus: TinyCorpus, run_dir: Path, **extra) -> list[str]:
    """Hydra overrides for a fast, deterministic CPU training run on ``corpus``."""
    base = {
        "model": "tiny", "augment": "none", "data.train_manifest": corpus.train, "data.dev_manifest": corpus.dev,
        "data.store": corpus.store, "run_dir": run_dir, "train.threads": 1, "train.max_frames": 600,
        "train.warmup_steps": 5, "train.lr": 3e-3, "train.epochs": 2, "log.wandb": "off",
        "log.tensorboard": False, "log.progress_bar": False,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def _train_tiny_model(corpus: TinyCorpus, root: Path, **overrides) -> Path:
    """A packaged `tiny` model trained on ``corpus``, each utterance also padded with 0.2-0.7 s of silence on both
    sides, as chunks cut from a long recording at pauses are; a model that has only heard tightly cut clips
    garbles those."""
    from asr.audio import audio_info, load_audio
    from asr.data import Utterance, extract_features, write_manifest
    from asr.data.manifest import read_manifest
    from asr.features import FeatureConfig
    from asr.train import compose
    from asr.training.trainer import train

    rng = np.random.default_rng(0)
    utts = read_manifest(corpus.train)
    for u in list(utts):
        pad = [np.zeros(int(rng.uniform(0.2, 0.7) * 16000), dtype=np.float32) for _ in range(2)]
        path = write_audio(root / f"{u.id}-padded.wav", np.concatenate([pad[0], load_audio(u.audio), pad[1]]), 16000)
        utts.append(Utterance(f"{u.id}-padded", str(path), audio_info(path).duration, u.text, u.speaker))
    write_manifest(root / "train.jsonl", utts)
    extract_features([root / "train.jsonl"], root / "store", FeatureConfig(), workers=1, progress=False)
    run_dir = root / "run"
    train(compose(train_overrides(corpus, run_dir, **{
        "data.train_manifest": root / "train.jsonl", "data.store": root / "store", "data.dev_manifest":
        corpus.train, "train.epochs": 70, "train.lr": 5e-3, "train.schedule": "constant",
        "train.warmup_steps": 20, "train.keep_best": 1, **overrides})))
    return run_dir / "model.pt"


def die_while_writing(writer: str, code: str) -> None:
    """Run ``code`` in a fresh Python in which ``writer`` ("module.function", e.g. "torch.save") writes a few
    bytes to the file it was given and then ends the process as a kill would: no exception handler and no
    ``finally`` runs, so whatever temporary file the caller was writing stays behind, named as the caller names it.
    """
    import os
    import sys

    script = f"""
import importlib, os
module, name = {writer!r}.rsplit(".", 1)
def dying(*args, **kwargs):
    target = next(a for a in args if isinstance(a, (str, os.PathLike)) or hasattr(a, "write"))
    if hasattr(target, "write"):
        target.write(b"partial")
        target.flush()
    else:
        open(target, "wb").write(b"partial")
    os._exit(9)
setattr(importlib.import_module(module), name, dying)
{code}
raise SystemExit("the writer was never called")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 9, result.stderr[-2000:]


def temp_files(folder: Path) -> list[str]:
    """Hidden files anywhere under ``folder``: the toolkit's writers name their temporary files ".*"."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*") if p.is_file())

@pytest.fixture(scope="session")
def tiny_model(tiny_corpus, tmp_path_factory) -> Path:
    """A packaged `tiny` model trained until its greedy transcripts of the tiny corpus are exact (~30 s)."""
    return _train_tiny_model(tiny_corpus, tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_stream_model(tiny_corpus, tmp_path_factory) -> Path:
    """The same, unidirectional: a model that streams with its state carried (asr.streaming); its outputs are
    peaked enough for transcripts to be compared, not necessarily right."""
    return _train_tiny_model(tiny_corpus, tmp_path_factory.mktemp("tiny_stream_model"),
                             **{"model.bidirectional": False, "train.epochs": 30})
