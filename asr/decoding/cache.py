"""Cached model outputs: per-utterance CTC log-probs, so that decoding again with other settings (beam width,
alpha/beta, another LM) does not run the acoustic model again.

One file, saved with ``torch.save`` and read with ``torch.load(weights_only=True)`` (plain tensors, strings,
numbers and the tokenizer's dict: no pickled code). It is keyed by a fingerprint of the model file, the manifest
and the audio files the manifest names (their size and modification time): a cache made from another model,
another manifest, or audio since written again under the same names is never mistaken for this one.

    cache = LogProbCache(fingerprint(model, manifest), ids, texts, log_probs, frame_shift_s, tokenizer.to_dict())
    cache.save(LogProbCache.path_for(model, manifest))
    cache = LogProbCache.load_for(model, manifest)   # None when absent or made from other inputs
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from asr.data.manifest import read_manifest
from asr.decoding.kenlm_tools import cache_dir
from asr.errors import InputError
from asr.fileio import atomic_torch_save, file_digest, files_stamp

FORMAT = "asr-logprob-cache"
# 2: keyed by the audio files too; caches of version 1 may hold segments at offset 0.0 read as whole files.
VERSION = 2


def fingerprint(model: str | os.PathLike, manifest: str | os.PathLike) -> str:
    """sha256 over the contents of the model file and the manifest (their paths do not matter), and the path,
    size and modification time of every audio file the manifest names."""
    parts = []
    for path in (Path(model), Path(manifest)):
        if not path.is_file():
            raise InputError(path, "file not found")
        parts.append(file_digest(path))
    audio = files_stamp(dict.fromkeys(u.audio for u in read_manifest(manifest)))
    return hashlib.sha256(f"{VERSION}:{parts[0]}:{parts[1]}:{audio}".encode()).hexdigest()


@dataclass
class LogProbCache:
    fingerprint: str
    ids: list[str]
    texts: list[str]  # reference transcripts, as in the manifest
    log_probs: list[torch.Tensor]  # per utterance (T_i, V), float16 on disk
    frame_shift_s: float
    tokenizer: dict  # the tokenizer's to_dict()

    def __post_init__(self):
        if not len(self.ids) == len(self.texts) == len(self.log_probs):
            raise ValueError("ids, texts and log_probs must have one entry per utterance")

    @staticmethod
    def path_for(model: str | os.PathLike, manifest: str | os.PathLike, directory: str | os.PathLike | None = None
                 ) -> Path:
        """The default cache file of (model, manifest): $ASR_CACHE_DIR/logprobs/<fingerprint>.pt."""
        base = Path(directory) if directory is not None else cache_dir() / "logprobs"
        return base / f"{fingerprint(model, manifest)}.pt"

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT, "version": VERSION, "fingerprint": self.fingerprint, "ids": list(self.ids),
            "texts": list(self.texts), "frame_shift_s": float(self.frame_shift_s), "tokenizer": self.tokenizer,
            "log_probs": [torch.as_tensor(lp).detach().to("cpu", torch.float16).contiguous()
                          for lp in self.log_probs],
        }
        return atomic_torch_save(payload, path)

    @classmethod
    def load(cls, path: str | os.PathLike, expect_fingerprint: str | None = None) -> LogProbCache:
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "log-prob cache not found")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for a damaged or foreign file
            raise InputError(path, f"not a readable log-prob cache ({type(err).__name__}: {err})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise InputError(path, "not a log-prob cache written by asr")
        if payload.get("version") != VERSION:
            raise InputError(path, f"log-prob cache version {payload.get('version')}, expected {VERSION}")
        if expect_fingerprint is not None and payload["fingerprint"] != expect_fingerprint:
            raise InputError(path, "log-prob cache was made from another model or manifest")
        return cls(payload["fingerprint"], payload["ids"], payload["texts"], payload["log_probs"],
                   payload["frame_shift_s"], payload["tokenizer"])

    @classmethod
    def load_for(cls, model: str | os.PathLike, manifest: str | os.PathLike,
                 directory: str | os.PathLike | None = None) -> LogProbCache | None:
        """The cache of exactly this model and manifest, or None when there is none yet."""
        path = cls.path_for(model, manifest, directory)
        if not path.is_file():
            return None
        return cls.load(path, expect_fingerprint=path.stem)

    def float_log_probs(self) -> list[torch.Tensor]:
        return [lp.float() for lp in self.log_probs]
