#!/usr/bin/env bash
# Installs the PAM development files (Debian libpam0g-dev) that the optional
# PAM authenticator needs to build (`-tags pam`, cgo), idempotently. The
# tests write their own PAM service files in a temporary directory; nothing
# under /etc/pam.d is created or changed.
# Needs root for the install; safe to run again.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

if [ -f /usr/include/security/pam_appl.h ]; then
  log "libpam0g-dev present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "missing package: libpam0g-dev; run this script as root (or: apt-get install libpam0g-dev)"
  exit 1
fi
log "installing libpam0g-dev"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends libpam0g-dev >/dev/null
[ -f /usr/include/security/pam_appl.h ] || { log "libpam0g-dev did not install"; exit 1; }
log "libpam0g-dev installed"
