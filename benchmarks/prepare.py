"""Artifacts for a run: the given directory, or (smoke / no directory) exports of the tiny preset.

Export path preference: the project's `lrdif-export` (real exporters, metadata, report.json) when
it is importable; otherwise the benchmark's own minimal float exporter on the tiny model (or the
stand-in module while the model is missing). Which path ran is recorded in the results.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import model_api
from benchmarks.sysinfo import ROOT


def have_exporter() -> bool:
    try:
        return importlib.util.find_spec("lrdif.export.cli") is not None
    except (ImportError, ValueError):
        return False


def write_tiny_checkpoint(path: Path, preset: str = "tiny", seed: int = 0) -> Path:
    """A randomly initialised checkpoint of `preset` in the ARCHITECTURE.md format (untrained)."""
    import torch
    model, cfg = model_api.build_model(preset, seed=seed)
    ck = {"format": "lrdif.checkpoint/1", "preset": preset, "config": cfg.to_dict(), "stage": 2,
          "state_dict": model.state_dict(), "labels": None, "meta": {"note": "untrained, benchmark smoke"}}
    try:
        from lrdif.sdk.labels import labels_for
        ck["labels"] = list(labels_for(cfg.num_classes))
    except Exception:
        pass
    try:
        from lrdif.training.checkpoint import save_checkpoint  # type: ignore
        save_checkpoint(path, model, stage=2, preset=preset)  # signature may differ: fall back below
        return Path(path)
    except Exception:
        pass
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(ck, tmp)
    tmp.replace(path)
    return path


def export_with_cli(checkpoint: Path, out_dir: Path, targets: list[str], int8: bool, log=print) -> dict:
    res = {}
    for tgt in targets:
        cmd = [sys.executable, "-m", "lrdif.export.cli", "--target", tgt, "--checkpoint", str(checkpoint),
               "--out", str(out_dir)] + (["--int8"] if int8 else [])
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        res[tgt] = {"returncode": p.returncode, "seconds": time.perf_counter() - t0,
                    "tail": (p.stdout + p.stderr)[-800:] if p.returncode else ""}
        log(f"  lrdif-export --target {tgt}{' --int8' if int8 else ''}: rc={p.returncode} "
            f"({res[tgt]['seconds']:.1f} s)")
    return res


def prepare_smoke_artifacts(out_dir: Path, targets=("onnx", "tflite", "executorch"), int8: bool = False,
                            log=print, exporter: str = "auto") -> dict:
    """Export the tiny preset (or the stand-in) into `out_dir`; returns a provenance record."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info: dict = {"dir": str(out_dir)}
    if model_api.have_model():
        ck = write_tiny_checkpoint(out_dir / "tiny_untrained.pt")
        info.update(model="tiny preset (random init, untrained)", checkpoint=str(ck))
        if exporter == "lrdif" and not have_exporter():
            raise RuntimeError("--export-with lrdif: lrdif.export.cli is not importable")
        if exporter in ("auto", "lrdif") and have_exporter():
            info["exporter"] = "lrdif-export"
            info["export"] = export_with_cli(ck, out_dir, list(targets), int8, log)
            if any(any(out_dir.glob(f"*{s}")) for s in (".onnx", ".tflite", ".pte")):
                return info
            log("  lrdif-export produced no artifact; falling back to the benchmark's own exporter")
        from benchmarks.standin import export_module
        mod, meta = model_api.load_inference(str(ck))
        info["exporter"] = "benchmarks.standin.export_module (float only)"
        info["export"] = export_module(mod, out_dir, "lrdif_tiny", meta["input_size"], targets)
        _embed_all(info["export"], meta["input_size"], "tiny", meta.get("num_classes", 8),
                   getattr(mod, "steps", 4), log)
    else:
        from benchmarks.standin import export_module, make_standin
        info.update(model="stand-in module (lrdif.training.model not importable yet)", checkpoint="standin:32",
                    exporter="benchmarks.standin.export_module (float only)")
        info["export"] = export_module(make_standin(32), out_dir, "standin", 32, targets)
        _embed_all(info["export"], 32, "standin", 8, 4, log)
    return info


def _embed_all(export: dict, size: int, preset: str, num_classes: int, steps: int, log=print) -> None:
    """Embed lrdif metadata so the SDK (EmotionRecognizer) accepts the fallback exports."""
    try:
        from lrdif.sdk.artifact_metadata import embed_metadata
        from lrdif.sdk.labels import labels_for
        from lrdif.sdk.metadata import CropSpec, ModelMetadata
    except ImportError as e:
        log(f"  (no metadata embedded: {e})")
        return
    for tgt, r in export.items():
        if "path" not in r:
            continue
        md = ModelMetadata(labels=labels_for(num_classes), input_size=size, crop=CropSpec(size=size),
                           diffusion_steps=int(steps), preset=preset, target=tgt,
                           model_name=f"lrdif-{preset}-bench", batch=1)
        try:
            embed_metadata(r["path"], md)
        except Exception as e:
            r["metadata_error"] = f"{type(e).__name__}: {e}"[:300]
