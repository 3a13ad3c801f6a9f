"""``asr transcribe [MODEL.pt] FILES_OR_DIRS...``: text, JSON with word times, or SRT/VTT subtitles.

Any format soundfile reads, any rate and channel count; directories are searched for audio files, and a manifest
(``.jsonl``) stands for its utterances' audio files in its order (JSON output then carries each utterance's
``id``, so ``asr score MANIFEST OUTPUT`` scores it). A file that is missing, corrupt or empty is reported and the
others still finish; the exit status is 1 if any failed. Silence gives an empty transcript. With ``--out DIR``
each input gets DIR/<name>.<format>, where the name of a file found in a folder keeps its path below that folder
(and a manifest's utterance is named by its id); two inputs that would write the same file, or files already in
DIR (without ``--overwrite``), are refused before anything is transcribed. Without ``--out``, results go to
standard output (JSON as one object per line).

``--shard I/N`` transcribes only the I-th contiguous slice of the inputs (asr.sharding): the standard outputs of
shards 0..N-1 concatenated in order are byte for byte what one process writes, and with ``--out DIR`` the shards
fill the same folder. Every shard checks the whole job's inputs for shared outputs (so all shards refuse the same
job), but only its own outputs for files already in DIR: the files other shards have written are theirs.

Without a model file (as the first argument or ``--model``), the shipped model for people is used:
models/whisper-bilstm.pt. When the model file names a language model and tuned decoder weights (the recipe's
``asr export --lm``), the beam search with that LM is used unless ``--no-lm``; ``--lm`` and the weight options
override it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from asr import SHIPPED_MODEL
from asr.audio import find_audio_files
from asr.errors import ASRError, InputError
from asr.evaluate import SEARCH_OPTIONS, add_unk_score_argument, search_options
from asr.fileio import atomic_write_text
from asr.sharding import add_shard_argument

FORMATS = ("txt", "json", "srt", "vtt")


def _timestamp(seconds: float, decimal: str) -> str:
    millis = int(round(seconds * 1000))
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def cues(words, max_chars: int = 42, max_seconds: float = 6.0, max_gap: float = 0.8) -> list[tuple[float, float, str]]:
    """Group words into subtitle cues: a new cue after a pause, or when the line or duration would grow too long."""
    out: list[tuple[float, float, str]] = []
    current: list = []
    for w in words:
        if current and (w.start - current[-1].end > max_gap or w.end - current[0].start > max_seconds
                        or len(" ".join(x.word for x in current)) + 1 + len(w.word) > max_chars):
            out.append((current[0].start, current[-1].end, " ".join(x.word for x in current)))
            current = []
        current.append(w)
    if current:
        out.append((current[0].start, current[-1].end, " ".join(x.word for x in current)))
    return out


def render(transcript, fmt: str) -> str:
    if fmt == "txt":
        return transcript.text + "\n"
    if fmt == "json":
        return json.dumps(transcript.to_dict(), ensure_ascii=False) + "\n"
    if fmt == "srt":
        return "".join(f"{k}\n{_timestamp(a, ',')} --> {_timestamp(b, ',')}\n{text}\n\n"
                       for k, (a, b, text) in enumerate(cues(transcript.words), start=1))
    if fmt == "vtt":
        return "WEBVTT\n\n" + "".join(f"{_timestamp(a, '.')} --> {_timestamp(b, '.')}\n{text}\n\n"
                                      for a, b, text in cues(transcript.words))
    raise ValueError(f"unknown format {fmt!r}")


def manifest_inputs(manifest: Path) -> list[tuple[Path, Path, str]]:
    """(audio file, output name, utterance id) of each line of a manifest, in order."""
    from asr.data.manifest import read_manifest

    out = []
    for utt in read_manifest(manifest):
        if utt.offset is not None:
            raise InputError(manifest, f"utterance {utt.id} is a segment (offset {utt.offset}); asr transcribe "
                                       f"reads whole files")
        out.append((Path(utt.audio), Path(utt.id + Path(utt.audio).suffix), utt.id))
    return out


def expand_inputs(inputs: list[str]) -> list[tuple[Path, Path, str | None]]:
    """(file, name relative to its input, utterance id or None): files as given, directories searched for audio
    files, manifests (.jsonl) read for theirs.

    A path that does not exist is kept, so that it is reported as a failure alongside the others.
    """
    out = []
    for given in map(Path, inputs):
        if given.is_dir():
            out += [(p, p.relative_to(given), None) for p in find_audio_files(given)]
        elif given.suffix == ".jsonl" and given.is_file():
            out += manifest_inputs(given)
        else:
            out.append((given, Path(given.name), None))
    return out


def output_path(out_dir: Path, name: Path, fmt: str) -> Path:
    return out_dir / name.with_suffix(f".{fmt}")


def check_outputs(files: list[tuple[Path, Path, str | None]], out_dir: Path, fmt: str, overwrite: bool,
                  mine: list[tuple[Path, Path, str | None]] | None = None) -> None:
    """Refuse, before any work, outputs that two of ``files`` would share (the later would silently replace the
    earlier) and outputs of ``mine`` that exist already unless ``overwrite``.

    ``files`` is the whole job and ``mine`` this shard's slice of it (default: all of it): two inputs in different
    shards would still replace each other's output, while the outputs other shards of the job have already written
    into the shared folder are not this shard's to refuse.
    """
    writers: dict[Path, list[Path]] = {}
    for path, name, _ in files:
        writers.setdefault(output_path(out_dir, name, fmt), []).append(path)
    shared = {out: paths for out, paths in writers.items() if len(paths) > 1}
    if shared:
        listing = "; ".join(f"{out} from {' and '.join(map(str, paths))}" for out, paths in list(shared.items())[:5])
        raise ASRError(f"{len(shared)} output file(s) would each be written by several inputs: {listing}"
                       f"{'; ...' if len(shared) > 5 else ''}. Give their common folder instead of the files (the "
                       f"folder structure below it is kept), or transcribe them into separate --out folders")
    own = writers if mine is None else [output_path(out_dir, name, fmt) for _, name, _ in mine]
    existing = [out for out in own if out.exists()]
    if existing and not overwrite:
        raise ASRError(f"{len(existing)} output file(s) exist already: {', '.join(map(str, existing[:5]))}"
                       f"{', ...' if len(existing) > 5 else ''}; add --overwrite to replace them")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="audio files, folders of them, or manifests (.jsonl); first, optionally, a packaged "
                             "model file (.pt from training, asr export or asr average)")
    parser.add_argument("--model", help="packaged model file (default: the first argument where it ends in .pt, "
                                        "else the shipped model for people, models/whisper-bilstm.pt)")
    parser.add_argument("--format", choices=FORMATS, default="txt")
    parser.add_argument("--out", help="folder for one output file per input (default: standard output)")
    parser.add_argument("--overwrite", action="store_true", help="replace output files that exist in --out")
    parser.add_argument("--lm", help="language model folder from `asr lm build` (beam search with the LM)")
    parser.add_argument("--no-lm", action="store_true", help="ignore the LM the model file names; greedy decoding")
    parser.add_argument("--alpha", type=float, help="LM weight")
    parser.add_argument("--beta", type=float, help="word insertion bonus")
    parser.add_argument("--beam-width", type=int, help="beam width (also enables beam search without an LM)")
    add_unk_score_argument(parser)
    parser.add_argument("--hotwords", nargs="+", default=(), metavar="WORD_OR_PHRASE",
                        help="words or phrases to favour inside the beam (needs an LM)")
    parser.add_argument("--hotword-boost", type=float, help="log-score bonus per hotword word")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--batch-size", type=int, default=16, help="chunks per model batch")
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantisation (CPU)")
    parser.add_argument("--min-chunk", type=float, default=2.0, metavar="SECONDS",
                        help="long audio is cut at the first pause after this much speech")
    parser.add_argument("--max-chunk", type=float, default=30.0, metavar="SECONDS",
                        help="and at the latest after this much, pause or not")
    add_shard_argument(parser, "inputs (files in the order given, folders sorted, manifests in order)")


def model_and_inputs(args: argparse.Namespace) -> tuple[Path, list[str]]:
    """The model file and the inputs: ``--model``, else a first argument ending in ``.pt`` (``asr transcribe
    MODEL.pt FILE``, the form every earlier command line used; no audio file or manifest ends so), else the shipped
    model for people."""
    inputs = list(args.inputs)
    if args.model is not None:
        return Path(args.model), inputs
    if inputs[0].endswith(".pt"):
        if len(inputs) == 1:
            raise ASRError(f"{inputs[0]} is a model file: give the audio files, folders or manifests after it")
        return Path(inputs[0]), inputs[1:]
    if not SHIPPED_MODEL.is_file():
        raise ASRError(f"no model given and the shipped one, {SHIPPED_MODEL}, is missing: name a packaged model "
                       "(asr transcribe MODEL.pt FILE or --model MODEL.pt)")
    return SHIPPED_MODEL, inputs


def decoder_settings(args: argparse.Namespace, package, model_path: Path):
    """(BeamSearchConfig or None, LM folder or None) from the options and what the model file recommends."""
    from asr.decoding import BeamSearchConfig

    recommended = {} if args.no_lm else dict(package.provenance.get("decoder") or {})
    lm = args.lm
    if lm is None and recommended.get("lm"):
        lm = str((model_path.parent / recommended["lm"]).resolve())
        if not Path(lm).is_dir():
            raise InputError(lm, "the language model this model file names is missing (use --lm or --no-lm)")
    if lm is None and args.beam_width is None:
        if args.hotwords:
            raise ASRError("hotwords need a language model: give --lm DIR")
        return None, None
    settings = {k: v for k, v in recommended.items() if k in SEARCH_OPTIONS}
    settings.update(search_options(args, SEARCH_OPTIONS + ("hotword_boost",)))
    if args.hotwords:
        settings["hotwords"] = tuple(args.hotwords)
    try:
        return BeamSearchConfig(**settings), lm
    except ValueError as err:
        raise ASRError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from asr.inference import Transcriber
    from asr.package import load_packaged_model
    from asr.vad import SegmenterConfig

    if not 0 < args.min_chunk < args.max_chunk:
        raise ASRError("--min-chunk must be positive and less than --max-chunk")

    model_path, inputs = model_and_inputs(args)
    package = load_packaged_model(model_path, args.device)
    decoder, lm = decoder_settings(args, package, model_path)
    try:
        transcriber = Transcriber(package, lm=lm, decoder=decoder, device=args.device, batch_size=args.batch_size,
                                  int8=args.int8, segmenter=SegmenterConfig(max_chunk_s=args.max_chunk,
                                                                            min_chunk_s=args.min_chunk))
    except ValueError as err:  # e.g. a hotword the tokenizer cannot spell
        raise ASRError(str(err)) from None
    files = expand_inputs(inputs)
    if not files:
        raise ASRError("no audio files found in the given folders")
    if args.format in ("srt", "vtt") and len(files) > 1 and not args.out:
        raise ASRError(f"{args.format} for several files needs --out DIR")
    several = len(files) > 1  # of the whole job, not of this shard: every shard writes the same form
    job, files = files, args.shard.take(files)
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None:
        check_outputs(job, out_dir, args.format, args.overwrite, mine=files)
    failures, audio_seconds, start = [], 0.0, time.perf_counter()
    progress = tqdm(total=len(files), unit="file", desc="transcribe", disable=len(files) < 2, file=sys.stderr)
    for (path, name, utt_id), result in zip(files, transcriber.transcribe_many(p for p, _, _ in files)):
        progress.update(1)
        if isinstance(result, Exception):
            failures.append(result)
            progress.write(f"asr transcribe: {result}", file=sys.stderr)
            continue
        audio_seconds += result.duration
        text = render(result, args.format)
        if utt_id is not None and args.format == "json":
            text = json.dumps({"id": utt_id, **result.to_dict()}, ensure_ascii=False) + "\n"
        if out_dir is not None:
            atomic_write_text(output_path(out_dir, name, args.format), text)
        elif args.format == "txt" and utt_id is not None:
            sys.stdout.write(f"{utt_id} {text}")  # Kaldi's text format: asr score reads it
        elif args.format == "txt" and several:
            sys.stdout.write(f"{path}\t{text}")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    progress.close()
    elapsed = time.perf_counter() - start
    where = (f" into {out_dir}" if out_dir else "") + ("" if args.shard.whole else f" (shard {args.shard})")
    print(f"asr transcribe: {len(files) - len(failures)} of {len(files)} files ({audio_seconds:.1f} s of audio) "
          f"transcribed{where} in {elapsed:.1f} s (real-time factor {elapsed / max(audio_seconds, 1e-9):.3f})"
          + (f"; {len(failures)} failed" if failures else ""), file=sys.stderr)
    return 1 if failures else 0
