#!/usr/bin/env bash
# Stops what start.sh started, and nothing else: each PID file in $REAL_OS_RUN/pids names a
# process that start.sh launched with setsid, so the PID is also its process-group id; the
# group gets SIGTERM, then SIGKILL after 15 s. Order: nova-compute, the other region
# services (in parallel), then Keystone, RabbitMQ, epmd, MariaDB.
# A PID file whose process is gone is just removed; a PID that no longer leads its own
# process group (reused by an unrelated process) is left alone.
#
# usage: scripts/real-openstack/stop.sh [--wipe]   --wipe also deletes $REAL_OS_RUN
#        (databases, images, logs, configs); the venv stays.
#        scripts/real-openstack/stop.sh SERVICE...  stops only those (names of the PID files,
#        e.g. r1-nova-api for a fault-isolation test; start.sh restarts what is down).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -d "$PIDS" ] || { log "nothing to stop ($PIDS does not exist)"; [ "${1:-}" = --wipe ] && rm -rf "$RUN"; exit 0; }

stop_group() {
    local name=$1 f=$PIDS/$1.pid pid i
    pid=$(cat "$f" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
        kill -TERM -- "-$pid" 2>/dev/null
        for i in $(seq 1 30); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 -- "-$pid" 2>/dev/null; then
            log "$name (process group $pid) still running after 15s: SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null
            sleep 0.5
        fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$f"
}

T0=$(date +%s)
if [ $# -gt 0 ] && [ "$1" != --wipe ]; then
    for n in "$@"; do
        [ -f "$PIDS/$n.pid" ] || die "no PID file for '$n' in $PIDS"
        stop_group "$n"
    done
    exit 0
fi
shared=" keystone rabbitmq epmd mariadb "
for f in "$PIDS"/*-nova-compute.pid; do [ -e "$f" ] && stop_group "$(basename "$f" .pid)" & done
wait
for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid)
    [[ $shared == *" $n "* ]] && continue
    stop_group "$n" &
done
wait
for n in keystone rabbitmq epmd mariadb; do stop_group "$n"; done
rm -f "$RUN/regions" # status.sh: nothing is expected to run any more
log "stopped in $(($(date +%s) - T0))s"
if [ "${1:-}" = --wipe ]; then
    rm -rf "$RUN"
    log "wiped $RUN"
fi
