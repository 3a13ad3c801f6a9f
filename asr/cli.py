"""The ``asr`` command.

Each subcommand lives in the module that owns its job; this file is only the table of them. A command module
provides ``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). Modules are imported only when
their command runs, so ``asr --help`` answers at once without importing torch.

Errors derived from ``asr.errors.ASRError`` are bad input, not bugs: they are printed as one line without a
traceback and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    module: str
    help: str


# name → Command, or name → {subname → Command} for a command group such as `asr prep`.
COMMANDS: dict[str, Command | dict[str, Command]] = {
    "score": Command("asr.score", "word and character error rates of hypotheses against references"),
    "train": Command("asr.train", "train an acoustic model (Hydra overrides; also torchrun -m asr.train)"),
    "average": Command("asr.training.checkpoint", "average checkpoints of a run into a packaged model"),
    "transcribe": Command("asr.transcribe", "transcribe audio files to text, JSON with word times, SRT or VTT"),
    "export": Command("asr.export", "package a checkpoint; TorchScript, ONNX and int8 exports"),
    "evaluate": Command("asr.evaluate", "WER/CER and real-time factor of a model on a manifest, greedy and with an LM"),
    "tune": Command("asr.tune", "grid-search the LM weight and word bonus on a dev set"),
    "live": Command("asr.live.terminal", "transcribe the microphone (or a file at real-time pace) as it is spoken"),
    "serve": Command("asr.live.server", "HTTP server: live transcription in the browser over a WebSocket, uploads"),
    "prep": {
        "librispeech": Command("data_prep.librispeech", "LibriSpeech subsets (official layout) to manifests"),
        "synthetic": Command("data_prep.synthetic", "generate the default English speech corpus with no network"),
        "real-dev": Command("data_prep.real_dev", "the real-speech dev set: human recordings from Debian packages"),
        "folder": Command("data_prep.folder", "your own recordings and transcripts (a .txt each, or a table) to manifests"),
        "uqm-lines": Command("data_prep.uqm_lines", "real speech for training: The Ur-Quan Masters' voiced lines (uqm-voice)"),
        "fotaq-lines": Command("data_prep.fotaq_lines", "real speech for training: Flight of the Amazon Queen's voiced lines"),
        "drascula-lines": Command("data_prep.drascula_lines", "real speech for training: Drascula's voiced lines"),
        "validate": Command("asr.data.manifest", "check every line of a manifest and optionally clean it"),
        "speed-perturb": Command("asr.data.speed", "add speed-perturbed copies of a manifest's utterances"),
        "tokenizer": Command("asr.data.tokenizer_file", "build a recipe's tokenizer (char or BPE) into a file"),
        "lm-text": Command("data_prep.english_text", "English text for a general LM from installed packages"),
    },
    "features": Command("asr.data.store", "extract log-mel features of manifests into a feature store"),
    "lm": {
        "build": Command("asr.decoding.lm", "estimate a KenLM n-gram word LM (ARPA + binary + vocabulary) from text"),
    },
}


def _describe(table: dict[str, Command | dict[str, Command]]) -> str:
    width = max(len(name) for name in table) + 2
    lines = []
    for name, entry in table.items():
        text = entry.help if isinstance(entry, Command) else "; ".join(f"{n}: {c.help}" for n, c in entry.items())
        lines.append(f"  {name.ljust(width)}{text}")
    return "\n".join(lines)


def _group_parser(prog: str, table: dict[str, Command | dict[str, Command]], description: str
                  ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + _describe(table) + f"\n\nRun '{prog} COMMAND --help' for a command's options.")
    parser.add_argument("command", choices=list(table), metavar="COMMAND", help="one of the commands below")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    from asr import __version__

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        print(f"asr {__version__}")
        return 0
    table: dict[str, Command | dict[str, Command]] = COMMANDS
    prog = "asr"
    description = "A speech recognition toolkit: features, BiLSTM-CTC training, KenLM decoding, transcription."
    while True:
        parser = _group_parser(prog, table, description)
        ns = parser.parse_args(argv[:1] if argv and not argv[0].startswith("-") else argv or ["--help"])
        entry = table[ns.command]
        prog, argv = f"{prog} {ns.command}", argv[1:]
        if isinstance(entry, Command):
            break
        table, description = entry, f"{ns.command} commands"

    module = importlib.import_module(entry.module)
    parser = argparse.ArgumentParser(prog=prog, description=entry.help + ".",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    from asr.errors import ASRError

    try:
        return int(module.run(args) or 0)
    except ASRError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
