"""``asr export``: a packaged model from a checkpoint, and deployment formats of the acoustic model.

    asr export --checkpoint exp/small/checkpoints/epoch-012.pt --out model.pt [--fp16]
    asr export --model model.pt --out model.pt --lm lm/ --alpha 0.6 --beta 1.2   # name the LM and tuned weights
    asr export --model model.pt --torchscript model.ts [--int8]
    asr export --model model.pt --onnx model.onnx

The TorchScript and ONNX files hold the acoustic model only: log-mel features with CMVN applied (B, T, n_mels) and
their lengths in, CTC log-probs and output lengths out. The feature settings, CMVN statistics and tokens they need
travel inside them (TorchScript extra file ``asr.json``, ONNX metadata key ``asr``), so a deployment can rebuild the
front end exactly (the CMVN's ``mode`` says how: ``global``, ``utterance`` or ``running``, as in
``asr.features.CMVN.apply``). ``--int8`` quantises the recurrent and linear layers' weights to int8 (dynamic quantisation).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from asr.errors import ASRError, InputError
from asr.evaluate import add_unk_score_argument
from asr.fileio import atomic_path
from asr.package import PackagedModel, load_packaged_model


def front_end_description(package: PackagedModel) -> dict:
    """What a deployment needs beside the exported network, as JSON-able values."""
    return {"feature_config": package.feature_config.to_dict(), "cmvn": package.cmvn.to_dict(),
            "tokens": package.tokenizer.tokens, "tokenizer": package.tokenizer.kind,
            "blank_id": package.tokenizer.blank_id, "frame_shift_s": package.frame_shift,
            "inputs": "features (B, T, dim) float32 with CMVN applied (log-mels, or the encoder's states where "
                      "feature_config names an encoder); lengths (B,) int64",
            "outputs": "log_probs (B, T', vocab) float32; out_lengths (B,) int64"}


def _example(package: PackagedModel) -> tuple[torch.Tensor, torch.Tensor]:
    dim = package.feature_config.dim
    return torch.randn(2, 300, dim), torch.tensor([300, 211])


def export_torchscript(package: PackagedModel, out: str | os.PathLike, int8: bool = False) -> Path:
    """A traced TorchScript module (tracing keeps the batch and time sizes dynamic for this model)."""
    from asr.inference import quantize_int8

    model = package.model.cpu().eval()
    if int8:
        model = quantize_int8(model)
    out = Path(out)
    with torch.no_grad():
        traced = torch.jit.trace(model, _example(package), check_trace=False)
    with atomic_path(out) as tmp:
        torch.jit.save(traced, str(tmp), _extra_files={"asr.json": json.dumps(front_end_description(package))})
    return out


def export_onnx(package: PackagedModel, out: str | os.PathLike, opset: int = 17) -> Path:
    """ONNX with dynamic batch and time axes (the TorchScript-based exporter: it maps nn.LSTM/GRU/RNN to
    ONNX's recurrent operators and needs no extra packages)."""
    import warnings

    import onnx

    model = package.model.cpu().eval()
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter warns at length about tracing, which is what we want here
        torch.onnx.export(model, _example(package), str(tmp), input_names=["features", "lengths"],
                          output_names=["log_probs", "out_lengths"], opset_version=opset, dynamo=False,
                          dynamic_axes={"features": {0: "batch", 1: "frames"}, "lengths": {0: "batch"},
                                        "log_probs": {0: "batch", 1: "out_frames"}, "out_lengths": {0: "batch"}})
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "asr", json.dumps(front_end_description(package))
        onnx.save(proto, str(tmp))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a training checkpoint (checkpoints/last.pt or epoch-NNN.pt)")
    source.add_argument("--model", help="a packaged model file")
    parser.add_argument("--out", help="write a packaged model file here")
    parser.add_argument("--fp16", action="store_true", help="store the packaged model's weights in float16")
    parser.add_argument("--lm", help="language model folder the packaged model should use by default")
    parser.add_argument("--alpha", type=float, help="tuned LM weight to record with --lm")
    parser.add_argument("--beta", type=float, help="tuned word insertion bonus to record with --lm")
    parser.add_argument("--beam-width", type=int, help="beam width to record with --lm")
    add_unk_score_argument(parser, "tuned unknown-word score to record with --lm (-inf: closed vocabulary)")
    parser.add_argument("--provenance", nargs="+", default=[], metavar="KEY=VALUE",
                        help="facts to record in the packaged model (e.g. measured WERs); values parse as JSON")
    parser.add_argument("--torchscript", help="write a TorchScript file of the acoustic model here")
    parser.add_argument("--onnx", help="write an ONNX file of the acoustic model here")
    parser.add_argument("--int8", action="store_true", help="with --torchscript: int8 dynamic quantisation")


def run(args: argparse.Namespace) -> int:
    if not (args.out or args.torchscript or args.onnx):
        raise ASRError("nothing to write: give --out, --torchscript and/or --onnx")
    if args.checkpoint:
        from asr.training.checkpoint import load_checkpoint, packaged_from_checkpoint

        ckpt = load_checkpoint(args.checkpoint)
        if "model_config" not in ckpt:
            raise InputError(args.checkpoint, "not a training checkpoint of this toolkit")
        history = ckpt.get("history") or [{}]
        package = packaged_from_checkpoint(ckpt, dev_wer=history[-1].get("wer"), dev_cer=history[-1].get("cer"),
                                           checkpoint=str(args.checkpoint))
    else:
        package = load_packaged_model(args.model)
    for item in args.provenance:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ASRError(f"--provenance takes KEY=VALUE, not {item!r}")
        try:
            package.provenance[key] = json.loads(value)
        except json.JSONDecodeError:
            package.provenance[key] = value
    written = []
    if args.out:
        out = Path(args.out)
        if args.lm:
            lm = Path(args.lm)
            if not (lm / "lm.json").is_file():
                raise InputError(lm, "not a language model folder from `asr lm build`")
            decoder = {"lm": os.path.relpath(lm.resolve(), out.resolve().parent)}
            decoder.update({k: getattr(args, k) for k in ("alpha", "beta", "beam_width", "unk_score")
                            if getattr(args, k) is not None})
            package.provenance["decoder"] = decoder
        package.save(out, torch.float16 if args.fp16 else None)
        written.append(f"packaged model {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.torchscript:
        export_torchscript(package, args.torchscript, args.int8)
        written.append(f"TorchScript{' int8' if args.int8 else ''} {args.torchscript}")
    if args.onnx:
        export_onnx(package, args.onnx)
        written.append(f"ONNX {args.onnx}")
    print("asr export: wrote " + "; ".join(written))
    return 0
