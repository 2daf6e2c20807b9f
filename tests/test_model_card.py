"""The model card's verdict and distance-to-paper text come from the eval numbers, not fixed prose."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from lrdif.training.model_card import BARS, _paper_gap, bar_verdict  # noqa: E402

RARE_PC = {"disgust": {"accuracy": 0.1, "n": 21}, "fear": {"accuracy": 0.2, "n": 98},
           "contempt": {"accuracy": 0.0, "n": 30}}


def _majority(acc: float, mca: float = 0.6, recall: dict | None = None) -> dict:
    return {"majority": {"n": 3137, "accuracy": acc, "mean_class_accuracy": mca,
                         "per_degradation": {"none": {"per_class_recall": recall or {}}}}}


def _evals(acc: dict[str, float], mca: float = 0.6, recall: dict | None = None) -> dict:
    ev = {}
    for proto in ("private", "public+private"):
        for cond, a in acc.items():
            ev[(proto, cond)] = {"accuracy": a - 0.03, "n": 3573, "per_class": RARE_PC,
                                 "protocols": _majority(a, mca, recall)}
    return ev


def test_distance_to_the_paper_uses_the_numbers():
    text = "\n".join(_paper_gap(_evals({"clean": 0.85, "udc-toled": 0.81, "udc-poled": 0.79}),
                                {"epochs": 16, "teacher_meta": {"global_step": 435}}, 100, 2800))
    assert "28x smaller" in text and "stage 1: 435 steps, stage 2: 16 epochs" in text
    assert "149 of 3573" in text and "fear 0.20" in text
    assert "0.8200 clean" in text                    # the paper protocol's all-rows figure (0.85 - 0.03)


def test_missed_bars_are_named_with_their_gaps():
    ev = _evals({"clean": 0.88, "udc-toled": 0.86, "udc-poled": 0.84, "lowlight": 0.70,
                 "udc-unseen": 0.80, "lowlight-unseen": 0.69},
                mca=0.65, recall={"disgust": 0.5, "fear": 0.3, "contempt": 0.45})
    cal = {"conditions": {"none": {"ece_after": 0.02}, "udc-toled": {"ece_after": 0.09},
                          "udc-poled": {"ece_after": 0.04}, "lowlight": {"ece_after": 0.01}}}
    text = "\n".join(bar_verdict(ev, cal))
    assert "majority clean 0.880 (meets >= 0.87)" in text
    assert "majority udc-poled 0.840 (misses >= 0.85, 0.010 away)" in text
    assert "majority lowlight 0.700 (misses >= 0.85, 0.150 away)" in text
    assert "mean class accuracy (clean) 0.650 (misses >= 0.70" in text
    assert "disgust recall (clean) 0.500 (meets" in text and "fear recall (clean) 0.300 (misses" in text
    assert "udc-unseen drop vs udc-toled/udc-poled 0.050 (misses <= 0.03" in text
    assert "lowlight-unseen drop vs lowlight 0.010 (meets <= 0.03)" in text
    assert "ECE udc-poled 0.040 (misses" in text and "ECE none 0.020 (meets" in text
    assert "ECE udc-toled" not in text               # not a bar
    assert "7 of 13 met" in text


def test_all_bars_met_is_reported():
    ev = _evals({**{k: b + 0.01 for k, b in BARS.items()}, "udc-unseen": 0.86, "lowlight-unseen": 0.86},
                mca=0.75, recall={"disgust": 0.5, "fear": 0.5, "contempt": 0.5})
    text = "\n".join(bar_verdict(ev, None))
    assert "10 of 10 met" in text and "misses" not in text


def _int8_entry(fp32_acc: float, acc: float, simulated: bool = False) -> dict:
    """An int8 entry as lrdif-export writes it: its sets and the `bars` derived from them."""
    from lrdif.export.report import bars

    sets = {"clean": {"n": 500, "accuracy": acc, "torch_fp32_accuracy": fp32_acc},
            "udc": {"n": 500, "accuracy": fp32_acc, "torch_fp32_accuracy": fp32_acc}}
    e = {"variant": "int8", "status": "ok"}
    e.update({"simulated": {"sets": sets}} if simulated else {"sets": sets})
    return e | {"bars": bars(e)}


def test_int8_bars_come_from_the_export_reports():
    entries = {"onnx-int8": _int8_entry(78.2, 77.0), "coreml-int8": _int8_entry(78.2, 78.0, simulated=True),
               "onnx-fp32": {"variant": "fp32", "status": "ok", "sets": {}},
               "tflite-int8": {"variant": "int8", "status": "failed", "error": "x"}}
    text = "\n".join(bar_verdict({}, None, entries))
    assert "onnx-int8 clean (measured) accuracy drop in points 1.200 (misses <= 0.50, 0.700 away)" in text
    assert "onnx-int8 udc (measured) accuracy drop in points 0.000 (meets" in text
    assert "coreml-int8 clean (simulated in torch) accuracy drop in points 0.200 (meets" in text
    assert "tflite" not in text and "onnx-fp32" not in text
    assert "3 of 4 met" in text


def _card_cli(tmp_path, flag: str, bad_text: str) -> tuple[int, Path]:
    """Run the model-card CLI with one bad input file given to `flag`: (exit status, that file)."""
    from lrdif.training.model_card import main
    from lrdif.training.weights import default_checkpoint_path

    cmds = tmp_path / "commands.txt"
    cmds.write_text("lrdif-train ...\n")
    bad = tmp_path / "bad.json"
    bad.write_text(bad_text)
    rc = main(["--checkpoint", str(default_checkpoint_path()), "--evals", str(tmp_path), "--commands", str(cmds),
               "--out", str(tmp_path / "card.md"), flag, str(bad)])
    return rc, bad


def test_cli_names_a_file_that_is_not_an_export_report(tmp_path, capsys):
    rc, bad = _card_cli(tmp_path, "--export-report", "{}")
    assert rc == 2 and f"not an lrdif-export report.json: {bad}" in capsys.readouterr().err
    assert not (tmp_path / "card.md").exists()


def _bench_row(model: str, condition: str, majority_acc: float) -> dict:
    """An accuracy row as `python -m benchmarks` writes it into results.json (the fields the card reads)."""
    return {"model": model, "condition": condition, "condition_name": {"none": "clean"}.get(condition, condition),
            "majority": {"acc8": majority_acc}}


def test_int8_bars_from_the_benchmark_full_sets():
    bench = {"accuracy": {"rows": [_bench_row("torch (checkpoint)", "none", 0.8081),
                                   _bench_row("torch (checkpoint)", "udc-poled", 0.7667),
                                   _bench_row("lrdif-mobile-fp32.onnx", "none", 0.8081),
                                   _bench_row("lrdif-mobile-int8.onnx", "none", 0.8084),
                                   _bench_row("lrdif-mobile-int8.onnx", "udc-poled", 0.7600)]}}
    text = "\n".join(bar_verdict({}, None, None, bench))
    assert "lrdif-mobile-int8.onnx clean (full PrivateTest, python -m benchmarks) accuracy drop in points -0.030 (meets" in text
    assert "lrdif-mobile-int8.onnx udc-poled (full PrivateTest, python -m benchmarks) accuracy drop in points 0.670 " \
           "(misses <= 0.50, 0.170 away)" in text
    assert "fp32" not in text and "1 of 2 met" in text


def test_cli_names_a_file_that_is_not_a_benchmark_result(tmp_path, capsys):
    rc, bad = _card_cli(tmp_path, "--benchmark", '{"accuracy": {"rows": [{"model": "x"}]}}')
    assert rc == 2 and f"not a benchmarks results.json with accuracy rows: {bad}" in capsys.readouterr().err
    assert not (tmp_path / "card.md").exists()


def test_card_states_the_face_trunks_upstream_licence():
    from lrdif.training.model import get_config
    from lrdif.training.model_card import _upstream_rows

    assert _upstream_rows(get_config("mobile")) == []
    (row,) = _upstream_rows(get_config("mobile", face_trunk_size=128))
    assert "Apache-2.0" in row and "face_landmark.tflite" in row and "128 px" in row


def test_fork_row_states_the_training_views_and_loss_of_the_report():
    from lrdif.training.model_card import _fork_row

    report = {"data": {"n_train": 10}, "epochs": 8, "lr": 0.001, "seed": 0, "selected_epoch": 7, "weight": 0.75,
              "public_ensemble_mean": 0.85}
    (old,) = _fork_row({"fork": report})
    assert "one udc-toled / udc-poled / lowlight copy each" in old and "logit-adjusted" not in old
    (new,) = _fork_row({"fork": {**report, "train_kinds": ["udc-random", "lowlight"], "logit_adjust": 1.0}})
    assert "one udc-random / lowlight copy each" in new and "logit-adjusted loss (tau 1)" in new
    assert _fork_row({}) == []
