"""Transcription: packaged models, the Transcriber on odd and bad inputs, long recordings, formats, exports."""

import json
import re
import tracemalloc

import numpy as np
import pytest
import soundfile
import torch
from conftest import TINY_SENTENCES, write_audio

from asr.audio import AudioError, load_audio
from asr.cli import main as asr_main
from asr.data import FeatureStore, SpeechDataset, collate
from asr.data.manifest import read_manifest
from asr.decoding import greedy_decode
from asr.inference import Transcriber
from asr.metrics import ErrorRateAccumulator
from asr.package import load_packaged_model
from asr.training.checkpoint import load_checkpoint, packaged_from_checkpoint
from asr.vad import SegmenterConfig


def wavs(corpus):
    return [u.audio for u in read_manifest(corpus.train)]


def test_model_file_is_plain_data(tiny_model):
    d = torch.load(tiny_model, map_location="cpu", weights_only=True)
    assert d["format"] == "asr-model"
    assert {"state_dict", "model_config", "feature_config", "tokenizer", "cmvn", "provenance"} <= set(d)
    assert d["provenance"]["steps"] > 0 and d["provenance"]["dev_wer"] == 0.0
    assert d["provenance"]["train_manifest"].endswith("train.jsonl")


def test_packaged_model_equals_its_checkpoint(tiny_model, tiny_corpus):
    package = load_packaged_model(tiny_model)
    best = sorted((tiny_model.parent / "checkpoints").glob("epoch-*.pt"))[-1]
    from_ckpt = packaged_from_checkpoint(load_checkpoint(best))
    store = FeatureStore(tiny_model.parent.parent / "store")  # the store (and CMVN) the model was trained with
    dataset = SpeechDataset(read_manifest(tiny_corpus.dev), store, package.tokenizer)
    batch = collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        a, _ = package.model(batch.features, batch.feature_lengths)
        b, _ = from_ckpt.model.eval()(batch.features, batch.feature_lengths)
    assert torch.equal(a, b)
    # and the Transcriber (raw audio → LogMel → CMVN → model) agrees with the training features from the store
    direct = Transcriber(package).log_probs([load_audio(u.audio) for u in read_manifest(tiny_corpus.dev)])
    for row, lp in enumerate(direct):
        n = lp.shape[0]
        np.testing.assert_allclose(lp, a[row, :n].numpy(), atol=2e-2)  # the store keeps float16 features


def test_transcribes_its_training_utterances_exactly(tiny_model, tiny_corpus):
    transcripts = list(Transcriber(tiny_model).transcribe_many(wavs(tiny_corpus)))
    assert [t.text for t in transcripts] == TINY_SENTENCES
    for t in transcripts:
        assert all(0 <= w.start < w.end <= t.duration + 1e-6 and 0 < w.confidence <= 1 for w in t.words)
        assert [w.start for w in t.words] == sorted(w.start for w in t.words)


def test_odd_rates_and_stereo(tiny_model, tiny_corpus, tmp_path):
    samples, rate = soundfile.read(wavs(tiny_corpus)[3], dtype="float32")
    import soxr

    # rates that keep the whole 0-8 kHz band the model hears (at 11 kHz a third of it is simply not there)
    odd = soxr.resample(samples, rate, 37800)
    write_audio(tmp_path / "odd.wav", odd, 37800)
    write_audio(tmp_path / "stereo.flac", np.stack([samples, 0.8 * samples], axis=1), rate, "flac")
    write_audio(tmp_path / "fast.ogg", soxr.resample(samples, rate, 44100), 44100, "ogg")
    texts = [t.text for t in Transcriber(tiny_model).transcribe_many(
        [tmp_path / "odd.wav", tmp_path / "stereo.flac", tmp_path / "fast.ogg"])]
    assert texts == [TINY_SENTENCES[3]] * 3
    # arrays with their rate work too
    assert Transcriber(tiny_model).transcribe(odd, sample_rate=37800).text == TINY_SENTENCES[3]


def test_bad_files_are_reported_and_the_rest_finish(tiny_model, tiny_corpus, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(open(wavs(tiny_corpus)[0], "rb").read()[:40] + b"\x00" * 100)
    silence = write_audio(tmp_path / "silence.wav", np.zeros(16000 * 5, dtype=np.float32), 16000)
    good = wavs(tiny_corpus)
    results = list(Transcriber(tiny_model).transcribe_many(
        [good[0], tmp_path / "missing.wav", empty, corrupt, silence, good[1]]))
    assert results[0].text == TINY_SENTENCES[0] and results[5].text == TINY_SENTENCES[1]
    for result, problem in zip(results[1:4], ["file not found", "file is empty", "corrupt"]):
        assert isinstance(result, AudioError) and problem in str(result)
    assert results[4].text == "" and results[4].words == [] and results[4].duration == pytest.approx(5.0)


def long_recording(corpus, path, seconds: float, seed: int = 0) -> str:
    """Concatenate the corpus utterances with 0.4-1.2 s pauses to ``seconds`` of audio; returns its text."""
    rng = np.random.default_rng(seed)
    clips = [load_audio(w) for w in wavs(corpus)]
    words, total = [], 0
    with soundfile.SoundFile(str(path), "w", 16000, 1, "PCM_16") as f:
        while total < seconds * 16000:
            k = int(rng.integers(len(clips)))
            pause = np.zeros(int(rng.uniform(0.4, 1.2) * 16000), dtype=np.float32)
            f.write(np.concatenate([clips[k], pause]))
            total += len(clips[k]) + len(pause)
            words.append(TINY_SENTENCES[k])
    return " ".join(words)


@pytest.mark.slow
def test_ten_minute_recording_in_bounded_memory(tiny_model, tiny_corpus, tmp_path):
    reference = long_recording(tiny_corpus, tmp_path / "long.wav", 600)
    whole_file_bytes = soundfile.info(str(tmp_path / "long.wav")).frames * 4  # as float32 samples
    # the tiny model has only heard isolated utterances: cut at every pause (the default waits for 2 s of speech)
    transcriber = Transcriber(tiny_model, batch_size=2, segmenter=SegmenterConfig(min_chunk_s=0.3))
    tracemalloc.start()
    transcript = transcriber.transcribe(tmp_path / "long.wav")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert transcript.duration == pytest.approx(whole_file_bytes / 4 / 16000)
    assert peak < whole_file_bytes / 4, f"peak {peak / 1e6:.1f} MB of arrays for a {whole_file_bytes / 1e6:.1f} MB file"
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and all(w.end <= transcript.duration + 1e-6 for w in transcript.words)
    assert transcript.words[-1].end > 590
    scores = ErrorRateAccumulator()
    scores.add(reference, transcript.text)
    # a chunk lost, duplicated or misplaced would cost far more than this model's own errors on the pauses
    assert scores.wer < 0.10, scores.report()


def parse_subtitles(text: str) -> list[tuple[float, float, str]]:
    stamp = r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)"
    cues = []
    for m in re.finditer(stamp + r" --> " + stamp + r"\n(.+)\n", text):
        g = [int(x) for x in m.groups()[:8]]
        cues.append((g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000, g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000,
                     m.group(9)))
    return cues


def test_output_formats(tiny_model, tiny_corpus, tmp_path, capsys):
    recording = tmp_path / "talk.wav"
    reference = long_recording(tiny_corpus, recording, 40, seed=1)
    out = tmp_path / "out"
    for fmt in ("txt", "json", "srt", "vtt"):
        assert asr_main(["transcribe", str(tiny_model), str(recording), "--format", fmt, "--out", str(out),
                         "--min-chunk", "0.3"]) == 0
    text = (out / "talk.txt").read_text().strip()
    scores = ErrorRateAccumulator()
    scores.add(reference, text)
    assert scores.wer < 0.10
    record = json.loads((out / "talk.json").read_text())
    assert set(record) == {"source", "duration", "text", "words"} and record["text"] == text
    assert all(set(w) == {"word", "start", "end", "confidence"} for w in record["words"])
    assert " ".join(w["word"] for w in record["words"]) == text
    srt, vtt = (out / "talk.srt").read_text(), (out / "talk.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n") and srt.startswith("1\n")
    for cues in (parse_subtitles(srt), parse_subtitles(vtt)):
        assert len(cues) > 5 and " ".join(c[2] for c in cues) == text
        assert all(a < b for a, b, _ in cues)
        assert all(prev[1] <= nxt[0] for prev, nxt in zip(cues, cues[1:]))
        assert cues[-1][1] <= record["duration"]
    assert "1 of 1 files" in capsys.readouterr().err


def test_cli_exit_status_and_folders(tiny_model, tiny_corpus, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, w in enumerate(wavs(tiny_corpus)[:3]):
        (folder / f"clip{i}.wav").write_bytes(open(w, "rb").read())
    (folder / "broken.wav").write_text("not audio")
    status = asr_main(["transcribe", str(tiny_model), str(folder), "--format", "json"])
    captured = capsys.readouterr()
    assert status == 1
    assert "broken.wav: not a recognised audio format" in captured.err and "1 failed" in captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["text"] for r in lines] == TINY_SENTENCES[:3]
    assert asr_main(["transcribe", str(tiny_model), str(folder / "clip0.wav"), "--hotwords", "cat"]) == 2
    assert "hotwords need a language model" in capsys.readouterr().err


def test_the_model_is_the_first_argument_or_the_option_or_the_shipped_one(tiny_model, tiny_corpus, tmp_path,
                                                                           monkeypatch, capsys):
    import asr.transcribe

    clip = wavs(tiny_corpus)[0]
    assert asr_main(["transcribe", str(tiny_model), clip]) == 0
    assert capsys.readouterr().out.strip() == TINY_SENTENCES[0]
    assert asr_main(["transcribe", clip, "--model", str(tiny_model)]) == 0
    assert capsys.readouterr().out.strip() == TINY_SENTENCES[0]
    assert asr_main(["transcribe", str(tiny_model)]) == 2  # a model and nothing to transcribe
    assert "is a model file: give the audio files" in capsys.readouterr().err
    # Without one, the shipped model: here a stand-in for it, then none at all
    monkeypatch.setattr(asr.transcribe, "SHIPPED_MODEL", tiny_model)
    assert asr_main(["transcribe", clip]) == 0
    assert capsys.readouterr().out.strip() == TINY_SENTENCES[0]
    monkeypatch.setattr(asr.transcribe, "SHIPPED_MODEL", tmp_path / "absent.pt")
    assert asr_main(["transcribe", clip]) == 2
    assert "no model given and the shipped one" in capsys.readouterr().err


def test_int8_wer_within_one_point_of_fp32(tiny_model, tiny_corpus):
    results = {}
    for int8 in (False, True):
        scores = ErrorRateAccumulator()
        for ref, t in zip(TINY_SENTENCES, Transcriber(tiny_model, int8=int8).transcribe_many(wavs(tiny_corpus))):
            scores.add(ref, t.text)
        results[int8] = scores.wer
    assert results[True] - results[False] <= 0.01, results


def test_onnx_matches_torch(tiny_model, tmp_path):
    import onnxruntime

    assert asr_main(["export", "--model", str(tiny_model), "--onnx", str(tmp_path / "m.onnx")]) == 0
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    meta = json.loads(session.get_modelmeta().custom_metadata_map["asr"])
    assert meta["feature_config"]["n_mels"] == 80 and meta["tokens"][0] == "<blank>"
    package = load_packaged_model(tiny_model)
    features, lengths = torch.randn(3, 517, 80), torch.tensor([517, 300, 41])
    log_probs, out_lengths = session.run(None, {"features": features.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        expected, expected_lengths = package.model(features, lengths)
    assert out_lengths.tolist() == expected_lengths.tolist()
    for row, n in enumerate(expected_lengths.tolist()):
        np.testing.assert_allclose(log_probs[row, :n], expected[row, :n].numpy(), atol=1e-4, rtol=0)


def test_torchscript_export_float_and_int8(tiny_model, tmp_path):
    from asr.inference import quantize_int8

    package = load_packaged_model(tiny_model)
    features, lengths = torch.randn(2, 333, 80), torch.tensor([333, 120])
    for extra in ([], ["--int8"]):
        model = quantize_int8(load_packaged_model(tiny_model).model) if extra else package.model
        with torch.no_grad():
            expected, expected_lengths = model(features, lengths)
        path = tmp_path / f"m{len(extra)}.ts"
        assert asr_main(["export", "--model", str(tiny_model), "--torchscript", str(path), *extra]) == 0
        files = {"asr.json": ""}
        scripted = torch.jit.load(str(path), _extra_files=files)
        assert json.loads(files["asr.json"])["frame_shift_s"] == pytest.approx(package.frame_shift)
        with torch.no_grad():
            got, got_lengths = scripted(features, lengths)
        assert torch.equal(got_lengths, expected_lengths)
        for row, n in enumerate(expected_lengths.tolist()):
            torch.testing.assert_close(got[row, :n], expected[row, :n], atol=1e-5, rtol=0)


def test_out_dir_outputs_never_overwrite_each_other(tiny_model, tiny_corpus, tmp_path, capsys):
    sources = wavs(tiny_corpus)
    (tmp_path / "in" / "a").mkdir(parents=True)
    (tmp_path / "in" / "b").mkdir()
    same_name = [tmp_path / "in" / "a" / "x.wav", tmp_path / "in" / "b" / "x.wav", tmp_path / "in" / "b" / "x.flac"]
    for k, path in enumerate(same_name):
        write_audio(path, load_audio(sources[k]), 16000, path.suffix[1:])
    out = tmp_path / "out"
    # three inputs whose outputs would all be out/x.txt: refused before any work, naming them
    assert asr_main(["transcribe", str(tiny_model), *map(str, same_name), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "x.txt" in err and all(str(p) in err for p in same_name)
    assert not out.exists() or not any(out.iterdir())
    # a folder keeps its structure below it: a/x.txt and b/x.txt (b/x.wav and b/x.flac still collide)
    (tmp_path / "in" / "b" / "x.flac").unlink()
    assert asr_main(["transcribe", str(tiny_model), str(tmp_path / "in"), "--out", str(out)]) == 0
    assert (out / "a" / "x.txt").read_text().strip() == TINY_SENTENCES[0]
    assert (out / "b" / "x.txt").read_text().strip() == TINY_SENTENCES[1]
    # existing outputs are not replaced without --overwrite, and nothing is transcribed
    (out / "a" / "x.txt").write_text("kept\n")
    capsys.readouterr()
    assert asr_main(["transcribe", str(tiny_model), str(tmp_path / "in"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and str(out / "a" / "x.txt") in err
    assert (out / "a" / "x.txt").read_text() == "kept\n"
    assert asr_main(["transcribe", str(tiny_model), str(tmp_path / "in"), "--out", str(out), "--overwrite"]) == 0
    assert (out / "a" / "x.txt").read_text().strip() == TINY_SENTENCES[0]


def test_word_confidence_covers_exactly_the_word_frames(tiny_model, tiny_corpus):
    """A word's confidence is over the frames of its tokens: never one frame early because its start time in
    seconds, a multiple of the frame shift, was rounded down when turned back into a frame index."""
    transcriber = Transcriber(tiny_model, segmenter=SegmenterConfig(min_chunk_s=29.0, max_chunk_s=30.0))
    shift = transcriber.frame_shift
    tricky = 0  # words starting at a frame k where int(round(k * shift, 6) / shift) != k
    for wav in wavs(tiny_corpus):
        samples = load_audio(wav)
        transcript = transcriber.transcribe(samples, sample_rate=16000)
        log_probs = transcriber.log_probs([samples])[0]  # one chunk: the same samples the transcript came from
        frames = greedy_decode(torch.from_numpy(log_probs), None, transcriber.tokenizer, 1.0)[0].words  # in frames
        assert [w.word for w in transcript.words] == [w.word for w in frames]
        best = log_probs.max(axis=1)
        for word, span in zip(transcript.words, frames):
            first, stop = int(span.start), int(span.end)
            assert word.start == pytest.approx(first * shift)
            assert word.end == pytest.approx(min(stop * shift, transcript.duration))  # the last frame may overhang
            assert word.confidence == pytest.approx(float(np.exp(best[first:stop].mean())), rel=1e-6), word
            tricky += int(round(first * shift, 6) / shift) != first
    assert tricky > 0  # the case that went wrong occurs in this corpus


def test_frame_shift_follows_the_whole_sample_hop(tiny_model):
    from asr.features import FeatureConfig
    from asr.package import PackagedModel

    package = load_packaged_model(tiny_model)
    # 10 ms at 22.05 kHz is 220.5 samples: the hop is 220 samples, so a frame lasts 220 / 22050 s, not 10 ms
    odd = PackagedModel(package.model, FeatureConfig(sample_rate=22050), package.tokenizer, package.cmvn)
    assert odd.frame_shift == pytest.approx(220 / 22050 * package.model.config.subsampling, rel=1e-12)
    assert package.frame_shift == pytest.approx(0.01 * package.model.config.subsampling, rel=1e-12)
