"""What a large-vocabulary LM costs the decoder: load time, lexicon build, decoding speed, OOV rate and WER.

Compares LM directories (default: the shipped domain LM models/lm against the general English LM exp/general-lm)
on the same constructed CTC log-probs: the test sentences of the synthetic corpus (data_prep/synthetic.py, seed
0; no audio needed), which neither LM saw (the domain LM holds only train-side sentences, and `asr prep lm-text`
leaves the synthetic dev and test sentences out). The log-probs are those of bench/decode.py: peaky posteriors
with injected character confusions, deletions and duplications (greedy WER about 15%). Writes
bench/results/lm_vocabulary.json.

    .venv/bin/python bench/lm_vocabulary.py [--lm models/lm exp/general-lm] [--utterances 300]

Per LM: binary size, vocabulary, the time to map the binary and read words.txt (load), the time to spell the
vocabulary into the decoder's trie (lexicon: part of `asr transcribe`'s start-up), the real-time factor of the
beam search on one core (median of interleaved rounds), the OOV rate of the test words and the WER.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, single_thread, time_interleaved, write_results  # noqa: E402

single_thread()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from decode import FRAME_SHIFT, constructed_log_probs, wer_of  # noqa: E402

from asr.decoding import BeamSearchConfig, BeamSearchDecoder, greedy_decode  # noqa: E402
from asr.decoding import beam as beam_module  # noqa: E402
from asr.decoding.lm import load_lm  # noqa: E402
from asr.text import CharTokenizer, normalize_text  # noqa: E402
from data_prep.synthetic import SyntheticConfig, load_sentences, split_sentences  # noqa: E402


def oov_rate(sentences: list[str], vocabulary: set[str]) -> float:
    words = [w for s in sentences for w in s.split()]
    return sum(w not in vocabulary for w in words) / max(len(words), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lm", nargs="+", default=["models/lm", "exp/general-lm"], help="LM directories")
    parser.add_argument("--utterances", type=int, default=300, help="synthetic test sentences to decode")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (medians are reported)")
    parser.add_argument("--oov-manifest", nargs="+", default=[], metavar="MANIFEST",
                        help="also report each LM's OOV rate on these manifests' texts (per 'source' field too)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = SyntheticConfig()
    test = [s.text for s in split_sentences(load_sentences(config), config)["test"]][: args.utterances]
    tokenizer = CharTokenizer()
    rng = np.random.default_rng(0)
    log_probs = [constructed_log_probs(t, tokenizer, rng) for t in test]
    audio_s = sum(len(lp) for lp in log_probs) * FRAME_SHIFT
    beam = BeamSearchConfig()

    rows, results, decoders = [], {}, {}
    for directory in args.lm:
        loads, lexicons = [], []
        for _ in range(3):
            start = time.perf_counter()
            lm = load_lm(directory)
            loads.append(time.perf_counter() - start)
            beam_module._LEXICONS.clear()  # spell the vocabulary from scratch each time
            start = time.perf_counter()
            decoder = BeamSearchDecoder(beam, tokenizer, lm)
            lexicons.append(time.perf_counter() - start)
        decoders[directory] = decoder
        hyps = [decoder.decode(lp, FRAME_SHIFT).text for lp in log_probs]
        results[directory] = {
            "binary_mb": round(lm.binary.stat().st_size / 1e6, 2), "vocabulary": len(lm.vocabulary),
            "order": lm.order, "prune": lm.meta.get("prune"), "quantize": lm.meta.get("quantize", 0),
            "load_s": round(statistics.median(loads), 4), "lexicon_s": round(statistics.median(lexicons), 3),
            "oov_rate": round(oov_rate(test, set(lm.vocabulary)), 4), "wer": round(wer_of(test, hyps), 4)}

    timings = time_interleaved({d: (lambda d=d: [decoders[d].decode(lp, FRAME_SHIFT) for lp in log_probs])
                                for d in args.lm}, repeats=args.rounds, warmup=1)
    for directory in args.lm:
        r = results[directory]
        r["rtf"] = round(timings[directory]["median_s"] / audio_s, 5)
        rows.append([directory, r["binary_mb"], r["vocabulary"], r["load_s"], r["lexicon_s"], r["rtf"],
                     f"{100 * r['oov_rate']:.2f}%", f"{100 * r['wer']:.2f}%"])
    greedy = wer_of(test, [greedy_decode(torch.from_numpy(lp)[None], None, tokenizer, FRAME_SHIFT)[0].text
                           for lp in log_probs])
    print(f"{len(test)} synthetic test sentences, {audio_s:.0f} s of constructed log-probs; greedy WER "
          f"{100 * greedy:.2f}%; beam width {beam.beam_width}, alpha {beam.alpha}, beta {beam.beta}")
    print_table(["LM", "binary MB", "vocabulary", "load s", "lexicon s", "RTF (1 core)", "OOV", "WER"], rows)
    manifests = {}
    for manifest in args.oov_manifest:
        groups: dict[str, list[str]] = {}
        for line in Path(manifest).read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)  # only the text and the optional "source" are needed
                text = normalize_text(record["text"])
                groups.setdefault("all", []).append(text)
                if record.get("source"):
                    groups.setdefault(record["source"], []).append(text)
        manifests[manifest] = {group: {"words": sum(len(t.split()) for t in texts), **{
            directory: round(oov_rate(texts, set(load_lm(directory).vocabulary)), 4) for directory in args.lm}}
            for group, texts in groups.items()}
        print(f"OOV rate on {manifest}:")
        print_table(["texts", "words", *args.lm],
                    [[g, r["words"], *(f"{100 * r[d]:.2f}%" for d in args.lm)] for g, r in manifests[manifest].items()])
    path = write_results("lm_vocabulary", {
        "machine": machine(), "utterances": len(test), "audio_s": round(audio_s, 1), "greedy_wer": round(greedy, 4),
        "decoder": beam.to_dict(), "lms": results, "oov_manifests": manifests})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
