"""DDP when launched by ``torchrun`` (WORLD_SIZE / RANK / LOCAL_RANK in the environment); one process otherwise.

Batch norm across ranks: on CUDA every BatchNorm becomes a SyncBatchNorm (batch statistics over all ranks). On
CPU (gloo) torch 2.13's SyncBatchNorm refuses to run ("SyncBatchNorm expected input tensor to be on GPU"), so each
rank normalises with its own batch and keeps its own running statistics (DDP's ``broadcast_buffers`` off), and
``average_batchnorm_stats`` makes them the mean over ranks at every epoch end: for the running means exactly what
SyncBatchNorm would hold (equal shards, the same momentum: the average of the ranks' moving averages is the moving
average of the global batch means); the running variances miss the spread between the ranks' batch means."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from edgekit.errors import EdgekitError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "auto") -> DistEnv:
    """Join the process group torchrun prepared (nccl on CUDA, gloo on CPU); a single-process env otherwise.

    ``device``: ``auto`` (CUDA when available), ``cpu``, or ``cuda`` (an error when no CUDA device is visible)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device != "cpu"
    if device == "cuda" and not cuda:
        raise EdgekitError("--device cuda: no CUDA device is visible to torch "
                           f"(torch {torch.__version__}; a CPU build or no GPU)")
    if cuda:
        torch.cuda.set_device(local_rank)
    device = f"cuda:{local_rank}" if cuda else "cpu"
    if world_size <= 1:
        return DistEnv(device=device)
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistEnv(rank=dist.get_rank(), world_size=world_size, local_rank=local_rank, device=device)


def teardown_distributed(env: DistEnv) -> None:
    if env.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        import torch.distributed as dist

        dist.barrier()


def all_reduce_sum(values: list[float], env: DistEnv) -> list[float]:
    """Sum per-process totals (loss sums, image counts) over all ranks."""
    if not env.distributed:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=env.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def syncs_batchnorm(env: DistEnv) -> bool:
    """Whether SyncBatchNorm runs here: several ranks on CUDA (torch refuses CPU tensors)."""
    return env.distributed and env.device.startswith("cuda")


def prepare_batchnorm(model: nn.Module, env: DistEnv) -> nn.Module:
    """Before DDP wraps it: BatchNorm layers become SyncBatchNorm where that runs (same parameters, same
    state_dict keys, so checkpoints and weights do not change)."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(model) if syncs_batchnorm(env) else model


def average_batchnorm_stats(model: nn.Module, env: DistEnv) -> None:
    """Every rank's BatchNorm running mean and variance := their mean over ranks (one all-reduce); a no-op in one
    process or where SyncBatchNorm already keeps them equal."""
    if not env.distributed or syncs_batchnorm(env):
        return
    import torch.distributed as dist

    buffers = [buffer for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)
               for buffer in (module.running_mean, module.running_var) if buffer is not None]
    if not buffers:
        return
    flat = torch.cat([buffer.reshape(-1) for buffer in buffers])
    dist.all_reduce(flat)
    flat /= env.world_size
    for buffer, mean in zip(buffers, flat.split([buffer.numel() for buffer in buffers])):
        buffer.copy_(mean.view_as(buffer))


def gather_to_main(value, env: DistEnv) -> list | None:
    """Every rank's ``value`` in rank order on rank 0 (None on the others); ``[value]`` in one process. The values
    travel pickled between this run's own processes (no file is ever unpickled)."""
    if not env.distributed:
        return [value]
    import torch.distributed as dist

    gathered = [None] * env.world_size if env.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered
