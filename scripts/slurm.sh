#!/usr/bin/env bash
# Installs and runs a single-node Slurm (Debian slurm-wlm + munge) on
# 127.0.0.1, idempotently, for the benchmarks and the Slurm executor's
# tests. Needs root.
#
#   scripts/slurm.sh [start]   install if needed, configure, start, wait idle
#   scripts/slurm.sh stop      stop the daemons this script started
#   scripts/slurm.sh status    print sinfo
#
# The configuration lives in SLURM_CONF_DIR (default /etc/slurm, where
# Debian's commands look); export SLURM_CONF=$SLURM_CONF_DIR/slurm.conf to
# use another directory. A slurm.conf this script did not write is never
# overwritten. Daemons already answering are left alone: only those this
# script started (pid files under its run dir) are stopped.
set -euo pipefail

SLURM_CONF_DIR=${SLURM_CONF_DIR:-/etc/slurm}
SLURM_STATE_DIR=${SLURM_STATE_DIR:-/var/lib/god-slurm}
SLURM_PARTITION=${SLURM_PARTITION:-god}
conf=$SLURM_CONF_DIR/slurm.conf
run=$SLURM_STATE_DIR/run
marker="# Written by GoDocker scripts/slurm.sh"
export SLURM_CONF=$conf

log() { printf '==> slurm: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null && return
  log "installing slurm-wlm and munge"
  apt-get update -qq
  # A package's maintainer script must not start its service; only a
  # policy-rc.d created here is removed afterwards.
  local policy=/usr/sbin/policy-rc.d created=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  [ -z "$created" ] || rm -f "$policy"
}

munge_key() {
  [ -s /etc/munge/munge.key ] && return
  log "creating the munge key"
  if command -v mungekey >/dev/null; then
    mungekey --create --force
  else
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
}

# The node's memory in MiB, a little under the total so slurmd accepts it.
node_memory() { awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo; }

write_conf() {
  if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
    die "$conf exists and was not written by this script: set SLURM_CONF_DIR to another directory"
  fi
  local host user
  host=$(hostname -s)
  user=root
  id slurm >/dev/null 2>&1 && user=slurm
  mkdir -p "$SLURM_CONF_DIR" "$SLURM_STATE_DIR"/{ctld,d,log} "$run"
  chown "$user" "$SLURM_STATE_DIR/ctld" "$SLURM_STATE_DIR/log"
  local tmp
  tmp=$(mktemp "$conf.XXXXXX")
  cat >"$tmp" <<EOF
$marker: edit the script, not this file.
ClusterName=god
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmctldPort=6817
SlurmdPort=6818
# Loopback only: neither daemon listens on other addresses.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
StateSaveLocation=$SLURM_STATE_DIR/ctld
SlurmdSpoolDir=$SLURM_STATE_DIR/d
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$SLURM_STATE_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_STATE_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
# Benchmarks queue many held jobs; finished ones are forgotten quickly
# (there is no slurmdbd: finished jobs vanish after MinJobAge).
MaxJobCount=200000
MinJobAge=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(node_memory) State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  if [ -e "$conf" ] && cmp -s "$tmp" "$conf"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$conf"
    chmod 644 "$conf"
    log "wrote $conf"
  fi
}

munge_up() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }
node_idle() { sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; }

wait_for() {
  local what=$1 check=$2 i
  for i in $(seq 1 150); do
    if $check; then return 0; fi
    sleep 0.2
  done
  die "$what did not come up (logs in $SLURM_STATE_DIR/log)"
}

start() {
  [ "$(id -u)" = 0 ] || die "run this script as root"
  install
  munge_key
  write_conf
  if ! munge_up; then
    log "starting munged"
    mkdir -p /run/munge && chown munge:munge /run/munge
    if [ -x /etc/init.d/munge ]; then /etc/init.d/munge start >/dev/null; else su -s /bin/sh munge -c munged; fi
    touch "$run/munge.started"
    wait_for munged munge_up
  fi
  if ! ctld_up; then
    log "starting slurmctld"
    slurmctld -f "$conf"
    touch "$run/slurmctld.started"
    wait_for slurmctld ctld_up
  fi
  if ! node_idle; then
    if ! pgrep -x slurmd >/dev/null; then
      log "starting slurmd"
      slurmd -f "$conf"
      touch "$run/slurmd.started"
    fi
    wait_for "the node" node_idle
  fi
  log "ready: $(sinfo -h -o '%P %a %D %t' | tr '\n' ' ')"
}

stop() {
  [ -e "$conf" ] || return 0
  if [ -e "$run/slurmctld.started" ] || [ -e "$run/slurmd.started" ]; then
    # Stops slurmctld and every slurmd of the cluster: the cluster is
    # this script's own (its conf carries the marker).
    if ctld_up; then
      log "scontrol shutdown"
      scontrol shutdown >/dev/null || true
    fi
    rm -f "$run/slurmctld.started" "$run/slurmd.started"
  fi
  if [ -e "$run/munge.started" ]; then
    log "stopping munged"
    if [ -x /etc/init.d/munge ]; then /etc/init.d/munge stop >/dev/null || true; fi
    rm -f "$run/munge.started"
  fi
}

case ${1:-start} in
start) start ;;
stop) stop ;;
status) sinfo ;;
*) die "usage: $0 [start|stop|status]" ;;
esac
