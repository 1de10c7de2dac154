#!/bin/sh
# Run samba in the foreground at once, logging to stdout (docker compose logs dc), and
# beside its start: apply the configuration's users and passwords and export the
# proxy's keytab (apply_users.py), and register the DC's records in bind. The health
# check waits for the mark both leave: nothing is ready before both are.
set -eu
# Who may reach the published LDAP and Kerberos ports: samba has no client list of its
# own, so the container's firewall holds them to LAB_ADMITTED (lab.config.model's
# `admitted`: anyone while the lab is published on loopback) and rejects the rest.
if [ "$LAB_ADMITTED" != "0.0.0.0/0" ]; then
    iptables -F INPUT
    for rule in "tcp $LAB_CPORT_LDAP" "tcp $LAB_CPORT_KERBEROS" "udp $LAB_CPORT_KERBEROS"; do
        set -- $rule
        for network in $(echo "$LAB_ADMITTED" | tr ',' ' '); do
            iptables -A INPUT -p "$1" --dport "$2" -s "$network" -j ACCEPT
        done
        iptables -A INPUT -p "$1" --dport "$2" -j REJECT
    done
    echo "dc: LDAP and Kerberos admit only $LAB_ADMITTED" >&2
fi
shared=/lab-shared
# The volume outlives a recreated DC: replace the previous DC's files before samba
# answers, so a proxy that has seen this DC answer and then finds them finds this
# DC's: the proxy's machine account (provision.sh) at once, the keytab of squid's
# Negotiate once apply_users.py has exported it, and `dc-ready` once it is.
rm -f "$shared/HTTP.keytab" "$shared/proxy-odj.txt" "$shared/dc-ready"
install -m 600 /etc/lab/proxy-odj.txt "$shared/proxy-odj.txt.new"
mv "$shared/proxy-odj.txt.new" "$shared/proxy-odj.txt"     # whole or not at all
ready=/run/lab-ready
rm -f "$ready"                       # a restarted container: everything afresh

# AD clients find the DC through its records in bind (_ldap, _kerberos, _kpasswd, the
# PDC, the sites): samba's own list, made at build time (provision.sh), sent to bind in
# one update as soon as bind answers, without a ticket (bind takes updates from the
# DC's address). samba's own dnsupdate service would send them a few seconds after its
# start, one update each (its `--no-credentials` is broken in 4.17).
register_dns() {
    deadline=$(($(date +%s) + 60))
    update="$(sed "s/ 192\.0\.2\.11\$/ $LAB_DC_IP/" /etc/lab/dns-records | {
        echo "server $LAB_DNS_IP $LAB_CPORT_DNS"
        echo "zone $LAB_DOMAIN"
        while read -r type name target port; do
            case "$type" in
                A) echo "update add $name 900 A $target" ;;
                CNAME) echo "update add $name 900 CNAME $target." ;;
                SRV) echo "update add $name 900 SRV 0 100 $port $target." ;;
            esac
        done
        echo send; })"
    # bind starts alongside: until it answers, an update is lost; bounded
    until said="$(echo "$update" | nsupdate -t 1 -u 1 2>&1)"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "the DC's DNS records did not reach bind at $LAB_DNS_IP within 60 s: $said" >&2
            return 1
        fi
        sleep 0.1
    done
}
prepare() {
    register_dns &
    registering=$!
    python3 /etc/lab/apply_users.py "$shared/HTTP.keytab" ||
        { echo "applying the users and passwords of /etc/lab/lab.toml failed" >&2; return 1; }
    wait "$registering" || return 1
    # An SMB session to this DC (how the proxy's winbindd reaches it) needs the DC's own
    # winbindd, which samba starts last: a member that tries before is refused, and
    # goes offline for a while. Ready means it answers.
    deadline=$(($(date +%s) + 60))
    until timeout 3 wbinfo -P >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "the DC's winbindd did not answer within 60 s" >&2
            return 1
        fi
        sleep 0.05
    done
    touch "$ready" "$shared/dc-ready" || return 1
    echo "dc: ready" >&2            # `lab up` runs the health check from this line on
}
# A failure stops the DC (tini, PID 1, passes the TERM to samba): `lab up` then names
# the DC and shows the line, rather than the proxy waiting in vain.
( prepare || kill -TERM 1 ) &
# Every authentication, refused or not, one line each on stdout (`lab watch`): level 2
# logs refusals, 3 successes too; nothing else is raised.
# Only the services a lab uses: LDAP, the KDC, RPC (NETLOGON for NTLM through the proxy's
# winbind), CLDAP (the DC locator), SMB and winbindd (how the proxy's winbindd reaches
# the DC). A single DC replicates nothing (drepl, kcc), its records are registered above
# (dnsupdate), and no client here speaks NetBIOS, WINS or signed NTP. One process for
# them all (`-M single`, which Samba meant for tests: a slow request holds up the
# others): a lab's load is a few hundred requests at once, each served in a millisecond
# or so, and every pre-forked worker held its own copy of the directory (~45 MB in all).
exec samba --foreground --no-process-group --debug-stdout --option="log level = 0 auth_audit:3" \
    --option="server services = s3fs, rpc, ldap, cldap, kdc, winbindd" --model=single
