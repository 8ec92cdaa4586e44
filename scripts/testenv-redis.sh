#!/usr/bin/env bash
# Installs Debian's redis-server for the Redis job store tests (store/redis),
# idempotently. It starts no service: each test starts its own server on
# 127.0.0.1 with a free port and a temp dir. Needs root to install.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "redis-server is missing; run this script as root (or: apt-get install redis-server)"
  exit 1
fi
log "installing redis-server"
apt-get update -qq
# policy-rc.d: a package's maintainer script must not start the system
# service; only a policy-rc.d we created ourselves is removed afterwards.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ -z "$created_policy" ] || rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null 2>&1 || { log "redis-server not found after install"; exit 1; }
log "redis-server ready: $(redis-server --version)"
