"""Table 5 over seeds: mean and spread of diffusion (V4) vs no diffusion (V1).

    python -m lrdif.training.table5 runs/table5 [--json OUT] [--png OUT]

Reads the `lrdif-eval --ablation` JSONs that training/reproduce_table5.sh writes
(`seedN/ablation_<kind>.json`, each row with its accuracy under every protocol), and reports per
condition and protocol: each seed's
V1 and V4 accuracy, their mean and sample standard deviation, the paired difference V4 - V1
(mean, spread, and on how many seeds diffusion was ahead), and a verdict: a variant "wins" only
when it is ahead on every seed and the mean difference exceeds the seeds' spread of it; otherwise
"no clear winner".
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

FILE_RE = re.compile(r"ablation_(?P<kind>[a-z-]+)\.json$")
ROWS = {"V1": "LRDif_S2-V1", "V4": "LRDif_S2-V4"}


def _accuracies(report: dict, name: str, path: Path) -> dict[str, float]:
    """{protocol: accuracy} of the ablation row `name`."""
    for row in report.get("ablation", []):
        if row.get("name") == name and not row.get("inference_variant"):
            return {p: float(a) for p, a in row["protocols"].items()}
    raise ValueError(f"{path}: no ablation row {name!r}")


def collect(root: Path) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    """{(kind, protocol): {seed: {"V1": acc, "V4": acc}}} from root/seed*/ablation_<kind>.json."""
    out: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for sd in sorted(root.glob("seed*")):
        if not sd.name[4:].isdigit():
            continue
        for f in sorted(sd.glob("ablation_*.json")):
            m = FILE_RE.search(f.name)
            if not m:
                continue
            rep = json.loads(f.read_text())
            acc = {k: _accuracies(rep, n, f) for k, n in ROWS.items()}
            for p in acc["V4"]:
                out.setdefault((m["kind"], p), {})[int(sd.name[4:])] = {k: a[p] for k, a in acc.items()}
    if not out:
        raise ValueError(f"no seed*/ablation_<kind>.json under {root}")
    return out


def summarise(per_seed: dict[int, dict[str, float]]) -> dict:
    """Mean, sample std and paired difference over the seeds of one condition."""
    seeds = sorted(per_seed)
    v1 = np.array([per_seed[s]["V1"] for s in seeds])
    v4 = np.array([per_seed[s]["V4"] for s in seeds])
    d = v4 - v1
    sd = lambda x: float(x.std(ddof=1)) if len(x) > 1 else float("nan")  # noqa: E731
    ahead = int((d > 0).sum())
    spread = sd(d)
    if len(seeds) > 1 and ahead == len(seeds) and d.mean() > spread:
        verdict = "diffusion (V4) wins"
    elif len(seeds) > 1 and (d < 0).all() and -d.mean() > spread:
        verdict = "no diffusion (V1) wins"
    else:
        verdict = "no clear winner"
    return {"seeds": seeds, "V1": v1.tolist(), "V4": v4.tolist(),
            "V1_mean": float(v1.mean()), "V1_std": sd(v1), "V4_mean": float(v4.mean()), "V4_std": sd(v4),
            "diff_mean": float(d.mean()), "diff_std": spread, "diffusion_ahead": ahead, "verdict": verdict}


def plot(table: dict, png: Path) -> Path:
    """One panel per condition/protocol: V1 and V4 per seed, joined per seed."""
    from lrdif.training.plots import _plt, _save
    plt = _plt()
    keys = sorted(table)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.8 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        t = table[key]
        for s, a, b in zip(t["seeds"], t["V1"], t["V4"]):
            ax.plot([0, 1], [100 * a, 100 * b], "o-", label=f"seed {s}")
        ax.set_xticks([0, 1], ["V1 no diff.", "V4 diffusion"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_title(key, fontsize=9)
        ax.set_ylabel("accuracy (%)")
        ax.legend(fontsize=7)
    fig.suptitle("Table 5 over seeds (PrivateTest)")
    fig.tight_layout()
    return _save(fig, png)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lrdif.training.table5", description=__doc__.split("\n")[0])
    ap.add_argument("root", type=Path, help="the OUT folder of training/reproduce_table5.sh")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--png", type=Path, default=None, help="default ROOT/table5.png")
    args = ap.parse_args(argv)
    try:
        data = collect(args.root)
    except (ValueError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = {f"{k} [{p}]": summarise(v) for (k, p), v in sorted(data.items())}
    for key, t in table.items():
        print(f"{key}: V1 {100 * t['V1_mean']:.2f} ± {100 * t['V1_std']:.2f}  V4 {100 * t['V4_mean']:.2f} ± "
              f"{100 * t['V4_std']:.2f}  V4-V1 {100 * t['diff_mean']:+.2f} ± {100 * t['diff_std']:.2f} "
              f"(diffusion ahead on {t['diffusion_ahead']}/{len(t['seeds'])} seeds): {t['verdict']}")
    plot(table, args.png or args.root / "table5.png")
    if args.json:
        from lrdif.sdk.fileio import atomic_write_bytes
        atomic_write_bytes(args.json, json.dumps(table, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
