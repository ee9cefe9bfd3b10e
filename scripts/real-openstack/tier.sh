#!/usr/bin/env bash
# The real-OpenStack test tier, end to end:
#   1. install   (install.sh; pip is skipped when the venv's stamp matches requirements.lock)
#   2. start     two real regions, RegionOne and RegionTwo (start.sh; fails loudly)
#   3. smoke     smoke.sh on both regions, in parallel
#   4. contract  tests/real against the real RegionOne, then against a simulated region
#                (`cascade sim`, trusting the same real Keystone)
#   5. e2e       tests/real_e2e: `cascade serve` in keystone mode with RegionOne and RegionTwo as
#                pods, driven by the openstack CLI and openstacksdk; includes fault isolation
#                (stops r1-nova-api, restarts it with start.sh)
#   6. tempest   OpenStack's API tests (tests/tempest/real_tier.py): the selection of
#                tests/tempest run against Cascade in keystone mode in front of both regions,
#                judged against tests/tempest/known-failures-real.txt and min-pass-real
#   7. stop      stop.sh, always (trap), also after a failure or Ctrl-C
# Prints the time of each step, the peak memory of the regions, and as its last line
#   real-tier: N passed, M failed
# (N and M count smoke runs, contract tests and the Tempest run as one; xfailed tests count as passed, an xpassed
# strict xfail as failed). Exits non-zero on any failure. Nothing is ever skipped silently: a
# service that does not start fails the tier.
#
# usage: scripts/real-openstack/tier.sh
#   KEEP_RUNNING=1  leave the regions up afterwards (stop later with stop.sh)
#   WIPE=0          reuse the databases of an earlier run (default WIPE=1: stop.sh --wipe
#                   first, so that every run starts from empty databases, like a clean clone)
#   CASCADE_BIN     the cascade binary for the sim target and e2e (default target/debug/cascade)
#   PYTEST_ARGS     extra pytest arguments for the contract and e2e runs
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RO_ROOT"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
H=$RO_SCRIPTS
PY=$REAL_OS_VENV/bin/python
passed=0 failed=0
declare -A took
now() { date +%s; }
banner() { printf '\n==== real-tier: %s\n' "$*"; }
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "${KEEP_RUNNING:-0}" = 1 ]; then
        banner "KEEP_RUNNING=1: regions left running (stop with $H/stop.sh)"
    elif [ -d "$PIDS" ]; then
        banner "stop"
        local t
        t=$(now)
        "$H/stop.sh" || { echo "stop.sh failed"; failed=$((failed + 1)); }
        took[stop]=$(($(now) - t))
    fi
    [ -n "${MEM_PID:-}" ] && kill "$MEM_PID" 2>/dev/null
    printf '\ntimings:'
    for k in install start smoke contract-real contract-sim e2e tempest stop; do
        [ -n "${took[$k]:-}" ] && printf ' %s %ss,' "$k" "${took[$k]}"
    done
    printf ' total %ss\n' $(($(now) - T0))
    [ -f "${MEM_LOG:-/nonexistent}" ] && awk 'NF == 3 { if ($1 > p) p = $1; if ($2 > r) r = $2; if ($3 > u) u = $3 }
        END { printf "peak memory of the tier'"'"'s processes: %d MiB PSS, %d MiB RSS; machine in use (MemTotal-MemAvailable, everything on it) peak: %d MiB\n", p/1024, r/1024, u/1024 }' "$MEM_LOG"
    [ $rc -ne 0 ] && [ $failed -eq 0 ] && failed=1 # an unexpected error is a failure too
    echo "real-tier: $passed passed, $failed failed"
    [ $failed -eq 0 ] && [ $rc -eq 0 ] && exit 0
    exit 1
}
T0=$(now)
trap finish EXIT
trap 'echo "interrupted"; failed=$((failed + 1)); exit 130' INT TERM

# Abort the tier: count a failure and leave through the trap (which stops the services).
abort() {
    echo "real-tier: FAILED at $1"
    failed=$((failed + 1))
    exit 1
}

banner "install"
t=$(now)
"$H/install.sh" || abort install
took[install]=$(($(now) - t))

if [ "${WIPE:-1}" = 1 ]; then "$H/stop.sh" --wipe; else "$H/stop.sh"; fi
ensure_run_dirs
# Memory sampler: every 2 s, the PSS and RSS (KiB) of every process group in the PID files,
# and the machine's used memory.
MEM_LOG=$RUN/logs/tier-mem.log
: >"$MEM_LOG"
(
    while :; do
        groups=$(cat "$PIDS"/*.pid 2>/dev/null | tr '\n' ' ')
        procs=$(ps -eo pid=,pgid= | awk -v gs=" $groups" 'index(gs, " " $2 " ") {printf "/proc/%s/smaps_rollup ", $1}')
        # cat, not awk FILES: a process may exit between ps and the read
        # shellcheck disable=SC2086
        read -r pss rss < <(cat $procs /dev/null 2>/dev/null | awk '/^Pss:/{s+=$2} /^Rss:/{r+=$2} END{print s+0, r+0}')
        used=$(awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo)
        echo "$pss $rss $used" >>"$MEM_LOG"
        sleep 2
    done
) &
MEM_PID=$!

banner "start RegionOne RegionTwo"
t=$(now)
"$H/start.sh" RegionOne RegionTwo || abort start
took[start]=$(($(now) - t))

banner "smoke RegionOne RegionTwo (parallel)"
t=$(now)
declare -A smoke_pid
for r in RegionOne RegionTwo; do
    "$H/smoke.sh" "$r" >"$LOGS/smoke-$r.log" 2>&1 &
    smoke_pid[$r]=$!
done
for r in RegionOne RegionTwo; do
    if wait "${smoke_pid[$r]}"; then
        passed=$((passed + 1))
        echo "smoke $r: passed"
    else
        failed=$((failed + 1))
        echo "smoke $r: FAILED"
    fi
    sed 's/^/    /' "$LOGS/smoke-$r.log"
done
took[smoke]=$(($(now) - t))

# suite NAME DIR [pytest args...]: runs the pytest suite in DIR, adds its counts to the totals.
suite() {
    local name=$1 dir=$2
    shift 2
    local junit=$LOGS/$name.xml t
    t=$(now)
    banner "$name ($dir $*)"
    # shellcheck disable=SC2086
    "$PY" -m pytest "$dir" --openrc "$RUN/admin-openrc" --junitxml "$junit" "$@" ${PYTEST_ARGS:-}
    local rc=$?
    took[$name]=$(($(now) - t))
    if [ ! -s "$junit" ]; then
        echo "$name: pytest produced no report (exit $rc)"
        failed=$((failed + 1))
        return
    fi
    # counts from the JUnit report: failures+errors fail; skips are not allowed (no test of
    # this suite skips by design), xfails are reported as skipped by JUnit, so count them apart
    local counts
    counts=$("$PY" - "$junit" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ok = bad = xfail = skipped = 0
for case in root.iter('testcase'):
    kinds = {c.tag for c in case}
    sk = case.find('skipped')
    if 'failure' in kinds or 'error' in kinds:
        bad += 1
    elif sk is not None and (sk.get('type') == 'pytest.xfail'):
        xfail += 1
    elif sk is not None:
        skipped += 1
    else:
        ok += 1
print(ok, bad, xfail, skipped)
EOF
)
    read -r ok bad xf sk <<<"$counts"
    echo "$name: $ok passed, $xf xfailed (known sim mismatches), $bad failed, $sk skipped (pytest exit $rc)"
    passed=$((passed + ok + xf))
    failed=$((failed + bad + sk))
    [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && [ "$sk" -eq 0 ] && failed=$((failed + 1))
    return 0
}
suite contract-real tests/real --target real --region RegionOne
suite contract-sim tests/real --target sim ${CASCADE_BIN:+--cascade-bin "$CASCADE_BIN"}
suite e2e tests/real_e2e ${CASCADE_BIN:+--cascade-bin "$CASCADE_BIN"}

banner "tempest through Cascade (tests/tempest/real_tier.py)"
t=$(now)
if "$PY" tests/tempest/real_tier.py --openrc "$RUN/admin-openrc" ${CASCADE_BIN:+--cascade-bin "$CASCADE_BIN"}; then
    passed=$((passed + 1))
    echo "tempest through Cascade: passed"
else
    failed=$((failed + 1))
    echo "tempest through Cascade: FAILED"
fi
took[tempest]=$(($(now) - t))
exit 0
