import json

import numpy as np
import pytest
import soundfile

from asr.cli import main
from asr.data.manifest import read_manifest
from data_prep.synthetic import (
    SyntheticConfig,
    load_sentences,
    make_plan,
    split_sentences,
    split_voices,
)
from data_prep.voices import ENGINES


def test_full_size_plan_holds_out_voices_and_sentences():
    config = SyntheticConfig(hours=10, seed=0)
    pools = split_sentences(load_sentences(config), config)
    assert len(pools["train"]) > 10000 and len(pools["test"]) > 1000
    vocabulary = {w for s in pools["train"] for w in s.text.split()}
    assert len(vocabulary) > 5000
    plan = make_plan(config, pools)
    by_split = {split: [s for s in plan if s.split == split] for split in ("train", "dev", "test")}
    hours = {split: sum(len(s.text.split()) for s in specs) * 0.33 / 3600 for split, specs in by_split.items()}
    assert 9 < sum(hours.values()) < 11
    speakers = {split: {s.voice.id for s in specs} for split, specs in by_split.items()}
    texts = {split: {s.text for s in specs} for split, specs in by_split.items()}
    for held in ("dev", "test"):
        assert not speakers["train"] & speakers[held]
        assert not texts["train"] & texts[held]
        assert not {s.text for s in pools["train"]} & texts[held]
    assert not texts["dev"] & texts["test"] and not speakers["dev"] & speakers["test"]
    assert not any("slt" in v for v in speakers["train"] | speakers["dev"])  # the slt speaker is test-only
    engines = {split: {v.split(":")[0] for v in ids} for split, ids in speakers.items()}
    # the default engines (all but the slow Kokoro) that have voices here speak in train and test
    assert engines["train"] == {v.engine for v in split_voices(config.engines)["train"]}
    assert {"espeak", "flite", "festival"} <= engines["test"] and "kokoro" not in engines["train"]
    test_words = [w for s in by_split["test"] for w in s.text.split()]
    assert sum(w not in vocabulary for w in test_words) / len(test_words) < 0.01


def _audio(folder):
    return {p.name: soundfile.read(p)[0] for p in sorted((folder / "audio").rglob("*.flac"))}


@pytest.mark.slow
def test_small_corpus_is_held_out_deterministic_and_resumable(tmp_path, capsys):
    args = ["--hours", "0.02", "--seed", "3", "--dev-fraction", "0.2", "--test-fraction", "0.25", "--workers", "2"]
    first = tmp_path / "a"
    assert main(["prep", "synthetic", str(first), *args]) == 0
    assert "wrote train" in capsys.readouterr().out
    splits = {s: read_manifest(first / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert all(len(utts) >= 2 for utts in splits.values())
    speakers = {s: {u.speaker for u in utts} for s, utts in splits.items()}
    texts = {s: {u.text for u in utts} for s, utts in splits.items()}
    assert not speakers["train"] & speakers["test"] and not texts["train"] & texts["test"]
    assert not speakers["train"] & speakers["dev"] and not texts["train"] & texts["dev"]
    lm_lines = set((first / "lm_text.txt").read_text().splitlines())
    assert not lm_lines & (texts["test"] | texts["dev"])
    # train reads LM-text sentences, or 1-3 words cut from one, or spelled letters
    padded = [f" {line} " for line in lm_lines]
    for text in texts["train"] - lm_lines:
        assert len(text.split()) <= 3
        assert all(len(w) == 1 for w in text.split()) or any(f" {text} " in line for line in padded), text
    for utts in splits.values():
        for u in utts:
            info = soundfile.info(u.audio)
            assert info.samplerate == 16000 and info.channels == 1
            assert u.duration == pytest.approx(info.frames / 16000, abs=1e-4) and 0.2 < u.duration < 8
            assert u.text == u.text.lower() and u.speaker.split(":")[0] in ENGINES
    stats = json.loads((first / "corpus.json").read_text())
    assert stats["splits"]["test"]["utterances"] == len(splits["test"]) and not stats["failures"]

    second = tmp_path / "b"  # the same seed gives the same corpus
    assert main(["prep", "synthetic", str(second), *args]) == 0
    for split in ("train", "dev", "test"):
        assert (first / f"{split}.jsonl").read_text() == (second / f"{split}.jsonl").read_text()
    reference = _audio(first)
    assert reference.keys() == _audio(second).keys()
    assert all(np.array_equal(reference[k], v) for k, v in _audio(second).items())

    # an interruption leaves some files missing and no manifests: a rerun makes just those
    removed = sorted((second / "audio" / "train").glob("*.flac"))[:3]
    for path in removed:
        path.unlink()
    (second / "train.jsonl").unlink()
    kept = {p: p.stat().st_mtime_ns for p in (second / "audio" / "test").glob("*.flac")}
    assert main(["prep", "synthetic", str(second), *args]) == 0
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert (first / "train.jsonl").read_text() == (second / "train.jsonl").read_text()
    assert all(np.array_equal(reference[k], v) for k, v in _audio(second).items())

    other = ["--hours", "0.02", "--seed", "4", "--dev-fraction", "0.2", "--test-fraction", "0.25"]
    assert main(["prep", "synthetic", str(second), *other]) == 2
    assert "other settings" in capsys.readouterr().err
