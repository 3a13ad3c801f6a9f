"""Data loading: utterances per second from the feature store vs decoding audio and computing features on the
fly, and the padding waste of the bucketing sampler vs random batches. Writes bench/results/loader.json.

Throughput: the same utterances (a small generated corpus made here, in a temporary folder, by
data_prep.synthetic), in the same random order, single-threaded, each turned into CMVN-normalised float32
features (T, 80): ``SpeechDataset[i]`` from the store against ``load_audio`` (FLAC decode) + ``LogMel`` + CMVN.
Interleaved medians of whole passes over the corpus.

Padding waste (padded frames / all frames, padding included): the bucketing sampler against random batches
packed under the same frame budget, on two length distributions: one shaped like LibriSpeech train-clean-100
(28,539 utterances, most 10-17 s, a tail from 1 to 35 s; budget 40,000 frames) and the generated corpus
planned at its default 10 hours (lengths estimated from each sentence and speaking rate; budget 8,000 frames).

    .venv/bin/python bench/loader.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, single_thread, time_interleaved, write_results  # noqa: E402

single_thread()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from asr.data import BucketingBatchSampler, SpeechDataset, extract_features, padding_waste, read_manifest  # noqa: E402
from asr.data.manifest import read_utterance_audio  # noqa: E402
from asr.features import LogMel  # noqa: E402
from asr.text import CharTokenizer  # noqa: E402
from data_prep.synthetic import (  # noqa: E402
    SECONDS_PER_WORD,
    SyntheticConfig,
    generate,
    load_sentences,
    make_plan,
    split_sentences,
)

CORPUS_HOURS = 0.1


def librispeech_like(n: int = 28539, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    seconds = np.where(rng.random(n) < 0.8, rng.normal(14.5, 2.5, n), rng.uniform(1, 35, n))
    return (np.clip(seconds, 1, 35) * 100).astype(int).tolist()


def generated_corpus_lengths() -> list[int]:
    config = SyntheticConfig()
    plan = make_plan(config, split_sentences(load_sentences(config), config))
    return [int(100 * len(s.text.split()) * SECONDS_PER_WORD / s.rate) for s in plan if s.split == "train"]


def waste(lengths: list[int], max_frames: int) -> tuple[float, float, int]:
    """(bucketed waste, random waste, batches per epoch), averaged over three epochs."""
    sampler = BucketingBatchSampler(lengths, max_frames=max_frames, seed=0)
    bucketed = [padding_waste(sampler.global_batches(e), lengths) for e in range(3)]
    random = []
    for e in range(3):
        order = np.random.default_rng([1, e]).permutation(len(lengths))
        random.append(padding_waste(sampler._pack(order), lengths))  # same budget rule, random membership
    return float(np.mean(bucketed)), float(np.mean(random)), len(sampler)


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="asr-bench-loader-") as tmp:
        corpus = Path(tmp) / "corpus"
        print(f"generating {CORPUS_HOURS} h of speech ...", file=sys.stderr)
        generate(corpus, SyntheticConfig(hours=CORPUS_HOURS, seed=0), progress=False)
        manifest = corpus / "train.jsonl"
        store = extract_features([manifest], Path(tmp) / "store", progress=False)
        utts = read_manifest(manifest)
        dataset = SpeechDataset(utts, store, CharTokenizer())
        order = np.random.default_rng(0).permutation(len(utts)).tolist()
        extractor = LogMel(store.feature_config)
        mean = torch.as_tensor(store.cmvn.mean, dtype=torch.float32)
        inv_std = 1 / torch.as_tensor(store.cmvn.std, dtype=torch.float32)
        rate = store.feature_config.sample_rate

        def from_store():
            return [dataset[i].features for i in order]

        def on_the_fly():
            out = []
            for i in order:
                feats, _ = extractor(torch.from_numpy(read_utterance_audio(utts[i], rate)))
                out.append((feats - mean) * inv_std)
            return out

        for a, b in zip(from_store(), on_the_fly()):  # the same features either way, to float16 rounding
            assert a.shape == b.shape and float((a - b).abs().max()) < 0.05
        timings = time_interleaved({"store": from_store, "on_the_fly": on_the_fly}, repeats=7, warmup=1)
        n_utts = len(order)
        n_frames = sum(dataset.num_frames)
        audio_s = sum(u.duration for u in utts)

    libri_bucketed, libri_random, libri_batches = waste(librispeech_like(), 40000)
    gen_bucketed, gen_random, gen_batches = waste(generated_corpus_lengths(), 8000)
    store_ups = n_utts / timings["store"]["median_s"]
    fly_ups = n_utts / timings["on_the_fly"]["median_s"]
    results = {
        "store_utts_per_s": store_ups,
        "onthefly_utts_per_s": fly_ups,
        "store_frames_per_s": n_frames / timings["store"]["median_s"],
        "onthefly_frames_per_s": n_frames / timings["on_the_fly"]["median_s"],
        "store_speedup": store_ups / fly_ups,
        "padding_waste_bucketed": libri_bucketed,
        "padding_waste_random": libri_random,
        "padding_waste_bucketed_generated": gen_bucketed,
        "padding_waste_random_generated": gen_random,
        "waste_setup": {"librispeech_like": {"utterances": 28539, "max_frames": 40000, "batches": libri_batches},
                        "generated_10h_train": {"max_frames": 8000, "batches": gen_batches}},
        "corpus": {"utterances": n_utts, "frames": n_frames, "audio_seconds": round(audio_s, 1),
                   "hours": CORPUS_HOURS},
        "timings": timings,
        "machine": machine(),
    }
    print_table(["reader", "utterances/s", "frames/s", "vs on the fly"],
                [["feature store", store_ups, results["store_frames_per_s"], results["store_speedup"]],
                 ["audio + LogMel on the fly", fly_ups, results["onthefly_frames_per_s"], 1.0]])
    print()
    print_table(["lengths", "bucketed waste", "random waste"],
                [["LibriSpeech-like (max_frames 40000)", libri_bucketed, libri_random],
                 ["generated 10 h train (max_frames 8000)", gen_bucketed, gen_random]])
    print(f"wrote {write_results('loader', results)}")


if __name__ == "__main__":
    main()
