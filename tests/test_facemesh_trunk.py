"""FaceMesh trunk converter: the torch module with converted weights reproduces LiteRT's own
intermediate tensors of face_landmark.tflite on a real face crop; bad weight files are refused."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from lrdif.training.facemesh_weights import FaceMeshWeightsError, load_facemesh_state_dict, pretrained_facemesh_trunk
from lrdif.training.model.facemesh import FaceMeshTrunk, FaceMeshTrunkConfig


@pytest.fixture(scope="module")
def litert_reference():
    """A real face crop (the sample photo through the SDK front-end's FaceMesh ROI) and every tensor
    LiteRT computes for it, delegates off so intermediates are kept."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from lrdif.sdk.assets import face_model_paths, sample_image
    from lrdif.sdk.face import FaceFrontEnd
    from lrdif.sdk.face.landmarker import roi_from_detection

    fe = FaceFrontEnd()
    rgb = sample_image()
    det = fe.detector.detect(rgb)[0]
    crop, _ = fe.landmarker.crop(rgb, roi_from_detection(det.box, det.keypoints, rgb.shape[:2]))
    x = crop.astype(np.float32) / 255.0
    it = Interpreter(model_path=str(face_model_paths(download=False)["landmarker"]),
                     experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x[None])
    it.invoke()
    tensors = {d["name"]: it.get_tensor(d["index"]).copy() for d in it.get_tensor_details()}
    return torch.from_numpy(x).permute(2, 0, 1)[None], tensors


def test_converted_trunk_reproduces_litert_intermediates(litert_reference):
    x, ref = litert_reference
    model = pretrained_facemesh_trunk(FaceMeshTrunkConfig(landmark_head=True)).eval()
    with torch.no_grad():
        stages = model.forward_stages(x)
        landmarks = model.forward_landmarks(x)[0].numpy()
        features = model.forward_features(x)
    assert len(stages) == 15
    for i, s in enumerate(stages):
        want = ref[f"p_re_lu_{i + 1}"][0]
        got = s[0].permute(1, 2, 0).numpy()
        assert got.shape == want.shape, f"p_re_lu_{i + 1}"
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1.0)
        assert err < 1e-5, f"p_re_lu_{i + 1}: relative error {err:.2e}"
    np.testing.assert_allclose(landmarks.ravel(), ref["conv2d_21"].ravel(), atol=1e-3)   # crop px
    assert features.shape == (1, 128, 6, 6)
    # a real face: the landmarks land inside the 192-px crop
    assert 0 < landmarks[:, 0].min() and landmarks[:, 0].max() < 192


def test_random_weights_do_not_reproduce_litert(litert_reference):
    x, ref = litert_reference
    torch.manual_seed(0)
    with torch.no_grad():
        got = FaceMeshTrunk().eval().forward_stages(x)[-1][0].permute(1, 2, 0).numpy()
    assert np.abs(got - ref["p_re_lu_15"][0]).max() > 1.0


def test_smaller_input_sizes_run_with_the_same_weights():
    cfg = FaceMeshTrunkConfig(input_size=96)
    model = FaceMeshTrunk(cfg)
    model.load_state_dict(load_facemesh_state_dict(cfg))
    with torch.no_grad():
        assert model.forward_features(torch.rand(2, 3, 96, 96)).shape == (2, 128, 3, 3)
        assert model(torch.rand(2, 3, 96, 96)).shape == (2, 128)
    with pytest.raises(RuntimeError, match="without the landmark head"):
        model.forward_landmarks(torch.rand(1, 3, 96, 96))
    with pytest.raises(ValueError, match="multiple of 32"):
        FaceMeshTrunkConfig(input_size=100)


def test_bad_weight_files_are_refused_naming_the_file(tmp_path):
    from lrdif.sdk.assets import face_model_paths

    paths = face_model_paths(download=False)
    missing = tmp_path / "face_landmark.tflite"
    with pytest.raises(FaceMeshWeightsError, match="not found: .*face_landmark.tflite"):
        load_facemesh_state_dict(path=missing)
    tampered = tmp_path / "tampered.tflite"
    data = bytearray(paths["landmarker"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(FaceMeshWeightsError, match="tampered.tflite: sha256"):
        load_facemesh_state_dict(path=tampered)
    other = tmp_path / "detector.tflite"
    shutil.copy(paths["detector"], other)              # a real model, but not FaceMesh
    with pytest.raises(FaceMeshWeightsError, match="detector.tflite: sha256 .* not MediaPipe's face_landmark"):
        load_facemesh_state_dict(path=other)
