"""Convert MediaPipe FaceMesh's `face_landmark.tflite` (the sha256-pinned file that `lrdif-setup`
caches) into the state_dict of `lrdif.training.model.facemesh.FaceMeshTrunk`.

The float16 weights are read through LiteRT itself (each weight's DEQUANTIZE output, so the values
are exactly the ones LiteRT computes with) by tensor name: `conv2d_N/Kernel` (out, kh, kw, in) ->
torch (out, in, kh, kw); `depthwise_conv2d_N/Kernel` (1, kh, kw, C) -> (C, 1, kh, kw);
`p_re_lu_N/Alpha` (1, 1, C) -> (C,). Anything else (another model, a tampered file) is refused
with an error naming the file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lrdif.training.model.facemesh import HEAD_BLOCKS, TRUNK_BLOCKS, FaceMeshTrunkConfig


class FaceMeshWeightsError(ValueError):
    """The FaceMesh weight file is missing, has the wrong hash, or is not FaceMesh."""


def facemesh_tflite_path(path: str | Path | None = None) -> Path:
    """The FaceMesh .tflite to convert: `path`, else the `lrdif-setup` cache; sha256-checked."""
    from lrdif.sdk.assets import AssetError, FACE_MODELS, face_model_paths, sha256_file

    asset = FACE_MODELS["landmarker"]
    if path is None:
        try:
            path = face_model_paths(download=False)["landmarker"]
        except AssetError as e:
            raise FaceMeshWeightsError(f"FaceMesh weights not available: {e} (run lrdif-setup)") from None
    p = Path(path)
    if not p.is_file():
        raise FaceMeshWeightsError(f"FaceMesh weight file not found: {p} (run lrdif-setup)")
    digest = sha256_file(p)
    if digest != asset.sha256:
        raise FaceMeshWeightsError(f"{p}: sha256 {digest[:12]}... is not MediaPipe's face_landmark.tflite "
                                   f"({asset.sha256[:12]}...): refusing to convert an unknown model")
    return p


def _weights(path: Path) -> dict[str, np.ndarray]:
    """name -> float32 array of every dequantised (or float) constant of the graph, via LiteRT."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    it.invoke()
    out = {}
    for d in it.get_tensor_details():
        name = d["name"]
        if name.endswith("_dequantize"):
            out[name[: -len("_dequantize")]] = it.get_tensor(d["index"]).astype(np.float32)
    return out


def _conv(w: dict, n: int, prefix: str, depthwise: bool = False) -> dict[str, torch.Tensor]:
    kind = "depthwise_conv2d" if depthwise else "conv2d"
    k = w[f"{kind}_{n}/Kernel"]
    k = k.transpose(3, 0, 1, 2) if depthwise else k.transpose(0, 3, 1, 2)
    return {f"{prefix}.weight": torch.from_numpy(np.ascontiguousarray(k)),
            f"{prefix}.bias": torch.from_numpy(w[f"{kind}_{n}/Bias"].copy())}


def _prelu(w: dict, n: int, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.alpha": torch.from_numpy(w[f"p_re_lu_{n}/Alpha"].reshape(-1).copy())}


def _block(w: dict, dw: int, pw: int, act: int, prefix: str) -> dict[str, torch.Tensor]:
    return {**_conv(w, dw, f"{prefix}.dw", depthwise=True), **_conv(w, pw, f"{prefix}.pw"),
            **_prelu(w, act, f"{prefix}.act")}


def load_facemesh_state_dict(cfg: FaceMeshTrunkConfig = FaceMeshTrunkConfig(),
                             path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """FaceMeshTrunk(cfg).load_state_dict(...)-ready weights converted from face_landmark.tflite."""
    p = facemesh_tflite_path(path)
    w = _weights(p)
    try:
        sd = {**_conv(w, 1, "stem"), **_prelu(w, 1, "stem_act")}
        for i in range(len(TRUNK_BLOCKS)):        # block i: depthwise_conv2d_{i+1}, conv2d_{i+2}, p_re_lu_{i+2}
            sd.update(_block(w, i + 1, i + 2, i + 2, f"blocks.{i}"))
        if cfg.landmark_head:
            n = len(TRUNK_BLOCKS)
            for j in range(len(HEAD_BLOCKS)):
                sd.update(_block(w, n + 1 + j, n + 2 + j, n + 2 + j, f"head_blocks.{j}"))
            m = n + 1 + len(HEAD_BLOCKS)          # conv2d_19 / p_re_lu_19, then block 18/20/20, conv2d_21
            sd.update(_conv(w, m + 1, "head_reduce"))
            sd.update(_prelu(w, m + 1, "head_reduce_act"))
            sd.update(_block(w, m, m + 2, m + 2, "head_block32"))
            sd.update(_conv(w, m + 3, "head_out"))
    except KeyError as e:
        raise FaceMeshWeightsError(f"{p}: tensor {e} missing: not MediaPipe's FaceMesh graph") from None
    return sd


def pretrained_facemesh_trunk(cfg: FaceMeshTrunkConfig = FaceMeshTrunkConfig(), path: str | Path | None = None):
    """A FaceMeshTrunk with MediaPipe's weights."""
    from lrdif.training.model.facemesh import FaceMeshTrunk

    model = FaceMeshTrunk(cfg)
    model.load_state_dict(load_facemesh_state_dict(cfg, path), strict=True)
    return model
