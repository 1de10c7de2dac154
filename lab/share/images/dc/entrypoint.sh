#!/bin/sh
# Apply the configuration's users and passwords (apply_users.py, while bind starts),
# export the proxy's keytab (its HTTP principals) to the volume the proxy mounts, then
# run samba in the foreground, logging to stdout (docker compose logs dc).
# The export runs beside samba's start rather than before it: samba-tool takes
# ~0.3 s a call, and the proxy needs the keytab only for squid's Negotiate, after
# its own domain join (which needs samba answering).
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
keytab=/lab-shared/HTTP.keytab
# The volume outlives a recreated DC: remove the previous DC's keytab now, before
# samba answers, so a proxy that sees a keytab after its join sees this DC's.
rm -f "$keytab"
export_keytab() {
    rm -f "$keytab.new" &&
    samba-tool domain exportkeytab "$keytab.new" --principal="HTTP/${LAB_PROXY_FQDN}" >/dev/null &&
    # the name host clients use (lab matrix's negotiate scenario); exportkeytab appends
    samba-tool domain exportkeytab "$keytab.new" --principal="HTTP/localhost" >/dev/null &&
    # with a remote engine, clients call the proxy by the engine's host: its SPN too
    { [ "${LAB_PUBLIC_HOST}" = 127.0.0.1 ] || {
        { samba-tool spn list "${LAB_PROXY_SERVICE_ACCOUNT}" | grep -qi "HTTP/${LAB_PUBLIC_HOST}\$" ||
          samba-tool spn add "HTTP/${LAB_PUBLIC_HOST}" "${LAB_PROXY_SERVICE_ACCOUNT}" >/dev/null; } &&
        samba-tool domain exportkeytab "$keytab.new" --principal="HTTP/${LAB_PUBLIC_HOST}" >/dev/null; }; } &&
    chmod 644 "$keytab.new" &&   # squid's helper runs as user proxy; a test lab
    mv -f "$keytab.new" "$keytab"
}
# Ready means more than answering: AD clients find the DC through the records samba
# registers in bind (samba_dnsupdate, a moment after it starts; _kpasswd, the PDC, the
# sites). The healthcheck waits for this mark, set once bind answers every record of
# samba's own list (dns_update_cache, rewritten at the end of each samba_dnsupdate pass).
dns_cache=/var/lib/samba/private/dns_update_cache
registered=/run/lab-dns-registered
rm -f "$dns_cache" "$registered"   # a restarted container: check bind afresh
missing_records() {
    [ -s "$dns_cache" ] || { echo "samba_dnsupdate has not finished a pass"; return; }
    while read -r type name _; do
        dig +short +time=1 +tries=1 -p "$LAB_CPORT_DNS" @"$LAB_DNS_IP" "$name" "$type" |
            grep -q . || echo "$type $name"
    done <"$dns_cache"
}
await_dns_registration() {
    deadline=$(($(date +%s) + 60))
    next_pass=$(($(date +%s) + 5))     # samba's own first pass, a moment after it starts
    said=""
    while missing="$(missing_records)" && [ -n "$missing" ]; do
        now=$(date +%s)
        if [ "$now" -ge "$deadline" ]; then
            echo "samba's DNS records did not reach bind at $LAB_DNS_IP within 60 s; missing:" \
                 $missing${said:+; samba_dnsupdate said: $said} >&2
            kill -TERM 1
            return
        fi
        # a pass that failed (the KDC not answering yet under load, part of it refused) is
        # run again here, every 3 s, not at samba's next (10 min)
        if [ "$now" -ge "$next_pass" ]; then
            said="$(samba_dnsupdate 2>&1 | tail -n 2 | tr '\n' ' ')" || true
            next_pass=$((now + 3))
        fi
        sleep 0.2
    done
    touch "$registered"
}
python3 /etc/lab/apply_users.py &
applying=$!
# samba registers its dynamic records in bind as it starts: let bind answer first
# (it starts alongside; bounded, as bind offers no readiness event)
tries=0
until dig +short +time=1 +tries=1 -p "$LAB_CPORT_DNS" @"$LAB_DNS_IP" "$LAB_DOMAIN" SOA | grep -q .; do
    tries=$((tries + 1))
    [ "$tries" -le 300 ] || { echo "bind at $LAB_DNS_IP did not answer within 30 s" >&2; exit 1; }
    sleep 0.1
done
wait "$applying" || { echo "applying the users and passwords of /etc/lab/lab.toml failed" >&2; exit 1; }
# A failed export stops the DC (tini, PID 1, passes the TERM to samba): `lab up`
# then names the DC and shows this line, rather than the proxy waiting in vain.
( export_keytab || { echo "exporting the proxy's keytab to $keytab failed" >&2; kill -TERM 1; } ) &
await_dns_registration &
# Every authentication, refused or not, one line each on stdout (`lab watch`): level 2
# logs refusals, 3 successes too; nothing else is raised.
# Only the services a lab uses: LDAP, the KDC, RPC (NETLOGON for NTLM through the proxy's
# winbind), CLDAP (the DC locator), SMB and winbindd (the proxy's join), dnsupdate (its
# records in bind). A single DC replicates nothing (drepl, kcc), and no client here speaks
# NetBIOS, WINS or signed NTP. Two workers per pre-forked service carry the suite's
# load; each more holds its own memory.
exec samba --foreground --no-process-group --debug-stdout --option="log level = 0 auth_audit:3" \
    --option="server services = s3fs, rpc, ldap, cldap, kdc, winbindd, dnsupdate" \
    --option="prefork children = 2"
