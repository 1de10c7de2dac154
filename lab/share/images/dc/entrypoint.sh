#!/bin/sh
# Export the proxy's keytab (both its principals) to the volume the proxy mounts
# (fresh keys on every start, so a recreated DC never leaves the proxy a stale
# keytab), then run samba in the foreground, logging to stdout (docker compose logs dc).
set -eu
keytab=/lab-shared/HTTP.keytab
rm -f "$keytab.new"
samba-tool domain exportkeytab "$keytab.new" --principal="HTTP/${LAB_PROXY_FQDN}" >/dev/null
# the name host clients use (lab matrix's negotiate scenario); exportkeytab appends
samba-tool domain exportkeytab "$keytab.new" --principal="HTTP/localhost" >/dev/null
# with a remote engine, clients call the proxy by the engine's host: its SPN too
if [ "${LAB_PUBLIC_HOST}" != 127.0.0.1 ]; then
    samba-tool spn list "${LAB_PROXY_SERVICE_ACCOUNT}" | grep -qi "HTTP/${LAB_PUBLIC_HOST}\$" \
        || samba-tool spn add "HTTP/${LAB_PUBLIC_HOST}" "${LAB_PROXY_SERVICE_ACCOUNT}" >/dev/null
    samba-tool domain exportkeytab "$keytab.new" --principal="HTTP/${LAB_PUBLIC_HOST}" >/dev/null
fi
chmod 644 "$keytab.new"          # squid's helper runs as user proxy; a test lab
mv -f "$keytab.new" "$keytab"
# samba registers its dynamic records in bind as it starts: let bind answer first
# (it starts alongside; bounded, as bind offers no readiness event)
tries=0
until dig +short +time=1 +tries=1 -p "$LAB_CPORT_DNS" @"$LAB_DNS_IP" "$LAB_DOMAIN" SOA | grep -q .; do
    tries=$((tries + 1))
    [ "$tries" -le 300 ] || { echo "bind at $LAB_DNS_IP did not answer within 30 s" >&2; exit 1; }
    sleep 0.1
done
exec samba --foreground --no-process-group --debug-stdout
