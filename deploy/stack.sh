#!/usr/bin/env bash
# Local service stack for the help desk: everything the tests and `deploy/run.sh`
# need, installed and started on 127.0.0.1 only, with all state under the
# git-ignored `.stack/` directory of the repository.
#
#   deploy/stack.sh up       install what is missing, start what is not running (idempotent)
#   deploy/stack.sh down     stop what this script started (each stop waits until the process is gone)
#   deploy/stack.sh status   show what runs, with ports
#   deploy/stack.sh env      print `export` lines; use as: eval "$(deploy/stack.sh env)"
#
# The components (`help` lists them) are one file each, deploy/stack/components/<name>.sh, started
# in the order of COMPONENTS below (`down` stops in reverse); the shared helpers (and the one way
# a daemon is started, stopped and reported from its pid file) are in deploy/stack/lib.sh.
# Every environment variable the stack reads (ports: `in`) or exports (`out`) is declared,
# with its meaning and default, in deploy/stack/variables; `help` lists them.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/lib.sh"

# Order = start order; `down` stops in reverse. A component's file defines some of
# <name>_install, <name>_start, <name>_stop, <name>_status (required) and <name>_env.
COMPONENTS=(venv vectors postgres nats smtp oidc dovecot browser lint)

for component in "${COMPONENTS[@]}"; do
    # shellcheck source=/dev/null # each component file is checked on its own (deploy/lint-shell.sh)
    source "$STACK_LIB_DIR/components/$component.sh"
done
unset component

# run_hook COMPONENT HOOK: run COMPONENT_HOOK if the component has one.
run_hook() {
    if declare -F "$1_$2" >/dev/null; then
        "$1_$2"
    elif [[ "$2" == status ]]; then
        die "component $1 has no $1_status (deploy/stack/components/$1.sh)"
    fi
}

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
    for c in "${COMPONENTS[@]}"; do run_hook "$c" install; done
    for c in "${COMPONENTS[@]}"; do run_hook "$c" start; done
    log "up"
}

cmd_down() {
    lock_stack
    local i
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do run_hook "${COMPONENTS[i]}" stop; done
    log "down"
}

cmd_status() {
    local c
    for c in "${COMPONENTS[@]}"; do run_hook "$c" status; done
}

# Every `out` name of deploy/stack/variables, or an error (export_line refuses the others).
cmd_env() {
    local lines c name missing=()
    lines="$(for c in "${COMPONENTS[@]}"; do run_hook "$c" env; done)"
    for name in $(stack_variables out); do
        grep -q "^export $name=" <<<"$lines" || missing+=("$name")
    done
    ((${#missing[@]} == 0)) || die "declared \`out\` in $STACK_VARIABLES but exported by no component: ${missing[*]}"
    printf '%s\n' "$lines"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    printf '\nComponents, in start order (their file headers):\n'
    local c
    for c in "${COMPONENTS[@]}"; do
        sed -n '2,/^[^#]/{/^#/!d; s/^# \{0,1\}/  /; p}' "$STACK_LIB_DIR/components/$c.sh"
    done
    printf '\nEnvironment variables (%s):\n' "${STACK_VARIABLES#"$ROOT/"}"
    grep -v '^[[:space:]]*#' "$STACK_VARIABLES" | sed '/^[[:space:]]*$/d; s/^/  /'
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
