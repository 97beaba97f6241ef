"""Where recovery runs: the device, and under ``torchrun`` the process's rank among its peers.

``torchrun --nproc_per_node=N -m sepconv_tui …`` starts N processes with RANK, WORLD_SIZE and
LOCAL_RANK set; ``Ranks.start`` then joins them with ``torch.distributed`` (gloo on the CPU,
NCCL on CUDA, each rank on GPU LOCAL_RANK). Every rank reads the same data and computes the
same split, takes its shard of each split (``DistributedSampler``'s order, without the
padding it adds, so no sample counts twice), and sums what it measures or accumulates with
``all_reduce``; rank 0 alone prints and writes. Without torchrun there is one rank, one process,
and every collective is the identity. torch is imported inside the functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import UserError

if TYPE_CHECKING:
    import torch

    from .data import Data

#: What --device accepts.
DEVICES = ("cpu", "cuda", "auto")


class DeviceError(UserError):
    """A device that cannot run here, or a distributed launch that cannot start."""

    default_field = "device"


def resolve_device(device: str) -> str:
    """``cpu``/``cuda``/``auto`` → ``cpu`` or ``cuda``; DeviceError when CUDA is asked for and
    absent (one line, as ``bench --device cuda`` says it)."""
    if device not in DEVICES:
        raise DeviceError(f"the device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        why = (
            f"this torch {torch.__version__} is a CPU-only build"
            if torch.version.cuda is None
            else "no CUDA GPU is visible"
        )
        raise DeviceError(f"CUDA is not available ({why}); use the cpu device")
    return device


def launched_by_torchrun() -> bool:
    """True when torchrun (or another launcher) set WORLD_SIZE and RANK for this process."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


@dataclass(frozen=True)
class Ranks:
    """The device this process computes on, its rank and how many ranks there are."""

    device: str = "cpu"  # "cpu", "cuda" or "cuda:K"
    rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        """True on the one process that prints, shows progress and writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when there are peers to sum with."""
        return self.world_size > 1

    @classmethod
    def start(cls, device: str = "cpu") -> Ranks:
        """This process's ranks: alone, or joined to its torchrun peers."""
        kind = resolve_device(device)
        if not launched_by_torchrun():
            return cls(kind)
        import torch
        import torch.distributed as dist

        world_size = int(os.environ["WORLD_SIZE"])
        rank = int(os.environ["RANK"])
        if kind == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if local >= torch.cuda.device_count():
                raise DeviceError(
                    f"cuda: LOCAL_RANK {local} but {torch.cuda.device_count()} GPUs "
                    "are visible; give torchrun --nproc_per_node ≤ the GPU count"
                )
            torch.cuda.set_device(local)
            kind = f"cuda:{local}"
        if not dist.is_initialized():
            dist.init_process_group("nccl" if kind.startswith("cuda") else "gloo")
        return cls(kind, rank, world_size)

    def stop(self, *, finished: bool = True) -> None:
        """Leave the process group ``start`` joined (a no-op without torchrun); ``finished``:
        every rank got here without an error, so they leave together."""
        if launched_by_torchrun():
            import torch.distributed as dist

            if dist.is_initialized():
                # Rank 1 is done long before rank 0 has written DIR; tearing gloo down while
                # a peer still holds the connections aborted the early rank (SIGABRT). After
                # a failure the peers may never come, so the failing rank leaves at once.
                if finished and self.distributed:
                    dist.barrier()
                dist.destroy_process_group()

    def shard(self, data: Data) -> Data:
        """This rank's samples of ``data``: DistributedSampler's (in order), padding dropped."""
        if not self.distributed:
            return data
        import torch
        from torch.utils.data.distributed import DistributedSampler

        sampler: Any = DistributedSampler(
            range(len(data)),  # type: ignore[arg-type]  # a Sequence serves as a Dataset
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=False,
        )
        # The sampler pads the index list by repeating its start; those repeats come last in
        # each rank's share, and counting them would weigh some samples twice.
        own = len(range(self.rank, len(data), self.world_size))
        indices = torch.tensor(list(sampler)[:own], dtype=torch.int64)
        labels = None if data.labels is None else data.labels[indices]
        return type(data)(
            data.inputs[indices],
            labels,
            f"{data.description}, shard {self.rank + 1} of {self.world_size}",
            data.classes,
        )

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over every rank (in place; identical on all of them)."""
        if self.distributed:
            import torch.distributed as dist

            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def sum_floats(self, values: list[float]) -> list[float]:
        """Numbers summed over every rank, in float64."""
        if not self.distributed:
            return values
        import torch

        device = self.device if self.device.startswith("cuda") else "cpu"
        summed = self.sum(torch.tensor(values, dtype=torch.float64, device=device))
        return [float(value) for value in summed.cpu()]

    def smallest(self, value: int) -> int:
        """The smallest of every rank's ``value``: one decision from figures each rank
        measures on its own (free memory), so that all of them take the same path."""
        if not self.distributed:
            return value
        import torch
        import torch.distributed as dist

        device = self.device if self.device.startswith("cuda") else "cpu"
        least = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(least, op=dist.ReduceOp.MIN)
        return int(least.item())

    def all_true(self, flag: bool) -> bool:
        """True when ``flag`` is true on every rank."""
        if not self.distributed:
            return flag
        return self.sum_floats([0.0 if flag else 1.0])[0] == 0.0

    def broadcast_module(self, module: Any) -> None:
        """Every rank's ``module`` parameters and buffers set to rank 0's."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


#: The ranks of a plain call: one process on the CPU.
LOCAL = Ranks()
