import librosa
import numpy as np
import pytest
import torch

from asr.audio import load_audio
from asr.features import CMVN, CMVNAccumulator, FeatureConfig, LogMel, compute_logmel

PARITY_BOUND = 1e-3  # natural-log units, non-silent frames


def librosa_logmel(samples: np.ndarray, c: FeatureConfig) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=samples.astype(np.float64), sr=c.sample_rate, n_fft=c.fft_size, hop_length=c.hop_length,
        win_length=c.win_length, window="hann", center=True, pad_mode="constant", power=2.0, n_mels=c.n_mels,
        fmin=c.f_min, fmax=c.f_max, htk=False, norm="slaney")
    return mel.T


def non_silent_max_error(ours: np.ndarray, ref_power: np.ndarray, floor: float, in_frame_db: float | None = None
                         ) -> float:
    """Largest |ours - log(ref)| over non-silent frames (within 60 dB of the loudest, every bin above the floor).

    With ``in_frame_db``, only bins within that many dB of their frame's strongest bin count: far below a
    frame's peak, float32 FFT rounding (ours and any float32 FFT) exceeds the parity bound on narrow filters.
    """
    frame_power = ref_power.sum(axis=1)
    keep = (frame_power > frame_power.max() * 1e-6) & (ref_power.min(axis=1) > floor)
    assert keep.sum() > 0.5 * len(keep)
    err = np.abs(ours[keep] - np.log(ref_power[keep]))
    if in_frame_db is not None:
        ref = ref_power[keep]
        err = err[ref >= ref.max(axis=1, keepdims=True) * 10 ** (-in_frame_db / 10)]
    return float(err.max())


def test_matches_librosa_on_speech(speech_wav):
    config = FeatureConfig()
    samples = load_audio(speech_wav, config.sample_rate)
    ours = compute_logmel(samples, config).numpy()
    ref = librosa_logmel(samples, config)
    assert ours.shape == ref.shape == (config.num_frames(len(samples)), config.n_mels)
    assert non_silent_max_error(ours, ref, config.log_floor) <= PARITY_BOUND


@pytest.mark.parametrize("config", [
    FeatureConfig(n_mels=40, hop_ms=20.0, win_ms=32.0),
    FeatureConfig(sample_rate=8000, n_mels=64, f_min=20.0, f_max=3800.0),
    FeatureConfig(n_fft=1024, n_mels=128),
], ids=["40mel", "8k", "1024fft"])
def test_other_configs_match_librosa(speech_wav, config):
    samples = load_audio(speech_wav, config.sample_rate)
    ours = compute_logmel(samples, config).numpy()
    ref = librosa_logmel(samples, config)
    assert ours.shape == ref.shape == (config.num_frames(len(samples)), config.n_mels)
    assert non_silent_max_error(ours, ref, config.log_floor, in_frame_db=80) <= PARITY_BOUND


def test_matches_librosa_on_noise():
    samples = np.random.default_rng(1).normal(0, 0.1, 16000 * 3).astype(np.float32)
    c = FeatureConfig()
    err = non_silent_max_error(compute_logmel(samples, c).numpy(), librosa_logmel(samples, c), c.log_floor)
    assert err <= 1e-4


def test_silence_is_floored():
    feats = compute_logmel(np.zeros(1600, dtype=np.float32))
    assert feats.shape == (11, 80)
    torch.testing.assert_close(feats, torch.full((11, 80), float(np.log(1e-10))))


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(2)
    lengths = [16000, 9000, 12345, 400]
    waves = [rng.normal(0, 0.1, n).astype(np.float32) for n in lengths]
    batch = torch.zeros(len(waves), max(lengths))
    for i, w in enumerate(waves):
        batch[i, : len(w)] = torch.from_numpy(w)
    extractor = LogMel()
    feats, frame_lengths = extractor(batch, torch.tensor(lengths))
    assert feats.shape == (4, 101, 80)
    for i, w in enumerate(waves):
        alone = compute_logmel(w, extractor=extractor)
        assert frame_lengths[i] == alone.shape[0] == 1 + lengths[i] // 160
        torch.testing.assert_close(feats[i, : frame_lengths[i]], alone, atol=1e-5, rtol=0)


def test_frame_counts_follow_config():
    c = FeatureConfig(hop_ms=12.5)
    assert c.hop_length == 200 and c.win_length == 400 and c.fft_size == 512
    for n in (1, 199, 200, 16000):
        assert compute_logmel(np.ones(n, dtype=np.float32) * 0.1, c).shape[0] == c.num_frames(n) == 1 + n // 200


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.cuda
def test_cuda_matches_cpu():
    waves = torch.randn(3, 32000) * 0.1
    cpu, _ = LogMel()(waves)
    gpu, _ = LogMel().cuda()(waves.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3, rtol=1e-4)


def test_cmvn_equals_numpy():
    rng = np.random.default_rng(3)
    chunks = [rng.normal(rng.uniform(-5, 5, 80), rng.uniform(0.5, 3, 80), size=(n, 80)) for n in (50, 1, 300, 77)]
    acc = CMVNAccumulator(80)
    for c in chunks:
        acc.add(torch.from_numpy(c).float())
    frames = np.concatenate([c.astype(np.float32) for c in chunks]).astype(np.float64)
    stats = acc.result()
    assert stats.count == len(frames)
    np.testing.assert_allclose(stats.mean, frames.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.std, frames.std(axis=0), rtol=1e-10)


def test_cmvn_merge_equals_single_pass():
    rng = np.random.default_rng(4)
    a, b = rng.normal(3, 2, (400, 8)), rng.normal(-1, 0.5, (100, 8))
    one = CMVNAccumulator(8)
    one.add(np.concatenate([a, b]))
    left, right = CMVNAccumulator(8), CMVNAccumulator(8)
    left.add(a)
    right.add(b)
    left.merge(CMVNAccumulator.from_state(right.state()))
    np.testing.assert_allclose(left.result().mean, one.result().mean, rtol=1e-12)
    np.testing.assert_allclose(left.result().std, one.result().std, rtol=1e-12)


def test_cmvn_apply_and_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    frames = torch.from_numpy(rng.normal(4, 3, (1000, 80))).float()
    acc = CMVNAccumulator(80)
    acc.add(frames)
    stats = acc.result()
    stats.save(tmp_path / "cmvn.json")
    loaded = CMVN.load(tmp_path / "cmvn.json")
    normalised = loaded.apply(frames)
    torch.testing.assert_close(normalised.mean(0), torch.zeros(80), atol=1e-5, rtol=0)
    torch.testing.assert_close(normalised.std(0, unbiased=False), torch.ones(80), atol=1e-4, rtol=0)
    assert CMVN.from_dict(stats.to_dict()).count == 1000


def _stats(n_mels=6, seed=7):
    rng = np.random.default_rng(seed)
    return CMVN(rng.normal(-5, 2, n_mels), rng.uniform(1, 3, n_mels), 1000), rng


def test_cmvn_utterance_mode_removes_a_fixed_channel():
    stats, rng = _stats()
    cmvn = stats.with_mode("utterance")
    x = torch.from_numpy(rng.normal(2, 1.5, (120, 6))).float()
    out = cmvn.apply(x)
    torch.testing.assert_close(out.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(0, unbiased=False), torch.ones(6), atol=1e-4, rtol=0)
    # a microphone's fixed colouring and level (a per-bin offset in log-mel) leaves no trace; global CMVN keeps it
    channel = torch.from_numpy(rng.normal(0, 3, 6)).float()
    torch.testing.assert_close(cmvn.apply(x + channel), out, atol=1e-4, rtol=0)
    assert (stats.apply(x + channel) - stats.apply(x)).abs().min() > 1e-3
    # a constant (silent) bin is floored at a tenth of the global deviation, not divided by zero
    x[:, 2] = -23.0
    assert torch.isfinite(cmvn.apply(x)).all() and cmvn.apply(x)[:, 2].abs().max() == 0


def test_cmvn_running_mode_is_causal_and_matches_its_definition():
    stats, rng = _stats()
    cmvn = CMVN(stats.mean, stats.std, stats.count, "running", window=50, prior=20.0)
    x = rng.normal(1, 2, (200, 6))
    out = cmvn.apply(torch.from_numpy(x).float()).numpy()
    for t in (0, 10, 49, 50, 51, 199):  # the definition, frame by frame
        recent = x[max(0, t - 49): t + 1]
        mean = (20.0 * stats.mean + recent.sum(0)) / (20.0 + len(recent))
        np.testing.assert_allclose(out[t], (x[t] - mean) / stats.std, rtol=1e-4, atol=1e-4)
    # causal: a prefix normalises to the prefix of the whole (what a live stream computes as audio arrives)
    prefix = cmvn.apply(torch.from_numpy(x[:80]).float()).numpy()
    np.testing.assert_allclose(prefix, out[:80], rtol=1e-5, atol=1e-5)
    # a channel offset fades as frames arrive: what is left of it is the prior's share of the mean
    channel = rng.normal(0, 3, 6)
    shifted = cmvn.apply(torch.from_numpy(x + channel).float()).numpy()
    for t, seen in ((0, 1), (20, 21), (199, 50)):
        np.testing.assert_allclose(shifted[t] - out[t], channel / stats.std * 20.0 / (20.0 + seen), atol=1e-4)


@pytest.mark.parametrize("mode", ["global", "utterance", "running"])
def test_cmvn_padded_batch_equals_each_utterance_alone(mode):
    stats, rng = _stats()
    cmvn = stats.with_mode(mode)
    utts = [torch.from_numpy(rng.normal(0, 2, (n, 6))).float() for n in (90, 31, 5)]
    batch = torch.zeros(3, 90, 6)
    for i, u in enumerate(utts):
        batch[i, : len(u)] = u
    out = cmvn.apply(batch, torch.tensor([90, 31, 5]))
    for i, u in enumerate(utts):
        torch.testing.assert_close(out[i, : len(u)], cmvn.apply(u), atol=1e-5, rtol=0)


def test_cmvn_mode_travels_in_its_dict_and_old_dicts_are_global():
    stats, _ = _stats()
    running = CMVN(stats.mean, stats.std, stats.count, "running", window=120, prior=33.0)
    back = CMVN.from_dict(running.to_dict())
    assert (back.mode, back.window, back.prior) == ("running", 120, 33.0)
    old = {k: v for k, v in stats.to_dict().items() if k in ("mean", "std", "count")}
    assert CMVN.from_dict(old).mode == "global"
    with pytest.raises(ValueError, match="CMVN mode must be one of"):
        stats.with_mode("per-speaker")
