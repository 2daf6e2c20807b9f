"""ONNX static-int8 sensitivity sweep (diagnostic, not part of the benchmark run):

    python -m benchmarks.onnx_int8_sweep FP32.onnx [--ops Conv,Gemm,MatMul] [GROUP-SUBSTRING ...]

runs the static QDQ step of `lrdif-export --int8` (`quantize_qdq`: MinMax, per-channel int8
weights, uint8 activations, 300 calibration crops, LayerNorm / heatmap float) on the `--ops` op
types (default Conv, as shipped; `--ops Conv,Gemm,MatMul` comes close to the first scheme, which
quantised every op and kept nothing float), once as is
and once per module group kept in float (groups from the exporter's `namespace` node metadata),
and prints top-1 agreement / accuracy vs float on the export verification crops (500 clean + 500
UDC), one JSON line per variant. The weight-only Gemm/MatMul step is not applied here."""
import collections
import json
import sys
import tempfile
import time
from pathlib import Path
import numpy as np
import onnx
import onnxruntime as ort
from lrdif.export.data import load_calibration, load_verification
from lrdif.export.targets.onnx import node_namespace, preprocess_for_int8, quantize_qdq
from benchmarks.evalsets import FERPLUS as DATA


def main() -> None:
    args = sys.argv[1:]
    ops = ("Conv",)
    if "--ops" in args:
        i = args.index("--ops")
        ops = tuple(args[i + 1].split(","))
        del args[i:i + 2]
    FP32 = args[0] if args else sys.exit(__doc__)
    calib = load_calibration(DATA, 300, 8)
    ver = load_verification(DATA, 500, 8)
    with tempfile.TemporaryDirectory() as td:
        _sweep(FP32, calib, ver, Path(td), ops, args[1:])


def _sweep(FP32: str, calib, ver, wd: Path, ops: tuple[str, ...], only: list[str]) -> None:
    pre = wd / "pre.onnx"
    preprocess_for_int8(Path(FP32), pre)
    m = onnx.load(str(pre))
    def group(n):
        ns = node_namespace(n)
        segs = [s.split(":")[0].strip() for s in ns.split("/")][1:]
        if len(segs) < 2:
            return "top (diffusion arithmetic, softmax)"
        if segs[0] != "udcformer":
            return segs[0]
        g = segs[1]
        return "udc." + g.split(".")[1] if g.startswith("udcformer.") else "udc.misc"
    groups = collections.defaultdict(list)
    for n in m.graph.node:  # preprocess_for_int8 keeps the exporter's namespaces
        groups[group(n) if node_namespace(n) else "unmapped"].append(n.name)
    print({k: len(v) for k, v in groups.items()}, flush=True)
    def run(path, fs):
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = []
        for i in range(0, len(fs), 50):
            out.append(s.run(["probabilities"], {"image": fs.image[i:i+50], "landmarks": fs.landmarks[i:i+50]})[0])
        return np.concatenate(out)
    ref = {k: run(FP32, v) for k, v in ver.items()}
    variants = [(f"{'+'.join(ops)} quantised", [])] + [(f"keep {g} float", names) for g, names in sorted(groups.items())]
    if only:
        variants = [v for v in variants if any(a in v[0] for a in only)]
    for name, excl in variants:
        t = time.time(); out = wd / "q.onnx"
        quantize_qdq(pre, out, calib, nodes_to_exclude=excl, op_types=ops)
        row = {"variant": name, "excluded_nodes": len(excl)}
        for k, fs in ver.items():
            p = run(out, fs)
            row[k] = {"agree": round(100 * float((p.argmax(1) == ref[k].argmax(1)).mean()), 1),
                      "acc": round(100 * float((p.argmax(1) == fs.labels).mean()), 1),
                      "fp32_acc": round(100 * float((ref[k].argmax(1) == fs.labels).mean()), 1),
                      "max_dp": round(float(np.abs(p - ref[k]).max()), 3)}
        row["s"] = round(time.time() - t, 1)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
