# shellcheck shell=bash
# Component lint: Debian's shellcheck, which deploy/test.sh runs on every shell script of
# the repository (deploy/lint-shell.sh) before the cargo steps. Nothing runs.

lint_install() { need_command shellcheck shellcheck; }

lint_status() {
    if command -v shellcheck >/dev/null 2>&1; then
        echo "lint: shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
    else
        echo "lint: shellcheck missing (deploy/stack.sh up installs it)"
    fi
}
