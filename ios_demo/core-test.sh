#!/usr/bin/env bash
# Build and test the LrdifCore Swift package on this (Debian 12) machine, the way CI does:
#
#   ios_demo/core-test.sh            # from the repo root; last line: "N passed, N failed"
#
# 1. ios_demo/swift-toolchain.sh: a cached Debian 13 root with Debian's swiftlang (outside the tree);
# 2. golden frames: `python -m lrdif.sdk.golden --frames-only` next to the committed golden vectors
#    (android_demo/core/src/test/resources/golden; shared with the Kotlin core, not copied);
# 3. test fixtures made by the venv's Python (a .tflite and, when coremltools is installed, an
#    .mlpackage with embedded lrdif metadata) in a temporary folder;
# 4. `swift test --disable-swift-testing` inside the root (private mount namespace: the repo and the
#    fixtures bind-mounted at their own paths, /proc mounted); build products cached in the root.
# Env: LRDIF_SWIFT_ROOT (toolchain root), LRDIF_PYTHON (default .venv/bin/python),
#      LRDIF_GOLDEN_DIR (default: the committed golden folder).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${LRDIF_PYTHON:-$REPO/.venv/bin/python}"
GOLDEN="${LRDIF_GOLDEN_DIR:-$REPO/android_demo/core/src/test/resources/golden}"
PKG="$REPO/ios_demo/LrdifCore"
t0=$(date +%s)

fail() { echo "core-test: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

ROOT="$("$REPO/ios_demo/swift-toolchain.sh" | tail -n 1)" || fail "Swift toolchain setup failed"
[ -e "$ROOT/usr/libexec/swift/bin/swift" ] || fail "no swift in $ROOT"
t1=$(date +%s)

[ -f "$GOLDEN/index.json" ] || fail "no golden vectors at $GOLDEN/index.json (python -m lrdif.sdk.golden $GOLDEN)"
"$PY" -m lrdif.sdk.golden --frames-only "$GOLDEN" >&2 || fail "could not rebuild the golden frames in $GOLDEN/frames"

FIX="$(mktemp -d /tmp/lrdif-ios-fixtures.XXXXXX)"
trap 'rm -rf "$FIX"' EXIT
"$PY" "$REPO/ios_demo/tools/make_fixtures.py" "$FIX" >&2 || fail "could not make the test fixtures"
t2=$(date +%s)

LOG="$FIX/swift-test.log"
# shellcheck disable=SC2016
unshare --mount --propagation private bash -c '
    set -e
    ROOT="$1"; REPO="$2"; FIX="$3"; GOLDEN="$4"
    for d in "$REPO" "$FIX"; do mkdir -p "$ROOT$d"; mount --bind "$d" "$ROOT$d"; done
    case "$GOLDEN" in "$REPO"/*) ;; *) mkdir -p "$ROOT$GOLDEN"; mount --bind "$GOLDEN" "$ROOT$GOLDEN";; esac
    mount -t proc proc "$ROOT/proc"
    exec chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
        LRDIF_REPO="$REPO" LRDIF_GOLDEN_DIR="$GOLDEN" LRDIF_FIXTURES="$FIX" \
        swift test --package-path "$REPO/ios_demo/LrdifCore" --scratch-path /var/cache/lrdif-core-build \
        --disable-swift-testing
' core-test "$ROOT" "$REPO" "$FIX" "$GOLDEN" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
t3=$(date +%s)

# XCTest's last summary: "Executed N tests, with [S tests skipped and ]F failures (U unexpected) ..."
summary="$(grep -E 'Executed [0-9]+ tests?, with' "$LOG" | tail -n 1)"
[ -n "$summary" ] || fail "swift test did not run (exit $rc; see the output above)"
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=$(grep -oE '[0-9]+ tests? skipped' <<<"$summary" | grep -oE '^[0-9]+' || echo 0)
passed=$((total - failed - skipped))
echo "core-test: toolchain $((t1 - t0)) s, frames + fixtures $((t2 - t1)) s, swift test $((t3 - t2)) s;" \
     "$skipped skipped" >&2
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
