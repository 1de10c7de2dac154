#!/bin/sh
# Make a container started with privilege_options() (harness/second_engine.py)
# able to run dockerd: what a machine's boot (systemd) or `--privileged` would give.
# Used by entrypoint.sh here, and by bench/fresh_machine.py as its machine's "boot".
set -eu

# --privileged gives /sys and the cgroup v1 hierarchies read-write. Where the
# machine's capability bounding set lacks a capability (runc then refuses
# --privileged), the container is started with every other capability and no seccomp
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
