#!/usr/bin/env bash
# Put the three models the app needs into app/src/main/assets (they are git-ignored, never committed):
#   - the MediaPipe face models (Apache-2.0) from the lrdif-setup cache, sha256-checked by the SDK
#     (short-range detector, landmarker, and the optional full-range detector);
#   - the lrdif emotion model(s) exported by `lrdif-export --target tflite` (metadata embedded).
# Usage (from the repo root, after `make face-models`):
#   lrdif-export --target tflite --out lrdif_export            # -> lrdif_export/lrdif-mobile-fp32.tflite
#   lrdif-export --target tflite --int8 --out lrdif_export     # -> lrdif_export/lrdif-mobile-int8.tflite (optional)
#   bash android_demo/copy-models.sh [EXPORT_DIR]              # default EXPORT_DIR: ./lrdif_export
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PY="${LRDIF_PYTHON:-$REPO/.venv/bin/python}"
EXPORT_DIR="${1:-$REPO/lrdif_export}"
ASSETS="$HERE/app/src/main/assets"
mkdir -p "$ASSETS"

"$PY" - "$ASSETS" <<'PYEOF'
import shutil, sys
from pathlib import Path
from lrdif.sdk.assets import face_model_paths
try:    # the full-range detector is optional in the app (without it: short range only)
    paths = face_model_paths(download=False, keys=("detector", "detector_full", "landmarker"))
except Exception as e:
    print(f"full-range detector not copied ({e}); run lrdif-setup to get it", file=sys.stderr)
    paths = face_model_paths(download=False)
for key, path in paths.items():
    shutil.copyfile(path, Path(sys.argv[1]) / Path(path).name)
    print(f"{key:10s} {path} -> assets/{Path(path).name}")
PYEOF

shopt -s nullglob
models=("$EXPORT_DIR"/lrdif-*.tflite)
[ ${#models[@]} -gt 0 ] || { echo "no lrdif-*.tflite in $EXPORT_DIR: run lrdif-export --target tflite --out $EXPORT_DIR" >&2; exit 1; }
for m in "${models[@]}"; do
    # refuse an artifact without lrdif metadata: the app configures itself from it
    "$PY" -c "import sys; from lrdif.sdk.artifact_metadata import read_metadata; m = read_metadata(sys.argv[1]); print(f'emotion    {sys.argv[1]} ({m.model_name} {m.model_version}, {m.quantisation}, batch {m.batch}) -> assets/')" "$m"
    cp "$m" "$ASSETS/"
done
