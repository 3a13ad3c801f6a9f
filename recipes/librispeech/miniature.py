"""A miniature LibriSpeech in the official layout, made here with espeak-ng: to try the recipe, and for CI.

    .venv/bin/python recipes/librispeech/miniature.py data/mini [--utterances 24] [--seed 0]
    recipes/librispeech/run.sh recipe.root=data/mini recipe.lm_dir=data/mini/lm model=tiny ...

writes, as the official archives unpack (openslr.org resources 11 and 12):

    OUT/LibriSpeech/SPEAKERS.TXT, CHAPTERS.TXT
    OUT/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac   16 kHz, 16-bit
    OUT/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt    "<ID> UPPER CASE TEXT" lines
    OUT/lm/librispeech-lm-norm.txt.gz                                            upper case, a sentence a line

for all seven subsets: three speakers (each an espeak-ng voice) of two chapters each, ``--utterances`` per
subset; the "other" subsets get noise at 10-20 dB SNR. Sentences are WordNet's usage examples (as the generated
default corpus uses them): the dev and test subsets' sentences occur in no train subset and not in the LM text.
Deterministic for a seed. A few seconds for the default size.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere in the checkout

from data_prep.librispeech import SUBSETS  # noqa: E402
from data_prep.synthetic import SyntheticConfig, load_sentences  # noqa: E402

VOICES = ("en-us+m3", "en-us+f2", "en-gb+m1", "en-gb+f4", "en-us+m7", "en-gb-scotland+f1", "en-us+m5",
          "en-gb-x-rp+f3", "en-029+m2", "en-us+f5", "en-gb+m4", "en-us-nyc+f1")
SPEAKERS, CHAPTERS = 3, 2
RATE = 16000


def _speak(text: str, voice: str, speed: int, tmp: Path) -> np.ndarray:
    from asr.audio import load_audio

    wav = tmp / "say.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    return load_audio(wav, RATE)


def make_miniature(out: Path, utterances: int = 24, seed: int = 0) -> dict[str, int]:
    """Write the tree (see the module docstring); returns utterances per subset."""
    rng = np.random.default_rng(seed)
    pool = [s.text for s in load_sentences(SyntheticConfig())]
    order = rng.permutation(len(pool))
    held_out = 4 * utterances  # dev-clean, dev-other, test-clean, test-other
    held = [pool[i] for i in order[:held_out]]
    train = [pool[i] for i in order[held_out:held_out + 3 * utterances]]
    lm_text = [pool[i] for i in order[held_out:held_out + 40 * utterances]]  # the train sentences and more
    root = out / "LibriSpeech"
    speaker_lines, chapter_lines, written = [], [], {}
    used_ids: set[int] = set()

    def new_id(low: int, high: int) -> int:
        while (value := int(rng.integers(low, high))) in used_ids:
            pass
        used_ids.add(value)
        return value

    with tempfile.TemporaryDirectory() as tmp:
        for k, subset in enumerate(SUBSETS):
            sentences = train[(k % 3) * utterances:(k % 3 + 1) * utterances] if subset.startswith("train") \
                else held[(k - 3) * utterances:(k - 2) * utterances]
            per_chapter = np.array_split(np.arange(utterances), SPEAKERS * CHAPTERS)
            for s in range(SPEAKERS):
                speaker, voice = new_id(10, 9999), VOICES[(3 * k + s) % len(VOICES)]
                sex = "F" if "+f" in voice else "M"
                minutes = 0.0
                for c in range(CHAPTERS):
                    chapter = new_id(10000, 999999)
                    folder = root / subset / str(speaker) / str(chapter)
                    folder.mkdir(parents=True, exist_ok=True)
                    lines, chapter_minutes = [], 0.0
                    for n, i in enumerate(per_chapter[s * CHAPTERS + c]):
                        utt = f"{speaker}-{chapter}-{n:04d}"
                        samples = _speak(sentences[i], voice, int(rng.integers(140, 190)), Path(tmp))
                        if "other" in subset:
                            noise = rng.standard_normal(len(samples)).astype(np.float32)
                            snr_db = rng.uniform(10, 20)
                            samples = samples + noise * np.sqrt(np.mean(samples ** 2) / 10 ** (snr_db / 10))
                        soundfile.write(folder / f"{utt}.flac", np.clip(samples, -1, 1), RATE, subtype="PCM_16")
                        lines.append(f"{utt} {sentences[i].upper()}")
                        chapter_minutes += len(samples) / RATE / 60
                    minutes += chapter_minutes
                    (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
                    chapter_lines.append(f"{chapter:<6}| {speaker:<6}| {chapter_minutes:5.2f} | {subset:<16} | "
                                         f"{chapter % 1000:<5}| {chapter % 997:<6}| Chapter {c + 1} | Generated")
                speaker_lines.append(f"{speaker:<5}| {sex} | {subset:<16} | {minutes:5.2f} | espeak-ng {voice}")
            written[subset] = utterances
    (root / "SPEAKERS.TXT").write_text(
        "; Miniature LibriSpeech generated by recipes/librispeech/miniature.py (espeak-ng voices)\n"
        ";ID  |SEX| SUBSET           |MINUTES| NAME\n" + "\n".join(speaker_lines) + "\n")
    (root / "CHAPTERS.TXT").write_text(
        ";ID    |READER|MINUTES| SUBSET           | PROJ.|BOOK ID| CH. TITLE | PROJECT TITLE\n"
        + "\n".join(chapter_lines) + "\n")
    (out / "lm").mkdir(parents=True, exist_ok=True)
    with gzip.open(out / "lm" / "librispeech-lm-norm.txt.gz", "wt") as f:
        f.write("\n".join(s.upper() for s in lm_text) + "\n")
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--utterances", type=int, default=24, help="per subset")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    written = make_miniature(args.out, args.utterances, args.seed)
    print(f"wrote a miniature LibriSpeech ({', '.join(f'{s} {n}' for s, n in written.items())} utterances) "
          f"to {args.out / 'LibriSpeech'} and its LM text to {args.out / 'lm'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
