#!/bin/sh
# Render named.conf and, on first start only, the zone (a restart keeps the
# zone and its journal, so the DC's dynamic records survive), then run named.
set -eu
# DNS faults (issue 13): servfail.<domain>'s zone file is junk on purpose, so that
# zone fails to load and bind answers SERVFAIL in it; timeout.<domain> and every
# name under it are dropped by a response policy (no answer at all; named.conf).
printf '; deliberately not a zone file (the servfail fault)\nthis is not a zone\n' \
    > /var/lib/bind/db.servfail
cat > /var/lib/bind/db.dns-faults.rpz <<EOF
\$TTL 300
@   IN SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
@   IN NS  localhost.
timeout.${LAB_DOMAIN}    CNAME rpz-drop.
*.timeout.${LAB_DOMAIN}  CNAME rpz-drop.
EOF
# LAB_ADMITTED "a/8,b/24" -> bind's address match list "a/8; b/24;"
export LAB_ADMITTED_BIND="$(echo "$LAB_ADMITTED" | tr ',' '\n' | sed 's/$/;/' | tr '\n' ' ')"
vars='${LAB_ADMITTED_BIND} ${LAB_DOMAIN} ${LAB_DNS_HOSTNAME} ${LAB_DC_HOSTNAME} ${LAB_PROXY_HOSTNAME} ${LAB_DNS_IP} ${LAB_DC_IP} ${LAB_PROXY_IP} ${LAB_WEB_IP} ${LAB_CPORT_DNS}'
envsubst "$vars" < /etc/lab/named.conf.template > /etc/bind/named.conf
zone="/var/lib/bind/db.${LAB_DOMAIN}"
if [ ! -e "$zone" ]; then
    envsubst "$vars" < /etc/lab/zone.template > "$zone"
    # the web service's other names (lab.config.topology.WEB_ALIASES: wpad for WPAD, ...)
    for alias in ${LAB_WEB_ALIASES}; do
        printf '%-27s IN A   %s\n' "$alias" "$LAB_WEB_IP" >> "$zone"
    done
    # the proxy's alias (lab.config.topology.PROXY_ALIAS): a CNAME, with no SPN of its own
    printf '%-27s IN CNAME %s\n' "$LAB_PROXY_ALIAS" "$LAB_PROXY_HOSTNAME" >> "$zone"
fi
chown bind:bind "$zone" /var/lib/bind /var/lib/bind/db.servfail /var/lib/bind/db.dns-faults.rpz
mkdir -p /run/named /var/log/named && chown bind:bind /run/named /var/log/named
named-checkconf /etc/bind/named.conf
named-checkzone -q "${LAB_DOMAIN}" "$zone"
named-checkzone -q dns-faults.rpz /var/lib/bind/db.dns-faults.rpz
# -f, not -g: -g would send everything to stderr, the query log too
exec named -f -u bind -c /etc/bind/named.conf
