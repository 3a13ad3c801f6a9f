"""Shared fixtures: audio files written inside the test's own folder, generated speech."""

from __future__ import annotations

import shutil
import subprocess
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
