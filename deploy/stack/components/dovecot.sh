# shellcheck shell=bash
# Component dovecot: Debian `dovecot-imapd` as a private, unprivileged IMAP(S) instance on
# 127.0.0.1. imap-login refuses to run as root, so the whole instance (master included) runs
# as nobody:nogroup from its own config. Any user name logs in with the password
# DOVECOT_PASSWORD and gets its own Maildir under <root>/mail/<user>, so every test can take
# fresh mailboxes without editing files. Its root (instance_root dovecot: .stack/dovecot, see
# lib.sh) holds dovecot.conf, run/ (base_dir: its unix sockets), state/, tls/ (a test CA and
# the server certificate, made once), mail/<user>/Maildir and dovecot.log.

IMAP_PORT="$(setting HELPDESK_STACK_IMAP_PORT)"
IMAPS_PORT="$(setting HELPDESK_STACK_IMAPS_PORT)"
DOVECOT_PASSWORD="helpdesk"
DOVECOT_PID="$STACK_DIR/dovecot.pid"
DOVECOT_BIN=/usr/sbin/dovecot

as_nobody() { # run a command as nobody:nogroup, from a directory it can enter
    (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups "$@" 9>&-)
}

# The longest of its socket paths is about this one.
dovecot_root_usable() { as_nobody test -x "$STACK_DIR" && socket_fits "$1/run/token-login/imap-urlauth-login"; }

dovecot_ready() { tcp_greets "$IMAP_PORT" "* OK"; } # an IMAP greeting on our port

# Its master's command line names its config, which names its root.
dovecot_marker() { echo "$(instance_root dovecot)/dovecot.conf"; }

dovecot_make_tls() { # dovecot_make_tls ROOT: a test CA and a server certificate for 127.0.0.1 / localhost, once
    local tls="$1/tls"
    [[ -s "$tls/server.pem" && -s "$tls/ca.pem" ]] && return 0
    need_command openssl openssl
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

dovecot_install() {
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

dovecot_start() {
    if dovecot_ready 2>/dev/null; then
        log "dovecot already running on 127.0.0.1:$IMAP_PORT (reused)"
        return 0
    fi
    local root pid
    if pid="$(daemon_pid "$DOVECOT_PID" "$(dovecot_marker)")"; then
        die "dovecot of this checkout already runs (pid $pid) but does not greet on 127.0.0.1:$IMAP_PORT (another HELPDESK_STACK_IMAP_PORT?); run deploy/stack.sh down first"
    fi
    root="$(choose_instance_root dovecot dovecot_root_usable)"
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
    log "starting dovecot (IMAP) on 127.0.0.1:$IMAP_PORT (mail $root/mail, log $root/dovecot.log)"
    daemon_start "the dovecot IMAP greeting on 127.0.0.1:$IMAP_PORT" / "$DOVECOT_PID" "$root/dovecot.log" dovecot_ready -- \
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$DOVECOT_BIN" -c "$root/dovecot.conf" -F
}

dovecot_stop() { daemon_stop dovecot "$DOVECOT_PID" "$(dovecot_marker)" dovecot_ready; }

dovecot_status() {
    local root
    root="$(instance_root dovecot)"
    daemon_status dovecot "127.0.0.1:$IMAP_PORT (IMAP, password $DOVECOT_PASSWORD)" "$DOVECOT_PID" "$(dovecot_marker)" dovecot_ready \
        "mail $root/mail, log $root/dovecot.log"
}

dovecot_env() {
    export_line HELPDESK_TEST_IMAP_PORT "$IMAP_PORT"
    export_line HELPDESK_TEST_IMAP_PASSWORD "$DOVECOT_PASSWORD"
    export_line HELPDESK_TEST_IMAPS_PORT "$IMAPS_PORT"
    export_line HELPDESK_TEST_IMAP_CA "$(instance_root dovecot)/tls/ca.pem"
}
