# shellcheck shell=bash
# Component oidc: a real OpenID provider for the SSO tests, npm `oidc-provider` 9 with its
# dev login/consent pages, installed in .stack/oidc; deploy/oidc-provider.mjs says how
# accounts and the test client are set up (it reads HELPDESK_STACK_OIDC_PORT).

OIDC_PORT="$(setting HELPDESK_STACK_OIDC_PORT)"
OIDC_DIR="$STACK_DIR/oidc"
OIDC_LOG="$STACK_DIR/oidc.log"
OIDC_PID="$STACK_DIR/oidc.pid"

oidc_install() {
    need_node
    mkdir -p "$OIDC_DIR"
    if [[ ! -f "$OIDC_DIR/node_modules/oidc-provider/package.json" ]]; then
        log "npm install oidc-provider@9 (in $OIDC_DIR)"
        printf '{"name":"helpdesk-test-oidc","private":true,"type":"module"}\n' >"$OIDC_DIR/package.json"
        (cd "$OIDC_DIR" && npm install --no-audit --no-fund --silent oidc-provider@9 >/dev/null) \
            || die "npm install oidc-provider failed"
    fi
}

oidc_ready() { http_ok "http://127.0.0.1:$OIDC_PORT/.well-known/openid-configuration"; }

oidc_start() {
    if oidc_ready; then
        log "oidc provider already running on 127.0.0.1:$OIDC_PORT (reused)"
        return 0
    fi
    cp "$DEPLOY_DIR/oidc-provider.mjs" "$OIDC_DIR/provider.mjs"
    log "starting the OpenID provider on 127.0.0.1:$OIDC_PORT"
    daemon_start "the OpenID provider on 127.0.0.1:$OIDC_PORT" "$OIDC_DIR" "$OIDC_PID" "$OIDC_LOG" oidc_ready -- \
        env HELPDESK_STACK_OIDC_PORT="$OIDC_PORT" node "$OIDC_DIR/provider.mjs"
}

oidc_stop() { daemon_stop "the OpenID provider" "$OIDC_PID" "$OIDC_DIR" oidc_ready; }

oidc_status() {
    daemon_status "oidc provider" "http://127.0.0.1:$OIDC_PORT" "$OIDC_PID" "$OIDC_DIR" oidc_ready "log $OIDC_LOG"
}

oidc_env() { export_line HELPDESK_TEST_OIDC_ISSUER "http://127.0.0.1:$OIDC_PORT"; }
