"""lrdif.export.ship: installs one exported artifact as the SDK default, pinned by sha256, and
removes the previous default of another format."""
from __future__ import annotations

import json
import shutil

import pytest

from lrdif.export import ship
from lrdif.sdk.artifact_metadata import read_metadata
from lrdif.sdk.models import default_model_path


def test_ship_pins_the_artifact_and_replaces_another_format(tmp_path):
    exp, models = tmp_path / "export", tmp_path / "models"
    exp.mkdir()
    models.mkdir()
    src = default_model_path()                                          # the shipped float .tflite
    assert read_metadata(src).quantisation == "none"
    shutil.copy(src, exp / "lrdif-mobile-fp32.tflite")
    (models / "lrdif-mobile.onnx").write_bytes(b"previous default")
    dst = ship.ship(exp, "tflite", models_dir=models)
    m = json.loads((models / "manifest.json").read_text())
    assert dst.name == m["file"] == "lrdif-mobile.tflite" and m["quantisation"] == "none"
    assert m["model_version"] == read_metadata(src).model_version
    assert default_model_path(models / "manifest.json") == dst
    assert not (models / "lrdif-mobile.onnx").exists()


def test_ship_refuses_a_missing_or_ambiguous_artifact(tmp_path):
    with pytest.raises(SystemExit, match="exactly one int8 .tflite"):
        ship.ship(tmp_path, "tflite", int8=True, models_dir=tmp_path)
    for n in ("a.tflite", "b.tflite"):
        shutil.copy(default_model_path(), tmp_path / n)
    with pytest.raises(SystemExit, match=r"exactly one float .tflite .*a.tflite.*b.tflite"):
        ship.ship(tmp_path, "tflite", models_dir=tmp_path)
    with pytest.raises(SystemExit, match="exactly one float .onnx"):
        ship.ship(tmp_path, "onnx", models_dir=tmp_path)
    with pytest.raises(SystemExit, match="--format"):
        ship.ship(tmp_path, "pte", models_dir=tmp_path)
    assert not (tmp_path / "manifest.json").exists()
