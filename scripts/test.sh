#!/usr/bin/env bash
# Runs every check caulk has, after installing the system packages the tests use (Debian).
# The end-to-end tests build real images with buildah; see DEVELOPERS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(buildah skopeo podman docker-registry apache2-utils busybox-static zstd openssh-client openssh-server openssl python3 util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
