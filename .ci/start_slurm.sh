#!/usr/bin/env bash
# Install and start a single-node SLURM cluster on this machine, without systemd.
#
# Used by the CI (and by anyone who wants to run tests/test_slurm.py locally) on Debian 12
# (SLURM 22.05, munge 0.5). What it does, step by step:
#   1. installs slurm-wlm and munge with apt if slurmctld/slurmd/sbatch/munged are missing,
#      with a policy-rc.d that stops the packages' install scripts from starting services;
#   2. makes sure there is a munge key and starts munged (as the munge user);
#   3. writes /etc/slurm/slurm.conf for one node with this machine's real CPUs and memory
#      (from `slurmd -C`), one default partition "debug", no accounting database
#      (AccountingStorageType=accounting_storage/none) and a long MinJobAge, so that
#      `squeue` still reports finished jobs when Snakemake asks (the workflow's SLURM test
#      uses `--slurm-status-command squeue`; `sacct` needs slurmdbd), and a plain-text job
#      completion log (JobCompLoc below) that keeps the history of every job;
#   4. starts slurmctld and slurmd (restarting them if slurm.conf changed), waits until
#      the node is idle, and runs a one-second job through sbatch as a smoke test.
#
# Idempotent: running it again with everything up only checks that everything is up.
# Needs root (or passwordless sudo). Exit status 0 only when a job really ran.
#
# Environment (all optional):
#   SLURM_CI_MIN_JOB_AGE  seconds finished jobs stay visible to squeue (default 900; must be
#                         >= 3 x --slurm-init-seconds-before-status-checks, and longer than
#                         the plugin's longest status-check interval, 180 s)
#   SLURM_CI_TIMEOUT      seconds to wait for the daemons / the smoke-test job (default 90)
set -Eeuo pipefail

MIN_JOB_AGE="${SLURM_CI_MIN_JOB_AGE:-900}"
TIMEOUT="${SLURM_CI_TIMEOUT:-90}"

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm
JOBCOMP_LOG="$LOG_DIR/jobcomp.log"
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MARKER="# Written by atacflow .ci/start_slurm.sh"

log() { printf '[start_slurm] %s\n' "$*" >&2; }

diagnostics() {
    log "---------------- diagnostics ----------------"
    for cmd in slurmctld slurmd sbatch squeue munged; do
        log "$cmd: $(command -v "$cmd" || echo 'not installed')"
    done
    log "processes:"
    ps -eo pid,user,args 2>/dev/null | grep -E '[m]unged|[s]lurmctld|[s]lurmd' >&2 || log "  (no munged/slurmctld/slurmd running)"
    if command -v munge >/dev/null; then
        log "munge self-test: $(munge -n 2>&1 | unmunge 2>&1 | grep -E 'STATUS' || echo failed)"
    fi
    for f in /var/log/munge/munged.log "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
        if [[ -f $f ]]; then
            log "last lines of $f:"
            tail -n 30 "$f" >&2 || true
        fi
    done
    if command -v sinfo >/dev/null; then
        log "sinfo:"; timeout 10 sinfo -N -l >&2 2>&1 || true
        log "sinfo -R (reasons nodes are down/drained):"; timeout 10 sinfo -R >&2 2>&1 || true
    fi
    [[ -f $CONF ]] && { log "$CONF:"; cat "$CONF" >&2; }
    log "----------------------------------------------"
}

fail() {
    log "ERROR: $*"
    diagnostics
    exit 1
}

trap 'rc=$?; log "ERROR: command failed (exit $rc) at line $LINENO: $BASH_COMMAND"; diagnostics; exit $rc' ERR

# --- root -------------------------------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        log "not root: re-running with sudo"
        exec sudo -n --preserve-env=SLURM_CI_MIN_JOB_AGE,SLURM_CI_TIMEOUT bash "$0" "$@"
    fi
    fail "this script needs root (or passwordless sudo) to install packages and start daemons"
fi

# --- 1. packages ------------------------------------------------------------------------------
missing=()
for cmd in slurmctld slurmd sbatch squeue sinfo scontrol munged munge; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if ((${#missing[@]})); then
    log "installing slurm-wlm and munge (missing: ${missing[*]})"
    command -v apt-get >/dev/null || fail "apt-get not found: install SLURM (slurmctld, slurmd, client) and munge by hand"
    # Package install scripts call invoke-rc.d/service to start munge, slurmctld and slurmd;
    # without systemd/init they fail or hang. policy-rc.d exiting 101 = "not allowed to start".
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_ok=1
    apt-get update -q >&2 || apt_ok=0
    if ((apt_ok)); then
        apt-get install -y -q --no-install-recommends slurm-wlm munge >&2 || apt_ok=0
    fi
    ((created_policy)) && rm -f "$policy"
    ((apt_ok)) || fail "apt-get could not install slurm-wlm and munge (see the apt output above)"
    for cmd in "${missing[@]}"; do
        command -v "$cmd" >/dev/null || fail "$cmd still missing after installing slurm-wlm and munge"
    done
else
    log "SLURM and munge already installed"
fi
log "$(slurmctld -V 2>&1 || true)"

# --- 2. munge ---------------------------------------------------------------------------------
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
MUNGE_USER=munge
id "$MUNGE_USER" >/dev/null 2>&1 || MUNGE_USER=root
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown -R "$MUNGE_USER:" /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if munge_ok; then
    log "munged already running"
else
    log "starting munged as $MUNGE_USER"
    # --force: start even if a stale socket from an earlier (killed) munged is left over.
    if [[ $MUNGE_USER == root ]]; then
        munged --force
    else
        runuser -u "$MUNGE_USER" -- munged --force
    fi
    for _ in $(seq 1 20); do munge_ok && break; sleep 0.5; done
    munge_ok || fail "munged does not answer (munge -n | unmunge fails)"
fi

# --- 3. slurm.conf ----------------------------------------------------------------------------
NODE="$(hostname -s)"
[[ -n $NODE ]] || fail "hostname -s is empty"
# `slurmd -C` prints this machine's hardware as a slurm.conf node line, e.g.
# NodeName=host CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
hw="$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=')" || fail "slurmd -C did not print the node's hardware"
cpus="$(grep -o 'CPUs=[0-9]*' <<<"$hw" | cut -d= -f2)"
mem="$(grep -o 'RealMemory=[0-9]*' <<<"$hw" | cut -d= -f2)"
[[ -n $cpus && -n $mem ]] || fail "could not read CPUs/RealMemory from: $hw"
# Keep slurmd -C's topology (sockets/cores/threads) but name the node as slurmd will see it.
node_hw="$(sed -E 's/^NodeName=[^ ]+ //; s/ UpTime=.*//' <<<"$hw")"
log "node $NODE: $node_hw"

mkdir -p "$CONF_DIR" "$LOG_DIR" "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
new_conf="$(mktemp)"
cat >"$new_conf" <<EOF
$MARKER: a single-node cluster for tests.
ClusterName=atacflow-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
# No cgroups (containers without systemd): track processes by parent id, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct cannot answer. Snakemake must use --slurm-status-command squeue, which
# sees a finished job for MinJobAge seconds (the plugin wants >= 3 x its init seconds, and
# polls at most every 180 s).
AccountingStorageType=accounting_storage/none
MinJobAge=$MIN_JOB_AGE
# Plain-text history of every finished job (JobId=... Name=... JobState=...).
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# No mail on this machine (avoids 'Configured MailProg is invalid').
MailProg=/bin/true
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldTimeout=60
SlurmdTimeout=60
KillWait=10
NodeName=$NODE NodeAddr=127.0.0.1 $node_hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

conf_changed=0
if [[ -f $CONF ]] && cmp -s "$new_conf" "$CONF"; then
    rm -f "$new_conf"
    log "$CONF is up to date"
else
    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        backup="$CONF.bak.$(date +%Y%m%d%H%M%S)"
        log "keeping the existing $CONF (not written by this script) as $backup"
        cp -p "$CONF" "$backup"
    fi
    mv "$new_conf" "$CONF"
    chmod 0644 "$CONF"
    conf_changed=1
    log "wrote $CONF"
fi

# --- 4. daemons -------------------------------------------------------------------------------
pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_daemon() { # pidfile name
    if pid_alive "$1"; then
        log "stopping $2 (pid $(cat "$1")) to load the new slurm.conf"
        kill "$(cat "$1")"
        for _ in $(seq 1 20); do pid_alive "$1" || break; sleep 0.5; done
        pid_alive "$1" && { kill -9 "$(cat "$1")" 2>/dev/null || true; sleep 1; }
    fi
    rm -f "$1"
}

if ((conf_changed)); then
    stop_daemon "$SLURMD_PID" slurmd
    stop_daemon "$CTLD_PID" slurmctld
fi

if pid_alive "$CTLD_PID"; then
    log "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
    log "starting slurmctld"
    # -i: ignore state files that do not match this configuration (e.g. left from another conf)
    slurmctld -i || fail "slurmctld did not start"
fi
ok=0
for _ in $(seq 1 "$TIMEOUT"); do
    if timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP'; then ok=1; break; fi
    sleep 1
done
((ok)) || fail "slurmctld does not answer 'scontrol ping' after ${TIMEOUT}s"

if pid_alive "$SLURMD_PID"; then
    log "slurmd already running (pid $(cat "$SLURMD_PID"))"
else
    log "starting slurmd"
    slurmd -N "$NODE" || fail "slurmd did not start"
fi

state=""
for _ in $(seq 1 "$TIMEOUT"); do
    state="$(timeout 5 sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle | mixed | allocated | completing) break ;;
        *drain* | *down* | *fail*)
            log "node is $state: resuming it"
            scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
            ;;
    esac
    sleep 1
done
case "$state" in
    idle | mixed | allocated | completing) log "node $NODE is $state" ;;
    *) fail "node $NODE did not become idle within ${TIMEOUT}s (state: '${state:-unknown}')" ;;
esac

# --- smoke test: a job through sbatch ---------------------------------------------------------
smoke_dir="$(mktemp -d)"
jobid="$(sbatch --parsable --job-name=start_slurm_smoke_test --time=1 --mem=10 --ntasks=1 \
    --output="$smoke_dir/out.log" --chdir="$smoke_dir" --wrap='echo slurm-ok on $(hostname)')" ||
    fail "sbatch refused the smoke-test job"
jobid="${jobid%%;*}"
log "smoke-test job $jobid submitted"
for _ in $(seq 1 "$TIMEOUT"); do
    st="$(squeue -h -j "$jobid" --states=all -o '%T' 2>/dev/null || true)"
    [[ $st == COMPLETED || $st == FAILED || $st == CANCELLED || $st == TIMEOUT || $st == NODE_FAIL || $st == OUT_OF_MEMORY ]] && break
    sleep 1
done
[[ ${st:-} == COMPLETED ]] || fail "smoke-test job $jobid ended as '${st:-still pending/running}'; output: $(cat "$smoke_dir/out.log" 2>/dev/null)"
grep -q slurm-ok "$smoke_dir/out.log" || fail "smoke-test job $jobid completed but wrote no output"
log "smoke-test job $jobid: $(cat "$smoke_dir/out.log")"
rm -rf "$smoke_dir"

log "SLURM is up: $(sinfo -h -o '%P %D nodes %c CPUs %m MB %T')"
log "MinJobAge=$MIN_JOB_AGE s; job history: $JOBCOMP_LOG"
