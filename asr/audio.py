"""Audio input: any file soundfile reads (wav, flac, ogg, mp3, ...) as float32 mono at a target rate.

Every problem with a file raises ``AudioError`` whose message names the file and the problem:

==========================  =====================================================
case                        message (after ``<path>: ``)
==========================  =====================================================
missing file                ``file not found``
a directory                 ``is a directory, not an audio file``
0-byte file                 ``file is empty (0 bytes)``
not audio                   ``not a recognised audio format (...)``
corrupt header              ``corrupt or unreadable audio (...)``
no samples                  ``contains no audio samples``
NaN / inf samples           ``contains N NaN or infinite samples``
offset past the end         ``offset X s is past the end (Y s)``
==========================  =====================================================

Resampling uses soxr (high quality); channels are averaged to mono.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from asr.errors import InputError

DEFAULT_SAMPLE_RATE = 16000
# What a folder search counts as audio (formats libsndfile reads).
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64", ".caf"}


class AudioError(InputError):
    """An audio file that cannot be used. ``str(err)`` is ``"<path>: <problem>"``."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding the samples."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def find_audio_files(folder: Path) -> list[Path]:
    """The audio files under ``folder`` (recursively, by suffix), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")


def _explain(path: Path, err: Exception) -> AudioError:
    """Turn libsndfile's terse messages into one of the documented problems."""
    text = str(err)
    if "Format not recognised" in text or "unknown format" in text.lower():
        return AudioError(path, f"not a recognised audio format ({text.split(':')[-1].strip()})")
    return AudioError(path, f"corrupt or unreadable audio ({text.split(':', 1)[-1].strip()})")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Header facts (rate, channels, frames) of ``path``; fast, reads no samples."""
    path = Path(path)
    _check_path(path)
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise _explain(path, err) from None
    if info.frames <= 0:
        raise AudioError(path, "contains no audio samples")
    return AudioInfo(str(path), int(info.samplerate), int(info.channels), int(info.frames), info.format,
                     info.subtype)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: (frames, channels) → (frames,). A 1-D array is returned as it is."""
    return samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling with soxr (HQ); a no-op when the rates are equal."""
    if from_rate == to_rate:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def _check_finite(path: Path, samples: np.ndarray) -> None:
    bad = int(np.count_nonzero(~np.isfinite(samples)))
    if bad:
        raise AudioError(path, f"contains {bad} NaN or infinite samples")


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Read ``path`` (optionally a segment of it) as float32 mono samples at ``sample_rate``.

    ``offset`` and ``duration`` are in seconds of the file, as in a manifest line's ``offset``/``duration``.
    Raises ``AudioError`` for every unusable file (see the module docstring).
    """
    path = Path(path)
    info = audio_info(path)
    start = int(round(offset * info.sample_rate))
    if start >= info.frames:
        raise AudioError(path, f"offset {offset:.3f} s is past the end ({info.duration:.3f} s)")
    stop = info.frames if duration is None else min(info.frames, start + int(round(duration * info.sample_rate)))
    try:
        samples, rate = soundfile.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as err:
        raise _explain(path, err) from None
    if samples.shape[0] == 0:
        raise AudioError(path, "contains no audio samples")
    samples = to_mono(samples)
    _check_finite(path, samples)
    return np.ascontiguousarray(resample(samples, rate, sample_rate), dtype=np.float32)


def iter_audio_blocks(
    path: str | os.PathLike, sample_rate: int = DEFAULT_SAMPLE_RATE, block_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Yield a long file as consecutive float32 mono blocks at ``sample_rate`` without holding it whole.

    Resampling is streamed (soxr keeps its filter state across blocks), so the concatenated blocks equal
    ``load_audio(path, sample_rate)`` up to resampler edge effects at the very end.
    """
    path = Path(path)
    info = audio_info(path)
    resampler = None if info.sample_rate == sample_rate else soxr.ResampleStream(
        info.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
    block_frames = max(1, int(block_seconds * info.sample_rate))
    try:
        with soundfile.SoundFile(str(path)) as f:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                last = block.shape[0] < block_frames
                block = to_mono(block)
                _check_finite(path, block)
                if resampler is not None:
                    block = resampler.resample_chunk(block, last=last)
                if block.size:
                    yield np.ascontiguousarray(block, dtype=np.float32)
                if last:
                    return
    except (soundfile.LibsndfileError, RuntimeError) as err:
        raise _explain(path, err) from None
