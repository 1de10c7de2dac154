#!/bin/sh
# Render the configuration, join the domain offline (for NTLM), start winbind, then
# run squid in the foreground; its log files are followed on stdout so that
# `docker compose logs proxy` shows them (squid cannot reopen /dev/stdout
# after dropping privileges).
set -eu
# dante writes a port range with spaces around its dash
export LAB_HOST_PORTS_DANTE="$(echo "$LAB_HOST_PORTS" | sed 's/-/ - /')"
# Every LAB_* variable compose passes in, and nothing else, is substituted.
vars=$(env | sed -n 's/^\(LAB_[A-Z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
envsubst "$vars" < /etc/lab/squid.conf.template > /etc/squid/squid.conf
envsubst "$vars" < /etc/lab/smb.conf.template > /etc/samba/smb.conf
envsubst "$vars" < /etc/lab/krb5.conf.template > /etc/krb5.conf
envsubst "$vars" < /etc/lab/danted.conf.template > /etc/danted.conf

# Users and passwords, from the configuration `lab up` handed this container (never in
# the image): squid's htpasswd and LDAP bind password, the health check's users, and
# dante's users (system users, no home, no shell, with the htpasswd users' passwords).
(cd /opt/lab && python3 -m lab.config.render /etc/lab/lab.toml)
cut -d: -f1 /etc/lab/socks-users | while read -r user; do
    id -u "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$user"
done
chpasswd --crypt-method SHA512 < /etc/lab/socks-users
rm -f /etc/lab/socks-users

# SOCKS5 needs nothing from the DC: start it first, so it is up while the DC starts.
danted -f /etc/danted.conf &

# TLS inspection: squid's copy of the corporate CA (key + certificate), and a fresh
# certificate database (its certificates are signed by the CA mounted now).
install -o proxy -g proxy -m 600 /etc/lab/bump-ca.pem /etc/squid/bump-ca.pem
rm -rf /var/lib/squid/ssl_db
install -d -o proxy -g proxy /var/lib/squid
setpriv --reuid=proxy --regid=proxy --init-groups \
    /usr/lib/squid/security_file_certgen -c -s /var/lib/squid/ssl_db -M 4MB >/dev/null

# Every wait below is bounded by one deadline, 60 s from here, not by a count of
# tries: a failed try may take 1 ms or 1 s.
deadline=$(( $(date +%s) + 60 ))
in_time() { [ "$(date +%s)" -lt "$deadline" ]; }

# The DNS and the DC start alongside. First the DC's name, through the resolver
# every tool here uses (docker's, forwarding to bind), each try cut at 0.5 s: a
# lookup sent while bind is still starting is lost, and waits out the resolver's 5 s.
until timeout 0.5 getent hosts "$LAB_DC_FQDN" >/dev/null; do
    in_time || { echo "${LAB_DC_FQDN} did not resolve (bind at $LAB_DNS_IP) within 60 s of the proxy's start" >&2; exit 1; }
    sleep 0.1
done
# Then the DC's LDAP: a DC that answers has replaced a previous DC's files in the
# shared volume with its own.
until ldapsearch -x -H "ldap://${LAB_DC_FQDN}" -b '' -s base defaultNamingContext >/dev/null 2>&1; do
    in_time || { echo "the DC ${LAB_DC_FQDN} did not answer LDAP within 60 s of the proxy's start" >&2; exit 1; }
    sleep 0.1
done

# Joined to the domain offline: the machine account the DC's image was provisioned
# with (provision.sh), its secrets from the file the DC shares. No network, and no
# Administrator password here.
out=$(net offlinejoin requestodj loadfile=/lab-shared/proxy-odj.txt 2>&1) ||
    { echo "joining the domain from the DC's /lab-shared/proxy-odj.txt failed: $out" >&2; exit 1; }
# winbindd reaches the DC through an SMB session, which the DC takes once it is ready
# (tried before, winbindd goes offline for a while). A ready DC has also exported the
# keytab squid's Negotiate reads.
until [ -e /lab-shared/dc-ready ]; do
    in_time || { echo "the DC ${LAB_DC_FQDN} was not ready within 60 s of the proxy's start" >&2; exit 1; }
    sleep 0.05
done
winbindd --foreground --no-process-group --debug-stdout &
winbindd_pid=$!
# winbindd offers no readiness event. Its first contact may fail while a DC that has
# just started still brings up its RPC services; smb.conf's short reconnect delay makes
# it try again within seconds. Each ping is cut at 3 s, and a winbindd gone is an error.
reach_dc() {
    until timeout 3 wbinfo -P >/dev/null 2>&1; do
        kill -0 "$winbindd_pid" 2>/dev/null || { echo "winbindd exited before it reached the DC" >&2; return 1; }
        in_time || { echo "winbind did not reach the DC ${LAB_DC_FQDN} within 60 s of the proxy's start" >&2; return 1; }
        sleep 0.1
    done
}

# squid refuses to start while its PID file names a live process, and it may name this
# very shell's PID: a container killed (not stopped) and started again keeps the file.
pid_file=$(sed -n 's/^pid_filename //p' /etc/squid/squid.conf)
rm -f "$pid_file"
install -d -o proxy -g proxy /var/log/squid
for log in access.log cache.log lab.log; do
    install -o proxy -g proxy -m 644 /dev/null "/var/log/squid/$log"
done
squid -k parse -f /etc/squid/squid.conf 2>&1 | grep -E 'ERROR|FATAL' && exit 1
# squid keeps every helper it has started (5.7 retires none): fifty NTLM handshakes at
# once leave fifty ntlm_auth, ~2.3 MB each, for the lab's life. So once no request has
# ended (access.log is written as one does) for a poll's while, QUIET s, after some, and
# more authentication helpers run than squid starts with, squid is sent its rotate signal
# (`squid -k rotate`), which restarts its helpers, as a company proxy's nightly log
# rotation does. A helper busy with a request or reserved for a handshake finishes it
# first (squid's rule); a burst after that starts helpers again on demand. Between the
# bursts of a test run this happens too: harmless, and the next burst starts afresh.
QUIET=3
retire_idle_helpers() {
    startup=0
    for n in $(sed -n 's/^auth_param [a-z]* children .*startup=\([0-9]*\).*/\1/p' /etc/squid/squid.conf); do
        startup=$((startup + n))
    done
    # the helpers' process ids (the Basic dispatchers are this container's only python3
    # once it runs), read with the shell's own `read`: no process per file
    helpers() {
        for comm in /proc/[0-9]*/comm; do
            read -r name 2>/dev/null < "$comm" || continue
            case $name in ntlm_auth|negotiate_kerbe|python3) pid=${comm#/proc/}; echo "${pid%/comm}";; esac
        done
    }
    count() { grep -c . || true; }
    gone() { for pid in $1; do [ -e "/proc/$pid" ] && return 1; done; return 0; }
    last='' settled=''
    while sleep "$QUIET"; do
        size=$(stat -c %s /var/log/squid/access.log 2>/dev/null) || continue
        if [ "$size" = "$last" ] && [ "$size" != "$settled" ]; then
            old=$(helpers)
            running=$(echo "$old" | count)
            if [ "$running" -le "$startup" ]; then
                settled=$size
            elif kill -USR1 "$(cat "$pid_file" 2>/dev/null)" 2>/dev/null; then
                settled=$size
                # said once the retired ones are gone and squid's new ones run (bounded: 5 s;
                # one busy with a request, or reserved for a handshake, may take longer)
                tries=25
                until { gone "$old" && [ "$(helpers | count)" -ge "$startup" ]; } ||
                      [ "$tries" -eq 0 ]; do
                    tries=$((tries - 1))
                    sleep 0.2
                done
                echo "proxy: no request for ${QUIET} s: $running authentication helpers retired, $(helpers | count) running (squid -k rotate)"
            fi
        fi
        last=$size
    done
}
retire_idle_helpers &
# squid starts while winbindd makes its first contact with the DC (~0.2 s each, side by
# side, once the DC is ready). The proxy is ready when both are: squid accepting, and
# winbindd's channel to the DC open (NTLM needs it). `lab up` runs the health check from
# this line on. A failure kills squid ($$, the shell it replaced) at once, so that no
# shutdown lines follow the reason: tini then ends the container, and `lab up` shows
# the reason among the proxy's last lines.
announce_ready() {
    reach_dc || return 1
    until grep -q "Accepting .*HTTP Socket connections" /var/log/squid/cache.log; do
        in_time || { echo "squid did not accept connections within 60 s of the proxy's start" >&2; return 1; }
        sleep 0.05
    done
    echo "proxy: ready"
}
( announce_ready || kill -KILL $$ ) &
# -s 0.1: tail polls (no inotify on the container's layers), by default once a second
tail -q -s 0.1 -n +1 -F /var/log/squid/cache.log /var/log/squid/access.log &
exec squid -N -f /etc/squid/squid.conf
