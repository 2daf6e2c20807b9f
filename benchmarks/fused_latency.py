"""Latency of the fused design's emotion fork (`benchmarks.fused_head`) against the separate LRDif
emotion model, both as float ONNX in onnxruntime, plus FaceMesh itself (face_landmark.tflite in
LiteRT) for scale. Batch 1, one thread, one process; p50 over --iters runs after 20 warm-ups.

    python -m benchmarks.fused_latency --fork runs/fused/fork.pt --lrdif ARTIFACTS/lrdif-mobile-fp32.onnx
        [--iters 500] [--out fused_latency.json]

The fork is exported from its saved weights (OUT/fork.pt of fused_head) at its tap's input, the
shared 12x12 (tap >= 9) or 24x24 map of FaceMesh's trunk.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def p50_ms(run, iters: int, warmup: int = 20) -> float:
    from benchmarks.child import time_loop

    return float(np.median(time_loop(run, warmup, iters)))


def _ort(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).random([d if isinstance(d, int) else 1 for d in i.shape],
                                                     dtype=np.float32) for i in sess.get_inputs()}
    return lambda: sess.run(None, feeds)


def _fork_onnx(fork_pt: Path, out: Path) -> Path:
    import torch

    from benchmarks.fused_head import SIZE, EmotionFork
    from lrdif.training.model.facemesh import FaceMeshTrunk, FaceMeshTrunkConfig

    saved = torch.load(fork_pt, weights_only=True)
    trunk = FaceMeshTrunk(FaceMeshTrunkConfig(input_size=SIZE)).eval()
    fork = EmotionFork(trunk, int(saved["tap"])).eval()
    fork.load_state_dict(saved["state_dict"])
    x = trunk.forward_stages(torch.zeros(1, 3, SIZE, SIZE), upto=int(saved["tap"]))[-1]
    torch.onnx.export(fork, (x,), str(out), input_names=["features"], output_names=["logits"], dynamo=True)
    return out


def _facemesh():
    from ai_edge_litert.interpreter import Interpreter

    from lrdif.sdk.assets import face_model_paths

    it = Interpreter(model_path=str(face_model_paths(download=False)["landmarker"]), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.random.default_rng(0).random(d["shape"], dtype=np.float32))
    return it.invoke


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fused_latency", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fork", type=Path, required=True, help="fork.pt written by benchmarks.fused_head")
    ap.add_argument("--lrdif", type=Path, required=True, help="the LRDif float ONNX artifact")
    ap.add_argument("--iters", type=int, default=500)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    for p in (args.fork, args.lrdif):
        if not p.is_file():
            raise SystemExit(f"no such file: {p}")
    with tempfile.TemporaryDirectory() as tmp:
        fork_path = _fork_onnx(args.fork, Path(tmp) / "fork.onnx")
        res = {"fork_onnx_p50_ms": p50_ms(_ort(fork_path), args.iters),
               "lrdif_onnx_p50_ms": p50_ms(_ort(args.lrdif), args.iters),
               "facemesh_tflite_p50_ms": p50_ms(_facemesh(), args.iters),
               "iters": args.iters, "threads": 1, "lrdif": str(args.lrdif), "fork": str(args.fork)}
    text = json.dumps(res, indent=1)
    if args.out:
        from lrdif.sdk.fileio import atomic_write_bytes
        atomic_write_bytes(args.out, text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
