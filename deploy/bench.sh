#!/usr/bin/env bash
# Runs the benchmarks against the local stack and prints their figures (docs/benchmarks.md holds
# the last recorded ones):
#
#   deploy/bench.sh            every benchmark
#   deploy/bench.sh tickets    one of them (tests/benches/<name>.rs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

deploy/stack.sh up
eval "$(deploy/stack.sh env)"
if [[ $# -gt 0 ]]; then
    exec cargo bench -p helpdesk-tests --bench "$1"
fi
exec cargo bench -p helpdesk-tests
