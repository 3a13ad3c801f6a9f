"""Decoder speed and accuracy: our beam search (flashlight-text + KenLM) against pyctcdecode and greedy decoding,
on the same log-probs with the same 4-gram LM.

Real-time factor on one core (decoding seconds per second of audio, median of interleaved rounds; lower is
faster) and WER of each decoder, and the LM load time. Writes bench/results/decode.json.

    .venv/bin/python bench/decode.py                      # constructed log-probs (the default; no model needed)
    .venv/bin/python bench/decode.py --log-probs CACHE.pt --lm-text TEXT...   # a model's cached log-probs
    .venv/bin/python bench/decode.py --model M.pt --manifest test.jsonl --lm-text TEXT... [--alpha A --beta B]

Constructed log-probs (until a trained model exists): sentences of the Debian `fortunes` package, normalised with
asr.text. The test sentences are held out of the LM text. Each sentence becomes CTC posteriors with a realistic
peaky shape: one or two frames per character at 40 ms per frame, blanks between, random logit noise in every
frame, and injected errors: a character replaced by a similar-sounding one (the true one keeps the second-highest
score), dropped, or doubled. Greedy decoding of them has a WER of roughly 15%.

pyctcdecode pins numpy<2, so it runs in its own virtual environment (made on first use under
$ASR_CACHE_DIR/bench-venv-pyctcdecode: pyctcdecode, numpy<2, and the kenlm Python module built from its sdist,
about two minutes) in a subprocess that reads the log-probs from a file; its timing is taken inside that process.
It gets the same alpha/beta (both weigh natural-log LM scores), beam width and vocabulary as ours, and the LM as
lmplz wrote it (our decoder's binary sets log10 P(<unk>) = 0, see asr/decoding/lm.py; pyctcdecode has its own
unknown-word offset).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_results_name_argument, machine, print_table, single_thread, write_results  # noqa: E402

single_thread()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from asr.decoding import BeamSearchConfig, BeamSearchDecoder, LogProbCache, greedy_decode, tune_alpha_beta  # noqa: E402
from asr.decoding import beam as beam_module  # noqa: E402
from asr.decoding.kenlm_tools import cache_dir, kenlm_tools  # noqa: E402
from asr.decoding.lm import LMBuildConfig, build_lm, load_lm  # noqa: E402
from asr.errors import ASRError  # noqa: E402
from asr.metrics import ErrorRateAccumulator  # noqa: E402
from asr.text import CharTokenizer, normalize_text, tokenizer_from_dict  # noqa: E402

FORTUNES = Path("/usr/share/games/fortunes")
FRAME_SHIFT = 0.04  # 10 ms hop x 4 (the model's subsampling)
PYCTC_PACKAGES = ["numpy<2", "pyctcdecode==0.5.0", "kenlm==0.3.0"]
# Similar-sounding (or similar-looking) characters a weak acoustic model confuses; "" drops the character.
CONFUSIONS = {"a": "e", "e": "i", "i": "e", "o": "u", "u": "o", "b": "p", "p": "b", "d": "t", "t": "d", "g": "k",
              "k": "c", "c": "k", "s": "z", "z": "s", "f": "v", "v": "f", "m": "n", "n": "m", "l": "r", "r": "l",
              "w": "v", "y": "i", "h": "", "j": "g", "q": "k", "x": "s", "'": ""}


# --- data ---------------------------------------------------------------------------------------------------------

def fortune_sentences() -> list[str]:
    if not FORTUNES.is_dir():
        raise ASRError(f"{FORTUNES} not found: install Debian's `fortunes` package (make install does)")
    sentences = []
    for path in sorted(FORTUNES.iterdir()):
        if path.suffix or path.name in ("art", "ascii-art") or not path.is_file():
            continue
        for quote in path.read_text(errors="ignore").split("\n%\n"):
            for raw in re.split(r"(?<=[.!?])\s+", " ".join(quote.split())):
                text = normalize_text(raw)
                if 3 <= len(text.split()) <= 30:
                    sentences.append(text)
    random.Random(0).shuffle(sentences)
    return sentences


def constructed_log_probs(text: str, tokenizer, rng: np.random.Generator, p_sub: float = 0.02,
                          p_del: float = 0.008, p_dup: float = 0.005) -> np.ndarray:
    """Peaky CTC log-probs (T, V) for ``text`` with injected confusions (see the module docstring)."""
    frames: list[tuple[int, int | None]] = [(0, None)] * int(rng.integers(2, 6))  # (emitted token, true token)
    for ch in text:
        true = tokenizer.encode(ch)[0]
        r = rng.random()
        if ch != " " and r < p_del:
            continue
        spoken = true
        if ch != " " and r < p_del + p_sub:
            other = CONFUSIONS.get(ch, ch)
            if not other:
                continue
            spoken = tokenizer.encode(other)[0]
        frames += [(spoken, true)] * int(rng.integers(1, 3))
        if r > 1 - p_dup and ch != " ":
            frames += [(0, None), (spoken, true)]
        frames += [(0, None)] * int(rng.integers(0, 3))
    frames += [(0, None)] * int(rng.integers(2, 6))
    logits = rng.normal(0.0, 1.0, (len(frames), tokenizer.vocab_size)).astype(np.float32)
    for t, (spoken, true) in enumerate(frames):
        logits[t, spoken] += rng.uniform(5, 9)
        if true is not None and true != spoken:
            logits[t, true] += rng.uniform(3, 7)
        if spoken != 0:
            logits[t, 0] += rng.uniform(0, 4)
        else:  # between tokens a trained CTC model is all but certain of the blank
            logits[t, 0] += rng.uniform(3, 6)
    return torch.from_numpy(logits).log_softmax(-1).numpy()


# --- pyctcdecode in its own environment ------------------------------------------------------------------------------

PYCTC_SCRIPT = r"""
import json, sys, time
import numpy as np
from pyctcdecode import build_ctcdecoder
args = json.loads(sys.argv[1])
data = np.load(args["log_probs"])
log_probs = [data[f"u{i}"] for i in range(args["count"])]
unigrams = [w for w in open(args["words"], encoding="utf-8").read().split("\n") if w]
start = time.perf_counter()
decoder = build_ctcdecoder(args["labels"], kenlm_model_path=args["lm"], unigrams=unigrams,
                           alpha=args["alpha"], beta=args["beta"], unk_score_offset=args["unk_score"])
load_s = time.perf_counter() - start
times, texts = [], None
for _ in range(args["rounds"]):
    start = time.perf_counter()
    texts = [decoder.decode(lp, beam_width=args["beam_width"]) for lp in log_probs]
    times.append(time.perf_counter() - start)
print(json.dumps({"load_s": load_s, "times": times, "texts": [" ".join(t.split()) for t in texts]}))
"""


def pyctc_python() -> Path:
    venv = cache_dir() / "bench-venv-pyctcdecode"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == " ".join(PYCTC_PACKAGES) and python.exists():
        return python
    print(f"bench: installing {', '.join(PYCTC_PACKAGES)} into {venv} (once; kenlm compiles, ~2 min)", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *PYCTC_PACKAGES],
                   check=True)
    stamp.write_text(" ".join(PYCTC_PACKAGES))
    return python


def run_pyctcdecode(log_probs: list[np.ndarray], tokenizer, lm_binary: Path, words: Path, alpha: float,
                    beta: float, unk_score: float, beam_width: int, rounds: int) -> dict:
    python = pyctc_python()
    labels = ["" if i == tokenizer.blank_id else t for i, t in enumerate(tokenizer.tokens)]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "log_probs.npz"
        np.savez(archive, **{f"u{i}": lp.astype(np.float32) for i, lp in enumerate(log_probs)})
        args = {"log_probs": str(archive), "count": len(log_probs), "labels": labels, "lm": str(lm_binary),
                "words": str(words), "alpha": alpha, "beta": beta, "unk_score": unk_score, "beam_width": beam_width,
                "rounds": rounds}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        out = subprocess.run([str(python), "-c", PYCTC_SCRIPT, json.dumps(args)], capture_output=True, text=True,
                             env=env)
    if out.returncode != 0:
        raise RuntimeError(f"pyctcdecode failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- main -----------------------------------------------------------------------------------------------------------

def wer_of(refs: list[str], hyps: list[str]) -> float:
    scores = ErrorRateAccumulator()
    for ref, hyp in zip(refs, hyps):
        scores.add(ref, hyp)
    return scores.wer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-probs", help="a LogProbCache file (real model outputs) instead of constructed ones")
    parser.add_argument("--model", help="packaged model: use the log-prob cache `asr evaluate` made for it")
    parser.add_argument("--manifest", help="test manifest (with --model)")
    parser.add_argument("--lm-text", nargs="+", help="LM text (with --log-probs/--model: this or --lm)")
    parser.add_argument("--lm", help="an LM folder from `asr lm build` instead of --lm-text, e.g. models/english-lm "
                                     "(pyctcdecode then reads the same binary, whose <unk> is log10 1 = 0)")
    parser.add_argument("--utterances", type=int, default=200, help="test sentences (constructed mode)")
    parser.add_argument("--beam-width", type=int, default=BeamSearchConfig.beam_width,
                        help="for both beam searches (pyctcdecode's default, 100, was slower and no better here)")
    parser.add_argument("--alpha", type=float, default=BeamSearchConfig.alpha,
                        help="LM weight for both beam searches with real log-probs (the model's tuned value)")
    parser.add_argument("--beta", type=float, default=BeamSearchConfig.beta, help="word bonus, likewise")
    parser.add_argument("--unk-score", type=float, default=BeamSearchConfig.unk_score,
                        help="unknown-word score for both (pyctcdecode's unk_score_offset; its default is -10)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (medians are reported)")
    add_results_name_argument(parser, "decode")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tools = kenlm_tools(build=False)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.log_probs or args.model:
            if not (args.lm_text or args.lm):
                parser.error("--lm-text or --lm is needed with --log-probs or --model")
            if args.model:
                cache = LogProbCache.load_for(args.model, args.manifest)
                if cache is None:
                    parser.error(f"no cached log-probs for {args.model} on {args.manifest}: run asr evaluate first")
            else:
                cache = LogProbCache.load(args.log_probs)
            tokenizer = tokenizer_from_dict(cache.tokenizer)
            frame_shift = cache.frame_shift_s
            log_probs = [lp.float().numpy() for lp in cache.log_probs]
            refs = [normalize_text(t) for t in cache.texts]
            dev = None
            lm_texts = args.lm_text
            source = f"cached log-probs {args.log_probs or LogProbCache.path_for(args.model, args.manifest)}"
        else:
            sentences = fortune_sentences()
            refs = sentences[: args.utterances]
            dev_refs = sentences[args.utterances: args.utterances + 100]
            lm_text = tmp / "lm.txt"
            lm_text.write_text("\n".join(sentences[args.utterances + 100:]) + "\n")
            lm_texts = [lm_text]
            tokenizer = CharTokenizer()
            frame_shift = FRAME_SHIFT
            rng = np.random.default_rng(0)
            log_probs = [constructed_log_probs(t, tokenizer, rng) for t in refs]
            dev = ([constructed_log_probs(t, tokenizer, rng) for t in dev_refs], dev_refs)
            source = (f"constructed log-probs of {len(refs)} held-out sentences of Debian's fortunes "
                      f"(LM on the other {len(sentences) - len(refs) - 100:,})")

        if args.lm:
            lm_dir = Path(args.lm)
            lm = load_lm(lm_dir)
            pristine = lm_dir / "lm.bin"
        else:
            lm_dir = tmp / "lm"
            lm = build_lm(lm_texts, lm_dir, LMBuildConfig(order=4), progress=False)
            pristine = tmp / "lm_lmplz.bin"  # pyctcdecode's: <unk> as lmplz estimated it
            subprocess.run([str(tools.build_binary), "probing", str(lm_dir / "lm.arpa"), str(pristine)], check=True,
                           capture_output=True)
        audio_s = sum(len(lp) for lp in log_probs) * frame_shift
        binary_mb = round((lm_dir / "lm.bin").stat().st_size / 1e6, 2)

        # LM load: the vocabulary and the memory-mapped binary (median of 5; the file is in the page cache).
        loads = []
        for _ in range(5):
            start = time.perf_counter()
            loaded = load_lm(lm_dir)
            loaded.kenlm(loaded.vocabulary + ["<unk>"])
            loads.append(time.perf_counter() - start)
        lm_load_s = statistics.median(loads)

        if not math.isfinite(args.unk_score):
            parser.error("--unk-score must be finite: pyctcdecode has no closed-vocabulary mode")
        config = BeamSearchConfig(beam_width=args.beam_width, alpha=args.alpha, beta=args.beta,
                                  unk_score=args.unk_score)
        tuned = None
        if dev is not None:  # alpha/beta tuned on held-out dev sentences (ours), used by both beam decoders
            tuned = tune_alpha_beta(dev[0], dev[1], tokenizer, lm_dir, config, alphas=[0.3, 0.5, 0.8, 1.2],
                                    betas=[0.0, 1.0, 2.0, 3.0], frame_shift_s=frame_shift, workers=1)
            config = BeamSearchConfig(beam_width=args.beam_width, alpha=tuned.best_alpha, beta=tuned.best_beta,
                                      unk_score=args.unk_score)
            print(f"alpha/beta tuned on {len(dev[1])} dev sentences: alpha={config.alpha:g} beta={config.beta:g}")

        beam_module._LEXICONS.clear()  # time the lexicon trie from scratch (tuning built one already)
        start = time.perf_counter()
        decoder = BeamSearchDecoder(config, tokenizer, lm)
        build_s = time.perf_counter() - start
        # A faster operating point: fewer tokens per frame and a narrower beam.
        fast_config = BeamSearchConfig(**{**config.to_dict(), "beam_width": 12, "cutoff_top_n": 3})
        fast_decoder = BeamSearchDecoder(fast_config, tokenizer, lm)
        batch = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(lp) for lp in log_probs], batch_first=True)
        lengths = torch.tensor([len(lp) for lp in log_probs])

        beam_times, fast_times, greedy_times, pyctc_times = [], [], [], []
        pyctc = None
        for _ in range(args.rounds):  # interleaved rounds: ours, greedy, pyctcdecode
            start = time.perf_counter()
            beam_hyps = [decoder.decode(lp, frame_shift).text for lp in log_probs]
            beam_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            fast_hyps = [fast_decoder.decode(lp, frame_shift).text for lp in log_probs]
            fast_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            greedy_hyps = [r.text for r in greedy_decode(batch, lengths, tokenizer, frame_shift)]
            greedy_times.append(time.perf_counter() - start)
            pyctc = run_pyctcdecode(log_probs, tokenizer, pristine, lm_dir / "words.txt", config.alpha, config.beta,
                                    config.unk_score, config.beam_width, rounds=1)
            pyctc_times += pyctc["times"]

        # Hotwords go through a Python LM adapter: what they cost, with 20 words of the test references boosted.
        words = sorted({w for r in refs for w in r.split() if len(w) > 5})
        hotwords = random.Random(1).sample(words, min(20, len(words)))
        hot_decoder = BeamSearchDecoder(BeamSearchConfig(**{**config.to_dict(), "hotwords": tuple(hotwords)}),
                                        tokenizer, lm)
        start = time.perf_counter()
        hot_hyps = [hot_decoder.decode(lp, frame_shift).text for lp in log_probs]
        hot_rtf = (time.perf_counter() - start) / audio_s
        hot_wer = wer_of(refs, hot_hyps)

    rtf = {"beam": statistics.median(beam_times) / audio_s, "greedy": statistics.median(greedy_times) / audio_s,
           "pyctcdecode": statistics.median(pyctc_times) / audio_s, "fast": statistics.median(fast_times) / audio_s}
    wer = {"beam": wer_of(refs, beam_hyps), "greedy": wer_of(refs, greedy_hyps),
           "pyctcdecode": wer_of(refs, pyctc["texts"]), "fast": wer_of(refs, fast_hyps)}
    results = {
        "beam_rtf": rtf["beam"], "pyctcdecode_rtf": rtf["pyctcdecode"], "greedy_rtf": rtf["greedy"],
        "beam_wer": wer["beam"], "pyctcdecode_wer": wer["pyctcdecode"], "greedy_wer": wer["greedy"],
        "lm_load_s": lm_load_s, "pyctcdecode_load_s": pyctc["load_s"], "decoder_build_s": build_s,
        "speedup_vs_pyctcdecode": rtf["pyctcdecode"] / rtf["beam"],
        "beam_fast_rtf": rtf["fast"], "beam_fast_wer": wer["fast"], "beam_fast_config": fast_config.to_dict(),
        "speedup_fast_vs_pyctcdecode": rtf["pyctcdecode"] / rtf["fast"],
        "config": config.to_dict(), "tuning": None if tuned is None else tuned.table,
        "utterances": len(refs), "audio_s": audio_s, "frame_shift_s": frame_shift, "source": source,
        "beam_hotwords_rtf": hot_rtf, "beam_hotwords_wer": hot_wer, "hotwords": hotwords,
        "lm": {"order": lm.order, "vocabulary": len(lm.vocabulary), "binary_mb": binary_mb,
               "sentences": lm.meta.get("sentences")},
        "rounds": args.rounds,
        "timings_s": {"beam": beam_times, "beam_fast": fast_times, "greedy": greedy_times, "pyctcdecode": pyctc_times},
        "machine": machine(),
    }
    print(f"{source}; {audio_s / 60:.1f} min of audio at {frame_shift * 1000:g} ms per frame")
    print_table(["decoder", "RTF (1 core)", "WER %", "vs pyctcdecode"],
                [[f"asr beam (width {config.beam_width}, top {config.cutoff_top_n})", rtf["beam"], 100 * wer["beam"],
                  rtf["pyctcdecode"] / rtf["beam"]],
                 [f"asr beam (width {fast_config.beam_width}, top {fast_config.cutoff_top_n})", rtf["fast"],
                  100 * wer["fast"], rtf["pyctcdecode"] / rtf["fast"]],
                 [f"pyctcdecode 0.5.0 (width {config.beam_width})", rtf["pyctcdecode"], 100 * wer["pyctcdecode"], 1.0],
                 ["greedy", rtf["greedy"], 100 * wer["greedy"], rtf["pyctcdecode"] / rtf["greedy"]]])
    print(f"with {len(hotwords)} hotwords: RTF {hot_rtf:.4g}, WER {100 * hot_wer:.2f}%")
    print(f"LM load: ours {lm_load_s * 1000:.1f} ms (vocabulary + binary), pyctcdecode {pyctc['load_s']:.2f} s; "
          f"our lexicon trie {build_s:.2f} s")
    print(f"wrote {write_results(args.results_name, results)}")


if __name__ == "__main__":
    main()
