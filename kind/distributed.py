"""torch.distributed for kind: the process group that ``torchrun`` describes, each rank's device,
and the few collectives the trainer and the sharded enhancement need.

``torchrun --nproc_per_node=N -m kind train …`` (or ``… enhance …``) starts N processes with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous in their environment;
:func:`process_group` initialises the group from it (NCCL for CUDA tensors, gloo for CPU tensors)
and destroys it at the end. A plain ``kind`` process is a world of one and touches nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist



@dataclass(frozen=True)
class World:
    """This process's place in the job: rank ``rank`` of ``size``, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_by_torchrun() -> bool:
    """True when torchrun (or another launcher of the same protocol) started this process."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))


def current_world() -> World:
    """The initialised process group as a :class:`World`, else a world of one."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def check_device(device: torch.device, given: str | torch.device | None = None) -> torch.device:
    """``device`` unchanged when this machine has it; ValueError naming ``given`` (as the user wrote
    it) otherwise: CUDA without a GPU, a GPU index beyond the count, MPS without Apple's backend."""
    name = repr(str(given if given is not None else device))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name}: no CUDA GPU is available (use cpu or auto)")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name}: this machine has {count} CUDA GPU{'s' if count != 1 else ''} "
                             f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name}: Apple's MPS backend is not available here")
    return device


def rank_device(device: str, world: World) -> torch.device:
    """The device a rank works on: under a distributed launch with ``auto`` or ``cuda``, the GPU of
    its local rank; otherwise ``device`` as given (``auto`` → CUDA when present, else CPU)."""
    given = device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if world.distributed and device == "cuda":
        return check_device(torch.device("cuda", world.local_rank), given)
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {given!r}: {error}") from None
    return check_device(resolved, given)


@contextlib.contextmanager
def process_group(device: str = "auto") -> Iterator[World]:
    """Initialise the process group from torchrun's environment for the duration of the block
    (a world of one, and nothing initialised, when not launched so)."""
    if not launched_by_torchrun() or dist.is_initialized():
        yield current_world()
        return
    local_rank = int(os.environ["LOCAL_RANK"])
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="cpu:gloo,cuda:nccl" if cuda else "gloo")
    try:
        yield current_world()
    except BaseException:
        dist.destroy_process_group()  # no barrier: another rank may be gone
        raise
    # every rank done with the group before any tears it down (gloo aborts a rank whose peer
    # closes the connections while it still holds them)
    dist.barrier()
    dist.destroy_process_group()


def wait_for_all(world: World) -> None:
    """Block until every rank has reached this point (nothing to wait for in a world of one)."""
    if world.distributed:
        dist.barrier()


def sum_across(values: torch.Tensor, world: World) -> torch.Tensor:
    """``values`` summed over all ranks (in place; returned). A world of one returns them as they are."""
    if world.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def gather_objects(obj: object, world: World) -> list[object]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not world.distributed:
        return [obj]
    gathered: list[object] = [None] * world.size
    dist.all_gather_object(gathered, obj)
    return gathered
