"""Log-mel speed and accuracy: our LogMel against librosa and kaldi-native-fbank on the same 60 s of speech.

Single-threaded. Speed is seconds of audio per second of compute (xRT), from interleaved medians. Accuracy is
the largest absolute difference of our log-mel from log(librosa.feature.melspectrogram) with the same
parameters, in natural-log units, over non-silent frames (within 60 dB of the loudest frame and above the log
floor in every bin). Writes bench/results/features.json.

    .venv/bin/python bench/features.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, single_thread, time_interleaved, write_results  # noqa: E402

single_thread()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from asr.audio import load_audio  # noqa: E402
from asr.features import FeatureConfig, LogMel  # noqa: E402

SECONDS = 60
PARAGRAPH = (
    "The toolkit turns speech into text. It reads audio in any common format, computes log mel features, "
    "and feeds them to a stack of recurrent layers trained with connectionist temporal classification. "
    "A beam search with an n-gram language model picks the most likely words. "
)


def generated_speech(seconds: int, rate: int) -> np.ndarray:
    """``seconds`` of espeak-ng speech (repeated paragraphs with pauses); a harmonic signal without espeak-ng."""
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            subprocess.run(["espeak-ng", "-s", "160", "-w", str(wav), PARAGRAPH * 6], check=True)
            speech = load_audio(wav, rate)
        reps = int(np.ceil(seconds * rate / len(speech)))
        return np.tile(speech, reps)[: seconds * rate]
    t = np.arange(seconds * rate) / rate
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > -0.3).astype(np.float64)
    return (0.1 * voiced * envelope).astype(np.float32)


def main() -> None:
    torch.set_num_threads(1)
    import kaldi_native_fbank as knf
    import librosa

    config = FeatureConfig()
    audio = generated_speech(SECONDS, config.sample_rate)
    wave = torch.from_numpy(audio)
    ours = LogMel(config)

    def run_ours():
        return ours(wave)[0]

    def run_librosa():
        return librosa.feature.melspectrogram(
            y=audio, sr=config.sample_rate, n_fft=config.fft_size, hop_length=config.hop_length,
            win_length=config.win_length, window="hann", center=True, pad_mode="constant", power=2.0,
            n_mels=config.n_mels, fmin=config.f_min, fmax=config.f_max, htk=False, norm="slaney")

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = config.sample_rate
    opts.frame_opts.frame_length_ms = config.win_ms
    opts.frame_opts.frame_shift_ms = config.hop_ms
    opts.frame_opts.dither = 0.0
    opts.frame_opts.preemph_coeff = 0.0
    opts.frame_opts.remove_dc_offset = False
    opts.frame_opts.window_type = "hann"
    opts.frame_opts.snip_edges = False
    opts.mel_opts.num_bins = config.n_mels
    opts.mel_opts.low_freq = config.f_min
    opts.mel_opts.high_freq = config.sample_rate / 2
    opts.mel_opts.is_librosa = True

    def run_knf():
        fbank = knf.OnlineFbank(opts)
        fbank.accept_waveform(config.sample_rate, audio)
        fbank.input_finished()
        return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])

    timings = time_interleaved({"asr": run_ours, "librosa": run_librosa, "kaldi_native_fbank": run_knf},
                               repeats=30)
    xrt = {name: SECONDS / t["median_s"] for name, t in timings.items()}

    reference = run_librosa().T.astype(np.float64)  # (frames, mels)
    ours_log = run_ours().numpy().astype(np.float64)
    frame_power = reference.sum(axis=1)
    non_silent = (frame_power > frame_power.max() * 1e-6) & (reference.min(axis=1) > config.log_floor)
    err = float(np.abs(ours_log[non_silent] - np.log(reference[non_silent])).max())

    results = {
        "asr_xrt": xrt["asr"],
        "librosa_xrt": xrt["librosa"],
        "kaldi_native_fbank_xrt": xrt["kaldi_native_fbank"],
        "max_abs_err_vs_librosa": err,
        "speedup_vs_librosa": xrt["asr"] / xrt["librosa"],
        "speedup_vs_kaldi_native_fbank": xrt["asr"] / xrt["kaldi_native_fbank"],
        "non_silent_frames": int(non_silent.sum()),
        "frames": int(len(non_silent)),
        "audio_seconds": SECONDS,
        "timings": timings,
        "config": config.to_dict(),
        "machine": machine(),
    }
    print_table(["extractor", "xRT (audio s / compute s)", "median ms", "min ms", "vs ours"],
                [[name, xrt[name], 1000 * t["median_s"], 1000 * t["min_s"], xrt["asr"] / xrt[name]]
                 for name, t in timings.items()])
    print(f"max |ours - librosa| on {results['non_silent_frames']}/{results['frames']} non-silent frames: "
          f"{err:.2e} (natural-log units)")
    print(f"wrote {write_results('features', results)}")


if __name__ == "__main__":
    main()
