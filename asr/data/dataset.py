"""The training Dataset over a feature store, and the collate function that pads a batch.

Texts are normalised (``asr.text.normalize_text``) and tokenised once, at construction, so a text the tokenizer
cannot encode stops a run before training starts, naming the utterance, rather than in the middle of an epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from asr.data.manifest import Utterance
from asr.data.store import FeatureStore
from asr.errors import InputError
from asr.features import CMVN
from asr.text import TokenizerError, normalize_text


@dataclass
class Example:
    id: str
    features: torch.Tensor  # (T, n_mels) float32, CMVN applied
    targets: torch.Tensor  # (L,) long
    text: str  # normalised


@dataclass
class Batch:
    features: torch.Tensor  # (B, T_max, F) float32, zero-padded
    feature_lengths: torch.Tensor  # (B,) long
    targets: torch.Tensor  # (B, L_max) long, padded with 0 (the blank, never a real target)
    target_lengths: torch.Tensor  # (B,) long
    ids: list[str]
    texts: list[str]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch(self.features.to(device, non_blocking=non_blocking),
                     self.feature_lengths.to(device, non_blocking=non_blocking),
                     self.targets.to(device, non_blocking=non_blocking),
                     self.target_lengths.to(device, non_blocking=non_blocking), self.ids, self.texts)

    def pin_memory(self) -> Batch:  # called by DataLoader(pin_memory=True) on custom batch types
        return Batch(self.features.pin_memory(), self.feature_lengths.pin_memory(), self.targets.pin_memory(),
                     self.target_lengths.pin_memory(), self.ids, self.texts)

    def __len__(self) -> int:
        return len(self.ids)


class SpeechDataset(torch.utils.data.Dataset):
    """Utterances of a manifest, features from ``store``, targets from ``tokenizer``."""

    def __init__(self, utterances: Sequence[Utterance], store: FeatureStore, tokenizer, apply_cmvn: bool = True,
                 cmvn: CMVN | None = None):
        """``cmvn``: how features are normalised (default: the store's global statistics)."""
        self.utterances = list(utterances)
        self.store = store
        self.tokenizer = tokenizer
        self.apply_cmvn = apply_cmvn
        self.cmvn = cmvn or store.cmvn
        missing = [u.id for u in self.utterances if u.id not in store]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise InputError(store.path, f"{len(missing)} utterance(s) are not in the feature store: {shown}")
        self.texts: list[str] = []
        self.targets: list[torch.Tensor] = []
        for utt in self.utterances:
            text = normalize_text(utt.text)
            try:
                ids = tokenizer.encode(text)
            except TokenizerError as err:
                raise InputError(f"utterance {utt.id} ({utt.audio})", f"text {text!r}: {err}") from None
            self.texts.append(text)
            self.targets.append(torch.tensor(ids, dtype=torch.long))
        self.num_frames: list[int] = [store.num_frames(u.id) for u in self.utterances]
        self.durations: list[float] = [u.duration for u in self.utterances]
        self._mean = torch.as_tensor(self.cmvn.mean, dtype=torch.float32)
        self._inv_std = 1.0 / torch.as_tensor(self.cmvn.std, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, i: int) -> Example:
        utt = self.utterances[i]
        feats = torch.from_numpy(self.store.get(utt.id)).float()
        if self.apply_cmvn and self.cmvn.mode == "global":
            feats.sub_(self._mean).mul_(self._inv_std)  # in place: the common case, on every batch
        elif self.apply_cmvn:
            feats = self.cmvn.apply(feats)
        return Example(utt.id, feats, self.targets[i], self.texts[i])


def collate(examples: Sequence[Example]) -> Batch:
    """Pad a list of examples into a Batch (features with zeros, targets with 0)."""
    feature_lengths = torch.tensor([e.features.shape[0] for e in examples], dtype=torch.long)
    target_lengths = torch.tensor([e.targets.shape[0] for e in examples], dtype=torch.long)
    n_mels = examples[0].features.shape[1]
    features = torch.zeros(len(examples), int(feature_lengths.max()), n_mels, dtype=torch.float32)
    targets = torch.zeros(len(examples), max(1, int(target_lengths.max())), dtype=torch.long)
    for k, e in enumerate(examples):
        features[k, :e.features.shape[0]] = e.features
        targets[k, :e.targets.shape[0]] = e.targets
    return Batch(features, feature_lengths, targets, target_lengths, [e.id for e in examples],
                 [e.text for e in examples])
