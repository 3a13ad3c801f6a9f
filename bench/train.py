"""Training throughput of the `small` model: audio seconds per second, model FLOP utilisation, loader stalls.

Runs the real training loop (asr.training.trainer) on a small generated corpus and reads its own step metrics:
  audio_s_per_s      seconds of (unpadded) audio trained per second of wall time, excluding the first window
  mfu                the model's training FLOPs per second (3 × forward, asr.model.AcousticModel.forward_flops)
                     divided by the FLOPs per second of a large float32 matmul measured in the same run with the
                     same threads: the fraction of what this machine's BLAS can do that training gets
  loader_stall_frac  the fraction of step time spent waiting for the next batch
On CPU it also runs two processes of one thread each under torchrun (gloo DDP), which on a 2-core machine is
the alternative to one process with two threads. With CUDA, the `small` and `ds2` models run with bf16 AMP.

    .venv/bin/python bench/train.py [--hours 0.15] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from _common import machine, print_table, write_results  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from asr.model import AcousticModel, ModelConfig  # noqa: E402
from asr.train import CONF_DIR, compose  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def matmul_flops_per_s(device: str, dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for _ in range(repeats + 2):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times[2:])


def make_corpus(folder: Path, hours: float) -> tuple[Path, Path, Path]:
    """A small generated corpus and its feature store (reused when already there)."""
    store = folder / "features"
    if not (store / "store.json").is_file():
        subprocess.run([sys.executable, "-m", "asr.cli", "prep", "synthetic", str(folder), "--hours", str(hours),
                        "--seed", "7"], check=True)
        subprocess.run([sys.executable, "-m", "asr.cli", "features", str(folder / "train.jsonl"),
                        str(folder / "dev.jsonl"), "--out", str(store)], check=True)
    return folder / "train.jsonl", folder / "dev.jsonl", store


def overrides(model: str, corpus: tuple[Path, Path, Path], run_dir: Path, steps: int, device: str,
              amp: str = "off") -> list[str]:
    train, dev, store = corpus
    return [f"model={model}", f"data.train_manifest={train}", f"data.dev_manifest={dev}", f"data.store={store}",
            f"run_dir={run_dir}", "train.epochs=50", f"train.stop_after_steps={steps}", "train.warmup_steps=10",
            f"train.device={device}", f"train.amp={amp}", "train.resume=false", "log.every_steps=5",
            "log.wandb=off", "log.tensorboard=false", "log.progress_bar=false"]


def read_windows(run_dir: Path) -> list[dict]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    windows = [r for r in records if r["kind"] == "train"]
    return windows[1:] if len(windows) > 1 else windows  # the first window holds start-up costs


def summarise(name: str, model: str, run_dir: Path, reference_flops: float, device: str, frame_rate: float,
              mean_frames: float) -> dict:
    windows = read_windows(run_dir)
    audio_s_per_s = statistics.mean(w["audio_s_per_s"] for w in windows)
    config = ModelConfig(**{**OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{model}.yaml")),
                            "vocab_size": 29})
    with torch.device("meta"):
        flops_per_frame = AcousticModel(config).forward_flops(int(mean_frames)) / mean_frames
    train_flops_per_s = 3 * flops_per_frame * audio_s_per_s * frame_rate
    return {"name": name, "model": model, "device": device, "audio_s_per_s": audio_s_per_s,
            "mfu": train_flops_per_s / reference_flops, "train_tflops_per_s": train_flops_per_s / 1e12,
            "matmul_tflops_per_s": reference_flops / 1e12,
            "loader_stall_frac": statistics.mean(w["data_wait_frac"] for w in windows), "windows": len(windows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=0.15, help="size of the generated corpus")
    parser.add_argument("--steps", type=int, default=40, help="training steps per measurement")
    parser.add_argument("--corpus-dir", default=None, help="keep the generated corpus here (default: a temp dir)")
    args = parser.parse_args()

    from asr.data import FeatureStore
    from asr.data.manifest import read_manifest
    from asr.training.trainer import train

    tmp = Path(args.corpus_dir) if args.corpus_dir else Path(tempfile.mkdtemp(prefix="asr-bench-train-"))
    corpus = make_corpus(tmp, args.hours)
    store = FeatureStore(corpus[2])
    utts = read_manifest(corpus[0])
    mean_frames = statistics.mean(store.num_frames(u.id) for u in utts)
    frame_rate = store.feature_config.frame_rate
    rows = []

    # one process, torch's default threads (all cores)
    cpu_flops = matmul_flops_per_s("cpu")
    run_dir = tmp / "run-cpu"
    train(compose(overrides("small", corpus, run_dir, args.steps, "cpu")))
    rows.append(summarise(f"small, 1 process × {torch.get_num_threads()} threads", "small", run_dir, cpu_flops,
                          "cpu", frame_rate, mean_frames))

    # one process per core, one thread each, DDP over gloo
    cores = os.cpu_count() or 1
    if cores > 1:
        run_dir = tmp / "run-cpu-ddp"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(cores),
               "-m", "asr.train", *overrides("small", corpus, run_dir, args.steps, "cpu"), "train.threads=1"]
        subprocess.run(cmd, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True,
                       stdout=subprocess.DEVNULL)
        rows.append(summarise(f"small, {cores} processes × 1 thread (DDP)", "small", run_dir, cpu_flops, "cpu",
                              frame_rate, mean_frames))

    if torch.cuda.is_available():
        gpu_flops = matmul_flops_per_s("cuda", torch.bfloat16, n=8192)
        for model in ("small", "ds2"):
            run_dir = tmp / f"run-cuda-{model}"
            train(compose([*overrides(model, corpus, run_dir, args.steps, "cuda", "bf16"), "train.max_frames=60000"]))
            rows.append(summarise(f"{model}, 1 GPU, bf16 AMP", model, run_dir, gpu_flops, "cuda", frame_rate,
                                  mean_frames))

    best_cpu = max((r for r in rows if r["device"] == "cpu"), key=lambda r: r["audio_s_per_s"])
    results = {"audio_s_per_s": best_cpu["audio_s_per_s"], "mfu": best_cpu["mfu"],
               "loader_stall_frac": best_cpu["loader_stall_frac"], "device": "cpu", "configuration": best_cpu["name"],
               "runs": rows, "corpus_hours": args.hours, "steps": args.steps, "machine": machine()}
    print_table(["run", "audio s / s", "MFU", "train TFLOP/s", "matmul TFLOP/s", "loader stall"],
                [[r["name"], r["audio_s_per_s"], r["mfu"], r["train_tflops_per_s"], r["matmul_tflops_per_s"],
                  r["loader_stall_frac"]] for r in rows])
    print(f"wrote {write_results('train', results)}")


if __name__ == "__main__":
    main()
