#!/bin/sh
# samba in the foreground, logging to stdout (docker compose logs dc).
set -eu
exec samba --foreground --no-process-group --debug-stdout
