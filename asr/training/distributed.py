"""Process-group setup for torchrun (one process per GPU, or per CPU worker), and the few collectives training uses.

A plain ``python -m asr.train`` run is a world of one and never touches torch.distributed. Under torchrun the
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) says everything; NCCL is used on GPUs, gloo on CPU.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto", timeout_s: float = 600.0) -> DistInfo:
    """Join the process group when launched by torchrun; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        timeout = datetime.timedelta(seconds=timeout_s)
        # After an elastic restart (torchrun --max-restarts) the workers meet in the launcher's key-value store
        # again, where the previous attempt's peer addresses are still written; a new group that reads them
        # connects to dead ports and fails ("Connection refused", seen with gloo and NCCL). Keys are therefore
        # prefixed with the restart count.
        store, _, _ = next(dist.rendezvous("env://", rank, world_size, timeout=timeout))
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size,
                                store=dist.PrefixStore(f"asr/attempt-{attempt}", store), timeout=timeout)
    return DistInfo(rank, world_size, local_rank, dev)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def exit_worker(code: int) -> None:
    """End a torchrun worker at once, after the process group is torn down and its output flushed.

    Interpreter finalisation after a gloo group has lived is where workers died at random, after training had
    finished and been saved: the c10d store's and gloo's C++ threads are destroyed while the interpreter is
    half gone, which aborts ("terminate called without an active exception") or hangs, and the launcher then
    reports the whole job failed. Nothing is left to finalise by then: checkpoints, the model and the logs are
    written and closed, so the worker skips finalisation.
    """
    teardown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64, so counts stay exact)."""
    if not dist.is_initialized():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's decision, on every rank (e.g. early stopping)."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def all_gather_object(obj: object) -> list:
    """``obj`` from every rank, in rank order (a one-item list outside torch.distributed)."""
    if not dist.is_initialized():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def weights_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer's bytes: equal on two ranks only if their weights are identical."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
