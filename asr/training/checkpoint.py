"""Training checkpoints: atomic writes, exact-resume state, the best-k by dev WER, and checkpoint averaging.

A checkpoint is a dict of tensors and plain values (loadable with ``weights_only=True``) holding the model,
optimizer, scheduler and grad-scaler states, the sampler position, RNG states, history, and what a packaged model
needs (model/feature config, tokenizer, CMVN), so any checkpoint can be exported or averaged on its own.

``asr average RUN_DIR --best 3 --out model.pt`` averages the weights of the best checkpoints into a packaged model;
``--last 3`` the three newest epochs (kept when the run set ``train.keep_last`` to at least 3).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from asr.errors import InputError
from asr.features import CMVN, FeatureConfig
from asr.model import AcousticModel, ModelConfig
from asr.package import PackagedModel, atomic_torch_save, provenance
from asr.text import tokenizer_from_dict

LAST = "last.pt"


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    return atomic_torch_save(state, path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InputError(path, f"not a readable checkpoint ({type(err).__name__}: {err})") from None


class BestCheckpoints:
    """Keeps, as ``epoch-NNN.pt`` in ``folder``, the ``k`` checkpoints with the lowest dev WER and the checkpoints of
    the ``keep_last`` newest epochs (one file when an epoch is both).

    ``entries`` are the best, best first; ``kept`` every epoch whose file is kept, oldest first (both lists of
    ``{"epoch", "wer", "path"}``, as recorded in last.pt).
    """

    def __init__(self, folder: str | os.PathLike, k: int, entries: list[dict] | None = None, keep_last: int = 0,
                 kept: list[dict] | None = None):
        self.folder = Path(folder)
        self.k = k
        self.keep_last = keep_last
        self.entries: list[dict] = list(entries or [])  # [{"epoch", "wer", "path"}], best first
        self.kept: list[dict] = list(kept if kept is not None else sorted(self.entries, key=lambda e: e["epoch"]))

    def would_keep(self, wer: float) -> bool:
        return self.k > 0 and (len(self.entries) < self.k or wer < self.entries[-1]["wer"])

    def add(self, epoch: int, wer: float, state: dict) -> Path | None:
        best = self.would_keep(wer)
        if not best and self.keep_last <= 0:
            return None
        path = save_checkpoint(state, self.folder / f"epoch-{epoch:03d}.pt")
        entry = {"epoch": epoch, "wer": wer, "path": path.name}
        if best:
            self.entries = [e for e in self.entries if e["epoch"] != epoch] + [entry]
            self.entries.sort(key=lambda e: (e["wer"], -e["epoch"]))
            self.entries = self.entries[: self.k]
        self.kept = sorted([e for e in self.kept if e["epoch"] != epoch] + [entry], key=lambda e: e["epoch"])
        newest = {e["epoch"] for e in self.kept[-self.keep_last:]} if self.keep_last > 0 else set()
        keep = newest | {e["epoch"] for e in self.entries}
        for evicted in [e for e in self.kept if e["epoch"] not in keep]:
            (self.folder / evicted["path"]).unlink(missing_ok=True)
        self.kept = [e for e in self.kept if e["epoch"] in keep]
        return path

    @property
    def best(self) -> dict | None:
        return self.entries[0] if self.entries else None


def average_state_dicts(states: list[dict]) -> dict:
    """Element-wise mean of floating-point tensors; integer buffers are taken from the last state."""
    if not states:
        raise ValueError("nothing to average")
    out = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            out[key] = sum(s[key].double() for s in states).div(len(states)).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


def packaged_from_checkpoint(ckpt: dict, state_dict: dict | None = None, **extra_provenance) -> PackagedModel:
    """A packaged model from a training checkpoint (optionally with other weights, e.g. an average)."""
    model = AcousticModel(ModelConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(state_dict if state_dict is not None else ckpt["model"])
    model.eval()
    prov = provenance(**{**ckpt.get("provenance", {}), "steps": ckpt.get("step"), "epochs": ckpt.get("epoch"),
                         "train_seconds": ckpt.get("train_seconds"), **extra_provenance})
    return PackagedModel(model, FeatureConfig.from_dict(ckpt["feature_config"]),
                         tokenizer_from_dict(ckpt["tokenizer"]), CMVN.from_dict(ckpt["cmvn"]), prov)


def checkpoints_to_average(run_dir: Path, best: int | None, last: int | None) -> list[Path]:
    """The paths ``asr average`` picks from a run folder: the best k by dev WER, or the k newest epochs.

    The k newest epochs must all still be there: a run keeps the ``train.keep_last`` newest epoch checkpoints
    besides the ``train.keep_best`` best, and any other epoch's file is gone.
    """
    folder = run_dir / "checkpoints"
    epochs = sorted(folder.glob("epoch-*.pt"))
    if not epochs:
        raise InputError(folder, "no epoch checkpoints to average")
    state = load_checkpoint(folder / LAST) if (folder / LAST).is_file() else None
    if last:
        newest = state["epoch"] if state else int(epochs[-1].stem.split("-")[1])
        if last > newest:
            raise InputError(folder, f"--last {last}: the run has finished {newest} epochs")
        wanted = [folder / f"epoch-{e:03d}.pt" for e in range(newest - last + 1, newest + 1)]
        missing = [p.name for p in wanted if not p.is_file()]
        if missing:
            train = (state or {}).get("config", {}).get("train", {})
            raise InputError(folder, f"--last {last}: {', '.join(missing)} not kept; the run keeps the "
                                     f"{train.get('keep_last', 0)} newest epochs (train.keep_last) besides the "
                                     f"{train.get('keep_best', '?')} best by dev WER (train.keep_best)")
        return wanted
    entries = state["best"] if state and state.get("best") else [{"path": p.name} for p in epochs]
    return [folder / e["path"] for e in entries[: best or len(entries)]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="a run folder, or checkpoint files to average")
    pick = parser.add_mutually_exclusive_group()
    pick.add_argument("--best", type=int, default=None, help="with a run folder: average the k best by dev WER")
    pick.add_argument("--last", type=int, default=None,
                      help="with a run folder: average the k newest epochs (the run must keep them: train.keep_last)")
    parser.add_argument("--out", required=True, help="packaged model file to write")
    parser.add_argument("--fp16", action="store_true", help="store weights in float16 (half the file size)")


def run(args: argparse.Namespace) -> int:
    inputs = [Path(p) for p in args.inputs]
    if len(inputs) == 1 and inputs[0].is_dir():
        paths = checkpoints_to_average(inputs[0], args.best or 3 if not args.last else None, args.last)
    else:
        paths = inputs
    checkpoints = [load_checkpoint(p) for p in paths]
    for p, c in zip(paths, checkpoints):
        if c.get("model_config") != checkpoints[0].get("model_config"):
            raise InputError(p, "has a different model architecture from the others")
    averaged = average_state_dicts([c["model"] for c in checkpoints])
    newest = max(checkpoints, key=lambda c: c.get("step", 0))
    package = packaged_from_checkpoint(newest, averaged, averaged_from=[p.name for p in paths])
    package.save(args.out, torch.float16 if args.fp16 else None)
    print(f"averaged {len(paths)} checkpoints ({', '.join(p.name for p in paths)}) into {args.out}")
    return 0
