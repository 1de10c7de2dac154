#!/bin/bash
# Healthy means authentication WORKS, not just that squid answers: a real
# Negotiate and a real NTLM request through the proxy, and one through SOCKS5. A DC that
# cannot authenticate them (gone, frozen, another domain) turns this red. The NTLM one
# goes through winbindd's NETLOGON channel, which the entrypoint opened with the machine
# account's password (`wbinfo -P`). `wbinfo -t` would prove that password again on a
# new channel each time (~0.17 s, most of this check): it alone sees the password
# changed at the DC under an open channel, which nothing in a lab does.
set -euo pipefail
curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:${LAB_CPORT_PROXY_NOAUTH}/squid-internal-mgr/info
. /etc/lab/health-user
url="http://web.${LAB_DOMAIN}/simpleresource"
# A user and password reach curl as a line of its config on standard input (-K -),
# never on its command line, which `ps` shows (in here and on the host).
proxy_user() { local c=${1//\\/\\\\}; printf 'proxy-user = "%s"\n' "${c//\"/\\\"}"; }
export KRB5CCNAME=FILE:/tmp/health.ccache
klist -s 2>/dev/null || echo "$HEALTH_PASSWORD" | kinit "$HEALTH_USER" >/dev/null
curl -fsS -o /dev/null --max-time 3 --proxy-negotiate -U : -x "http://${LAB_PROXY_FQDN}:${LAB_CPORT_PROXY_NEGOTIATE}" "$url"
# SOCKS5 (dante): a real request with an htpasswd user, the name resolved by dante
curl -fsS -o /dev/null --max-time 3 -x "socks5h://127.0.0.1:${LAB_CPORT_SOCKS}" -K - "$url" \
     <<< "$(proxy_user "${SOCKS_USER}:${SOCKS_PASSWORD}")"
curl -fsS -o /dev/null --max-time 3 --proxy-ntlm -x "http://127.0.0.1:${LAB_CPORT_PROXY_NTLM}" \
     -K - "$url" <<< "$(proxy_user "${LAB_WORKGROUP}\\${HEALTH_USER}:${HEALTH_PASSWORD}")"
