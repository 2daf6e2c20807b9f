import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LRDIF_SHARED_DATA", ROOT.parent / "shared" / "data"))
TINY_NPZ = SHARED_DATA / "ferplus" / "ferplus_tiny64_48x48_uint8.npz"
FERPLUS_NPZ = SHARED_DATA / "ferplus" / "ferplus_48x48_uint8.npz"

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_npz() -> Path:
    assert TINY_NPZ.exists(), f"shared test data missing: {TINY_NPZ}"
    return TINY_NPZ


@pytest.fixture(scope="session")
def ferplus_npz() -> Path:
    assert FERPLUS_NPZ.exists(), f"shared data missing: {FERPLUS_NPZ}"
    return FERPLUS_NPZ


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The untrained `tiny` preset as a stage-2 checkpoint (the export matrix's model, written the
    same way; for tests that only need a valid checkpoint file)."""
    pytest.importorskip("torch")
    from export_matrix_job import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


# ----------------------------------------------------------------------------- export matrix
# The export matrix (tests/export_matrix_job.py: every target x {fp32, int8} of the tiny preset, about
# 5 min of single-threaded conversions here, 60% of it ExecuTorch lowering) is the longest
# piece of the suite. It is made once per session,
# in a child process started as soon as the collected tests are known to need it, so that it runs
# on the second core while the other tests run; the tests that use it are moved to the end of the
# run (those that need only its float half, `export_matrix_fp32`, before those that need all of it).
# It is one `lrdif-export --int8 --keep-float` run (float variants first, int8 quantised from them).
MATRIX, MATRIX_FP32 = "export_matrix", "export_matrix_fp32"
MATRIX_TIMEOUT_S = 3600
_matrix_job: dict = {}


def _start_matrix(data: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="lrdif-export-matrix-"))
    log = open(root / "export_matrix.log", "wb")
    env = dict(os.environ, OMP_NUM_THREADS="1")       # lrdif-export --threads 1 (its default)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("export_matrix_job.py")), str(root), str(data)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    _matrix_job.update(root=root, proc=proc, log=log)


def _stop_matrix() -> None:
    proc = _matrix_job.get("proc")
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if _matrix_job.get("log"):
        _matrix_job["log"].close()
    if _matrix_job.get("root"):
        shutil.rmtree(_matrix_job["root"], ignore_errors=True)
    _matrix_job.clear()


def _wait_matrix(data: Path, stage: str) -> Path:
    """Block until the child's `stage` ("float": every fp32 entry in its report, or "result": the run
    is done) is there; returns its root folder."""
    import export_matrix_job as em

    if "proc" not in _matrix_job:                      # not started at collection: build it now
        _start_matrix(data)
    proc, root = _matrix_job["proc"], _matrix_job["root"]
    def done() -> bool:
        return em.float_ready(root) if stage == "float" else em.paths(root)["result"].is_file()

    deadline = time.monotonic() + MATRIX_TIMEOUT_S
    while not done() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)
    if stage == "result" and done():
        try:
            proc.wait(60)                              # the child exits right after writing it
        except subprocess.TimeoutExpired:
            pass
    log = em.paths(root)["log"]
    ok = done() and (stage == "float" or proc.poll() in (None, 0))   # (the float half stands alone)
    assert ok, f"export matrix child failed (exit {proc.poll()}):\n{log.read_text(errors='replace')[-6000:]}"
    return root


def _matrix_stage(item) -> int:
    """0: no export matrix, 1: its float half only, 2: all of it."""
    names = getattr(item, "fixturenames", ())
    return 2 if MATRIX in names else 1 if MATRIX_FP32 in names else 0


@pytest.hookimpl(trylast=True)      # after -k / -m deselection
def pytest_collection_modifyitems(config, items):
    """The tests that read the export matrix run last (stable order otherwise); under pytest-xdist
    (`--dist loadgroup`) they form one group, so one worker builds it."""
    for i in items:
        if _matrix_stage(i):
            i.add_marker(pytest.mark.xdist_group(MATRIX))
    items.sort(key=_matrix_stage)                      # stable


def pytest_collection_finish(session):
    opt = session.config.option
    if opt.collectonly or getattr(opt, "showfixtures", False) or getattr(opt, "show_fixtures_per_test", False):
        return
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        return                      # under xdist the worker that runs the group builds it on first use
    if TINY_NPZ.exists() and any(_matrix_stage(i) for i in session.items):
        _start_matrix(TINY_NPZ)


def pytest_unconfigure(config):
    _stop_matrix()


@pytest.fixture(scope="session")
def export_matrix(tiny_npz) -> dict:
    """{"out": folder, "checkpoint": the tiny checkpoint exported, "rc": the run's exit status,
    "report": report.json}: see tests/export_matrix_job.py."""
    pytest.importorskip("torch")
    import export_matrix_job as em

    return em.load(_wait_matrix(tiny_npz, "result"))


@pytest.fixture(scope="session")
def export_matrix_fp32(tiny_npz) -> dict:
    """The export matrix's float half, as soon as its float run is done (the int8 run goes on):
    {"checkpoint", "rc": float run exit status, "artifacts": {target: fp32 artifact path}}."""
    pytest.importorskip("torch")
    import export_matrix_job as em

    return em.load_float(_wait_matrix(tiny_npz, "float"))
