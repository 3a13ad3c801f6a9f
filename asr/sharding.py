"""``--shard I/N``: one of N independent jobs takes the I-th contiguous slice of a list of work items.

Embarrassingly parallel stages (``asr features``, ``asr transcribe``) spread over machines with the engines users
already run: a SLURM job array (``--shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"``), torchrun ranks, or
plain background jobs. ``--shard auto`` reads the position from the environment: torchrun's ``RANK`` and
``WORLD_SIZE``, else a SLURM array's ``SLURM_ARRAY_TASK_ID`` (less ``SLURM_ARRAY_TASK_MIN``) and
``SLURM_ARRAY_TASK_COUNT``, else it is the only shard.

Slices are contiguous and in order, so the outputs of shards 0..N-1 concatenated are what one process writes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= I < N")

    @property
    def whole(self) -> bool:
        return self.count == 1

    def bounds(self, n: int) -> tuple[int, int]:
        """[start, stop) of this shard's slice of ``n`` items; sizes differ by at most one."""
        return self.index * n // self.count, (self.index + 1) * n // self.count

    def take(self, items: Sequence[T]) -> list[T]:
        start, stop = self.bounds(len(items))
        return list(items[start:stop])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard(0, 1)


def shard_from_environment(env: Mapping[str, str] | None = None) -> Shard:
    """The shard torchrun or a SLURM job array assigns to this process; the whole job when neither does."""
    env = os.environ if env is None else env
    if "RANK" in env and "WORLD_SIZE" in env:
        return Shard(int(env["RANK"]), int(env["WORLD_SIZE"]))
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        return Shard(int(env["SLURM_ARRAY_TASK_ID"]) - first, int(env["SLURM_ARRAY_TASK_COUNT"]))
    return WHOLE


def parse_shard(text: str) -> Shard:
    """argparse type for ``--shard``: ``I/N`` (0 <= I < N) or ``auto``."""
    if text == "auto":
        return shard_from_environment()
    try:
        index, count = (int(part) for part in text.split("/"))
        return Shard(index, count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N with 0 <= I < N (e.g. 0/8), or auto") from None


def add_shard_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--shard", type=parse_shard, default=WHOLE, metavar="I/N",
                        help=f"do only the I-th of N contiguous slices of the {what} (0-based), e.g. "
                             f"$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; 'auto' reads torchrun's RANK/WORLD_SIZE "
                             f"or the SLURM array's variables")
