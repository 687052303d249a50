#!/usr/bin/env bash
# Benchmark: the layer cache. For each form of an image: a first scan into an empty cache (it
# scans every layer and writes the cache), then rescans of the unchanged image from that cache, in
# the same run; the ratio first/rescan is the speedup. Also: a scan with --no-cache, which must
# cost about what the first scan costs (writing the cache is cheap).
#   bench/cache.sh [real|SIZE_MB]   (default: real, the image of bench/real-image/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-real}
out=bench/out
if [ "$what" = real ]; then
  [ -d "$out/real/oci-gzip" ] || bench/real-image/build.sh "$out/real" >&2
  img="$out/real"
else
  [ -d "$out/image-$what/oci-gzip" ] || bench/run.sh "$what" >/dev/null
  img="$out/image-$what"
fi
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
cargo build --release -q -p caulk-cli
bin=target/release/caulk
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT

once() { # args... -> "seconds maxrss_kb"
  /usr/bin/time -o "$out/time.txt" -f "%e %M" "$bin" image "$@" -q --format json -o "$out/cache-report.json" || [ $? -eq 1 ]
  tail -1 "$out/time.txt"
}

printf '%-28s %10s %10s %10s %9s %12s\n' form no-cache first rescan speedup "rescan RSS"
for form in oci-gzip docker-archive.tar; do
  input="$img/$form"
  once "$input" --no-cache >/dev/null # page cache warm-up
  best_nc="" best_first="" best_re="" re_kb=""
  for _ in 1 2 3; do
    read -r t _ < <(once "$input" --no-cache)
    cp "$out/cache-report.json" "$out/cache-report-nocache.json"
    if [ -z "$best_nc" ] || awk "BEGIN{exit !($t < $best_nc)}"; then best_nc=$t; fi
    rm -rf "$cache"/*
    read -r t _ < <(once "$input" --cache-dir "$cache")
    if [ -z "$best_first" ] || awk "BEGIN{exit !($t < $best_first)}"; then best_first=$t; fi
    read -r t m < <(once "$input" --cache-dir "$cache")
    if [ -z "$best_re" ] || awk "BEGIN{exit !($t < $best_re)}"; then best_re=$t; re_kb=$m; fi
    # The rescan must report exactly what the uncached scan reports.
    cmp -s "$out/cache-report.json" "$out/cache-report-nocache.json" || { echo "rescan report differs for $form" >&2; exit 1; }
  done
  printf '%-28s %9ss %9ss %9ss %8.1fx %9d MB\n' "$form" "$best_nc" "$best_first" "$best_re" \
    "$(awk "BEGIN{print $best_first/$best_re}")" $((re_kb / 1024))
done
"$bin" cache info --cache-dir "$cache"
