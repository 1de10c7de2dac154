#!/bin/sh
# Render named.conf and, on first start only, the zone (a restart keeps the
# zone and its journal, so the DC's dynamic records survive), then run named.
set -eu
vars='${LAB_DOMAIN} ${LAB_DNS_HOSTNAME} ${LAB_DC_HOSTNAME} ${LAB_PROXY_HOSTNAME} ${LAB_DNS_IP} ${LAB_DC_IP} ${LAB_PROXY_IP} ${LAB_WEB_IP} ${LAB_CPORT_DNS}'
envsubst "$vars" < /etc/lab/named.conf.template > /etc/bind/named.conf
zone="/var/lib/bind/db.${LAB_DOMAIN}"
if [ ! -e "$zone" ]; then
    envsubst "$vars" < /etc/lab/zone.template > "$zone"
fi
chown bind:bind "$zone" /var/lib/bind
mkdir -p /run/named && chown bind:bind /run/named
named-checkconf /etc/bind/named.conf
named-checkzone -q "${LAB_DOMAIN}" "$zone"
exec named -g -u bind -c /etc/bind/named.conf
