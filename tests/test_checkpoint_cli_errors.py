"""A corrupt or foreign checkpoint gives "not an lrdif checkpoint: PATH" from every CLI that takes
one (exit 2), never torch's unpickler text or a traceback."""
from __future__ import annotations

import pytest
import torch

from lrdif.training import calibration, evaluate, train
from lrdif.export import cli as export_cli


@pytest.fixture(params=["corrupt", "foreign"])
def bad_checkpoint(request, tmp_path):
    p = tmp_path / f"{request.param}.pt"
    if request.param == "corrupt":
        p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)          # zip magic, garbage inside
    else:
        torch.save({"state_dict": {"w": torch.zeros(2)}}, p)           # a real torch file, not ours
    return p


def _clis(p, tmp_path):
    return [
        ("lrdif-eval", lambda: evaluate.main(["--checkpoint", str(p), "--limit", "8"])),
        ("lrdif-export", lambda: export_cli.main(["--checkpoint", str(p), "--target", "onnx", "--out", str(tmp_path / "x")])),
        ("lrdif-train", lambda: train.main(["stage2", "--teacher", str(p), "--out", str(tmp_path / "y"), "--max-steps", "1"])),
        ("calibration", lambda: calibration.main(["--checkpoint", str(p), "--out", str(tmp_path / "z")])),
    ]


def test_every_cli_names_the_bad_checkpoint(bad_checkpoint, tmp_path, capsys):
    for name, run in _clis(bad_checkpoint, tmp_path):
        assert run() == (1 if name == "lrdif-export" else 2), name     # export: 1 = could not export
        err = capsys.readouterr().err
        assert f"not an lrdif checkpoint: {bad_checkpoint}" in err, (name, err)
        assert "Traceback" not in err and "WeightsUnpickler" not in err and "torch.load" not in err, (name, err)
