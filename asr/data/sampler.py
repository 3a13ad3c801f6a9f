"""Length-bucketing batch sampler: batches of similar-length utterances filled up to a padded-frame budget.

How an epoch's GLOBAL batch list is made (the same on every rank, from ``(seed, epoch)`` only):

1. Order the utterances by length. When shuffling, the sort key is each length times a random factor in
   ``1 ± length_noise`` (default 1%), so batch membership changes from epoch to epoch at the cost of a little
   padding; without shuffling (and in epoch 0 with SortaGrad) the order is exactly ascending.
2. Walk that order and close a batch when one more utterance would make ``len(batch) × longest > max_frames``
   (or exceed ``max_batch_size``). An utterance longer than ``max_frames`` alone forms its own batch.
3. When shuffling (and not SortaGrad's first epoch), shuffle the order of the batches.
4. While the number of batches is not a multiple of ``batches_multiple_of`` (default: ``world_size``), split the
   batch with the most utterances into two halves, in place. Nothing is dropped or repeated.

Rank ``r`` of ``W`` takes global batches ``r, r + W, r + 2W, ...``: every rank gets the same number of batches
and every utterance appears once per epoch across ranks. Because the list depends on ``world_size`` only
through step 4, a single process built with ``batches_multiple_of=W`` sees exactly the global batches that W
ranks process (B0, B1, ... with rank r taking B_{kW+r}): gradient accumulation over W batches in one process
reproduces a W-rank run.

Exact resume: ``state_dict()`` is ``{"epoch", "position"}``; iteration continues at batch ``position`` of this
rank's share of the epoch. Call ``set_epoch(e)`` before each epoch; a new epoch starts at position 0, and
iterating an epoch that was already run to its end starts it again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


def padding_waste(batches: Sequence[Sequence[int]], num_frames: Sequence[int]) -> float:
    """Padded frames / all frames (padded included) over ``batches``."""
    lengths = np.asarray(num_frames)
    padded = real = 0
    for batch in batches:
        b = lengths[list(batch)]
        padded += len(b) * int(b.max())
        real += int(b.sum())
    return (padded - real) / padded if padded else 0.0


class BucketingBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Yields lists of dataset indices: this rank's share of the epoch's length-bucketed global batches."""

    def __init__(self, num_frames: Sequence[int], max_frames: int, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1, sortagrad: bool = False, max_batch_size: int | None = None,
                 batches_multiple_of: int | None = None, length_noise: float = 0.01):
        if max_frames <= 0:
            raise ValueError(f"max_frames must be positive, not {max_frames}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in a world of size {world_size}")
        multiple = world_size if batches_multiple_of is None else batches_multiple_of
        if multiple < 1 or multiple % world_size:
            raise ValueError(f"batches_multiple_of={multiple} must be a positive multiple of world_size={world_size}")
        if max_batch_size is not None and max_batch_size < 1:
            raise ValueError(f"max_batch_size must be positive, not {max_batch_size}")
        self.num_frames = np.asarray(num_frames, dtype=np.int64)
        self.max_frames = int(max_frames)
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.sortagrad = sortagrad
        self.max_batch_size = max_batch_size
        self.batches_multiple_of = multiple
        self.length_noise = length_noise
        self.epoch = 0
        self.position = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    # --- the global batch list ---

    def _pack(self, order: np.ndarray) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        limit = self.max_batch_size or len(order) + 1
        for i in order.tolist():
            n = int(self.num_frames[i])
            grown = max(longest, n)
            if current and ((len(current) + 1) * grown > self.max_frames or len(current) >= limit):
                batches.append(current)
                current, grown = [], n
            current.append(i)
            longest = grown
        if current:
            batches.append(current)
        return batches

    def _split_to_multiple(self, batches: list[list[int]]) -> list[list[int]]:
        m = self.batches_multiple_of
        while len(batches) % m:
            k = max(range(len(batches)), key=lambda j: len(batches[j]))
            if len(batches[k]) < 2:
                raise ValueError(
                    f"cannot make {len(batches)} single-utterance batches a multiple of {m} without dropping or "
                    f"repeating utterances ({len(self.num_frames)} utterances)")
            half = len(batches[k]) // 2
            batches[k:k + 1] = [batches[k][:half], batches[k][half:]]
        return batches

    def global_batches(self, epoch: int | None = None) -> list[list[int]]:
        """Every batch of ``epoch`` (default: the current one) across all ranks, in global order."""
        epoch = self.epoch if epoch is None else epoch
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        n = len(self.num_frames)
        ordered = not self.shuffle or (self.sortagrad and epoch == 0)
        rng = np.random.default_rng([self.seed, epoch])
        if ordered:
            order = np.argsort(self.num_frames, kind="stable")
        else:
            key = self.num_frames * rng.uniform(1 - self.length_noise, 1 + self.length_noise, n)
            order = np.argsort(key, kind="stable")
        batches = self._pack(order)
        if not ordered:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        batches = self._split_to_multiple(batches) if n else []
        self._cache = (epoch, batches)
        return batches

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        """This rank's batches of ``epoch``."""
        return self.global_batches(epoch)[self.rank::self.world_size]

    # --- Sampler protocol ---

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def __len__(self) -> int:
        return len(self.global_batches()) // self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches()
        if self.position >= len(batches):
            self.position = 0
        for i in range(self.position, len(batches)):
            self.position = i + 1  # counts batches handed out, so state_dict() after batch i resumes at i + 1
            yield list(batches[i])

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
