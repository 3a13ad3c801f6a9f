"""Decoding CTC log-probs into text with word times: greedy, and beam search with a KenLM word LM.

    from asr.decoding import BeamSearchConfig, decode_all, greedy_decode
    results = decode_all(log_probs_list, BeamSearchConfig(alpha=0.8, beta=1.0), "exp/lm", tokenizer,
                         frame_shift_s=0.04, workers=2)
    results[0].text, results[0].words[0].start

Modules: ``result`` (DecodeResult, WordTiming), ``greedy``, ``beam`` (BeamSearchConfig, BeamSearchDecoder),
``hotwords``, ``batch`` (decode_all), ``lm`` (``asr lm build``, load_lm), ``kenlm_tools`` (locates or builds
lmplz/build_binary), ``tuning`` (tune_alpha_beta), ``cache`` (LogProbCache). Names are imported on first use, so
that a decoding worker process or ``python -m asr.decoding.kenlm_tools`` does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DecodeResult": "result", "WordTiming": "result", "result_from_path": "result",
    "greedy_decode": "greedy",
    "BeamSearchConfig": "beam", "BeamSearchDecoder": "beam", "DecoderSpec": "beam",
    "Hotword": "hotwords", "parse_hotwords": "hotwords",
    "decode_all": "batch",
    "LMBuildConfig": "lm", "LanguageModel": "lm", "build_lm": "lm", "load_lm": "lm",
    "TuningResult": "tuning", "tune_alpha_beta": "tuning", "plot_wer_heatmap": "tuning",
    "LogProbCache": "cache", "fingerprint": "cache",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"asr.decoding.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'asr.decoding' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
