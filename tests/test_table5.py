"""Table 5 over seeds (lrdif.training.table5): mean, spread and verdict from ablation JSONs."""
import json

import pytest

from lrdif.training import table5


def _write(root, seed, kind, protocol, v1, v4):
    """One lrdif-eval --ablation JSON per seed and kind; its rows carry every protocol's accuracy."""
    d = root / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    rows = [{"name": "LRDif_S2-V1", "accuracy": v1, "protocols": {protocol: v1, "other": 0.5}},
            {"name": "LRDif_S2-V4", "accuracy": v4, "protocols": {protocol: v4, "other": 0.5}},
            {"name": "main checkpoint, inference Z_T = N(0,I)", "accuracy": 0.0, "inference_variant": True,
             "protocols": {protocol: 0.0, "other": 0.0}}]
    (d / f"ablation_{kind}.json").write_text(json.dumps({"ablation": rows}))


def test_clear_winner_and_spread(tmp_path):
    _write(tmp_path, 1, "udc-poled", "all", 0.70, 0.74)
    _write(tmp_path, 2, "udc-poled", "all", 0.72, 0.75)
    t = table5.summarise(table5.collect(tmp_path)[("udc-poled", "all")])
    assert t["seeds"] == [1, 2]
    assert t["V4_mean"] == pytest.approx(0.745) and t["V1_mean"] == pytest.approx(0.71)
    assert t["diff_mean"] == pytest.approx(0.035) and t["diff_std"] == pytest.approx(0.00707, abs=1e-4)
    assert t["diffusion_ahead"] == 2 and t["verdict"] == "diffusion (V4) wins"


def test_mixed_seeds_have_no_winner(tmp_path):
    _write(tmp_path, 1, "udc-toled", "majority", 0.70, 0.72)
    _write(tmp_path, 2, "udc-toled", "majority", 0.73, 0.71)
    t = table5.summarise(table5.collect(tmp_path)[("udc-toled", "majority")])
    assert t["diffusion_ahead"] == 1 and t["verdict"] == "no clear winner"


def test_v1_wins_when_ahead_on_every_seed(tmp_path):
    _write(tmp_path, 0, "udc-poled", "all", 0.75, 0.70)
    _write(tmp_path, 3, "udc-poled", "all", 0.76, 0.72)
    assert table5.summarise(table5.collect(tmp_path)[("udc-poled", "all")])["verdict"] == "no diffusion (V1) wins"


def test_cli_writes_json_and_png_and_rejects_empty(tmp_path, capsys):
    _write(tmp_path, 1, "udc-poled", "all", 0.70, 0.74)
    _write(tmp_path, 2, "udc-poled", "all", 0.72, 0.75)
    assert table5.main([str(tmp_path), "--json", str(tmp_path / "t.json")]) == 0
    assert json.loads((tmp_path / "t.json").read_text())["udc-poled [all]"]["verdict"] == "diffusion (V4) wins"
    assert (tmp_path / "table5.png").read_bytes()[:4] == b"\x89PNG"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert table5.main([str(empty)]) == 2
    assert "no seed" in capsys.readouterr().err


def test_missing_row_names_the_file(tmp_path):
    d = tmp_path / "seed1"
    d.mkdir()
    (d / "ablation_udc-poled.json").write_text(json.dumps(
        {"ablation": [{"name": "LRDif_S2-V4", "accuracy": 0.7, "protocols": {"all": 0.7}}]}))
    with pytest.raises(ValueError, match="ablation_udc-poled.json"):
        table5.collect(tmp_path)
