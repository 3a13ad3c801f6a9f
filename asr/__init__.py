"""asr: a speech recognition toolkit (log-mel features, BiLSTM-CTC, KenLM beam search, transcription)."""

from pathlib import Path

__version__ = "0.1.0"

# The shipped model for people (whisper tiny.en's encoder under a BiLSTM; README): what `asr transcribe`, `asr live`
# and `asr serve` load when no model is named, so each works right after `make install`. models/synthetic-small.pt
# (log-mels) knows generated voices only.
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "models" / "whisper-bilstm.pt"
