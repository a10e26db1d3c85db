"""Data-parallel training under ``torchrun``: joining the process group, and this process's
place in it.

Every process draws the same global batch from the same generator and trains on its own
slice of it through ``DistributedDataParallel``, whose gradient all-reduce averages the
slices, so N processes follow the same trajectory as one process with the same global batch
(up to float summation order). Process 0 validates, logs and checkpoints.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_distributed(device: torch.device) -> torch.device:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1).

    NCCL on CUDA (one GPU per process, by LOCAL_RANK), gloo on CPU.

    Args:
        device: the device asked for (its index is replaced by LOCAL_RANK on CUDA).

    Returns:
        The device this process trains on.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def close_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if is_distributed():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether this process is one of several data-parallel processes."""
    return dist.is_available() and dist.is_initialized()


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes ((0, 1) without a process group)."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def is_main_process() -> bool:
    """Whether this process writes outputs (rank 0, or the only process)."""
    return rank_and_world()[0] == 0


def local_slice(batch_size: int) -> slice:
    """This process's slice of a global batch of ``batch_size`` items.

    Raises:
        ValueError: if the batch does not split evenly over the processes.
    """
    rank, world = rank_and_world()
    if batch_size % world:
        raise ValueError(f"batch_size={batch_size} must be divisible by the {world} processes")
    return slice(rank * batch_size // world, (rank + 1) * batch_size // world)


def require_single_process(what: str, reason: str) -> None:
    """Refuse to run ``what`` under torchrun, naming ``reason``.

    Raises:
        ValueError: inside a process group.
    """
    if is_distributed():
        raise ValueError(f"{what} trains in one process ({reason}); launch it without torchrun")
