import numpy as np
import pytest

from asr.data.sampler import BucketingBatchSampler, padding_waste


def librispeech_like(n=4000, seed=0):
    """Frame counts shaped like LibriSpeech training utterances: most 10-17 s, a tail down to 1 s, up to 35 s."""
    rng = np.random.default_rng(seed)
    seconds = np.where(rng.random(n) < 0.8, rng.normal(14.5, 2.5, n), rng.uniform(1, 35, n))
    return (np.clip(seconds, 1, 35) * 100).astype(int).tolist()


def synthetic_like(n=3000, seed=1):
    """The generated corpus: 1.2-6 s, mostly 2-3 s."""
    rng = np.random.default_rng(seed)
    return (np.clip(rng.lognormal(np.log(2.4), 0.3, n), 1.2, 6) * 100).astype(int).tolist()


@pytest.mark.parametrize("lengths,max_frames", [(librispeech_like(), 40000), (synthetic_like(), 8000)])
def test_padding_waste_within_three_percent_and_budget_respected(lengths, max_frames):
    sampler = BucketingBatchSampler(lengths, max_frames=max_frames, seed=3)
    for epoch in range(3):
        batches = sampler.global_batches(epoch)
        assert padding_waste(batches, lengths) <= 0.03
        for b in batches:
            assert len(b) * max(lengths[i] for i in b) <= max_frames or len(b) == 1
    rng = np.random.default_rng(0)  # the same batch sizes filled at random waste far more
    order = rng.permutation(len(lengths)).tolist()
    sizes = [len(b) for b in batches]
    random_batches = [order[sum(sizes[:k]):sum(sizes[:k + 1])] for k in range(len(sizes))]
    assert padding_waste(random_batches, lengths) > 3 * padding_waste(batches, lengths)


def test_two_ranks_cover_every_utterance_once_with_equal_counts():
    lengths = synthetic_like(999)
    for epoch in range(3):
        per_rank = []
        for rank in range(2):
            sampler = BucketingBatchSampler(lengths, max_frames=3000, seed=7, rank=rank, world_size=2)
            sampler.set_epoch(epoch)
            per_rank.append(list(sampler))
            assert len(sampler) == len(per_rank[-1])
        assert len(per_rank[0]) == len(per_rank[1])
        flat = [i for batches in per_rank for b in batches for i in b]
        assert sorted(flat) == list(range(len(lengths)))


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_one_process_sees_the_global_batches_of_world_size_ranks(world_size):
    lengths = synthetic_like(1001)
    single = BucketingBatchSampler(lengths, max_frames=2500, seed=5, batches_multiple_of=world_size)
    ranks = [BucketingBatchSampler(lengths, max_frames=2500, seed=5, rank=r, world_size=world_size)
             for r in range(world_size)]
    for epoch in (0, 1):
        expected = single.global_batches(epoch)
        assert len(expected) % world_size == 0
        for r, sampler in enumerate(ranks):
            assert sampler.global_batches(epoch) == expected
            sampler.set_epoch(epoch)
            assert list(sampler) == expected[r::world_size]
        # gradient accumulation over world_size consecutive batches == one step of world_size ranks
        steps = [expected[k:k + world_size] for k in range(0, len(expected), world_size)]
        assert [list(s) for s in zip(*[list(BucketingBatchSampler(lengths, 2500, seed=5, rank=r,
                                                                  world_size=world_size).batches(epoch))
                                       for r in range(world_size)])] == steps
    # the list differs from world_size=1's only by splitting batches in two
    plain = BucketingBatchSampler(lengths, max_frames=2500, seed=5).global_batches(1)
    split = single.global_batches(1)
    assert len(plain) <= len(split) < len(plain) + world_size
    assert sum(map(len, split)) == sum(map(len, plain))


def test_splitting_when_batches_do_not_divide():
    lengths = [100] * 7
    sampler = BucketingBatchSampler(lengths, max_frames=300, shuffle=False, batches_multiple_of=4)
    batches = sampler.global_batches()
    assert len(batches) == 4 and sorted(i for b in batches for i in b) == list(range(7))
    with pytest.raises(ValueError, match="without dropping or repeating"):
        BucketingBatchSampler([100] * 3, max_frames=100, world_size=2).global_batches()


def test_long_utterance_gets_its_own_batch_and_max_batch_size():
    lengths = [50] * 40 + [5000]
    sampler = BucketingBatchSampler(lengths, max_frames=1000, max_batch_size=8, seed=0)
    batches = sampler.global_batches()
    assert [40] in batches
    assert max(len(b) for b in batches) == 8


def test_shuffling_is_deterministic_per_seed_and_epoch_and_sortagrad_ascends():
    lengths = synthetic_like(500)
    a = BucketingBatchSampler(lengths, max_frames=2000, seed=1)
    b = BucketingBatchSampler(lengths, max_frames=2000, seed=1)
    assert a.global_batches(2) == b.global_batches(2)
    assert a.global_batches(2) != a.global_batches(3)
    assert a.global_batches(2) != BucketingBatchSampler(lengths, max_frames=2000, seed=2).global_batches(2)

    sorta = BucketingBatchSampler(lengths, max_frames=2000, seed=1, sortagrad=True)
    first = [lengths[i] for batch in sorta.global_batches(0) for i in batch]
    assert first == sorted(lengths)
    later = [max(lengths[i] for i in batch) for batch in sorta.global_batches(1)]
    assert later != sorted(later)  # from epoch 1 on, batches come in random order
    assert sorta.global_batches(1) == a.global_batches(1)


def test_exact_resume_from_state_dict():
    lengths = synthetic_like(600)
    sampler = BucketingBatchSampler(lengths, max_frames=2000, seed=4, rank=1, world_size=2)
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.set_epoch(3)  # the same epoch again: iteration restarts after a finished epoch
    it = iter(sampler)
    consumed = [next(it) for _ in range(5)]
    state = sampler.state_dict()
    assert state == {"epoch": 3, "position": 5} and consumed == full[:5]

    resumed = BucketingBatchSampler(lengths, max_frames=2000, seed=4, rank=1, world_size=2)
    resumed.load_state_dict(state)
    resumed.set_epoch(3)  # what a training loop does at the top of the epoch: keeps the position
    assert len(resumed) == len(full)
    assert list(resumed) == full[5:]
    assert resumed.state_dict() == {"epoch": 3, "position": len(full)}
    resumed.set_epoch(4)
    assert resumed.state_dict() == {"epoch": 4, "position": 0}
    assert list(resumed) == resumed.batches(4)
