#!/usr/bin/env bash
# Rebuild examples/leaky-app/leaky-app.tar (docker-archive, tag leaky-app:latest) with buildah.
# Uses its own throw-away buildah storage in a temp dir; needs buildah and a static busybox
# (Debian: apt-get install buildah busybox-static).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
NPM_TOKEN_FAKE="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"   # fake; recorded in the image history

command -v buildah >/dev/null || { echo "rebuild.sh: buildah not found" >&2; exit 1; }
[[ -x "$BUSYBOX" ]] || { echo "rebuild.sh: static busybox not found at $BUSYBOX" >&2; exit 1; }

TMP="$(mktemp -d)"
cleanup() {
  buildah --root "$TMP/root" --runroot "$TMP/run" --storage-driver vfs rm --all >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/ctx" "$TMP/tmp"
cp -a "$HERE/Containerfile" "$HERE/.env" "$HERE/app" "$TMP/ctx/"
cp "$BUSYBOX" "$TMP/ctx/busybox"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$TMP/policy.json"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' "$TMP/root" "$TMP/run" >"$TMP/storage.conf"

bah() {
  CONTAINERS_STORAGE_CONF="$TMP/storage.conf" TMPDIR="$TMP/tmp" \
    buildah --root "$TMP/root" --runroot "$TMP/run" --storage-driver vfs "$@"
}

IMG="docker.io/library/leaky-app:latest"
bah build --isolation chroot --layers --pull=never \
  --build-arg "NPM_TOKEN=$NPM_TOKEN_FAKE" -f "$TMP/ctx/Containerfile" -t "$IMG" "$TMP/ctx"
rm -f "$HERE/leaky-app.tar.new"
bah push --signature-policy "$TMP/policy.json" "$IMG" "docker-archive:$HERE/leaky-app.tar.new:leaky-app:latest"
mv "$HERE/leaky-app.tar.new" "$HERE/leaky-app.tar"

# Cross-check expected.json against the new image when the fixture tools are around.
VERIFY="$HERE/../../tests/fixtures/tools/verify-expected.py"
if [[ -f "$VERIFY" ]]; then
  mkdir -p "$TMP/check"
  ln -s "$HERE/leaky-app.tar" "$TMP/check/docker-archive.tar"
  cp "$HERE/expected.json" "$TMP/check/expected.json"
  python3 "$VERIFY" "$TMP/check"
fi
echo "rebuild.sh: wrote $HERE/leaky-app.tar ($(du -h "$HERE/leaky-app.tar" | cut -f1))"
