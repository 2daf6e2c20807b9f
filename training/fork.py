"""Train the FaceMesh emotion fork of a stage-2 checkpoint (issue 12) and write the ensemble checkpoint.

    python -m lrdif.training.fork --checkpoint training/weights/lrdif-mobile.pt --out runs/fork/fork.pt
        [--size 192] [--tap 9] [--epochs 8] [--threads 2] [--seed 0] [--limit N]
        [--train-kinds udc-toled,udc-poled,lowlight] [--logit-adjust TAU] [--cache-dir DIR]

The fork (`lrdif.training.model.fork`) sees the model's own crops (the SDK crop of the landmark
cache, as LRDif does). Its shared part (FaceMesh stem + `--tap` blocks, MediaPipe's weights) is
frozen, so it runs once per view and its maps are held in memory (float16): every training crop
(deduplicated against the test splits), its mirror image, and one copy per `--train-kinds` kind
(default UDC-T, UDC-P and low light; the training simulator on the crops, seeds `seed + 102...`,
every other one mirrored). `--cache-dir` keeps those maps on disk, keyed by the sha256 of the view's
input bytes and of the frozen weights, so a rerun with other head settings skips the trunk. Loss:
cross-entropy on the FER+ vote distribution (single votes dropped); `--logit-adjust TAU` trains on
logits + TAU log(class prior) (Menon et al.'s logit-adjusted loss, for the rare classes) and infers
on the raw logits. Selection on PublicTest (clean / UDC-T / UDC-P / low light,
degraded with seed 0): the epoch and the ensemble weight w (0.25-2) with the best FER+ majority
accuracy of log_softmax(z / T0) + w log_softmax(fork), mean over conditions, T0 = the checkpoint's
calibrated temperature. The written checkpoint carries the fork in its config and state_dict and no
temperature (calibrate it again: `python -m lrdif.training.calibration`).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

CONDITIONS = ("none", "udc-toled", "udc-poled", "lowlight")
TRAIN_KINDS = ("udc-toled", "udc-poled", "lowlight")
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def degrade_u8(crops: torch.Tensor, kind: str, seed: int, bs: int = 512) -> torch.Tensor:
    """uint8 crops (N, 3, S, S) through the training simulator `kind` (deterministic given seed)."""
    if kind == "none":
        return crops
    from lrdif.training.degrade import make_degradation
    from lrdif.training.inference import rng_for
    deg, gen = make_degradation(kind), rng_for(seed, 12345)
    out = [(deg(crops[i:i + bs].float() / 255.0, gen).clamp(0, 1) * 255.0).round().to(torch.uint8)
           for i in range(0, len(crops), bs)]
    return torch.cat(out)


class MapCache:
    """Shared maps on disk (`--cache-dir`), content-addressed: the key is the sha256 of the frozen
    part's weights, the fork's size / tap / normalisation, the mirror flag and the uint8 input bytes,
    so a changed simulator, crop or trunk never reads a stale file. Unreadable files are recomputed."""

    def __init__(self, directory: Path, fork, norm_tag: dict) -> None:
        h = hashlib.sha256(json.dumps({"format": 1, "size": fork.size, "tap": fork.tap, **norm_tag}).encode())
        for name, t in sorted({**fork.stem.state_dict(prefix="stem."), **fork.stem_act.state_dict(prefix="act."),
                               **fork.shared.state_dict(prefix="shared.")}.items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        self.directory, self._tag = Path(directory), h.hexdigest()

    def path(self, crops: torch.Tensor, flip: bool) -> Path:
        h = hashlib.sha256(f"{self._tag}:{int(flip)}:{tuple(crops.shape)}:".encode())
        h.update(memoryview(crops.contiguous().numpy()).cast("B"))
        return self.directory / f"maps-{h.hexdigest()[:32]}.npy"

    def maps(self, fork, crops: torch.Tensor, norm, flip: bool = False) -> torch.Tensor:
        from lrdif.sdk.fileio import atomic_write
        p = self.path(crops, flip)
        if p.exists():
            try:
                m = np.load(p, allow_pickle=False)
                if m.dtype == np.float16 and m.ndim == 4 and len(m) == len(crops):
                    return torch.from_numpy(m)
            except (OSError, ValueError):
                pass
            tqdm.write(f"lrdif.training.fork: {p}: unreadable cache entry, recomputing")
        m = shared_maps(fork, crops, norm, flip)
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(p, lambda f: np.save(f, m.numpy(), allow_pickle=False))
        return m


def view_maps(fork, crops: torch.Tensor, norm, flip: bool, cache: MapCache | None) -> torch.Tensor:
    return cache.maps(fork, crops, norm, flip) if cache is not None else shared_maps(fork, crops, norm, flip)


def shared_maps(fork, crops: torch.Tensor, norm, flip: bool = False, bs: int = 256) -> torch.Tensor:
    """The frozen shared part on uint8 crops normalised by `norm` (the model's metadata normaliser):
    float16 maps, N x C x H x W."""
    out = []
    with torch.no_grad():
        for i in tqdm(range(0, len(crops), bs), desc="shared trunk", leave=False, mininterval=5):
            x = norm(crops[i:i + bs].float() / 255.0)
            out.append(fork.forward_shared(x.flip(-1) if flip else x).half())
    return torch.cat(out)


def stack_views(count: int, view) -> torch.Tensor:
    """torch.cat([view(0), ..., view(count - 1)]) (equal-sized tensors) without holding the list and
    the result at once: the cache of shared maps is the largest thing in memory here."""
    out = None
    for v in range(count):
        m = view(v)
        if out is None:
            out = torch.empty((count * len(m), *m.shape[1:]), dtype=m.dtype)
        out[v * len(m):(v + 1) * len(m)] = m
        del m
    return out


def train_views(fork, crops: torch.Tensor, votes: np.ndarray, seed: int, norm, kinds=TRAIN_KINDS,
                cache: MapCache | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps of every crop, its mirror and one degraded copy per kind (every other one mirrored);
    FER+ soft targets per row."""
    from lrdif.training.datasets import outlier_free_vote_distribution
    views = [("none", False), ("none", True)] + [(k, bool(i % 2)) for i, k in enumerate(kinds)]
    maps = stack_views(len(views), lambda v: view_maps(fork, degrade_u8(crops, views[v][0], seed + 100 + v),
                                                       norm, views[v][1], cache))
    return maps, torch.from_numpy(outlier_free_vote_distribution(votes)).float().repeat(len(views), 1)


def majority_acc(pred: np.ndarray, votes: np.ndarray) -> float:
    from lrdif.training.datasets import ferplus_majority
    keep, win = ferplus_majority(votes)
    return float((pred[keep] == win[keep]).mean())


def fork_log_probs(head, maps: torch.Tensor, bs: int = 512) -> np.ndarray:
    head.eval()
    with torch.no_grad():
        return torch.cat([F.log_softmax(head(maps[i:i + bs].float()), 1) for i in range(0, len(maps), bs)]).double().numpy()


def best_weight(lrdif_lp: dict, fork_lp: dict, votes: np.ndarray) -> tuple[float, float]:
    """(w, mean PublicTest FER+ majority accuracy over conditions) of the best ensemble weight."""
    acc = {w: float(np.mean([majority_acc((lrdif_lp[k] + w * fork_lp[k]).argmax(1), votes) for k in lrdif_lp]))
           for w in WEIGHTS}
    w = max(acc, key=acc.get)
    return w, acc[w]


def public_sets(model, fork, crops, t0: float, seed: int = 0,
                cache: MapCache | None = None) -> dict[str, tuple[np.ndarray, torch.Tensor]]:
    """{condition: (LRDif log-probabilities at temperature T0, the fork's shared maps)} of the
    PublicTest crops, each degraded once (seed) and fed to both."""
    from lrdif.training.inference import model_metadata, normaliser, predict_logits
    norm, out = normaliser(model_metadata(model.cfg)), {}
    for kind in CONDITIONS:
        x = degrade_u8(crops.crops, kind, seed)
        z = predict_logits(model, x, crops.landmarks, stage=2)[0].double()
        out[kind] = (torch.log_softmax(z / t0, 1).numpy(), view_maps(fork, x, norm, False, cache))
    return out


def train_epochs(head, maps: torch.Tensor, targets: torch.Tensor, args):
    """Train `head` on cached maps (AdamW, one-cycle LR, cross-entropy on soft targets, on logits +
    logit_adjust x log prior of the targets); yields (epoch, mean training loss, minutes) after each
    epoch. `args`: epochs, batch_size, lr, weight_decay, seed, logit_adjust."""
    from lrdif.training.step import class_log_prior
    adjust = float(getattr(args, "logit_adjust", 0.0)) * class_log_prior(targets)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    n = len(maps) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(args.epochs * n, 1), pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    for ep in range(args.epochs):
        head.train()
        t0, total, order = time.time(), 0.0, torch.randperm(len(maps), generator=gen)
        for i in tqdm(range(n), desc=f"fork epoch {ep + 1}/{args.epochs}", leave=False, mininterval=5):
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            loss = -(targets[idx] * F.log_softmax(head(maps[idx].float()) + adjust, 1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        yield ep + 1, total / max(n, 1), (time.time() - t0) / 60


def train_head(head, maps, targets, public, votes, args) -> tuple[list[dict], dict]:
    """Train `head` (the fork after the tap); per-epoch PublicTest scores and the best (epoch, w) state."""
    history, best = [], {"score": -1.0}
    for ep, loss, minutes in train_epochs(head, maps, targets, args):
        fork_lp = {k: fork_log_probs(head, m) for k, (_, m) in public.items()}
        w, acc = best_weight({k: lp for k, (lp, _) in public.items()}, fork_lp, votes)
        row = {"epoch": ep, "train_loss": loss, "minutes": minutes,
               "fork_alone": {k: majority_acc(lp.argmax(1), votes) for k, lp in fork_lp.items()},
               "weight": w, "ensemble_mean": acc}
        history.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "fork_alone"}),
              flush=True)
        if acc > best["score"]:
            best = {"score": acc, "epoch": ep, "weight": w, "state": copy.deepcopy(head.state_dict())}
    return history, best


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m lrdif.training.fork", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, required=True, help="stage-2 checkpoint without a fork")
    ap.add_argument("--out", type=Path, required=True, help="the checkpoint to write (with the fork)")
    ap.add_argument("--data", type=Path, default=None, help="FERPlus npz with votes and splits (default: shared)")
    ap.add_argument("--size", type=int, default=192, help="FaceMesh input side of the fork (multiple of 32)")
    ap.add_argument("--tap", type=int, default=9, help="stem + this many FaceMesh blocks shared and frozen")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N faces of each split (smoke runs)")
    ap.add_argument("--trunk", type=Path, default=None, help="face_landmark.tflite (default: lrdif-setup's)")
    ap.add_argument("--train-kinds", type=_kinds, default=TRAIN_KINDS,
                    help="degraded training views, one copy of every crop per kind (comma-separated "
                         "lrdif-degrade kinds; default udc-toled,udc-poled,lowlight)")
    ap.add_argument("--logit-adjust", type=float, default=0.0, metavar="TAU",
                    help="train on logits + TAU log(class prior) (0 = plain cross-entropy)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="keep the frozen trunk's maps here and reuse them (content-addressed)")
    return ap


def _kinds(text: str) -> tuple[str, ...]:
    from lrdif.training.degrade import TRAINING_KINDS as valid
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in valid]
    if not kinds or bad:
        raise argparse.ArgumentTypeError(f"not a training degradation kind: {', '.join(bad) or '(none given)'}; "
                                         f"valid: {', '.join(valid)}")
    return kinds


def _crops(args, cfg):
    """(train crops, train votes, PublicTest crops, PublicTest votes, info) of the FERPlus npz."""
    from lrdif.training.data import prepare_crops, resolve_data_path
    from lrdif.training.datasets import DatasetError, load_ferplus_npz
    from lrdif.training.splits import dedup_against_test
    try:
        ds = load_ferplus_npz(resolve_data_path(args.data), classes=cfg.num_classes)
    except (OSError, DatasetError) as e:
        raise SystemExit(f"lrdif.training.fork: error: {e}") from None
    if ds.votes is None or ds.split is None:
        raise SystemExit(f"lrdif.training.fork: error: {args.data}: the fork needs FER+ votes and a split")
    keep, info = dedup_against_test(ds.images, ds.split)
    tr = np.flatnonzero((ds.split == 0) & keep)[: args.limit or None]
    pub = np.flatnonzero(ds.split == 1)[: args.limit or None]
    idx = np.concatenate([tr, pub])
    crops, cinfo = prepare_crops(ds.subset(idx), size=cfg.input_size, progress=False)
    n = len(tr)
    return (crops.subset(np.arange(n)), ds.votes[tr], crops.subset(np.arange(n, len(idx))), ds.votes[pub],
            {**info, **cinfo, "n_train": int(n), "n_public": int(len(pub))})


def _with_fork(model, cfg, ckpt, fork, best, t0: float, args, report: dict) -> dict:
    """The checkpoint dict of `model` + the trained fork (config, state_dict, meta; no temperature)."""
    fork.fork.load_state_dict(best["state"])
    new_cfg = dataclasses.replace(cfg, fork_size=args.size, fork_tap=args.tap, fork_weight=float(best["weight"]),
                                  fork_base_temperature=float(t0))
    sd = dict(ckpt["state_dict"])
    sd.update({f"fork.{k}": v for k, v in fork.state_dict().items()})
    meta = {k: v for k, v in ckpt["meta"].items() if k not in ("calibration", "model_version")}
    old_cal = ckpt["meta"].get("calibration") or {}
    if old_cal.get("prior_shift"):               # folded into UDCformer's bias: stays, and stays recorded
        meta["calibration"] = {"prior_shift": old_cal["prior_shift"]}
    meta["fork"] = report
    return {**ckpt, "config": new_cfg.to_dict(), "state_dict": sd, "meta": meta}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from lrdif.sdk.fileio import atomic_write
    from lrdif.training.checkpoint import CheckpointError, load_checkpoint
    from lrdif.training.facemesh_weights import pretrained_facemesh_trunk
    from lrdif.training.inference import calibration_temperature, model_metadata, normaliser
    from lrdif.training.model.facemesh import FaceMeshTrunkConfig
    from lrdif.training.model.fork import build_fork
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        model, cfg, ckpt = load_checkpoint(args.checkpoint, expected_stage=2)
    except (OSError, CheckpointError) as e:
        raise SystemExit(f"lrdif.training.fork: error: {e}") from None
    if cfg.fork_size:
        raise SystemExit(f"lrdif.training.fork: error: {args.checkpoint} already has a fork (fork_size {cfg.fork_size})")
    try:
        probe = dataclasses.replace(cfg, fork_size=args.size, fork_tap=args.tap)
    except ValueError as e:
        raise SystemExit(f"lrdif.training.fork: error: {e}") from None
    t0 = calibration_temperature(ckpt)
    started = time.time()
    fork = build_fork(probe)
    fork.load_trunk(pretrained_facemesh_trunk(FaceMeshTrunkConfig(input_size=args.size), args.trunk))
    fork.eval()
    train_crops, train_votes, pub_crops, pub_votes, info = _crops(args, cfg)
    meta = model_metadata(cfg)
    norm = normaliser(meta)
    cache = MapCache(args.cache_dir, fork, {"mean": list(meta.mean), "std": list(meta.std)}) if args.cache_dir else None
    public = public_sets(model, fork, pub_crops, t0, cache=cache)
    maps, targets = train_views(fork, train_crops.crops, train_votes, args.seed, norm, args.train_kinds, cache)
    minutes = (time.time() - started) / 60
    history, best = train_head(fork.fork, maps, targets, public, pub_votes, args)
    report = {"size": args.size, "tap": args.tap, "seed": args.seed, "epochs": args.epochs, "lr": args.lr,
              "batch_size": args.batch_size, "weight_decay": args.weight_decay, "base_temperature": t0,
              "train_kinds": list(args.train_kinds), "logit_adjust": args.logit_adjust,
              "selected_epoch": best["epoch"], "weight": best["weight"], "public_ensemble_mean": best["score"],
              "selection": "PublicTest FER+ majority accuracy of the ensemble, mean over clean/UDC-T/UDC-P/low light",
              "base_checkpoint": str(args.checkpoint), "feature_minutes": minutes, "data": info, "history": history}
    out = _with_fork(model, cfg, ckpt, fork, best, t0, args, report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: torch.save(out, f))
    print(json.dumps({"out": str(args.out), "epoch": best["epoch"], "weight": best["weight"],
                      "public_ensemble_mean": round(best["score"], 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
