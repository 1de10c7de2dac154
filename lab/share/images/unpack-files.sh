#!/bin/sh
# The files `lab up` hands this container (its TLS material, PACs, configuration:
# lab.stack.state_files), unpacked into /etc/lab at each start, then the container's own
# command. They come as one gzipped tar archive in one compose config (why: the module).
set -eu
base64 -d /etc/lab/files.tgz.b64 | tar -xz -C /etc/lab
exec "$@"
