"""lrdif.export.ship: installs one exported artifact as the SDK default, pinned by sha256, and
removes the previous default of another format."""
from __future__ import annotations

import json
import shutil

import pytest

from lrdif.export import ship
from lrdif.sdk.models import default_model_path


def test_ship_pins_the_artifact_and_replaces_another_format(tmp_path):
    exp, models = tmp_path / "export", tmp_path / "models"
    exp.mkdir()
    models.mkdir()
    shutil.copy(default_model_path(), exp / "lrdif-mobile-fp32.onnx")   # a real float artifact
    (models / "lrdif-mobile.tflite").write_bytes(b"previous default")
    dst = ship.ship(exp, "onnx", models_dir=models)
    m = json.loads((models / "manifest.json").read_text())
    assert dst.name == m["file"] == "lrdif-mobile.onnx" and m["quantisation"] == "none"
    assert default_model_path(models / "manifest.json") == dst
    assert not (models / "lrdif-mobile.tflite").exists()


def test_ship_refuses_a_missing_or_ambiguous_artifact(tmp_path):
    with pytest.raises(SystemExit, match="exactly one int8 .onnx"):
        ship.ship(tmp_path, "onnx", int8=True, models_dir=tmp_path)
    for n in ("a.onnx", "b.onnx"):
        shutil.copy(default_model_path(), tmp_path / n)
    with pytest.raises(SystemExit, match=r"exactly one float .onnx .*a.onnx.*b.onnx"):
        ship.ship(tmp_path, "onnx", models_dir=tmp_path)
    with pytest.raises(SystemExit, match="--format"):
        ship.ship(tmp_path, "pte", models_dir=tmp_path)
    assert not (tmp_path / "manifest.json").exists()
