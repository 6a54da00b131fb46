# shellcheck shell=bash
# Component smtp: an SMTP sink (aiosmtpd from the venv) on 127.0.0.1 that accepts every
# mail and writes it to a Maildir: the tests read activation and reset mail there.
# Needs the venv.

SMTP_PORT="$(setting HELPDESK_STACK_SMTP_PORT)"
SMTP_MAILDIR="$STACK_DIR/smtp/Maildir"
SMTP_LOG="$STACK_DIR/smtp.log"
SMTP_PID="$STACK_DIR/smtp.pid"

smtp_install() {
    "$VENV_PY" -c 'import aiosmtpd' 2>/dev/null || die "aiosmtpd missing from the venv; try: rm -rf $VENV_DIR"
}

smtp_ready() { tcp_greets "$SMTP_PORT"; }

smtp_start() {
    if smtp_ready 2>/dev/null; then
        log "smtp sink already running on 127.0.0.1:$SMTP_PORT (reused)"
        return 0
    fi
    mkdir -p "$SMTP_MAILDIR"/{cur,new,tmp}
    log "starting the SMTP sink (aiosmtpd) on 127.0.0.1:$SMTP_PORT (Maildir $SMTP_MAILDIR)"
    daemon_start "the SMTP sink on 127.0.0.1:$SMTP_PORT" "$STACK_DIR" "$SMTP_PID" "$SMTP_LOG" smtp_ready -- \
        "$VENV_PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$SMTP_MAILDIR"
}

smtp_stop() { daemon_stop "the SMTP sink" "$SMTP_PID" "$SMTP_MAILDIR" smtp_ready; }

smtp_status() {
    daemon_status "smtp sink" "127.0.0.1:$SMTP_PORT" "$SMTP_PID" "$SMTP_MAILDIR" smtp_ready "Maildir $SMTP_MAILDIR, log $SMTP_LOG"
}

smtp_env() {
    export_line HELPDESK_MAIL__SMTP_HOST 127.0.0.1
    export_line HELPDESK_MAIL__SMTP_PORT "$SMTP_PORT"
    export_line HELPDESK_TEST_SMTP_PORT "$SMTP_PORT"
    export_line HELPDESK_TEST_SMTP_MAILDIR "$SMTP_MAILDIR"
}
