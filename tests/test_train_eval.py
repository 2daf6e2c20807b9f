"""lrdif-train / lrdif-eval end to end on the tiny preset and the tiny FERPlus npz (2 steps a stage)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lrdif.training import evaluate, train
from lrdif.training.checkpoint import load_checkpoint

FAST_MIX = "none:0.5,lowlight:0.5"  # the UDC kinds cost ~30 s of PSF set-up per process (run once below)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("train_eval")


def _common(tiny_npz, work, out, *extra):
    return ["--degradations", FAST_MIX, "--data", str(tiny_npz), "--batch-size", "16", "--out", str(out), "--threads", "1",
            "--cache-dir", str(work / "lmcache"), "--no-progress", "--val-size", "0", "--log-every", "1", *extra]


@pytest.fixture(scope="module")
def stage1(tiny_npz, work):
    out = work / "stage1"
    rc = train.main(["stage1", "--preset", "tiny", "--max-steps", "2", "--degradations", FAST_MIX,
                     *_common(tiny_npz, work, out)])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def stage2(tiny_npz, work, stage1):
    out = work / "stage2"
    rc = train.main(["stage2", "--teacher", str(stage1 / "best.pt"), "--max-steps", "2",
                     "--warmup-prior-epochs", "0.25", "--degradations", FAST_MIX, *_common(tiny_npz, work, out)])
    assert rc == 0
    return out


def _rows(p: Path) -> list[dict]:
    with open(p, newline="") as f:
        return list(csv.DictReader(f))


def test_stage1_outputs(stage1):
    for f in ("best.pt", "last.pt", "train_state.pt", "train_log.csv", "curves.png", "summary.json"):
        assert (stage1 / f).is_file(), f
    rows = _rows(stage1 / "train_log.csv")
    assert [r["step"] for r in rows if r["phase"] == "train"] == ["1", "2"]
    val = [r for r in rows if r["phase"] == "val"]
    assert val and {"val_acc_none", "val_acc_lowlight", "val_acc_mean", "lr", "time_s", "train_acc",
                    "loss"} <= set(val[0])
    assert all(np.isfinite(float(r["loss"])) for r in rows if r["phase"] == "train")
    model, cfg, ck = load_checkpoint(stage1 / "best.pt", expected_stage=1)
    assert ck["preset"] == "tiny" and cfg.num_classes == 8
    assert ck["meta"]["global_step"] == 2 and ck["meta"]["loss"] == "ce"
    s = json.loads((stage1 / "summary.json").read_text())
    assert s["global_step"] == 2 and s["world_size"] == 1


def test_resume_continues(tiny_npz, work, stage1):
    out = work / "resume"
    shutil.copytree(stage1, out)
    rc = train.main(["stage1", "--max-steps", "3", "--resume", *_common(tiny_npz, work, out)])
    assert rc == 0
    st = torch.load(out / "train_state.pt", weights_only=False)
    assert st["global_step"] == 3 and st["preset"] == "tiny"
    steps = [r["step"] for r in _rows(out / "train_log.csv") if r["phase"] == "train"]
    assert steps == ["1", "2", "3"]
    # resuming with a different model config is refused
    rc = train.main(["stage1", "--preset", "mobile", "--max-steps", "4", "--resume", *_common(tiny_npz, work, out)])
    assert rc == 2


def test_stage2_outputs(stage2, stage1):
    model, cfg, ck = load_checkpoint(stage2 / "best.pt", expected_stage=2)
    assert ck["meta"]["teacher"] == str(stage1 / "best.pt")
    assert ck["meta"]["loss"] == "ce+kl" and cfg.diffusion and cfg.insert_noise
    rows = [r for r in _rows(stage2 / "train_log.csv") if r["phase"] == "train"]
    assert float(rows[-1]["loss_kl"]) > 0  # KL to the frozen teacher EPR is in the loss
    # FPEN_S1 stayed frozen: identical to the teacher's
    t, _, _ = load_checkpoint(stage1 / "best.pt")
    for k, v in t.fpen_s1.state_dict().items():
        assert torch.equal(v, model.fpen_s1.state_dict()[k]), k


def test_stage2_ablation_flags(tiny_npz, work, stage1):
    out = work / "v1"
    rc = train.main(["stage2", "--teacher", str(stage1 / "best.pt"), "--max-steps", "1", "--no-diffusion",
                     "--loss", "ce", "--degradations", FAST_MIX, *_common(tiny_npz, work, out)])
    assert rc == 0
    _, cfg, ck = load_checkpoint(out / "best.pt")
    assert not cfg.diffusion and ck["meta"]["loss"] == "ce"


def test_stage2_bf16_autocast(tiny_npz, work, stage1):
    """--amp bf16 trains (finite losses, weights move) and still saves float32 weights."""
    out = work / "bf16"
    rc = train.main(["stage2", "--teacher", str(stage1 / "best.pt"), "--max-steps", "2", "--amp", "bf16",
                     "--degradations", FAST_MIX, *_common(tiny_npz, work, out)])
    assert rc == 0
    model, _, ck = load_checkpoint(out / "last.pt", expected_stage=2)
    assert ck["meta"]["amp"] == "bf16"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    rows = [r for r in _rows(out / "train_log.csv") if r["phase"] == "train"]
    assert all(np.isfinite(float(r["loss"])) for r in rows) and float(rows[-1]["loss_kl"]) > 0
    t, _, _ = load_checkpoint(stage1 / "best.pt")
    moved = [k for k, v in t.udcformer.state_dict().items()
             if v.is_floating_point() and not torch.equal(v, model.udcformer.state_dict()[k])]
    assert moved  # the UDCformer was updated from the teacher's initialisation


def test_eval_json_and_figures(tiny_npz, work, stage1, stage2):
    j = work / "eval" / "e.json"
    rc = evaluate.main(["--checkpoint", str(stage2 / "best.pt"), "--data", str(tiny_npz), "--degradation", "lowlight",
                        "--json", str(j), "--confusion", str(work / "eval" / "cm.png"), "--steps-curve", "1,2,4",
                        "--tsne", str(work / "eval" / "tsne.png"), "--tsne-size", "24", "--threads", "1",
                        "--cache-dir", str(work / "lmcache"),
                        "--ablation", f"S1={stage1 / 'best.pt'}", f"V3={stage2 / 'best.pt'}"])
    assert rc == 0
    r = json.loads(j.read_text())
    assert {"accuracy", "n", "macro_f1", "per_class", "confusion", "config", "steps", "degradation"} <= set(r)
    assert r["n"] == 64 and r["split"] == "all" and r["degradation"] == "lowlight" and r["steps"] == 4
    assert np.array(r["confusion"]).sum() == 64 and len(r["per_class"]) == 8
    assert abs(r["accuracy"] - np.trace(np.array(r["confusion"])) / 64) < 1e-9
    # both protocols, mean class accuracy and per-class recall in the JSON; the headline is --protocol all
    assert r["protocol"] == "all" and set(r["protocols"]) == {"all", "majority"}
    assert r["protocols"]["all"]["accuracy"] == r["accuracy"] and 0 < r["protocols"]["majority"]["n"] < 64
    recalls = [c["recall"] for c in r["per_class"].values() if c["n"]]
    assert abs(r["mean_class_accuracy"] - np.mean(recalls)) < 1e-9
    mj = r["protocols"]["majority"]["per_degradation"]["lowlight"]
    assert set(mj["per_class_recall"]) == set(r["per_class"]) and 0 <= mj["mean_class_accuracy"] <= 1
    assert (work / "eval" / "cm.png").stat().st_size > 1000 and (work / "eval" / "tsne.png").stat().st_size > 1000
    assert r["steps_curve"]["steps"] == [1, 2, 4] and Path(r["steps_curve"]["png"]).is_file()
    names = [row["name"] for row in r["ablation"]]
    assert names[0] == "LRDif_S1" and r["ablation"][0]["ground_truth"] and not r["ablation"][0]["diffusion_model"]
    assert r["ablation"][1]["L_total"] and r["ablation"][1]["insert_noise"]
    assert all(row["protocols"]["all"] == row["accuracy"] and set(row["protocols"]) == {"all", "majority"}
               for row in r["ablation"])
    # stage-1 checkpoints evaluate with the ground-truth prior, flagged
    j1 = work / "eval" / "s1.json"
    assert evaluate.main(["--checkpoint", str(stage1 / "best.pt"), "--data", str(tiny_npz), "--json", str(j1),
                          "--cache-dir", str(work / "lmcache"), "--threads", "1"]) == 0
    assert json.loads(j1.read_text())["uses_ground_truth_labels"] is True


def test_eval_on_split_data_and_other_layouts(tmp_path, tiny_npz, work, stage2):
    with np.load(tiny_npz) as z:
        images, votes = z["images"], z["votes"]
    rgb = np.repeat(images[..., None], 3, axis=-1)
    split = np.array([0] * 32 + [1] * 16 + [2] * 16, np.uint8)
    p = tmp_path / "rgb_split.npz"
    np.savez(p, images=rgb, votes=votes, split=split)
    j = tmp_path / "e.json"
    common = ["--checkpoint", str(stage2 / "best.pt"), "--data", str(p), "--json", str(j),
              "--cache-dir", str(work / "lmcache"), "--threads", "1"]
    assert evaluate.main(common) == 0
    r = json.loads(j.read_text())
    assert r["split"] == "test" and r["n"] == 16  # default: PrivateTest
    assert evaluate.main(common + ["--split", "public+private"]) == 0
    assert json.loads(j.read_text())["n"] == 32
    assert evaluate.main(common + ["--degradation", "none,lowlight", "--protocol", "majority"]) == 0
    r = json.loads(j.read_text())
    assert set(r["per_degradation"]) == {"none", "lowlight"} and r["protocol"] == "majority"
    assert r["n"] == r["protocols"]["majority"]["n"] < r["protocols"]["all"]["n"] == 16


# FER+ votes: 8 emotions (neutral .. contempt), unknown, NF
VOTES = np.array([
    [6, 1, 1, 0, 0, 0, 0, 0, 1, 1],   # 0 keep neutral: the single votes are outliers
    [4, 3, 1, 1, 1, 0, 0, 0, 0, 0],   # 1 keep neutral: 4 of the 7 votes left
    [3, 3, 2, 1, 1, 0, 0, 0, 0, 0],   # 2 drop: 3 of 8 is no majority
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],   # 3 drop: every vote is an outlier
    [0, 0, 0, 0, 0, 0, 0, 0, 7, 3],   # 4 drop: unknown wins
    [0, 0, 0, 0, 0, 0, 0, 0, 2, 8],   # 5 drop: not a face
    [0, 2, 0, 0, 0, 0, 0, 6, 1, 1],   # 6 keep contempt (8 classes only)
    [0, 5, 0, 0, 0, 0, 0, 0, 0, 5],   # 7 drop: 5 of 10 is not MORE than half
    [2, 0, 0, 0, 5, 0, 0, 0, 1, 2],   # 8 keep anger: 5 of 9
    [5, 4, 1, 0, 0, 0, 0, 0, 0, 0],   # 9 keep neutral only because the single vote is dropped (5 of 9)
])


def test_majority_protocol_on_hand_made_votes():
    from lrdif.sdk.labels import labels_for
    from lrdif.training.datasets import majority_labels

    rows = evaluate.protocol_rows(VOTES, majority_labels(VOTES), 8)
    assert rows["majority"][0].tolist() == [0, 1, 6, 8, 9] and rows["majority"][1].tolist() == [0, 0, 7, 4, 0]
    assert rows["all"][0].tolist() == list(range(10))
    assert evaluate.protocol_rows(VOTES, majority_labels(VOTES), 7)["majority"][0].tolist() == [0, 1, 8, 9]
    assert list(evaluate.protocol_rows(None, majority_labels(VOTES), 8)) == ["all"]   # labels only: no votes
    pred = np.array([0, 3, 0, 0, 0, 0, 7, 1, 4, 0])
    m = evaluate.metrics_by_protocol(pred, rows, labels_for(8))["majority"]
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(0.8)
    rec = {c: v["recall"] for c, v in m["per_class"].items() if v["n"]}
    assert rec == pytest.approx({"neutral": 2 / 3, "anger": 1.0, "contempt": 1.0})
    assert m["mean_class_accuracy"] == pytest.approx((2 / 3 + 1 + 1) / 3)


def test_bad_inputs(tiny_npz, work, stage1, stage2, capsys, monkeypatch):
    out = work / "bad"
    rc = train.main(["stage1", "--preset", "huge", "--max-steps", "1", *_common(tiny_npz, work, out)])
    assert rc == 2 and "unknown preset 'huge'" in capsys.readouterr().err
    rc = train.main(["stage1", "--preset", "tiny", "--max-steps", "1",
                     *_common(work / "missing.npz", work, out)])
    assert rc == 2 and "missing.npz" in capsys.readouterr().err
    rc = train.main(["stage1", "--preset", "tiny", *_common(tiny_npz, work, out), "--degradations", "rain:1"])
    assert rc == 2 and "unknown kind 'rain'" in capsys.readouterr().err
    # the held-out test ranges are not training kinds: training on them would leak the unseen sets
    rc = train.main(["stage1", "--preset", "tiny", *_common(tiny_npz, work, out), "--degradations", "none,udc-unseen"])
    err = capsys.readouterr().err
    assert rc == 2 and "'udc-unseen' is a held-out test range" in err and not (out / "best.pt").exists()
    # stage-2 against a teacher of another class count / a stage-2 "teacher"
    rc = train.main(["stage2", "--teacher", str(stage1 / "best.pt"), "--classes", "7", "--max-steps", "1",
                     *_common(tiny_npz, work, out)])
    assert rc == 2 and "does not match the teacher" in capsys.readouterr().err
    rc = train.main(["stage2", "--teacher", str(stage2 / "best.pt"), "--max-steps", "1", *_common(tiny_npz, work, out)])
    assert rc == 2 and "stage 2, expected stage 1" in capsys.readouterr().err
    rc = train.main(["stage2", "--teacher", str(work / "none.pt"), "--max-steps", "1", *_common(tiny_npz, work, out)])
    assert rc == 2 and "teacher checkpoint not found" in capsys.readouterr().err
    # NaN loss -> clear error naming the step
    rc = train.main(["stage1", "--preset", "tiny", "--max-steps", "3", "--debug-nan-step", "1",
                     "--degradations", FAST_MIX, *_common(tiny_npz, work, out)])
    err = capsys.readouterr().err
    assert rc == 2 and "non-finite loss" in err and "at step 1" in err
    # eval: mismatched classes, missing shipped model, bad degradation
    ev = ["--data", str(tiny_npz), "--cache-dir", str(work / "lmcache"), "--threads", "1"]
    assert evaluate.main(["--checkpoint", str(stage2 / "best.pt"), "--classes", "7", *ev]) == 2
    assert "does not match the checkpoint" in capsys.readouterr().err
    assert evaluate.main(["--checkpoint", str(stage2 / "best.pt"), "--degradation", "fog", *ev]) == 2
    assert "unknown kind" in capsys.readouterr().err
    monkeypatch.setattr(evaluate, "default_checkpoint", lambda: work / "weights" / "lrdif-mobile.pt")
    assert evaluate.main(ev) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert evaluate.main(["--checkpoint", str(tiny_npz), *ev]) == 2  # not a checkpoint
    assert "cannot load checkpoint" in capsys.readouterr().err
    assert evaluate.main(["--checkpoint", str(stage1 / "best.pt"), "--steps-curve", "1,2", *ev]) == 2


def test_seven_class_training(tiny_npz, work):
    out = work / "c7"
    assert train.main(["stage1", "--preset", "tiny", "--classes", "7", "--max-steps", "1",
                       "--degradations", FAST_MIX, *_common(tiny_npz, work, out)]) == 0
    _, cfg, _ = load_checkpoint(out / "best.pt")
    assert cfg.num_classes == 7


@pytest.mark.slow
def test_default_degradation_mix(tiny_npz, work):
    """The default mix (clean + TOLED + POLED + low light); slow: the UDC PSF set-up."""
    out = work / "mix"
    assert train.main(["stage1", "--preset", "tiny", "--max-steps", "1", *_common(tiny_npz, work, out),
                       "--degradations", train.DEFAULT_DEGRADATIONS]) == 0
    val = [r for r in _rows(out / "train_log.csv") if r["phase"] == "val"]
    assert all(val[-1][f"val_acc_{k}"] for k in ("none", "udc-toled", "udc-poled", "lowlight"))


@pytest.mark.slow  # ~40-90 s: two fresh interpreters
def test_torchrun_ddp_two_processes(tiny_npz, work):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun not installed")
    out = work / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "lrdif.training.train",
                        "stage1", "--preset", "tiny", "--max-steps", "2", "--degradations", FAST_MIX,
                        *_common(tiny_npz, work, out)], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["world_size"] == 2 and s["global_step"] == 2
    load_checkpoint(out / "best.pt", expected_stage=1)


def test_ema_forgets_the_initialisation():
    lin = torch.nn.Linear(4, 4)
    from lrdif.training.ema import EMA
    ema = EMA(lin, 0.999)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    for _ in range(100):
        ema.update(lin)
    # plain decay 0.999 would still hold 90% of the random init after 100 steps
    assert torch.allclose(ema.shadow["weight"], torch.ones(4, 4), atol=0.02)


def test_stage2_teacher_from_train_state(tiny_npz, work, stage1):
    out = work / "from_state"
    rc = train.main(["stage2", "--teacher", str(stage1 / "train_state.pt"), "--max-steps", "1",
                     *_common(tiny_npz, work, out)])
    assert rc == 0
    model, cfg, ck = load_checkpoint(out / "best.pt", expected_stage=2)
    st = torch.load(stage1 / "train_state.pt", weights_only=False)
    for k, v in model.fpen_s1.state_dict().items():  # the raw stage-1 weights were the teacher
        assert torch.equal(v, st["model"][f"fpen_s1.{k}"]), k


def test_stage2_init_fine_tunes_from_a_stage2_checkpoint(tiny_npz, work, stage1, stage2, capsys):
    """--init starts every weight from a stage-2 checkpoint (its FPEN_S1 stays the teacher), resumes
    without repeating the flag, and refuses a stage-1 file or a second teacher."""
    init = stage2 / "best.pt"
    out = work / "ft"
    args = ["stage2", "--init", str(init), "--lr", "1e-9", "--epochs", "1", "--degradations", FAST_MIX,
            *_common(tiny_npz, work, out)]
    assert train.main([*args, "--stop-at-step", "1"]) == 0
    resume = ["stage2", "--lr", "1e-9", "--epochs", "1", "--degradations", FAST_MIX,
              *_common(tiny_npz, work, out), "--stop-at-step", "2", "--resume"]
    assert train.main(resume) == 0                  # no --init: the state remembers it
    src, _, _ = load_checkpoint(init, expected_stage=2)
    got, _, ck = load_checkpoint(out / "last.pt", expected_stage=2)
    assert ck["meta"]["init"] == str(init) and ck["meta"]["global_step"] == 2
    mine = dict(got.named_parameters())
    for k, v in src.named_parameters():             # lr 1e-9: still the init's weights, not a fresh model
        assert torch.allclose(v, mine[k], atol=1e-5), k
    capsys.readouterr()
    assert train.main([*args, "--teacher", str(stage1 / "best.pt")]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert train.main(["stage2", "--init", str(stage1 / "best.pt"), *_common(tiny_npz, work, work / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--init" in err and str(stage1 / "best.pt") in err


def test_stage2_face_trunk_starts_from_mediapipe_weights(tiny_npz, work, stage2, capsys, monkeypatch):
    """--face-trunk adds FaceMesh's trunk to a trunkless --init checkpoint, starting from the converted
    face_landmark.tflite weights; a bad size or a missing weight file is a clear exit 2."""
    from lrdif.training.facemesh_weights import load_facemesh_state_dict
    from lrdif.training.model.facemesh import FaceMeshTrunkConfig

    init = stage2 / "best.pt"
    out = work / "ft_trunk"
    args = ["stage2", "--init", str(init), "--lr", "1e-9", "--epochs", "1", *_common(tiny_npz, work, out)]
    assert train.main([*args, "--face-trunk", "64", "--max-steps", "1"]) == 0
    model, cfg, _ = load_checkpoint(out / "last.pt", expected_stage=2)
    assert cfg.face_trunk_size == 64
    want = load_facemesh_state_dict(FaceMeshTrunkConfig(input_size=64))
    got = model.udcformer.face_trunk.trunk.state_dict()
    assert set(got) == set(want)
    for k, v in want.items():                      # lr 1e-9: still MediaPipe's weights
        assert torch.allclose(got[k], v, atol=1e-5), k
    capsys.readouterr()
    assert train.main([*args, "--face-trunk", "48", "--out", str(work / "bad_trunk")]) == 2
    assert "face_trunk_size" in capsys.readouterr().err
    monkeypatch.setenv("LRDIF_CACHE_DIR", str(work / "no_models"))
    assert train.main([*args, "--face-trunk", "64", "--out", str(work / "no_trunk_file")]) == 2
    err = capsys.readouterr().err
    assert "--face-trunk" in err and "FaceMesh" in err
    assert not (work / "no_trunk_file" / "last.pt").exists()
