"""Choose the ONNX int8 calibration recipe on PublicTest, report it on PrivateTest (diagnostic).

    python -m benchmarks.int8_calibration FP32.onnx --canonical-dir runs/canonical \\
        [--split public|private] [--variants minmax:300,percentile:1000,...] [--json OUT]
    python -m benchmarks.int8_calibration FP32.pte --canonical-dir runs/canonical \\
        --variants '' --artifacts A-int8.pte B-int8.pte     # int8 files made by lrdif-export

For each variant `method:n[:percentile][+scope...]` the float file is quantised by
`lrdif-export --target onnx --int8`'s own `OnnxTarget.quantize` with that calibration method on
`n` class-balanced training crops mixed over clean / UDC-T / UDC-P / low-light, the convolutions
of the modules at the `scope` paths kept float (none unless given; the shipped recipe keeps
`ONNX_FLOAT_SCOPES`). The float and int8 files run through the SDK backend on every face of the
split (clean, and the canonical `lrdif-degrade` sets, crops cut on the degraded images as
`lrdif-eval --data` does). Printed per variant and condition: FER+ majority accuracy of float and
int8, the drop in points, and top-1 agreement. Select on `--split public` (the validation split)
and only then look at `private`: choosing on the test split would fit the recipe to it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.evalsets import CONDITION_NAMES, FERPLUS, canonical_file

SPLIT_CODE = {"public": 1, "private": 2}
KINDS = ("none", "udc-toled", "udc-poled", "lowlight")


def eval_sets(split: str, canonical_dir: Path, size: int = 64) -> dict[str, dict]:
    """{kind: {crops, landmarks, votes}} for every face of `split`, clean and canonical."""
    from lrdif.training.data import prepare_crops
    from lrdif.training.datasets import load_dataset

    out = {}
    for kind in KINDS:
        path = FERPLUS if kind == "none" else canonical_file(canonical_dir, kind, size)
        if path is None:
            raise SystemExit(f"canonical set for {kind} not found in {canonical_dir} (training/DEGRADATIONS.md)")
        ds = load_dataset(path, None, 8)
        idx = np.flatnonzero(ds.split == SPLIT_CODE[split])
        ct, _ = prepare_crops(ds, size=size, progress=False)
        ct = ct.subset(idx)
        out[kind] = {"crops": np.ascontiguousarray(ct.crops.numpy().transpose(0, 2, 3, 1)),
                     "landmarks": ct.landmarks.numpy(), "votes": ds.votes[idx]}
    return out


def scores_of(path: Path, sets: dict[str, dict], threads: int) -> dict[str, np.ndarray]:
    from benchmarks.runners import open_runner
    r = open_runner(path, threads)
    return {k: r.predict_batched(s["crops"], s["landmarks"], 64) for k, s in sets.items()}


def compare(ref: dict[str, np.ndarray], q: dict[str, np.ndarray], sets: dict[str, dict]) -> dict:
    from lrdif.training.datasets import ferplus_majority
    rows = {}
    for k, s in sets.items():
        keep, win = ferplus_majority(s["votes"], 8)
        pf, pq = ref[k].argmax(1), q[k].argmax(1)
        af, aq = float((pf[keep] == win[keep]).mean()), float((pq[keep] == win[keep]).mean())
        rows[CONDITION_NAMES[k]] = {"n": int(keep.sum()), "float": af, "int8": aq, "drop_points": 100 * (af - aq),
                                    "agreement": float((pf == pq).mean())}
    return rows


def quantise_variant(fp32: Path, out: Path, method: str, n: int, md, percentile: float,
                     float_scopes: tuple[str, ...] = ()) -> None:
    """`lrdif-export --target onnx --int8`'s own quantiser (`OnnxTarget.quantize`) with these options."""
    from lrdif.export.data import load_calibration
    from lrdif.export.targets.onnx import OnnxTarget
    calib = load_calibration(FERPLUS, n, md.num_classes, md.input_size, meta=md)
    OnnxTarget().quantize(fp32, out, calib, md, method=method, percentile=percentile, float_scopes=float_scopes)


def parse_variants(text: str) -> list[tuple[str, str, int, float, tuple[str, ...]]]:
    """`method:n[:percentile][+scope...]`, comma separated -> [(spec, method, n, percentile, scopes)];
    ValueError naming the bad item."""
    from lrdif.export.targets.onnx import CALIB_METHODS, DEFAULT_PERCENTILE
    out = []
    for v in filter(None, text.split(",")):
        spec, _, keep = v.partition("+")
        parts = spec.split(":")
        try:
            if len(parts) not in (2, 3) or parts[0] not in CALIB_METHODS or int(parts[1]) < 1:
                raise ValueError
            pct = float(parts[2]) if len(parts) == 3 else DEFAULT_PERCENTILE
            if not 0 < pct <= 100:
                raise ValueError
        except ValueError:
            raise ValueError(f"bad variant {v!r}: expected method:n[:percentile][+scope...] with method in "
                             f"{', '.join(CALIB_METHODS)}, n >= 1, 0 < percentile <= 100") from None
        out.append((v, parts[0], int(parts[1]), pct, tuple(keep.split("+")) if keep else ()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.int8_calibration", description=__doc__.split("\n")[0])
    ap.add_argument("fp32", type=Path, help="float artifact: ONNX for --variants, any runtime for --artifacts")
    ap.add_argument("--canonical-dir", type=Path, required=True)
    ap.add_argument("--split", choices=tuple(SPLIT_CODE), default="public")
    ap.add_argument("--variants", default="minmax:300,minmax:1000,percentile:1000,entropy:1000")
    ap.add_argument("--artifacts", type=Path, nargs="*", default=[],
                    help="int8 artifacts already exported (any runtime) to compare with FP32 as they are")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    from lrdif.sdk.artifact_metadata import read_metadata
    try:
        variants = parse_variants(args.variants)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.fp32.is_file():
        print(f"error: float artifact not found: {args.fp32}", file=sys.stderr)
        return 2
    md = read_metadata(args.fp32)
    sets = eval_sets(args.split, args.canonical_dir, md.input_size)
    ref = scores_of(args.fp32, sets, args.threads)
    results = []

    def report(name: str, q: Path, t0: float) -> None:
        rows = compare(ref, scores_of(q, sets, args.threads), sets)
        res = {"variant": name, "split": args.split, "seconds": round(time.time() - t0, 1), "rows": rows,
               "worst_drop_points": max(r["drop_points"] for r in rows.values())}
        results.append(res)
        print(json.dumps(res), flush=True)

    with tempfile.TemporaryDirectory(prefix="lrdif-int8sel-") as td:
        for i, (v, method, n, pct, scopes) in enumerate(variants):
            t0 = time.time()
            q = Path(td) / f"variant{i}.onnx"
            quantise_variant(args.fp32, q, method, n, md, pct, float_scopes=scopes)
            report(v, q, t0)
    for a in args.artifacts:
        report(str(a), a, time.time())
    if args.json:
        from lrdif.sdk.fileio import atomic_write_bytes
        atomic_write_bytes(args.json, json.dumps(results, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
