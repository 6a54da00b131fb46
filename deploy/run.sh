#!/usr/bin/env bash
# Run the help desk locally: brings up the stack (Postgres + NATS JetStream on
# 127.0.0.1, see deploy/stack.sh), exports its URLs and starts every service with
# demo data. The binary prints its own URLs, the portal's and the demo contact's login.
# Extra args go to `helpdesk serve all`.
# Stop the stack afterwards (optional) with: deploy/stack.sh down
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

deploy/stack.sh up
eval "$(deploy/stack.sh env)"
# The portal is served over plain HTTP on 127.0.0.1 here, and browsers refuse cookies marked
# `Secure` (and any `__Host-` cookie) from a plain-HTTP page: with the production default the
# visitor could never log in or send a form. Behind TLS leave it at its default (true).
export HELPDESK_GATEWAY__COOKIE_SECURE="${HELPDESK_GATEWAY__COOKIE_SECURE:-false}"
exec cargo run --release --bin helpdesk -- serve all --demo "$@"
