"""The streaming engine: incremental features, unidirectional streaming vs offline, endpointing, bounded segments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asr.audio import load_audio
from asr.data.manifest import read_manifest
from asr.decoding import BeamSearchConfig
from asr.features import LogMel
from asr.inference import Transcriber
from asr.streaming import IncrementalFeatures, StreamingConfig, StreamingRecognizer, chunked, segment_samples

RATE = 16000


def random_chunks(samples: np.ndarray, seed: int, low_ms: int = 20, high_ms: int = 100):
    """``samples`` in pieces of random sizes between ``low_ms`` and ``high_ms`` (not whole VAD frames)."""
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(samples):
        n = int(rng.integers(low_ms * RATE // 1000, high_ms * RATE // 1000)) + int(rng.integers(0, 7))
        yield samples[i:i + n]
        i += n


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def two_sentences(corpus, first: int = 0, second: int = 3, pause: float = 1.0):
    utts = read_manifest(corpus.train)
    a, b = load_audio(utts[first].audio, RATE), load_audio(utts[second].audio, RATE)
    audio = np.concatenate([silence(0.5), a, silence(pause), b, silence(0.6)])
    return audio, [utts[first].text, utts[second].text]


def test_incremental_features_equal_offline_extraction(speech_wav):
    extractor = LogMel()
    samples = load_audio(speech_wav, RATE)
    features = IncrementalFeatures(extractor)
    received = np.zeros(0, dtype=np.float32)
    for k, chunk in enumerate(random_chunks(samples, seed=1, low_ms=1, high_ms=80)):
        received = np.concatenate([received, chunk])
        got = features.update(received)
        if k % 10 == 0:  # at any moment: offline extraction of the audio received so far
            want, _ = extractor(torch.from_numpy(received))
            assert got.shape == want.shape
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    want, _ = extractor(torch.from_numpy(samples))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert features.frames.shape[0] >= want.shape[0] - 2  # all but the last frames were computed only once


@pytest.mark.slow
@pytest.mark.parametrize("beam", [False, True])
def test_unidirectional_streaming_equals_offline_decoding(tiny_stream_model, tiny_corpus, beam):
    transcriber = Transcriber(tiny_stream_model, decoder=BeamSearchConfig(beam_width=8) if beam else None)
    assert not transcriber.model.config.bidirectional
    audio, _ = two_sentences(tiny_corpus)
    recognizer = StreamingRecognizer(transcriber, StreamingConfig(endpointing=False))
    hyps = list(recognizer.transcribe_chunks(random_chunks(audio, seed=2)))
    finals = [h for h in hyps if h.final]
    assert len(finals) == 1 and len(hyps) > 10  # partials along the way, one final for the whole stream
    offline = transcriber.log_probs([audio])[0]
    assert finals[0].log_probs.shape == offline.shape
    np.testing.assert_allclose(finals[0].log_probs, offline, atol=1e-4)
    assert finals[0].text == transcriber.decode(offline).text
    assert finals[0].text  # the model says something
    assert any(h.text for h in hyps if not h.final)  # and said some of it before the end


@pytest.mark.slow
def test_unidirectional_segments_equal_offline_decoding_of_each(tiny_stream_model, tiny_corpus):
    transcriber = Transcriber(tiny_stream_model)
    audio, _ = two_sentences(tiny_corpus)
    finals = [h for h in StreamingRecognizer(transcriber).transcribe_chunks(random_chunks(audio, seed=3)) if h.final]
    assert len(finals) == 2
    for hyp in finals:
        offline = transcriber.log_probs([segment_samples(audio, hyp, RATE)])[0]
        np.testing.assert_allclose(hyp.log_probs, offline, atol=1e-4)
        assert hyp.text == transcriber.decode(offline).text


@pytest.mark.slow
def test_endpointing_splits_two_sentences_into_two_finals(tiny_model, tiny_corpus):
    transcriber = Transcriber(tiny_model)
    audio, texts = two_sentences(tiny_corpus, pause=0.8)
    hyps = list(StreamingRecognizer(transcriber).transcribe_chunks(chunked(audio, 320)))
    finals = [h for h in hyps if h.final]
    assert [h.text for h in finals] == texts
    first = load_audio(read_manifest(tiny_corpus.train)[0].audio, RATE)
    speech_end = 0.5 + (np.flatnonzero(np.abs(first) > 0.01 * np.abs(first).max())[-1] + 1) / RATE
    assert finals[0].start < 0.5 < speech_end <= finals[0].end <= finals[1].start
    assert all(w.start >= finals[1].start for w in finals[1].words)  # word times are times in the stream
    for hyp in finals:  # a bidirectional model's final is the offline transcription of its segment
        offline = transcriber.log_probs([segment_samples(audio, hyp, RATE)])[0]
        np.testing.assert_allclose(hyp.log_probs, offline, atol=1e-5)
    # partials came before each final, and the last partial of a segment is near its final
    for k, hyp in enumerate(hyps):
        if hyp.final:
            assert any(not h.final and h.segment == hyp.segment for h in hyps[:k])


@pytest.mark.slow
def test_segments_are_bounded_and_silence_costs_nothing(tiny_model, tiny_corpus):
    transcriber = Transcriber(tiny_model)
    utts = read_manifest(tiny_corpus.train)
    talk = np.concatenate([load_audio(u.audio, RATE) for u in utts])  # ~20 s with no pause longer than espeak's
    config = StreamingConfig(max_segment_s=4.0)
    recognizer = StreamingRecognizer(transcriber, config)
    hyps = list(recognizer.transcribe_chunks(chunked(np.concatenate([silence(5.0), talk]), 1600)))
    finals = [h for h in hyps if h.final]
    assert all(h.end - h.start <= config.max_segment_s + 1e-6 for h in hyps)
    assert len(finals) >= len(talk) / RATE / config.max_segment_s
    assert finals[0].start >= 5.0 - config.preroll_s - 0.05  # the leading silence was never decoded
    words = " ".join(h.text for h in finals).split()
    reference = " ".join(u.text for u in utts).split()
    assert len(set(words) & set(reference)) >= 0.7 * len(set(reference))
    assert list(recognizer.transcribe_chunks(chunked(silence(3.0), 800))) == []
