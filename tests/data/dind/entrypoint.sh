#!/bin/sh
# Start dockerd on tcp://0.0.0.0:2375 (no TLS: reachable only from this machine's
# docker bridge) and on /var/run/docker.sock. Storage: overlay2 when the filesystem
# under /var/lib/docker takes an overlay mount (a volume does; the container's own
# overlay root does not), else vfs. DOCKERD_STORAGE_DRIVER forces one.
set -eu

# --privileged gives /sys and the cgroup v1 hierarchies read-write. Where the
# machine's capability bounding set lacks a capability (runc then refuses
# --privileged), the fixture starts us with every other capability and no seccomp
# profile instead, and the mounts come read-only: make them writable, as dockerd
# needs to make cgroups for its containers.
if grep -q '^sysfs /sys sysfs ro,' /proc/mounts; then
    mount -o remount,bind,rw /sys || mount -o remount,rw /sys
fi
grep ' cgroup ro,' /proc/mounts | while read -r _ dir _; do
    mount -o remount,bind,rw "$dir"
done
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
    mount -t securityfs none /sys/kernel/security 2>/dev/null || true
fi

# cgroup v2: move ourselves out of the root cgroup so that its controllers can be
# delegated to the containers the inner engine makes (nothing to do on cgroup v1).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
        > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || :
fi

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

rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd \
    --host=unix:///var/run/docker.sock \
    --host=tcp://0.0.0.0:2375 \
    --tls=false \
    --storage-driver="$driver" \
    "$@"
