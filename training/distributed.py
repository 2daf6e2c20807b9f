"""Multi-process training under `torchrun` (gloo): every rank holds the crops, a DistributedSampler
shards the indices, gradients are all-reduced (averaged) after each backward exactly like DDP, rank 0
logs and writes checkpoints. With WORLD_SIZE unset everything is a no-op."""
from __future__ import annotations

import os

import torch

__all__ = ["Dist", "cleanup"]


class Dist:
    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group("gloo")
            self.dist = dist

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            self.dist.barrier()

    def allreduce_grads(self, params: list[torch.nn.Parameter]) -> None:
        if not self.enabled:
            return
        params = [p for p in params if p.grad is not None]  # same set on every rank (same code path)
        if not params:
            return
        grads = [p.grad for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.dist.all_reduce(flat)
        flat /= self.world
        off = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[off:off + n].view_as(p).clone()
            off += n

    def broadcast_params(self, model: torch.nn.Module) -> None:
        if self.enabled:
            for t in list(model.parameters()) + list(model.buffers()):
                self.dist.broadcast(t.data, 0)

    def any_flag(self, flag: bool) -> bool:
        return self.any_flags(flag)[0]

    def any_flags(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag OR-ed over the ranks, in one collective."""
        if not self.enabled:
            return tuple(bool(f) for f in flags)
        t = torch.tensor([1.0 if f else 0.0 for f in flags])
        self.dist.all_reduce(t)
        return tuple(bool(v > 0) for v in t.tolist())

    def order(self, n: int, seed: int, epoch: int) -> torch.Tensor:
        """This rank's shuffled sample order for an epoch (drop_last, like DistributedSampler)."""
        from torch.utils.data import DistributedSampler
        sampler = DistributedSampler(range(n), num_replicas=self.world, rank=self.rank, shuffle=True,
                                     seed=seed, drop_last=True)
        sampler.set_epoch(epoch)
        return torch.tensor(list(iter(sampler)), dtype=torch.long)


def cleanup() -> None:
    try:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass
