"""lrdif-degrade: write a UDC / low-light version of a dataset npz (shared FERPlus schema).

    lrdif-degrade --kind udc-toled --seed 0 [--size 64] [--split 1,2] [--psf PSF.npy]
                  [--preview PNG] IN.npz OUT.npz
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from lrdif.training.degrade import KINDS, VERSION, degrade_images, make_degradation
from lrdif.training.degrade.images import validate_images
from lrdif.sdk.fileio import atomic_write

PREVIEW_KINDS = ("none", "udc-toled", "udc-poled", "lowlight")
PREVIEW_TITLES = ("clean", "UDC T-OLED", "UDC P-OLED", "low light")


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""


def _atomic_write(path: Path, write) -> None:
    atomic_write(path, write)


def read_dataset(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise InputError(f"{path}: not an .npz archive (a single .npy array)")
            data = {k: z[k] for k in z.files}
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable .npz archive ({e})") from None
    if "images" not in data:
        raise InputError(f"{path}: missing key 'images' (has: {', '.join(sorted(data)) or 'nothing'})")
    try:
        validate_images(data["images"], where=f"{path}: 'images'")
    except ValueError as e:
        raise InputError(str(e)) from None
    n = len(data["images"])
    if n == 0:
        raise InputError(f"{path}: 'images' is empty")
    return data


def select_rows(data: dict, path: Path, splits: list[int] | None) -> tuple[dict, np.ndarray]:
    n = len(data["images"])
    if not splits:
        return data, np.arange(n)
    if "split" not in data:
        raise InputError(f"{path}: --split given but the file has no 'split' key")
    split = data["split"]
    if split.shape != (n,):
        raise InputError(f"{path}: 'split' has shape {split.shape}, expected ({n},)")
    rows = np.flatnonzero(np.isin(split, splits))
    if rows.size == 0:
        raise InputError(f"{path}: no rows with split in {splits}")
    out = {}
    for k, v in data.items():
        out[k] = v[rows] if (v.ndim >= 1 and v.shape[0] == n and k not in ("vote_columns", "split_names")) else v
    return out, rows


def write_preview(png: Path, images: np.ndarray, seed: int, size: int, n_rows: int = 6,
                  psf: str | None = None, zoom: int = 2) -> None:
    """PNG grid: rows = sample faces, columns = clean / UDC T-OLED / UDC P-OLED / low light
    (pixels shown `zoom` x with nearest-neighbour, so the degradations are seen unfiltered)."""
    import cv2

    idx = np.linspace(0, len(images) - 1, min(n_rows, len(images))).round().astype(int)
    sample = images[idx]
    cols = []
    for k in PREVIEW_KINDS:
        kw = {"psf": psf} if (psf and k.startswith("udc")) else {}
        cols.append(degrade_images(sample, k, seed, size=size, progress=False, **kw))
    gap, head = 4, 22
    cell = size * zoom
    grid = np.full((head + len(idx) * (cell + gap), len(cols) * (cell + gap) - gap, 3), 255, np.uint8)
    for j, col in enumerate(cols):
        x0 = j * (cell + gap)
        cv2.putText(grid, PREVIEW_TITLES[j], (x0 + 2, head - 7), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * max(1.0, cell / 128), (0, 0, 0), 1, cv2.LINE_AA)
        for i in range(len(idx)):
            y0 = head + i * (cell + gap)
            grid[y0:y0 + cell, x0:x0 + cell] = np.repeat(np.repeat(col[i], zoom, 0), zoom, 1)
    ok, buf = cv2.imencode(".png", grid[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover
        raise RuntimeError(f"{png}: PNG encoding failed")
    _atomic_write(png, lambda f: f.write(buf.tobytes()))


def _parse_split(s: str) -> list[int]:
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--split expects comma-separated integers, got {s!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("--split is empty")
    return vals


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lrdif-degrade", description=__doc__.strip().splitlines()[0])
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--size", type=int, default=64, help="output side in pixels (default 64, the model input)")
    p.add_argument("--split", type=_parse_split, default=None,
                   help="keep only rows whose 'split' is in this comma list (FERPlus: 0 train, 1 public, 2 private)")
    p.add_argument("--psf", default=None, help="measured PSF .npy (H,W) or (H,W,3) for udc kinds")
    p.add_argument("--psf-pixel-mrad", type=float, default=None,
                   help="angular pixel size of --psf in mrad (default: PSF already at output pixel scale)")
    p.add_argument("--preview", type=Path, default=None, help="write a preview PNG grid here")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("input", type=Path, metavar="IN.npz")
    p.add_argument("output", type=Path, metavar="OUT.npz")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    try:
        if args.size < 8:
            raise InputError(f"--size must be >= 8, got {args.size}")
        if args.psf and not args.kind.startswith("udc"):
            raise InputError(f"--psf only applies to udc kinds, not {args.kind!r}")
        if args.output.suffix != ".npz":
            raise InputError(f"{args.output}: output must end in .npz")
        kw = {}
        if args.psf:
            from lrdif.training.degrade import load_psf
            try:
                kw["psf"] = load_psf(args.psf)
            except ValueError as e:
                raise InputError(str(e)) from None
            kw["psf_pixel_mrad"] = args.psf_pixel_mrad
        data = read_dataset(args.input)
        data, rows = select_rows(data, args.input, args.split)
        deg = make_degradation(args.kind, progress=not args.no_progress, **kw) if args.kind.startswith("udc") \
            else make_degradation(args.kind)
        out_images = degrade_images(data["images"], deg, args.seed, size=args.size,
                                    batch_size=args.batch_size, progress=not args.no_progress)
    except InputError as e:
        print(f"lrdif-degrade: error: {e}", file=sys.stderr)
        return 2
    meta = {"format": VERSION, "kind": args.kind, "seed": args.seed, "size": args.size,
            "source": args.input.name, "split": args.split, "rows": int(len(rows)),
            "psf": Path(args.psf).name if args.psf else None, "psf_pixel_mrad": args.psf_pixel_mrad,
            "model": deg.describe()}
    out = dict(data)
    out["images"] = out_images
    if args.split:
        out["source_row"] = rows.astype(np.int64)
    out["degradation"] = np.array(json.dumps(meta, sort_keys=True))
    _atomic_write(args.output, lambda f: np.savez(f, **out))
    if args.preview is not None:
        write_preview(args.preview, data["images"], args.seed, args.size, psf=args.psf)
    print(f"wrote {args.output} ({len(out_images)} images, {args.kind}, seed {args.seed}, {args.size}px)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
