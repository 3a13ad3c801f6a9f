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

Voices: espeak-ng English accents × voice variants, flite voices and festival voices, each an id such as
``espeak:en-gb-scotland+m4``, ``flite:awb``, ``festival:ked_diphone`` written as the line's ``speaker``. Voices are
split too: test and dev each have espeak variants that no train voice uses (on every accent), dev has
flite's rms, and test has the speaker "slt" (flite's slt and festival's cmu_us_slt_arctic_hts), who is never
heard in train or dev. So test is unseen voices reading unseen sentences.

Every utterance gets a random speaking rate and pitch, and sox effects with fixed probabilities: speed change,
band-limiting (telephone band or a low-pass), reverberation, and added white/pink/brown noise at 12-30 dB SNR.
Audio is 16 kHz mono 16-bit FLAC (lossless, ~60% of WAV's size even with the added noise; decoding it is
never the bottleneck since features are extracted once into the store).

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

from asr.data.manifest import Utterance, write_manifest
from asr.errors import ASRError, InputError

WORDNET = Path("/usr/share/wordnet")
SPLITS = ("train", "dev", "test")


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


# --- voices --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak | flite | festival
    name: str
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}" + (f"+{self.variant}" if self.variant else "")


ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc")
# Variants are held out across all accents, so a dev/test espeak voice differs from every train voice.
ESPEAK_VARIANTS = {
    "train": ("m1", "m2", "m4", "m5", "m7", "m8", "f1", "f3", "f5", "Andy", "Annie", "john", "max", "robert",
              "travis"),
    "dev": ("m6", "f4", "paul", "steph"),
    "test": ("m3", "f2", "david", "linda"),
}
FLITE_VOICES = {"train": ("kal", "kal16", "awb"), "dev": ("rms",), "test": ("slt",)}
FESTIVAL_VOICES = {"train": ("kal_diphone", "ked_diphone"), "dev": (), "test": ("cmu_us_slt_arctic_hts",)}
# Share of each split's utterances per engine (espeak is the fastest and has the most voices).
ENGINE_SHARE = {"espeak": 0.6, "flite": 0.25, "festival": 0.15}
# Training only: every flite and festival voice available for train is male, and a model trained on them (with the
# held-out split's +-250 cents) transcribed the unseen voices of those engines at 43-64% CER against 10-14% for
# unseen espeak voices. Train therefore hears those engines more often, with a wider formant and pitch shift
# (sox pitch), and half of their utterances with the intonation model's F0 target raised into the female range.
# Dev and test are drawn exactly as before, from their own random streams.
TRAIN_ENGINE_SHARE = {"espeak": 0.45, "flite": 0.33, "festival": 0.22}
TRAIN_PITCH_CENTS = (-250.0, 450.0)
HELD_OUT_PITCH_CENTS = (-250.0, 250.0)
TRAIN_HIGH_F0_SHARE = 0.5
TRAIN_HIGH_F0_HZ = (170.0, 250.0)


def split_voices() -> dict[str, list[Voice]]:
    voices = {}
    for split in SPLITS:
        voices[split] = ([Voice("espeak", a, v) for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS[split]]
                         + [Voice("flite", v) for v in FLITE_VOICES[split]]
                         + [Voice("festival", v) for v in FESTIVAL_VOICES[split]])
    return voices


def check_tools() -> None:
    for tool, package in (("espeak-ng", "espeak-ng"), ("flite", "flite"), ("festival", "festival"), ("sox", "sox")):
        if shutil.which(tool) is None:
            raise ASRError(f"{tool} not found: install the Debian package {package} (`make install` does)")
    for name in FESTIVAL_VOICES["train"] + FESTIVAL_VOICES["test"]:
        if not list(Path("/usr/share/festival/voices").glob(f"*/{name}")):
            raise ASRError(f"festival voice {name} not found: install festvox-kallpc16k, festvox-kdlpc16k and "
                           "festvox-us-slt-hts (`make install` does)")


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
    pitch: float  # espeak: its 0-99 pitch; others: a shift in cents applied with sox
    effects: tuple[str, ...]  # sox effects: speed first, the rest after resampling to the output rate
    noise_snr: float | None  # dB, None: no noise
    noise_color: float  # spectral slope: 0 white, 1 pink, 2 brown
    peak_db: float  # output peak level, dBFS
    noise_seed: int
    f0_mean: float | None = None  # flite/festival: target mean F0 of the intonation model (Hz); None: the voice's


JOB_SIZE = 24
SECONDS_PER_WORD = 0.33  # measured over the voices and rates (silences included), used to plan the hours


def _draw_effects(rng: np.random.Generator) -> tuple[list[str], float]:
    """Random sox effects, and the speed factor among them (it changes the duration)."""
    effects: list[str] = []
    speed = 1.0
    if rng.random() < 0.3:
        speed = float(rng.uniform(0.9, 1.1))
        effects += ["speed", f"{speed:.3f}"]
    if rng.random() < 0.25:
        if rng.random() < 0.5:
            effects += ["sinc", "300-3400"]  # telephone band
        else:
            effects += ["lowpass", str(int(rng.integers(3000, 7000)))]
    if rng.random() < 0.3:
        effects += ["reverb", str(int(rng.integers(10, 60))), "50", str(int(rng.integers(10, 80)))]
    return effects, speed


def make_plan(config: SyntheticConfig, sentences: dict[str, list[Sentence]]) -> list[UttSpec]:
    voices = split_voices()
    fractions = {"dev": config.dev_fraction, "test": config.test_fraction}
    fractions["train"] = 1.0 - fractions["dev"] - fractions["test"]
    plan: list[UttSpec] = []
    for k, split in enumerate(SPLITS):
        rng = np.random.default_rng([config.seed, 2, k])
        budget = config.hours * 3600 * fractions[split]
        pool = sentences[split]
        order = rng.permutation(len(pool))
        engine_share = TRAIN_ENGINE_SHARE if split == "train" else ENGINE_SHARE
        engines = [e for e in engine_share if any(v.engine == e for v in voices[split])]
        shares = np.array([engine_share[e] for e in engines])
        total = 0.0
        n = 0
        while total < budget or n == 0:
            sentence = pool[order[n % len(pool)]]  # every sentence once before any repeats
            engine = engines[rng.choice(len(engines), p=shares / shares.sum())]
            candidates = [v for v in voices[split] if v.engine == engine]
            voice = candidates[rng.integers(len(candidates))]
            rate = float(rng.uniform(0.85, 1.2))
            cents = TRAIN_PITCH_CENTS if split == "train" else HELD_OUT_PITCH_CENTS
            pitch = float(rng.uniform(30, 70)) if engine == "espeak" else float(rng.uniform(*cents))
            effects, speed = _draw_effects(rng)
            snr = float(rng.uniform(12, 30)) if rng.random() < 0.5 else None
            colour, peak, noise_seed = float(rng.choice([0.0, 1.0, 2.0])), float(rng.uniform(-9, -1)), \
                int(rng.integers(2**31))
            f0_mean = None
            if split == "train" and engine != "espeak" and rng.random() < TRAIN_HIGH_F0_SHARE:
                f0_mean = float(rng.uniform(*TRAIN_HIGH_F0_HZ))
            plan.append(UttSpec(f"{split}-{n:06d}", split, voice, sentence.spoken, sentence.text, rate, pitch,
                                tuple(effects), snr, colour, peak, noise_seed, f0_mean))
            total += len(sentence.text.split()) * SECONDS_PER_WORD / rate / speed
            n += 1
    return plan


# --- rendering -----------------------------------------------------------------------------------


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tts(specs: list[UttSpec], tmp: Path) -> dict[str, Path | str]:
    """Raw TTS output per utterance id: a wav path, or the error text."""
    out: dict[str, Path | str] = {}
    festival = [s for s in specs if s.voice.engine == "festival"]
    for spec in specs:
        wav = tmp / f"{spec.id}.tts.wav"
        if spec.voice.engine == "espeak":
            wpm = int(round(165 * spec.rate))
            cmd = ["espeak-ng", "-v", f"{spec.voice.name}+{spec.voice.variant}", "-s", str(wpm),
                   "-p", str(int(spec.pitch)), "-w", str(wav), spec.spoken]
        elif spec.voice.engine == "flite":
            cmd = ["flite", "-voice", spec.voice.name, "--setf", f"duration_stretch={1 / spec.rate:.3f}"]
            if spec.f0_mean is not None:
                cmd += ["--setf", f"int_f0_target_mean={spec.f0_mean:.0f}",
                        "--setf", f"int_f0_target_stddev={0.15 * spec.f0_mean:.0f}"]
            cmd += ["-t", spec.spoken, "-o", str(wav)]
        else:
            continue
        result = subprocess.run(cmd, capture_output=True, text=True)
        out[spec.id] = wav if result.returncode == 0 and wav.exists() else (
            f"{cmd[0]} failed: {result.stderr.strip()[-300:]}")
    # Festival takes ~0.4 s to start and load a voice: one process renders all of a job's festival lines.
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
            out[spec.id] = wav if wav.exists() else f"festival failed: {result.stderr.strip()[-300:]}"
    return out


def _colored_noise(n: int, color: float, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if color == 0.0:
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / freqs ** (color / 2), n)
    return noise / (noise.std() + 1e-12)


def render(spec: UttSpec, wav: Path, sample_rate: int) -> np.ndarray:
    """Apply the utterance's sox effects, noise and level to the TTS output; float32 at ``sample_rate``."""
    before = ["pitch", f"{spec.pitch:.0f}"] if spec.voice.engine != "espeak" and abs(spec.pitch) >= 1 else []
    after = list(spec.effects)
    if "speed" in after:  # speed changes the rate: it goes before resampling to the output rate
        k = after.index("speed")
        before += after[k:k + 2]
        del after[k:k + 2]
    # Filters and reverb act at the output rate (an 8 kHz voice cannot take a 7 kHz low-pass).
    cmd = ["sox", "-D", str(wav), "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-",
           *before, "rate", "-v", str(sample_rate), *after]
    result = subprocess.run(cmd, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"sox failed: {result.stderr.decode(errors='replace').strip()[-300:]}")
    audio = np.frombuffer(result.stdout, dtype=np.float32).astype(np.float64)
    if audio.size == 0 or not np.any(audio):
        raise RuntimeError("the voice produced no audio")
    rng = np.random.default_rng(spec.noise_seed)
    if spec.noise_snr is not None:
        rms = np.sqrt(np.mean(audio**2))
        audio = audio + _colored_noise(audio.size, spec.noise_color, rng) * rms / 10 ** (spec.noise_snr / 20)
    audio *= 10 ** (spec.peak_db / 20) / np.abs(audio).max()
    return audio.astype(np.float32)


def _render_job(args: tuple[list[UttSpec], str, int]) -> list[tuple[str, str | None]]:
    """Render one job's utterances that are not on disk yet. Returns (id, error or None) per utterance."""
    import soundfile

    specs, out_dir, sample_rate = args
    todo = [s for s in specs if not _audio_path(Path(out_dir), s).exists()]
    results = [(s.id, None) for s in specs if s not in todo]
    if not todo:
        return results
    with tempfile.TemporaryDirectory(prefix="asr-synth-") as tmp:
        raw = _tts(todo, Path(tmp))
        for spec in todo:
            wav = raw[spec.id]
            if isinstance(wav, str):
                results.append((spec.id, wav))
                continue
            try:
                audio = render(spec, wav, sample_rate)
            except (RuntimeError, OSError) as err:
                results.append((spec.id, str(err)))
                continue
            path = _audio_path(Path(out_dir), spec)
            tmp_path = path.with_name(f".{path.name}.tmp{os.getpid()}")
            soundfile.write(str(tmp_path), audio, sample_rate, format="FLAC", subtype="PCM_16")
            os.replace(tmp_path, path)
            results.append((spec.id, None))
    return results


def _audio_path(out: Path, spec: UttSpec) -> Path:
    return out / "audio" / spec.split / f"{spec.id}.flac"


# --- the corpus ----------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


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
    check_tools()
    out = Path(out)
    sentences = split_sentences(load_sentences(config), config)
    plan = make_plan(config, sentences)
    settings = {k: v for k, v in asdict(config).items() if k != "workers"}
    # The plan's digest too: files from a plan made by another version of this code must not be reused.
    settings["plan_sha256"] = hashlib.sha256(json.dumps([asdict(spec) for spec in plan]).encode()).hexdigest()
    settings_path = out / "settings.json"
    if settings_path.exists() and json.loads(settings_path.read_text()) != settings:
        raise InputError(out, "holds a corpus generated with other settings or by another version of this "
                              "generator; delete it or choose another folder")
    for split in SPLITS:
        (out / "audio" / split).mkdir(parents=True, exist_ok=True)
    _write_text(settings_path, json.dumps(settings, indent=1) + "\n")

    # Jobs hold utterances of one voice (festival starts once per job: ~0.4 s to load a voice), small enough
    # to keep every worker busy to the end.
    by_voice: dict[str, list[UttSpec]] = {}
    for spec in plan:
        by_voice.setdefault(spec.voice.id, []).append(spec)
    jobs = [(specs[i:i + JOB_SIZE], str(out), config.sample_rate)
            for specs in by_voice.values() for i in range(0, len(specs), JOB_SIZE)]
    jobs.sort(key=lambda job: job[0][0].voice.engine != "festival")  # the slowest jobs first
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SyntheticConfig()
    parser.add_argument("out", help="corpus folder (created, or resumed when it holds the same settings)")
    parser.add_argument("--hours", type=float, default=d.hours, help="hours of audio over all splits")
    parser.add_argument("--seed", type=int, default=d.seed, help="fixes sentences, voices and effects")
    parser.add_argument("--workers", type=int, default=d.workers, help="parallel processes")
    parser.add_argument("--dev-fraction", type=float, default=d.dev_fraction, help="share of the hours for dev")
    parser.add_argument("--test-fraction", type=float, default=d.test_fraction, help="share of the hours for test")


def run(args: argparse.Namespace) -> int:
    config = SyntheticConfig(hours=args.hours, seed=args.seed, workers=args.workers,
                             dev_fraction=args.dev_fraction, test_fraction=args.test_fraction)
    stats = generate(args.out, config)
    for utt_id, problem in stats["failures"].items():
        print(f"asr prep synthetic: {utt_id}: {problem}", file=sys.stderr)
    parts = ", ".join(f"{s} {v['utterances']} utts / {v['hours']:.2f} h" for s, v in stats["splits"].items())
    print(f"wrote {parts} to {args.out} (train.jsonl, dev.jsonl, test.jsonl, lm_text.txt, corpus.json); "
          f"test OOV vs LM text {100 * stats['splits']['test']['oov_vs_lm_text']:.2f}%"
          + (f"; {len(stats['failures'])} failed (a rerun retries them)" if stats["failures"] else ""))
    return 1 if stats["failures"] else 0

