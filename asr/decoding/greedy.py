"""Greedy CTC decoding: the most likely token in every frame, repeats collapsed, blanks dropped.

The arg-max, the path score and the length masking run on the whole (B, T, V) batch in torch (on whatever device
the log-probs are); only the short per-utterance collapse runs in numpy.
"""

from __future__ import annotations

import torch

from asr.decoding.result import DecodeResult, result_from_path


@torch.no_grad()
def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None, tokenizer, frame_shift_s: float
                  ) -> list[DecodeResult]:
    """Decode a batch of CTC log-probs (B, T, V) whose utterances are ``lengths`` frames long.

    ``frame_shift_s`` is the time between output frames (feature hop × the model's subsampling); word times are
    in seconds. The score is the log-probability of the greedy path.
    """
    if log_probs.dim() == 2:
        log_probs = log_probs.unsqueeze(0)
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be (B, T, V), got shape {tuple(log_probs.shape)}")
    batch, frames, vocab = log_probs.shape
    if vocab != tokenizer.vocab_size:
        raise ValueError(f"log_probs have {vocab} classes but the tokenizer has {tokenizer.vocab_size} tokens")
    if lengths is None:
        lengths = torch.full((batch,), frames, dtype=torch.long)
    lengths = torch.as_tensor(lengths, device=log_probs.device).long()
    best, path = log_probs.max(dim=-1)
    valid = torch.arange(frames, device=log_probs.device)[None, :] < lengths[:, None]
    scores = (best.float() * valid).sum(dim=1).cpu().tolist()
    paths = path.cpu().numpy()
    return [result_from_path(paths[b, : int(n)], tokenizer, frame_shift_s, scores[b])
            for b, n in enumerate(lengths.cpu().tolist())]
