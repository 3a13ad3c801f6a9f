"""What ``asr live`` and ``asr serve`` share: model and decoder options, and building the streaming recognizer."""

from __future__ import annotations

import argparse
from pathlib import Path

from asr import SHIPPED_MODEL
from asr.errors import ASRError
from asr.evaluate import UNK_SCORE_HELP


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=str(SHIPPED_MODEL) if SHIPPED_MODEL.is_file() else None,
                        required=not SHIPPED_MODEL.is_file(),
                        help="packaged model file (default: the shipped model for people, models/whisper-bilstm.pt)")
    parser.add_argument("--lm", help="language model folder (default: the one the model file names)")
    parser.add_argument("--no-lm", action="store_true", help="greedy decoding, no language model")
    parser.add_argument("--alpha", type=float, help="LM weight")
    parser.add_argument("--beta", type=float, help="word insertion bonus")
    parser.add_argument("--beam-width", type=int, help="beam width")
    parser.add_argument("--unk-score", type=float, help=UNK_SCORE_HELP)
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantisation of the model (faster on CPU)")
    parser.add_argument("--greedy-partials", action="store_true",
                        help="decode partial hypotheses greedily (finals still use the beam search)")
    parser.add_argument("--partial-interval", type=float, default=0.2, metavar="SECONDS",
                        help="the open segment is decoded again after this much new audio")
    parser.add_argument("--endpoint-silence", type=float, default=0.3, metavar="SECONDS",
                        help="a pause this long after speech ends a segment (its final)")
    parser.add_argument("--max-segment", type=float, default=10.0, metavar="SECONDS",
                        help="a segment is cut at this length (bounds the cost of re-decoding it)")
    parser.add_argument("--preroll", type=float, default=0.3, metavar="SECONDS",
                        help="audio kept before the first speech of a segment")


def load_recognizer(args: argparse.Namespace, threads: int | None = None):
    """The ``StreamingRecognizer`` the options describe (model, decoder, streaming settings)."""
    import torch

    from asr.inference import Transcriber
    from asr.package import load_packaged_model
    from asr.streaming import StreamingConfig, StreamingRecognizer
    from asr.transcribe import decoder_settings

    if threads:
        torch.set_num_threads(threads)
    args.hotwords = ()
    model_path = Path(args.model)
    package = load_packaged_model(model_path)
    decoder, lm = decoder_settings(args, package, model_path)
    try:
        config = StreamingConfig(partial_interval_s=args.partial_interval, endpoint_silence_s=args.endpoint_silence,
                                 max_segment_s=args.max_segment, preroll_s=args.preroll, partial_beam=not args.greedy_partials)
        return StreamingRecognizer(Transcriber(package, lm=lm, decoder=decoder, int8=args.int8), config)
    except ValueError as err:
        raise ASRError(str(err)) from None
