#!/usr/bin/env bash
# Swift toolchain for LrdifCore on a Debian 12 host: a minimal Debian 13 (trixie) root that holds
# Debian's `swiftlang` (6.0.x; it needs glibc >= 2.38, newer than bookworm's 2.36).
#
#   ios_demo/swift-toolchain.sh            # build the root once (about 1-2 min, 3.3 GB), print its path
#   LRDIF_SWIFT_ROOT=/some/dir ios_demo/swift-toolchain.sh
#
# The root lives OUTSIDE the work tree (default /var/cache/lrdif/swift-trixie) and is reused when
# its marker file exists. Needs root (debootstrap, chroot). Prints the root's path on its last line.
set -euo pipefail

ROOT="${LRDIF_SWIFT_ROOT:-/var/cache/lrdif/swift-trixie}"
MARKER="$ROOT/.lrdif-swift-ready"
MIRROR="${LRDIF_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="swiftlang libc6-dev libstdc++-14-dev"

log() { echo "swift-toolchain: $*" >&2; }

if [ -f "$MARKER" ]; then
    log "cached root at $ROOT ($(cat "$MARKER"))"
    echo "$ROOT"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "needs root (debootstrap + chroot); run as root or set LRDIF_SWIFT_ROOT to a ready root"
    exit 2
fi

# one builder at a time; a second caller waits, then finds the marker
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9
if [ -f "$MARKER" ]; then
    log "cached root at $ROOT ($(cat "$MARKER"))"
    echo "$ROOT"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends debootstrap >&2; }
fi

# A half-built root from an interrupted run: start over (the marker is written last).
if [ -d "$ROOT" ]; then
    log "removing incomplete root $ROOT"
    for m in proc sys dev/pts; do umount "$ROOT/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$ROOT"
fi

t0=$(date +%s)
log "debootstrap --variant=minbase trixie $ROOT"
debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >&2
t1=$(date +%s)

cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
log "apt-get install $PACKAGES"
# /proc mounted in a private mount namespace: it goes away with the command, whatever happens
unshare --mount --propagation private sh -c '
    mount -t proc proc "$1/proc" &&
    chroot "$1" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C sh -c "
        apt-get update -q && apt-get install -y -q --no-install-recommends $2 && apt-get clean" &&
    chroot "$1" swift --version' sh "$ROOT" "$PACKAGES" >&2
t2=$(date +%s)

echo "debootstrap $((t1 - t0)) s, install $((t2 - t1)) s, $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$MARKER"
log "ready: $(cat "$MARKER")"
echo "$ROOT"
