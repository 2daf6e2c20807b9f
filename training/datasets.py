"""Dataset readers: FERPlus (npz or the official csv pair), RAF-DB basic, KDEF, folder-per-class.

Every reader returns an :class:`ArrayDataset` whose labels are indices into
``lrdif.sdk.labels.LABELS_8`` (7-class mode = the first seven; contempt rows are dropped).
:func:`load_dataset` auto-detects the layout from the path:

* ``*.npz`` -- the shared FERPlus schema (``images`` (N,H,W) gray or (N,H,W,3) RGB uint8, ``votes``
  (N,10) FER+ votes or ``labels`` (N,) ints, optional ``split`` 0 Training / 1 PublicTest /
  2 PrivateTest). Files without ``split`` hold only an "all" split.
* ``fer2013.csv`` (or a folder holding it) + ``fer2013new.csv`` beside it -- FER2013 pixels with the
  FER+ votes; rows with no FER+ image name or whose winning vote (over all 10 columns) is
  unknown/NF are dropped, as FERPlus upstream does.
* RAF-DB basic -- a folder with ``EmotionLabel/list_patition_label.txt`` and ``Image/aligned/``.
* KDEF -- a folder (searched recursively) of ``AF01ANS.JPG``-style files.
* folder-per-class -- ``root/<label>/*`` or ``root/<train|val|test>/<label>/*`` where <label> is a
  lrdif label name or a common synonym (happy, sad, angry, afraid, ...).

Split names: ``None``/``"all"``, ``"train"``, ``"public"`` (= ``"val"``, FERPlus PublicTest),
``"test"`` (= ``"private"``, FERPlus PrivateTest), ``"public+private"`` (the LRDif paper's 7,178
image FERPlus protocol). RAF-DB and folder layouts map ``test``/``train``/``val`` to their own
folders/prefixes; KDEF has no official split, so a deterministic subject-disjoint split is used
(every 5th subject in sorted order -> test, i.e. 14 of 70 subjects, 980 of 4,900 images).
"""
from __future__ import annotations

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from lrdif.sdk.labels import LABELS_8, labels_for

__all__ = [
    "ArrayDataset", "DatasetError", "load_dataset", "load_ferplus_npz", "load_fer2013_csv",
    "load_rafdb", "load_kdef", "load_folder", "detect_layout", "majority_labels", "ferplus_majority",
    "vote_distribution", "outlier_free_vote_distribution", "normalise_split", "SPLIT_CODES", "iter_samples", "to_rgb", "stack_to_rgb",
]

VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")
SPLIT_CODES = {"train": 0, "public": 1, "test": 2}
SPLIT_NAMES = ("Training", "PublicTest", "PrivateTest")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

# RAF-DB basic labels 1..7 -> lrdif index
RAF_TO_LRDIF = {1: 2, 2: 6, 3: 5, 4: 1, 5: 3, 6: 4, 7: 0}
# KDEF expression codes -> lrdif index
KDEF_TO_LRDIF = {"NE": 0, "HA": 1, "SU": 2, "SA": 3, "AN": 4, "DI": 5, "AF": 6}
KDEF_ANGLES = ("S", "HL", "HR", "FL", "FR")
_KDEF_RE = re.compile(r"^([AB])([FM])(\d\d)(AF|AN|DI|HA|NE|SA|SU)(S|HL|HR|FL|FR)\.(jpe?g|png|bmp)$",
                      re.IGNORECASE)
# FER2013 original 7 classes (emotion column of fer2013.csv) -> lrdif index
FER2013_TO_LRDIF = {0: 4, 1: 5, 2: 6, 3: 1, 4: 3, 5: 2, 6: 0}

LABEL_SYNONYMS: dict[str, int] = {}
for _i, _names in enumerate((
    ("neutral", "neutrality", "calm", "ne", "neu"),
    ("happiness", "happy", "happy_face", "joy", "smile", "ha", "hap"),
    ("surprise", "surprised", "surprising", "su", "sur"),
    ("sadness", "sad", "sa"),
    ("anger", "angry", "mad", "an", "ang"),
    ("disgust", "disgusted", "disgusting", "di", "dis"),
    ("fear", "afraid", "fearful", "scared", "af", "fea"),
    ("contempt", "contemptuous", "co", "con"),
)):
    for _n in _names:
        LABEL_SYNONYMS[_n] = _i

_SPLIT_DIRS = {"train": ("train", "training"), "public": ("val", "valid", "validation", "publictest"),
               "test": ("test", "testing", "privatetest")}


class DatasetError(ValueError):
    """A dataset path is missing, has an unknown layout, or a file in it is unreadable."""


@dataclass
class ArrayDataset:
    """In-memory dataset. ``images`` uint8 (N,H,W,3) RGB or (N,H,W) gray; ``labels`` (N,) int64
    indices into LABELS_8; ``votes`` (N,10) FER+ votes or None; ``split`` (N,) codes 0/1/2 or None."""
    images: np.ndarray
    labels: np.ndarray
    votes: np.ndarray | None
    name: str
    split: np.ndarray | None = None
    classes: int = 8
    files: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise DatasetError(f"{self.name}: images must be uint8 (N,H,W) or (N,H,W,3), "
                               f"got {self.images.dtype} {self.images.shape}")
        if self.images.ndim == 4 and self.images.shape[-1] != 3:
            raise DatasetError(f"{self.name}: colour images must have 3 channels, got {self.images.shape}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (n,):
            raise DatasetError(f"{self.name}: {n} images but labels shape {self.labels.shape}")
        if n and (self.labels.min() < 0 or self.labels.max() >= self.classes):
            raise DatasetError(f"{self.name}: labels outside 0..{self.classes - 1}")
        for k in ("votes", "split"):
            v = getattr(self, k)
            if v is not None and len(v) != n:
                raise DatasetError(f"{self.name}: {n} images but {k} has {len(v)} rows")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int, np.ndarray | None]:
        """One sample: (RGB image uint8 HxWx3, label, votes or None)."""
        img = self.images[i]
        return to_rgb(img), int(self.labels[i]), (None if self.votes is None else self.votes[i])

    def __iter__(self) -> Iterator[tuple[np.ndarray, int, np.ndarray | None]]:
        for i in range(len(self)):
            yield self[i]

    @property
    def label_names(self) -> tuple[str, ...]:
        return labels_for(self.classes)

    def subset(self, idx: np.ndarray | Sequence[int], name: str | None = None) -> "ArrayDataset":
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ArrayDataset(
            images=self.images[idx], labels=self.labels[idx],
            votes=None if self.votes is None else self.votes[idx], name=name or self.name,
            split=None if self.split is None else self.split[idx], classes=self.classes,
            files=None if self.files is None else [self.files[i] for i in idx], meta=dict(self.meta))

    def targets(self) -> np.ndarray:
        """Soft targets (N, classes): the FER+ vote distribution where votes exist, else one-hot."""
        if self.votes is not None:
            return vote_distribution(self.votes, self.classes)
        out = np.zeros((len(self), self.classes), np.float32)
        out[np.arange(len(self)), self.labels] = 1.0
        return out

    def class_counts(self) -> dict[str, int]:
        c = np.bincount(self.labels, minlength=self.classes)
        return {n: int(k) for n, k in zip(self.label_names, c)}


def to_rgb(image: np.ndarray) -> np.ndarray:
    """One image: (H,W) gray or (H,W,1) -> (H,W,3) uint8; (H,W,3) unchanged."""
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    if image.ndim == 3 and image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    return image


def stack_to_rgb(images: np.ndarray) -> np.ndarray:
    """A stack: (N,H,W) gray -> (N,H,W,3); (N,H,W,3) unchanged."""
    if images.ndim == 3:
        return np.repeat(images[..., None], 3, axis=-1)
    return images


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """FER+ majority label: argmax over the 8 emotion columns (first column wins ties)."""
    votes = np.asarray(votes)
    return np.argmax(votes[:, :8], axis=1).astype(np.int64)


def ferplus_majority(votes: np.ndarray, classes: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The FER+ official "majority" protocol (microsoft/FERPlus `_process_target`, mode majority):
    per face, votes of 1 are dropped as outliers; the face is kept when its top column holds MORE
    than half of the remaining votes and that column is an emotion among the first `classes`
    (an unknown / NF winner, or contempt in 7-class mode, drops the face).
    Returns (keep mask (N,) bool, winner (N,) int64, -1 where dropped). `votes`: (N, 10) or (N, 8)."""
    v = np.asarray(votes, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 8:
        raise ValueError(f"votes must be (N, 8 or 10), got {v.shape}")
    v = np.where(v <= 1.0, 0.0, v)                       # outliers: single votes
    top = v.max(axis=1)
    winner = v.argmax(axis=1)
    keep = (top > 0.5 * v.sum(axis=1)) & (winner < classes)
    return keep, np.where(keep, winner, -1).astype(np.int64)


def outlier_free_vote_distribution(votes: np.ndarray, classes: int = 8) -> np.ndarray:
    """`vote_distribution` with single (outlier) votes dropped, as `ferplus_majority` drops them; a face
    whose every emotion vote is a single one keeps them all. Soft targets of the FaceMesh fork."""
    v = np.where(votes <= 1, 0, votes)
    empty = v[:, :classes].sum(1) == 0
    v[empty] = votes[empty]
    return vote_distribution(v, classes)


def vote_distribution(votes: np.ndarray, classes: int = 8) -> np.ndarray:
    """Normalised vote distribution over the first `classes` emotion columns (N, classes)."""
    v = np.asarray(votes, dtype=np.float32)[:, :classes]
    s = v.sum(1, keepdims=True)
    out = np.divide(v, s, out=np.zeros_like(v), where=s > 0)
    # rows with no emotion votes at all (cannot happen after filtering) -> uniform
    out[s[:, 0] == 0] = 1.0 / classes
    return out


def normalise_split(split: str | None) -> str | None:
    """Canonical split name: None (= all), 'train', 'public', 'test', 'public+private'."""
    if split is None:
        return None
    s = str(split).strip().lower().replace(" ", "")
    table = {"all": None, "": None, "train": "train", "training": "train",
             "public": "public", "val": "public", "valid": "public", "validation": "public",
             "publictest": "public", "test": "test", "private": "test", "privatetest": "test",
             "public+private": "public+private", "private+public": "public+private",
             "val+test": "public+private", "test+val": "public+private"}
    if s not in table:
        raise DatasetError(f"unknown split {split!r}; use one of all, train, public (val), "
                           f"test (private), public+private")
    return table[s]


def _select_split(ds: ArrayDataset, split: str | None) -> ArrayDataset:
    split = normalise_split(split)
    if split is None:
        return ds
    if ds.split is None:
        raise DatasetError(f"{ds.name}: has no train/test split information, so split={split!r} "
                           f"cannot be selected (use split='all')")
    if split == "public+private":
        mask = (ds.split == 1) | (ds.split == 2)
    else:
        mask = ds.split == SPLIT_CODES[split]
    out = ds.subset(mask, name=f"{ds.name}[{split}]")
    if len(out) == 0:
        raise DatasetError(f"{ds.name}: split {split!r} is empty")
    return out


def _apply_classes(ds: ArrayDataset, classes: int) -> ArrayDataset:
    if classes not in (7, 8):
        raise DatasetError(f"classes must be 7 or 8, got {classes!r}")
    if classes == 8:
        ds.classes = 8
        return ds
    keep = ds.labels != 7
    out = ds.subset(keep)
    out.classes = 7
    out.meta["dropped_contempt"] = int((~keep).sum())
    out.__post_init__()
    return out


# ----------------------------------------------------------------------------- npz


def load_ferplus_npz(path: str | os.PathLike, split: str | None = None, classes: int = 8) -> ArrayDataset:
    """FERPlus-schema npz (see module doc)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if "images" not in files:
                raise DatasetError(f"{path}: npz has no 'images' array (keys: {sorted(files)})")
            images = z["images"]
            votes = z["votes"] if "votes" in files else None
            labels = z["labels"] if "labels" in files else None
            sp = z["split"] if "split" in files else None
            extra = {k: z[k] for k in ("fer2013_row",) if k in files}
    except DatasetError:
        raise
    except Exception as e:  # zipfile.BadZipFile, ValueError, OSError ...
        raise DatasetError(f"{path}: cannot read npz ({type(e).__name__}: {e})") from None
    if images.dtype != np.uint8:
        if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
            images = np.clip(images * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            images = np.clip(images, 0, 255).astype(np.uint8)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 4 and images.shape[1] == 3 and images.shape[-1] != 3:
        images = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise DatasetError(f"{path}: 'images' must be (N,H,W) or (N,H,W,3), got {images.shape}")
    if votes is not None:
        if votes.ndim != 2 or votes.shape[1] < 8 or len(votes) != len(images):
            raise DatasetError(f"{path}: 'votes' must be (N, 8 or 10) with N={len(images)}, got {votes.shape}")
        # the shared npz is already filtered upstream (README): label = argmax of the 8 emotion columns
        lab = majority_labels(votes)
        ok = np.ones(len(images), bool)
    elif labels is not None:
        lab = np.asarray(labels).astype(np.int64).reshape(-1)
        if len(lab) != len(images):
            raise DatasetError(f"{path}: {len(images)} images but {len(lab)} labels")
        if lab.size and (lab.min() < 0 or lab.max() > 7):
            raise DatasetError(f"{path}: 'labels' must be lrdif indices 0..7")
        ok = np.ones(len(images), bool)
    else:
        raise DatasetError(f"{path}: npz has neither 'votes' nor 'labels'")
    if sp is not None:
        sp = np.asarray(sp).astype(np.int64).reshape(-1)
        if len(sp) != len(images) or (sp.size and (sp.min() < 0 or sp.max() > 2)):
            raise DatasetError(f"{path}: 'split' must be (N,) with values 0/1/2")
    ds = ArrayDataset(images=images, labels=lab, votes=votes, name=path.stem, split=sp,
                      classes=8, meta={"layout": "npz", "path": str(path), **{k: v for k, v in extra.items()}})
    if not ok.all():
        ds = ds.subset(ok)
        ds.meta["dropped_unknown_nf"] = int((~ok).sum())
    ds = _apply_classes(ds, classes)
    return _select_split(ds, split)


# ----------------------------------------------------------------------------- fer2013 csv


def _find_ferplus_csv(fer_csv: Path) -> Path:
    for cand in (fer_csv.with_name("fer2013new.csv"), fer_csv.parent / "FERPlus" / "fer2013new.csv"):
        if cand.is_file():
            return cand
    raise DatasetError(f"{fer_csv}: FER+ label file fer2013new.csv not found beside it "
                       f"(download it from github.com/microsoft/FERPlus)")


def load_fer2013_csv(fer_csv: str | os.PathLike, ferplus_csv: str | os.PathLike | None = None,
                     split: str | None = None, classes: int = 8) -> ArrayDataset:
    """FER2013 pixels (fer2013.csv: emotion,pixels,Usage) joined row-by-row with FER+ votes."""
    fer_csv = Path(fer_csv)
    if not fer_csv.is_file():
        raise DatasetError(f"data file not found: {fer_csv}")
    ferplus_csv = Path(ferplus_csv) if ferplus_csv else _find_ferplus_csv(fer_csv)
    if not ferplus_csv.is_file():
        raise DatasetError(f"FER+ label file not found: {ferplus_csv}")
    usage_code = {"training": 0, "publictest": 1, "privatetest": 2}
    pix_rows, usages = [], []
    with open(fer_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{fer_csv}: empty file")
        h = [c.strip().lower() for c in header]
        try:
            ip, iu = h.index("pixels"), h.index("usage")
        except ValueError:
            raise DatasetError(f"{fer_csv}: expected header emotion,pixels,Usage, got {header}") from None
        for ln, row in enumerate(reader, start=2):
            try:
                px = np.array(row[ip].split(), dtype=np.int32)
            except (ValueError, IndexError):
                raise DatasetError(f"{fer_csv}: line {ln}: unreadable pixels") from None
            if px.size != 48 * 48 or px.min() < 0 or px.max() > 255:
                raise DatasetError(f"{fer_csv}: line {ln}: expected 2304 pixel values in 0..255, got {px.size}")
            pix_rows.append(px.astype(np.uint8).reshape(48, 48))
            usages.append(row[iu].strip().lower())
    votes, names, plus_usage = [], [], []
    with open(ferplus_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or len(header) < 12:
            raise DatasetError(f"{ferplus_csv}: expected header Usage,Image name,neutral,...,NF (12 columns)")
        for ln, row in enumerate(reader, start=2):
            if len(row) < 12:
                raise DatasetError(f"{ferplus_csv}: line {ln}: expected 12 columns, got {len(row)}")
            try:
                votes.append([int(float(x)) for x in row[2:12]])
            except ValueError:
                raise DatasetError(f"{ferplus_csv}: line {ln}: non-numeric votes {row[2:12]}") from None
            names.append(row[1].strip())
            plus_usage.append(row[0].strip().lower())
    if len(votes) != len(pix_rows):
        raise DatasetError(f"{ferplus_csv} has {len(votes)} rows but {fer_csv} has {len(pix_rows)}: "
                           f"fer2013new.csv must have one row per fer2013.csv row, in the same order")
    votes_a = np.asarray(votes, dtype=np.uint8)
    try:
        sp = np.array([usage_code[u] for u in usages], dtype=np.int64)
    except KeyError as e:
        raise DatasetError(f"{fer_csv}: unknown Usage value {e.args[0]!r}") from None
    named = np.array([bool(n) for n in names])
    winner_ok = np.argmax(votes_a, axis=1) < 8
    keep = named & winner_ok
    rows = np.flatnonzero(keep)
    images = np.stack(pix_rows)[rows] if pix_rows else np.zeros((0, 48, 48), np.uint8)
    ds = ArrayDataset(images=images, labels=majority_labels(votes_a[rows]) if len(rows) else np.zeros(0, np.int64),
                      votes=votes_a[rows], name="fer2013+ferplus", split=sp[rows], classes=8,
                      meta={"layout": "fer2013-csv", "path": str(fer_csv), "ferplus_csv": str(ferplus_csv),
                            "fer2013_row": rows.astype(np.int32),
                            "dropped_no_image": int((~named).sum()),
                            "dropped_unknown_nf": int((named & ~winner_ok).sum())})
    ds = _apply_classes(ds, classes)
    return _select_split(ds, split)


# ----------------------------------------------------------------------------- image files


def _read_image(path: Path) -> np.ndarray:
    import cv2
    if not path.is_file():
        raise DatasetError(f"image file not found: {path}")
    buf = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise DatasetError(f"unreadable image file: {path} (not a decodable image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _stack_images(paths: Sequence[Path], max_side: int | None, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Read images, downscale so max(H, W) <= max_side, and resize odd-sized ones to the most
    common size so they stack."""
    import cv2
    imgs = []
    it = paths
    if progress:
        try:
            from tqdm import tqdm
            it = tqdm(paths, desc="reading images", unit="img")
        except ImportError:
            pass
    for p in it:
        im = _read_image(p)
        if max_side and max(im.shape[:2]) > max_side:
            s = max_side / max(im.shape[:2])
            im = cv2.resize(im, (max(1, round(im.shape[1] * s)), max(1, round(im.shape[0] * s))),
                            interpolation=cv2.INTER_AREA)
        imgs.append(im)
    if not imgs:
        return np.zeros((0, 1, 1, 3), np.uint8), {}
    shape = Counter(im.shape for im in imgs).most_common(1)[0][0]
    resized = 0
    for i, im in enumerate(imgs):
        if im.shape != shape:
            imgs[i] = cv2.resize(im, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
            resized += 1
    return np.stack(imgs), {"image_shape": list(shape), "resized_to_common_shape": resized}


def _find_rafdb_root(root: Path) -> Path | None:
    for cand in (root, root / "basic", root / "RAF-DB" / "basic", root / "RAF-DB"):
        if (cand / "EmotionLabel" / "list_patition_label.txt").is_file():
            return cand
    return None


def load_rafdb(root: str | os.PathLike, split: str | None = None, classes: int = 8,
               max_side: int | None = 256, progress: bool = False) -> ArrayDataset:
    """RAF-DB basic: labels 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral."""
    root = Path(root)
    base = _find_rafdb_root(root)
    if base is None:
        raise DatasetError(f"{root}: not a RAF-DB folder (no EmotionLabel/list_patition_label.txt)")
    lst = base / "EmotionLabel" / "list_patition_label.txt"
    img_dir = base / "Image" / "aligned"
    aligned = True
    if not img_dir.is_dir():
        if (base / "Image" / "original").is_dir():
            img_dir, aligned = base / "Image" / "original", False
        else:
            raise DatasetError(f"{base}: RAF-DB image folder Image/aligned/ not found")
    want = normalise_split(split)
    if want == "public+private":
        raise DatasetError("RAF-DB has only train/test splits; 'public+private' is a FERPlus protocol")
    paths, labels, sp = [], [], []
    for ln, line in enumerate(lst.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in RAF_TO_LRDIF:
            raise DatasetError(f"{lst}: line {ln}: expected '<name>.jpg <label 1..7>', got {line!r}")
        name, lab = parts[0], int(parts[1])
        code = 0 if name.lower().startswith("train") else 2 if name.lower().startswith("test") else -1
        if code < 0:
            raise DatasetError(f"{lst}: line {ln}: image name {name!r} starts with neither train nor test")
        if want == "public":
            raise DatasetError("RAF-DB has no validation split (use train or test)")
        if want is not None and code != SPLIT_CODES[want]:
            continue
        stem, ext = os.path.splitext(name)
        fn = img_dir / (f"{stem}_aligned{ext}" if aligned else name)
        if aligned and not fn.is_file():
            alt = img_dir / f"{stem}_aligned.jpg"
            fn = alt if alt.is_file() else fn
        paths.append(fn)
        labels.append(RAF_TO_LRDIF[lab])
        sp.append(code)
    if not paths:
        raise DatasetError(f"{lst}: no images for split {split!r}")
    images, info = _stack_images(paths, max_side, progress)
    ds = ArrayDataset(images=images, labels=np.array(labels), votes=None, name="rafdb", split=np.array(sp),
                      classes=8, files=[str(p) for p in paths],
                      meta={"layout": "rafdb", "path": str(root), "aligned": aligned, **info})
    return _apply_classes(ds, classes)


def _kdef_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and _KDEF_RE.match(p.name))


def load_kdef(root: str | os.PathLike, split: str | None = None, classes: int = 8,
              angles: Sequence[str] | None = None, max_side: int | None = 256,
              progress: bool = False) -> ArrayDataset:
    """KDEF: ``<session A|B><sex F|M><id 2 digits><expression 2><angle 1-2>.JPG``; angles
    S (straight), HL/HR (half), FL/FR (full profile). Subject-disjoint split (module doc)."""
    root = Path(root)
    files = _kdef_files(root)
    if not files:
        raise DatasetError(f"{root}: no KDEF-style image files (e.g. AF01ANS.JPG) found")
    if angles is not None:
        bad = set(a.upper() for a in angles) - set(KDEF_ANGLES)
        if bad:
            raise DatasetError(f"unknown KDEF angles {sorted(bad)}; use {KDEF_ANGLES}")
        angles = {a.upper() for a in angles}
    want = normalise_split(split)
    if want in ("public", "public+private"):
        raise DatasetError("KDEF has only train/test splits (subject-disjoint); use train or test")
    parsed = []
    for p in files:
        m = _KDEF_RE.match(p.name)
        sess, sex, sid, expr, ang = (g.upper() for g in m.groups()[:5])
        if angles is not None and ang not in angles:
            continue
        parsed.append((p, sex + sid, KDEF_TO_LRDIF[expr], ang))
    subjects = sorted({s for _, s, _, _ in parsed})
    test_subj = {s for i, s in enumerate(subjects) if i % 5 == 4} if len(subjects) >= 2 else set()
    rows = [(p, lab, 2 if s in test_subj else 0, ang) for p, s, lab, ang in parsed]
    if want is not None:
        rows = [r for r in rows if r[2] == SPLIT_CODES[want]]
    if not rows:
        raise DatasetError(f"{root}: no KDEF images for split={split!r} angles={angles}")
    images, info = _stack_images([r[0] for r in rows], max_side, progress)
    ds = ArrayDataset(images=images, labels=np.array([r[1] for r in rows]), votes=None, name="kdef",
                      split=np.array([r[2] for r in rows]), classes=8, files=[str(r[0]) for r in rows],
                      meta={"layout": "kdef", "path": str(root), "angles": [r[3] for r in rows],
                            "test_subjects": sorted(test_subj), **info})
    return _apply_classes(ds, classes)


def _label_dir_index(name: str) -> int | None:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in LABEL_SYNONYMS:
        return LABEL_SYNONYMS[key]
    # numeric prefixes like "0_neutral" / "3-sad"
    m = re.match(r"^\d+[_\.]?(.+)$", key)
    if m and m.group(1) in LABEL_SYNONYMS:
        return LABEL_SYNONYMS[m.group(1)]
    return None


def _class_dirs(root: Path) -> dict[Path, int]:
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        idx = _label_dir_index(d.name)
        if idx is not None:
            out[d] = idx
    return out


def _split_dirs(root: Path) -> dict[int, Path]:
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        for code_name, names in _SPLIT_DIRS.items():
            if d.name.lower() in names and _class_dirs(d):
                out[SPLIT_CODES[code_name]] = d
    return out


def load_folder(root: str | os.PathLike, split: str | None = None, classes: int = 8,
                max_side: int | None = 256, progress: bool = False) -> ArrayDataset:
    """``root/<label>/*.jpg`` or ``root/<train|val|test>/<label>/*.jpg``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    splits = _split_dirs(root)
    if splits:
        groups = list(splits.items())
    else:
        if not _class_dirs(root):
            raise DatasetError(f"{root}: no class folders named after labels ({', '.join(LABELS_8)} or synonyms)")
        groups = [(-1, root)]
    want = normalise_split(split)
    if want == "public+private":
        codes = {1, 2}
    elif want is not None:
        codes = {SPLIT_CODES[want]}
    else:
        codes = None
    if codes is not None and groups[0][0] == -1:
        raise DatasetError(f"{root}: folder has no train/val/test subfolders, so split={split!r} cannot be selected")
    paths, labels, sp = [], [], []
    unknown_dirs = []
    for code, gdir in groups:
        if codes is not None and code not in codes:
            continue
        cdirs = _class_dirs(gdir)
        unknown_dirs += [d.name for d in gdir.iterdir() if d.is_dir() and d not in cdirs]
        for d, idx in cdirs.items():
            for p in sorted(d.iterdir()):
                if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
                    paths.append(p)
                    labels.append(idx)
                    sp.append(code)
    if not paths:
        raise DatasetError(f"{root}: no image files found in the class folders for split={split!r}")
    images, info = _stack_images(paths, max_side, progress)
    has_split = groups[0][0] != -1
    ds = ArrayDataset(images=images, labels=np.array(labels), votes=None, name=root.name or "folder",
                      split=np.array(sp) if has_split else None, classes=8, files=[str(p) for p in paths],
                      meta={"layout": "folder", "path": str(root), "ignored_folders": sorted(set(unknown_dirs)), **info})
    return _apply_classes(ds, classes)


# ----------------------------------------------------------------------------- dispatch


def detect_layout(path: str | os.PathLike) -> str:
    """'npz' | 'fer2013-csv' | 'rafdb' | 'kdef' | 'folder'; raises DatasetError otherwise."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"data path not found: {p}")
    if p.is_file():
        if p.suffix.lower() == ".npz":
            return "npz"
        if p.suffix.lower() == ".csv":
            if p.name.lower() == "fer2013new.csv":
                raise DatasetError(f"{p}: this is the FER+ label file; pass fer2013.csv (the pixels) instead, "
                                   f"with fer2013new.csv beside it")
            return "fer2013-csv"
        raise DatasetError(f"{p}: unknown dataset file type (expected .npz, fer2013.csv or a folder)")
    if (p / "fer2013.csv").is_file():
        return "fer2013-csv"
    if _find_rafdb_root(p) is not None:
        return "rafdb"
    if _class_dirs(p) or _split_dirs(p):
        return "folder"
    if _kdef_files(p):
        return "kdef"
    raise DatasetError(f"{p}: unknown dataset layout (expected a FERPlus .npz, fer2013.csv, a RAF-DB folder "
                       f"with EmotionLabel/list_patition_label.txt, KDEF AF01ANS.JPG files, or class folders "
                       f"named {', '.join(LABELS_8)})")


def load_dataset(path: str | os.PathLike, split: str | None = None, classes: int = 8, *,
                 max_side: int | None = 256, kdef_angles: Sequence[str] | None = None,
                 progress: bool = False) -> ArrayDataset:
    """Load any supported layout (auto-detected) as an :class:`ArrayDataset`.

    `max_side` downscales large image files (KDEF is 562x762) so that the whole set fits in memory;
    npz/csv images are returned unchanged."""
    normalise_split(split)  # reject unknown split names before reading anything
    if classes not in (7, 8):
        raise DatasetError(f"classes must be 7 or 8, got {classes!r}")
    layout = detect_layout(path)
    p = Path(path)
    if layout == "npz":
        return load_ferplus_npz(p, split, classes)
    if layout == "fer2013-csv":
        return load_fer2013_csv(p if p.is_file() else p / "fer2013.csv", None, split, classes)
    if layout == "rafdb":
        return load_rafdb(p, split, classes, max_side, progress)
    if layout == "kdef":
        return load_kdef(p, split, classes, kdef_angles, max_side, progress)
    return load_folder(p, split, classes, max_side, progress)


def iter_samples(path: str | os.PathLike, split: str | None = None, classes: int = 8
                 ) -> Iterator[tuple[np.ndarray, int, np.ndarray | None]]:
    """Yield (RGB image uint8 HxWx3, label, votes or None) from any supported layout."""
    yield from load_dataset(path, split, classes)
