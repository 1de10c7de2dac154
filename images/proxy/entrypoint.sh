#!/bin/sh
# Render squid.conf, then run squid in the foreground; its log files are
# followed on stdout so that `docker compose logs proxy` shows them (squid
# cannot reopen /dev/stdout after dropping privileges).
set -eu
vars='${LAB_DOMAIN} ${LAB_DNS_IP} ${LAB_SUBNET}'
envsubst "$vars" < /etc/lab/squid.conf.template > /etc/squid/squid.conf
install -d -o proxy -g proxy /var/log/squid
for log in access.log cache.log; do
    install -o proxy -g proxy -m 644 /dev/null "/var/log/squid/$log"
done
squid -k parse -f /etc/squid/squid.conf 2>&1 | grep -E 'ERROR|FATAL' && exit 1
tail -q -n +1 -F /var/log/squid/cache.log /var/log/squid/access.log &
exec squid -N -f /etc/squid/squid.conf
