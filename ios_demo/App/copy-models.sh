#!/usr/bin/env bash
# Put the models the app bundles into App/Models (ignored by git):
#   face_detection_short_range.tflite, face_detection_full_range_sparse.tflite, face_landmark.tflite
#                                                            <- the lrdif cache (fetched if missing)
#   lrdif-mobile-fp32.mlpackage, lrdif-mobile-int8.mlpackage <- `lrdif-export --target coreml [--int8]`
# Usage: ios_demo/App/copy-models.sh [EXPORT_DIR]   (EXPORT_DIR holds the .mlpackage files)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${LRDIF_PYTHON:-$REPO/.venv/bin/python}"
OUT="$HERE/Models"
mkdir -p "$OUT"
"$PY" - "$OUT" <<'PYEOF'
import shutil, sys
from lrdif.sdk.assets import face_model_paths
for key, path in face_model_paths(download=True, keys=("detector", "detector_full", "landmarker")).items():
    shutil.copyfile(path, f"{sys.argv[1]}/{path.name}")
    print(f"{key}: {path.name}")
PYEOF
EXPORT="${1:-$REPO/lrdif_export}"
found=0
for p in "$EXPORT"/*.mlpackage; do
    [ -d "$p" ] || continue
    rm -rf "$OUT/$(basename "$p")"
    cp -R "$p" "$OUT/"
    echo "emotion model: $(basename "$p")"
    found=1
done
[ "$found" = 1 ] || echo "no .mlpackage in $EXPORT: run lrdif-export --target coreml (and --int8) --out $EXPORT" >&2
