"""Transcriber: a packaged model (optionally with a language model) turns audio into text, word times and confidences.

    from asr.inference import Transcriber
    transcriber = Transcriber("models/synthetic-small.pt", lm="models/synthetic-lm")
    print(transcriber.transcribe("meeting.flac").text)

Files are read in blocks and cut at pauses into chunks of at most 30 s (asr.vad) as they stream in, so an hour
of audio is never held whole, as samples or as features. Chunks from one or many files are batched, sorted by
length, through the same feature code as training (asr.features.LogMel or a pretrained encoder, then the model's
CMVN) and the model, on CPU or GPU; word times from each chunk are shifted by the chunk's start, so they are global times in the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from asr.audio import AudioError, iter_audio_blocks, resample, to_mono
from asr.decoding import BeamSearchConfig, BeamSearchDecoder, DecodeResult, greedy_decode
from asr.errors import ASRError
from asr.features import feature_extractor
from asr.package import PackagedModel, load_packaged_model
from asr.vad import Chunk, Segmenter, SegmenterConfig


@dataclass
class Word:
    word: str
    start: float  # seconds from the start of the audio
    end: float
    confidence: float  # 0..1: geometric mean of the best class's posterior over the word's frames


@dataclass
class Transcript:
    text: str
    words: list[Word] = field(default_factory=list)
    duration: float = 0.0  # seconds of audio
    source: str | None = None  # the file, when there was one

    def to_dict(self) -> dict:
        return {"source": self.source, "duration": round(self.duration, 3), "text": self.text,
                "words": [{**asdict(w), "start": round(w.start, 3), "end": round(w.end, 3),
                           "confidence": round(w.confidence, 4)} for w in self.words]}


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of the recurrent and linear layers (weights int8, activations quantised on the
    fly): about a quarter of the weight memory and faster matrix products on CPU."""
    import warnings

    with warnings.catch_warnings():  # torch.ao's quantised tensors are deprecated upstream; torch is pinned here
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.LSTM, torch.nn.GRU, torch.nn.Linear},
                                                      dtype=torch.qint8)


class Transcriber:
    """Transcribes files or arrays with a packaged model; see the module docstring."""

    def __init__(self, model: str | os.PathLike | PackagedModel, lm: str | os.PathLike | None = None,
                 decoder: BeamSearchConfig | None = None, device: str = "cpu", batch_size: int = 16,
                 max_batch_seconds: float = 240.0, int8: bool = False, segmenter: SegmenterConfig | None = None):
        self.package = model if isinstance(model, PackagedModel) else load_packaged_model(model, device)
        self.device = torch.device(device)
        self.package.model.to(self.device).eval()
        if int8:
            if self.device.type != "cpu":
                raise ASRError("int8 quantisation runs on the CPU only (use --device cpu)")
            self.package.model = quantize_int8(self.package.model)
        self.model = self.package.model
        self.tokenizer = self.package.tokenizer
        self.sample_rate = self.package.feature_config.sample_rate
        self.features = feature_extractor(self.package.feature_config).to(self.device)
        self.frame_shift = self.package.frame_shift
        self.batch_size = batch_size
        self.max_batch_seconds = max_batch_seconds
        self.segmenter = Segmenter(self.sample_rate, segmenter)
        if decoder is None and lm is not None:
            decoder = BeamSearchConfig()
        self.beam = BeamSearchDecoder(decoder, self.tokenizer, lm) if decoder is not None else None

    # --- the model -----------------------------------------------------------------------------------

    @torch.no_grad()
    def log_probs(self, waveforms: list[np.ndarray]) -> list[np.ndarray]:
        """CTC log-probs (T, vocab) of each float32 mono waveform at the model's rate, batched by length."""
        out: list[np.ndarray | None] = [None] * len(waveforms)
        order = sorted(range(len(waveforms)), key=lambda i: -len(waveforms[i]))
        for batch in self._batches(order, [len(w) for w in waveforms]):
            lengths = torch.tensor([len(waveforms[i]) for i in batch])
            padded = torch.zeros(len(batch), int(lengths.max()))
            for row, i in enumerate(batch):
                padded[row, : len(waveforms[i])] = torch.from_numpy(waveforms[i])
            feats, frames = self.features(padded.to(self.device), lengths)
            feats = self.package.cmvn.apply(feats, frames)
            log_probs, out_lengths = self.model(feats, frames.to(self.device))
            log_probs = log_probs.float().cpu().numpy()
            for row, i in enumerate(batch):
                out[i] = log_probs[row, : int(out_lengths[row])]
        return out  # type: ignore[return-value]

    def _batches(self, order: list[int], sizes: list[int]) -> Iterator[list[int]]:
        limit = self.max_batch_seconds * self.sample_rate
        batch: list[int] = []
        for i in order:  # longest first: a batch is full when its padded size would pass the limit
            if batch and (len(batch) >= self.batch_size or (len(batch) + 1) * sizes[batch[0]] > limit):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def decode(self, log_probs: np.ndarray) -> DecodeResult:
        if self.beam is not None:
            return self.beam.decode(log_probs, self.frame_shift)
        return greedy_decode(torch.from_numpy(log_probs), None, self.tokenizer, self.frame_shift)[0]

    def _words(self, result: DecodeResult, log_probs: np.ndarray, chunk: Chunk) -> list[Word]:
        """Chunk-relative decoder words → global words with confidences. The last output frame reaches up to
        one frame shift past the audio (frames are centred), so times are clamped to the chunk's end."""
        best = log_probs.max(axis=1)
        words = []
        for w in result.words:
            if w.first_frame is not None:
                first, last = w.first_frame, w.last_frame + 1
            else:
                first, last = round(w.start / self.frame_shift), round(w.end / self.frame_shift)
            first = min(first, len(best) - 1)
            last = max(first + 1, last)
            start, end = min(w.start, chunk.duration), min(w.end, chunk.duration)
            words.append(Word(w.word, chunk.start + start, chunk.start + end, float(math.exp(best[first:last].mean()))))
        return words

    # --- files and arrays ----------------------------------------------------------------------------

    def _array_chunks(self, samples: np.ndarray, sample_rate: int) -> Iterator[Chunk]:
        samples = resample(to_mono(np.asarray(samples, dtype=np.float32)), sample_rate, self.sample_rate)
        block = self.sample_rate * 10
        return self.segmenter.chunks(samples[i:i + block] for i in range(0, len(samples), block))

    def _file_chunks(self, path: Path) -> Iterator[Chunk]:
        return self.segmenter.chunks(iter_audio_blocks(path, self.sample_rate, block_seconds=10.0))

    def transcribe(self, source: str | os.PathLike | np.ndarray, sample_rate: int | None = None) -> Transcript:
        """One file, or one array of samples (give its ``sample_rate``)."""
        result = next(self.transcribe_many([source], sample_rate))
        if isinstance(result, Exception):
            raise result
        return result

    def transcribe_many(self, sources: Iterable[str | os.PathLike | np.ndarray], sample_rate: int | None = None
                        ) -> Iterator[Transcript | AudioError]:
        """Transcripts in input order; a file that cannot be read yields its ``AudioError`` instead.

        Chunks of consecutive sources share batches; at most one batch of chunks is held at a time.
        """
        pending: list[tuple[int, Chunk]] = []  # (source index, chunk) waiting for the model
        words: dict[int, list[Word]] = {}
        durations: dict[int, float] = {}
        names: dict[int, str | None] = {}
        done: list[int] = []  # sources fully read, in order, whose chunks may still be pending
        failed: dict[int, AudioError] = {}

        def run_pending() -> None:
            speech = [(i, c) for i, c in pending if c.has_speech]
            for (i, chunk), log_probs in zip(speech, self.log_probs([c.samples for _, c in speech])):
                if i not in failed:
                    words[i].extend(self._words(self.decode(log_probs), log_probs, chunk))
            pending.clear()

        def finished() -> Iterator[Transcript | AudioError]:
            while done and not any(i == done[0] for i, _ in pending):
                i = done.pop(0)
                if i in failed:
                    words.pop(i), durations.pop(i), names.pop(i)
                    yield failed.pop(i)
                else:
                    ws = sorted(words.pop(i), key=lambda w: w.start)
                    yield Transcript(" ".join(w.word for w in ws), ws, durations.pop(i), names.pop(i))

        for i, source in enumerate(sources):
            words[i], durations[i] = [], 0.0
            if isinstance(source, np.ndarray):
                names[i] = None
                if sample_rate is None:
                    raise ValueError("give the sample_rate of an array")
                chunks = self._array_chunks(source, sample_rate)
            else:
                names[i] = str(source)
                chunks = self._file_chunks(Path(source))
            try:
                for chunk in chunks:
                    durations[i] = chunk.start + chunk.duration
                    pending.append((i, chunk))
                    if len(pending) >= self.batch_size or \
                            sum(c.duration for _, c in pending) >= self.max_batch_seconds:
                        run_pending()
                        yield from finished()
            except AudioError as err:
                failed[i] = err
                pending[:] = [(j, c) for j, c in pending if j != i]
            done.append(i)
            yield from finished()
        run_pending()
        yield from finished()
