#!/bin/sh
# Start dockerd on tcp://0.0.0.0:2375 (no TLS: reachable only from this machine's
# docker bridge) and on /var/run/docker.sock, and sshd when given a key. Storage: overlay2 when the filesystem
# under /var/lib/docker takes an overlay mount (a volume does; the container's own
# overlay root does not), else vfs. DOCKERD_STORAGE_DRIVER forces one.
set -eu

# /sys and the cgroups writable (prepare.sh, shared with bench/fresh_machine.py).
/usr/local/bin/dind-prepare

overlay_works() {
    probe=$(mktemp -d /var/lib/docker/overlay-probe.XXXXXX)
    mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay \
        -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        rm -rf "$probe"
        return 0
    fi
    rm -rf "$probe"
    return 1
}

driver=${DOCKERD_STORAGE_DRIVER:-}
if [ -z "$driver" ]; then
    if overlay_works; then driver=overlay2; else driver=vfs; fi
fi
echo "dind: storage driver $driver" >&2

# SSH (Docker's ssh:// transport): only with a key given, and only that key.
if [ -n "${SSH_AUTHORIZED_KEY:-}" ]; then
    install -d -m 700 /root/.ssh
    printf '%s\n' "$SSH_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
    ssh-keygen -A >/dev/null
    install -d -m 755 /run/sshd
    /usr/sbin/sshd -o PasswordAuthentication=no -o PermitRootLogin=prohibit-password
fi

rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd \
    --host=unix:///var/run/docker.sock \
    --host=tcp://0.0.0.0:2375 \
    --tls=false \
    --storage-driver="$driver" \
    "$@"
