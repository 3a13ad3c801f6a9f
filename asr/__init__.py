"""asr: a speech recognition toolkit (log-mel features, BiLSTM-CTC, KenLM beam search, transcription)."""

__version__ = "0.1.0"
