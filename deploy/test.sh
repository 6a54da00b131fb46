#!/usr/bin/env bash
# The project's one test command (README and CI call it):
#
#   deploy/test.sh [extra args for cargo nextest run / cargo test]
#
# 1. deploy/stack.sh up      the local test services on 127.0.0.1 (installed if missing)
# 2. eval "$(deploy/stack.sh env)"   HELPDESK_* / HELPDESK_TEST_* variables for the tests
# 3. deploy/lint-shell.sh    shellcheck on every shell script (a finding fails the run here)
# 4. cargo nextest run --workspace --no-fail-fast   (cargo test when nextest is missing)
# 5. cargo clippy --workspace --all-targets -- -D warnings
#
# Exits non-zero if any step fails (clippy still runs after failing tests).
# The stack is left running and reused by the next run; stop it with:
#   deploy/stack.sh down
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

# rustup's cargo may not be on PATH in a minimal (CI) environment.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo not found" >&2; exit 1; }

deploy/stack.sh up
eval "$(deploy/stack.sh env)"
deploy/lint-shell.sh

status=0
if cargo nextest --version >/dev/null 2>&1; then
    echo "test.sh: cargo nextest run --workspace --no-fail-fast $*" >&2
    cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
    echo "test.sh: cargo-nextest not installed; cargo test --workspace --no-fail-fast $*" >&2
    cargo test --workspace --no-fail-fast "$@" || status=$?
fi
tests_status=$status

echo "test.sh: cargo clippy --workspace --all-targets -- -D warnings" >&2
clippy_status=0
cargo clippy --workspace --all-targets -- -D warnings || clippy_status=$?

if ((tests_status != 0 || clippy_status != 0)); then
    echo "test.sh: FAILED (tests exit $tests_status, clippy exit $clippy_status)" >&2
    exit 1
fi
echo "test.sh: tests and clippy passed" >&2
