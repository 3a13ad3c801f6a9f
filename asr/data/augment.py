"""SpecAugment: frequency and time masks and an optional time warp, applied to a padded batch on its device.

Masks and the warp act inside each utterance's valid length only, so padding stays zero; masked values are
set to 0, the mean of CMVN-normalised features. All randomness comes from torch's generator on the features'
device, so a run resumed with its RNG state restored draws the same masks. Only active in training mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SpecAugmentConfig:
    freq_masks: int = 2  # masks per utterance
    freq_width: int = 27  # widest frequency mask, in mel bins
    time_masks: int = 2
    # Widest time mask: a fraction of the utterance's valid length when < 1, else a number of frames.
    time_width: float = 0.05
    time_warp: int = 0  # largest shift of the warp point in frames; 0 turns warping off


class SpecAugment(torch.nn.Module):
    def __init__(self, config: SpecAugmentConfig | None = None):
        super().__init__()
        self.config = config or SpecAugmentConfig()

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``features (B, T, F)``, ``lengths (B,)`` → augmented features (a new tensor) in training mode;
        the input itself in eval mode."""
        if not self.training:
            return features
        c = self.config
        batch, frames, bins = features.shape
        device = features.device
        lengths = lengths.to(device)
        out = features.clone()
        if c.time_warp > 0:
            out = self._warp(out, lengths)
        valid = torch.arange(frames, device=device)[None, :] < lengths[:, None]  # (B, T)
        keep = torch.ones(batch, frames, bins, dtype=torch.bool, device=device)
        bin_index = torch.arange(bins, device=device)
        for _ in range(c.freq_masks):
            width = (torch.rand(batch, device=device) * (min(c.freq_width, bins) + 1)).long()
            start = (torch.rand(batch, device=device) * (bins - width + 1)).long()
            band = (bin_index[None, :] >= start[:, None]) & (bin_index[None, :] < (start + width)[:, None])
            keep &= ~band[:, None, :]
        frame_index = torch.arange(frames, device=device)
        max_width = (lengths.float() * c.time_width).long() if c.time_width < 1 else \
            torch.clamp(lengths, max=int(c.time_width))
        for _ in range(c.time_masks):
            width = (torch.rand(batch, device=device) * (max_width + 1).float()).long()
            start = (torch.rand(batch, device=device) * (lengths - width + 1).float()).long()
            span = (frame_index[None, :] >= start[:, None]) & (frame_index[None, :] < (start + width)[:, None])
            keep &= ~span[:, :, None]
        keep |= ~valid[:, :, None]  # padding is never "masked" (it is zero already and must stay so)
        return out.masked_fill_(~keep, 0.0)

    def _warp(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Move a random point of each utterance by up to ``time_warp`` frames, stretching both sides."""
        w = self.config.time_warp
        for k in range(features.shape[0]):
            n = int(lengths[k])
            if n <= 2 * w + 1:
                continue
            centre = int(torch.randint(w, n - w, (1,), device=features.device))
            target = centre + int(torch.randint(-w, w + 1, (1,), device=features.device))
            if target <= 0 or target >= n or target == centre:
                continue
            x = features[k, :n].T[None]  # (1, F, n)
            left = torch.nn.functional.interpolate(x[..., :centre], size=target, mode="linear", align_corners=False)
            right = torch.nn.functional.interpolate(x[..., centre:], size=n - target, mode="linear",
                                                    align_corners=False)
            features[k, :n] = torch.cat([left, right], dim=-1)[0].T
        return features
