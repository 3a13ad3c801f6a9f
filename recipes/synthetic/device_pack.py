"""Pack a generated corpus for a lent GPU machine (recipes/synthetic/device.sh pack).

Such a machine takes at most 64 MiB of working tree per call, most of it this repository, so the corpus travels as
low-bit-rate Ogg/Opus: the dev split whole, then as much of the train split (shuffled, so every voice and sentence
source is in it) as fits ``--mib``. Utterances are joined into long files, 0.25 s of silence apart, and the
manifests address them by ``offset``: a file of its own per utterance would cost about 0.9 kB of Ogg headers each,
a third of the budget at these rates. Speech at ``--level`` 0.985 is about 12 kb/s.

    .venv/bin/python recipes/synthetic/device_pack.py data/synthetic .device/corpus --mib 20
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from asr.data.manifest import Utterance, read_manifest, read_utterance_audio, write_manifest  # noqa: E402
from asr.errors import ASRError  # noqa: E402
from asr.fileio import atomic_path  # noqa: E402

SAMPLE_RATE = 16000  # Opus takes 8, 12, 16, 24 or 48 kHz; the features are 16 kHz
GAP_S = 0.25  # silence between joined utterances: no codec frame spans two of them


def encode(path: Path, audio: np.ndarray, level: float) -> int:
    with atomic_path(path) as tmp:
        soundfile.write(tmp, audio, SAMPLE_RATE, format="OGG", subtype="OPUS", compression_level=level)
    return path.stat().st_size


def pack_split(utterances: list[Utterance], out: Path, name: str, level: float, per_file: int,
               budget: int | None, progress: bool = False) -> tuple[list[Utterance], int]:
    """Encode ``utterances`` into OUT/audio/NAME-K.opus files until ``budget`` bytes; returns the lines and bytes."""
    from tqdm import tqdm

    packed: list[Utterance] = []
    used = 0
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    bar = tqdm(total=len(utterances), desc=f"{name} ({budget / 2**20:.1f} MiB)" if budget else name, unit="utt",
               disable=not progress, file=sys.stderr)
    for start in range(0, len(utterances), per_file):
        if budget is not None and used >= budget:
            break
        path = out / "audio" / f"{name}-{start // per_file:04d}.opus"
        pieces, lines, position = [], [], 0
        for utt in utterances[start: start + per_file]:
            audio = read_utterance_audio(utt, SAMPLE_RATE).astype(np.float32)
            lines.append(Utterance(utt.id, str(path.resolve()), len(audio) / SAMPLE_RATE, utt.text, utt.speaker,
                                   offset=position / SAMPLE_RATE))
            pieces += [audio, gap]
            position += len(audio) + len(gap)
        used += encode(path, np.concatenate(pieces), level)
        packed += lines
        bar.update(len(lines))
    bar.close()
    return packed, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a corpus folder from `asr prep synthetic` (train/dev.jsonl)")
    parser.add_argument("out", type=Path, help="folder to write (manifests and audio/)")
    parser.add_argument("--mib", type=float, default=20.0, help="size budget of train and dev audio together")
    parser.add_argument("--level", type=float, default=0.985, help="Opus compression level (1: smallest)")
    parser.add_argument("--per-file", type=int, default=400, help="utterances joined into one file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dev = read_manifest(args.corpus / "dev.jsonl")  # a missing or broken manifest is an error naming it
    train = read_manifest(args.corpus / "train.jsonl")
    (args.out / "audio").mkdir(parents=True, exist_ok=True)
    budget = int(args.mib * 2**20)
    dev, dev_bytes = pack_split(dev, args.out, "dev", args.level, args.per_file, None, progress=True)
    if dev_bytes >= budget:
        raise ASRError(f"the dev split alone takes {dev_bytes / 2**20:.1f} MiB of the {args.mib:g} MiB: no room for "
                       f"training audio")
    random.Random(args.seed).shuffle(train)
    train, train_bytes = pack_split(train, args.out, "train", args.level, args.per_file, budget - dev_bytes,
                                    progress=True)
    write_manifest(args.out / "dev.jsonl", dev)
    write_manifest(args.out / "train.jsonl", train)
    seconds = sum(u.duration for u in train) + sum(u.duration for u in dev)
    print(f"device_pack: {len(train)} train utterances ({sum(u.duration for u in train) / 3600:.2f} h) and "
          f"{len(dev)} dev ({sum(u.duration for u in dev) / 3600:.2f} h) in "
          f"{(train_bytes + dev_bytes) / 2**20:.1f} MiB ({(train_bytes + dev_bytes) * 8 / seconds / 1000:.1f} kb/s) "
          f"under {args.out}")


if __name__ == "__main__":
    try:
        main()
    except ASRError as err:
        sys.exit(f"device_pack: error: {err}")
