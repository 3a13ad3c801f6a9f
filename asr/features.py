"""Log-mel filterbank features and global CMVN: the one feature code path of data prep, training and inference.

``LogMel`` computes ``log(max(mel_power, log_floor))`` with ``torch.stft`` (Hann window, centred frames, zero
padding) and a Slaney-style mel filterbank, the same definition as ``librosa.feature.melspectrogram`` with
``htk=False, norm="slaney"``, so features match librosa's to float32 rounding. It runs batched on CPU or CUDA, and
a padded batch gives every utterance exactly the frames it gets alone (zero padding is what ``center=True`` pads
with anyway), so batching never changes a feature.

CMVN statistics are accumulated in float64 with Chan's parallel update, merge across workers, travel as a plain
dict (inside a packaged model or beside a feature store) and are applied to features at load time. How they are
applied is the CMVN's ``mode``, chosen at training time (``data.cmvn``) and carried in the package:

- ``global``: one mean and standard deviation for every utterance, from the training audio.
- ``utterance``: each utterance's own per-bin mean and standard deviation (the standard deviation floored at a
  tenth of the global one, so a near-silent bin of a short clip is not blown up). Removes a fixed channel
  (microphone, room colouring, level) exactly, but needs the whole utterance.
- ``running``: a causal mean over the last ``window`` frames, blended with the global mean as if it were ``prior``
  frames, and the global standard deviation: what a live stream can compute as the audio arrives (each frame's
  value depends only on frames before it), adapting to the channel within a second or two.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from asr.fileio import atomic_write_text


@dataclass
class FeatureConfig:
    """Settings of the log-mel front end. Saved inside packaged models, so inference uses the training values."""

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int | None = None  # None: the next power of two at or above the window length
    f_min: float = 0.0
    f_max: float | None = None  # None: the Nyquist frequency
    log_floor: float = 1e-10  # mel power floor before the natural log (about 16-bit quantisation noise)
    # A frozen pretrained encoder's states instead of log-mels (asr.pretrained), e.g. "whisper-tiny.en"; the
    # encoder brings its own log-mel front end, which the fields above must then match (its 16 kHz, 80 x 25 ms / 10 ms).
    encoder: str = ""

    def __post_init__(self):
        if self.encoder:
            from asr.pretrained import N_MELS, SAMPLE_RATE, encoder_spec

            encoder_spec(self.encoder)  # a clear error for an unknown name
            if (self.sample_rate, self.n_mels, self.win_ms, self.hop_ms) != (SAMPLE_RATE, N_MELS, 25.0, 10.0):
                raise ValueError(f"the {self.encoder} encoder takes 16 kHz audio and its own 80 x 25 ms / 10 ms "
                                 f"log-mels; leave sample_rate, n_mels, win_ms and hop_ms at their defaults")

    @property
    def encoder_spec(self):
        """The encoder's ``asr.pretrained.EncoderSpec``, or None for log-mels."""
        if not self.encoder:
            return None
        from asr.pretrained import encoder_spec

        return encoder_spec(self.encoder)

    @property
    def dim(self) -> int:
        """Values per feature frame: the mel bands, or the encoder's state size."""
        return self.encoder_spec.dim if self.encoder else self.n_mels

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def fft_size(self) -> int:
        return self.n_fft or 1 << (self.win_length - 1).bit_length()

    @property
    def frame_rate(self) -> float:
        """Feature frames per second."""
        return self.sample_rate / self.hop_length / (self.encoder_spec.stride if self.encoder else 1)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` samples (centred framing: one per hop, plus one)."""
        if self.encoder:
            from asr.pretrained import num_states

            return num_states(num_samples, self.encoder_spec)
        return 1 + num_samples // self.hop_length

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.encoder:  # log-mel configs keep the dict (and so the stores' plans) they always had
            del d["encoder"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return cls(**d)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    linear = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep,
                    linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular mel filters, area-normalised (Slaney), shape ``(n_fft // 2 + 1, n_mels)``, float64."""
    f_max = sample_rate / 2 if f_max is None else f_max
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.T.copy()


def _filter_bands(filterbank: np.ndarray, groups: int) -> list[tuple[int, int, int, int]]:
    """Split the filters into ``groups`` runs of neighbours, each with the span of FFT bins it touches.

    A bin feeds at most two neighbouring triangles, so a dense (bins × mels) product does ~40x more work than
    needed; a handful of band products cuts that about fivefold while BLAS still does the arithmetic.
    Returns ``(bin_start, bin_stop, mel_start, mel_stop)`` per band.
    """
    n_mels = filterbank.shape[1]
    nonzero = filterbank > 0
    bands = []
    for part in np.array_split(np.arange(n_mels), min(groups, n_mels)):
        rows = np.flatnonzero(nonzero[:, part].any(axis=1))
        if rows.size == 0:  # filters narrower than one bin: any single bin keeps the shapes valid
            rows = np.array([0])
        bands.append((int(rows[0]), int(rows[-1]) + 1, int(part[0]), int(part[-1]) + 1))
    return bands


class LogMel(torch.nn.Module):
    """Batched log-mel filterbank: waveforms ``(B, S)`` → features ``(B, T, n_mels)`` and frame counts ``(B,)``.

    How it is fast on one CPU core (bench/features.py measures it against librosa and kaldi-native-fbank):
    frames go through in blocks of ``block_frames`` so every intermediate stays in cache; only the window's
    non-zero samples are multiplied, into a zeroed n_fft buffer; |X|² is an in-place square of the interleaved
    real/imaginary view, its pairwise sum folded into the filterbank (each bin's weight appears twice); and the
    filterbank is applied as a few band products, transposed so that time is BLAS's long dimension.
    The result is a ``(B, T, n_mels)`` view of a ``(B, n_mels, T)`` array: call ``.contiguous()`` if needed.
    """

    def __init__(self, config: FeatureConfig | None = None, bands: int = 8, block_frames: int = 1024):
        super().__init__()
        self.config = config or FeatureConfig()
        c = self.config
        if c.win_length > c.fft_size:
            raise ValueError(f"window of {c.win_length} samples is longer than n_fft={c.fft_size}")
        self.block_frames = block_frames
        self.window_offset = (c.fft_size - c.win_length) // 2  # the window sits centred in the n_fft frame
        self.register_buffer("window", torch.hann_window(c.win_length, periodic=True), persistent=False)
        fb = mel_filterbank(c.sample_rate, c.fft_size, c.n_mels, c.f_min, c.f_max)
        self.register_buffer("filterbank", torch.from_numpy(fb).float(), persistent=False)
        self.bands = _filter_bands(fb, bands)
        # Per band, the transposed filter block with every bin's row repeated for its real and imaginary part.
        for k, (b0, b1, m0, m1) in enumerate(self.bands):
            block = torch.from_numpy(fb[b0:b1, m0:m1]).float().repeat_interleave(2, dim=0).T.contiguous()
            self.register_buffer(f"band{k}", block, persistent=False)

    def num_frames(self, num_samples: torch.Tensor | int) -> torch.Tensor | int:
        return 1 + num_samples // self.config.hop_length

    @torch.no_grad()
    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        squeeze = waveforms.dim() == 1
        if squeeze:
            waveforms = waveforms.unsqueeze(0)
        waveforms = waveforms.to(device=self.window.device, dtype=torch.float32)
        if lengths is None:
            lengths = torch.full((waveforms.shape[0],), waveforms.shape[1], dtype=torch.long)
        c = self.config
        batch, n_frames = waveforms.shape[0], self.num_frames(waveforms.shape[1])
        half = c.fft_size // 2
        padded = torch.nn.functional.pad(waveforms, (half, half))
        windows = padded[:, self.window_offset:].unfold(-1, c.win_length, c.hop_length)[:, :n_frames]
        block = n_frames if waveforms.is_cuda else self.block_frames
        frames = waveforms.new_zeros(batch, min(block, n_frames), c.fft_size)
        out = waveforms.new_empty(batch, c.n_mels, n_frames)
        bands = [(b0, b1, m0, m1, getattr(self, f"band{k}")) for k, (b0, b1, m0, m1) in enumerate(self.bands)]
        for t0 in range(0, n_frames, block):
            n = min(block, n_frames - t0)
            f = frames[:, :n]
            torch.mul(windows[:, t0:t0 + n], self.window, out=f[..., self.window_offset:self.window_offset + c.win_length])
            squares = torch.view_as_real(torch.fft.rfft(f)).square_().flatten(-2)  # (B, n, 2 * bins)
            for b0, b1, m0, m1, filters in bands:
                band = squares[..., 2 * b0:2 * b1].transpose(-1, -2)
                if batch == 1:
                    torch.mm(filters, band[0], out=out[0, m0:m1, t0:t0 + n])
                else:
                    out[:, m0:m1, t0:t0 + n] = torch.matmul(filters, band)
        feats = out.clamp_min_(c.log_floor).log_().transpose(1, 2)
        frame_lengths = self.num_frames(lengths.to(torch.long).cpu())
        return (feats[0] if squeeze else feats), frame_lengths


def feature_extractor(config: FeatureConfig) -> torch.nn.Module:
    """The front end ``config`` describes: ``LogMel``, or a pretrained encoder (asr.pretrained); both map
    waveforms ``(B, S)`` and lengths to features ``(B, T, config.dim)`` and frame counts."""
    if config.encoder:
        from asr.pretrained import PretrainedEncoder

        return PretrainedEncoder(config)
    return LogMel(config)


def compute_logmel(samples: np.ndarray | torch.Tensor, config: FeatureConfig | None = None,
                   extractor: LogMel | None = None) -> torch.Tensor:
    """Features ``(T, n_mels)`` of one float32 mono waveform (a convenience over ``LogMel``)."""
    extractor = extractor or LogMel(config)
    wave = torch.as_tensor(samples, dtype=torch.float32)
    feats, _ = extractor(wave)
    return feats


CMVN_MODES = ("global", "utterance", "running")


@dataclass
class CMVN:
    """Per-bin mean and standard deviation of features, applied as ``(x - mean) / std`` in one of CMVN_MODES."""

    mean: np.ndarray  # global statistics of the training features
    std: np.ndarray
    count: int
    mode: str = "global"
    window: int = 300  # running: frames of the causal mean (3 s at a 10 ms hop)
    prior: float = 100.0  # running: weight of the global mean, in frames

    def __post_init__(self):
        if self.mode not in CMVN_MODES:
            raise ValueError(f"CMVN mode must be one of {', '.join(CMVN_MODES)}, not {self.mode!r}")

    def with_mode(self, mode: str) -> CMVN:
        return replace(self, mode=mode)  # __post_init__ checks the mode

    def apply(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise ``(T, F)`` features, or a zero-padded batch ``(B, T, F)`` whose valid frames are ``lengths``
        (padding frames come out as whatever the mode makes of them: the model masks them)."""
        mean = torch.as_tensor(self.mean, dtype=feats.dtype, device=feats.device)
        std = torch.as_tensor(self.std, dtype=feats.dtype, device=feats.device)
        if self.mode == "global":
            return (feats - mean) / std
        squeeze = feats.dim() == 2
        x = feats.unsqueeze(0) if squeeze else feats
        n_frames = x.shape[1]
        if self.mode == "utterance":
            if lengths is None:
                lengths = torch.full((x.shape[0],), n_frames, dtype=torch.long)
            valid = torch.arange(n_frames, device=x.device)[None, :] < lengths.to(x.device)[:, None]
            valid = valid.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
            count = valid.sum(1, keepdim=True).clamp_min(1)
            utt_mean = (x * valid).sum(1, keepdim=True) / count
            utt_var = (((x - utt_mean) * valid) ** 2).sum(1, keepdim=True) / count
            out = (x - utt_mean) / torch.maximum(utt_var.sqrt(), 0.1 * std)
        else:  # running: sums over frames (t - window, t], the global mean standing in for `prior` frames
            sums = torch.cumsum(x.double(), dim=1)  # causal: padding after an utterance never reaches it
            windowed = sums.clone()
            if n_frames > self.window:
                windowed[:, self.window:] -= sums[:, :-self.window]
            in_window = torch.clamp(torch.arange(1, n_frames + 1, device=x.device), max=self.window)
            run_mean = (self.prior * mean.double() + windowed) / (self.prior + in_window[None, :, None])
            out = (x - run_mean.to(x.dtype)) / std
        return out[0] if squeeze else out

    def to_dict(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std], "count": int(self.count),
                "mode": self.mode, "window": self.window, "prior": self.prior}

    @classmethod
    def from_dict(cls, d: dict) -> CMVN:
        # packages made before CMVN had modes hold global statistics only
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64), int(d["count"]),
                   d.get("mode", "global"), int(d.get("window", 300)), float(d.get("prior", 100.0)))

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> CMVN:
        return cls.from_dict(json.loads(Path(path).read_text()))


class CMVNAccumulator:
    """Running per-bin count, mean and sum of squared deviations (Chan et al.), mergeable across workers."""

    def __init__(self, n_mels: int):
        self.count = 0
        self.mean = np.zeros(n_mels, dtype=np.float64)
        self.m2 = np.zeros(n_mels, dtype=np.float64)

    def add(self, feats: np.ndarray | torch.Tensor) -> None:
        """Add frames ``(T, n_mels)``."""
        x = feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats)
        x = x.astype(np.float64, copy=False)
        if x.shape[0] == 0:
            return
        mean = x.mean(axis=0)
        m2 = ((x - mean) ** 2).sum(axis=0)
        self._merge(x.shape[0], mean, m2)

    def merge(self, other: CMVNAccumulator) -> None:
        self._merge(other.count, other.mean, other.m2)

    def _merge(self, count: int, mean: np.ndarray, m2: np.ndarray) -> None:
        if count == 0:
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * count / total)
        self.count = total

    def state(self) -> dict:
        return {"count": self.count, "mean": self.mean.tolist(), "m2": self.m2.tolist()}

    @classmethod
    def from_state(cls, d: dict) -> CMVNAccumulator:
        acc = cls(len(d["mean"]))
        acc.count, acc.mean, acc.m2 = int(d["count"]), np.asarray(d["mean"]), np.asarray(d["m2"])
        return acc

    def result(self, min_std: float = 1e-5) -> CMVN:
        if self.count == 0:
            raise ValueError("no frames were accumulated")
        std = np.sqrt(self.m2 / self.count)  # population standard deviation, as numpy's default
        return CMVN(self.mean.copy(), np.maximum(std, min_std), self.count)
