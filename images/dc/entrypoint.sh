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
chmod 644 "$keytab.new"          # squid's helper runs as user proxy; a test lab
mv -f "$keytab.new" "$keytab"
exec samba --foreground --no-process-group --debug-stdout
