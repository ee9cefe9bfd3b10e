#!/usr/bin/env bash
# Shows the real-OpenStack tier's processes (from the PID files), their memory (RSS and PSS,
# summed over each process group, MiB), and whether each API answers.
# Exit status: 0 when every service of every region start.sh started here (listed in
# $REAL_OS_RUN/regions) is running and answers, 1 otherwise, 3 when nothing was started.
# usage: scripts/real-openstack/status.sh
set -uo pipefail
. "$(dirname "$0")/lib.sh"
shopt -s nullglob
# expected: the shared services and every service of each region start.sh has started here
expected="mariadb epmd rabbitmq keystone"
if [ -f "$RUN/regions" ]; then
    while read -r r; do
        region_vars "$r"
        for s in $(region_procs); do expected+=" $P-$s"; done
    done <"$RUN/regions"
fi
for f in "$PIDS"/*.pid; do # anything else with a PID file
    n=$(basename "$f" .pid)
    [[ " $expected " == *" $n "* ]] || expected+=" $n"
done
[ -f "$RUN/regions" ] || [ -n "$(ls "$PIDS" 2>/dev/null)" ] ||
    { echo "real-openstack: nothing started (no PID files in $PIDS)"; exit 3; }
bad=0 trss=0 tpss=0
printf '%-20s %8s %-6s %6s %8s %8s\n' SERVICE PID STATE PROCS RSS_MiB PSS_MiB
for n in $expected; do
    f=$PIDS/$n.pid
    if [ ! -f "$f" ]; then
        printf '%-20s %8s %-6s\n' "$n" - "DOWN (not running: no PID file)"
        bad=1
        continue
    fi
    pg=$(cat "$f")
    state=up
    kill -0 "$pg" 2>/dev/null || { state=DOWN; bad=1; }
    rss=0 pss=0 c=0
    for p in $(ps -eo pid=,pgid= | awk -v g="$pg" '$2==g{print $1}'); do
        read -r r s < <(awk '/^Rss:/{r=$2} /^Pss:/{s=$2} END{print r+0, s+0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo "0 0")
        rss=$((rss + ${r:-0})) pss=$((pss + ${s:-0})) c=$((c + 1))
    done
    trss=$((trss + rss)) tpss=$((tpss + pss))
    printf '%-20s %8s %-6s %6d %8d %8d\n' "$n" "$pg" "$state" "$c" $((rss / 1024)) $((pss / 1024))
done
printf '%-20s %8s %-6s %6s %8d %8d\n' TOTAL "" "" "" $((trss / 1024)) $((tpss / 1024))
echo
probe() { # NAME URL
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2")
    [ "$code" = 000 ] && { bad=1; code="no answer"; }
    printf '  %-24s %-40s %s\n' "$1" "$2" "$code"
}
probe keystone "$KEYSTONE_URL"
for r in $(cat "$RUN/regions" 2>/dev/null); do
    region_vars "$r"
    probe "$r glance" "http://127.0.0.1:$GLANCE_PORT/"
    probe "$r neutron" "http://127.0.0.1:$NEUTRON_PORT/"
    probe "$r placement" "http://127.0.0.1:$PLACEMENT_PORT/"
    probe "$r nova" "http://127.0.0.1:$NOVA_PORT/v2.1"
    probe "$r cinder" "http://127.0.0.1:$CINDER_PORT/v3"
done
[ -f "$RUN/admin-openrc" ] && echo "admin credentials: source $RUN/admin-openrc"
exit $bad
