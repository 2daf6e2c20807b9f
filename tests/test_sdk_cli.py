"""`lrdif-predict` (lrdif.sdk.cli.main): sample, image and video inputs, JSON/table output,
annotated output and one-line errors with exit status 2."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from lrdif.sdk.cli import main
from test_sdk_support import astronaut, onnx_artifact, require_face_models, shifted


@pytest.fixture(scope="module")
def model() -> str:
    require_face_models()
    return str(onnx_artifact())


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("lrdif-predict: error: ")
    return err[0]


def test_sample_json_and_annotated_image(model, tmp_path, capsys):
    out = tmp_path / "annotated.png"
    assert main(["--sample", "--model", model, "--threads", "1", "--json", "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == "sample:astronaut" and len(doc["faces"]) == 1
    face = doc["faces"][0]
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    img = cv2.imread(str(out))
    assert img.shape == (512, 512, 3)
    assert not np.array_equal(img, cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))   # something drawn


def test_image_file_table(model, tmp_path, capsys):
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    assert main([str(path), "--model", model, "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "neutral" in out and "label" in out and out.count("\n") >= 3
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((64, 64, 3), np.uint8))
    assert main([str(blank), "--model", model, "--threads", "1"]) == 0
    assert "no face found" in capsys.readouterr().out


def test_video_json_and_annotated_video(model, tmp_path, capsys):
    src = tmp_path / "clip.mp4"
    frames = [cv2.cvtColor(shifted(astronaut(), 5 * i), cv2.COLOR_RGB2BGR) for i in range(6)]
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, frames[0].shape[1::-1])
    assert w.isOpened()
    for f in frames:
        w.write(f)
    w.release()
    out = tmp_path / "annotated.mp4"
    assert main([str(src), "--model", model, "--threads", "1", "--json", "--out", str(out)]) == 0
    frames = [json.loads(line) for line in capsys.readouterr().out.splitlines()]   # JSON Lines
    assert [f["frame"] for f in frames] == list(range(6))
    assert [f["timestamp_ms"] for f in frames] == [0, 100, 200, 300, 400, 500]
    assert all(len(f["faces"]) == 1 for f in frames)
    assert len({f["faces"][0]["face_id"] for f in frames}) == 1
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 6
    assert main([str(src), "--model", model, "--threads", "1", "--max-frames", "2"]) == 0
    assert capsys.readouterr().out.count("[frame") == 2


def test_default_detector_tiled_for_images_auto_for_videos(model, tmp_path, capsys):
    """A face of 5% of the frame's long side: the image default (tiled) finds it, auto does not,
    and a video of the same frame keeps auto (no face) unless tiled is asked for."""
    from test_face_tiling import small_face_frame

    frame, _ = small_face_frame(48, 540, 960, (600, 200))
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    path = tmp_path / "far.png"
    cv2.imwrite(str(path), bgr)
    run = lambda *extra: main([*extra, "--model", model, "--threads", "1", "--json"])  # noqa: E731
    assert run(str(path)) == 0
    assert len(json.loads(capsys.readouterr().out)["faces"]) == 1
    assert run(str(path), "--face-detector", "auto") == 0
    assert json.loads(capsys.readouterr().out)["faces"] == []
    src = tmp_path / "far.avi"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, bgr.shape[1::-1])
    for _ in range(2):
        w.write(bgr)
    w.release()
    assert run(str(src)) == 0
    assert [f["faces"] for f in map(json.loads, capsys.readouterr().out.splitlines())] == [[], []]
    assert run(str(src), "--face-detector", "tiled") == 0
    assert all(len(json.loads(line)["faces"]) == 1 for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("argv, message", [
    ([], "give an IMAGE or VIDEO file"),
    (["/nonexistent/photo.png"], "no such file"),
    (["{bad_image}"], "cannot read"),
    (["{bad_video}"], "cannot open"),
    (["--sample", "--model", "/nonexistent/m.onnx"], "emotion model not found: /nonexistent/m.onnx"),
    (["--sample", "--model", "{bad_image}"], "unknown model format"),
    (["--sample", "--out", "/nonexistent/dir/x.png"], "output folder does not exist"),
    (["--sample", "--out", "{tmp}/x.mp4"], "needs an image suffix"),
    (["--sample", "--max-faces", "0"], "max_faces"),
])
def test_bad_input_exits_2_with_one_line(model, tmp_path, capsys, argv, message):
    bad_image = tmp_path / "broken.png"
    bad_image.write_text("not an image")
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_text("not a video")
    argv = [a.format(bad_image=bad_image, bad_video=bad_video, tmp=tmp_path) for a in argv]
    if "--model" not in argv:
        argv += ["--model", model]
    assert main(argv) == 2
    assert message in _err_line(capsys)


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--sample", "--backend", "tensorrt"])
    assert e.value.code == 2
