"""The rooms/devices/channels augmentation chain: deterministic, label-preserving, bounded in length."""

import numpy as np
import pytest

from asr.data.channel import (
    FAMILIES,
    ChannelConfig,
    apply_channel,
    codec_roundtrip,
    draw_channel,
    room_impulse_response,
    vtlp,
)

RATE = 16000


def _speech_like(seconds=2.0, seed=0):
    """Voiced bursts (harmonics of 120-200 Hz with formant-like resonances) separated by silences: like words."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.zeros_like(t)
    for start in np.arange(0.1, seconds - 0.3, 0.4):
        f0 = rng.uniform(120, 200)
        mask = (t >= start) & (t < start + 0.25)
        for k in range(1, 20):
            gain = np.exp(-((k * f0 - 700) / 300) ** 2) + 0.5 * np.exp(-((k * f0 - 1800) / 400) ** 2) + 0.05
            x[mask] += gain * np.sin(2 * np.pi * k * f0 * t[mask])
    return x / np.abs(x).max() * 0.5


def _envelope(x):
    frames = x[: x.size // 160 * 160].reshape(-1, 160)
    return np.log10((frames**2).mean(axis=1) + 1e-8)


def _babble():
    return np.concatenate([_speech_like(3.0, seed) for seed in range(10, 16)])


def test_every_family_keeps_timing_and_bounds_length():
    x = _speech_like()
    config = ChannelConfig(probability={f: 1.0 for f in FAMILIES}, clean_share=0.0)
    rng = np.random.default_rng(0)
    for _ in range(12):
        steps = draw_channel(rng, config)
        assert [s[0] for s in steps] == ["vtlp", "room", "noise", "device", "codec", "level"]
        for step in steps:
            y = apply_channel(x, RATE, (step,), _babble(), max_tail_s=0.3)
            assert x.size <= y.size <= x.size + int(0.3 * RATE), step[0]
            assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
            # the words stay where they were: loudness over time follows the dry signal's
            corr = np.corrcoef(_envelope(x), _envelope(y[: x.size]))[0, 1]
            assert corr > 0.5, (step, corr)


def test_channel_is_deterministic_and_families_can_be_left_out():
    config = ChannelConfig(probability={f: 1.0 for f in FAMILIES}, clean_share=0.0)
    a = draw_channel(np.random.default_rng(5), config)
    assert a == draw_channel(np.random.default_rng(5), config)
    x = _speech_like()
    np.testing.assert_array_equal(apply_channel(x, RATE, a, _babble()), apply_channel(x, RATE, a, _babble()))
    without_room = draw_channel(np.random.default_rng(5), ChannelConfig(
        families=tuple(f for f in FAMILIES if f != "room"), probability={f: 1.0 for f in FAMILIES}, clean_share=0.0))
    # leaving a family out leaves every other family's draw as it was
    assert without_room == tuple(s for s in a if s[0] != "room")
    with pytest.raises(ValueError, match="unknown augmentation family"):
        ChannelConfig(families=("room", "telepathy"))


def test_clean_share_leaves_only_the_level():
    config = ChannelConfig(clean_share=1.0)
    steps = draw_channel(np.random.default_rng(0), config)
    assert [s[0] for s in steps] == ["level"]


def test_room_reverberates_and_keeps_the_direct_path_first():
    rir = room_impulse_response(RATE, 0, 3)
    assert np.argmax(np.abs(rir)) < 0.05 * RATE and rir.size > 0.05 * RATE
    x = _speech_like()
    y = apply_channel(x, RATE, (("room", ("bank_seed", 0), ("index", 3)),))
    # reverberation fills the silences between words
    gaps = _envelope(x) < -6
    assert (_envelope(y[: x.size])[gaps] > -6).mean() > 0.3


def test_vtlp_moves_formants_the_right_way():
    x = _speech_like()

    def centroid(sig):
        spectrum = np.abs(np.fft.rfft(sig))
        freqs = np.fft.rfftfreq(sig.size, 1 / RATE)
        return (spectrum * freqs).sum() / spectrum.sum()

    assert centroid(vtlp(x, RATE, 1.12)) > centroid(x) * 1.03
    assert centroid(vtlp(x, RATE, 0.88)) < centroid(x) * 0.97
    assert vtlp(x, RATE, 1.1).size == x.size


@pytest.mark.parametrize("codec", ["mulaw", "gsm", "mp3", "opus"])
def test_codecs_roundtrip_with_loss_but_same_length(codec):
    x = _speech_like()
    y = codec_roundtrip(x, RATE, codec, 0.3)
    assert y.size == x.size
    corr = np.corrcoef(_envelope(x), _envelope(y))[0, 1]
    assert corr > 0.8
    assert not np.allclose(x, y, atol=1e-4)  # it is lossy
