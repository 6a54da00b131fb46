#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository: the files git knows that end in
# `.sh` or start with a sh/bash shebang (deploy/*.sh, deploy/stack/**, .ci/run, ...).
# deploy/test.sh runs it before the cargo steps; `deploy/stack.sh up` installs shellcheck.
# Exits non-zero when shellcheck finds anything. A finding is fixed, or disabled on its
# line with `# shellcheck disable=SCxxxx` and a comment saying why.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

command -v shellcheck >/dev/null 2>&1 || { echo "lint-shell.sh: shellcheck not found (deploy/stack.sh up installs it)" >&2; exit 1; }

scripts=()
while IFS= read -r -d '' file; do
    [[ -f "$file" ]] || continue # deleted in the work tree
    if [[ "$file" == *.sh ]] || head -n 1 "$file" | grep -qE '^#!.*([/ ]|env )(ba)?sh([[:space:]]|$)'; then
        scripts+=("$file")
    fi
done < <(git ls-files -z --cached --others --exclude-standard)

((${#scripts[@]} > 0)) || { echo "lint-shell.sh: no shell scripts found" >&2; exit 1; }
echo "lint-shell.sh: shellcheck ${#scripts[*]} scripts" >&2
shellcheck --external-sources "${scripts[@]}"
