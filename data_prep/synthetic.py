"""The default corpus: English speech generated on any machine, with no network (`asr prep synthetic OUT`).

Text: the usage examples of WordNet 3.0 (Debian package wordnet-base; the WordNet licence allows copying and
redistribution): ~48,000 short real-English phrases and sentences written by lexicographers. We keep those
of 5-14 words with no digits or odd punctuation, then repeatedly drop sentences holding a word seen only once
in the kept set, until none does: 13,878 sentences (7.3 words on average) over 7,600 words. Everyday
collocations ("turned off the lights", "a lot of") give an n-gram LM real predictive power on sentences it has
not seen.

Sentences are split once, by seed, into train / dev / test pools (1,388 sentences each for dev and test):
dev and test sentences never occur on the train side. They are drawn among sentences whose words all occur at
least 3 times in the pool, so test words are almost always in the train-side vocabulary (0.4-0.5% OOV with
seed 0; corpus.json reports it). ``lm_text.txt`` holds every train-side sentence (used for audio or not),
nothing else.

Voices: every English voice that installs offline (data_prep/voices.py: espeak-ng, MBROLA, flite, festival,
RHVoice, SVOX Pico, hibari and Kokoro-82M; `asr prep synthetic --list-voices`), each an id such as
``espeak:en-gb-scotland+m4``, ``mbrola:mb-de4-en``, ``kokoro:bf_emma`` written as the line's ``speaker``. Voices are
split too: dev and test voices never speak in train, the speaker "slt" (flite, festival, RHVoice) is test-only,
and the voices reserved for independent evaluation are in no split. So test is unseen voices reading unseen
sentences. ``--engines`` chooses the engines (by default all but Kokoro, the one slow engine).

Every utterance gets a random speaking rate and pitch, sometimes a sox speed change, and a channel drawn from
asr.data.channel: a simulated room, a microphone's response, a telephone channel or lossy codec, background
noise or babble, a level (sometimes clipped), a vocal-tract-length perturbation (``--augment`` chooses the
families, for measuring what each is worth). Audio is 16 kHz mono 16-bit FLAC.

Deterministic: a seed fixes the whole plan (sentences, voices, rates, effects, noise seeds) before any audio
is made, and each utterance is rendered from its plan entry alone. Resumable: each file is written under a
temporary name and renamed when complete, so a rerun with the same settings makes only what is missing.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from asr.data.channel import FAMILIES, ChannelConfig, apply_channel, draw_channel
from asr.data.manifest import Utterance, write_manifest
from asr.errors import ASRError, InputError
from asr.fileio import atomic_path
from data_prep import voices as voices_lib
from data_prep.voices import SPLITS, Voice

WORDNET = Path("/usr/share/wordnet")


@dataclass
class SyntheticConfig:
    hours: float = 10.0  # total audio over all splits (estimated while planning; the real figure is reported)
    seed: int = 0
    workers: int = os.cpu_count() or 1
    dev_fraction: float = 0.05  # of the hours, and of the sentence pool
    test_fraction: float = 0.05
    held_out_sentences: float = 0.1  # of the sentence pool, each for dev and test
    min_words: int = 5
    max_words: int = 14
    min_word_count: int = 2  # every word of the pool occurs at least this often
    held_out_min_count: int = 3  # dev/test sentences use only words occurring this often in the pool
    sample_rate: int = 16000
    wordnet: str = str(WORDNET)
    engines: tuple[str, ...] = voices_lib.FAST_ENGINES  # data_prep.voices.ENGINES adds kokoro (slow)
    augment: tuple[str, ...] = FAMILIES  # asr.data.channel families in use
    id_prefix: str = ""  # prepended to utterance ids, so corpora can be merged


# --- text ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    spoken: str  # what the TTS reads (WordNet's casing and punctuation help its prosody)
    text: str  # normalised transcript


_QUOTED = re.compile(r'"([^"]+)"')
_UNUSABLE = re.compile(r"[^A-Za-z ,.'!?-]|\.\.|--|''|\s'|'\s|^'|'$")


def load_sentences(config: SyntheticConfig) -> list[Sentence]:
    """The sentence pool from WordNet's usage examples (see the module docstring), sorted by text."""
    return list(_sentence_pool(config.wordnet, config.min_words, config.max_words, config.min_word_count))


@functools.lru_cache(maxsize=4)  # normalising 46,000 examples takes seconds: once per process
def _sentence_pool(wordnet: str, min_words: int, max_words: int, min_word_count: int) -> tuple[Sentence, ...]:
    from asr.text import normalize_text

    folder = Path(wordnet)
    files = [folder / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise InputError(missing[0], "WordNet data not found: install the Debian package wordnet-base "
                                     "(`make install` does)")
    pool: dict[str, str] = {}
    for path in files:
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                for example in _QUOTED.findall(line.partition(" | ")[2]):
                    example = example.strip().rstrip(",;").strip()
                    if not example or _UNUSABLE.search(example):
                        continue
                    text = normalize_text(example)
                    if min_words <= len(text.split()) <= max_words and text not in pool:
                        spoken = example[0].upper() + example[1:]
                        pool[text] = spoken if spoken[-1] in ".!?" else spoken + "."
    texts = sorted(pool)
    while True:  # drop sentences with rare words until every word is used min_word_count times
        counts = Counter(w for t in texts for w in t.split())
        kept = [t for t in texts if all(counts[w] >= min_word_count for w in t.split())]
        if len(kept) == len(texts):
            break
        texts = kept
    return tuple(Sentence(pool[t], t) for t in texts)


def split_sentences(sentences: list[Sentence], config: SyntheticConfig) -> dict[str, list[Sentence]]:
    """Train / dev / test sentence pools, disjoint. Held-out sentences are drawn at random among those whose
    every word occurs at least ``held_out_min_count`` times in the pool, so their words almost always occur on
    the train side too (a held-out sentence made of words seen nowhere else would mostly measure OOV words)."""
    counts = Counter(w for s in sentences for w in s.text.split())
    eligible = [i for i, s in enumerate(sentences)
                if all(counts[w] >= config.held_out_min_count for w in s.text.split())]
    rng = np.random.default_rng([config.seed, 1])
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    n_held = max(1, int(round(config.held_out_sentences * len(sentences))))
    if 2 * n_held > len(eligible):
        raise ValueError(f"only {len(eligible)} sentences can be held out; lower held_out_sentences")
    test, dev = order[:n_held], order[n_held:2 * n_held]
    held = set(test) | set(dev)
    return {"train": [s for i, s in enumerate(sentences) if i not in held],
            "dev": [sentences[i] for i in dev], "test": [sentences[i] for i in test]}


# --- voices ------------------------------------------------------------------------------------

# Share of each split's utterances per engine, before the engines absent from a split or from the configuration
# are dropped and the rest renormalised. Train hears more of the engines whose held-out voices are hardest
# (unseen female voices of the statistical and diphone engines; neural voices, the closest to people).
# RHVoice renders at only ~5x real time (a process and a voice load per sentence), so it gets a smaller share.
ENGINE_SHARE = {"espeak": 0.25, "mbrola": 0.15, "flite": 0.10, "festival": 0.12, "rhvoice": 0.08, "pico": 0.08,
                "hibari": 0.02, "kokoro": 0.20}
TRAIN_ENGINE_SHARE = {"espeak": 0.22, "mbrola": 0.16, "flite": 0.11, "festival": 0.14, "rhvoice": 0.06, "pico": 0.07,
                      "hibari": 0.04, "kokoro": 0.20}
# flite and festival (and the neural engines) take a pitch shift in cents, applied with sox. Training only: every
# flite voice available for train is male, and a model trained on them transcribed the unseen female voice at
# 43-64% CER against 10-14% for unseen espeak voices; so train's shift is wider upwards, and half of the
# flite/festival utterances get the intonation model's F0 target raised into the female range.
TRAIN_PITCH_CENTS = (-250.0, 450.0)
HELD_OUT_PITCH_CENTS = (-250.0, 250.0)
NEURAL_PITCH_CENTS = (-150.0, 150.0)
TRAIN_HIGH_F0_SHARE = 0.5
TRAIN_HIGH_F0_HZ = (170.0, 250.0)


def split_voices(engines: tuple[str, ...] = voices_lib.ENGINES) -> dict[str, list[Voice]]:
    """The voices available here for each split, among ``engines`` (reserved voices are never among them)."""
    return {split: voices_lib.voices(split, engines) for split in SPLITS}


def check_tools(engines: tuple[str, ...]) -> list[str]:
    """One line per configured voice that cannot speak here (it is left out of the plan); an error when an
    engine the corpus needs has no voice at all, or sox is missing."""
    if shutil.which("sox") is None:
        raise ASRError("sox not found: install the Debian package sox (`make install` does)")
    skipped = []
    for info in voices_lib.catalogue():
        if info.voice.engine in engines and info.split != voices_lib.RESERVED:
            problem = voices_lib.unavailable_reason(info)
            if problem:
                skipped.append(f"{info.voice.id} skipped: {problem}")
    for split in SPLITS:
        if not voices_lib.voices(split, engines):
            raise ASRError(f"no voice of {', '.join(engines)} can speak here for the {split} split: "
                           f"{skipped[0] if skipped else 'none configured'}")
    return skipped


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UttSpec:
    """Everything needed to render one utterance, drawn while planning so rendering is deterministic."""

    id: str
    split: str
    voice: Voice
    spoken: str
    text: str
    rate: float  # speaking-rate factor (1 = the voice's default)
    pitch: float  # espeak/mbrola: espeak's 0-99 pitch; rhvoice/pico: percent; others: a shift in cents (sox)
    speed: float  # sox speed factor (tempo and pitch together), 1: none
    channel: tuple  # asr.data.channel steps: room, noise, device, codec, level, vocal tract
    seed: int  # the neural engines' sampling seed
    f0_mean: float | None = None  # flite/festival: target mean F0 of the intonation model (Hz); None: the voice's


JOB_SIZE = 24
SECONDS_PER_WORD = 0.33  # measured over the voices and rates (silences included), used to plan the hours


def _draw_pitch(engine: str, split: str, rng: np.random.Generator) -> float:
    if engine in ("espeak", "mbrola"):
        return float(rng.uniform(30, 70))
    if engine in ("rhvoice", "pico"):
        return float(rng.uniform(85, 120))
    if engine in ("kokoro", "hibari"):
        return float(rng.uniform(*NEURAL_PITCH_CENTS)) if split == "train" else 0.0
    return float(rng.uniform(*(TRAIN_PITCH_CENTS if split == "train" else HELD_OUT_PITCH_CENTS)))


# People also say single words, short phrases and letters, which a corpus of 5-14-word sentences never has:
# train gets some of each, cut from its own sentences (dev and test keep whole unseen sentences).
TRAIN_SHORT_SHARE = 0.10  # a span of 1-3 words of the sentence
TRAIN_LETTERS_SHARE = 0.02  # 1-3 letters of the alphabet, spelled


def _maybe_short(sentence: Sentence, rng: np.random.Generator) -> Sentence:
    draw = rng.random()
    words = sentence.text.split()
    if draw < TRAIN_LETTERS_SHARE:
        letters = [chr(ord("a") + int(i)) for i in rng.integers(0, 26, int(rng.integers(1, 4)))]
        return Sentence(", ".join(x.upper() for x in letters) + ".", " ".join(letters))
    if draw < TRAIN_LETTERS_SHARE + TRAIN_SHORT_SHARE:
        size = int(rng.integers(1, 4))
        start = int(rng.integers(0, max(1, len(words) - size + 1)))
        span = " ".join(words[start:start + size])
        return Sentence(span[0].upper() + span[1:] + ".", span)
    return sentence


def make_plan(config: SyntheticConfig, sentences: dict[str, list[Sentence]],
              voices: dict[str, list[Voice]] | None = None) -> list[UttSpec]:
    voices = voices if voices is not None else split_voices(config.engines)
    channel_config = ChannelConfig(families=tuple(config.augment))
    fractions = {"dev": config.dev_fraction, "test": config.test_fraction}
    fractions["train"] = 1.0 - fractions["dev"] - fractions["test"]
    plan: list[UttSpec] = []
    for k, split in enumerate(SPLITS):
        rng = np.random.default_rng([config.seed, 2, k])
        channel_rng = np.random.default_rng([config.seed, 3, k])  # its own stream: ablations keep the rest
        budget = config.hours * 3600 * fractions[split]
        pool = sentences[split]
        order = rng.permutation(len(pool))
        engine_share = TRAIN_ENGINE_SHARE if split == "train" else ENGINE_SHARE
        engines = [e for e in engine_share if e in config.engines and any(v.engine == e for v in voices[split])]
        shares = np.array([engine_share[e] for e in engines])
        total = 0.0
        n = 0
        while total < budget or n == 0:
            sentence = pool[order[n % len(pool)]]  # every sentence once before any repeats
            if split == "train":
                sentence = _maybe_short(sentence, rng)
            engine = engines[rng.choice(len(engines), p=shares / shares.sum())]
            candidates = [v for v in voices[split] if v.engine == engine]
            voice = candidates[rng.integers(len(candidates))]
            rate = float(rng.uniform(0.85, 1.2))
            pitch = _draw_pitch(engine, split, rng)
            speed = float(rng.uniform(0.9, 1.1)) if rng.random() < 0.3 else 1.0
            f0_mean = None
            if split == "train" and engine in ("flite", "festival") and rng.random() < TRAIN_HIGH_F0_SHARE:
                f0_mean = float(rng.uniform(*TRAIN_HIGH_F0_HZ))
            plan.append(UttSpec(f"{config.id_prefix}{split}-{n:06d}", split, voice, sentence.spoken, sentence.text,
                                rate, pitch, round(speed, 3), draw_channel(channel_rng, channel_config),
                                int(rng.integers(2**31)), f0_mean))
            total += len(sentence.text.split()) * SECONDS_PER_WORD / rate / speed
            n += 1
    return plan


# --- rendering -----------------------------------------------------------------------------------


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


Raw = tuple[np.ndarray, int]  # TTS output: float audio and its sample rate


def _read(wav: Path) -> Raw:
    import soundfile

    audio, rate = soundfile.read(str(wav), dtype="float64", always_2d=True)
    return audio.mean(axis=1), rate


def _tts(specs: list[UttSpec], tmp: Path) -> dict[str, Raw | str]:
    """Raw TTS output per utterance id: (audio, rate), or the error text."""
    out: dict[str, Raw | str] = {}
    for spec in specs:
        engine, wav = spec.voice.engine, tmp / f"{spec.id}.tts.wav"
        try:
            if engine == "kokoro":
                out[spec.id] = (voices_lib.kokoro_speak(spec.voice.name, spec.spoken, spec.rate),
                                voices_lib.KOKORO_RATE)
                continue
            if engine == "hibari":
                out[spec.id] = voices_lib.hibari_speak(spec.voice.name, spec.spoken, spec.rate, spec.seed)
                continue
        except Exception as err:  # a neural engine's failure is one utterance's failure, reported as such
            out[spec.id] = f"{engine} failed: {type(err).__name__}: {err}"
            continue
        stdin = None
        if engine in ("espeak", "mbrola"):
            cmd = voices_lib.espeak_command(spec.voice, spec.spoken, spec.rate, spec.pitch, wav)
        elif engine == "rhvoice":
            cmd, stdin = voices_lib.rhvoice_command(spec.voice, spec.rate, spec.pitch, wav), spec.spoken
        elif engine == "pico":
            cmd = voices_lib.pico_command(spec.voice, spec.spoken, spec.rate, spec.pitch, wav)
        elif engine == "flite":
            cmd = ["flite", "-voice", spec.voice.name, "--setf", f"duration_stretch={1 / spec.rate:.3f}"]
            if spec.f0_mean is not None:
                cmd += ["--setf", f"int_f0_target_mean={spec.f0_mean:.0f}",
                        "--setf", f"int_f0_target_stddev={0.15 * spec.f0_mean:.0f}"]
            cmd += ["-t", spec.spoken, "-o", str(wav)]
        else:
            continue  # festival: below, one process per voice
        problem = voices_lib.run_quietly(cmd, stdin)
        out[spec.id] = _read(wav) if problem is None and wav.exists() else (problem or f"{engine} wrote no audio")
    # Festival takes ~0.4 s to start and load a voice: one process renders all of a job's festival lines.
    festival = [s for s in specs if s.voice.engine == "festival"]
    for voice in sorted({s.voice.name for s in festival}):
        lines = [f"(voice_{voice})", "(set! asr_voice_lr_params int_lr_params)"]
        mine = [s for s in festival if s.voice.name == voice]
        for spec in mine:
            wav = tmp / f"{spec.id}.tts.wav"
            lines.append(f"(Parameter.set 'Duration_Stretch {1 / spec.rate:.3f})")
            if spec.f0_mean is None:
                lines.append("(set! int_lr_params asr_voice_lr_params)")
            else:
                lines.append(f"(set! int_lr_params '((target_f0_mean {spec.f0_mean:.0f}) (target_f0_std "
                             f"{0.15 * spec.f0_mean:.0f}) (model_f0_mean 170) (model_f0_std 34)))")
            lines.append(f"(utt.save.wave (SynthText {_scheme_string(spec.spoken)}) {_scheme_string(str(wav))} 'riff)")
        script = tmp / f"festival-{voice}.scm"
        script.write_text("\n".join(lines) + "\n")
        result = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True)
        for spec in mine:
            wav = tmp / f"{spec.id}.tts.wav"
            out[spec.id] = _read(wav) if wav.exists() else f"festival failed: {result.stderr.strip()[-300:]}"
    return out


def _sox(audio: np.ndarray, rate: int, effects: list[str]) -> np.ndarray:
    """Run float audio through sox effects (the output is at the rate the effects end with)."""
    cmd = ["sox", "-D", "-t", "raw", "-r", str(rate), "-e", "floating-point", "-b", "32", "-c", "1", "-",
           "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-", *effects]
    result = subprocess.run(cmd, input=audio.astype(np.float32).tobytes(), capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"sox failed: {result.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(result.stdout, dtype=np.float32).astype(np.float64)


def _trim_silence(audio: np.ndarray, rate: int, keep_s: float = 0.15) -> np.ndarray:
    """Cut leading and trailing silence down to ``keep_s`` (engines pad differently; rooms and noise then
    decide what the edges sound like)."""
    level = np.abs(audio)
    loud = np.flatnonzero(level > 0.02 * level.max())
    if loud.size == 0:
        return audio
    keep = int(keep_s * rate)
    return audio[max(0, loud[0] - keep):loud[-1] + keep]


def render(spec: UttSpec, raw: Raw, sample_rate: int, babble: np.ndarray | None = None) -> np.ndarray:
    """The TTS output through pitch and speed change (sox), resampled to ``sample_rate``, then the channel."""
    audio, rate = raw
    effects: list[str] = []
    if spec.voice.engine in ("flite", "festival", "kokoro", "hibari") and abs(spec.pitch) >= 1:
        effects += ["pitch", f"{spec.pitch:.0f}"]
    if spec.speed != 1.0:
        effects += ["speed", f"{spec.speed:.3f}"]
    audio = _sox(audio, rate, [*effects, "rate", "-v", str(sample_rate)])
    if audio.size == 0 or not np.any(audio):
        raise RuntimeError("the voice produced no audio")
    audio = _trim_silence(audio, sample_rate)
    return apply_channel(audio, sample_rate, spec.channel, babble)


def _render_job(args: tuple[list[UttSpec], str, int]) -> list[tuple[str, str | None]]:
    """Render one job's utterances that are not on disk yet. Returns (id, error or None) per utterance."""
    import soundfile
    import torch

    torch.set_num_threads(1)  # one process per core already
    specs, out_dir, sample_rate = args
    todo = [s for s in specs if not _audio_path(Path(out_dir), s).exists()]
    results = [(s.id, None) for s in specs if s not in todo]
    if not todo:
        return results
    babble = _babble(out_dir)
    with tempfile.TemporaryDirectory(prefix="asr-synth-") as tmp:
        raw = _tts(todo, Path(tmp))
        for spec in todo:
            tts = raw.get(spec.id, f"{spec.voice.engine}: no output")
            if isinstance(tts, str):
                results.append((spec.id, tts))
                continue
            try:
                audio = render(spec, tts, sample_rate, babble)
            except (RuntimeError, OSError, ValueError, subprocess.CalledProcessError) as err:
                results.append((spec.id, str(err)))
                continue
            with atomic_path(_audio_path(Path(out_dir), spec)) as tmp_path:
                soundfile.write(str(tmp_path), audio, sample_rate, format="FLAC", subtype="PCM_16")
            results.append((spec.id, None))
    return results


def _audio_path(out: Path, spec: UttSpec) -> Path:
    return out / "audio" / spec.split / f"{spec.id}.flac"


# --- babble: other people talking ------------------------------------------------------------------

BABBLE_SENTENCES = 60


@functools.lru_cache(maxsize=2)
def _babble(out_dir: str) -> np.ndarray | None:
    import soundfile

    path = Path(out_dir) / "noise" / "babble.flac"
    return soundfile.read(str(path), dtype="float64")[0] if path.exists() else None


def make_babble(out: Path, config: SyntheticConfig, sentences: list[Sentence]) -> Path:
    """A recording of many voices each reading a sentence, one after another (about 3 minutes): babble noise
    is cut from it, several stretches summed. Train-side sentences and fast train voices (espeak, MBROLA,
    pico, RHVoice) only, so no dev or test sentence is heard, even as noise."""
    import soundfile

    path = out / "noise" / "babble.flac"
    if path.exists():
        return path
    rng = np.random.default_rng([config.seed, 4])
    talkers = [v for v in voices_lib.voices("train", ("espeak", "mbrola", "pico", "rhvoice"))]
    if not talkers:
        raise ASRError("no fast train voice available for babble noise (install espeak-ng)")
    pieces = []
    with tempfile.TemporaryDirectory(prefix="asr-babble-") as tmp:
        for i in range(BABBLE_SENTENCES):
            sentence = sentences[int(rng.integers(len(sentences)))]
            voice = talkers[int(rng.integers(len(talkers)))]
            spec = UttSpec(f"babble-{i:03d}", "train", voice, sentence.spoken, sentence.text, 1.0,
                           50.0 if voice.engine in ("espeak", "mbrola") else 100.0, 1.0, (), 0)
            raw = _tts([spec], Path(tmp)).get(spec.id)
            if isinstance(raw, tuple):
                audio = _sox(raw[0], raw[1], ["rate", "-v", str(config.sample_rate)])
                pieces.append(audio / (np.abs(audio).max() + 1e-9))
    if not pieces:
        raise ASRError("could not render any babble sentence")
    with atomic_path(path) as tmp_path:
        soundfile.write(str(tmp_path), 0.5 * np.concatenate(pieces), config.sample_rate, format="FLAC",
                        subtype="PCM_16")
    return path


# --- the corpus ----------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def oov_rate(texts: list[str], vocabulary: set[str]) -> float:
    words = [w for t in texts for w in t.split()]
    return sum(w not in vocabulary for w in words) / max(1, len(words))


def generate(out: str | os.PathLike, config: SyntheticConfig | None = None, progress: bool = True) -> dict:
    """Generate the corpus into ``out``; returns the statistics also written to ``out/corpus.json``.

    Utterances that fail are left out of the manifests and listed in the statistics' ``failures``
    (id → problem); a rerun retries them.
    """
    from multiprocessing import get_context

    import soundfile
    from tqdm import tqdm

    config = config or SyntheticConfig()
    if config.hours <= 0:
        raise ValueError(f"hours must be positive, not {config.hours}")
    unknown = set(config.engines) - set(voices_lib.ENGINES)
    if unknown:
        raise ValueError(f"unknown engine {', '.join(sorted(unknown))}; choose among {', '.join(voices_lib.ENGINES)}")
    for line in check_tools(config.engines):
        print(f"asr prep synthetic: {line}", file=sys.stderr)
    out = Path(out)
    sentences = split_sentences(load_sentences(config), config)
    voices = split_voices(config.engines)
    plan = make_plan(config, sentences, voices)
    settings = {k: v for k, v in asdict(config).items() if k != "workers"}
    settings["voices"] = {split: [v.id for v in vs] for split, vs in voices.items()}
    # The plan's digest too: files from a plan made by another version of this code must not be reused.
    settings["plan_sha256"] = hashlib.sha256(json.dumps([asdict(spec) for spec in plan]).encode()).hexdigest()
    settings = json.loads(json.dumps(settings))  # tuples as lists, as they read back
    settings_path = out / "settings.json"
    if settings_path.exists() and json.loads(settings_path.read_text()) != settings:
        raise InputError(out, "holds a corpus generated with other settings or by another version of this "
                              "generator; delete it or choose another folder")
    for split in SPLITS:
        (out / "audio" / split).mkdir(parents=True, exist_ok=True)
    _write_text(settings_path, json.dumps(settings, indent=1) + "\n")
    if "noise" in config.augment:
        make_babble(out, config, sentences["train"])

    # Jobs hold utterances of one voice (festival starts once per job: ~0.4 s to load a voice), small enough
    # to keep every worker busy to the end.
    by_voice: dict[str, list[UttSpec]] = {}
    for spec in plan:
        by_voice.setdefault(spec.voice.id, []).append(spec)
    jobs = [(specs[i:i + JOB_SIZE], str(out), config.sample_rate)
            for specs in by_voice.values() for i in range(0, len(specs), JOB_SIZE)]
    slowest_first = {"kokoro": 0, "festival": 1}
    jobs.sort(key=lambda job: slowest_first.get(job[0][0].voice.engine, 2))
    failures: dict[str, str] = {}
    with tqdm(total=len(plan), unit="utt", desc="synthesising", disable=not progress, file=sys.stderr) as bar:
        if config.workers <= 1:
            results = map(_render_job, jobs)
            for job_results in results:
                failures.update({i: e for i, e in job_results if e})
                bar.update(len(job_results))
        else:
            with get_context("fork").Pool(config.workers) as pool:
                for job_results in pool.imap_unordered(_render_job, jobs):
                    failures.update({i: e for i, e in job_results if e})
                    bar.update(len(job_results))

    manifests: dict[str, list[Utterance]] = {split: [] for split in SPLITS}
    for spec in plan:
        if spec.id in failures:
            continue
        path = _audio_path(out, spec)
        info = soundfile.info(str(path))
        manifests[spec.split].append(Utterance(spec.id, str(path), info.frames / info.samplerate, spec.text,
                                               spec.voice.id))
    for split, utts in manifests.items():
        write_manifest(out / f"{split}.jsonl", utts)
    _write_text(out / "lm_text.txt", "".join(s.text + "\n" for s in sorted(sentences["train"], key=lambda s: s.text)))

    lm_vocab = {w for s in sentences["train"] for w in s.text.split()}
    train_vocab = {w for u in manifests["train"] for w in u.text.split()}
    stats = {
        "text_source": "WordNet 3.0 usage examples (Debian wordnet-base)",
        "sentence_pool": {split: len(s) for split, s in sentences.items()},
        "lm_text_vocabulary": len(lm_vocab),
        "splits": {split: {
            "utterances": len(utts), "hours": round(sum(u.duration for u in utts) / 3600, 4),
            "speakers": sorted({u.speaker for u in utts}), "sentences": len({u.text for u in utts}),
            "hours_by_engine": {e: round(sum(u.duration for u in utts if u.speaker.split(":")[0] == e) / 3600, 4)
                                for e in sorted({u.speaker.split(":")[0] for u in utts})},
            "vocabulary": len({w for u in utts for w in u.text.split()}),
            "oov_vs_lm_text": round(oov_rate([u.text for u in utts], lm_vocab), 5),
            "oov_vs_train_audio": round(oov_rate([u.text for u in utts], train_vocab), 5),
        } for split, utts in manifests.items()},
        "failures": dict(sorted(failures.items())),
        "settings": settings,
    }
    _write_text(out / "corpus.json", json.dumps(stats, indent=1) + "\n")
    return stats


# --- `asr prep synthetic` ------------------------------------------------------------------------


def _names(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                                         f"choose among {', '.join(allowed)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SyntheticConfig()
    parser.add_argument("out", nargs="?", help="corpus folder (created, or resumed when it holds the same settings)")
    parser.add_argument("--hours", type=float, default=d.hours, help="hours of audio over all splits")
    parser.add_argument("--seed", type=int, default=d.seed, help="fixes sentences, voices and effects")
    parser.add_argument("--workers", type=int, default=d.workers, help="parallel processes")
    parser.add_argument("--dev-fraction", type=float, default=d.dev_fraction, help="share of the hours for dev")
    parser.add_argument("--test-fraction", type=float, default=d.test_fraction, help="share of the hours for test")
    parser.add_argument("--engines", type=lambda t: _names(t, voices_lib.ENGINES, "engine"), default=d.engines,
                        help=f"comma-separated TTS engines (default {','.join(d.engines)}; "
                             f"all: {','.join(voices_lib.ENGINES)})")
    parser.add_argument("--augment", type=lambda t: () if t == "none" else _names(t, FAMILIES, "family"),
                        default=d.augment, help=f"comma-separated channel families, or none (default "
                                                f"{','.join(d.augment)})")
    parser.add_argument("--id-prefix", default=d.id_prefix, help="prepended to every utterance id")
    parser.add_argument("--list-voices", action="store_true",
                        help="print every voice (engine, id, split, gender, accent, availability, licence) and exit")


def run(args: argparse.Namespace) -> int:
    if args.list_voices:
        print("engine\tvoice\tsplit\tgender\taccent\tavailable\tlicence")
        print("\n".join(voices_lib.list_voices()))
        return 0
    if not args.out:
        print("asr prep synthetic: the corpus folder OUT is required (or --list-voices)", file=sys.stderr)
        return 2
    config = SyntheticConfig(hours=args.hours, seed=args.seed, workers=args.workers,
                             dev_fraction=args.dev_fraction, test_fraction=args.test_fraction,
                             engines=tuple(args.engines), augment=tuple(args.augment), id_prefix=args.id_prefix)
    stats = generate(args.out, config)
    for utt_id, problem in stats["failures"].items():
        print(f"asr prep synthetic: {utt_id}: {problem}", file=sys.stderr)
    parts = ", ".join(f"{s} {v['utterances']} utts / {v['hours']:.2f} h" for s, v in stats["splits"].items())
    print(f"wrote {parts} to {args.out} (train.jsonl, dev.jsonl, test.jsonl, lm_text.txt, corpus.json); "
          f"test OOV vs LM text {100 * stats['splits']['test']['oov_vs_lm_text']:.2f}%"
          + (f"; {len(stats['failures'])} failed (a rerun retries them)" if stats["failures"] else ""))
    return 1 if stats["failures"] else 0

