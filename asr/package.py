"""Packaged models: one file that is enough to transcribe.

A packaged model holds the weights, the model config, the feature config, the tokenizer, the CMVN statistics and
the training provenance, as plain dicts, lists, strings, numbers, bytes and tensors, so it loads with
``torch.load(path, weights_only=True)``: opening a model file never runs pickled code.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import asr
from asr.errors import InputError
from asr.features import CMVN, FeatureConfig
from asr.fileio import atomic_torch_save
from asr.model import AcousticModel, ModelConfig
from asr.text import Tokenizer, tokenizer_from_dict

FORMAT = "asr-model"
VERSION = 1


@dataclass
class PackagedModel:
    """Everything inference needs: ``model`` (eval mode), feature settings, tokenizer, CMVN, provenance."""

    model: AcousticModel
    feature_config: FeatureConfig
    tokenizer: Tokenizer
    cmvn: CMVN
    provenance: dict = field(default_factory=dict)

    @property
    def frame_shift(self) -> float:
        """Seconds per model output frame: feature hop × time subsampling, the hop being the whole number of
        samples the features were computed with (``hop_ms`` rounds to it: 10 ms at 22.05 kHz is 220 samples)."""
        return self.model.config.subsampling / self.feature_config.frame_rate

    def to_dict(self, dtype: torch.dtype | None = None) -> dict:
        state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu()
                 for k, v in self.model.state_dict().items()}
        return {"format": FORMAT, "version": VERSION, "model_config": self.model.config.to_dict(),
                "feature_config": self.feature_config.to_dict(), "tokenizer": self.tokenizer.to_dict(),
                "cmvn": self.cmvn.to_dict(), "provenance": _plain(self.provenance), "state_dict": state}

    def save(self, path: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        """Write atomically. ``dtype=torch.float16`` halves the file; weights are cast back to float32 on load."""
        return atomic_torch_save(self.to_dict(dtype), path)


def _plain(d: dict) -> dict:
    """Only JSON types (paths and version objects become strings): weights_only loading accepts nothing else."""
    return json.loads(json.dumps(d, default=str))


def from_dict(d: dict, device: str | torch.device = "cpu") -> PackagedModel:
    model = AcousticModel(ModelConfig.from_dict(d["model_config"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in d["state_dict"].items()}
    model.load_state_dict(state)
    model.to(device).eval()
    return PackagedModel(model, FeatureConfig.from_dict(d["feature_config"]), tokenizer_from_dict(d["tokenizer"]),
                         CMVN.from_dict(d["cmvn"]), dict(d.get("provenance", {})))


def load_packaged_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> PackagedModel:
    """Load a model file written by ``PackagedModel.save`` (``asr export`` or the end of training)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise InputError(path, f"not a readable model file ({type(err).__name__}: {err})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise InputError(path, "not a packaged asr model (a training checkpoint? use `asr export` first)")
    if d.get("version", 0) > VERSION:
        raise InputError(path, f"made by a newer asr (format version {d['version']} > {VERSION})")
    return from_dict(d, device)


def provenance(**fields) -> dict:
    """Provenance fields common to every packaged model, plus the caller's (data, steps, dev WER, ...)."""
    return {"asr_version": asr.__version__, "torch_version": str(torch.__version__),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}
