#!/usr/bin/env bash
# Run the help desk locally: brings up the stack (Postgres + NATS JetStream on
# 127.0.0.1, see deploy/stack.sh), exports its URLs and starts every service with
# demo data. The binary prints its own URLs. Extra args go to `helpdesk serve all`.
# Stop the stack afterwards (optional) with: deploy/stack.sh down
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

deploy/stack.sh up
eval "$(deploy/stack.sh env)"
exec cargo run --release --bin helpdesk -- serve all --demo "$@"
