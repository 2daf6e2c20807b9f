"""Experiment (issue 12, item 2): one per-face model that outputs landmarks *and* emotion.

FaceMesh already runs on every face (its 192 px ROI). A fused model keeps FaceMesh's landmark path
exactly as MediaPipe ships it and forks an emotion branch off its trunk: the stem and the first
`--tap` trunk blocks are shared (MediaPipe's weights, frozen, so the landmarks cannot change); the
remaining trunk blocks are copied (initialised from MediaPipe's weights) and fine-tuned with a
linear classifier on their last map. This measures what such a model scores and costs, to weigh
against the separate pipeline (FaceMesh, then LRDif on the landmark-aligned crop).

    python -m benchmarks.fused_head --out runs/fused [--tap 9] [--epochs 8] [--threads 1]
        [--canonical-dir runs/canonical] [--degrade]

Input as in `benchmarks.trunk_finetune` (each face padded by a quarter of its side, resized to
192, FaceMesh's ROI size). The shared part runs once per face and its output is cached in memory
(float16): every training face and its mirror image, with --degrade also one UDC-T, one UDC-P and
one low-light copy (the simulator of `lrdif-degrade`, other seeds than the canonical sets').
Scored on the clean test faces, or with --canonical-dir on the canonical clean / UDC-T / UDC-P /
low-light sets (the 64 px images that `lrdif-eval` scores LRDif on). Loss: cross-entropy on the
FER+ vote distribution. Selection: the epoch with the best PublicTest FER+ majority accuracy (mean
over conditions); reported: PrivateTest at that epoch. Cost: multiply-accumulates counted by
torch's FlopCounterMode for the fork, the whole FaceMesh (with its landmark head) and, with
`--checkpoint`, the LRDif emotion model; with --checkpoint and --canonical-dir also the ensemble
LRDif + w x fork (log-probabilities, w chosen on PublicTest). Writes OUT/results.json and the
selected fork's weights, OUT/fork.pt.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from benchmarks.trunk_finetune import score, to_input
from lrdif.sdk.fileio import atomic_write, atomic_write_bytes
from lrdif.training.facemesh_weights import pretrained_facemesh_trunk
from lrdif.training.model.facemesh import TRUNK_BLOCKS, FaceMeshTrunkConfig
from lrdif.training.datasets import outlier_free_vote_distribution
from lrdif.training.fork import stack_views, train_epochs
from lrdif.training.model.fork import EmotionFork   # what the shipped model's fork is (training/model/fork.py)

SIZE = 192          # FaceMesh's ROI input
CONDITIONS = ("none", "udc-toled", "udc-poled", "lowlight")   # the canonical test sets
TRAIN_KINDS = ("udc-toled", "udc-poled", "lowlight")          # --degrade: one copy of each


def shared_features(trunk: nn.Module, imgs: torch.Tensor, tap: int, flip: bool = False, bs: int = 256) -> torch.Tensor:
    """The frozen stem + first `tap` blocks on every face (float16, N x C x H x W)."""
    out = []
    with torch.no_grad():
        for i in tqdm(range(0, len(imgs), bs), desc="shared trunk", leave=False, mininterval=5):
            x = to_input(imgs[i:i + bs], SIZE)
            out.append(trunk.forward_stages(x.flip(-1) if flip else x, upto=tap)[-1].half())
    return torch.cat(out)


def macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        module(*inputs)
    return int(fc.get_total_flops() // 2)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fused_head", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=None, help="default: the shared FERPlus npz")
    ap.add_argument("--canonical-dir", type=Path, default=None,
                    help="score on the canonical test sets there (clean, UDC-T, UDC-P, low light: "
                         "training/reproduce_default.sh data) instead of the clean faces only")
    ap.add_argument("--degrade", action="store_true",
                    help="train on one UDC-T, one UDC-P and one low-light copy of every face as well")
    ap.add_argument("--tap", type=int, default=9, help="stem + this many trunk blocks shared (1-13)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="first N faces of each split (smoke runs)")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="LRDif checkpoint whose MACs to report and, with --canonical-dir, to ensemble with")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def _splits(path: Path, limit: int) -> dict[str, tuple[torch.Tensor, np.ndarray]]:
    with np.load(path) as z:
        images, votes, split = z["images"], z["votes"], z["split"]
    out = {}
    for name, code in (("train", 0), ("public", 1), ("private", 2)):
        idx = np.nonzero(split == code)[0][: limit or None]
        out[name] = (torch.from_numpy(images[idx]), votes[idx])
    return out


def _eval_sets(trunk, data: dict, args) -> dict[str, dict[str, tuple[torch.Tensor, np.ndarray]]]:
    """{"public"|"private": {condition: (shared features, votes)}}: the clean faces, or with
    --canonical-dir its four canonical sets (their PublicTest and PrivateTest rows)."""
    if args.canonical_dir is None:
        return {name: {"none": (shared_features(trunk, data[name][0], args.tap), data[name][1])}
                for name in ("public", "private")}
    sets: dict = {"public": {}, "private": {}}
    for kind in CONDITIONS:
        path = args.canonical_dir / f"ferplus_test_{kind}_s0_64.npz"
        if not path.is_file():
            raise SystemExit(f"no canonical set {path} (make it with training/reproduce_default.sh data)")
        with np.load(path) as z:
            images, votes, split = z["images"], z["votes"], z["split"]
        for name, code in (("public", 1), ("private", 2)):
            idx = np.nonzero(split == code)[0][: args.limit or None]
            sets[name][kind] = (shared_features(trunk, torch.from_numpy(images[idx]), args.tap), votes[idx])
    return sets


def _train_set(trunk, data: dict, args) -> tuple[torch.Tensor, torch.Tensor]:
    """Shared features of every training face and its mirror image (and, with --degrade, one
    degraded copy per kind, seeds apart from the canonical sets' 0) and their FER+ soft targets."""
    xtr, vtr = data["train"]
    views = [(xtr, False), (xtr, True)]
    if args.degrade:
        from lrdif.training.degrade import degrade_images
        views += [(kind, bool(i % 2)) for i, kind in enumerate(TRAIN_KINDS)]

    def view(v: int) -> torch.Tensor:
        src, flip = views[v]
        if isinstance(src, str):
            i = TRAIN_KINDS.index(src)
            src = torch.from_numpy(degrade_images(xtr.numpy(), src, seed=args.seed + 101 + i, size=64))
        return shared_features(trunk, src, args.tap, flip=flip)

    feats = stack_views(len(views), view)
    targets = torch.from_numpy(outlier_free_vote_distribution(vtr)).float().repeat(len(views), 1)
    return feats, targets


def _logits(fork: nn.Module, feats: torch.Tensor, bs: int = 512) -> np.ndarray:
    fork.eval()
    with torch.no_grad():
        return torch.cat([fork(feats[i:i + bs].float()) for i in range(0, len(feats), bs)]).numpy()


def _scores(fork, sets: dict) -> dict:
    return {name: {kind: score(_logits(fork, f).argmax(1), v) for kind, (f, v) in conds.items()}
            for name, conds in sets.items()}


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def lrdif_log_probs(checkpoint: Path, args) -> dict[str, dict[str, np.ndarray]]:
    """LRDif's log-probabilities (its calibrated temperature applied) on the canonical sets' PublicTest
    and PrivateTest rows, in the rows' order, through lrdif-eval's own path (front-end on the
    degraded images, landmark cache, `degraded_logits`)."""
    from lrdif.training.checkpoint import load_checkpoint
    from lrdif.training.data import prepare_crops
    from lrdif.training.datasets import load_dataset
    from lrdif.training.evaluate import degraded_logits
    from lrdif.training.inference import calibration_temperature

    model, cfg, ckpt = load_checkpoint(checkpoint)
    t = calibration_temperature(ckpt)
    out: dict = {"public": {}, "private": {}}
    for kind in CONDITIONS:
        ds = load_dataset(args.canonical_dir / f"ferplus_test_{kind}_s0_64.npz", None, cfg.num_classes)
        crops, _ = prepare_crops(ds, size=cfg.input_size, progress=False)
        for name, code in (("public", 1), ("private", 2)):
            idx = np.flatnonzero(ds.split == code)[: args.limit or None]
            z = degraded_logits(model, int(ckpt.get("stage", 2)), crops.subset(idx), "none", 0).double().numpy()
            out[name][kind] = _log_softmax(z / t)
    return out


def ensemble(fork, sets: dict, lrdif: dict, weights=(0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)) -> dict:
    """LRDif + w x fork (sum of log-probabilities): w chosen on PublicTest (FER+ majority accuracy,
    mean over conditions), PrivateTest scored at that w; w = 0 is LRDif alone."""
    fork_lp = {n: {k: _log_softmax(_logits(fork, f).astype(np.float64)) for k, (f, _) in c.items()} for n, c in sets.items()}

    def at(name: str, w: float) -> dict:
        return {k: score((lrdif[name][k] + w * fork_lp[name][k]).argmax(1), sets[name][k][1]) for k in sets[name]}

    curve = {w: _mean(at("public", w)) for w in weights}
    best = max(curve, key=curve.get)
    return {"weight": best, "public_curve": {str(w): a for w, a in curve.items()},
            "private": at("private", best), "private_lrdif_alone": at("private", 0.0)}


def _mean(scores: dict, key: str = "majority_acc") -> float:
    return float(np.mean([s[key] for s in scores.values()]))


def _train(fork, feats, targets, sets, args) -> tuple[list[dict], list[dict]]:
    """Per-epoch scores and the fork's weights after each epoch (the loop of `lrdif.training.fork`)."""
    history, states = [], []
    for ep, loss, minutes in train_epochs(fork, feats, targets, args):
        row = {"epoch": ep, "train_loss": loss, "minutes": minutes, **_scores(fork, sets)}
        history.append(row)
        states.append(copy.deepcopy(fork.state_dict()))
        print(json.dumps({"epoch": ep, "loss": round(loss, 4), "minutes": round(minutes, 2),
                          "public_mean": round(_mean(row["public"]), 4),
                          "private": {k: round(v["majority_acc"], 4) for k, v in row["private"].items()}}), flush=True)
    return history, states


def _cost(trunk_cfg: FaceMeshTrunkConfig, fork: nn.Module, tap: int, checkpoint: Path | None) -> dict:
    from lrdif.training.model.facemesh import FaceMeshTrunk

    mesh = FaceMeshTrunk(FaceMeshTrunkConfig(input_size=SIZE, landmark_head=True)).eval()
    x = torch.zeros(1, 3, SIZE, SIZE)
    shared = mesh.forward_stages(x, upto=tap)[-1]
    out = {"facemesh_macs": macs(mesh.forward_landmarks, x), "fork_macs": macs(fork.eval(), shared),
           "fork_params": sum(p.numel() for p in fork.parameters())}
    if checkpoint is not None:
        from benchmarks.cost import model_cost
        out["lrdif_emotion_model"] = model_cost(checkpoint)
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.tap <= len(TRUNK_BLOCKS) - 1:
        raise SystemExit(f"--tap must be in 1..{len(TRUNK_BLOCKS) - 1}, got {args.tap}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from lrdif.training.data import resolve_data_path
    data = _splits(resolve_data_path(args.data), args.limit)
    cfg = FaceMeshTrunkConfig(input_size=SIZE)
    trunk = pretrained_facemesh_trunk(cfg).eval()
    t0 = time.time()
    sets = _eval_sets(trunk, data, args)
    feats, targets = _train_set(trunk, data, args)
    feature_minutes = (time.time() - t0) / 60
    fork = EmotionFork(trunk, args.tap)
    history, states = _train(fork, feats, targets, sets, args)
    best = max(history, key=lambda r: _mean(r["public"]))
    best_state = states[best["epoch"] - 1]
    meta = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    result = {"args": meta, "feature_minutes": feature_minutes, "selected_epoch": best["epoch"],
              "selection": "best PublicTest FER+ majority accuracy, mean over conditions",
              "selected": {"public": best["public"], "private": best["private"]},
              "cost": _cost(cfg, fork, args.tap, args.checkpoint), "history": history}
    if args.checkpoint is not None and args.canonical_dir is not None:
        fork.load_state_dict(best_state)
        result["ensemble"] = ensemble(fork, sets, lrdif_log_probs(args.checkpoint, args))
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out / "fork.pt", lambda f: torch.save({"tap": args.tap, "state_dict": best_state}, f))
    atomic_write_bytes(args.out / "results.json", json.dumps(result, indent=1).encode())
    summary = {k: {"majority": round(v["majority_acc"], 4), "all_rows": round(v["all_rows_acc"], 4),
                   "mean_class": round(v["mean_class_acc"], 4)} for k, v in best["private"].items()}
    print(json.dumps({"selected_epoch": best["epoch"], "private": summary,
                      "cost": {k: v for k, v in result["cost"].items() if k != "lrdif_emotion_model"}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
