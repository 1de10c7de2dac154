#!/bin/sh
# The same client as a shell script: curl reads the proxy and CA variables itself.
# --proxy-anyauth lets curl answer Basic, NTLM or Negotiate as the proxy asks; -U :
# enables Negotiate from the Kerberos ticket cache; -f makes a 407/403 a failure.
#     sh sync.sh URL DIRECTORY
set -eu
[ $# -eq 2 ] || { echo "usage: sh sync.sh URL DIRECTORY" >&2; exit 2; }
url=$1 directory=$2
name=$(basename "${url%%\?*}")
mkdir -p "$directory"
tmp=$(mktemp "$directory/.$name.XXXXXX")
trap 'rm -f "$tmp"' EXIT
curl -fsS --max-time 15 --proxy-anyauth -U : -o "$tmp" "$url"
mv -f "$tmp" "$directory/$name"
trap - EXIT
echo "sync.sh: $directory/$name"
