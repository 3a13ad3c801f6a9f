import numpy as np
import pytest
import soundfile
from conftest import FORMATS, tone, write_audio

from asr.audio import AudioError, audio_info, iter_audio_blocks, load_audio

RATES = [8000, 16000, 22050, 44100, 48000]


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("kind", list(FORMATS))
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", [1, 2])
def test_any_format_rate_and_channels_become_16k_mono(tmp_path, kind, rate, channels):
    seconds = 1.5
    left = tone(seconds, rate, 440.0, 0.5)
    samples = left if channels == 1 else np.stack([left, 0.6 * left], axis=1)  # mono mean: 0.8 * left
    ext = kind.split("-")[0]
    path = write_audio(tmp_path / f"a.{ext}", samples, rate, kind)

    out = load_audio(path, 16000)

    assert out.dtype == np.float32 and out.ndim == 1
    lossless = FORMATS[kind][2]
    expected_len = round(len(left) * 16000 / rate)
    if lossless:
        assert len(out) == expected_len
    else:  # codec frames and encoder delay add a little
        assert abs(len(out) - expected_len) < 0.1 * expected_len
    assert dominant_frequency(out, 16000) == pytest.approx(440.0, abs=5.0)
    expected_peak = 0.5 if channels == 1 else 0.4
    middle = out[len(out) // 4: 3 * len(out) // 4]
    assert np.abs(middle).max() == pytest.approx(expected_peak, rel=0.05 if lossless else 0.2)


def test_many_channels_are_averaged(tmp_path):
    rate = 16000
    base = tone(0.5, rate)
    samples = np.stack([base * k for k in range(6)], axis=1)  # mean factor (0+1+...+5)/6 = 2.5
    path = write_audio(tmp_path / "six.wav", samples / 5, rate, "wav-float")
    out = load_audio(path)
    np.testing.assert_allclose(out, base * 2.5 / 5, atol=1e-6)


def test_segment_by_offset_and_duration(tmp_path):
    rate = 8000
    samples = np.linspace(-0.5, 0.5, 3 * rate, dtype=np.float32)
    path = write_audio(tmp_path / "ramp.wav", samples, rate, "wav-float")
    seg = load_audio(path, rate, offset=1.0, duration=0.5)
    np.testing.assert_array_equal(seg, samples[rate: rate + rate // 2])
    assert audio_info(path).duration == pytest.approx(3.0)


def test_blocks_equal_whole_file(tmp_path):
    rate = 16000
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 5 * rate).astype(np.float32)
    path = write_audio(tmp_path / "long.wav", samples, rate, "wav-float")
    blocks = list(iter_audio_blocks(path, rate, block_seconds=1.3))
    assert len(blocks) == 4
    np.testing.assert_array_equal(np.concatenate(blocks), samples)


def test_blocks_resampled_match_whole_file(tmp_path):
    samples = tone(4.0, 44100, 300.0)
    path = write_audio(tmp_path / "long44.wav", samples, 44100, "wav-float")
    whole = load_audio(path, 16000)
    streamed = np.concatenate(list(iter_audio_blocks(path, 16000, block_seconds=0.7)))
    assert abs(len(streamed) - len(whole)) <= 2
    n = min(len(whole), len(streamed))
    np.testing.assert_allclose(streamed[1000:n - 1000], whole[1000:n - 1000], atol=1e-3)


def _expect(path, problem):
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)
    assert err.value.path == str(path)


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.wav", "file not found")


def test_directory(tmp_path):
    _expect(tmp_path, "is a directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect(path, "file is empty")


def test_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n" * 20)
    _expect(path, "not a recognised audio format")


def test_corrupt_header(tmp_path):
    path = write_audio(tmp_path / "corrupt.wav", tone(0.5, 16000), 16000)
    data = bytearray(path.read_bytes())
    data[20:36] = b"\xff" * 16  # the fmt chunk: format tag, channels, rate, byte rate, block align, bits
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value)
    assert "corrupt or unreadable audio" in str(err.value)


def test_truncated_flac_is_corrupt(tmp_path):
    path = write_audio(tmp_path / "cut.flac", tone(1.0, 16000), 16000, "flac")
    path.write_bytes(path.read_bytes()[:60])
    _expect(path, "corrupt or unreadable audio")


def test_zero_samples(tmp_path):
    path = tmp_path / "zero.wav"
    soundfile.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    _expect(path, "contains no audio samples")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    samples = tone(0.5, 16000)
    samples[100:103] = bad
    path = write_audio(tmp_path / "bad.wav", samples, 16000, "wav-float")
    _expect(path, "contains 3 NaN or infinite samples")


def test_offset_past_end(tmp_path):
    path = write_audio(tmp_path / "short.wav", tone(0.5, 16000), 16000)
    with pytest.raises(AudioError, match="past the end"):
        load_audio(path, offset=2.0)
