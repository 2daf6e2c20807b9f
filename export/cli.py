"""`lrdif-export`: checkpoint -> stage-2 inference graph -> ONNX / CoreML / TFLite / ExecuTorch
artifacts with embedded metadata, each verified in its own runtime on real face crops.

Exit status: 0 all requested targets exported (and verified), 1 a target failed (the others still
run; the report says which), 2 bad flags or missing inputs (found before any work). Failures print
one line `lrdif-export: error: ...` on stderr.
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from lrdif.export.data import DEFAULT_CALIB, MIN_CALIB
from lrdif.export.graph import ExportError, UsageError, default_checkpoint

PROG = "lrdif-export"


def _data_path(p: str | None) -> Path:
    """--calib / --verify-data: the one data-path lookup (`lrdif.training.data.resolve_data_path`)."""
    from lrdif.training.data import resolve_data_path
    return resolve_data_path(p)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(message)


def _verify_size(text: str) -> int | None:
    """--verify-size: a positive count, or "all" (None: every face of the verification split)."""
    if text == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or 'all', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    from lrdif.export.targets import TARGETS

    ap = _Parser(prog=PROG, description="Export the LRDif stage-2 model to on-device formats and verify them.")
    ap.add_argument("--target", default="all", help=f"one of {', '.join(TARGETS)}, all (default all)")
    ap.add_argument("--int8", action="store_true", help="export the int8 variant (meaning per target: export/README.md)")
    ap.add_argument("--keep-float", action="store_true",
                    help="with --int8: also write and verify the float artifact; ONNX, TFLite (dynamic) and CoreML "
                         "quantise that file, so one conversion serves both variants")
    ap.add_argument("--fp16", action="store_true", help="CoreML: fp16 compute precision (ignored by the other targets under --target all)")
    ap.add_argument("--checkpoint", default=None, help=f"stage-2 checkpoint (default: the shipped model {default_checkpoint()})")
    ap.add_argument("--out", default="lrdif_export", help="output folder (default ./lrdif_export)")
    ap.add_argument("--calib", default=None, help="calibration dataset for static int8 (default: FERPlus npz, training split)")
    ap.add_argument("--calib-size", type=int, default=DEFAULT_CALIB,
                    help=f"class-balanced calibration crops (>= {MIN_CALIB}; default {DEFAULT_CALIB})")
    ap.add_argument("--allow-small-calib", action="store_true", help=f"allow --calib-size < {MIN_CALIB} (tests only)")
    ap.add_argument("--verify-data", default=None, help="verification dataset (default: FERPlus npz, PrivateTest split)")
    ap.add_argument("--verify-size", type=_verify_size, default=None, metavar="N|all",
                    help="verification crops per set (clean, UDC; default all of the test split: a 1-point "
                         "int8 bar needs them, export/README.md)")
    ap.add_argument("--opset", type=int, default=18, help="ONNX opset, 13-23 (default 18)")
    ap.add_argument("--steps", type=int, default=None, help="diffusion steps unrolled in the graph (default: the config's T)")
    ap.add_argument("--no-fork", action="store_true",
                    help="drop the checkpoint's FaceMesh emotion fork: the LRDif part alone, faster and less accurate "
                         "(the shipped 3.3.0 without it is 3.2.0), with its own temperature; version suffixed +nofork")
    ap.add_argument("--tflite-int8", choices=("dynamic", "static"), default="dynamic",
                    help="TFLite int8 flavour: dynamic-range (float IO, default) or static full-integer (int8 IO; "
                         "litert-torch 0.10 fails to convert the LRDif graph this way)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for torch and the runtimes (default 1)")
    ap.add_argument("--no-verify", action="store_true", help="skip running the artifacts on real crops")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return ap


def _targets(spec: str) -> list[str]:
    from lrdif.export.targets import TARGETS

    names = []
    for raw in spec.split(","):
        t = raw.strip().lower()
        if t == "all":
            names.extend(TARGETS)
            continue
        if t not in TARGETS:
            close = difflib.get_close_matches(t, list(TARGETS) + ["all"], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; choose from {', '.join(TARGETS)}, all"
            raise UsageError(f"unknown target '{raw.strip()}'{hint}")
        names.append(t)
    return list(dict.fromkeys(names))


def _make_target(name: str, args: argparse.Namespace):
    from lrdif.export.targets import get_target

    return get_target(name, int8_mode=args.tflite_int8) if name == "tflite" else get_target(name)


def _check_args(args: argparse.Namespace) -> tuple[list[Any], Path]:
    targets = [_make_target(n, args) for n in _targets(args.target)]
    names = [t.name for t in targets]
    if args.keep_float and not args.int8:
        raise UsageError("--keep-float applies to --int8 runs (a float run writes the float artifact anyway)")
    if args.fp16 and not any(t.supports_fp16 for t in targets):
        raise UsageError(f"--fp16 applies to coreml only (targets: {', '.join(names)})")
    if args.calib_size < 1 or (args.calib_size < MIN_CALIB and not args.allow_small_calib):
        raise UsageError(f"--calib-size {args.calib_size} is below {MIN_CALIB} (static int8 needs >= {MIN_CALIB} "
                         f"real crops; --allow-small-calib is for tests)")
    if not 13 <= args.opset <= 23:
        raise UsageError(f"--opset {args.opset} is not supported (13-23)")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.checkpoint is None:
        ckpt = default_checkpoint()
        if not ckpt.is_file():
            raise UsageError(f"the default model checkpoint {ckpt} does not exist (the shipped lrdif-mobile "
                             f"weights are not trained/installed yet); pass --checkpoint PATH")
    else:
        ckpt = Path(args.checkpoint)
        if not ckpt.is_file():
            raise UsageError(f"checkpoint not found: {ckpt}")
    if any(t.needs_calibration(args.int8) for t in targets):
        p = _data_path(args.calib)
        if not p.exists():
            raise UsageError(f"calibration data not found: {p} (--calib); static int8 calibrates on real crops, "
                             f"there is no fallback")
        args.calib = p
    else:
        args.calib = None
    if not args.no_verify:
        p = _data_path(args.verify_data)
        if not p.exists():
            raise UsageError(f"verification data not found: {p} (--verify-data, or --no-verify)")
        args.verify_data = p
    return targets, ckpt


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        targets, ckpt = _check_args(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args, targets, ckpt, sys.argv[1:] if argv is None else list(argv))
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except (ExportError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 130


def _logger(quiet: bool):
    return (lambda *a: None) if quiet else (lambda msg: print(f"[{PROG}] {msg}", file=sys.stderr, flush=True))


def _reference(module: Any, fs: Any, temperature: float) -> np.ndarray:
    """torch fp32 probabilities of a FaceSet (its model input made by the SDK's `preprocess`), from the
    logits with the artifact's calibration temperature, as the SDK's backends compute them."""
    import torch

    from lrdif.sdk.backends.base import softmax

    with torch.no_grad():
        logits = torch.cat([module(torch.from_numpy(fs.image[i:i + 64]), torch.from_numpy(fs.landmarks[i:i + 64]))[1]
                            for i in range(0, len(fs), 64)]).numpy()
    return softmax(logits, temperature)


def _load_data(args: argparse.Namespace, graph: Any, report: dict, log) -> tuple[Any, Any]:
    """(calibration FaceSet or None, VerifyData or None); normalised with the graph's metadata."""
    from lrdif.export.data import DataError, load_calibration, load_verification
    from lrdif.export.targets import VerifyData

    k, size, md = len(graph.labels), int(graph.cfg.input_size), graph.metadata
    calib = vdata = None
    try:
        if args.calib is not None:
            log(f"calibration: {args.calib_size} class-balanced crops from {args.calib} (clean/UDC/low-light mix)")
            calib = load_calibration(args.calib, args.calib_size, k, size, progress=not args.quiet, meta=md)
            report["calibration"] = calib.info
            log(f"calibration classes {calib.info['class_counts']}, split {calib.info['split']}")
        if not args.no_verify:
            log(f"verification: {args.verify_size or 'all'} crops from {args.verify_data}, clean + UDC")
            sets = load_verification(args.verify_data, args.verify_size, k, size, progress=not args.quiet, meta=md)
            report["verification"] = sets["clean"].info | {"sets": list(sets)}
            reference = {name: _reference(graph.module, fs, md.temperature) for name, fs in sets.items()}
            for name, fs in sets.items():
                acc = float((reference[name].argmax(1) == fs.labels).mean() * 100)
                report["verification"][f"torch_fp32_accuracy_{name}"] = acc
                log(f"torch fp32 accuracy on {name}: {acc:.2f}%")
            vdata = VerifyData(sets=sets, reference=reference, module=graph.module, metadata=md, threads=args.threads)
    except DataError as e:
        raise UsageError(str(e)) from None
    return calib, vdata


def _export_one(args: argparse.Namespace, target: Any, graph: Any, out: Path, calib: Any, vdata: Any, log,
                int8: bool, source: Path | None = None) -> dict:
    """Export (and verify) one target variant; with `source` (a float artifact of this target) the
    int8 artifact is quantised from that file. A failure is recorded in the entry, never raised."""
    import dataclasses

    from lrdif.export import report as rep

    name = target.name
    fp16 = bool(args.fp16 and target.supports_fp16)
    md = target.metadata_for(graph.metadata, int8, fp16)
    variant = target.variant(int8, fp16)
    path = out / target.filename(graph.metadata.model_name, int8, fp16)
    entry: dict[str, Any] = {"target": name, "variant": variant, "quantisation": md.quantisation,
                             "int8_meaning": " ".join((type(target).__doc__ or "").split()) if int8 else None,
                             "batch": md.batch}
    log(f"{name} ({variant}): exporting -> {path}" + (f" (quantising {source.name})" if source else ""))
    t0 = time.perf_counter()
    try:
        if source is not None:
            made = target.quantize(source, path, calib, md)
            entry["quantised_from"] = str(source)
        else:
            made = target.export(graph.module, graph.sample_inputs(1), path, int8, calib, md, opset=args.opset, fp16=fp16)
        entry.update(artifact=str(made.path), size_bytes=target.artifact_size(made.path),
                     export_seconds=round(time.perf_counter() - t0, 1), **made.info)
        if "delegate_partitions" in made.info:
            log(f"{name}: {made.info['delegate_partitions']} XNNPACK delegate partitions; outside: "
                f"{made.info['ops_outside_delegate']}")
        if vdata is not None:
            log(f"{name} ({variant}): verifying in {target.runtime}")
            entry.update(target.verify(made.path, dataclasses.replace(vdata, metadata=md)))
            entry["bars"] = rep.bars(entry)
        entry["status"] = "ok"
    except Exception as e:  # one target failing must not stop the others
        msg = " ".join(f"{type(e).__name__}: {e}".split())[:500]
        entry.update(status="failed", error=msg)
        print(f"{PROG}: error: {name} ({variant}) failed: {msg}", file=sys.stderr)
    return entry


def _plan(args: argparse.Namespace, targets: list[Any]) -> list[tuple[Any, bool]]:
    """(target, int8) in export order: with --keep-float every float variant first, then the int8 ones."""
    if args.keep_float:
        return [(t, False) for t in targets] + [(t, True) for t in targets]
    return [(t, bool(args.int8)) for t in targets]


def _run(args: argparse.Namespace, targets: list[Any], ckpt: Path, argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from lrdif.export import report as rep
    from lrdif.export.graph import load_inference

    torch.set_num_threads(args.threads)
    log = _logger(args.quiet)
    out = Path(args.out)
    log(f"loading {ckpt}")
    graph = load_inference(ckpt, args.steps, fork=not args.no_fork)
    out.mkdir(parents=True, exist_ok=True)               # after the checkpoint checks: a refusal leaves nothing
    log(f"model: preset {graph.preset} v{graph.metadata.model_version}, {len(graph.labels)} classes, {graph.steps} "
        f"diffusion steps, {sum(p.numel() for p in graph.module.parameters()):,} parameters")
    report = rep.load(out)
    report["run"] = {"checkpoint": str(ckpt), "preset": graph.preset, "model_version": graph.metadata.model_version,
                     "steps": graph.steps, "labels": list(graph.labels),
                     "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "argv": argv,
                     "platform": sys.platform}
    calib, vdata = _load_data(args, graph, report, log)
    failed, floats = [], {}
    for target, int8 in _plan(args, targets):
        source = floats.get(target.name) if int8 and target.int8_from_float() else None
        entry = _export_one(args, target, graph, out, calib, vdata, log, int8, source)
        if entry["status"] != "ok":
            failed.append(f"{target.name} ({entry['variant']})")
        elif not int8:
            floats[target.name] = Path(entry["artifact"])
        report["entries"][f"{target.name}-{entry['variant']}"] = entry
        rep.write(out, report)
    j, m = rep.write(out, report)
    if not args.quiet:
        print(rep.table(rep.summary_rows(report)))
        print(f"report: {j} and {m.name}")
    if failed:
        print(f"{PROG}: error: failed target(s): {', '.join(failed)} (see {j})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
