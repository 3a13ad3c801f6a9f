"""Word error rates on the real-speech dev set, per source: this project's model beside whisper tiny.en and pocketsphinx.

Systems, all on the same files (the manifest written by `asr prep real-dev OUT`):
  asr           the packaged model with the decoder and LM its file names (what `asr transcribe` does)
  whisper       whisper tiny.en, int8, faster-whisper, beam 5 (bench/transcribe.py's run_whisper)
  pocketsphinx  5.1.1 with its US English model (bench/transcribe.py's run_pocketsphinx)
WER: both sides normalised with asr.text.normalize_text, corpus-level per source.

Whisper took part in checking the transcripts (data_prep/REAL_DEV.md), so its figures lean in its favour.
``--peers-from data_prep/real_dev_review.tsv`` takes whisper's and pocketsphinx's words from the review that built
the transcript table (produced by the same two functions, with the same settings) instead of running them again:
on 2 busy cores whisper needs 2-6 s a file. Writes bench/results/real_dev.json.

    .venv/bin/asr prep real-dev data/real-dev
    .venv/bin/python bench/real_dev.py --manifest data/real-dev/real-dev.jsonl \
        [--peers-from data_prep/real_dev_review.tsv] [--systems whisper_tiny pocketsphinx] [--results-name real_dev]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_results_name_argument, machine, print_table, write_results  # noqa: E402
from transcribe import run_asr, run_pocketsphinx, run_whisper  # noqa: E402

from asr.metrics import ErrorRateAccumulator  # noqa: E402
from asr.text import normalize_text  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = ("asr", "whisper_tiny", "pocketsphinx")


def peers_from(review: Path, files: list[str], systems: list[str]) -> dict[str, list[str]]:
    with open(review, encoding="utf-8") as f:
        rows = {r["path"]: r for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}
    missing = [p for p in files if p not in rows]
    if missing:
        sys.exit(f"{review}: no review row for {len(missing)} files, e.g. {missing[0]}")
    column = {"whisper_tiny": "whisper", "pocketsphinx": "pocketsphinx"}
    out = {}
    for system in [s for s in systems if s in column]:
        unrun = [p for p in files if rows[p][column[system]] == "(not run)"]  # real_dev_review.py --whisper-only
        if system == "pocketsphinx" and unrun:
            sys.exit(f"{review}: pocketsphinx did not review {len(unrun)} of these files, e.g. {unrun[0]}; "
                     "leave it out (--systems) or run it (no --peers-from)")
        out[system] = [rows[p][column[system]] for p in files]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "models" / "synthetic-small.pt"))
    parser.add_argument("--manifest", required=True, help="real-dev.jsonl from `asr prep real-dev OUT`")
    parser.add_argument("--peers-from", type=Path, help="take whisper's and pocketsphinx's words from this review TSV")
    parser.add_argument("--hypotheses", type=Path, help="also write every system's words per file (JSON Lines)")
    add_results_name_argument(parser, "real_dev")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                        help="only these systems (default: all three)")
    args = parser.parse_args()

    lines = [json.loads(line) for line in Path(args.manifest).read_text(encoding="utf-8").splitlines() if line]
    files = [Path(line["audio"]) for line in lines]
    hypotheses = {}
    if "asr" in args.systems:
        hypotheses["asr"] = run_asr(args.model, files, False)
    if args.peers_from:  # the review names a recording as the table does (an archive member: its archive path)
        hypotheses.update(peers_from(args.peers_from, [line.get("origin", line["audio"]) for line in lines],
                                     args.systems))
    else:
        if "whisper_tiny" in args.systems:
            hypotheses["whisper_tiny"] = run_whisper(files)
        if "pocketsphinx" in args.systems:
            hypotheses["pocketsphinx"] = run_pocketsphinx(files)

    sources = sorted({line["source"] for line in lines}, key=[line["source"] for line in lines].index)
    scores: dict[str, dict[str, ErrorRateAccumulator]] = defaultdict(lambda: defaultdict(ErrorRateAccumulator))
    for k, line in enumerate(lines):
        for system, hyps in hypotheses.items():
            for group in (line["source"], "all"):
                scores[group][system].add(normalize_text(line["text"]), normalize_text(hyps[k]))
    results: dict = {"manifest": args.manifest, "model": args.model, "peers_from": str(args.peers_from or ""),
                     "machine": machine(), "sources": {}}
    rows = []
    for group in [*sources, "all"]:
        members = [line for line in lines if group in ("all", line["source"])]
        entry = {"utterances": len(members), "minutes": sum(m["duration"] for m in members) / 60,
                 "speakers": len({m["speaker"] for m in members})}
        entry.update({f"{s}_wer": scores[group][s].wer for s in hypotheses})
        results["sources"][group] = entry
        rows.append([group, entry["utterances"], entry["minutes"], entry["speakers"],
                     *(100 * entry[f"{s}_wer"] for s in hypotheses)])
    print_table(["source", "utterances", "minutes", "speakers", *(f"{s} WER %" for s in hypotheses)], rows)
    if args.hypotheses:
        with open(args.hypotheses, "w", encoding="utf-8") as f:
            for k, line in enumerate(lines):
                f.write(json.dumps({"id": line["id"], "text": line["text"],
                                    **{s: h[k] for s, h in hypotheses.items()}}) + "\n")
    print(f"wrote {write_results(args.results_name, results)}")


if __name__ == "__main__":
    main()
