"""The pretrained encoder front end (asr.pretrained): whisper's log-mel, the encoder's states, and how the rest of
the toolkit takes them (store, model stacking, transcription, streaming's refusal)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from asr.data.store import FeatureStore, extract_features
from asr.features import FeatureConfig, LogMel, feature_extractor
from asr.model import AcousticModel, ModelConfig
from asr.pretrained import HOP, N_FFT, PretrainedEncoder, whisper_logmel
from tests.conftest import write_audio

WHISPER = FeatureConfig(encoder="whisper-tiny.en")


@pytest.fixture(scope="module")
def encoder() -> PretrainedEncoder:
    return PretrainedEncoder(WHISPER)


@pytest.fixture(scope="module")
def speech(speech_wav) -> np.ndarray:
    from asr.audio import load_audio

    return load_audio(speech_wav, 16000)


def test_whisper_logmel_matches_librosa(speech):
    librosa = pytest.importorskip("librosa")
    filters = librosa.filters.mel(sr=16000, n_fft=N_FFT, n_mels=80)  # what whisper's own filters were made with
    power = np.abs(librosa.stft(speech, n_fft=N_FFT, hop_length=HOP, window="hann", center=True,
                                pad_mode="reflect")[:, :-1]) ** 2
    reference = np.log10(np.maximum(filters @ power, 1e-10))
    reference = (np.maximum(reference, reference.max() - 8.0) + 4.0) / 4.0
    ours = whisper_logmel(torch.from_numpy(speech), torch.from_numpy(filters).float()).numpy()
    assert ours.shape == reference.shape == (80, len(speech) // HOP)
    assert np.abs(ours - reference).max() < 1e-3
    ours_filters = PretrainedEncoder(WHISPER).filters.numpy()
    assert np.abs(ours_filters - filters).max() < 1e-6  # asr.features.mel_filterbank is librosa's Slaney filters


def test_states_have_the_promised_count_and_size(encoder, speech):
    for seconds in (0.005, 0.3, 1.01, 2.5):
        n = int(seconds * 16000)
        states, frames = encoder(torch.from_numpy(speech[:n]))
        assert states.shape == (WHISPER.num_frames(n), 384) and int(frames) == len(states)
        assert torch.isfinite(states).all()
    assert WHISPER.frame_rate == 50 and WHISPER.dim == 384


def test_audio_longer_than_the_window_is_encoded_in_pieces(encoder, speech):
    long = np.tile(speech, int(np.ceil(31 * 16000 / len(speech))))[: 31 * 16000 + 123]
    states = encoder.encode(long)
    assert states.shape == (WHISPER.num_frames(len(long)), 384)
    first = encoder.encode(long[: 30 * 16000])  # the first 30-s window alone gives the same states
    assert np.allclose(states[: len(first)], first, atol=1e-4)


def test_padding_in_a_batch_changes_nothing(encoder, speech):
    short, long = speech[: 16000], speech[: 40000]
    batch = torch.zeros(2, len(long))
    batch[0, : len(short)] = torch.from_numpy(short)
    batch[1] = torch.from_numpy(long)
    states, frames = encoder(batch, torch.tensor([len(short), len(long)]))
    alone = encoder.encode(short)
    assert frames.tolist() == [len(alone), WHISPER.num_frames(len(long))]
    assert np.allclose(states[0, : len(alone)].numpy(), alone, atol=1e-4)
    assert (states[0, len(alone):] == 0).all()


def test_states_differ_for_different_speech(encoder, speech):
    a, b = encoder.encode(speech[:32000]), encoder.encode(speech[32000:64000])
    assert np.abs(a - b).mean() > 0.1 * np.abs(a).mean()


def test_feature_config_round_trips_and_checks_its_encoder():
    assert FeatureConfig.from_dict(WHISPER.to_dict()) == WHISPER
    assert "encoder" not in FeatureConfig().to_dict()  # log-mel stores keep the plans they were written with
    assert isinstance(feature_extractor(FeatureConfig()), LogMel)
    assert isinstance(feature_extractor(WHISPER), PretrainedEncoder)
    with pytest.raises(ValueError, match="unknown encoder"):
        FeatureConfig(encoder="whisper-huge")
    with pytest.raises(ValueError, match="n_mels"):
        FeatureConfig(encoder="whisper-tiny.en", n_mels=40)


def test_stacked_frames_model_ignores_padding_and_counts_its_frames():
    torch.manual_seed(0)
    config = ModelConfig(input_size=384, stack_frames=2, conv_channels=[], conv_kernels=[], conv_strides=[],
                         hidden_size=16, num_layers=2)
    model = AcousticModel(config).eval()
    x, lengths = torch.randn(2, 101, 384), torch.tensor([101, 60])
    log_probs, out = model(x, lengths)
    assert out.tolist() == [51, 30] == model.output_lengths(lengths).tolist()
    alone, _ = model(x[1:, :60], lengths[1:])
    assert torch.allclose(alone[0], log_probs[1, :30], atol=1e-5)
    assert config.subsampling == 2 and ModelConfig.from_dict(config.to_dict()) == config
    assert "stack_frames" not in ModelConfig().to_dict()


def test_store_of_encoder_states(tmp_path, speech):
    rows = []
    for i, (start, seconds) in enumerate([(0, 1.5), (16000, 2.0), (48000, 1.0)]):
        path = write_audio(tmp_path / f"u{i}.wav", speech[start:start + int(seconds * 16000)], 16000)
        rows.append({"id": f"u{i}", "audio": path.name, "duration": seconds, "text": "words"})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = extract_features([manifest], tmp_path / "store", WHISPER, workers=1, progress=False)
    reopened = FeatureStore(tmp_path / "store")
    assert reopened.feature_config == WHISPER and len(store) == 3
    assert reopened.get("u1").shape == (WHISPER.num_frames(32000), 384)
    assert len(reopened.cmvn.mean) == 384


def test_store_workers_start_cleanly_after_the_encoder_ran(tmp_path, speech):
    """A process that has extracted encoder states (CTranslate2's and torch's threads ran in it) then extracts with
    worker processes: forked from it, the workers hung in their first parallel region; they must finish."""
    import subprocess
    import sys

    rows = []
    for i in range(4):
        path = write_audio(tmp_path / f"u{i}.wav", speech[i * 8000:i * 8000 + 16000], 16000)
        rows.append({"id": f"u{i}", "audio": path.name, "duration": 1.0, "text": "words"})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = (
        "import sys\n"
        "from asr.data.store import extract_features\n"
        "from asr.features import FeatureConfig\n"
        "extract_features([sys.argv[1]], sys.argv[2] + '-encoder', FeatureConfig(encoder='whisper-tiny.en'),"
        " workers=1, progress=False)\n"
        "store = extract_features([sys.argv[1]], sys.argv[2], FeatureConfig(), workers=2, shard_size=1,"
        " progress=False)\n"
        "print(len(store))\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.jsonl"), str(tmp_path / "store")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "4"


def _encoder_package(bidirectional: bool = True):
    from asr.features import CMVN
    from asr.package import PackagedModel
    from asr.text import CharTokenizer

    torch.manual_seed(0)
    config = ModelConfig(input_size=384, vocab_size=29, stack_frames=2, conv_channels=[], conv_kernels=[],
                         conv_strides=[], hidden_size=8, num_layers=1, bidirectional=bidirectional)
    return PackagedModel(AcousticModel(config).eval(), WHISPER, CharTokenizer(), CMVN(np.zeros(384), np.ones(384), 1),
                         {})


def test_streaming_an_encoder_model_gives_the_offline_transcription_of_each_segment(speech):
    """The open segment is encoded again at each partial; a final is exactly the offline result of its audio."""
    from asr.inference import Transcriber
    from asr.streaming import StreamingRecognizer, chunked, segment_samples

    transcriber = Transcriber(_encoder_package())
    pause = np.zeros(16000, dtype=np.float32)
    audio = np.concatenate([pause, speech[:40000], pause, speech[8000:36000], pause])
    hyps = list(StreamingRecognizer(transcriber).transcribe_chunks(chunked(audio, 1280)))
    finals = [h for h in hyps if h.final]
    assert len(finals) == 2 and len(hyps) > len(finals)  # two segments, with partials before their finals
    for hyp in finals:
        offline = transcriber.log_probs([segment_samples(audio, hyp, 16000)])[0]
        assert hyp.log_probs.shape == offline.shape
        np.testing.assert_allclose(hyp.log_probs, offline, atol=1e-5)
    with pytest.raises(ValueError, match="whole segment"):  # the causal path carries state over log-mels only
        StreamingRecognizer(Transcriber(_encoder_package(bidirectional=False)))


def test_training_on_encoder_states_and_fine_tuning_keeps_them(tiny_corpus, tmp_path):
    from conftest import TinyCorpus, train_overrides

    from asr.errors import InputError
    from asr.package import load_packaged_model
    from asr.train import compose
    from asr.training.trainer import train

    store = tmp_path / "store"
    extract_features([tiny_corpus.train], store, WHISPER, workers=1, progress=False)
    corpus = TinyCorpus(tiny_corpus.root, tiny_corpus.train, tiny_corpus.dev, store)
    head = {"model": "whisper_head", "model.hidden_size": 32, "model.num_layers": 1, "train.epochs": 3,
            "train.max_frames": 300, "log.every_steps": 1}
    with pytest.raises(InputError, match="whisper-tiny.en"):  # the log-mel features config does not fit the store
        train(compose(train_overrides(corpus, tmp_path / "wrong", **head)))
    run_dir = train(compose(train_overrides(corpus, tmp_path / "run", features="whisper_tiny_en", **head)))
    losses = [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
              if r["kind"] == "train"]
    assert losses[-1] < 0.8 * losses[0]
    package = load_packaged_model(run_dir / "model.pt")
    assert package.feature_config == WHISPER and package.model.config.stack_frames == 2
    assert package.frame_shift == pytest.approx(0.04)
    # fine-tuning takes the package's front end, as it takes its architecture: no features override needed
    tuned = train(compose(train_overrides(corpus, tmp_path / "tuned", **{"train.epochs": 1,
                                                                         "train.init_from": run_dir / "model.pt"})))
    assert load_packaged_model(tuned / "model.pt").feature_config == WHISPER


def test_asr_features_refuses_settings_the_encoder_cannot_take(tmp_path, capsys):
    from asr.cli import main as asr_main

    manifest = tmp_path / "m.jsonl"
    manifest.write_text("")
    code = asr_main(["features", str(manifest), "--out", str(tmp_path / "store"), "--encoder", "whisper-tiny.en",
                     "--n-mels", "40"])
    assert code == 2 and "leave sample_rate, n_mels" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
