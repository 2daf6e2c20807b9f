#!/usr/bin/env bash
# Compile and test the Android demo's pure-Kotlin core here, without Gradle or Google Maven:
# Kotlin compiler from npm (pinned by package-lock.json), JUnit 4 from Debian, golden vectors from
# the Python SDK. Run from anywhere (make test runs `bash android_demo/core-test.sh`). The last line
# printed is "N passed, N failed"; the exit status is non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PY="${LRDIF_PYTHON:-$REPO/.venv/bin/python}"
CORE="$HERE/core"
BUILD="$CORE/build/core-test"
GOLDEN="$CORE/src/test/resources/golden"

fail() { echo "core-test: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

# 1. Kotlin compiler (npm kotlin-compiler, the full Kotlin distribution)
KOTLIN="$HERE/node_modules/kotlin-compiler"
want="$(sed -n 's/.*"kotlin-compiler": *"\([^"]*\)".*/\1/p' "$HERE/package.json")"
have="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$KOTLIN/package.json" 2>/dev/null | head -1 || true)"
if [ ! -x "$KOTLIN/bin/kotlinc" ] || [ "$have" != "$want" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci (kotlin-compiler@$want) failed"
fi

# 2. JUnit 4 + Hamcrest from Debian
JUNIT=/usr/share/java/junit4.jar
HAMCREST=/usr/share/java/hamcrest-core.jar
if [ ! -f "$JUNIT" ] || [ ! -f "$HAMCREST" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q --no-install-recommends junit4 libhamcrest-java >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends junit4 libhamcrest-java >/dev/null; } \
        || fail "apt-get install junit4 libhamcrest-java failed"
fi
[ -f "$JUNIT" ] && [ -f "$HAMCREST" ] || fail "JUnit jars not found ($JUNIT, $HAMCREST)"

# 3. Test data: golden frames (not committed), a .tflite with lrdif metadata and a small ONNX model
#    carrying the shipped model's metadata (onnx_model of ios_demo/tools/make_fixtures.py, shared
#    with the Swift core's tests: lrdif_mobile.onnx + lrdif_mobile.expected.json)
[ -x "$PY" ] || fail "no Python at $PY (make venv-all face-models first)"
"$PY" -m lrdif.sdk.golden --frames-only "$GOLDEN" >/dev/null || fail "regenerating the golden frames failed"
FIX="$CORE/build/fixtures"
rm -rf "$FIX" && mkdir -p "$FIX"
"$PY" - "$FIX" <<'PYEOF' || fail "making the .tflite fixture failed (lrdif-setup fills the face-model cache)"
import shutil, sys
from pathlib import Path
from lrdif.sdk.artifact_metadata import embed_metadata
from lrdif.sdk.assets import face_model_paths
from lrdif.sdk.metadata import ModelMetadata
out = Path(sys.argv[1])
src = face_model_paths(download=False)["detector"]
shutil.copyfile(src, out / "blazeface_plain.tflite")
shutil.copyfile(src, out / "blazeface_with_lrdif_metadata.tflite")
embed_metadata(out / "blazeface_with_lrdif_metadata.tflite", ModelMetadata(target="tflite", temperature=2.0))
PYEOF
"$PY" - "$FIX" "$REPO/ios_demo/tools" <<'PYEOF' || fail "making the .onnx fixture failed (needs the onnx package and sdk/models)"
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from make_fixtures import onnx_model
onnx_model(Path(sys.argv[1]))
PYEOF

# 4. Compile core + tests in one kotlinc run (skipped when no source changed)
CP="$JUNIT:$HAMCREST"
SRCS=$(cd "$CORE" && find src/main/kotlin src/test/kotlin -name '*.kt' | sort)
STAMP="$(cd "$CORE" && cat $SRCS | sha256sum | cut -c1-16)-$want"
if [ "$(cat "$BUILD/stamp" 2>/dev/null || true)" != "$STAMP" ]; then
    rm -rf "$BUILD" && mkdir -p "$BUILD/classes"
    echo "core-test: compiling $(echo "$SRCS" | wc -l) Kotlin files with kotlinc $want" >&2
    (cd "$CORE" && "$KOTLIN/bin/kotlinc" -nowarn -jvm-target 17 -cp "$CP" -d "$BUILD/classes" $SRCS) \
        || fail "kotlinc failed"
    echo "$STAMP" > "$BUILD/stamp"
fi

# 5. Run JUnit (the runner prints "N passed, N failed" last)
cd "$CORE"
exec java -cp "$BUILD/classes:$KOTLIN/lib/kotlin-stdlib.jar:$CP" \
    -Dlrdif.golden.dir="$GOLDEN" -Dlrdif.repo.root="$REPO" -Dlrdif.fixtures.dir="$FIX" \
    -Dlrdif.require.fixtures=true ai.lrdif.core.RunAllKt
