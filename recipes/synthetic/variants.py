"""The RNN-variant table (Markdown) from run folders made by recipes/synthetic/variants.sh: test and real-dev WER
with the LM, parameters, training time, and whether the loss diverged.

    .venv/bin/python recipes/synthetic/variants.py exp/variant-lstm exp/variant-gru ...

Diverged: a step was skipped for a non-finite gradient, a logged loss was not finite, or the last logged training
loss is above the first (the run got worse than it started).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def lm_wer(path: Path) -> str:
    if not path.is_file():
        return "—"
    return f"{100 * json.loads(path.read_text())['decoders']['beam + LM']['wer']:.1f}%"


def row(run: Path) -> str:
    import torch

    model = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    params = sum(t.numel() for t in model["state_dict"].values())
    from omegaconf import OmegaConf

    clip = OmegaConf.load(run / "config.yaml").train.grad_clip
    train = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"]
    losses = [r["loss"] for r in train]
    skipped = sum(r.get("skipped_steps", 0) for r in train)
    diverged = skipped > 0 or not all(map(math.isfinite, losses)) or (len(losses) > 1 and losses[-1] > losses[0])
    peak_norm = max((r["grad_norm"] for r in train), default=float("nan"))
    cell = model["model_config"]["cell"]
    direction = "bi" if model["model_config"]["bidirectional"] else "uni"
    minutes = (model["provenance"].get("train_seconds") or 0) / 60
    return (f"| {cell.upper()} {direction} | {clip or 'off'} | {params / 1e6:.2f} M | {minutes:.1f} min | "
            f"{lm_wer(run / 'eval-test.json')} | {lm_wer(run / 'eval-real-dev.json')} | "
            f"{'yes' if diverged else 'no'} ({skipped} skipped, peak norm {peak_norm:.1f}, "
            f"loss {losses[0]:.2f} → {losses[-1]:.2f}) |")


def main(runs: list[str]) -> None:
    print("| cell | clip | parameters | training | test WER + LM | real-dev WER + LM | diverged |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for run in runs:
        print(row(Path(run)))


if __name__ == "__main__":
    main(sys.argv[1:])
