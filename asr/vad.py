"""Cutting long audio into chunks at pauses, as it streams in, so no recording is ever held whole.

Every 30 ms frame is classified speech or not by WebRTC's VAD (webrtcvad-wheels: C, about 7 ms per minute of
audio on one core, against seconds for a neural VAD, which would cost more than the acoustic model). A chunk ends
in the middle of the first pause of at least ``min_pause_s`` once it is ``min_chunk_s`` long, so chunks look like
the utterances models are trained on and nothing waits longer than needed; a speaker who never pauses is cut at
``max_chunk_s``, in the longest pause found or else at the quietest frame of the chunk's second half. Chunks
without a single speech frame are reported as silence, so silence costs no model time and gives an empty
transcript.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import webrtcvad


@dataclass
class SegmenterConfig:
    max_chunk_s: float = 30.0  # no chunk is longer
    min_chunk_s: float = 2.0  # a pause before this point does not end a chunk
    min_pause_s: float = 0.3  # non-speech this long is a pause worth cutting at
    aggressiveness: int = 1  # webrtcvad 0 (keeps the most speech) to 3 (drops the most non-speech)
    frame_ms: int = 30  # webrtcvad accepts 10, 20 or 30


@dataclass
class Chunk:
    start: float  # seconds from the start of the recording
    samples: np.ndarray  # float32 mono
    has_speech: bool
    sample_rate: int = 16000

    @property
    def duration(self) -> float:
        return self.samples.size / self.sample_rate


class Segmenter:
    """Splits a stream of float32 mono blocks at ``sample_rate`` into ``Chunk``s (see the module docstring)."""

    RATES = (8000, 16000, 32000, 48000)

    def __init__(self, sample_rate: int = 16000, config: SegmenterConfig | None = None):
        self.config = config or SegmenterConfig()
        if sample_rate not in self.RATES:
            raise ValueError(f"the VAD works at {self.RATES} Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        self.frame = sample_rate * self.config.frame_ms // 1000
        self._vad = webrtcvad.Vad(self.config.aggressiveness)

    def speech_flags(self, samples: np.ndarray) -> np.ndarray:
        """One bool per whole frame of ``samples``: does the VAD hear speech in it."""
        n = samples.size // self.frame
        pcm = (np.clip(samples[: n * self.frame], -1.0, 1.0) * 32767).astype(np.int16)
        return np.fromiter((self._vad.is_speech(pcm[i * self.frame:(i + 1) * self.frame].tobytes(), self.sample_rate)
                            for i in range(n)), dtype=bool, count=n)

    def _forced_cut(self, flags: np.ndarray, energy: np.ndarray) -> int:
        """Where to end a chunk that reached ``max_chunk_s`` without a qualifying pause."""
        per_s = 1000 / self.config.frame_ms
        first = int(self.config.min_chunk_s * per_s)
        best_len, best_mid, run = 0, -1, 0
        for i in range(first, len(flags)):
            run = run + 1 if not flags[i] else 0
            if run > best_len:
                best_len, best_mid = run, i - run // 2
        if best_len > 0:
            return best_mid
        half = len(flags) // 2
        return half + int(np.argmin(energy[half:]))

    def chunks(self, blocks: Iterable[np.ndarray]) -> Iterator[Chunk]:
        """Chunks in order; their ``start`` times are exact sample offsets into the stream."""
        c = self.config
        per_s = 1000 / c.frame_ms
        min_frames, max_frames = int(c.min_chunk_s * per_s), int(c.max_chunk_s * per_s)
        min_pause = max(1, int(round(c.min_pause_s * per_s)))
        buffer = np.zeros(0, dtype=np.float32)
        flags = np.zeros(0, dtype=bool)  # one per whole frame of buffer
        pause_start: int | None = None  # first frame of the non-speech run in progress
        consumed = 0  # samples of the stream already emitted

        def cut(at: int) -> Chunk:
            nonlocal buffer, flags, consumed
            end = at * self.frame
            chunk = Chunk(consumed / self.sample_rate, buffer[:end], bool(flags[:at].any()), self.sample_rate)
            buffer, flags, consumed = buffer[end:], flags[at:], consumed + end
            return chunk

        for block in blocks:
            buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
            scanned = len(flags)
            flags = np.concatenate([flags, self.speech_flags(buffer[scanned * self.frame:])])
            i = scanned
            while i < len(flags):
                if not flags[i]:
                    pause_start = i if pause_start is None else pause_start
                elif pause_start is not None:
                    middle = (pause_start + i) // 2
                    if i - pause_start >= min_pause and middle >= min_frames:
                        yield cut(middle)
                        i -= middle
                    pause_start = None
                if i + 1 >= max_frames:
                    frames = buffer[: max_frames * self.frame].reshape(-1, self.frame)
                    at = max(1, self._forced_cut(flags[:max_frames], np.square(frames).mean(axis=1)))
                    yield cut(at)
                    i -= at
                    pause_start = None
                i += 1
        if buffer.size:
            yield cut(len(flags)) if len(flags) * self.frame == buffer.size else Chunk(
                consumed / self.sample_rate, buffer, bool(flags.any()), self.sample_rate)
