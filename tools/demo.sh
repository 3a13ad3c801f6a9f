#!/usr/bin/env bash
# `make demo`: the main job on the default recipe (recipes/synthetic). Until that recipe lands, this runs
# what exists: features of generated speech and a scored transcript.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: the default recipe (recipes/synthetic) is not in this version yet; running what exists."
.venv/bin/python - <<'PY'
import subprocess, tempfile, pathlib, numpy as np, soundfile
from asr.audio import load_audio
from asr.features import compute_logmel
from asr.text import normalize_text
from asr.metrics import ErrorRateAccumulator
tmp = pathlib.Path(tempfile.mkdtemp())
text = "The 3 quick brown foxes jumped over 2 lazy dogs on the 21st of May."
subprocess.run(["espeak-ng", "-w", str(tmp / "s.wav"), text], check=True)
wave = load_audio(tmp / "s.wav")
feats = compute_logmel(wave)
print(f"audio {len(wave) / 16000:.2f} s -> log-mel {tuple(feats.shape)}")
ref = normalize_text(text)
scores = ErrorRateAccumulator()
scores.add(ref, ref.replace("foxes", "boxes").replace(" lazy", ""), "demo")
print(scores.report())
PY
