"""Print the recipe's results table (Markdown) from the run folder: WER/CER greedy and with the LM on dev and
test, the model's size and training time, and the sample file's transcription.

    .venv/bin/python recipes/synthetic/results.py exp/synthetic_small exp/synthetic_small/package/synthetic-small.pt
    .venv/bin/python recipes/synthetic/results.py --provenance exp/synthetic_small   # KEY=VALUE for asr export
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def measured(run: Path) -> dict[str, float]:
    """Dev and test WER, greedy and with the LM, from the evaluation stage: what the packaged model records."""
    wers = {}
    for split in ("dev", "test"):
        decoders = json.loads((run / f"eval-{split}.json").read_text())["decoders"]
        wers[f"{split}_wer_greedy"] = round(decoders["greedy"]["wer"], 4)
        wers[f"{split}_wer_lm"] = round(decoders["beam + LM"]["wer"], 4)
    return wers


def main(run_dir: str, package: str) -> None:
    import torch

    run, model_file = Path(run_dir), Path(package)
    model = torch.load(model_file, map_location="cpu", weights_only=True)
    params = sum(t.numel() for t in model["state_dict"].values())
    lm = model_file.parent / model["provenance"]["decoder"]["lm"]
    lm_mb = sum(f.stat().st_size for f in lm.iterdir()) / 1e6
    tune = json.loads((run / "tune.json").read_text())
    seconds = model["provenance"].get("train_seconds") or 0.0
    print("| split | utterances | hours | WER greedy | WER + LM | CER greedy | CER + LM | LM cuts WER by |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for split in ("dev", "test"):
        figures = json.loads((run / f"eval-{split}.json").read_text())
        greedy, beam = figures["decoders"]["greedy"], figures["decoders"]["beam + LM"]
        cut = 1 - beam["wer"] / greedy["wer"] if greedy["wer"] else 0.0
        print(f"| {split} | {figures['utterances']} | {figures['audio_hours']:.2f} | {100 * greedy['wer']:.2f}% | "
              f"{100 * beam['wer']:.2f}% | {100 * greedy['cer']:.2f}% | {100 * beam['cer']:.2f}% | {100 * cut:.0f}% |")
    print()
    print(f"model: {params / 1e6:.2f} M parameters, {model_file.stat().st_size / 1e6:.1f} MB ({model_file}); "
          f"LM {lm_mb:.1f} MB ({lm}); trained {model['provenance'].get('steps')} steps in {seconds / 60:.1f} min; "
          f"alpha {tune['best_alpha']:g}, beta {tune['best_beta']:g} (tuned on dev)")
    sample = run / "sample.txt"
    if sample.is_file():
        print(f"sample transcription: {sample.read_text().strip()}")


if __name__ == "__main__":
    if sys.argv[1] == "--provenance":
        print("\n".join(f"{key}={value}" for key, value in measured(Path(sys.argv[2])).items()))
    else:
        main(*sys.argv[1:3])
