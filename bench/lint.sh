#!/usr/bin/env bash
# Lint speed: `caulk lint` over a generated tree of N Dockerfiles (default 1000), each with a build
# context, next to the baseline of merely reading the same files (`cat`), in the same run.
#   bench/lint.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p caulk-cli
bin=target/release/caulk
tree=bench/out/lint-$n
if [ ! -d "$tree" ]; then
  mkdir -p "$tree"
  python3 bench/make-lint-tree.py "$tree" "$n"
fi
files=$(find "$tree" -type f | wc -l)
best() { # command... -> best of 3, in seconds
  local b="" s e t
  for _ in 1 2 3; do
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    t=$(awk "BEGIN{print $e-$s}")
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  echo "$b"
}
"$bin" lint -q "$tree" >/dev/null 2>&1 || true   # warm the page cache
read_only=$(best sh -c "find '$tree' -type f -exec cat {} + > /dev/null")
lint_noctx=$(best "$bin" lint -q --no-context "$tree")
lint_ctx=$(best "$bin" lint -q "$tree")
printf "%s Dockerfiles (%s files with their build contexts)\n" "$n" "$files"
printf "%-36s %7.2f s\n" "read every file (find | cat)" "$read_only"
printf "%-36s %7.2f s  %6.0f Dockerfiles/s\n" "caulk lint --no-context" "$lint_noctx" "$(awk "BEGIN{print $n/$lint_noctx}")"
printf "%-36s %7.2f s  %6.0f Dockerfiles/s  %.1fx reading\n" "caulk lint (with build contexts)" "$lint_ctx" "$(awk "BEGIN{print $n/$lint_ctx}")" "$(awk "BEGIN{print $lint_ctx/$read_only}")"
