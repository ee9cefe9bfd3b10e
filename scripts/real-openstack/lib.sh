# Shared settings and helpers of Cascade's real-OpenStack test tier; sourced by the other
# scripts in this directory. Everything listens on 127.0.0.1 only.
#
# Layout (all overridable):
#   REAL_OS_DIR   default <repo>/.real-openstack (git-ignored)
#   REAL_OS_VENV  default $REAL_OS_DIR/venv     the Python venv made by install.sh
#   REAL_OS_RUN   default $REAL_OS_DIR/run      configs, databases, logs, PID files, admin-openrc
# Ports: KEYSTONE_PORT (5000), MYSQL_PORT (13306), AMQP_PORT (15672), RABBIT_DIST_PORT (25673),
# EPMD_PORT (14369); region APIs at the OpenStack defaults + 1000 per region index (see
# region_vars). REGION_PORT_BASE shifts all region API ports at once.
#
# Based on the measured recipe in ../shared/reference/real-openstack.md (same ports, same
# configuration options); written for this project.

RO_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RO_ROOT=$(cd "$RO_SCRIPTS/../.." && pwd)
REAL_OS_DIR=${REAL_OS_DIR:-$RO_ROOT/.real-openstack}
REAL_OS_VENV=${REAL_OS_VENV:-$REAL_OS_DIR/venv}
REAL_OS_RUN=${REAL_OS_RUN:-$REAL_OS_DIR/run}
BIN=$REAL_OS_VENV/bin
RUN=$REAL_OS_RUN
LOGS=$RUN/logs
PIDS=$RUN/pids

# Test-only credentials.
DB_USER=openstack
DB_PASS=${DB_PASS:-secret}
RABBIT_USER=openstack
RABBIT_PASS=${RABBIT_PASS:-secret}
ADMIN_PASS=${ADMIN_PASS:-secret}
SERVICE_PASS=${SERVICE_PASS:-secret}

MYSQL_PORT=${MYSQL_PORT:-13306}
AMQP_PORT=${AMQP_PORT:-15672}
RABBIT_DIST_PORT=${RABBIT_DIST_PORT:-25673}
EPMD_PORT=${EPMD_PORT:-14369}
KEYSTONE_PORT=${KEYSTONE_PORT:-5000}
KEYSTONE_URL=http://127.0.0.1:$KEYSTONE_PORT/v3
REGION_PORT_BASE=${REGION_PORT_BASE:-0}
API_THREADS=${API_THREADS:-4}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
ensure_run_dirs() { mkdir -p "$LOGS" "$PIDS"; }

ALL_REGIONS="RegionOne RegionTwo RegionThree RegionFour"
# region_vars REGION: sets P (r1..r4), the region's API ports, its state dir and RabbitMQ vhost.
region_vars() {
    local i
    case "$1" in
        RegionOne) i=1 ;; RegionTwo) i=2 ;; RegionThree) i=3 ;; RegionFour) i=4 ;;
        *) die "unknown region '$1' (one of: $ALL_REGIONS)" ;;
    esac
    REGION=$1
    P=r$i
    local off=$(((i - 1) * 1000 + REGION_PORT_BASE))
    GLANCE_PORT=$((9292 + off))
    NEUTRON_PORT=$((9696 + off))
    PLACEMENT_PORT=$((8778 + off))
    NOVA_PORT=$((8774 + off))
    CINDER_PORT=$((8776 + off))
    RDIR=$RUN/$P
    VHOST=$P
    TRANSPORT_URL="rabbit://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$AMQP_PORT/$VHOST"
}
# The services each region runs (process names are "$P-<name>").
region_procs() { echo "glance neutron placement nova-api nova-conductor nova-scheduler nova-compute cinder-api cinder-scheduler cinder-volume"; }

dburl() { echo "mysql+pymysql://$DB_USER:$DB_PASS@127.0.0.1:$MYSQL_PORT/$1?charset=utf8"; }
mysql_root() { mariadb --defaults-file="$RUN/mysql/my.cnf" -uroot "$@"; }

# A process we started is alive when its PID file names a live process.
pid_of() { cat "$PIDS/$1.pid" 2>/dev/null; }
alive() {
    local pid
    pid=$(pid_of "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# launch NAME CMD...: runs CMD in a new session (so its PID is also its process-group id, and
# stop.sh can end the whole group), stdout/stderr to $LOGS/NAME.out, PID to $PIDS/NAME.pid.
launch() {
    local name=$1
    shift
    if alive "$name"; then
        log "$name already running (pid $(pid_of "$name"))"
        return 0
    fi
    setsid "$@" >>"$LOGS/$name.out" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
    log "started $name (pid $!)"
}

# fail_with_log NAME MESSAGE: print the tail of NAME's logs, then die.
fail_with_log() {
    local name=$1 msg=$2 f
    for f in "$LOGS/$name.log" "$LOGS/$name.out"; do
        [ -s "$f" ] || continue
        echo "----- last 40 lines of $f -----" >&2
        tail -n 40 "$f" >&2
    done
    die "$msg"
}

# wait_up NAME URL [TIMEOUT_S]: wait until URL answers with any HTTP status; fail loudly (with
# NAME's log tail) when NAME dies or the timeout passes.
wait_up() {
    local name=$1 url=$2 timeout=${3:-240} t0
    t0=$(date +%s)
    until curl -s -o /dev/null --max-time 5 "$url"; do
        alive "$name" || fail_with_log "$name" "$name exited while starting"
        [ $(($(date +%s) - t0)) -ge "$timeout" ] && fail_with_log "$name" "$name did not answer on $url within ${timeout}s"
        sleep 1
    done
}

# uwsgi_serve NAME PORT MODULE:APP [VAR=VALUE...] [-- extra uwsgi args]
# "Connection: close": uWSGI's http-socket answers HTTP/1.1 but closes the socket, which breaks
# keep-alive clients (keystoneauth) with ConnectionResetError.
uwsgi_serve() {
    local name=$1 port=$2 app=$3
    shift 3
    local vars=() extra=()
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then
            shift
            extra=("$@")
            break
        fi
        vars+=("$1")
        shift
    done
    launch "$name" env "${vars[@]}" "$BIN/uwsgi" --http-socket "127.0.0.1:$port" --module "$app" \
        --master --processes 1 --threads "$API_THREADS" --enable-threads --lazy-apps --need-app \
        --die-on-term --buffer-size 65535 --add-header "Connection: close" \
        --reload-mercy 5 --worker-reload-mercy 5 --procname-prefix "$name-" --home "$REAL_OS_VENV" \
        "${extra[@]}"
}

# gunicorn_serve NAME PORT MODULE:APP [VAR=VALUE...]  (Glance: uWSGI cannot pass chunked uploads)
gunicorn_serve() {
    local name=$1 port=$2 app=$3
    shift 3
    launch "$name" env "$@" "$BIN/gunicorn" --bind "127.0.0.1:$port" --workers 1 \
        --worker-class gthread --threads "$API_THREADS" --timeout 600 --graceful-timeout 5 \
        --name "$name" "$app"
}

write() {
    mkdir -p "$(dirname "$1")"
    cat >"$1"
}

# [keystone_authtoken] for service user $1.
authtoken_section() {
    cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KEYSTONE_PORT
auth_url = http://127.0.0.1:$KEYSTONE_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASS
service_token_roles_required = true
EOF
}

# [$1] with service user $2's credentials, pinned to the current region.
client_section() {
    cat <<EOF
[$1]
auth_url = http://127.0.0.1:$KEYSTONE_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PASS
region_name = $REGION
EOF
}
