"""The calibration temperature travels inside the artifact: the SDK reads it from the file and
applies softmax(logits / T), which changes confidences and never labels."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("onnx")


def test_temperature_in_metadata_changes_confidence_not_label(tmp_path):
    from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
    from lrdif.sdk.artifact_metadata import embed_metadata, read_metadata
    from lrdif.sdk.assets import sample_image
    from lrdif.sdk.models import default_model_path

    src = default_model_path()
    hot = tmp_path / f"calibrated{src.suffix}"          # the shipped default, whatever its format
    shutil.copy(src, hot)
    hot_t = 10.0 * read_metadata(src).temperature       # far from the shipped T: a visible change
    embed_metadata(hot, read_metadata(src).replace(temperature=hot_t))
    assert read_metadata(hot).temperature == hot_t
    frame = sample_image()
    with EmotionRecognizer(EmotionRecognizerOptions(model_path=src)) as a, \
            EmotionRecognizer(EmotionRecognizerOptions(model_path=hot)) as b:
        ra, rb = a.predict(frame)[0], b.predict(frame)[0]
        _, logits = a._backend.run(np.stack([a._frontend.process(frame)[0].crop]),
                                   np.stack([a._frontend.process(frame)[0].crop_landmarks]))
    assert ra.label == rb.label
    assert rb.confidence < ra.confidence - 0.01
    z = logits[0].astype(np.float64) / hot_t
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(list(rb.probabilities.values()), want, atol=1e-5)


def test_bad_temperature_is_refused():
    from lrdif.sdk.metadata import MetadataError, ModelMetadata

    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(MetadataError, match="temperature"):
            ModelMetadata(temperature=bad)
