# shellcheck shell=bash
# Component postgres: Debian's PostgreSQL (the highest installed version) as a private
# instance run by the postgres user, on 127.0.0.1 only, with the database `helpdesk`.
# Its root (instance_root pg: .stack/pg, see lib.sh) holds data/ (also the socket
# dir) and postgres.log. It is started with pg_ctl, which knows when the server is up and
# writes data/postmaster.pid itself; it is stopped like every daemon (daemon_stop), with
# SIGINT: PostgreSQL's fast shutdown, what `pg_ctl -m fast stop` sends.

PG_PORT="$(setting HELPDESK_STACK_PG_PORT)"
PG_DB="helpdesk"

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

pg_root_usable() { as_postgres test -x "$STACK_DIR" && socket_fits "$1/data/.s.PGSQL.$PG_PORT"; }

pg_data() { echo "$(instance_root pg)/data"; }

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

postgres_install() {
    if [[ -z "$(pg_bin_dir)" ]]; then
        apt_install postgresql
        [[ -n "$(pg_bin_dir)" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    fi
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (the Debian postgresql package creates it)"
}

postgres_start() {
    local bin root data
    bin="$(pg_bin_dir)"
    if pg_ready; then
        log "postgres already running on 127.0.0.1:$PG_PORT (reused)"
    else
        root="$(choose_instance_root pg pg_root_usable)"
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

pg_ready_if_installed() { [[ -n "$(pg_bin_dir)" ]] && pg_ready; }

postgres_stop() {
    daemon_stop postgres "$(pg_data)/postmaster.pid" "$(pg_data)" pg_ready_if_installed INT
}

postgres_status() {
    daemon_status postgres "127.0.0.1:$PG_PORT" "$(pg_data)/postmaster.pid" "$(pg_data)" pg_ready_if_installed \
        "data $(pg_data), log $(instance_root pg)/postgres.log"
}

postgres_env() {
    export_line HELPDESK_DATABASE__URL "postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
    export_line HELPDESK_TEST_DATABASE_URL "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}
