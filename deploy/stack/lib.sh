# shellcheck shell=bash
# Shared helpers of deploy/stack.sh, sourced by it before the component files
# (deploy/stack/components/*.sh): logging, waiting, apt, the stack's environment
# variables (checked against deploy/stack/variables), private instance roots, and
# the one way a daemon is started, found, stopped and reported from its pid file.
#
# Every long-lived process must be started with `9>&-` (daemon_start does): fd 9
# holds the stack lock, and a daemon inheriting it would hold the lock for its life.

STACK_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
DEPLOY_DIR="$(cd "$STACK_LIB_DIR/.." && pwd -P)"
ROOT="$(cd "$DEPLOY_DIR/.." && pwd -P)"
STACK_DIR="$ROOT/.stack"
STACK_VARIABLES="$STACK_LIB_DIR/variables"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- environment variables

# The lines of deploy/stack/variables are `NAME DIR DEFAULT MEANING`.

# stack_variables DIR: the names declared with direction DIR (in/out).
stack_variables() {
    awk -v dir="$1" '!/^[[:space:]]*(#|$)/ && $2 == dir { print $1 }' "$STACK_VARIABLES"
}

# stack_declares DIR NAME: NAME is declared with direction DIR.
stack_declares() {
    awk -v dir="$1" -v name="$2" '!/^[[:space:]]*(#|$)/ && $1 == name && $2 == dir { found = 1 } END { exit !found }' \
        "$STACK_VARIABLES"
}

# setting NAME: the value of the `in` variable NAME, or its declared default.
setting() {
    stack_declares in "$1" || die "$1 is read but not declared \`in\` in $STACK_VARIABLES"
    local default
    default="$(awk -v name="$1" '$1 == name { print $3 }' "$STACK_VARIABLES")"
    [[ "$default" != - ]] || default=""
    printf '%s\n' "${!1:-$default}"
}

# export_line NAME VALUE: one `export` line of `stack.sh env` (the value shell-quoted).
export_line() {
    stack_declares out "$1" || die "$1 is exported but not declared \`out\` in $STACK_VARIABLES"
    printf 'export %s=%q\n' "$1" "$2"
}

READY_TIMEOUT="$(setting HELPDESK_STACK_READY_TIMEOUT)"

# ---------------------------------------------------------------- waiting and probing

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

pid_gone() { ! pid_alive "$1"; }

http_ok() { # http_ok URL: true when URL answers 2xx
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null
    else
        "$(stack_python)" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' "$1" 2>/dev/null
    fi
}

# tcp_greets PORT [PREFIX]: something on 127.0.0.1:PORT sends a greeting (starting with PREFIX).
tcp_greets() {
    "$(stack_python)" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.settimeout(2)
ok = s.recv(256).startswith(sys.argv[2].encode())
s.close()
sys.exit(0 if ok else 1)' "$1" "${2:-}"
}

# stack_python: the venv's python once it exists, the system's before.
stack_python() {
    if [[ -x "$STACK_DIR/venv/bin/python" ]]; then echo "$STACK_DIR/venv/bin/python"; else echo python3; fi
}

# ---------------------------------------------------------------- installing

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

# need_command COMMAND DEBIAN_PACKAGE...: install the packages when COMMAND is missing.
need_command() {
    local command="$1"; shift
    command -v "$command" >/dev/null 2>&1 || apt_install "$@"
}

# need_node: node and npm (Debian's), for the components that run or install npm packages.
need_node() { { command -v node && command -v npm; } >/dev/null 2>&1 || apt_install nodejs npm; }

# installed_status LABEL PATH DESCRIBE_COMMAND...: the status line of a component that
# installs PATH and runs nothing: "LABEL: PATH (what DESCRIBE_COMMAND prints)", or missing.
installed_status() {
    local label="$1" path="$2"; shift 2
    if [[ -e "$path" ]]; then
        echo "$label: $path ($("$@" 2>&1))"
    else
        echo "$label: missing ($path; deploy/stack.sh up installs it)"
    fi
}

# ---------------------------------------------------------------- private instance roots

# A daemon that runs as another user (postgres, nobody) keeps its files in .stack/<name>
# when that user can reach it and its unix socket paths fit; otherwise (the repository
# under a mode-700 dir such as /root or a mktemp -d, or a long path) in
# /var/tmp/helpdesk-stack-<hash>/<name>, with .stack/<name> a symlink to it.

# instance_root NAME: the effective root of NAME (no side effects).
instance_root() {
    local local_root="$STACK_DIR/$1"
    if [[ -L "$local_root" ]]; then readlink -f "$local_root"; else echo "$local_root"; fi
}

# choose_instance_root NAME USABLE_COMMAND...: decide (once) where NAME lives and print it.
# USABLE_COMMAND ROOT succeeds when ROOT will do (the user can reach it, the sockets fit).
choose_instance_root() {
    local name="$1"; shift
    local local_root="$STACK_DIR/$name" fallback
    if [[ -L "$local_root" ]]; then
        fallback="$(readlink -f "$local_root")"
        mkdir -p "$fallback"
        echo "$fallback"
        return
    fi
    if [[ -d "$local_root" ]] || [[ ! -e "$local_root" ]]; then
        if "$@" "$local_root"; then
            mkdir -p "$local_root"
            echo "$local_root"
            return
        fi
        if [[ -d "$local_root" ]]; then
            # Repo moved somewhere the user cannot reach: leave the old dir aside.
            log "moving unreachable $local_root aside to $local_root.unreachable"
            rm -rf "$local_root.unreachable"
            mv "$local_root" "$local_root.unreachable"
        fi
    fi
    fallback="/var/tmp/helpdesk-stack-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/$name"
    log "$name cannot live in $STACK_DIR (its user cannot traverse a parent dir, or a socket path is too long);"
    log "keeping it in $fallback (symlinked from $local_root)"
    mkdir -p "$fallback"
    chmod 755 "$(dirname "$fallback")"
    ln -sfn "$fallback" "$local_root"
    cat >"$STACK_DIR/$name.README" <<EOF
The $name instance of this checkout lives in $fallback
(its user cannot traverse to $STACK_DIR, or its socket paths would be too long).
.stack/$name is a symlink to it. Remove it with: deploy/stack.sh down && rm -rf $(dirname "$fallback")
EOF
    echo "$fallback"
}

# socket_fits PATH: unix socket paths are limited to 107 bytes (with some margin).
socket_fits() { ((${#1} <= 100)); }

# ---------------------------------------------------------------- daemons

# A daemon is found from its pid file (the pid on its first line) and a marker: a string
# its command line contains (its store dir or config), so a recycled pid or someone
# else's server on the same port is never taken for ours.

# daemon_pid PID_FILE MARKER: print the pid if it is a live process of ours.
daemon_pid() {
    local pid_file="$1" marker="$2" pid
    [[ -f "$pid_file" ]] || return 1
    pid="$(head -n 1 "$pid_file" | tr -dc 0-9)"
    [[ -n "$pid" ]] && pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
    echo "$pid"
}

# ready_or_exited READY_COMMAND PID: the daemon is ready, or its process is gone.
ready_or_exited() { "$1" || pid_gone "$2"; }

# daemon_start LABEL DIR PID_FILE LOG READY_COMMAND -- COMMAND...: run COMMAND detached
# (own session, no ties to this shell's stdio, survives the script) from DIR, output
# appended to LOG, its pid in PID_FILE; wait until READY_COMMAND succeeds. Gives up early
# when the process exits (bad config, port taken), showing the end of LOG.
daemon_start() {
    local label="$1" dir="$2" pid_file="$3" log_file="$4" ready="$5"
    shift 5
    [[ "${1:-}" == -- ]] && shift
    rm -f "$pid_file"
    (
        cd "$dir" || exit 1
        setsid nohup "$@" >>"$log_file" 2>&1 </dev/null 9>&- &
        echo $! >"$pid_file"
    )
    wait_until "$READY_TIMEOUT" "$label" ready_or_exited "$ready" "$(head -n 1 "$pid_file")" || true
    if ! "$ready" 2>/dev/null; then
        tail -n 20 "$log_file" >&2 || true
        die "$label did not become ready (log: $log_file)"
    fi
}

# daemon_stop LABEL PID_FILE MARKER READY_COMMAND [SIGNAL]: stop our daemon with SIGNAL
# (default TERM) and wait until it is gone; after READY_TIMEOUT seconds SIGKILL it, saying
# so. A server of someone else's answering on the port is left alone (and said so).
daemon_stop() {
    local label="$1" pid_file="$2" marker="$3" ready="$4" signal="${5:-TERM}" pid
    if ! pid="$(daemon_pid "$pid_file" "$marker")"; then
        log "$label: not running from this checkout (no live pid of ours in $pid_file)"
        rm -f "$pid_file"
        if "$ready" 2>/dev/null; then
            log "note: something else answers where $label would; not ours, left alone"
        fi
        return 0
    fi
    log "stopping $label (pid $pid, SIG$signal)"
    kill "-$signal" "$pid" 2>/dev/null || true
    if ! wait_until "$READY_TIMEOUT" "$label (pid $pid) to exit" pid_gone "$pid"; then
        log "$label (pid $pid) outlived SIG$signal for ${READY_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_until "$READY_TIMEOUT" "$label (pid $pid) to exit after SIGKILL" pid_gone "$pid" \
            || die "$label (pid $pid) survived SIGKILL"
    fi
    rm -f "$pid_file"
}

# daemon_status LABEL WHERE PID_FILE MARKER READY_COMMAND DETAILS: one status line.
daemon_status() {
    local label="$1" where="$2" pid_file="$3" marker="$4" ready="$5" details="$6" pid
    if ! "$ready" 2>/dev/null; then
        echo "$label: not running on $where"
    elif pid="$(daemon_pid "$pid_file" "$marker")"; then
        echo "$label: running on $where, pid $pid, $details"
    else
        echo "$label: running on $where, not started from this checkout"
    fi
}
