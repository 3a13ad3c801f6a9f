from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import die_while_writing, temp_files, tone, write_audio

import asr.data.store as store_module
from asr.audio import load_audio
from asr.cli import main
from asr.data import BucketingBatchSampler, FeatureStore, SpeechDataset, collate, extract_features
from asr.data.manifest import Utterance, read_manifest, read_utterance_audio, write_manifest
from asr.errors import InputError
from asr.features import CMVNAccumulator, FeatureConfig, LogMel
from asr.text import CharTokenizer, normalize_text


@pytest.fixture
def corpus(tmp_path):
    """Two manifests of short noisy tones at two sample rates, one utterance cut from a longer file."""
    rng = np.random.default_rng(0)
    audio = tmp_path / "audio"
    audio.mkdir()

    def utt(name, seconds, rate=16000, kind="wav"):
        samples = tone(seconds, rate, 150 + 40 * len(name)) + 0.05 * rng.standard_normal(int(seconds * rate))
        path = write_audio(audio / f"{name}.{kind.split('-')[0]}", samples.astype(np.float32), rate, kind)
        return Utterance(name, str(path), seconds, f"utterance {name} is number {len(name)}")

    train = [utt(f"tr{'x' * k}", 0.3 + 0.17 * k, 16000 if k % 2 else 22050, "flac" if k % 3 else "wav")
             for k in range(7)]
    long = utt("long", 2.0)
    train.append(Utterance("cut", long.audio, 0.6, "a cut segment", offset=0.7))
    dev = [utt(f"dev{'y' * k}", 0.4 + 0.2 * k) for k in range(3)]
    return write_manifest(tmp_path / "train.jsonl", train), write_manifest(tmp_path / "dev.jsonl", dev)


def test_store_reads_back_direct_extraction_and_train_cmvn(corpus, tmp_path):
    train, dev = corpus
    config = FeatureConfig(n_mels=40)
    store = extract_features([train, dev], tmp_path / "store", config, workers=2, shard_size=3, progress=False)
    utts = read_manifest(train) + read_manifest(dev)
    assert store.ids == [u.id for u in utts] and len(store) == len(utts) and "cut" in store and "nope" not in store
    assert store.feature_config == config
    extractor = LogMel(config)
    acc = CMVNAccumulator(config.n_mels)
    for u in utts:
        samples = read_utterance_audio(u, config.sample_rate)
        direct = extractor(torch.from_numpy(samples))[0].numpy()
        got = store.get(u.id)
        assert got.dtype == np.float16 and got.shape == (config.num_frames(len(samples)), 40)
        # Equal up to float16 rounding (float32 sums may differ in the last bit between thread counts).
        np.testing.assert_allclose(got.astype(np.float32), direct, rtol=2**-11, atol=1e-7)
        direct = direct.astype(np.float16)
        assert store.num_frames(u.id) == len(direct)
        if u.id.startswith("tr") or u.id == "cut":
            acc.add(got)
    expected = acc.result()
    np.testing.assert_allclose(store.cmvn.mean, expected.mean, rtol=1e-12)
    np.testing.assert_allclose(store.cmvn.std, expected.std, rtol=1e-12)
    assert store.cmvn.count == expected.count  # the first manifest only
    with pytest.raises(KeyError, match="'nope' is not in the feature store"):
        store.get("nope")


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_interrupted_extraction_resumes_to_the_same_store(corpus, tmp_path, monkeypatch):
    train, dev = corpus
    reference = extract_features([train, dev], tmp_path / "ref", workers=2, shard_size=2, progress=False)

    real = store_module._extract_shard
    calls = []

    def interrupted(job):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(job[1].index)
        return real(job)

    monkeypatch.setattr(store_module, "_extract_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_features([train, dev], tmp_path / "resumed", workers=1, shard_size=2, progress=False)
    with pytest.raises(InputError, match="unfinished feature store"):
        FeatureStore(tmp_path / "resumed")
    done = list(calls)
    calls.clear()
    monkeypatch.setattr(store_module, "_extract_shard", real)
    recount = []
    monkeypatch.setattr(store_module, "_extract_shard", lambda job: recount.append(job[1].index) or real(job))
    extract_features([train, dev], tmp_path / "resumed", workers=1, shard_size=2, progress=False)
    assert set(recount).isdisjoint(done) and len(recount) + len(done) == reference.meta["num_shards"]
    assert _files(tmp_path / "resumed") == _files(tmp_path / "ref")

    with pytest.raises(InputError, match="other manifests or settings"):
        extract_features([train], tmp_path / "resumed", workers=1, shard_size=2, progress=False)


def test_dataset_collate_and_dataloader(corpus, tmp_path):
    train, dev = corpus
    store = extract_features([train, dev], tmp_path / "store", workers=1, progress=False)
    utts = read_manifest(train)
    tokenizer = CharTokenizer()
    dataset = SpeechDataset(utts, store, tokenizer)
    assert len(dataset) == len(utts)
    assert dataset.num_frames == [store.num_frames(u.id) for u in utts]
    assert dataset.durations == [u.duration for u in utts]
    example = dataset[1]
    expected = (store.get(utts[1].id).astype(np.float32) - store.cmvn.mean) / store.cmvn.std
    np.testing.assert_allclose(example.features.numpy(), expected, atol=1e-5)
    assert example.features.dtype == torch.float32
    assert example.text == normalize_text(utts[1].text) == "utterance trx is number three"
    assert example.targets.tolist() == tokenizer.encode(example.text)
    raw = SpeechDataset(utts, store, tokenizer, apply_cmvn=False)[1].features
    np.testing.assert_array_equal(raw.numpy(), store.get(utts[1].id).astype(np.float32))

    batch = collate([dataset[i] for i in (0, 3, 2)])
    assert batch.ids == [utts[i].id for i in (0, 3, 2)]
    lengths = [dataset.num_frames[i] for i in (0, 3, 2)]
    assert batch.feature_lengths.tolist() == lengths and batch.features.shape == (3, max(lengths), 80)
    assert batch.features.dtype == torch.float32 and batch.targets.dtype == torch.long
    for k, i in enumerate((0, 3, 2)):
        assert torch.equal(batch.features[k, :lengths[k]], dataset[i].features)
        assert not batch.features[k, lengths[k]:].any()
        n = batch.target_lengths[k]
        assert torch.equal(batch.targets[k, :n], dataset[i].targets) and not batch.targets[k, n:].any()
    assert batch.to("cpu").features.data_ptr() == batch.features.data_ptr()

    sampler = BucketingBatchSampler(dataset.num_frames, max_frames=300, seed=1)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=2)
    seen = [i for b in loader for i in b.ids]
    assert sorted(seen) == sorted(u.id for u in utts)


def test_dataset_names_utterances_it_cannot_use(corpus, tmp_path):
    train, dev = corpus
    store = extract_features([train], tmp_path / "store", workers=1, progress=False)
    with pytest.raises(InputError, match=r"3 utterance\(s\) are not in the feature store: dev, devy, devyy"):
        SpeechDataset(read_manifest(dev), store, CharTokenizer())
    no_u = CharTokenizer([c for c in CharTokenizer.DEFAULT_SYMBOLS if c != "u"])
    with pytest.raises(InputError, match=r"utterance tr \(.*tr.wav\): text 'utterance tr is number two'"):
        SpeechDataset(read_manifest(train), store, no_u)


def test_features_command_reports_bad_audio_and_keeps_the_rest(corpus, tmp_path, capsys):
    train, dev = corpus
    utts = read_manifest(dev)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    utts.append(Utterance("broken", str(broken), 1.0, "broken"))
    bad_dev = write_manifest(tmp_path / "bad_dev.jsonl", utts)
    out = tmp_path / "store"
    assert main(["features", str(train), str(bad_dev), "--out", str(out), "--workers", "2", "--n-mels", "64",
                 "--cmvn-from", str(bad_dev)]) == 1
    captured = capsys.readouterr()
    assert "broken: " in captured.err and "broken.wav" in captured.err
    store = FeatureStore(out)
    assert "broken" not in store and "devyy" in store and store.feature_config.n_mels == 64
    assert store.meta["cmvn_from"] == [str(bad_dev.resolve())]


def test_a_shard_write_killed_midway_leaves_no_orphan_once_resumed(corpus, tmp_path):
    train, _ = corpus
    out = tmp_path / "store"
    die_while_writing("numpy.save", "from asr.data import extract_features; "
                                    f"extract_features([{str(train)!r}], {str(out)!r}, workers=1, progress=False)")
    assert temp_files(out / "shards")
    store = extract_features([train], out, workers=1, progress=False)
    assert temp_files(out) == [] and len(store) == len(read_manifest(train))


def test_resumed_extraction_rereads_audio_regenerated_under_the_same_name(corpus, tmp_path):
    train, dev = corpus
    out = tmp_path / "store"
    extract_features([train, dev], out, workers=1, shard_size=3, progress=False)
    utt = read_manifest(dev)[1]
    quieter = 0.3 * load_audio(utt.audio)
    write_audio(Path(utt.audio), quieter, 16000)  # the same path and manifest, other samples
    store = extract_features([train, dev], out, workers=1, shard_size=3, progress=False)
    expected = LogMel(store.feature_config)(torch.from_numpy(load_audio(utt.audio)))[0].numpy()
    np.testing.assert_allclose(store.get(utt.id).astype(np.float32), expected, rtol=2**-11, atol=1e-7)
