#!/usr/bin/env bash
# Makes the local Docker engine a single-node Swarm manager for the Swarm
# executor's tests (plugins/executor/swarm), idempotently: nothing is done
# if the engine is already part of a swarm. Bound to loopback, so the
# manager's ports (2377, and the gossip ports) are not reachable from
# other machines. Needs a running engine (scripts/testenv.sh starts one).
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true)
case "$state" in
active)
  exit 0
  ;;
inactive)
  log "making the local Docker engine a single-node Swarm manager (127.0.0.1)"
  docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
  ;;
*)
  # pending, error or locked: someone else's swarm setup; leave it alone.
  log "the Docker engine's swarm state is ${state:-unknown}; the Swarm executor tests need an active manager (docker swarm init --advertise-addr 127.0.0.1)"
  exit 1
  ;;
esac
docker node ls >/dev/null
log "swarm ready: node $(docker info --format '{{.Swarm.NodeID}}')"
