"""Property tests (hypothesis): frame checking/conversion, metadata parsing of hostile bytes, the
crop affine on degenerate landmarks. Each property says what must hold for *every* input: a
correct result or the documented exception (TypeError / ValueError / MetadataError), never
another exception. Fast: no model runs here."""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np
import pytest

# hypothesis keeps caches in ./.hypothesis unless told otherwise: keep the checkout clean
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "lrdif-hypothesis"))
hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the [dev] extra")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from lrdif.sdk.artifact_metadata import METADATA_KEY, TFLITE_METADATA_MEMBER, read_metadata  # noqa: E402
from lrdif.sdk.face.crop import crop_landmarks, emotion_crop_affine  # noqa: E402
from lrdif.sdk.image import to_rgb_uint8  # noqa: E402
from lrdif.sdk.metadata import CropSpec, MetadataError, ModelMetadata  # noqa: E402

FAST = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
dims = st.integers(1, 9)


# ----------------------------------------------------------------------------- frames
@st.composite
def uint8_frames(draw):
    """uint8 frames of every accepted layout, possibly non-contiguous views."""
    h, w = draw(dims), draw(dims)
    layout = draw(st.sampled_from(["hw", "hw1", "hw3", "hw4"]))
    shape = {"hw": (h, w), "hw1": (h, w, 1), "hw3": (h, w, 3), "hw4": (h, w, 4)}[layout]
    view = draw(st.sampled_from(["plain", "transposed", "strided", "fortran"]))
    if view == "transposed":                      # build (w, h, ...) then swap the first two axes
        base = draw(hnp.arrays(np.uint8, (shape[1], shape[0], *shape[2:])))
        return np.swapaxes(base, 0, 1)
    if view == "strided":
        base = draw(hnp.arrays(np.uint8, (2 * shape[0], 2 * shape[1], *shape[2:])))
        return base[::2, ::2]
    a = draw(hnp.arrays(np.uint8, shape))
    return np.asfortranarray(a) if view == "fortran" else a


@FAST
@given(frame=uint8_frames(), bgr=st.booleans())
def test_to_rgb_uint8_any_accepted_layout(frame, bgr):
    before = frame.copy()
    out = to_rgb_uint8(frame, bgr=bgr)
    h, w = frame.shape[:2]
    assert out.shape == (h, w, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(frame, before)                  # input untouched
    g = frame.reshape(h, w, -1)
    if g.shape[2] == 1:
        expect = np.repeat(g, 3, axis=2)
    else:
        expect = g[:, :, 2::-1] if bgr else g[:, :, :3]
    np.testing.assert_array_equal(out, expect)


@FAST
@given(dtype=st.sampled_from([np.float32, np.float64, np.uint16, np.int8, np.int32, np.int64, np.bool_,
                              np.complex64]),
       h=dims, w=dims, fill=st.floats(allow_nan=True, allow_infinity=True, width=32))
def test_to_rgb_uint8_rejects_other_dtypes(dtype, h, w, fill):
    if np.dtype(dtype).kind in "fc":
        a = np.full((h, w, 3), fill, dtype=dtype)
    else:
        a = np.zeros((h, w, 3), dtype=dtype)
    with pytest.raises((TypeError, ValueError)) as e:
        to_rgb_uint8(a)
    assert "uint8" in str(e.value)


@FAST
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=5))
def test_to_rgb_uint8_bad_shapes(shape):
    a = np.zeros(shape, np.uint8)
    ok = (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))) and a.size > 0
    if ok:
        assert to_rgb_uint8(a).shape == (*a.shape[:2], 3)
    else:
        with pytest.raises(ValueError):
            to_rgb_uint8(a)


def test_to_rgb_uint8_non_arrays():
    for bad in (None, "frame", 3, [[1, 2]], object()):
        with pytest.raises((TypeError, ValueError)):
            to_rgb_uint8(bad)


# ----------------------------------------------------------------------------- metadata parsing
def _valid_metadata_json() -> str:
    return ModelMetadata(model_name="m", target="tflite").to_json()


def _tflite_with(member: bytes, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.writestr(TFLITE_METADATA_MEMBER, member)
    return b"\x1c\x00\x00\x00TFL3" + bytes(24) + buf.getvalue()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=12),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=8)


def _expect_metadata_error(data, fmt=None):
    try:
        md = read_metadata(data, format=fmt) if fmt else read_metadata(data)
    except MetadataError:
        return None
    assert isinstance(md, ModelMetadata)
    return md


@FAST
@given(member=st.binary(max_size=300))
def test_tflite_random_member_bytes(member):
    _expect_metadata_error(_tflite_with(member))


@FAST
@given(doc=json_values)
def test_tflite_random_json_documents(doc):
    _expect_metadata_error(_tflite_with(json.dumps({METADATA_KEY: doc}).encode()))


@FAST
@given(field=st.sampled_from(sorted(json.loads(_valid_metadata_json()))), value=json_values)
def test_tflite_metadata_with_one_field_replaced(field, value):
    d = json.loads(_valid_metadata_json())
    d[field] = value
    _expect_metadata_error(_tflite_with(json.dumps({METADATA_KEY: d}).encode()))


@FAST
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=6),
       compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_tflite_corrupted_zip_structure(flips, compression):
    data = bytearray(_tflite_with(json.dumps({METADATA_KEY: json.loads(_valid_metadata_json())}).encode(),
                                  compression))
    for pos, x in flips:
        data[8 + pos % (len(data) - 8)] ^= x                        # keep the TFL3 header
    _expect_metadata_error(bytes(data))


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_bytes(field: int, payload: bytes) -> bytes:
    return _pb_varint(field << 3 | 2) + _pb_varint(len(payload)) + payload


def _onnx_with_props(value: bytes) -> bytes:
    """A minimal ModelProto: graph (field 7, empty) + metadata_props (field 14) {key, value}."""
    entry = _pb_bytes(1, METADATA_KEY.encode()) + _pb_bytes(2, value)
    return _pb_bytes(7, b"") + _pb_bytes(14, entry)


@FAST
@given(value=st.binary(max_size=200))
def test_onnx_random_metadata_props_value(value):
    _expect_metadata_error(_onnx_with_props(value), "onnx")


@FAST
@given(data=st.binary(max_size=300))
def test_onnx_random_bytes(data):
    _expect_metadata_error(data, "onnx")


@FAST
@given(cut=st.integers(0, 400))
def test_onnx_truncated(cut):
    full = _onnx_with_props(ModelMetadata(model_name="m", target="onnx").to_json().encode())
    md = _expect_metadata_error(full[:cut], "onnx")
    assert md is None or cut >= len(full)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sidecar=st.binary(max_size=200) | json_values.map(lambda d: json.dumps({METADATA_KEY: d}).encode()))
def test_pte_random_sidecar(sidecar, tmp_path):
    pte = tmp_path / "m.pte"
    pte.write_bytes(b"\x00\x00\x00\x00ET12" + bytes(32))
    (tmp_path / "m.pte.json").write_bytes(sidecar)
    _expect_metadata_error(pte)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.binary(max_size=300))
def test_coreml_random_spec(spec, tmp_path):
    p = tmp_path / "m.mlmodel"
    p.write_bytes(spec)
    _expect_metadata_error(p)


# ----------------------------------------------------------------------------- crop affine
coords = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@st.composite
def degenerate_landmarks(draw):
    kind = draw(st.sampled_from(["random", "one_point", "line", "eyes_coincide", "tiny", "few_values"]))
    if kind == "random":
        return draw(hnp.arrays(np.float64, (468, 2), elements=coords))
    if kind == "one_point":
        return np.tile([draw(coords), draw(coords)], (468, 1))
    if kind == "line":                                             # all points on one line
        t = draw(hnp.arrays(np.float64, 468, elements=st.floats(-100, 100)))
        return np.stack([t * draw(st.floats(-2, 2)), t * draw(st.floats(-2, 2))], 1)
    if kind == "eyes_coincide":
        p = draw(hnp.arrays(np.float64, (468, 2), elements=st.floats(0, 500)))
        p[263] = p[33]
        return p
    if kind == "tiny":                                             # a face of ~1e-6 px
        return draw(hnp.arrays(np.float64, (468, 2), elements=st.floats(0, 1e-6)))
    vals = draw(st.lists(coords, min_size=1, max_size=3))
    return np.array(vals)[draw(hnp.arrays(np.int64, (468, 2), elements=st.integers(0, len(vals) - 1)))]


@FAST
@given(lm=degenerate_landmarks(), size=st.integers(8, 128), scale=st.floats(0.5, 3.0),
       shift=st.floats(-0.3, 0.3))
def test_crop_affine_degenerate_landmarks(lm, size, scale, shift):
    spec = CropSpec(size=size, scale=scale, shift_y=shift)
    try:
        a = emotion_crop_affine(lm, spec)
    except ValueError as e:
        assert "degenerate" in str(e)
        return
    assert a.shape == (2, 3) and np.all(np.isfinite(a))
    u = crop_landmarks(lm, a, size)
    assert np.all(np.isfinite(u))
    # every landmark inside the crop when |shift| <= 0.5 - 0.5 / scale (the rule's guarantee)
    if abs(shift) <= 0.5 - 0.5 / scale - 1e-6:
        assert u.min() >= -1e-3 and u.max() <= 1 + 1e-3


@FAST
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), i=st.integers(0, 467))
def test_crop_affine_rejects_non_finite(bad, i):
    lm = np.random.default_rng(0).uniform(0, 100, (468, 2))
    lm[i, i % 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        emotion_crop_affine(lm)
