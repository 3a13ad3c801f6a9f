"""``asr train`` and ``python -m asr.train``: compose the Hydra configuration from conf/ and train.

    asr train experiment=synthetic_small train.epochs=5
    torchrun --nproc_per_node 8 -m asr.train experiment=librispeech_ds2

Arguments are Hydra overrides (``group=option``, ``key=value``, ``+new_key=value``). The composed, resolved
configuration is saved as RUN_DIR/config.yaml. The configuration is composed with Hydra's compose API rather
than ``@hydra.main``: the working directory stays put and no outputs/ folder appears, which matters under
torchrun where every rank would otherwise make its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def compose(overrides: list[str], config_name: str = "config"):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    with open_dict(cfg):
        if cfg.get("run_name") is None:
            cfg.run_name = choices.get("experiment") or choices.get("model")
        del cfg["hydra"]
    return cfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                        help="Hydra overrides, e.g. experiment=synthetic_small train.epochs=5 model=tiny")
    parser.add_argument("--print-config", action="store_true", help="print the composed configuration and stop")
    parser.add_argument("--get", metavar="KEY", nargs="+", help="print these values of the composed configuration, "
                        "one per line (lists space-separated), and stop; recipes read their settings this way")
    parser.epilog = f"Configuration groups live in {CONF_DIR}: features, model, data, train, augment, log, experiment."


def run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    cfg = compose(args.overrides)
    if args.get:
        for key in args.get:
            if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
                from asr.errors import ASRError

                raise ASRError(f"the configuration has no key {key!r}")
            value = OmegaConf.select(cfg, key, throw_on_missing=True)
            print(" ".join(str(v) for v in value) if OmegaConf.is_list(value) else value)
        return 0
    if args.print_config:
        print(OmegaConf.to_yaml(cfg, resolve=True))
        return 0
    from asr.training import distributed
    from asr.training.trainer import train

    train(cfg)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        distributed.exit_worker(0)  # a torchrun worker: see exit_worker for why it skips interpreter shutdown
    return 0


def main(argv: list[str] | None = None) -> int:
    from asr.errors import ASRError

    parser = argparse.ArgumentParser(prog="python -m asr.train", description="Train an acoustic model.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ASRError as err:
        print(f"asr train: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
