"""Fallbacks used only while the real model / exporters are missing, and by per-step exports.

`StandIn` has the emotion model's IO contract (image (B,3,S,S) normalised, landmarks (B,468,2) ->
probabilities, logits) and a small loop, so the harness can be proved end to end on every runtime.
`export_module` is a minimal exporter (ONNX legacy exporter, LiteRT via litert-torch, ExecuTorch
XNNPACK) for any such module; the project's `lrdif-export` is preferred whenever it is importable.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


def make_standin(input_size: int = 32, num_classes: int = 8, steps: int = 4, seed: int = 0):
    import torch
    from torch import nn

    class StandIn(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
            self.lm = nn.Linear(468 * 2, 32)
            self.den = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32))
            self.head = nn.Linear(64, num_classes)
            self.steps = steps

        def forward(self, image, landmarks):
            f = self.stem(image).mean(dim=(2, 3))
            z = self.lm(landmarks.flatten(1))
            for _ in range(self.steps):
                z = z - 0.1 * self.den(torch.cat([z, f], 1))
            logits = self.head(torch.cat([z, f], 1))
            return torch.softmax(logits, -1), logits

    torch.manual_seed(seed)
    return StandIn().eval()


def export_module(module, out_dir: Path, name: str, input_size: int, targets=("onnx", "tflite", "executorch"),
                  metadata: dict | None = None) -> dict:
    """Export `module` to each target; return {target: path or error}. Float only."""
    import torch
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = (torch.zeros(1, 3, input_size, input_size), torch.full((1, 468, 2), 0.5))
    res: dict = {}
    for tgt in targets:
        t0 = time.perf_counter()
        try:
            if tgt == "onnx":
                p = out_dir / f"{name}.onnx"
                kw = dict(input_names=["image", "landmarks"], output_names=["probabilities", "logits"])
                try:
                    torch.onnx.export(module, args, str(p), opset_version=17, dynamo=False, **kw)
                except Exception:
                    torch.onnx.export(module, args, str(p), opset_version=18, dynamo=True,
                                      external_data=False, **kw)
            elif tgt == "tflite":
                import litert_torch
                p = out_dir / f"{name}.tflite"
                litert_torch.convert(module, args).export(str(p))
            elif tgt == "executorch":
                from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
                from executorch.exir import to_edge_transform_and_lower
                p = out_dir / f"{name}.pte"
                ep = torch.export.export(module, args)
                prog = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
                p.write_bytes(prog.buffer)
            else:
                raise ValueError(tgt)
            if metadata is not None:
                Path(str(p) + ".bench.json").write_text(json.dumps(metadata))
            res[tgt] = {"path": str(p), "seconds": time.perf_counter() - t0}
        except Exception as e:  # keep going: one failing runtime must not hide the others
            res[tgt] = {"error": f"{type(e).__name__}: {e}"[:500], "seconds": time.perf_counter() - t0}
    return res
