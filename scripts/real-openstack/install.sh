#!/usr/bin/env bash
# Installs what the real-OpenStack test tier needs. Idempotent.
#   Debian packages: mariadb-server rabbitmq-server qemu-utils curl (needs root when missing;
#     their daemons are never started by apt: we run our own instances under $REAL_OS_RUN)
#   A Python venv at $REAL_OS_VENV (default .real-openstack/venv) with the pinned
#     requirements.lock: keystone, glance, neutron, nova, placement, cinder, uWSGI, gunicorn,
#     python-openstackclient (the `openstack` CLI), openstacksdk, requests, pytest; plus the local
#     test drivers in harness_fakes/ (agentless ML2 driver, nova snapshot patch, cinder fake
#     volume driver).
# The venv carries a stamp (hash of the lock, harness_fakes and the Python version); when it
# matches, pip is skipped, so a re-run takes about a second.
#
# usage: scripts/real-openstack/install.sh            pinned (repeatable)
#        UNPINNED=1 scripts/real-openstack/install.sh the newest releases (then re-freeze the lock)
#        FORCE=1 ...                                   reinstall even when the stamp matches
set -euo pipefail
. "$(dirname "$0")/lib.sh"
T0=$(date +%s)

# ---- Debian packages
APT_PKGS="mariadb-server rabbitmq-server qemu-utils curl"
missing=""
for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=" $p"
done
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || die "missing Debian packages:$missing (run this script as root, or: sudo apt-get install$missing)"
    # The packages' maintainer scripts must not start the system daemons (Debian's RabbitMQ
    # would listen on every address): deny service starts while apt runs.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    log "apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
for c in mariadbd:/usr/sbin/mariadbd mariadb-install-db:/usr/bin/mariadb-install-db \
    rabbitmq-server:/usr/lib/rabbitmq/bin/rabbitmq-server epmd:/usr/bin/epmd; do
    [ -x "${c#*:}" ] || die "${c%%:*} not found at ${c#*:}"
done
log "Debian packages ok ($(($(date +%s) - T0))s)"

# ---- Python venv
stamp_value() {
    {
        python3 --version
        echo "UNPINNED=${UNPINNED:-0}"
        cat "$RO_SCRIPTS/requirements.lock"
        find "$RO_SCRIPTS/harness_fakes" -type f \( -name '*.py' -o -name '*.toml' \) -print0 |
            sort -z | xargs -0 cat
    } | sha256sum | cut -d' ' -f1
}
STAMP=$REAL_OS_VENV/.cascade-real-openstack-stamp
want=$(stamp_value)
if [ "${FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$BIN/uwsgi" ]; then
    log "venv $REAL_OS_VENV is up to date (stamp matches the lock); skipping pip"
else
    rm -f "$STAMP"
    [ -x "$BIN/python" ] || python3 -m venv "$REAL_OS_VENV"
    "$BIN/pip" install -q -U pip setuptools wheel
    if [ "${UNPINNED:-0}" = 1 ]; then
        "$BIN/pip" install -q keystone glance neutron nova openstack-placement cinder \
            python-openstackclient openstacksdk requests pytest uwsgi gunicorn PyMySQL python-memcached
    else
        "$BIN/pip" install -q -r "$RO_SCRIPTS/requirements.lock"
    fi
    # Build from a copy, so that no build/ or egg-info lands in the source tree.
    tmp=$(mktemp -d)
    cp -r "$RO_SCRIPTS/harness_fakes" "$tmp/"
    "$BIN/pip" install -q --no-deps --force-reinstall "$tmp/harness_fakes"
    rm -rf "$tmp"
    echo "$want" >"$STAMP"
    log "pip done ($(($(date +%s) - T0))s)"
fi
"$BIN/python" - <<'EOF'
from importlib.metadata import version
print(' '.join(f'{p}={version(p)}' for p in (
    'keystone', 'glance', 'neutron', 'nova', 'openstack-placement', 'cinder',
    'python-openstackclient', 'openstacksdk', 'pytest', 'uWSGI', 'gunicorn')))
EOF
log "install finished in $(($(date +%s) - T0))s (venv: $REAL_OS_VENV)"
