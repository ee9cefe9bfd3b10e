#!/usr/bin/env bash
# Starts real, unmodified OpenStack regions on 127.0.0.1 for Cascade's real-OpenStack tier:
#   shared: MariaDB (13306), RabbitMQ (15672, one vhost per region), Keystone (5000)
#   per region: Glance (gunicorn), Neutron (ML2 + agentless driver), Placement, Nova (api,
#   conductor, scheduler, compute with the fake virt driver), Cinder (api, scheduler, volume
#   with a storage-free driver). APIs other than Glance run under uWSGI.
# Every process runs in its own process group with a PID file in $REAL_OS_RUN/pids; stop.sh
# stops exactly those. Idempotent: a re-run starts only what is not running (DB syncs re-run).
# Waits until every API answers and each region's nova-compute is "up"; on any failure it
# prints the tail of the failing service's log and exits non-zero.
#
# usage: scripts/real-openstack/start.sh [REGION...]   default: RegionOne RegionTwo
# Prints the endpoints and the admin openrc path ($REAL_OS_RUN/admin-openrc) at the end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REGIONS=("$@")
[ ${#REGIONS[@]} -eq 0 ] && REGIONS=(RegionOne RegionTwo)
for r in "${REGIONS[@]}"; do region_vars "$r"; done # validates the names
[ -x "$BIN/uwsgi" ] && [ -x "$BIN/openstack" ] || die "no venv at $REAL_OS_VENV: run scripts/real-openstack/install.sh first"
ensure_run_dirs
T0=$(date +%s)
# the regions ever started here (status.sh checks all of their services)
for r in "${REGIONS[@]}"; do
    grep -x "$r" "$RUN/regions" >/dev/null 2>&1 || echo "$r" >>"$RUN/regions"
done

# (No `grep -q` after a pipe anywhere: with pipefail, its early exit can make the writer die of
# SIGPIPE and the pipeline fail although the line was found.)
# Refuse to start when a port we need is taken by something that is not ours.
port_busy() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" || (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
check_port() { # NAME PORT
    if ! alive "$1" && port_busy "$2"; then
        die "port 127.0.0.1:$2 (for $1) is already in use by another process; stop it or change the ports (see lib.sh)"
    fi
}

# ------------------------------------------------------------------------------- MariaDB
start_mariadb() {
    local d=$RUN/mysql
    check_port mariadb "$MYSQL_PORT"
    write "$d/my.cnf" <<EOF
[mysqld]
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
port=$MYSQL_PORT
bind-address=127.0.0.1
user=$(id -un)
log-error=$LOGS/mariadb.log
max_connections=2000
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
innodb_doublewrite=0
performance_schema=OFF
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
[client]
socket=$d/mysqld.sock
EOF
    if [ ! -d "$d/data/mysql" ]; then
        mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=socket \
            >"$LOGS/mariadb-install.log" 2>&1 || fail_with_log mariadb-install "mariadb-install-db failed"
    fi
    launch mariadb /usr/sbin/mariadbd --defaults-file="$d/my.cnf"
    local t0
    t0=$(date +%s)
    until mysql_root -e 'select 1' >/dev/null 2>&1; do
        alive mariadb || fail_with_log mariadb "MariaDB exited while starting"
        [ $(($(date +%s) - t0)) -gt 90 ] && fail_with_log mariadb "MariaDB did not start within 90s"
        sleep 1
    done
    mysql_root -e "CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
        GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1';"
}
create_db() {
    local db
    for db in "$@"; do mysql_root -e "CREATE DATABASE IF NOT EXISTS \`$db\`"; done
}

# ------------------------------------------------------------------------------ RabbitMQ
# Loopback only: AMQP listener, Erlang distribution and our own foreground epmd (otherwise
# Erlang daemonizes an epmd on all addresses that no PID file tracks).
rabbit_env() {
    export HOME=$RUN/rabbitmq
    RABBITMQ_HOME=$(ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-* | tail -1)
    export RABBITMQ_HOME
    export RABBITMQ_NODENAME=rabbit@localhost
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_EPMD_PORT=$EPMD_PORT
    export RABBITMQ_MNESIA_BASE=$RUN/rabbitmq/mnesia
    export RABBITMQ_LOG_BASE=$LOGS/rabbitmq
    export RABBITMQ_CONFIG_FILE=$RUN/rabbitmq/rabbitmq.conf
    export RABBITMQ_ENABLED_PLUGINS_FILE=$RUN/rabbitmq/enabled_plugins
    export RABBITMQ_PID_FILE=$RUN/rabbitmq/rabbitmq.pid
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}
rabbitmqctl() { (rabbit_env && /usr/lib/rabbitmq/bin/rabbitmqctl "$@"); }
start_rabbitmq() {
    check_port rabbitmq "$AMQP_PORT"
    check_port epmd "$EPMD_PORT"
    write "$RUN/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users = none
default_user = $RABBIT_USER
default_pass = $RABBIT_PASS
vm_memory_high_watermark.absolute = 1GiB
disk_free_limit.absolute = 50MB
log.file.level = warning
EOF
    echo '[].' >"$RUN/rabbitmq/enabled_plugins"
    launch epmd /usr/bin/epmd -address 127.0.0.1 -port "$EPMD_PORT"
    sleep 0.5
    # Not the /usr/sbin wrapper (it su's to the rabbitmq user).
    (rabbit_env && launch rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server)
    local t0
    t0=$(date +%s)
    until rabbitmqctl -q await_startup >/dev/null 2>&1; do
        alive rabbitmq || fail_with_log rabbitmq "RabbitMQ exited while starting"
        [ $(($(date +%s) - t0)) -gt 120 ] && fail_with_log rabbitmq "RabbitMQ did not start within 120s"
        sleep 1
    done
}
rabbit_vhost() {
    rabbitmqctl -q add_vhost "$1" >/dev/null 2>&1 || true
    rabbitmqctl -q set_permissions -p "$1" "$RABBIT_USER" '.*' '.*' '.*' >/dev/null ||
        die "cannot set RabbitMQ permissions on vhost $1"
}

# ------------------------------------------------------------------------------ Keystone
start_keystone() {
    local d=$RUN/keystone
    check_port keystone "$KEYSTONE_PORT"
    create_db keystone
    write "$d/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOGS/keystone.log
[database]
connection = $(dburl keystone)
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $d/fernet-keys
[fernet_receipts]
key_repository = $d/fernet-keys
[credential]
key_repository = $d/credential-keys
[oslo_policy]
enforce_new_defaults = true
enforce_scope = false
EOF
    local km=("$BIN/keystone-manage" --config-file "$d/keystone.conf") u g
    u=$(id -un)
    g=$(id -gn)
    {
        "${km[@]}" db_sync
        [ -d "$d/fernet-keys" ] || "${km[@]}" fernet_setup --keystone-user "$u" --keystone-group "$g"
        [ -d "$d/credential-keys" ] || "${km[@]}" credential_setup --keystone-user "$u" --keystone-group "$g"
        "${km[@]}" bootstrap --bootstrap-password "$ADMIN_PASS" --bootstrap-username admin \
            --bootstrap-project-name admin --bootstrap-role-name admin \
            --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
            --bootstrap-admin-url "$KEYSTONE_URL/" --bootstrap-internal-url "$KEYSTONE_URL/" \
            --bootstrap-public-url "$KEYSTONE_URL/"
    } >>"$LOGS/keystone-manage.log" 2>&1 || fail_with_log keystone-manage "keystone-manage failed"
    uwsgi_serve keystone "$KEYSTONE_PORT" keystone.wsgi.api:application OS_KEYSTONE_CONFIG_DIR="$d"
    wait_up keystone "$KEYSTONE_URL" 180
}

# -------------------------------------------------------------------------------- Glance
start_glance() {
    local d=$RDIR/glance n=$P-glance
    check_port "$n" "$GLANCE_PORT"
    mkdir -p "$d/images" "$d/staging" "$d/tasks" "$d/lock"
    create_db "glance_$P"
    cp "$REAL_OS_VENV/etc/glance/glance-api-paste.ini" "$d/glance-api-paste.ini"
    write "$d/glance-api.conf" <<EOF
[DEFAULT]
log_file = $LOGS/$n.log
enabled_backends = fs:file
workers = 1
transport_url = $TRANSPORT_URL
[database]
connection = $(dburl "glance_$P")
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $d/images
[os_glance_staging_store]
filesystem_store_datadir = $d/staging
[os_glance_tasks_store]
filesystem_store_datadir = $d/tasks
[paste_deploy]
flavor = keystone
config_file = $d/glance-api-paste.ini
[oslo_messaging_notifications]
driver = noop
[oslo_concurrency]
lock_path = $d/lock
$(authtoken_section glance)
EOF
    "$BIN/glance-manage" --config-file "$d/glance-api.conf" db_sync >>"$LOGS/$P-glance-manage.log" 2>&1 ||
        fail_with_log "$P-glance-manage" "glance db_sync failed ($REGION)"
    gunicorn_serve "$n" "$GLANCE_PORT" glance.wsgi.api:application OS_GLANCE_CONFIG_DIR="$d"
}

# ------------------------------------------------------------------------------- Neutron
start_neutron() {
    local d=$RDIR/neutron n=$P-neutron
    check_port "$n" "$NEUTRON_PORT"
    mkdir -p "$d/plugins/ml2" "$d/lock"
    create_db "neutron_$P"
    cp "$REAL_OS_VENV/etc/neutron/api-paste.ini" "$d/api-paste.ini"
    # No agents exist: no RPC workers, no DHCP notifications; the API still casts to RabbitMQ.
    write "$d/neutron.conf" <<EOF
[DEFAULT]
log_file = $LOGS/$n.log
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
api_paste_config = $d/api-paste.ini
state_path = $d
transport_url = $TRANSPORT_URL
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
allow_overlapping_ips = true
dhcp_agent_notification = false
[database]
connection = $(dburl "neutron_$P")
[oslo_concurrency]
lock_path = $d/lock
[oslo_messaging_notifications]
driver = noop
$(authtoken_section neutron)
$(client_section nova nova)
EOF
    write "$d/plugins/ml2/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = agentless
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:199
[ml2_type_vxlan]
vni_ranges = 1:10000
[securitygroup]
firewall_driver = noop
EOF
    "$BIN/neutron-db-manage" --config-file "$d/neutron.conf" --config-file "$d/plugins/ml2/ml2_conf.ini" \
        upgrade head >>"$LOGS/$P-neutron-db-manage.log" 2>&1 ||
        fail_with_log "$P-neutron-db-manage" "neutron-db-manage failed ($REGION)"
    uwsgi_serve "$n" "$NEUTRON_PORT" neutron.wsgi.api:application OS_NEUTRON_CONFIG_DIR="$d"
}

# ----------------------------------------------------------------------------- Placement
start_placement() {
    local d=$RDIR/placement n=$P-placement
    check_port "$n" "$PLACEMENT_PORT"
    mkdir -p "$d"
    create_db "placement_$P"
    write "$d/placement.conf" <<EOF
[DEFAULT]
log_file = $LOGS/$n.log
[placement_database]
connection = $(dburl "placement_$P")
[api]
auth_strategy = keystone
$(authtoken_section placement)
EOF
    "$BIN/placement-manage" --config-file "$d/placement.conf" db sync >>"$LOGS/$P-placement-manage.log" 2>&1 ||
        fail_with_log "$P-placement-manage" "placement db sync failed ($REGION)"
    uwsgi_serve "$n" "$PLACEMENT_PORT" placement.wsgi.api:application OS_PLACEMENT_CONFIG_DIR="$d"
}

# ---------------------------------------------------------------------------------- Nova
start_nova() {
    local d=$RDIR/nova
    check_port "$P-nova-api" "$NOVA_PORT"
    mkdir -p "$d/instances" "$d/lock"
    create_db "nova_api_$P" "nova_cell0_$P" "nova_$P"
    cp "$REAL_OS_VENV/etc/nova/api-paste.ini" "$d/api-paste.ini"
    # FakeDriverWithoutFakeNodes (not FakeDriver) writes compute_id, so restarts work.
    # periodic_fuzzy_delay = 0: host discovery without a random delay of up to 60 s.
    local common
    common=$(
        cat <<EOF
[DEFAULT]
transport_url = $TRANSPORT_URL
compute_driver = fake.FakeDriverWithoutFakeNodes
graceful_shutdown_timeout = 5
periodic_fuzzy_delay = 0
allow_resize_to_same_host = true
my_ip = 127.0.0.1
state_path = $d
instances_path = $d/instances
use_rootwrap_daemon = false
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $d/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[oslo_concurrency]
lock_path = $d/lock
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[spice]
enabled = false
[glance]
region_name = $REGION
[cinder]
os_region_name = $REGION
auth_url = http://127.0.0.1:$KEYSTONE_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = $SERVICE_PASS
$(client_section placement placement)
$(client_section neutron neutron)
$(client_section service_user nova)
send_service_user_token = true
$(authtoken_section nova)
EOF
    )
    local s host dbs
    dbs=$(printf '[api_database]\nconnection = %s\n[database]\nconnection = %s\n' \
        "$(dburl "nova_api_$P")" "$(dburl "nova_$P")")
    for s in api conductor scheduler compute; do
        host=$P-controller
        [ $s = compute ] && host=$P-compute1
        {
            printf '%s\n' "$common" | sed "s#^\[DEFAULT\]#[DEFAULT]\nlog_file = $LOGS/$P-nova-$s.log\nhost = $host#"
            # nova-compute must not get database access (it goes through the conductor)
            [ $s = compute ] || printf '%s\n' "$dbs"
        } >"$d/nova-$s.conf"
    done
    cp "$d/nova-api.conf" "$d/nova.conf" # the WSGI app reads $OS_NOVA_CONFIG_DIR/nova.conf
    local nm=("$BIN/nova-manage" --config-file "$d/nova.conf")
    {
        "${nm[@]}" api_db sync &&
            "${nm[@]}" cell_v2 map_cell0 --database_connection "$(dburl "nova_cell0_$P")" &&
            { "${nm[@]}" cell_v2 list_cells | grep ' cell1 ' >/dev/null ||
                "${nm[@]}" cell_v2 create_cell --name cell1 --database_connection "$(dburl "nova_$P")" \
                    --transport-url "$TRANSPORT_URL"; } &&
            "${nm[@]}" db sync
    } >>"$LOGS/$P-nova-manage.log" 2>&1 || fail_with_log "$P-nova-manage" "nova-manage failed ($REGION)"
    uwsgi_serve "$P-nova-api" "$NOVA_PORT" nova.wsgi.osapi_compute:application OS_NOVA_CONFIG_DIR="$d"
    launch "$P-nova-conductor" "$BIN/nova-conductor" --config-file "$d/nova-conductor.conf"
    launch "$P-nova-scheduler" "$BIN/nova-scheduler" --config-file "$d/nova-scheduler.conf"
}
start_nova_compute() {
    # nova-compute plus a patch so that fake-driver snapshots upload data (harness_fakes)
    launch "$P-nova-compute" "$BIN/python" -m harness_fakes.nova_compute --config-file "$RDIR/nova/nova-compute.conf"
}

# -------------------------------------------------------------------------------- Cinder
start_cinder() {
    local d=$RDIR/cinder
    check_port "$P-cinder-api" "$CINDER_PORT"
    mkdir -p "$d/lock"
    create_db "cinder_$P"
    cp "$REAL_OS_VENV/etc/cinder/api-paste.ini" "$d/api-paste.ini"
    # glance_api_servers: otherwise cinder takes the first image endpoint of any region.
    # resource_query_filters_file: otherwise cinder silently ignores list filters (?name=).
    local common
    common=$(
        cat <<EOF
[DEFAULT]
transport_url = $TRANSPORT_URL
auth_strategy = keystone
api_paste_config = $d/api-paste.ini
state_path = $d
host = $P-cinder
my_ip = 127.0.0.1
enabled_backends = fake
default_volume_type = __DEFAULT__
osapi_volume_workers = 1
graceful_shutdown_timeout = 5
periodic_fuzzy_delay = 0
glance_api_servers = http://127.0.0.1:$GLANCE_PORT
resource_query_filters_file = $REAL_OS_VENV/etc/cinder/resource_filters.json
[glance]
region_name = $REGION
[database]
connection = $(dburl "cinder_$P")
[fake]
volume_driver = harness_fakes.cinder_volume.FakeVolumeDriver
volume_backend_name = fake
[oslo_concurrency]
lock_path = $d/lock
[oslo_messaging_notifications]
driver = noop
[coordination]
backend_url = file://$d/lock
$(client_section nova nova)
$(client_section service_user cinder)
send_service_user_token = true
$(authtoken_section cinder)
EOF
    )
    local s
    for s in api scheduler volume; do
        printf '%s\n' "$common" | sed "s#^\[DEFAULT\]#[DEFAULT]\nlog_file = $LOGS/$P-cinder-$s.log#" >"$d/cinder-$s.conf"
    done
    "$BIN/cinder-manage" --config-file "$d/cinder-api.conf" db sync >>"$LOGS/$P-cinder-manage.log" 2>&1 ||
        fail_with_log "$P-cinder-manage" "cinder db sync failed ($REGION)"
    uwsgi_serve "$P-cinder-api" "$CINDER_PORT" cinder.wsgi.api:application -- --pyargv "--config-file $d/cinder-api.conf"
    launch "$P-cinder-scheduler" "$BIN/cinder-scheduler" --config-file "$d/cinder-scheduler.conf"
    launch "$P-cinder-volume" "$BIN/cinder-volume" --config-file "$d/cinder-volume.conf"
}

# ================================================================================== main
# Pre-flight: every port we are about to use must be free (or held by our own running process),
# so that a conflict fails before anything starts.
check_port mariadb "$MYSQL_PORT"
check_port rabbitmq "$AMQP_PORT"
check_port rabbitmq "$RABBIT_DIST_PORT"
check_port epmd "$EPMD_PORT"
check_port keystone "$KEYSTONE_PORT"
for r in "${REGIONS[@]}"; do
    region_vars "$r"
    check_port "$P-glance" "$GLANCE_PORT"
    check_port "$P-neutron" "$NEUTRON_PORT"
    check_port "$P-placement" "$PLACEMENT_PORT"
    check_port "$P-nova-api" "$NOVA_PORT"
    check_port "$P-cinder-api" "$CINDER_PORT"
done

log "shared: MariaDB, RabbitMQ, Keystone"
start_mariadb
start_rabbitmq
start_keystone

# Service project, users, roles and every region's catalog, in one Python process.
catalog=()
for r in "${REGIONS[@]}"; do
    region_vars "$r"
    catalog+=("$r=image:$GLANCE_PORT,network:$NEUTRON_PORT,placement:$PLACEMENT_PORT,compute:$NOVA_PORT,volume:$CINDER_PORT")
done
ADMIN_PASS=$ADMIN_PASS SERVICE_PASS=$SERVICE_PASS "$BIN/python" "$RO_SCRIPTS/keystone_setup.py" --url "$KEYSTONE_URL" "${catalog[@]}" \
    >>"$LOGS/keystone-setup.log" 2>&1 || fail_with_log keystone-setup "Keystone catalog setup failed"

for r in "${REGIONS[@]}"; do
    region_vars "$r"
    log "$r ($P): glance neutron placement nova cinder"
    mkdir -p "$RDIR"
    rabbit_vhost "$VHOST"
    start_glance
    start_neutron
    start_placement
    start_nova
    start_cinder
done

# Wait for every API, then start nova-compute (it needs placement and the conductor).
for r in "${REGIONS[@]}"; do
    region_vars "$r"
    wait_up "$P-glance" "http://127.0.0.1:$GLANCE_PORT/"
    wait_up "$P-neutron" "http://127.0.0.1:$NEUTRON_PORT/"
    wait_up "$P-placement" "http://127.0.0.1:$PLACEMENT_PORT/"
    wait_up "$P-nova-api" "http://127.0.0.1:$NOVA_PORT/"
    wait_up "$P-cinder-api" "http://127.0.0.1:$CINDER_PORT/"
    start_nova_compute
done

OPENRC=$RUN/admin-openrc
write "$OPENRC" <<EOF
# Admin credentials of the real-OpenStack tier (test-only). Regions: ${REGIONS[*]}
export OS_AUTH_URL=$KEYSTONE_URL
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASS
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=${REGIONS[0]}
EOF

# Healthy = each region's nova-compute is mapped to cell1 and reported "up", and the
# cinder-volume service is "up" (both are what server create / volume create need).
# shellcheck disable=SC1090
. "$OPENRC"
for r in "${REGIONS[@]}"; do
    region_vars "$r"
    t0=$(date +%s)
    until "$BIN/nova-manage" --config-file "$RDIR/nova/nova.conf" cell_v2 discover_hosts >/dev/null 2>&1 &&
        "$BIN/nova-manage" --config-file "$RDIR/nova/nova.conf" cell_v2 list_hosts 2>/dev/null | grep "$P-compute1" >/dev/null &&
        OS_REGION_NAME=$r "$BIN/openstack" compute service list --service nova-compute --host "$P-compute1" \
            -f value -c State 2>/dev/null </dev/null | grep -x up >/dev/null; do
        alive "$P-nova-compute" || fail_with_log "$P-nova-compute" "$P-nova-compute exited"
        alive "$P-nova-conductor" || fail_with_log "$P-nova-conductor" "$P-nova-conductor exited"
        [ $(($(date +%s) - t0)) -gt 240 ] && fail_with_log "$P-nova-compute" "$r: nova-compute never came up"
        sleep 2
    done
    until OS_REGION_NAME=$r "$BIN/openstack" volume service list --service cinder-volume \
        -f value -c State 2>/dev/null </dev/null | grep -x up >/dev/null; do
        alive "$P-cinder-volume" || fail_with_log "$P-cinder-volume" "$P-cinder-volume exited"
        [ $(($(date +%s) - t0)) -gt 300 ] && fail_with_log "$P-cinder-volume" "$r: cinder-volume never came up"
        sleep 2
    done
    # every process of the region must still be alive
    for s in $(region_procs); do
        alive "$P-$s" || fail_with_log "$P-$s" "$P-$s is not running"
    done
done

log "all up in $(($(date +%s) - T0))s"
echo "Keystone $KEYSTONE_URL   admin credentials: source $OPENRC   (admin / $ADMIN_PASS, project admin)"
for r in "${REGIONS[@]}"; do
    region_vars "$r"
    echo "$r: compute http://127.0.0.1:$NOVA_PORT/v2.1  network http://127.0.0.1:$NEUTRON_PORT" \
        " volumev3 http://127.0.0.1:$CINDER_PORT/v3  image http://127.0.0.1:$GLANCE_PORT" \
        " placement http://127.0.0.1:$PLACEMENT_PORT"
done
echo "MariaDB 127.0.0.1:$MYSQL_PORT  RabbitMQ 127.0.0.1:$AMQP_PORT  logs $LOGS"
