"""The processes of a run, as accelerate sees them.

On GPUs, `accelerate launch` / torchrun processes find each other by themselves (NCCL).
Without a GPU accelerate must be told to use CPU processes (gloo); otherwise each process
of a `torchrun --nproc_per_node N` run believes it is alone and does all the work.
"""
from __future__ import annotations

import torch


def cpu_only() -> bool:
    """True where there is no GPU: the value for accelerate's `cpu` / Trainer's `use_cpu`."""
    return not torch.cuda.is_available()


def process_state():
    """accelerate's PartialState (rank, world size, device) for this process."""
    from accelerate import PartialState

    return PartialState(cpu=cpu_only())
