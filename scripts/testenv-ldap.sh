#!/usr/bin/env bash
# Installs OpenLDAP's slapd and the ldap-utils (slapadd, slappasswd) for the
# LDAP authenticator's tests, idempotently. The tests write their own
# slapd.conf and start slapd themselves on 127.0.0.1, so the package's own
# server must neither be configured nor started:
#   - debconf is told slapd/no_configuration, so the postinst asks nothing and
#     creates no database under /etc/ldap/slapd.d and /var/lib/ldap;
#   - a policy-rc.d that refuses every start is put in place for the install
#     when the machine has none (Debian's invoke-rc.d honours it), and removed
#     afterwards.
# Needs root for the install; safe to run again.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

need_pkgs=()
[ -x /usr/sbin/slapd ] || need_pkgs+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need_pkgs+=(ldap-utils)
if [ ${#need_pkgs[@]} -eq 0 ]; then
  log "slapd and ldap-utils present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "missing packages: ${need_pkgs[*]}; run this script as root (or: apt-get install ${need_pkgs[*]})"
  exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# Temporary, from scripts/testenv-ldap.sh: no service starts while installing.\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

if [[ " ${need_pkgs[*]} " == *" slapd "* ]]; then
  # debconf-set-selections comes with debconf itself (always installed).
  printf '%s\n' \
    'slapd slapd/no_configuration boolean true' \
    | debconf-set-selections
fi

log "installing ${need_pkgs[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
[ -x /usr/sbin/slapd ] || { log "slapd did not install"; exit 1; }
log "slapd and ldap-utils installed (not started; the tests start their own)"
