"""torchrun on CPU (gloo): DDP equals single-process accumulation, two nodes, and an elastic restart."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import train_overrides

from asr.train import compose
from asr.training.checkpoint import load_checkpoint
from asr.training.trainer import train

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
SETTINGS = {"train.epochs": 2, "augment": "specaugment", "model.dropout": 0.2, "train.max_frames": 400}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*launcher_args: str, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *launcher_args, "-m", "asr.train", *overrides]


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def launch(*launcher_args: str, overrides: list[str]) -> subprocess.Popen:
    """torchrun in its own session, so that ``stop`` reaches its workers too (a killed launcher leaves them running,
    holding the cores and the port for the tests after it)."""
    return subprocess.Popen(torchrun(*launcher_args, overrides=overrides), cwd=REPO, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def stop(*launchers: subprocess.Popen) -> None:
    for launcher in launchers:
        try:
            os.killpg(launcher.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        launcher.wait()


def last_state(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")


def test_two_processes_equal_one_process_accumulating_the_same_batches(tiny_corpus, tmp_path):
    ddp_dir = tmp_path / "ddp"
    launcher = launch("--standalone", "--nproc_per_node", "2", overrides=train_overrides(tiny_corpus, ddp_dir, **SETTINGS))
    try:
        output, _ = launcher.communicate(timeout=300)
    finally:
        stop(launcher)
    assert launcher.returncode == 0, output[-6000:]
    single_dir = train(compose(train_overrides(tiny_corpus, tmp_path / "single", **SETTINGS, **{
        "train.accumulate": 2, "train.batches_multiple_of": 2})))

    ddp, single = last_state(ddp_dir), last_state(single_dir)
    for entry in ddp["history"]:  # every epoch, both ranks hashed identical weights
        assert len(entry["rank_fingerprints"]) == 2
        assert entry["rank_fingerprints"][0] == entry["rank_fingerprints"][1]
    assert ddp["provenance"]["world_size"] == 2 and ddp["step"] == single["step"] > 4
    for key, value in single["model"].items():
        torch.testing.assert_close(ddp["model"][key], value, atol=1e-5, rtol=1e-4, msg=key)
    for a, b in zip(ddp["history"], single["history"]):
        assert a["wer"] == b["wer"] and a["loss"] == pytest.approx(b["loss"], rel=1e-4)


def test_two_nodes_on_localhost(tiny_corpus, tmp_path):
    port = str(free_port())
    overrides = train_overrides(tiny_corpus, tmp_path / "run", **SETTINGS)
    nodes = [launch("--nnodes", "2", "--nproc_per_node", "1", "--node_rank", str(rank), "--master_addr", "127.0.0.1",
                    "--master_port", port, overrides=overrides) for rank in (0, 1)]
    try:
        outputs = [node.communicate(timeout=300)[0] for node in nodes]
    finally:
        stop(*nodes)
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    state = last_state(tmp_path / "run")
    assert state["provenance"]["world_size"] == 2
    assert len(set(state["history"][-1]["rank_fingerprints"])) == 1
    assert (tmp_path / "run" / "model.pt").is_file()


def worker_pids(launcher_pid: int) -> list[int]:
    children = Path(f"/proc/{launcher_pid}/task/{launcher_pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def test_killed_worker_is_restarted_and_training_resumes(tiny_corpus, tmp_path):
    run_dir = tmp_path / "run"
    overrides = train_overrides(tiny_corpus, run_dir, **{**SETTINGS, "train.epochs": 12,
                                                         "train.checkpoint_every_steps": 1})
    launcher = launch("--standalone", "--nproc_per_node", "2", "--max-restarts", "1", overrides=overrides)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if (run_dir / "checkpoints" / "last.pt").is_file() and len(worker_pids(launcher.pid)) == 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("training never wrote a checkpoint")
        time.sleep(0.5)
        killed_at = load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"]
        os.kill(worker_pids(launcher.pid)[1], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=300)
    finally:
        stop(launcher)
    assert launcher.returncode == 0, output[-4000:]
    assert "resuming at step" in output
    state = last_state(run_dir)
    assert len(state["history"]) == 12 and state["step"] > killed_at
    assert (run_dir / "model.pt").is_file()
