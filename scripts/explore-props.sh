#!/usr/bin/env bash
# Runs every property test with fresh random seeds and many cases, to find
# inputs the fixed-seed CI run (.ci/test) never draws. Keep each failure it
# prints as a unit test beside the code it broke, then fix the code.
#   scripts/explore-props.sh [rounds] [cases]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
cases="${2:-2000}"
unset PROPTEST_RNG_SEED
for round in $(seq "$rounds"); do
    echo "round $round of $rounds ($cases cases per property)"
    # the `props` modules of the crates, and the store's props test binary
    PROPTEST_CASES="$cases" cargo test --workspace --lib --bins -q -- props:: --test-threads=2
    PROPTEST_CASES="$cases" cargo test -p berth-store --test props -q -- --test-threads=2
done
