"""Recall and accuracy against face size and frame aspect ratio, per face detector (issue #16).

    python -m benchmarks.face_size                       # subsampled: 40 FERPlus faces + 28 real-face frames
    python -m benchmarks.face_size --faces 400           # the full run (~10x longer)

Two face sets, reported as separate rows:
- real: photos of people. The sample photo's head (skimage astronaut, a head-and-shoulders square
  of 2.2x its face box) and the six faces of insightface's group photo (`t1.jpg`, read at run time
  from the PyPI wheel by benchmarks.group_photo, never stored; squares of 2.0x each face box), each
  also mirrored: 14 faces, cycled to `--real` frames (28: every face twice, at other positions and
  on other backgrounds). Their labels are not known (except the astronaut's "happiness"): the real
  rows give recall, and the label / confidence of each face across sizes and aspects (issue bar:
  the same label, confidence within 0.05, from 8% to 60%).
- FERPlus: PrivateTest faces (48x48 grey, the face ~0.9 of the image) with a plain grey surround
  of 1.5x (a wall behind the head: without it short and full range find few of them at any size);
  recall and accuracy (FERPlus majority label, 8 classes, a missed face counts as wrong), against
  the same model on the training cache's crops of the same faces (lrdif.training.landmarks, what
  lrdif-eval sees).
Each face is scaled so that it is `size` x the frame's long side and pasted with a feathered edge
at a seeded random position onto a photo without faces (scikit-image's coffee, rocket, clock,
brick, scaled to cover the frame); a patch (face and context) larger than the frame is cut by the
frame's edges, as a camera frames a close face. Frames: long side `--long-side` (960) at 4:3, 16:9
and 9:16; a size whose face does not fit 1/1.2 of the frame's short side is skipped (16:9 and 9:16
stop below 60%).
A face counts as found when a returned face's box centre lies inside the pasted face square (with
a quarter-side margin); every other returned face is a false face.

Writes benchmarks/results/face_size.json and face_size.png (atomic writes).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.fileio import atomic_write, atomic_write_bytes
from lrdif.sdk.labels import LABELS_8

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ferplus" / "ferplus_48x48_uint8.npz"
RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (0.03, 0.05, 0.08, 0.12, 0.16, 0.2, 0.3, 0.45, 0.6)
ASPECTS = {"4:3": (4, 3), "16:9": (16, 9), "9:16": (9, 16)}
DETECTORS = ("short", "full", "auto", "tiled")
BACKGROUNDS = ("coffee", "rocket", "clock", "brick")   # photos without faces (chelsea: a cat, camera: a man)
# frames without a person for the false-face check (chelsea: a cat's face)
NO_FACE = BACKGROUNDS + ("chelsea", "coins", "hubble_deep_field", "immunohistochemistry", "grass", "gravel",
                         "moon", "cell", "retina", "page")
FER_FACE_FRACTION = 0.9          # FERPlus: median landmark box 43.3 of 48 px
FER_SURROUND = 1.5               # FERPlus crops are tight (no hair, no outline): a plain mid-grey
                                 # surround (a wall behind the head) of 1.5x the image, feathered into
                                 # the photo; without it short and full range find few of them at any size
ASTRONAUT_BOX = (178, 83, 95)    # short-range detection box on the 512 px photo (x, y, side)
ASTRONAUT_CONTEXT = 2.2          # patch side / face side (centre-cropped when the frame is smaller)
# the six faces of insightface's t1.jpg (1280x886): tiled-mode detection boxes (x, y, side)
GROUP_BOXES = ((63.4, 290.0, 98.0), (265.2, 173.1, 100.5), (454.7, 285.5, 125.0), (726.9, 361.4, 115.5),
               (866.4, 69.8, 134.1), (1121.9, 289.6, 109.5))
GROUP_CONTEXT = 2.0              # the neighbours' faces stay outside these squares


@dataclass(frozen=True)
class FacePatch:
    name: str
    rgb: np.ndarray              # square patch, HxWx3 uint8
    face_fraction: float         # face side / patch side
    label: int                   # index into LABELS_8


def square_patch(img: np.ndarray, box: tuple[float, float, float], context: float) -> np.ndarray:
    """The square of `context` x the face box around its centre (reflected where it leaves the photo)."""
    x, y, s = box
    side = int(round(s * context))
    x0, y0 = int(round(x + s / 2 - side / 2)), int(round(y + s / 2 - side / 2))
    pad = cv2.copyMakeBorder(img, side, side, side, side, cv2.BORDER_REFLECT)
    return np.ascontiguousarray(pad[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side])


def astronaut_patch() -> FacePatch:
    from lrdif.sdk.assets import sample_image

    return FacePatch("astronaut", square_patch(sample_image(), ASTRONAUT_BOX, ASTRONAUT_CONTEXT),
                     1.0 / ASTRONAUT_CONTEXT, LABELS_8.index("happiness"))


def real_patches(count: int = 14, group: np.ndarray | None = None) -> list[FacePatch]:
    """`count` real-face patches: the astronaut, then the group photo's six faces (RGB `group`; None
    = read from the insightface wheel, only when count > 2), each followed by its mirror image,
    cycled; label -1 = not known."""
    faces = [astronaut_patch()]
    if count > 2:
        if group is None:
            from benchmarks.group_photo import group_photo

            group = cv2.cvtColor(group_photo(), cv2.COLOR_BGR2RGB)
        faces += [FacePatch(f"group_{i}", square_patch(group, b, GROUP_CONTEXT), 1 / GROUP_CONTEXT, -1)
                  for i, b in enumerate(GROUP_BOXES)]
    both = [g for f in faces for g in (f, FacePatch(f.name + "_mirror", np.ascontiguousarray(f.rgb[:, ::-1]),
                                                    f.face_fraction, f.label))]
    return [both[i % len(both)] for i in range(count)]


def ferplus_patches(path: Path, n: int, seed: int) -> tuple[list[FacePatch], np.ndarray]:
    """n PrivateTest faces (seeded sample) as patches, and their 48x48 images."""
    with np.load(path) as z:
        test = np.nonzero(z["split"] == 2)[0]
        pick = np.sort(np.random.default_rng(seed).choice(test, size=min(n, test.size), replace=False))
        images, votes = z["images"][pick], z["votes"][pick][:, :8]
    labels = votes.argmax(1)
    m = int(round(48 * (FER_SURROUND - 1) / 2))
    patches = [FacePatch(f"ferplus_{int(i)}", np.repeat(cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT,
                                                                           value=128)[..., None], 3, 2),
                         FER_FACE_FRACTION * 48 / (48 + 2 * m), int(lab))
               for i, img, lab in zip(pick, images, labels)]
    return patches, images


def backgrounds(names=BACKGROUNDS) -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in names:
        im = getattr(data, name)()
        out.append(np.repeat(im[..., None], 3, 2) if im.ndim == 2 else im[..., :3])
    return out


def frame_shape(aspect: str, long_side: int) -> tuple[int, int]:
    a, b = ASPECTS[aspect]
    return (long_side * b // a, long_side) if a >= b else (long_side, long_side * a // b)


def cover(bg: np.ndarray, h: int, w: int) -> np.ndarray:
    """Scale a background photo to cover h x w and centre-crop it."""
    k = max(h / bg.shape[0], w / bg.shape[1])
    r = cv2.resize(bg, (max(w, int(np.ceil(bg.shape[1] * k))), max(h, int(np.ceil(bg.shape[0] * k)))),
                   interpolation=cv2.INTER_LINEAR)
    y0, x0 = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return r[y0:y0 + h, x0:x0 + w]


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Paste a patch with a feathered border (no hard edge for the detector to see). An edge that
    lies on the frame's own edge is not feathered: there the scene simply continues out of view."""
    ph, pw = patch.shape[:2]
    fh, fw = frame.shape[:2]

    def ramp(n: int, at_start_edge: bool, at_end_edge: bool) -> np.ndarray:
        i = np.arange(n, dtype=np.float64)
        width = max(2.0, 0.05 * n)
        lo = np.ones(n) if at_start_edge else np.clip(i / width, 0, 1)
        hi = np.ones(n) if at_end_edge else np.clip(i[::-1] / width, 0, 1)
        return np.minimum(lo, hi)

    ry = ramp(ph, y == 0, y + ph == fh)
    rx = ramp(pw, x == 0, x + pw == fw)
    alpha = np.minimum(ry[:, None], rx[None, :])[..., None]
    roi = frame[y:y + ph, x:x + pw].astype(np.float32)
    frame[y:y + ph, x:x + pw] = np.clip(alpha * patch + (1 - alpha) * roi + 0.5, 0, 255).astype(np.uint8)


def make_frame(face: FacePatch, size: float, aspect: str, long_side: int, bg: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, float]] | None:
    """(frame, face square x, y, side) or None when the face does not fit the frame's short side.
    A face patch (the face with its context) larger than the frame is cut by the frame as a camera
    would: its central min(patch, frame) rectangle fills that axis, unfeathered at the frame edges
    (before 2026-12-07 it was cut to a square of the short side and feathered into the background
    photo on every side, which put the background inside the emotion crop's corners at 45-60%)."""
    h, w = frame_shape(aspect, long_side)
    face_px = size * long_side
    full = int(round(face_px / face.face_fraction))
    if min(full, h, w) < 1.2 * face_px or full < 4:
        return None
    patch = cv2.resize(face.rgb, (full, full), interpolation=cv2.INTER_CUBIC if full > face.rgb.shape[0]
                       else cv2.INTER_AREA)
    ph, pw = min(full, h), min(full, w)
    cy, cx = (full - ph) // 2, (full - pw) // 2
    patch = patch[cy:cy + ph, cx:cx + pw]
    frame = np.ascontiguousarray(cover(bg, h, w))
    x, y = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
    paste(frame, patch, x, y)
    return frame, (x + (full - face_px) / 2 - cx, y + (full - face_px) / 2 - cy, face_px)


def find(results, square) -> object | None:
    x, y, s = square
    for r in results:
        bx, by, bw, bh = r.box
        cx, cy = bx + bw / 2, by + bh / 2
        if x - 0.25 * s <= cx <= x + 1.25 * s and y - 0.25 * s <= cy <= y + 1.25 * s:
            return r
    return None


def run_cell(rec, faces, size, aspect, long_side, bgs, seed) -> dict | None:
    """One (detector, size, aspect) cell: per-face found / label / confidence / quality / time."""
    rng = np.random.default_rng([seed, int(size * 1000), sum(ASPECTS[aspect])])
    rows, times = [], []
    for i, face in enumerate(faces):
        made = make_frame(face, size, aspect, long_side, bgs[i % len(bgs)], rng)
        if made is None:
            return None
        frame, square = made
        t0 = time.perf_counter()
        res = rec.predict(frame)
        times.append(time.perf_counter() - t0)
        r = find(res, square)
        rows.append({"face": face.name, "found": r is not None, "false_faces": len(res) - (r is not None),
                     "label": None if r is None else LABELS_8.index(r.label), "truth": face.label,
                     "confidence": None if r is None else round(r.confidence, 4),
                     "box_px": None if r is None else round(float(r.box[2]), 1),
                     "quality": None if r is None else r.quality})
    return {"rows": rows, "ms_per_frame": 1000 * float(np.mean(times))}


def false_faces(rec, aspect: str, long_side: int) -> dict:
    """Faces reported on photos without a person (`NO_FACE`), each covering the frame and, zoomed
    2x, its centre: {"frames": N, "faces": total reported}."""
    h, w = frame_shape(aspect, long_side)
    n = faces = 0
    for bg in backgrounds(NO_FACE):
        for zoom in (1, 2):
            frame = np.ascontiguousarray(cover(bg, h * zoom, w * zoom)[(zoom - 1) * h // 2:(zoom - 1) * h // 2 + h,
                                                                   (zoom - 1) * w // 2:(zoom - 1) * w // 2 + w])
            faces += len(rec.predict(frame))
            n += 1
    return {"frames": n, "faces": faces}


def _is_fer(row: dict) -> bool:
    return row["face"].startswith("ferplus")


def summarise(cell: dict) -> dict:
    """One cell: FERPlus recall / accuracy, real-face recall, false faces, timing, the astronaut."""
    rows = cell["rows"]
    fer = [r for r in rows if _is_fer(r)]
    real = [r for r in rows if not _is_fer(r)]
    found = [r for r in fer if r["found"]]
    astro = next((r for r in rows if r["face"] == "astronaut"), None)
    q = [r["quality"] for r in rows if r["found"]]
    return {
        "n": len(fer), "recall": len(found) / max(1, len(fer)),
        "accuracy": sum(r["label"] == r["truth"] for r in found) / max(1, len(fer)),
        "accuracy_on_found": (sum(r["label"] == r["truth"] for r in found) / len(found)) if found else None,
        "real_n": len(real), "real_recall": sum(r["found"] for r in real) / len(real) if real else None,
        "false_faces": sum(r["false_faces"] for r in rows),
        "refined": q.count("refined"), "ms_per_frame": round(cell["ms_per_frame"], 2),
        "astronaut": None if astro is None else {k: astro[k] for k in ("found", "label", "confidence", "box_px")},
    }


def consistency(cells: dict, detector: str, lo: float = 0.08, hi: float = 0.6) -> dict:
    """Issue bar: each real face's labels and confidence range over every size in [lo, hi] and
    aspect where `detector` found it (cells: "det/aspect/size" -> rows)."""
    per: dict[str, list] = {}
    for key, rows in cells.items():
        det, _, size = key.split("/")
        if det != detector or not lo - 1e-9 <= float(size) <= hi + 1e-9:
            continue
        for r in rows:
            if not _is_fer(r):
                per.setdefault(r["face"], []).append(r)
    out = {}
    for face, rows in per.items():
        hit = [r for r in rows if r["found"]]
        conf = [r["confidence"] for r in hit]
        labels = sorted({LABELS_8[r["label"]] for r in hit})
        out[face] = {"frames": len(rows), "found": len(hit), "labels": labels,
                     "confidence": [min(conf), max(conf)] if conf else None,
                     "same": len(labels) == 1 and max(conf) - min(conf) <= 0.05 if conf else False}
    return out


def crop_accuracy(rec, images: np.ndarray, labels: np.ndarray) -> float:
    """The same model on the training cache's crops of the same faces (what lrdif-eval measures)."""
    from lrdif.training.landmarks import compute_landmark_cache

    c = compute_landmark_cache(images, spec=rec.metadata.crop, progress=False)
    crops = c.crops(images)
    probs, _ = rec._backend.run(crops, c.landmarks.astype(np.float32))
    return float((probs.argmax(1) == labels).mean())


PANELS = (("real_recall", "recall, real faces"), ("recall", "recall, FERPlus faces"),
          ("accuracy", "accuracy, FERPlus (all faces; missed = wrong)"),
          ("ms_per_frame", "ms per frame (whole SDK, this machine)"))


def plot(summary: dict, path: Path) -> None:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, len(PANELS), figsize=(21, 4.6))
    styles = {"short": ":", "full": "--", "auto": "-", "tiled": "-."}
    colours = {"4:3": "tab:blue", "16:9": "tab:orange", "9:16": "tab:green"}
    for det, per_aspect in summary.items():
        for aspect, cells in per_aspect.items():
            xs = [float(s) * 100 for s in cells]
            for ax, (key, _) in zip(axes, PANELS):
                ys = [c.get(key) for c in cells.values()]
                ax.plot(xs, [np.nan if y is None else y for y in ys], styles[det], color=colours[aspect],
                        marker=".", label=f"{det} {aspect}")
    ticks = sorted({float(s) * 100 for per in summary.values() for cells in per.values() for s in cells})
    for ax, (_, title) in zip(axes, PANELS):
        ax.set_xscale("log")
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("face size, % of the frame's long side")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    for ax in axes[:2]:
        ax.axhline(0.95, color="grey", lw=0.8)
    axes[-1].set_yscale("log")
    axes[-1].legend(fontsize=7, ncol=2, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def replot(json_path: Path = RESULTS / "face_size.json", png: Path = RESULTS / "face_size.png") -> None:
    """Redraw the PNG from a saved JSON (python -c "from benchmarks.face_size import replot; replot()")."""
    plot(json.loads(Path(json_path).read_text())["summary"], Path(png))


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.face_size", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--faces", type=int, default=40, help="FERPlus PrivateTest faces")
    p.add_argument("--real", type=int, default=28, help="real-face frames per cell (the 14 real faces, cycled)")
    p.add_argument("--sizes", default=",".join(f"{s:g}" for s in SIZES), help="face / long side, comma list")
    p.add_argument("--aspects", default=",".join(ASPECTS))
    p.add_argument("--detectors", default=",".join(DETECTORS))
    p.add_argument("--long-side", type=int, default=960)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", type=Path, default=None, help="emotion model artifact (default: the SDK's)")
    p.add_argument("--out", type=Path, default=RESULTS / "face_size.json")
    p.add_argument("--plot", type=Path, default=RESULTS / "face_size.png")
    p.add_argument("--no-crop-reference", action="store_true", help="skip the training-cache crop accuracy")
    a = p.parse_args(argv)
    a.sizes = [float(s) for s in a.sizes.split(",")]
    a.aspects = a.aspects.split(",")
    a.detectors = a.detectors.split(",")
    bad = [x for x in a.aspects if x not in ASPECTS] + [x for x in a.detectors if x not in DETECTORS]
    if bad or not all(0 < s <= 1 for s in a.sizes) or a.faces < 0 or a.real < 0:
        p.error(f"bad --aspects/--detectors/--sizes/--faces ({bad or a.sizes})")
    if not a.data.is_file():
        p.error(f"data file {a.data} does not exist")
    if a.model is not None and not a.model.exists():
        p.error(f"model {a.model} does not exist")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    fer, images = ferplus_patches(a.data, a.faces, a.seed)
    faces, bgs = real_patches(a.real) + fer, backgrounds()
    out = {"faces": len(fer), "real": a.real, "long_side": a.long_side, "seed": a.seed, "sizes": a.sizes,
           "summary": {}, "cells": {}}
    jobs = [(d, asp, s) for d in a.detectors for asp in a.aspects for s in a.sizes]
    recs = {}
    try:
        for det, aspect, size in tqdm(jobs, desc="face size", unit="cell"):
            if det not in recs:
                recs[det] = EmotionRecognizer(EmotionRecognizerOptions(face_detector=det, num_threads=1,
                                                                            model_path=a.model))
            cell = run_cell(recs[det], faces, size, aspect, a.long_side, bgs, a.seed)
            if cell is None:
                continue
            out["summary"].setdefault(det, {}).setdefault(aspect, {})[f"{size:g}"] = summarise(cell)
            out["cells"][f"{det}/{aspect}/{size:g}"] = cell["rows"]
        if not a.no_crop_reference and fer:
            rec = next(iter(recs.values()))
            out["crop_accuracy"] = crop_accuracy(rec, images, np.array([f.label for f in fer]))
        if recs:                                   # which artifact these figures are of (--model or the SDK's)
            meta = next(iter(recs.values())).metadata
            out["model"] = {"path": str(a.model) if a.model else "sdk default", "version": meta.model_version}
        out["consistency"] = {det: consistency(out["cells"], det) for det in out["summary"]}
        out["no_face"] = {det: {asp: false_faces(recs[det], asp, a.long_side) for asp in a.aspects} for det in recs}
    finally:
        for r in recs.values():
            r.close()
    atomic_write(a.out, lambda f: f.write((json.dumps(out, indent=1) + "\n").encode()))
    plot(out["summary"], a.plot)
    print(format_summary(out))
    return 0


def format_summary(out: dict) -> str:
    head = f"{'detector':8s} {'aspect':6s} " + " ".join(f"{s:>11g}" for s in out["sizes"])
    lines = [f"{out.get('real', 0)} real-face frames per cell: recall (false faces per cell)", head]
    for det, per in out["summary"].items():
        for aspect, cells in per.items():
            vals = [cells.get(f"{s:g}") for s in out["sizes"]]
            lines.append(f"{det:8s} {aspect:6s} " + " ".join(
                "          -" if c is None or c.get("real_recall") is None else
                f"{c['real_recall']:5.2f} ({c['false_faces']:2d})" for c in vals))
    lines += [f"{out['faces']} FERPlus faces: recall/accuracy; crop-level accuracy "
              f"{out.get('crop_accuracy', float('nan')):.3f}", head]
    for det, per in out["summary"].items():
        for aspect, cells in per.items():
            vals = [cells.get(f"{s:g}") for s in out["sizes"]]
            lines.append(f"{det:8s} {aspect:6s} " + " ".join(
                "          -" if c is None else f"{c['recall']:5.2f}/{c['accuracy']:.2f}" for c in vals))
    for det, per in out.get("no_face", {}).items():
        lines.append(f"{det}: faces reported on photos without a person: "
                     + ", ".join(f"{asp} {c['faces']}/{c['frames']}" for asp, c in per.items()))
    for det, faces in out.get("consistency", {}).items():
        same = [f for f, c in faces.items() if c["same"]]
        lines.append(f"{det}: same label and confidence within 0.05 at 8-60%: {len(same)}/{len(faces)} real faces; "
                     + ", ".join(f"{f} {'/'.join(c['labels'])} {c['found']}/{c['frames']}"
                                 + (f" {c['confidence'][0]:.2f}-{c['confidence'][1]:.2f}" if c["confidence"] else "")
                                 for f, c in faces.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
