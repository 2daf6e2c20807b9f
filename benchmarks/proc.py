"""Run one measurement in a fresh child interpreter; collect its result and its own rusage."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.runners import thread_env
from benchmarks.sysinfo import ROOT, loadavg


def run_child(spec: dict, threads: int = 1, timeout: float = 900) -> dict:
    """Start `python -m benchmarks.child` for `spec`; return its JSON plus the parent's view:
    wall time from spawn, and the child's own rusage from wait4 (peak RSS, context switches)."""
    with tempfile.TemporaryDirectory(prefix="lrdif-bench-") as td:
        spec = dict(spec, threads=threads, result=str(Path(td) / "result.json"))
        spec_path = Path(td) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = thread_env(threads)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        la0 = loadavg()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.child", str(spec_path)], cwd=str(ROOT),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = t0 + timeout
        status, ru = None, None
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        proc.returncode = os.waitstatus_to_exitcode(status)
        res_path = Path(spec["result"])
        if res_path.exists():
            out = json.loads(res_path.read_text())
        else:
            out = {"ok": False, "error": f"child exited {proc.returncode} without a result",
                   "log_tail": log[-2000:]}
        if not out.get("ok") and "log_tail" not in out:
            out["log_tail"] = log[-2000:]
        ru_max = round(ru.ru_maxrss / 1024, 2)
        out.update({"process_wall_s": wall, "returncode": proc.returncode,
                    # VmHWM of the child's own image; ru_maxrss from wait4 is kept for reference but on
                    # Linux it is at least the parent's RSS at spawn (pre-exec high-water mark)
                    "peak_rss_mb": out.get("vmhwm_mb") or ru_max, "ru_maxrss_wait4_mb": ru_max,
                    "ctx_switches_involuntary": ru.ru_nivcsw, "ctx_switches_voluntary": ru.ru_nvcsw,
                    "cpu_user_s": ru.ru_utime, "cpu_sys_s": ru.ru_stime,
                    "loadavg_before": la0, "loadavg_after": loadavg()})
        return out
