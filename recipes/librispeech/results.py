"""The LibriSpeech recipe's results table (Markdown) from its run folder: WER and CER of every evaluated subset,
greedy and with the LM, beside the model's size, training time and tuned decoder settings.

    .venv/bin/python recipes/librispeech/results.py exp/librispeech_ds2 exp/librispeech_ds2/package/librispeech-ds2.pt
    .venv/bin/python recipes/librispeech/results.py --provenance exp/librispeech_ds2   # KEY=VALUE for asr export
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SUBSETS = ("dev-clean", "dev-other", "test-clean", "test-other")


def evaluations(run: Path) -> dict[str, dict]:
    """Subset → the figures `asr evaluate --json` wrote, for the subsets evaluated, in the usual order."""
    found = {}
    for subset in SUBSETS:
        path = run / f"eval-{subset}.json"
        if path.is_file():
            found[subset] = json.loads(path.read_text())
    return found


def provenance(run: Path) -> list[str]:
    """What the packaged model records of its own evaluation: WER greedy and with the LM per subset."""
    lines = []
    for subset, figures in evaluations(run).items():
        key = subset.replace("-", "_")
        lines.append(f"{key}_wer_greedy={figures['decoders']['greedy']['wer']:.4f}")
        lines.append(f"{key}_wer_lm={figures['decoders']['beam + LM']['wer']:.4f}")
    return lines


def table(run: Path, package: Path) -> str:
    import torch

    model = torch.load(package, map_location="cpu", weights_only=True)
    params = sum(t.numel() for t in model["state_dict"].values())
    tune = json.loads((run / "tune.json").read_text())
    seconds = model["provenance"].get("train_seconds") or 0.0
    rows = ["| subset | utterances | hours | WER greedy | WER + LM | CER greedy | CER + LM |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for subset, figures in evaluations(run).items():
        greedy, beam = figures["decoders"]["greedy"], figures["decoders"]["beam + LM"]
        rows.append(f"| {subset} | {figures['utterances']} | {figures['audio_hours']:.2f} | "
                    f"{100 * greedy['wer']:.2f}% | {100 * beam['wer']:.2f}% | {100 * greedy['cer']:.2f}% | "
                    f"{100 * beam['cer']:.2f}% |")
    rows += ["", f"model: {params / 1e6:.2f} M parameters, {package.stat().st_size / 1e6:.1f} MB ({package}); trained "
                 f"{model['provenance'].get('steps')} steps in {seconds / 60:.1f} min; decoder tuned on dev-clean + "
                 f"dev-other: alpha {tune['best_alpha']:g}, beta {tune['best_beta']:g}, unk_score "
                 f"{tune['best_unk_score']:g}"]
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1] == "--provenance":
        print("\n".join(provenance(Path(sys.argv[2]))))
    else:
        print(table(Path(sys.argv[1]), Path(sys.argv[2])))
