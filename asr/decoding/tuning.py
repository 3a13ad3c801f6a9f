"""Choosing alpha (LM weight) and beta (word bonus) on cached dev-set log-probs: a grid search.

A grid rather than a sampler (such as optuna): the whole grid is needed for the WER heat map anyway, it is
deterministic, and its points are independent so they run in parallel; with the acoustic model's outputs cached,
a point costs one decoding pass, about a second for a few hundred utterances. Ties in WER are broken by CER,
then by the smaller alpha and the smaller |beta| (the milder setting).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.decoding.batch import _chunks, run_parallel
from asr.decoding.beam import BeamSearchConfig, DecoderSpec, _as_numpy
from asr.fileio import atomic_path
from asr.metrics import ErrorRateAccumulator

DEFAULT_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
DEFAULT_BETAS = (-1.0, 0.0, 1.0, 2.0, 3.0)


@dataclass
class TuningResult:
    best_alpha: float
    best_beta: float
    best_wer: float
    alphas: list[float]
    betas: list[float]
    wer: list[list[float]]  # wer[i][j]: alpha i, beta j
    cer: list[list[float]]
    table: list[dict] = field(default_factory=list)  # one row per (alpha, beta): alpha, beta, wer, cer

    def format_table(self) -> str:
        head = "alpha \\ beta " + " ".join(f"{b:>7g}" for b in self.betas)
        rows = [f"{a:>12g} " + " ".join(f"{100 * w:6.2f}%" for w in line) for a, line in zip(self.alphas, self.wer)]
        return "\n".join([head, *rows])


def tune_alpha_beta(log_probs: Sequence, references: Sequence[str], tokenizer, lm_dir: str | os.PathLike,
                    config: BeamSearchConfig | None = None, alphas: Sequence[float] = DEFAULT_ALPHAS,
                    betas: Sequence[float] = DEFAULT_BETAS, frame_shift_s: float = 0.04, workers: int = 1,
                    plot: str | os.PathLike | None = None) -> TuningResult:
    """WER of every (alpha, beta) on the grid; the best pair, the table, and optionally a PNG heat map."""
    if len(log_probs) != len(references):
        raise ValueError(f"{len(log_probs)} log-prob arrays but {len(references)} references")
    if not references:
        raise ValueError("nothing to tune on: no utterances")
    config = config or BeamSearchConfig()
    alphas, betas = [float(a) for a in alphas], [float(b) for b in betas]
    items = [(i, _as_numpy(lp)) for i, lp in enumerate(log_probs)]
    spec = DecoderSpec(config, tokenizer.to_dict(), str(lm_dir))
    pairs = [(a, b) for a in alphas for b in betas]
    per_pair = max(1, (workers * 2) // len(pairs)) if workers > 1 else 1
    tasks, owners = [], []
    for a, b in pairs:
        for chunk in _chunks(items, per_pair):
            tasks.append(({"alpha": a, "beta": b}, chunk))
            owners.append((a, b))
    hyps: dict[tuple[float, float], dict[int, str]] = {p: {} for p in pairs}
    for owner, chunk in zip(owners, run_parallel(spec, frame_shift_s, tasks, workers)):
        for i, result in chunk:
            hyps[owner][i] = result.text
    wer = np.zeros((len(alphas), len(betas)))
    cer = np.zeros_like(wer)
    table = []
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            scores = ErrorRateAccumulator()
            for k, ref in enumerate(references):
                scores.add(ref, hyps[(a, b)][k])
            wer[i, j], cer[i, j] = scores.wer, scores.cer
            table.append({"alpha": a, "beta": b, "wer": scores.wer, "cer": scores.cer})
    best = min(table, key=lambda r: (round(r["wer"], 12), round(r["cer"], 12), r["alpha"], abs(r["beta"])))
    result = TuningResult(best["alpha"], best["beta"], best["wer"], alphas, betas, wer.tolist(), cer.tolist(), table)
    if plot is not None:
        plot_wer_heatmap(result, plot)
    return result


def plot_wer_heatmap(result: TuningResult, path: str | os.PathLike) -> Path:
    """A PNG of WER over (alpha, beta), the best pair outlined. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wer = 100 * np.asarray(result.wer)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(result.betas), 1.0 + 0.6 * len(result.alphas)))
    image = ax.imshow(wer, cmap="viridis_r", aspect="auto", origin="lower")
    ax.set_xticks(range(len(result.betas)), [f"{b:g}" for b in result.betas])
    ax.set_yticks(range(len(result.alphas)), [f"{a:g}" for a in result.alphas])
    ax.set_xlabel("beta (word insertion bonus)")
    ax.set_ylabel("alpha (LM weight)")
    middle = (wer.min() + wer.max()) / 2
    for i in range(wer.shape[0]):
        for j in range(wer.shape[1]):
            ax.text(j, i, f"{wer[i, j]:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if wer[i, j] > middle else "black")
    bi, bj = result.alphas.index(result.best_alpha), result.betas.index(result.best_beta)
    ax.add_patch(plt.Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    ax.set_title(f"WER % (best {100 * result.best_wer:.2f}% at alpha={result.best_alpha:g}, "
                 f"beta={result.best_beta:g})", fontsize=9)
    fig.colorbar(image, ax=ax, label="WER %")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
    return path


