"""Streaming recognition: audio chunks of any size in, partial and final hypotheses with times out.

    recognizer = StreamingRecognizer(Transcriber("models/synthetic-small.pt", lm="models/lm"))
    stream = recognizer.stream()
    for chunk in chunks:                       # float32 mono at the model's rate, e.g. 20-100 ms each
        for hyp in stream.accept(chunk):       # Hypothesis(text, words, start, end, final, segment)
            print("final" if hyp.final else "partial", hyp.text)
    for hyp in stream.finish():
        ...

How it works:

* Endpointing. Every 30 ms frame is classified speech or not by WebRTC's VAD (or every 32 ms frame by silero-vad:
  ``bench/vad.py`` compares them). Audio is grouped into *segments*: a segment opens once ``min_speech_s`` of speech is heard (keeping
  ``preroll_s`` of the audio before it), and closes when ``endpoint_silence_s`` of non-speech follows speech or when
  it reaches ``max_segment_s`` (then it is cut in its latest pause, if it has one). Silence outside segments costs
  no model time. A closed segment gets a *final* hypothesis; the open one gets *partials* every
  ``partial_interval_s`` of audio.
* Features. ``IncrementalFeatures`` computes the log-mel frames of a segment as its samples arrive, each frame
  once, with the same ``LogMel`` code and the same values as extracting the segment offline; the last few frames,
  whose windows reach past the audio received so far, are computed as offline extraction would compute them if the
  audio ended there (provisional), and again when more audio comes. A pretrained encoder's states
  (``asr.pretrained``) each see the whole segment, so ``SegmentFeatures`` encodes the segment's audio again at every
  decode (whisper tiny.en: 36 ms for a 10-s segment on 2 cores), bounded by ``max_segment_s`` like the model's
  re-run below, and exactly the offline features of the segment.
* Bidirectional models (the shipped default) need a segment's whole audio: the open segment is re-run at every
  partial, and once more, complete, for its final, which is therefore exactly the offline transcription of the
  segment's audio. ``max_segment_s`` bounds the cost of a re-run. ``StreamingRecognizer.step`` runs the due work of
  many streams as one padded batch (padding never changes a model output), which is how a server serves many.
* Unidirectional models stream truly: the convolutional front end is run over only the new frames (plus the left
  context its kernels need) and the recurrent layers carry their state from chunk to chunk, so the cost is
  linear in the audio and the log-probs equal the offline model's on the same segment.
* Decoding: finals use the transcriber's decoder (the beam search with the LM when it has one); partials too, unless
  ``partial_beam`` is off (greedy). A segment's LM context starts fresh.

A segment is the unit of equality with offline decoding: ``Hypothesis.start``/``end`` give its span of the stream,
and its final equals ``Transcriber.decode`` of ``Transcriber.log_probs`` of those samples (to float rounding).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import webrtcvad

from asr.decoding import greedy_decode
from asr.features import LogMel
from asr.inference import Transcriber, Word
from asr.vad import Chunk


@dataclass
class StreamingConfig:
    partial_interval_s: float = 0.2  # the open segment is decoded again after this much new audio
    endpoint_silence_s: float = 0.3  # non-speech this long after speech closes a segment
    min_speech_s: float = 0.09  # speech this long (without a break) opens a segment
    preroll_s: float = 0.3  # audio kept before a segment's first speech
    max_segment_s: float = 10.0  # a segment this long is cut, in its latest pause if it has one
    vad: str = "webrtc"  # "webrtc" (WebRTC's GMM VAD, C) or "silero" (silero-vad's small network, ONNX)
    # webrtcvad 0 (keeps the most speech) to 3 (drops the most non-speech). bench/vad.py: 3 ends segments sooner
    # than 2 (endpoint lag p95 0.41 s vs 0.47 s) with no more split, merged or clipped sentences, and matches
    # silero-vad's segments, lag and WER at a twentieth of its CPU: it is the default.
    vad_aggressiveness: int = 3
    vad_frame_ms: int = 30  # webrtcvad accepts 10, 20 or 30 (silero-vad reads 32 ms frames)
    silero_threshold: float = 0.5  # speech probability above which silero-vad's frame is speech
    endpointing: bool = True  # False: the whole stream is one segment, decoded from its first sample
    partial_beam: bool = True  # partials with the beam search (when the transcriber has one); else greedy

    def __post_init__(self):
        if self.vad not in ("webrtc", "silero"):
            raise ValueError(f"vad must be 'webrtc' or 'silero', not {self.vad!r}")
        if self.vad_frame_ms not in (10, 20, 30):
            raise ValueError("vad_frame_ms must be 10, 20 or 30")
        if not 0 <= self.vad_aggressiveness <= 3:
            raise ValueError("vad_aggressiveness must be 0..3")
        if self.partial_interval_s <= 0 or self.max_segment_s <= 2 * self.endpoint_silence_s:
            raise ValueError("partial_interval_s must be positive and max_segment_s well above endpoint_silence_s")


@dataclass
class Hypothesis:
    text: str
    words: list[Word]  # times in seconds from the start of the stream
    start: float  # the segment's span of the stream, in seconds
    end: float
    final: bool
    segment: int  # 0, 1, 2, ... in the stream
    log_probs: np.ndarray | None = field(default=None, repr=False, compare=False)  # the segment's, for finals

    def to_dict(self) -> dict:
        return {"type": "final" if self.final else "partial", "segment": self.segment,
                "start": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                           "confidence": round(w.confidence, 4)} for w in self.words]}


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM → float32 in [-1, 1)."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


class WebRtcVad:
    """WebRTC's VAD on frames of ``vad_frame_ms``."""

    def __init__(self, config: StreamingConfig, sample_rate: int):
        self.sample_rate = sample_rate
        self.frame = sample_rate * config.vad_frame_ms // 1000
        self._vad = webrtcvad.Vad(config.vad_aggressiveness)

    def is_speech(self, frame: np.ndarray) -> bool:
        pcm = (np.clip(frame, -1.0, 1.0) * 32767).astype(np.int16)
        return self._vad.is_speech(pcm.tobytes(), self.sample_rate)


class SileroVad:
    """silero-vad (its ONNX model, shipped in its wheel) on 32 ms frames; each stream keeps its own recurrent
    state, all share one onnxruntime session."""

    _shared = None

    def __init__(self, config: StreamingConfig, sample_rate: int):
        import copy

        if sample_rate not in (8000, 16000):
            raise ValueError("silero-vad works at 8 or 16 kHz")
        if SileroVad._shared is None:
            try:
                from silero_vad import load_silero_vad
            except ImportError:
                raise ValueError("vad='silero' needs the silero-vad package (pip install silero-vad)") from None

            SileroVad._shared = load_silero_vad(onnx=True)
        self._model = copy.copy(SileroVad._shared)
        self._model.reset_states()
        self.sample_rate = sample_rate
        self.frame = 512 if sample_rate == 16000 else 256
        self.threshold = config.silero_threshold

    def is_speech(self, frame: np.ndarray) -> bool:
        return float(self._model(torch.from_numpy(frame), self.sample_rate)) >= self.threshold


class _Samples:
    """A growable float32 array (amortised O(1) appends)."""

    def __init__(self, initial: np.ndarray | None = None):
        self._data = np.zeros(max(16000, 0 if initial is None else initial.size * 2), dtype=np.float32)
        self.size = 0
        if initial is not None:
            self.append(initial)

    def append(self, x: np.ndarray) -> None:
        if self.size + x.size > self._data.size:
            grown = np.zeros(max(self._data.size * 2, self.size + x.size), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size:self.size + x.size] = x
        self.size += x.size

    def view(self, end: int | None = None) -> np.ndarray:
        return self._data[: self.size if end is None else end]


class IncrementalFeatures:
    """Log-mel frames of a growing waveform, equal to ``LogMel`` of all of it (see the module docstring)."""

    def __init__(self, extractor: LogMel):
        self.extractor = extractor
        c = extractor.config
        self.hop = c.hop_length
        half = c.fft_size // 2
        # Frame t reads samples [t*hop - left, t*hop + right) of the waveform (zeros outside it).
        self.left = half - extractor.window_offset
        self.right = extractor.window_offset + c.win_length - half
        self.context = -(-self.left // self.hop)  # frames recomputed before the first new one, so it sees real samples
        self.frames = torch.zeros(0, c.n_mels)  # every frame whose window lies inside the samples given so far
        self.samples = np.zeros(0, dtype=np.float32)

    def _compute(self, first: int, samples: np.ndarray, end: int) -> torch.Tensor:
        """Frames ``first`` onwards of ``samples[:end]`` (as offline extraction of exactly those samples gives)."""
        start = max(0, first - self.context)
        feats, _ = self.extractor(torch.from_numpy(samples[start * self.hop:end]))
        return feats[first - start:]

    def update(self, samples: np.ndarray) -> torch.Tensor:
        """All frames of ``samples`` (which extend those of the previous call): the complete ones kept, the last
        few provisional. Returns ``(num_frames(len(samples)), n_mels)``."""
        n = samples.size
        complete = (n - self.right) // self.hop + 1 if n >= self.right else 0
        done = self.frames.shape[0]
        if complete > done:
            new = self._compute(done, samples, (complete - 1) * self.hop + self.right)[: complete - done]
            self.frames = torch.cat([self.frames, new])
        self.samples = samples
        tail = self._compute(complete, samples, n) if 1 + n // self.hop > complete else self.frames[:0]
        return torch.cat([self.frames[: 1 + n // self.hop], tail])

    def truncate(self, n: int) -> None:
        """Forget the samples from ``n`` on (a segment cut short): frames that read them are dropped."""
        complete = (n - self.right) // self.hop + 1 if n >= self.right else 0
        self.frames = self.frames[:complete]


def _receptive_field(kernels: list[list[int]], strides: list[list[int]]) -> tuple[int, int, int]:
    """(stride S, left reach L, right reach R) of a conv stack in time: output u reads input frames
    ``[u*S - L, u*S + R]`` (each layer pads ``kernel // 2`` on both sides, as ``ConvFrontEnd`` does)."""
    lo = hi = 0
    stride = 1
    for (k, _), (s, _) in reversed(list(zip(kernels, strides))):
        lo, hi = lo * s - k // 2, hi * s - k // 2 + k - 1
        stride *= s
    return stride, -lo, hi


class SegmentFeatures:
    """The features of a growing waveform computed afresh from all of it at each call (for extractors whose every
    frame depends on the whole input, as a pretrained encoder's states do); equal to offline extraction."""

    def __init__(self, extractor):
        self.extractor = extractor
        self._size = -1  # samples of the cached result
        self._cached: torch.Tensor | None = None

    def update(self, samples: np.ndarray) -> torch.Tensor:
        if samples.size != self._size:  # a final right after a partial of the same audio reuses it
            self._cached = self.extractor(torch.from_numpy(np.ascontiguousarray(samples)))[0]
            self._size = samples.size
        return self._cached

    def truncate(self, n: int) -> None:
        self._size, self._cached = -1, None


def segment_features(extractor) -> IncrementalFeatures | SegmentFeatures:
    """How a segment's features follow its audio: incrementally for log-mels, whole for an encoder's states."""
    return IncrementalFeatures(extractor) if isinstance(extractor, LogMel) else SegmentFeatures(extractor)


class _CausalModelState:
    """A unidirectional model run over a segment's features as they arrive: front-end outputs computed once each
    (with the left context their kernels need), recurrent states carried, log-probs accumulated."""

    def __init__(self, model):
        self.model = model
        config = model.config
        self.stride, self.left, self.right = _receptive_field(config.conv_kernels, config.conv_strides)
        self.outputs = 0  # front-end output frames consumed
        self.states: list | None = None
        self.log_probs: list[torch.Tensor] = []

    def _run(self, feats: torch.Tensor, first: int, last: int) -> None:
        """Front end outputs [first, last) from features ``feats`` (1, F, n_mels), then the recurrent layers."""
        if last <= first:
            return
        start = max(0, (first * self.stride - self.left) // self.stride * self.stride)
        window = feats[:, start:]
        x, _ = self.model.front_end(window, torch.tensor([window.shape[1]]))
        offset = start // self.stride
        log_probs, self.states = self.model.forward_step(x[:, first - offset:last - offset], self.states)
        self.log_probs.append(log_probs[0])
        self.outputs = last

    def advance(self, feats: torch.Tensor, complete: int) -> None:
        """Consume the outputs that depend only on the first ``complete`` (final) feature frames."""
        ready = (complete - 1 - self.right) // self.stride + 1 if complete - 1 >= self.right else 0
        self._run(feats[:, :complete], self.outputs, ready)

    def finish(self, feats: torch.Tensor) -> None:
        """The segment ended: the last outputs, with the conv's zero padding past the end (as offline)."""
        total = int(self.model.output_lengths(torch.tensor([feats.shape[1]]))[0])
        self._run(feats, self.outputs, total)

    def result(self) -> np.ndarray:
        if not self.log_probs:
            return np.zeros((0, self.model.config.vocab_size), dtype=np.float32)
        return torch.cat(self.log_probs).float().numpy()


class _Segment:
    def __init__(self, index: int, start: int, extractor: LogMel, model, samples: np.ndarray | None = None,
                 flags: list[bool] | None = None):
        self.index = index
        self.start = start  # offset of its first sample in the stream
        self.samples = _Samples(samples)
        self.flags: list[bool] = list(flags or [])  # VAD decision per frame
        self.opened = False  # enough speech was heard: it will be decoded
        self.decoded_at = 0  # samples it had at its last partial decode
        self._extractor, self._model = extractor, model
        self.features = segment_features(extractor)
        self.causal = _CausalModelState(model) if not model.config.bidirectional else None

    def truncate(self, n: int, flags: int) -> None:
        self.samples.size = n
        self.flags = self.flags[:flags]
        self.features.truncate(n)
        if self.causal is not None and self.causal.outputs > 0:  # its state has read past the cut: start over
            self.causal = _CausalModelState(self._model)

    def drop_front(self, frames: int, frame: int) -> None:
        """Forget the first ``frames`` VAD frames (silence before any speech; nothing was decoded yet)."""
        kept = self.samples.view()[frames * frame:].copy()
        self.start += frames * frame
        self.samples = _Samples(kept)
        self.flags = self.flags[frames:]
        self.features = segment_features(self._extractor)


class Stream:
    """One audio stream's state (see the module docstring). Not thread-safe: one thread feeds and steps it."""

    def __init__(self, recognizer: StreamingRecognizer):
        self.recognizer = recognizer
        self.config = c = recognizer.config
        self.sample_rate = recognizer.sample_rate
        self._vad = SileroVad(c, self.sample_rate) if c.vad == "silero" else WebRtcVad(c, self.sample_rate)
        self.frame = self._vad.frame
        self._pending = np.zeros(0, dtype=np.float32)  # samples short of a whole VAD frame
        self.received = 0  # samples accepted so far
        per_s = self.sample_rate / self.frame
        self._min_speech = max(1, round(c.min_speech_s * per_s))
        self._preroll = round(c.preroll_s * per_s)
        self._endpoint = max(1, round(c.endpoint_silence_s * per_s))
        self._max_frames = round(c.max_segment_s * per_s)
        self._segments = 0
        self.open = self._new_segment(0)
        self.open.opened = not c.endpointing
        self.closed: list[_Segment] = []  # awaiting their finals
        self.finished = False

    def _new_segment(self, start: int, samples: np.ndarray | None = None, flags: list[bool] | None = None
                     ) -> _Segment:
        segment = _Segment(self._segments, start, self.recognizer.extractor, self.recognizer.model, samples, flags)
        self._segments += 1
        return segment

    # --- input ---------------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray) -> None:
        """Add float32 mono samples at the model's rate (any number); cheap: no model work happens here."""
        if self.finished:
            raise RuntimeError("the stream is finished")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.received += samples.size
        pending = np.concatenate([self._pending, samples])
        whole = pending.size // self.frame * self.frame
        self._pending = pending[whole:]
        if not whole:
            return
        for i in range(whole // self.frame):
            frame = pending[i * self.frame:(i + 1) * self.frame]
            self._add_frame(frame, self._vad.is_speech(frame))

    def _add_frame(self, frame: np.ndarray, speech: bool) -> None:
        seg = self.open
        seg.samples.append(frame)
        seg.flags.append(speech)
        if not self.config.endpointing:
            return
        if not seg.opened:
            run = 0
            for flag in reversed(seg.flags):
                if not flag:
                    break
                run += 1
            if run >= self._min_speech:
                seg.opened = True
            elif len(seg.flags) > self._preroll + run:  # keep only the pre-roll before the current speech
                seg.drop_front(len(seg.flags) - self._preroll - run, self.frame)
            return
        if not any(seg.flags[-self._endpoint:]) and len(seg.flags) >= self._endpoint:
            self._close(len(seg.flags))
        elif len(seg.flags) >= self._max_frames:
            self._close(self._forced_cut(seg.flags))

    def _forced_cut(self, flags: list[bool]) -> int:
        """Where to cut a segment that reached ``max_segment_s``: the middle of its latest pause in the second
        half (the longest such run of non-speech frames, preferring later ones), else at its end."""
        best_len, best_mid, run = 0, len(flags), 0
        for i in range(len(flags) // 2, len(flags)):
            run = run + 1 if not flags[i] else 0
            if run and run >= best_len:
                best_len, best_mid = run, i - run // 2
        return best_mid

    def _close(self, at: int) -> None:
        """Close the open segment after VAD frame ``at``; what follows starts the next segment."""
        seg = self.open
        rest = seg.samples.view()[at * self.frame:].copy()
        rest_flags = seg.flags[at:]
        if at < len(seg.flags):
            seg.truncate(at * self.frame, at)
        self.closed.append(seg)
        self.open = self._new_segment(seg.start + at * self.frame, rest, rest_flags)
        self.open.opened = any(rest_flags)

    def finish_input(self) -> None:
        """End of the audio: the open segment (and any partial VAD frame) is closed for its final."""
        if self.finished:
            return
        self.finished = True
        seg = self.open
        if self._pending.size:
            seg.samples.append(self._pending)
            self._pending = self._pending[:0]
        if seg.opened and seg.samples.size:
            self.closed.append(seg)

    # --- work ----------------------------------------------------------------------------------------

    def partial_due(self) -> bool:
        seg = self.open
        interval = self.config.partial_interval_s * self.sample_rate
        return not self.finished and seg.opened and seg.samples.size - seg.decoded_at >= interval

    def has_work(self) -> bool:
        return bool(self.closed) or self.partial_due()

    def accept(self, samples: np.ndarray) -> list[Hypothesis]:
        """``feed`` then decode what is due (one stream; a server batches streams with ``recognizer.step``)."""
        self.feed(samples)
        return self.recognizer.step([self])[0]

    def finish(self) -> list[Hypothesis]:
        """``finish_input`` then the remaining finals."""
        self.finish_input()
        return self.recognizer.step([self])[0]


class StreamingRecognizer:
    """Creates streams and runs their model work; holds the model, feature extractor and decoder of a
    ``Transcriber`` (shared by all streams: they only read them)."""

    def __init__(self, transcriber: Transcriber, config: StreamingConfig | None = None,
                 max_batch_seconds: float = 120.0):
        self.transcriber = transcriber
        self.config = config or StreamingConfig()
        self.model = transcriber.model
        self.extractor = transcriber.features
        self.sample_rate = transcriber.sample_rate
        self.cmvn = transcriber.package.cmvn
        self.bidirectional = bool(self.model.config.bidirectional)
        self.max_batch_seconds = max_batch_seconds
        if transcriber.device.type != "cpu":
            raise ValueError("streaming runs on the CPU")
        encoder = transcriber.package.feature_config.encoder
        if encoder and not self.bidirectional:  # the causal path below would need causal features
            raise ValueError(f"a unidirectional model streams by carrying its state over log-mels; this one's "
                             f"features come from the {encoder} encoder, whose states see the whole segment")
        if not self.bidirectional and self.model.config.stack_frames > 1:  # the causal path steps frame by frame
            raise ValueError("a unidirectional model streams with stack_frames=1 only")

    def stream(self) -> Stream:
        return Stream(self)

    def transcribe_chunks(self, chunks: Iterable[np.ndarray]) -> Iterator[Hypothesis]:
        """Every hypothesis of one stream fed ``chunks`` (float32 mono at the model's rate), in order."""
        stream = self.stream()
        for chunk in chunks:
            yield from stream.accept(chunk)
        yield from stream.finish()

    @torch.no_grad()
    def step(self, streams: list[Stream]) -> list[list[Hypothesis]]:
        """Run the due work of ``streams``: finals of closed segments, then a partial of each open segment that
        is due. Returns each stream's new hypotheses, finals first."""
        jobs: list[tuple[int, _Segment, bool]] = []
        for i, stream in enumerate(streams):
            jobs += [(i, seg, True) for seg in stream.closed]
            stream.closed = []
            if stream.partial_due():
                jobs.append((i, stream.open, False))
        log_probs = self._log_probs_bidirectional(jobs) if self.bidirectional else \
            [self._log_probs_causal(seg, final) for _, seg, final in jobs]
        out: list[list[Hypothesis]] = [[] for _ in streams]
        for (i, seg, final), lp in zip(jobs, log_probs):
            seg.decoded_at = seg.samples.size
            out[i].append(self._hypothesis(seg, lp, final))
        return out

    def _features(self, seg: _Segment) -> torch.Tensor:
        return self.cmvn.apply(seg.features.update(seg.samples.view()))

    def _log_probs_bidirectional(self, jobs: list[tuple[int, _Segment, bool]]) -> list[np.ndarray]:
        """The whole model over each job's segment, in padded batches of similar lengths."""
        feats = [self._features(seg) for _, seg, _ in jobs]
        out: list[np.ndarray | None] = [None] * len(jobs)
        order = sorted(range(len(jobs)), key=lambda k: -feats[k].shape[0])
        limit = self.max_batch_seconds * self.extractor.config.frame_rate
        start = 0
        while start < len(order):
            longest = feats[order[start]].shape[0]
            size = max(1, min(len(order) - start, int(limit // max(longest, 1))))
            batch = order[start:start + size]
            start += size
            lengths = torch.tensor([feats[k].shape[0] for k in batch])
            padded = torch.zeros(len(batch), longest, feats[batch[0]].shape[1])
            for row, k in enumerate(batch):
                padded[row, : lengths[row]] = feats[k]
            log_probs, out_lengths = self.model(padded, lengths)
            for row, k in enumerate(batch):
                out[k] = log_probs[row, : int(out_lengths[row])].float().numpy()
        return out  # type: ignore[return-value]

    def _log_probs_causal(self, seg: _Segment, final: bool) -> np.ndarray:
        state = seg.causal
        assert state is not None
        feats = self._features(seg)[None]
        if final:
            state.finish(feats)
        else:
            state.advance(feats, seg.features.frames.shape[0])
        return state.result()

    def _hypothesis(self, seg: _Segment, log_probs: np.ndarray, final: bool) -> Hypothesis:
        t = self.transcriber
        if len(log_probs) == 0:
            words: list[Word] = []
        else:
            if final or self.config.partial_beam:
                result = t.decode(log_probs)
            else:
                result = greedy_decode(torch.from_numpy(log_probs), None, t.tokenizer, t.frame_shift)[0]
            chunk = Chunk(seg.start / self.sample_rate, seg.samples.view(), True, self.sample_rate)
            words = t._words(result, log_probs, chunk)
        start = seg.start / self.sample_rate
        end = start + seg.samples.size / self.sample_rate
        return Hypothesis(" ".join(w.word for w in words), words, start, end, final, seg.index,
                          log_probs if final else None)


def chunked(samples: np.ndarray, chunk: int) -> Iterator[np.ndarray]:
    """``samples`` in pieces of ``chunk`` samples (the last one shorter)."""
    for i in range(0, len(samples), chunk):
        yield samples[i:i + chunk]


def segment_samples(samples: np.ndarray, hyp: Hypothesis, sample_rate: int) -> np.ndarray:
    """The samples of ``hyp``'s segment within the whole stream ``samples`` (for offline comparison)."""
    return samples[round(hyp.start * sample_rate):round(hyp.end * sample_rate)]


__all__ = ["Hypothesis", "IncrementalFeatures", "SegmentFeatures", "Stream", "StreamingConfig", "StreamingRecognizer",
           "chunked", "pcm16_to_float", "segment_samples"]
