"""``asr prep tokenizer``: a recipe's CTC tokenizer, built once from the training transcripts into a JSON file.

    asr prep tokenizer data/librispeech/train.jsonl --kind char --out exp/librispeech_ds2/tokenizer.json
    asr train ... data.tokenizer=exp/librispeech_ds2/tokenizer.json

Training reads the file when ``data.tokenizer`` names one (else it builds ``char`` or ``bpe`` itself), so every
rank of a distributed run, every resumed run and every later stage use the same tokens. A ``char`` tokenizer
holds what ``asr.text.normalize_text`` writes (space, apostrophe, a-z); ``bpe`` is a sentencepiece model trained
on the normalised transcripts (stored base64-encoded, so the file stays plain JSON).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from pathlib import Path

from asr.errors import InputError
from asr.fileio import atomic_write_text
from asr.text import (
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    TokenizerError,
    normalize_text,
    tokenizer_from_dict,
)


def save_tokenizer(tokenizer: Tokenizer, path: str | os.PathLike) -> Path:
    data = tokenizer.to_dict()
    if isinstance(data.get("model"), bytes):
        data = {**data, "model": base64.b64encode(data["model"]).decode("ascii")}
    return atomic_write_text(path, json.dumps(data, ensure_ascii=False) + "\n")


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("type") == BPETokenizer.kind:
            data["model"] = base64.b64decode(data["model"])
        return tokenizer_from_dict(data)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(path, f"not a tokenizer file from `asr prep tokenizer` ({err})") from None


def build_tokenizer_file(manifests: list[str | os.PathLike], out: str | os.PathLike, kind: str = "char",
                         vocab_size: int = 256) -> Tokenizer:
    """Build the tokenizer from the manifests' normalised texts, check it encodes every one, and save it."""
    from asr.data.manifest import read_manifest

    texts = [normalize_text(u.text) for m in manifests for u in read_manifest(m)]
    if not texts:
        raise InputError(manifests[0], "no transcripts to build a tokenizer from")
    tokenizer: Tokenizer = CharTokenizer() if kind == "char" else BPETokenizer.train(texts, vocab_size=vocab_size)
    for text in texts:
        try:
            tokenizer.encode(text)
        except TokenizerError as err:
            raise InputError(manifests[0], f"transcript {text!r}: {err}") from None
    save_tokenizer(tokenizer, out)
    return tokenizer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="training manifests (their 'text')")
    parser.add_argument("--kind", choices=["char", "bpe"], default="char")
    parser.add_argument("--vocab-size", type=int, default=256, help="bpe: sentencepiece pieces")
    parser.add_argument("--out", required=True, help="tokenizer JSON file to write")


def run(args: argparse.Namespace) -> int:
    tokenizer = build_tokenizer_file(args.manifests, args.out, args.kind, args.vocab_size)
    print(f"wrote a {args.kind} tokenizer of {tokenizer.vocab_size} tokens (blank included) to {args.out}")
    return 0
