"""Where training metrics go: a JSON Lines log, TensorBoard, wandb (offline unless configured), and the curves PNG.

Only rank 0 logs. wandb runs with ``mode="offline"`` unless ``log.wandb`` is ``online`` and a project is set, so a
run never needs an account; offline runs can be uploaded later with ``wandb sync RUN_DIR/wandb/offline-run-*``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from asr.fileio import atomic_path


@dataclass
class LogConfig:
    every_steps: int = 20  # console / TensorBoard / wandb interval
    tensorboard: bool = True
    wandb: str = "offline"  # offline | online | off
    wandb_project: str | None = None
    progress_bar: bool = True


class MetricLoggers:
    """Fans one ``log(step, metrics)`` call out to every enabled sink; a no-op on ranks other than 0."""

    def __init__(self, run_dir: Path, config: LogConfig, enabled: bool, run_config: dict | None = None,
                 resume: bool = False):
        self.enabled = enabled
        self.run_dir = run_dir
        self.jsonl = None
        self.tb = None
        self.wandb_run = None
        if not enabled:
            return
        # A new run starts the log afresh: records there belong to progress no checkpoint kept.
        self.jsonl = open(run_dir / "metrics.jsonl", "a" if resume else "w", encoding="utf-8")
        if config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if config.wandb != "off":
            import wandb

            mode = "online" if config.wandb == "online" and config.wandb_project else "offline"
            os.environ.setdefault("WANDB_SILENT", "true")
            self.wandb_run = wandb.init(project=config.wandb_project or "asr", dir=str(run_dir), mode=mode,
                                        config=run_config, name=run_dir.name, resume="allow" if resume else None,
                                        settings=wandb.Settings(console="off", x_disable_stats=True))

    def log(self, step: int, metrics: dict[str, float], kind: str = "train") -> None:
        if not self.enabled:
            return
        record = {"kind": kind, "step": step, **metrics}
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.tb is not None:
            for name, value in metrics.items():
                if isinstance(value, (int, float)):
                    self.tb.add_scalar(f"{kind}/{name}", value, step)
        if self.wandb_run is not None:
            self.wandb_run.log({f"{kind}/{k}": v for k, v in metrics.items()}, step=step)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()


def plot_curves(metrics_path: Path, out: Path) -> Path | None:
    """Loss (train and dev) and dev WER/CER against steps, from metrics.jsonl, as one PNG."""
    if not metrics_path.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, dev = [], []
    for line in metrics_path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a killed process
            continue
        (train if r["kind"] == "train" else dev if r["kind"] == "dev" else []).append(r)
    fig, (ax_loss, ax_wer) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], label="train", lw=1)
    if dev:
        ax_loss.plot([r["step"] for r in dev], [r["loss"] for r in dev], "o-", label="dev")
        ax_wer.plot([r["step"] for r in dev], [100 * r["wer"] for r in dev], "o-", label="dev WER")
        ax_wer.plot([r["step"] for r in dev], [100 * r["cer"] for r in dev], "s--", label="dev CER")
    ax_loss.set(xlabel="step", ylabel="CTC loss per token", title="loss")
    ax_loss.set_yscale("log")
    ax_wer.set(xlabel="step", ylabel="%", title="dev error rates (greedy)")
    for ax in (ax_loss, ax_wer):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out
