#!/usr/bin/env bash
# Benchmark: scan a large image built by buildah, next to merely reading (decompressing, walking
# and verifying) the same layers with no rules, in the same run. Prints throughput of uncompressed
# content, peak memory (max RSS), and the ratio scan/read.
#   bench/run.sh [SIZE_MB]   (default 600): the synthetic image from bench/make-image.py
#   bench/run.sh real        the real image from bench/real-image/build.sh (Debian + PyPI + npm)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-600}
out=bench/out
mkdir -p "$out"
if [ "$size" = real ]; then
  [ -d "$out/real/oci-gzip" ] || bench/real-image/build.sh "$out/real" >&2
  img="$out/real"
fi
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
cargo build --release -q -p caulk-cli
bin=target/release/caulk

img=${img:-"$out/image-$size"}
if [ ! -d "$img/oci-gzip" ]; then
  ctx=$(mktemp -d)
  python3 bench/make-image.py "$ctx" "$size"
  store=$(mktemp -d)
  b=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
  "${b[@]}" build -q --isolation chroot --layers -t "bench:$size" "$ctx" >/dev/null
  mkdir -p "$img"
  "${b[@]}" push -q "bench:$size" "oci:$img/oci-gzip:latest" >/dev/null
  "${b[@]}" push -q "bench:$size" "docker-archive:$img/docker-archive.tar:bench:$size" >/dev/null
  rm -rf "$ctx" "$store"
fi

once() { # args... -> "seconds maxrss_kb"
  /usr/bin/time -o "$out/time.txt" -f "%e %M" "$bin" image "$@" -q --no-cache --format json -o /dev/null || [ $? -eq 1 ]
  tail -1 "$out/time.txt"
}

pair() { # input -> "read_s read_kb scan_s scan_kb"
  # One warm-up of each (page cache), then three rounds of read-only and scan, interleaved so that
  # other load on the machine falls on both alike; the best time of each is kept. This measures
  # caulk, not the disk.
  local img=$1 br="" brm="" bs="" bsm="" t m
  once "$img" --decompress-only >/dev/null
  once "$img" >/dev/null
  for _ in 1 2 3; do
    read -r t m < <(once "$img" --decompress-only)
    if [ -z "$br" ] || awk "BEGIN{exit !($t < $br)}"; then br=$t; brm=$m; fi
    read -r t m < <(once "$img")
    if [ -z "$bs" ] || awk "BEGIN{exit !($t < $bs)}"; then bs=$t; bsm=$m; fi
  done
  echo "$br $brm $bs $bsm"
}

uncompressed=$("$bin" image "$img/oci-gzip" --format json --decompress-only -q | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(l["uncompressed_size"] for l in r["images"][0]["layers"]))')
printf "image: %s MB uncompressed, %s blobs\n" "$((uncompressed / 1000000))" "$(ls "$img"/oci-gzip/blobs/sha256 | wc -l)"
printf "%-28s %8s %10s %12s\n" "form / mode" "seconds" "MB/s" "peak RSS MB"
for form in oci-gzip docker-archive.tar; do
  read -r tr mr ts ms < <(pair "$img/$form")
  for row in "read-only $tr $mr" "scan $ts $ms"; do
    set -- $row
    printf "%-28s %8s %10.0f %12.1f\n" "$form $1" "$2" "$(awk "BEGIN{print $uncompressed/1e6/$2}")" "$(awk "BEGIN{print $3/1024}")"
  done
  printf "%-28s %8.2fx\n" "$form scan/read ratio" "$(awk "BEGIN{print $ts/$tr}")"
done
