#!/usr/bin/env bash
# Build the "real image" benchmark input: a ~2 GB (uncompressed) Debian bookworm image with the system packages,
# PyPI and npm dependencies a typical Python + Node service ships (no planted secrets), exported as
#   OUTDIR/oci-gzip/            OCI layout, gzip layers
#   OUTDIR/oci-zstd/            OCI layout, zstd layers
#   OUTDIR/docker-archive.tar   docker-archive (docker save), uncompressed layers
#   OUTDIR/layers.txt           per-layer summary (instruction, sizes, entry counts)
# Skips everything when OUTDIR already holds a complete build of the same inputs (OUTDIR/.stamp).
# Needs root and the Debian, PyPI and npm registries. See README.md beside this file.
#   bench/real-image/build.sh OUTDIR        (FORCE=1 rebuilds anyway, KEEP_WORK=1 keeps the temp dir)
set -euo pipefail

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 OUTDIR"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1" || die "cannot create OUTDIR $1"
out=$(cd "$1" && pwd)
image=localhost/caulk-bench/real-image:latest
mirror=http://deb.debian.org/debian

# The inputs that define the image; their digest is the build's version, kept in OUTDIR/.stamp.
inputs=(build.sh summary.py Containerfile requirements.txt package.json package-lock.json)
while IFS= read -r f; do inputs+=("$f"); done < <(cd "$here" && find app -type f | LC_ALL=C sort)
version=$(cd "$here" && sha256sum "${inputs[@]}" | sha256sum | cut -c1-16)
stamp="$out/.stamp"

complete() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] &&
    [ -f "$out/oci-gzip/index.json" ] && [ -f "$out/oci-zstd/index.json" ] &&
    [ -f "$out/docker-archive.tar" ] && [ -f "$out/layers.txt" ]
}
if [ "${FORCE:-0}" != 1 ] && complete; then
  echo "build.sh: $out is up to date (version $version); nothing to do (FORCE=1 rebuilds)."
  cat "$out/layers.txt"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, buildah with vfs storage)"

# Timing and failure reporting: each step's output goes to OUTDIR/.logs/STEP.log.
logs="$out/.logs"
rm -rf "$logs" && mkdir -p "$logs"
t_start=$(date +%s)
step_name=""
step() { # NAME CMD...: run CMD, output to the step's log, print its time; on failure, the log's tail.
  step_name=$1; shift
  local t0 rc=0
  t0=$(date +%s)
  printf '%-34s ' "$step_name" >&2
  # A subshell outside any `||` context, so that `set -e` holds inside the step's function.
  set +e
  (set -e; "$@") >"$logs/$step_name.log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "FAILED (exit $rc) after $(($(date +%s) - t0))s" >&2
    echo "---- last lines of $logs/$step_name.log ----" >&2
    tail -n 40 "$logs/$step_name.log" >&2
    die "step '$step_name' failed (exit $rc); full log: $logs/$step_name.log"
  fi
  echo "$(($(date +%s) - t0))s" >&2
}

work=$(mktemp -d "${TMPDIR:-/var/tmp}/caulk-real-image.XXXXXX")
rootfs="$work/rootfs"
ctx="$work/ctx"
wheels="$work/wheels"
store="$work/storage"
bah=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
mounts_under() { findmnt -rn -o TARGET | awk -v p="$1/" 'index($0, p) == 1' | sort -r; }
cleanup() {
  local rc=$?
  # Nothing may stay mounted under the work dir (debootstrap mounts /proc and /sys while it runs).
  if [ -d "$work" ]; then
    mounts_under "$work" | while IFS= read -r m; do umount -l "$m" || true; done
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "build.sh: work dir kept: $work" >&2; else rm -rf "$work"; fi
  [ $rc -eq 0 ] || echo "build.sh: FAILED (exit $rc) during step '${step_name:-setup}'" >&2
}
trap cleanup EXIT

echo "build.sh: building $image (version $version) into $out; work dir $work" >&2
rm -f "$stamp"

# 0. Host tools.
need_tools() {
  local missing=()
  for p in debootstrap:debootstrap buildah:buildah skopeo:skopeo zstd:zstd; do
    command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  for t in debootstrap buildah skopeo zstd pip npm python3 tar findmnt; do
    command -v "$t" >/dev/null || { echo "missing tool: $t"; return 1; }
  done
  python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "host python must be 3.11 (as bookworm)"'
}
step tools need_tools

# 1. Debian base, cleaned like the official debian:bookworm image (debuerreotype): no apt lists,
#    no host resolv.conf/hostname, deb822 sources with updates + security, docker apt settings.
base() {
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
  mounts_under "$rootfs" | while IFS= read -r m; do umount -l "$m"; done
  cd "$rootfs"
  rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb \
    var/log/bootstrap.log var/log/dpkg.log var/log/alternatives.log var/log/apt/* \
    etc/resolv.conf etc/hostname etc/apt/sources.list
  mkdir -p var/lib/apt/lists/partial
  cat > etc/apt/sources.list.d/debian.sources <<'EOT'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
  echo 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' > etc/apt/apt.conf.d/docker-clean
  echo 'Acquire::Languages "none";' > etc/apt/apt.conf.d/docker-no-languages
  echo 'Acquire::GzipIndexes "true";' > etc/apt/apt.conf.d/docker-gzip-indexes
  printf 'APT::AutoRemove::RecommendsImportant "false";\nAPT::AutoRemove::SuggestsImportant "false";\n' \
    > etc/apt/apt.conf.d/docker-autoremove-suggests
  mkdir -p "$ctx"
  # /dev, /proc and /sys stay empty in an image: the runtime provides them.
  tar --numeric-owner --xattrs --xattrs-include='*' --exclude='./dev/*' --exclude='./proc/*' \
    --exclude='./sys/*' -C "$rootfs" -cf "$ctx/rootfs.tar" .
  cd / && rm -rf "$rootfs"
  ls -l "$ctx/rootfs.tar"
}
step debootstrap-base base

# 2. Python wheels, exact pins, downloaded with the host's pip (CPython 3.11, glibc 2.36, like the
#    image); installed inside the image by its own pip from this directory, mounted at /wheels.
py_wheels() {
  mkdir -p "$wheels"
  pip download --no-deps --only-binary=:all: -d "$wheels" -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$wheels/requirements.txt"
  du -sh "$wheels"
}
step pip-download py_wheels

# 3. node_modules from the lock file, dev dependencies included, no install scripts (they may
#    download binaries from outside the registry). `npm install`, not `npm ci`: npm 10/11 leave other
#    platforms' optional packages (@next/swc-darwin-*, ...) out of the lock and `npm ci` then refuses
#    it as out of sync (npm/cli#4828); `npm install` installs the locked versions, and the lock must
#    come out unchanged.
npm_deps() {
  cp "$here/package.json" "$here/package-lock.json" "$ctx/"
  (cd "$ctx" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
  cmp "$here/package-lock.json" "$ctx/package-lock.json" ||
    { echo "npm changed package-lock.json: package.json and the lock disagree (run lock.sh)"; return 1; }
  du -sh "$ctx/node_modules"
}
step npm-install npm_deps

# 4. The application sources and the Containerfile.
app_ctx() {
  cp -r "$here/app" "$ctx/app"
  cp "$here/Containerfile" "$ctx/Containerfile"
  find "$ctx/app" -type f
}
step app-context app_ctx

# 5. Build: one layer per ADD/RUN/COPY, as `docker build` would.
build() {
  mkdir -p "$store"
  # Each output line is prefixed with the seconds since the build started: per-step times.
  local t0 now line
  printf -v t0 '%(%s)T' -1
  "${bah[@]}" build --isolation chroot --layers --volume "$wheels:/wheels:ro" -t "$image" \
      -f "$ctx/Containerfile" "$ctx" 2>&1 |
    while IFS= read -r line; do printf -v now '%(%s)T' -1; printf '[%4ds] %s\n' $((now - t0)) "$line"; done
}
step buildah-build build

# 6. Exports, into a scratch dir first so OUTDIR never holds a half-written form.
partial="$out/.partial"
rm -rf "$partial" && mkdir -p "$partial"
step push-oci-gzip "${bah[@]}" push --compression-format gzip "$image" "oci:$partial/oci-gzip:latest"
step push-oci-zstd "${bah[@]}" push --compression-format zstd "$image" "oci:$partial/oci-zstd:latest"
step push-docker-archive "${bah[@]}" push "$image" "docker-archive:$partial/docker-archive.tar:caulk-bench/real-image:latest"

# 7. Validate: every form parses (skopeo), every layer blob is a readable tar with the same entries
#    in the three forms, digests match the manifests; write the per-layer summary.
validate() {
  for f in oci-gzip oci-zstd; do skopeo inspect "oci:$partial/$f:latest" > "$partial/$f.inspect.json"; done
  skopeo inspect "docker-archive:$partial/docker-archive.tar" > "$partial/docker-archive.inspect.json"
  python3 "$here/summary.py" "$partial" > "$partial/layers.txt"
  rm -f "$partial"/*.inspect.json
  cat "$partial/layers.txt"
}
step validate validate

# 8. Publish into OUTDIR, then the stamp (last: its presence means the build is complete).
publish() {
  rm -rf "$out/oci-gzip" "$out/oci-zstd" "$out/docker-archive.tar" "$out/layers.txt"
  mv "$partial/oci-gzip" "$partial/oci-zstd" "$partial/docker-archive.tar" "$partial/layers.txt" "$out/"
  rmdir "$partial"
  echo "$version" > "$stamp"
}
step publish publish
# The vfs storage holds a full copy of the rootfs per step (~20 GB): removing it takes minutes.
step remove-work-dir rm -rf "$work"
step_name=done

cat "$out/layers.txt"
echo "build.sh: done in $(($(date +%s) - t_start))s: $out (version $version)" >&2
