# shellcheck shell=bash
# Component browser: what the portal's browser tests (tests/browser) need. Debian's chromium,
# driven by npm playwright-core (never `npx playwright install`, which downloads a browser),
# and the npm packages of tests/browser from its committed lockfile (`npm ci` when its
# node_modules is missing or older than the lockfile). Nothing runs.

BROWSER_TESTS_DIR="$ROOT/tests/browser"
CHROMIUM_BIN=/usr/bin/chromium

browser_install() {
    [[ -x "$CHROMIUM_BIN" ]] || apt_install chromium
    [[ -x "$CHROMIUM_BIN" ]] || die "chromium installed but $CHROMIUM_BIN is missing"
    [[ -f "$BROWSER_TESTS_DIR/package-lock.json" ]] || return 0
    need_node
    # npm ci writes node_modules/.package-lock.json: missing, or older than the lockfile, means
    # the packages are absent or stale.
    local installed="$BROWSER_TESTS_DIR/node_modules/.package-lock.json"
    if [[ ! -f "$installed" ]] || [[ "$BROWSER_TESTS_DIR/package-lock.json" -nt "$installed" ]]; then
        log "npm ci (in $BROWSER_TESTS_DIR)"
        (cd "$BROWSER_TESTS_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
            || die "npm ci in $BROWSER_TESTS_DIR failed"
    fi
}

browser_status() {
    local modules="installed"
    [[ -f "$BROWSER_TESTS_DIR/node_modules/.package-lock.json" ]] || modules="missing"
    if [[ -x "$CHROMIUM_BIN" ]]; then
        echo "browser: $("$CHROMIUM_BIN" --version 2>/dev/null || echo chromium) at $CHROMIUM_BIN, tests/browser node_modules $modules"
    else
        echo "browser: chromium missing ($CHROMIUM_BIN; deploy/stack.sh up installs it), tests/browser node_modules $modules"
    fi
}

browser_env() { export_line HD_CHROMIUM "$CHROMIUM_BIN"; }
