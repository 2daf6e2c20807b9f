"""Golden fixtures: MediaPipe 0.10.21 itself (mp.solutions) on real photos available offline.

Runs in a SEPARATE numpy<2 environment (mediapipe 0.10.21 cannot join the main one):

    python3 -m venv /tmp/mp_env
    /tmp/mp_env/bin/pip install mediapipe==0.10.21 "numpy<2" scikit-image
    /tmp/mp_env/bin/python tests/golden/make_mediapipe_golden.py [--ferplus-tiny PATH]

Frames (RGB uint8):
- astronaut:       skimage.data.astronaut() (512x512, one face);
- astronaut_wide:  the astronaut's head (200x200 cut) pasted into a 480x240 grey (110) frame (letterbox, wide);
- astronaut_tall:  the same cut pasted into a 240x480 grey frame (letterbox, tall);
- ferplus_multi3 / ferplus_multi4: real FERPlus faces (from the tiny 64-image FERPlus npz)
  upscaled (bicubic) and pasted into larger grey frames -> several faces;
- blank:           a flat grey 480x640 frame (no face);
- astronaut_far:   the whole astronaut photo pasted into a 1024x1024 grey frame (face ~95 px, 9% of the
  long side: short range finds nothing, issue #16);
- astronaut_far_wide: the whole astronaut photo pasted into a 1920x1080 grey frame (face 5% of the
  long side, 16:9);
- astronaut_portrait: the whole photo pasted into a 720x1280 (9:16) grey frame.
Frames that are not exact pastes of shipped data (the upscaled FERPlus faces) are stored as PNG
in tests/golden/frames/ so the tests do not depend on OpenCV's resize being bit-identical across
versions; the others are rebuilt by `build_frame()` (pure numpy), shared with the tests.

Outputs, in tests/golden/:
- mediapipe_0.10.21.npz: for frame F, arrays F/det_score (D,), F/det_box (D, 4) x, y, w, h px,
  F/det_keypoints (D, 6, 2) px, F/mesh (M, 468, 3) px (x, y = normalised * frame size,
  z = normalised z * frame width); F/full_det_score, F/full_det_box, F/full_det_keypoints: the same
  from the full-range detector (FaceDetection(model_selection=1));
- mediapipe_0.10.21.json: manifest (frames, shapes, counts, versions, settings).
Settings: FaceDetection(model_selection=0 and 1, min_detection_confidence=0.5);
FaceMesh(static_image_mode=True, refine_landmarks=False, max_num_faces=10,
min_detection_confidence=0.5).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FRAMES_DIR = HERE / "frames"
GREY = 110

# name -> (canvas h, w, [(tiny index, face side px, x, y), ...])
MULTI = {
    "ferplus_multi3": (400, 640, [(0, 150, 40, 120), (5, 150, 250, 110), (9, 150, 455, 130)]),
    "ferplus_multi4": (480, 720, [(1, 160, 40, 30), (10, 160, 510, 40), (14, 160, 60, 290), (35, 160, 480, 290)]),
}

# name -> (canvas h, w, paste x, y, decimation step) of the whole astronaut photo (exact pastes)
FAR = {
    "astronaut_far": (1024, 1024, 256, 256, 1),
    "astronaut_far_wide": (1080, 1920, 900, 400, 1),
    "astronaut_portrait": (1280, 720, 100, 600, 1),
}
BUILT = ("astronaut", "astronaut_wide", "astronaut_tall", "blank", *FAR)


def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def build_frame(name: str) -> np.ndarray:
    """The frames that are exact pastes / constants (no resampling); same result in any env."""
    if name == "astronaut":
        return astronaut()
    if name == "astronaut_wide":
        f = np.full((240, 480, 3), GREY, np.uint8)
        f[20:220, 250:450] = astronaut()[30:230, 125:325]
        return f
    if name == "astronaut_tall":
        f = np.full((480, 240, 3), GREY, np.uint8)
        f[260:460, 20:220] = astronaut()[30:230, 125:325]
        return f
    if name == "blank":
        return np.full((480, 640, 3), GREY, np.uint8)
    if name in FAR:
        h, w, x, y, step = FAR[name]
        img = astronaut()[::step, ::step]
        f = np.full((h, w, 3), GREY, np.uint8)
        f[y:y + img.shape[0], x:x + img.shape[1]] = img
        return f
    raise KeyError(name)


def make_multi(name: str, tiny_images: np.ndarray) -> np.ndarray:
    import cv2

    h, w, faces = MULTI[name]
    f = np.full((h, w, 3), GREY, np.uint8)
    for idx, side, x, y in faces:
        g = cv2.resize(tiny_images[idx], (side, side), interpolation=cv2.INTER_CUBIC)
        f[y:y + side, x:x + side] = g[..., None]
    return f


def run_detector(frame: np.ndarray, model_selection: int, prefix: str) -> dict[str, np.ndarray]:
    import mediapipe as mp

    h, w = frame.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=model_selection,
                                                   min_detection_confidence=0.5) as fd:
        r = fd.process(frame)
    scores, boxes, kps = [], [], []
    for d in r.detections or []:
        b = d.location_data.relative_bounding_box
        scores.append(d.score[0])
        boxes.append([b.xmin * w, b.ymin * h, b.width * w, b.height * h])
        kps.append([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
    return {f"{prefix}det_score": np.array(scores, np.float32).reshape(-1),
            f"{prefix}det_box": np.array(boxes, np.float32).reshape(-1, 4),
            f"{prefix}det_keypoints": np.array(kps, np.float32).reshape(-1, 6, 2)}


def run_mediapipe(frame: np.ndarray) -> dict[str, np.ndarray]:
    import mediapipe as mp

    h, w = frame.shape[:2]
    out = {**run_detector(frame, 0, ""), **run_detector(frame, 1, "full_")}
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=False, max_num_faces=10,
                                         min_detection_confidence=0.5) as fm:
        r = fm.process(frame)
    meshes = [[[p.x * w, p.y * h, p.z * w] for p in lm.landmark] for lm in (r.multi_face_landmarks or [])]
    out["mesh"] = np.array(meshes, np.float32).reshape(-1, 468, 3)
    return out


def main() -> None:
    import cv2
    import mediapipe as mp

    default_tiny = Path(os.environ.get("LRDIF_SHARED_DATA", HERE.parents[2] / "shared" / "data")) \
        / "ferplus" / "ferplus_tiny64_48x48_uint8.npz"
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferplus-tiny", default=str(default_tiny))
    args = ap.parse_args()
    tiny = np.load(args.ferplus_tiny)["images"]
    FRAMES_DIR.mkdir(parents=True, exist_ok=True)
    frames = {n: build_frame(n) for n in BUILT}
    for n in MULTI:
        frames[n] = make_multi(n, tiny)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(frames[n], cv2.COLOR_RGB2BGR))
        assert ok
        tmp = FRAMES_DIR / f".{n}.png.tmp"
        tmp.write_bytes(buf.tobytes())
        os.replace(tmp, FRAMES_DIR / f"{n}.png")
    arrays, manifest = {}, {
        "mediapipe": mp.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
        "settings": {"face_detection": {"model_selection": 0, "min_detection_confidence": 0.5},
                     "face_detection_full": {"model_selection": 1, "min_detection_confidence": 0.5},
                     "face_mesh": {"static_image_mode": True, "refine_landmarks": False, "max_num_faces": 10}},
        "coordinates": "pixels = normalised * frame size; mesh z = normalised z * frame width",
        "multi_recipes": {k: {"hw": [v[0], v[1]], "faces": [list(f) for f in v[2]]} for k, v in MULTI.items()},
        "frames": {},
    }
    for n, f in frames.items():
        res = run_mediapipe(f)
        for k, v in res.items():
            arrays[f"{n}/{k}"] = v
        manifest["frames"][n] = {"shape": list(f.shape), "stored_png": n in MULTI,
                                 "detections": int(len(res["det_score"])), "meshes": int(len(res["mesh"])),
                                 "scores": [round(float(s), 4) for s in res["det_score"]],
                                 "full_detections": int(len(res["full_det_score"])),
                                 "full_scores": [round(float(s), 4) for s in res["full_det_score"]]}
        print(n, manifest["frames"][n])
    tmp = HERE / ".mediapipe_0.10.21.npz.tmp"
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, HERE / "mediapipe_0.10.21.npz")
    tmp = HERE / ".mediapipe_0.10.21.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, HERE / "mediapipe_0.10.21.json")


if __name__ == "__main__":
    main()
