"""Shared helpers of the SDK tests (no tests here): the tiny ONNX test artifact exported once per
session from the `tiny` LRDif preset by lrdif-export's ONNX target (legacy exporter, opset 17) (the LiteRT / ExecuTorch files come
from the session's export matrix, conftest `export_matrix`), the face-model check and synthetic
frames built from real face photos.

Artifacts are built lazily and cached for the whole pytest session in one temporary directory
(functools.cache), so every test module that imports these helpers shares them.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_NPZ = ROOT.parent / "shared" / "data" / "ferplus" / "ferplus_tiny64_48x48_uint8.npz"


@functools.cache
def _workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="lrdif-sdk-tests-"))
    atexit.register(shutil.rmtree, d, True)
    return d


def require_face_models() -> None:
    """The cached MediaPipe face models (filled by `lrdif-setup`; tests never download)."""
    from lrdif.sdk.assets import AssetError, face_model_paths

    try:
        face_model_paths(download=False)
    except AssetError as e:
        pytest.fail(f"face models missing from the cache; run `lrdif-setup` first: {e}")


@functools.cache
def _tiny_model():
    import torch

    from lrdif.training.model import LRDif, LRDifInference, get_config

    torch.manual_seed(0)
    cfg = get_config("tiny")
    return LRDifInference(LRDif(cfg)).eval(), cfg


def tiny_metadata(**changes):
    from lrdif.sdk.metadata import CropSpec, ModelMetadata

    _, cfg = _tiny_model()
    md = ModelMetadata(labels=ModelMetadata().labels[:cfg.num_classes], input_size=cfg.input_size,
                       crop=CropSpec(size=cfg.input_size), diffusion_steps=cfg.diffusion_steps,
                       preset="tiny", model_name="lrdif-tiny-test")
    return md.replace(**changes)


def _sample_args(batch: int):
    import torch

    _, cfg = _tiny_model()
    g = torch.Generator().manual_seed(1)
    s = cfg.input_size
    return (torch.rand(batch, 3, s, s, generator=g) * 2 - 1, torch.rand(batch, 468, 2, generator=g))


# The SDK tests need a real tiny LRDif ONNX file with the shipped IO contract (names, dynamic batch,
# embedded metadata), not the dynamo exporter itself: opset 17 takes lrdif-export's legacy-exporter
# branch (~3 s instead of ~40 s for the dynamo export of this graph). The dynamo (opset 18) files go
# through the SDK backend in test_export.py (the session's export matrix) and the shipped int8 check.
SDK_TEST_ONNX_OPSET = 17


def _export_onnx(name: str) -> Path:
    """Export the tiny model with lrdif-export's ONNX target (`lrdif.export.targets.REGISTRY`): the
    same code, IO names, batch policy and metadata embedding as the shipped artifacts."""
    from lrdif.export.targets import REGISTRY

    t = REGISTRY["onnx"]()
    model, _ = _tiny_model()
    return t.export(model, _sample_args(2), _workdir() / name, False, None, t.metadata_for(tiny_metadata(), False),
                    opset=SDK_TEST_ONNX_OPSET).path


@functools.cache
def onnx_artifact(metadata: bool = True) -> Path:
    """Tiny LRDif as ONNX (dynamic batch, legacy exporter at opset 17), metadata embedded (or stripped)."""
    if metadata:
        return _export_onnx("tiny.onnx")
    path = onnx_artifact()
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    bare = _workdir() / "tiny-nometa.onnx"
    onnx.save(m, str(bare))
    return bare


def onnx_with_metadata(name: str, **changes) -> Path:
    """A copy of the tiny ONNX artifact whose embedded metadata has `changes` (for mismatch tests)."""
    from lrdif.sdk.artifact_metadata import embed_metadata, read_metadata

    path = _workdir() / name
    shutil.copyfile(onnx_artifact(), path)
    embed_metadata(path, read_metadata(onnx_artifact()).replace(**changes))
    return path


def scratch(name: str) -> Path:
    return _workdir() / name


# ---------------------------------------------------------------------------- frames
def astronaut() -> np.ndarray:
    from lrdif.sdk.assets import sample_image

    return sample_image()


def fer_faces_frame(indices=(5, 14, 23), side: int = 192, gap: int = 24) -> tuple[np.ndarray, list]:
    """Real FERPlus faces (48x48 gray, upscaled to `side`) pasted in a row on a grey frame.
    Returns the RGB frame and the (x, y, w, h) tile of each pasted face."""
    import cv2

    images = np.load(TINY_NPZ)["images"]
    w = len(indices) * side + (len(indices) + 1) * gap
    frame = np.full((side + 2 * gap, w), 110, np.uint8)
    tiles = []
    for k, i in enumerate(indices):
        x = gap + k * (side + gap)
        frame[gap:gap + side, x:x + side] = cv2.resize(images[i], (side, side), interpolation=cv2.INTER_CUBIC)
        tiles.append((x, gap, side, side))
    return np.repeat(frame[:, :, None], 3, axis=2), tiles


def shifted(img: np.ndarray, dx: int, dy: int = 0, pad: int = 64) -> np.ndarray:
    """`img` on a larger grey canvas, moved by (dx, dy) pixels (a face moving across the view)."""
    h, w = img.shape[:2]
    canvas = np.full((h + 2 * pad, w + 2 * pad, 3), 90, np.uint8)
    canvas[pad + dy:pad + dy + h, pad + dx:pad + dx + w] = img
    return canvas
