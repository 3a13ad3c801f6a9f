"""Rooms, devices and channels: the augmentation chain that makes clean generated speech sound recorded.

A real recording differs from a TTS engine's output in ways a model trained on the clean output never hears:
the room (reverberation), the microphone and its electronics (band limits, a tilted response, mains hum), the
channel (telephone band, lossy codecs), the level (quiet, loud, clipped), the background (noise, other people
talking) and the speaker's vocal tract (formant positions). Each family below simulates one of them:

| family | what it does |
| --- | --- |
| room | convolves with a simulated room impulse response (pyroomacoustics image-source method): one of a bank of 400 shoebox rooms of random size (3-10 × 2.5-8 × 2.4-4 m), RT60 0.15-0.8 s, source and microphone anywhere 0.5 m from the walls |
| device | a microphone's response: high-pass 50-250 Hz, low-pass 3.5-8 kHz, a spectral tilt; sometimes mains hum |
| codec | telephone channels and lossy codecs: G.711 μ-law at 8 kHz, GSM 06.10 (sox), MP3 and Opus (libsndfile) at low bit rates |
| level | a random level, and sometimes overdriven and hard-clipped |
| noise | coloured (white, pink, brown) noise at 5-30 dB SNR, or babble (other voices talking) at 10-30 dB |
| vtlp | vocal-tract-length perturbation: the spectral envelope warped by 0.88-1.12, pitch and timing kept |

Every random choice is drawn up front (``draw_channel``) into a plain tuple, so a corpus plan fixes every
utterance's channel and rendering is deterministic; ``apply_channel`` then needs only the audio, the steps and
the babble bank. Labels never change: no step adds, removes or reorders speech, and the length is kept except
for the room's reverberation tail, which is cut to at most ``max_tail_s``.
"""

from __future__ import annotations

import functools
import io
import subprocess
from dataclasses import dataclass, field

import numpy as np

FAMILIES = ("room", "device", "codec", "level", "noise", "vtlp")
Step = tuple  # (family, (name, value), (name, value), ...): hashable and JSON-friendly


@dataclass
class ChannelConfig:
    families: tuple[str, ...] = FAMILIES  # the families in use (a run without one measures what it is worth)
    probability: dict[str, float] = field(default_factory=lambda: {
        "room": 0.4, "device": 0.5, "codec": 0.25, "level": 1.0, "noise": 0.5, "vtlp": 0.5})
    clean_share: float = 0.2  # utterances left clean (level only): a small model learns faster with some
    snr_db: tuple[float, float] = (5.0, 30.0)
    babble_snr_db: tuple[float, float] = (10.0, 30.0)  # babble competes with the words: never louder than this
    vtlp_warp: tuple[float, float] = (0.88, 1.12)
    max_tail_s: float = 0.3  # reverberation kept after the end of the dry signal
    rooms: int = 400  # simulated rooms (each a size, RT60, source and microphone position) drawn from
    room_bank_seed: int = 0  # ... this seed; a worker computes a room's impulse response once, when first used

    def __post_init__(self):
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown augmentation famil{'ies' if len(unknown) > 1 else 'y'} "
                             f"{', '.join(sorted(unknown))}; choose among {', '.join(FAMILIES)}")


# --- drawing -------------------------------------------------------------------------------------


def draw_channel(rng: np.random.Generator, config: ChannelConfig) -> tuple[Step, ...]:
    """One utterance's channel: the steps in the order a signal meets them (vocal tract, room, noise,
    device, codec, level). Every family draws its numbers whether used or not, so removing a family leaves
    the others' draws unchanged (what an ablation needs)."""
    draws: dict[str, Step] = {}
    use = {f: rng.random() < config.probability.get(f, 0.0) for f in FAMILIES}
    if rng.random() < config.clean_share:
        use = {f: f == "level" for f in FAMILIES}
    warp = float(rng.uniform(*config.vtlp_warp))
    draws["vtlp"] = ("vtlp", ("warp", round(warp, 4)))
    draws["room"] = ("room", ("bank_seed", config.room_bank_seed), ("index", int(rng.integers(config.rooms))))
    kind = ("white", "pink", "brown", "babble", "babble")[int(rng.integers(5))]
    snr = round(float(rng.uniform(*(config.babble_snr_db if kind == "babble" else config.snr_db))), 2)
    draws["noise"] = ("noise", ("kind", kind), ("snr_db", snr), ("seed", int(rng.integers(2**31))),
                      ("talkers", int(rng.integers(3, 8))))
    hum = float(rng.choice([50.0, 60.0])) if rng.random() < 0.25 else 0.0
    draws["device"] = ("device", ("highpass_hz", round(float(rng.uniform(50, 250)), 1)),
                       ("lowpass_hz", round(float(rng.uniform(3500, 7900)), 1)),
                       ("tilt_db", round(float(rng.uniform(-6, 6)), 2)), ("hum_hz", hum),
                       ("hum_db", round(float(rng.uniform(-45, -25)), 1)))
    codec = ("mulaw", "gsm", "mp3", "opus")[int(rng.integers(4))]
    draws["codec"] = ("codec", ("name", codec), ("quality", round(float(rng.uniform(0.0, 0.6)), 3)))
    clip = rng.random() < 0.1
    draws["level"] = ("level", ("peak_db", round(float(rng.uniform(-25, -1)), 2)),
                      ("overdrive_db", round(float(rng.uniform(3, 12)), 2) if clip else 0.0))
    order = ("vtlp", "room", "noise", "device", "codec", "level")
    return tuple(draws[f] for f in order if f in config.families and use[f])


# --- applying ------------------------------------------------------------------------------------


def apply_channel(audio: np.ndarray, sample_rate: int, steps: tuple[Step, ...],
                  babble: np.ndarray | None = None, max_tail_s: float = 0.3) -> np.ndarray:
    """Run ``audio`` (float mono) through the drawn steps; float32 out, peak-normalised unless a level step
    sets it. ``babble``: a long recording of speech (other voices) to cut babble noise from."""
    x = np.asarray(audio, dtype=np.float64)
    n = x.size
    peak_set = False
    for step in steps:
        family, params = step[0], dict(step[1:])
        if family == "vtlp":
            x = vtlp(x, sample_rate, params["warp"])
        elif family == "room":
            x = reverberate(x, sample_rate, params, n + int(max_tail_s * sample_rate))
        elif family == "noise":
            x = add_noise(x, params, babble)
        elif family == "device":
            x = device_response(x, sample_rate, params)
        elif family == "codec":
            x = codec_roundtrip(x, sample_rate, params["name"], params["quality"])
        elif family == "level":
            x = set_level(x, params["peak_db"], params["overdrive_db"])
            peak_set = True
        else:
            raise ValueError(f"unknown channel step {family!r}")
    if not peak_set:
        x = x * (0.5 / max(np.abs(x).max(), 1e-9))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def vtlp(x: np.ndarray, sample_rate: int, warp: float, boundary_hz: float = 4800.0) -> np.ndarray:
    """Warp the spectral envelope's frequency axis by ``warp`` (piecewise linear, fixed above a boundary so the
    band stays inside Nyquist), keeping each bin's phase: formants move, pitch harmonics' timing stays."""
    import torch

    if abs(warp - 1.0) < 1e-3 or x.size < 512:
        return x
    n_fft, hop = 512, 128
    signal = torch.from_numpy(x)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(signal, n_fft, hop, window=window, return_complex=True)
    freqs = np.linspace(0, sample_rate / 2, spec.shape[0])
    nyquist = sample_rate / 2
    cut = boundary_hz * min(warp, 1.0) / warp
    # source frequency read for each output frequency (the inverse of the warp function)
    source = np.where(freqs <= cut, freqs / warp,
                      nyquist - (nyquist - freqs) * (nyquist - cut / warp) / (nyquist - cut))
    position = np.clip(source / nyquist * (spec.shape[0] - 1), 0, spec.shape[0] - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, spec.shape[0] - 1)
    frac = torch.from_numpy(position - low)[:, None]
    magnitude = spec.abs()
    warped = magnitude[low] * (1 - frac) + magnitude[high] * frac
    out = torch.polar(warped, spec.angle())
    y = torch.istft(out, n_fft, hop, window=window, length=x.size)
    return y.numpy()


def room_params(bank_seed: int, index: int, rt60_s: tuple[float, float] = (0.15, 0.8)) -> dict:
    """Room ``index`` of a bank: shoebox size, RT60, source and microphone positions (0.5 m from walls)."""
    rng = np.random.default_rng([bank_seed, index])
    dims = rng.uniform([3.0, 2.5, 2.4], [10.0, 8.0, 4.0])
    source, mic = (rng.uniform(0.0, 1.0, 3) * (dims - 1.0) + 0.5 for _ in range(2))
    return {"dims": dims.tolist(), "rt60": float(rng.uniform(*rt60_s)), "source": source.tolist(),
            "mic": mic.tolist()}


@functools.lru_cache(maxsize=512)
def room_impulse_response(sample_rate: int, bank_seed: int, index: int) -> np.ndarray:
    """The impulse response of room ``index`` (pyroomacoustics, image-source method), peak 1."""
    import pyroomacoustics as pra

    room = room_params(bank_seed, index)
    absorption, max_order = pra.inverse_sabine(room["rt60"], room["dims"])
    # The image-source order needed grows with RT60 (and its cost with the cube): past 40 the late tail is
    # quiet enough that truncating it changes little of what the model hears.
    shoebox = pra.ShoeBox(room["dims"], fs=sample_rate, materials=pra.Material(absorption),
                          max_order=min(max_order, 40))
    shoebox.add_source(room["source"])
    shoebox.add_microphone(room["mic"])
    shoebox.compute_rir()
    rir = np.asarray(shoebox.rir[0][0], dtype=np.float64)
    return rir / (np.abs(rir).max() + 1e-12)


def reverberate(x: np.ndarray, sample_rate: int, params: dict, max_len: int) -> np.ndarray:
    """Convolve with the room's impulse response, aligned so the direct path lands where the dry signal was
    (the transcript's timing holds), and the tail cut at ``max_len`` samples."""
    from scipy.signal import fftconvolve

    rir = room_impulse_response(sample_rate, params["bank_seed"], params["index"])
    direct = int(np.argmax(np.abs(rir)))
    wet = fftconvolve(x, rir[direct:])[:max_len]
    return wet * (np.abs(x).max() / (np.abs(wet).max() + 1e-12))


def coloured_noise(n: int, colour: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise with a 1/f^colour power spectrum: 0 white, 1 pink, 2 brown."""
    white = rng.standard_normal(n)
    if colour == 0.0:
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / freqs ** (colour / 2), n)
    return noise / (noise.std() + 1e-12)


def babble_noise(n: int, babble: np.ndarray, talkers: int, rng: np.random.Generator) -> np.ndarray:
    """``talkers`` random stretches of the babble recording summed: several people talking at once."""
    if babble.size <= n:
        babble = np.tile(babble, n // max(babble.size, 1) + 2)
    out = np.zeros(n)
    for _ in range(talkers):
        start = int(rng.integers(0, babble.size - n))
        out += babble[start:start + n]
    return out / (out.std() + 1e-12)


def add_noise(x: np.ndarray, params: dict, babble: np.ndarray | None) -> np.ndarray:
    rng = np.random.default_rng(params["seed"])
    kind = params["kind"]
    if kind == "babble" and babble is not None and babble.size:
        noise = babble_noise(x.size, babble, params["talkers"], rng)
    else:  # without a babble bank, babble falls back to pink noise
        noise = coloured_noise(x.size, {"white": 0.0, "pink": 1.0, "brown": 2.0}.get(kind, 1.0), rng)
    active = x[np.abs(x) > 0.05 * np.abs(x).max()] if np.any(x) else x
    speech_rms = np.sqrt(np.mean(active**2)) if active.size else 0.0
    return x + noise * speech_rms / 10 ** (params["snr_db"] / 20)


def device_response(x: np.ndarray, sample_rate: int, params: dict) -> np.ndarray:
    """A microphone chain: Butterworth high- and low-pass, a first-order spectral tilt, optional mains hum."""
    from scipy.signal import butter, sosfilt

    nyquist = sample_rate / 2
    high = min(params["lowpass_hz"], 0.95 * nyquist)
    sos = np.vstack([butter(2, params["highpass_hz"] / nyquist, "highpass", output="sos"),
                     butter(4, high / nyquist, "lowpass", output="sos")])
    y = sosfilt(sos, x)
    tilt = params["tilt_db"]
    if tilt:  # a shelving tilt: the band above 1 kHz raised or lowered by tilt_db against the band below
        hp = sosfilt(butter(1, 1000 / nyquist, "highpass", output="sos"), y)
        y = y + (10 ** (tilt / 20) - 1) * hp
    if params["hum_hz"]:
        t = np.arange(y.size) / sample_rate
        hum = sum(np.sin(2 * np.pi * params["hum_hz"] * k * t + k) / k for k in (1, 2, 3))
        y = y + hum * np.abs(y).max() * 10 ** (params["hum_db"] / 20)
    return y


def mulaw_roundtrip(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """G.711 μ-law: 8-bit companded quantisation (what a telephone line carries)."""
    peak = max(np.abs(x).max(), 1e-9)
    y = np.sign(x / peak) * np.log1p(mu * np.abs(x / peak)) / np.log1p(mu)
    q = np.round((y + 1) / 2 * 255) / 255 * 2 - 1
    return np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu * peak


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    import soxr

    return soxr.resample(x, rate_in, rate_out).astype(np.float64) if rate_in != rate_out else x


def codec_roundtrip(x: np.ndarray, sample_rate: int, name: str, quality: float) -> np.ndarray:
    """Encode and decode with a lossy codec; ``quality`` 0 (lowest bit rate) .. 1. The length is kept."""
    import soundfile

    n = x.size
    peak = max(np.abs(x).max(), 1e-9)
    x = x * (0.9 / peak)
    if name == "mulaw":
        y = _resample(mulaw_roundtrip(_resample(x, sample_rate, 8000)), 8000, sample_rate)
    elif name == "gsm":  # GSM 06.10 full rate, 8 kHz: sox encodes and decodes it
        pcm = (np.clip(_resample(x, sample_rate, 8000), -1, 1) * 32767).astype("<i2").tobytes()
        cmd = ["sox", "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "-", "-t", "gsm", "-"]
        gsm = subprocess.run(cmd, input=pcm, capture_output=True, check=True).stdout
        cmd = ["sox", "-t", "gsm", "-r", "8000", "-c", "1", "-", "-t", "raw", "-e", "signed", "-b", "16", "-"]
        decoded = subprocess.run(cmd, input=gsm, capture_output=True, check=True).stdout
        y = _resample(np.frombuffer(decoded, dtype="<i2") / 32768.0, 8000, sample_rate)
    else:
        fmt, subtype = {"mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}[name]
        rate = 16000 if name == "mp3" else 48000 if sample_rate > 24000 else sample_rate
        buffer = io.BytesIO()
        # libsndfile's compression level runs from the highest bit rate (0) to the lowest (1)
        soundfile.write(buffer, _resample(x, sample_rate, rate), rate, format=fmt, subtype=subtype,
                        compression_level=1.0 - quality)
        buffer.seek(0)
        decoded, decoded_rate = soundfile.read(buffer, dtype="float64")
        y = _resample(decoded, decoded_rate, sample_rate)
    if y.size < n:
        y = np.pad(y, (0, n - y.size))
    return y[:n] * (peak / 0.9)


def set_level(x: np.ndarray, peak_db: float, overdrive_db: float) -> np.ndarray:
    """Scale to a peak level (dBFS); with overdrive, drive past full scale and clip as a saturated input does."""
    y = x * (10 ** (peak_db / 20) / max(np.abs(x).max(), 1e-9))
    if overdrive_db:
        y = np.clip(x * (10 ** (overdrive_db / 20) / max(np.abs(x).max(), 1e-9)), -1.0, 1.0)
    return y
