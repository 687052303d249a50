#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), one after the other, each on a copy
# of its seeds (fuzz/seeds/<target> -> fuzz/corpus/<target>, which is git-ignored). Crashes land in
# fuzz/artifacts/<target>/. Needs the nightly toolchain; installs cargo-fuzz when it is missing.
#
#   scripts/fuzz.sh [SECONDS]
#
# Environment: FUZZ_TARGETS="dockerfile yaml" to run only some targets; FUZZ_ARGS for more
# libFuzzer flags (e.g. FUZZ_ARGS="-dict=..."); CAULK_FUZZ_LENIENT=1 to record, not assert, the
# properties the targets check (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
targets=(${FUZZ_TARGETS:-dockerfile dockerignore yaml archive manifest})

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: installing the nightly toolchain" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build --fuzz-dir fuzz

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  cp -n fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
  echo "== $t: ${seconds}s" >&2
  # shellcheck disable=SC2086
  if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=30 \
      -print_final_stats=1 ${FUZZ_ARGS:-}; then
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "scripts/fuzz.sh: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "scripts/fuzz.sh: no crash in ${targets[*]}" >&2
