"""Experiment: fine-tune MediaPipe FaceMesh's pretrained trunk (plus a linear head) on FERPlus and
score it under the FER+ majority protocol and on all rows, per class. The measurement behind the
choice of trunk for the LRDif image branch (issue 12); not the shipped recipe.

    python -m benchmarks.trunk_finetune --out runs/trunk96 --size 96 --epochs 6 [--logit-adjust 1.0]
        [--degrade] [--freeze 3] [--resume]

Input: each 48x48 FERPlus face padded 12 px (a quarter of its side, edge replicate; FaceMesh's ROI is 1.5x the face),
resized to --size, grey -> RGB in [0, 1] (FaceMesh's input range). Augmentation: flip, small
affine; --degrade adds the project's UDC / low-light simulation (MixedDegradation) to half the
batch. Loss: cross-entropy on the FER+ vote distribution (single votes dropped), optionally
logit-adjusted (Menon et al. 2021: logits + tau * log prior during training only).
Writes OUT/results.json (per epoch: PrivateTest majority / all-rows accuracy, mean class accuracy,
per-class recall) and OUT/state.pt (exact resume at epoch boundaries).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from lrdif.sdk.fileio import atomic_write, atomic_write_bytes
from lrdif.sdk.labels import LABELS_8
from lrdif.training.datasets import ferplus_majority, outlier_free_vote_distribution
from lrdif.training.facemesh_weights import pretrained_facemesh_trunk
from lrdif.training.model.facemesh import FaceMeshTrunkConfig


class TrunkClassifier(nn.Module):
    def __init__(self, size: int, classes: int = 8, freeze: int = 0, drop: float = 0.2) -> None:
        super().__init__()
        cfg = FaceMeshTrunkConfig(input_size=size)
        self.trunk = pretrained_facemesh_trunk(cfg)
        self.freeze = freeze                      # stem + this many blocks run without gradients
        fs = cfg.feature_size
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(drop), nn.Linear(128 * fs * fs, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.trunk
        with torch.set_grad_enabled(self.training and self.freeze == 0):
            x = t.forward_stem(x)
            for blk in t.blocks[: self.freeze]:
                x = blk(x)
        for blk in t.blocks[self.freeze:]:
            x = blk(x)
        return self.head(x)


def to_input(imgs_u8: torch.Tensor, size: int) -> torch.Tensor:
    """(N, H, W) grey or (N, H, W, 3) RGB uint8 faces -> (N, 3, size, size) in [0, 1]: padded by a
    quarter of their side (edge replicate; FaceMesh's ROI is 1.5x the face), then resized."""
    x = imgs_u8.float().div(255.0)
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)
    pad = x.shape[-1] // 4
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    ang = (torch.rand(b, generator=gen) - 0.5) * math.radians(20)
    sc = 1.0 + (torch.rand(b, generator=gen) - 0.5) * 0.2
    tx, ty = ((torch.rand(2, b, generator=gen) - 0.5) * 0.12)
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    c, s = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([c * flip, -s, tx], 1), torch.stack([s * flip, c, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def evaluate(model: nn.Module, imgs: torch.Tensor, votes: np.ndarray, size: int, bs: int = 256) -> dict:
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(imgs), bs):
            preds.append(model(to_input(imgs[i:i + bs], size)).argmax(1))
    return score(torch.cat(preds).numpy(), votes)


def score(pred: np.ndarray, votes: np.ndarray) -> dict:
    """FER+ majority and all-rows accuracy, mean class accuracy and per-class recall (majority) of
    predicted class indices against the FER+ vote table."""
    keep, win = ferplus_majority(votes)
    allrow = votes[:, :8].argmax(1)
    recall = {LABELS_8[k]: float((pred[keep & (win == k)] == k).mean()) if (keep & (win == k)).any() else None
              for k in range(8)}
    rec = [r for r in recall.values() if r is not None]
    return {"majority_acc": float((pred[keep] == win[keep]).mean()), "majority_n": int(keep.sum()),
            "all_rows_acc": float((pred == allrow).mean()), "mean_class_acc": float(np.mean(rec)),
            "recall_majority": recall}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.trunk_finetune", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=None, help="default: the shared FERPlus npz")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--freeze", type=int, default=0, help="stem + N trunk blocks frozen")
    ap.add_argument("--logit-adjust", type=float, default=0.0, help="tau of the logit-adjusted loss (0 = plain)")
    ap.add_argument("--degrade", action="store_true", help="UDC / low-light simulation on half of each batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N training faces (smoke runs)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def _load(path: Path, limit: int):
    with np.load(path) as z:
        images, votes, split = z["images"], z["votes"], z["split"]
    tr = np.nonzero(split == 0)[0]
    if limit:
        tr = tr[:limit]
    te = np.nonzero(split == 2)[0]
    return (torch.from_numpy(images[tr]), torch.from_numpy(outlier_free_vote_distribution(votes[tr])),
            torch.from_numpy(images[te]), votes[te])


def _epoch(model, opt, sched, xtr, ytr, args, gen, prior_log, degrade) -> float:
    model.train()
    order = torch.randperm(len(xtr), generator=gen)
    n = len(order) // args.batch_size
    total = 0.0
    for i in tqdm(range(n), desc="train", leave=False, mininterval=5):
        idx = order[i * args.batch_size:(i + 1) * args.batch_size]
        x = augment(to_input(xtr[idx], args.size), gen)
        if degrade is not None:
            h = len(idx) // 2
            x = torch.cat([degrade(x[:h].contiguous(), gen).clamp(0, 1), x[h:]])
        logits = model(x.contiguous(memory_format=torch.channels_last))
        loss = -(ytr[idx] * F.log_softmax(logits + args.logit_adjust * prior_log, 1)).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach())
    return total / max(n, 1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from lrdif.training.data import resolve_data_path
    xtr, ytr, xte, vte = _load(resolve_data_path(args.data), args.limit)
    prior_log = torch.log(ytr.mean(0).clamp_min(1e-4))
    model = TrunkClassifier(args.size, freeze=args.freeze).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(xtr) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(steps, 1), pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    degrade = None
    if args.degrade:
        from lrdif.training.degrade import MixedDegradation
        degrade = MixedDegradation()
    args.out.mkdir(parents=True, exist_ok=True)
    history, start = [], 0
    state_path = args.out / "state.pt"
    if args.resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        model.load_state_dict(st["model"]); opt.load_state_dict(st["opt"]); sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"]); history, start = st["history"], st["epoch"]
    for ep in range(start, args.epochs):
        t0 = time.time()
        loss = _epoch(model, opt, sched, xtr, ytr, args, gen, prior_log, degrade)
        row = {"epoch": ep + 1, "train_loss": loss, "minutes": (time.time() - t0) / 60,
               **evaluate(model, xte, vte, args.size)}
        history.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
        st = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
              "gen": gen.get_state(), "history": history, "epoch": ep + 1, "args": vars(args)}
        atomic_write(state_path, lambda f: torch.save(st, f))
        meta = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        atomic_write_bytes(args.out / "results.json", json.dumps({"args": meta, "history": history}, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
