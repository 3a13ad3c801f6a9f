"""Which VAD endpoints better: WebRTC's or silero-vad, on generated speech with pauses and noise.

    .venv/bin/python bench/vad.py

The recordings of bench/live.py (espeak-ng voices, 4 sentences with 0.8-1.5 s pauses) with white noise at 30
and 10 dB SNR go through the streaming engine (the shipped model and LM) with each VAD, as fast as it runs.
Per setting: how many segments the 4 sentences became (4 is right: more means a sentence was split, fewer that
two were merged or one was lost), the endpoint lag (audio from the end of a sentence's speech to the end of the
segment that closes on it: the part of the final's delay the VAD decides), the WER of the finals against the
sentences (speech the VAD clipped shows here), and the VAD's own cost. Writes bench/results/vad.json.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_results  # noqa: E402
from live import RATE, make_recordings  # noqa: E402


def main() -> int:
    import torch

    from asr.inference import Transcriber
    from asr.metrics import word_errors
    from asr.streaming import SileroVad, StreamingConfig, StreamingRecognizer, WebRtcVad, chunked

    torch.set_num_threads(1)
    transcriber = Transcriber("models/synthetic-small.pt", lm="models/lm")
    quick = {"partial_interval_s": 2.0, "partial_beam": False}  # partials do not change where segments end
    settings = {"webrtc (aggressiveness 2)": StreamingConfig(vad="webrtc", vad_aggressiveness=2, **quick),
                "webrtc (aggressiveness 3)": StreamingConfig(vad="webrtc", vad_aggressiveness=3, **quick),
                "silero (threshold 0.5)": StreamingConfig(vad="silero", **quick)}
    rows, results = [], {"machine": machine(), "settings": {}}
    with tempfile.TemporaryDirectory() as tmp:
        corpora = {snr: make_recordings(6, Path(tmp), seed=1, snr_db=snr) for snr in (30, 10)}
    for name, config in settings.items():
        vad = SileroVad(config, RATE) if config.vad == "silero" else WebRtcVad(config, RATE)
        probe = corpora[30][0]["samples"]
        start = time.perf_counter()
        for i in range(0, len(probe) - vad.frame, vad.frame):
            vad.is_speech(probe[i:i + vad.frame])
        cost = (time.perf_counter() - start) / (len(probe) / RATE)
        for snr, recordings in corpora.items():
            recognizer = StreamingRecognizer(transcriber, config)
            counts, lags, errors, words = [], [], 0, 0
            for rec in recordings:
                finals = [h for h in recognizer.transcribe_chunks(chunked(rec["samples"], 1600))
                          if h.final and h.text]
                counts.append(len(finals))
                for end in rec["ends"]:
                    covering = [h for h in finals if h.start <= end <= h.end + 0.05]
                    if covering:
                        lags.append(covering[0].end - end)
                e = word_errors(" ".join(rec["texts"]), " ".join(h.text for h in finals))
                errors, words = errors + e.errors, words + e.reference_length
            row = {"vad": name, "snr_db": snr, "right_segment_count": sum(c == 4 for c in counts) / len(counts),
                   "segments_per_4_sentences": float(np.mean(counts)),
                   "endpoint_lag_p50_s": float(np.percentile(lags, 50)),
                   "endpoint_lag_p95_s": float(np.percentile(lags, 95)),
                   "wer": errors / words,
                   "vad_cpu_s_per_audio_s": cost}
            results["settings"].setdefault(name, []).append(row)
            rows.append([name, snr, row["segments_per_4_sentences"], row["right_segment_count"],
                         row["endpoint_lag_p50_s"], row["endpoint_lag_p95_s"], row["wer"], cost])
            print(rows[-1], file=sys.stderr, flush=True)
    print_table(["VAD", "SNR dB", "segments / 4", "right count", "lag p50 s", "lag p95 s", "WER", "VAD CPU s/s"],
                rows)
    print(f"wrote {write_results('vad', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
