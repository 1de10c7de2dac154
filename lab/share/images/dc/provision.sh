#!/bin/sh
# Provision the domain once, at image build time (takes ~5 s; a container
# then starts in ~5 s instead of ~12 s). --host-name makes it independent of
# the build container's random hostname.
set -eu
: "${LAB_REALM:?}${LAB_DOMAIN:?}${LAB_WORKGROUP:?}${LAB_DC_HOSTNAME:?}${LAB_DNS_HOSTNAME:?}${LAB_PROXY_NETBIOS_NAME:?build through \`lab up\`}"
rm -f /etc/samba/smb.conf /etc/krb5.conf
# The Administrator password given here is random and kept nowhere, for this build's
# own steps: apply_users.py then gives the account the packaged default's (disabled in
# the image), and each start the configuration's.
build_password="Aa1-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
samba-tool domain provision \
    --realm="$LAB_REALM" --domain="$LAB_WORKGROUP" --server-role=dc \
    --host-name="$LAB_DC_HOSTNAME" \
    --adminpass="$build_password" \
    --use-rfc2307 --dns-backend=NONE \
    --option="server services = -dns" \
    --option="nsupdate command = /usr/bin/nsupdate" \
    --option="acl_xattr:security_acl_name = user.NTACL"
# Not written to smb.conf by --option; without it simple LDAP binds fail.
sed -i '/^\[global\]/a \	ldap server require strong auth = no' /etc/samba/smb.conf
# No LDAPS in the lab (plain LDAP is what it publishes): without this, samba spends
# several seconds of every start generating a self-signed TLS key.
sed -i '/^\[global\]/a \	tls enabled = no' /etc/samba/smb.conf
# An NTLM logon with the previous password is refused at once (AD, and Samba, accept it
# for an hour after a change, 60 minutes by default): the image's accounts have the
# packaged default's public passwords, which a configuration may replace. In smb.conf,
# not on samba's command line, which smbd (its file server) does not read.
sed -i '/^\[global\]/a \	old password allowed period = 0' /etc/samba/smb.conf
cp /var/lib/samba/private/krb5.conf /etc/krb5.conf
# Keep the default complexity rules; only stop lab passwords from expiring.
samba-tool domain passwordsettings set --max-pwd-age=0
# samba_dnsupdate first gets a ticket for DNS/<SOA MNAME>; without this SPN
# every dynamic update aborts.
dc_account="$(echo "$LAB_DC_HOSTNAME" | tr a-z A-Z)\$"
samba-tool spn add "DNS/${LAB_DNS_HOSTNAME}.${LAB_DOMAIN}" "$dc_account"
# The DC's own service names (ldap/, GC/, the replication GUID, ...), which samba's
# dnsupdate service would add at its first start (it does not run here): without
# ldap/<dc>, a Kerberos LDAP bind to the DC (`net ads join`, `ldapsearch -Y GSSAPI`)
# finds no such principal and falls back to NTLM, or fails.
samba_spnupdate >/dev/null
# The records AD clients find the DC by (_ldap, _kerberos, _kpasswd, the PDC, the sites),
# as samba itself would register them, for an address said at each start (192.0.2.11,
# a documentation address, stands for it): the entrypoint sends them to bind at once.
samba_dnsupdate --all-names --current-ip=192.0.2.11 --use-file=/tmp/dns-file \
    --update-cache=/etc/lab/dns-records >/dev/null
rm -f /tmp/dns-file
grep -q "^SRV _kerberos._tcp.${LAB_DOMAIN} ${LAB_DC_HOSTNAME}.${LAB_DOMAIN} 88$" /etc/lab/dns-records

# The proxy's machine account, made once here by Samba's offline domain join: each
# proxy start reads its secrets from the file this leaves (`net offlinejoin requestodj`,
# no network, ~0.1 s) instead of joining the domain again (~0.8 s of the start's
# critical path, and the DC's CPU meanwhile); every container of this image has the
# same account. The file holds its password, as sam.ldb here holds its hash. samba runs
# for this step alone (its own session, so all its processes stop with it), on
# loopback, under the DC's own name (compose's build `extra_hosts`).
setsid samba --foreground --no-process-group \
    --option="server services = s3fs, rpc, ldap, cldap, winbindd" \
    --option="interfaces = lo" --option="bind interfaces only = yes" >/tmp/samba.log 2>&1 &
samba_pid=$!
deadline=$(($(date +%s) + 60))
# until samba answers (it starts beside this), bounded; `reuse`: an earlier try may have
# made the account before it failed
until PASSWD="$build_password" net offlinejoin provision domain="$LAB_DOMAIN" \
        machine_name="$LAB_PROXY_NETBIOS_NAME" dcname="${LAB_DC_HOSTNAME}.${LAB_DOMAIN}" \
        reuse savefile=/etc/lab/proxy-odj.txt -U Administrator --use-kerberos=off \
        >/tmp/odj.log 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        cat /tmp/odj.log /tmp/samba.log >&2
        exit 1
    fi
    sleep 0.2
done
kill -TERM "-$samba_pid" 2>/dev/null || true
while kill -0 "-$samba_pid" 2>/dev/null; do           # every process of its session
    if [ "$(date +%s)" -ge "$deadline" ]; then
        kill -KILL "-$samba_pid" 2>/dev/null || true
    fi
    sleep 0.1
done
chmod 600 /etc/lab/proxy-odj.txt
# what that run left: logs, its runtime state and caches (not the directory it changed)
rm -rf /tmp/odj.log /tmp/samba.log /run/samba/* /var/cache/samba/*
