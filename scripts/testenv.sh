#!/usr/bin/env bash
# Brings up what GoDocker's tests and `make dev` need on this machine,
# idempotently: the Docker engine (Debian docker.io, started by hand when no
# engine answers), the local test image (no registry is reachable: built from
# Debian's busybox-static and bash-static), two test users, and the
# engine as a one-node Swarm manager (testenv-swarm.sh).
# Needs root for the installs; safe to run again.
set -euo pipefail

IMAGE="${GOD_TEST_IMAGE:-godocker/bash:local}"
log() { printf '==> %s\n' "$*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
[ -x /bin/bash-static ] || need_pkgs+=(bash-static)
command -v docker >/dev/null 2>&1 || need_pkgs+=(docker.io)
# The engine-restart tests start a private dockerd on a bridge of their own.
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing packages: ${need_pkgs[*]}; run this script as root (or: apt-get install ${need_pkgs[*]})"
    exit 1
  fi
  log "installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}; start one as root"
    exit 1
  fi
  log "starting dockerd (log: /var/log/god-dockerd.log)"
  # Loopback only: no TCP listener; the engine's own socket is root-only.
  nohup dockerd --host=unix:///var/run/docker.sock >/var/log/god-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up:"; tail -20 /var/log/god-dockerd.log >&2; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "building test image $IMAGE (busybox + bash, no registry needed)"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  rm -f "$root/bin/bash" "$root/bin/sh"
  cp /bin/bash-static "$root/bin/bash"
  ln -s bash "$root/bin/sh"
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
fi

# Test users with a supplementary group and a home, for the run-as-user tests.
if [ "$(id -u)" = 0 ]; then
  getent group god-lab >/dev/null || groupadd -g 23100 god-lab
  for spec in god-alice:23001 god-bob:23002; do
    name=${spec%%:*} uid=${spec##*:}
    if ! getent passwd "$name" >/dev/null; then
      groupadd -g "$uid" "$name"
      useradd -u "$uid" -g "$uid" -m -d "/home/$name" -s /bin/bash "$name"
    fi
  done
  usermod -a -G god-lab god-alice
fi
log "test environment ready (image $IMAGE)"
bash "$(dirname "$0")/testenv-swarm.sh"
bash "$(dirname "$0")/testenv-ldap.sh"
bash "$(dirname "$0")/testenv-redis.sh"
bash "$(dirname "$0")/testenv-pam.sh"
bash "$(dirname "$0")/testenv-consul.sh"
