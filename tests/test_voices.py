"""The voice catalogue, every TTS engine, and the corpus plan's use of them."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from data_prep import voices as voices_lib
from data_prep.synthetic import Sentence, SyntheticConfig, UttSpec, _tts, make_plan, render, split_voices

RESERVED = {"kokoro:af_sarah", "kokoro:am_eric", "kokoro:bf_lily", "kokoro:bm_daniel", "rhvoice:alan"}
SENTENCE = Sentence("The children walked home along the river.", "the children walked home along the river")


def test_catalogue_splits_are_disjoint_and_reserved_voices_never_used():
    infos = voices_lib.catalogue()
    ids = [i.voice.id for i in infos]
    assert len(ids) == len(set(ids))
    assert {i.voice.id for i in infos if i.split == voices_lib.RESERVED} == RESERVED
    usable = {v.id for v in voices_lib.voices(available_only=False)}
    assert not usable & RESERVED
    by_split = {s: {v.id for v in voices_lib.voices(s, available_only=False)} for s in ("train", "dev", "test")}
    assert not by_split["train"] & by_split["dev"] and not by_split["train"] & by_split["test"]
    assert not by_split["dev"] & by_split["test"]
    # the speaker slt is test-only in every engine; an MBROLA database has one split in every engine
    assert all(i.split in ("test", voices_lib.RESERVED) for i in infos if "slt" in i.voice.name)
    mbrola_split = {i.voice.name.split("-")[1]: i.split for i in infos if i.voice.engine == "mbrola"}
    for info in infos:
        if info.voice.engine == "festival" and info.voice.name.endswith("_mbrola"):
            assert mbrola_split[info.voice.name.split("_")[0]] == info.split
    # Kokoro: 28 English voices, 4 reserved, both accents and genders held out in dev and test together
    kokoro = [i for i in infos if i.voice.engine == "kokoro"]
    assert len(kokoro) == 28
    held = {(i.accent, i.gender) for i in kokoro if i.split in ("dev", "test")}
    assert held == {("us", "f"), ("us", "m"), ("gb", "f"), ("gb", "m")}


def test_list_voices_prints_one_line_per_voice(capsys):
    from asr.cli import main

    assert main(["prep", "synthetic", "--list-voices"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(voices_lib.catalogue()) + 1
    rows = [line.split("\t") for line in lines[1:]]
    assert all(r[2] in ("train", "dev", "test", "reserved") for r in rows)
    assert all(r[5] == "available" or r[5].startswith("missing: ") for r in rows)
    assert {r[1] for r in rows if r[2] == "reserved"} == RESERVED


def test_a_missing_engine_is_reported_not_fatal(monkeypatch):
    monkeypatch.setattr(voices_lib.shutil, "which", lambda tool: None if tool == "RHVoice-test" else "/usr/bin/x")
    info = next(i for i in voices_lib.catalogue() if i.voice.id == "rhvoice:bdl")
    assert "rhvoice" in voices_lib.unavailable_reason(info)
    assert not any(v.engine == "rhvoice" for v in voices_lib.voices("train"))


def test_plan_uses_every_available_engine_and_no_reserved_voice():
    config = SyntheticConfig(hours=3, seed=0, engines=voices_lib.ENGINES)
    from data_prep.synthetic import load_sentences, split_sentences

    plan = make_plan(config, split_sentences(load_sentences(config), config))
    used = {s.voice.id for s in plan}
    assert not used & RESERVED
    available = {v.engine for v in voices_lib.voices("train")}
    assert {s.voice.engine for s in plan if s.split == "train"} == available
    train_voices = {s.voice.id for s in plan if s.split == "train"}
    assert not train_voices & {s.voice.id for s in plan if s.split != "train"}
    # short phrases and letters appear in train only, and their text is what is spoken
    short = [s for s in plan if len(s.text.split()) < 4]
    assert short and all(s.split == "train" for s in short)
    assert all(s.text.replace(",", "") == s.spoken.lower().rstrip(".").replace(",", "") for s in short)


def _engine_voice(engine: str) -> voices_lib.Voice:
    train = [v for v in voices_lib.voices("train", (engine,), available_only=False)]
    info = next(i for i in voices_lib.catalogue() if i.voice == train[0])
    reason = voices_lib.unavailable_reason(info)
    if reason:
        pytest.skip(f"{engine}: {reason}")
    return train[0]


@pytest.mark.parametrize("engine", voices_lib.ENGINES)
def test_every_engine_renders_a_sentence(engine):
    voice = _engine_voice(engine)
    pitch = {"espeak": 50.0, "mbrola": 50.0, "rhvoice": 100.0, "pico": 100.0}.get(engine, 0.0)
    spec = UttSpec("t-0", "train", voice, SENTENCE.spoken, SENTENCE.text, 1.0, pitch, 1.0, (), 1)
    with tempfile.TemporaryDirectory() as tmp:
        raw = _tts([spec], Path(tmp))[spec.id]
    assert not isinstance(raw, str), raw
    audio = render(spec, raw, 16000)
    seconds = audio.size / 16000
    assert 1.0 < seconds < 6.0, seconds  # seven words at a speaking rate
    assert np.isfinite(audio).all() and 0.1 < np.abs(audio).max() <= 1.0
    # speech, not a constant or noise: the loudness changes over the utterance (words and gaps)
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    energy = np.log10((frames**2).mean(axis=1) + 1e-10)
    assert energy.max() - np.percentile(energy, 10) > 1.5


def test_split_voices_follow_the_configured_engines():
    voices = split_voices(("espeak", "pico"))
    assert {v.engine for vs in voices.values() for v in vs} <= {"espeak", "pico"}
