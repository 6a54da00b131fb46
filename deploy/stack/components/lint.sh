# shellcheck shell=bash
# Component lint: Debian's shellcheck, which deploy/test.sh runs on every shell script of
# the repository (deploy/lint-shell.sh) before the cargo steps. Nothing runs.

lint_install() { need_command shellcheck shellcheck; }

shellcheck_version() { shellcheck --version | sed -n 's/^version: /shellcheck /p'; }

lint_status() { installed_status lint "$(command -v shellcheck || echo shellcheck)" shellcheck_version; }
