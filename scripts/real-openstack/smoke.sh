#!/usr/bin/env bash
# Smoke test of one real region with the unmodified `openstack` CLI (from the tier's venv):
# token, network/subnet/port, image upload, flavor, server to ACTIVE (its port bound and
# ACTIVE), volume to available, then removes everything it created (also what an earlier,
# failed run left behind). Prints one line per step; exits non-zero on the first failure.
# usage: scripts/real-openstack/smoke.sh REGION   (needs start.sh to have run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || die "usage: $0 REGION"
region_vars "$1"
[ -f "$RUN/admin-openrc" ] || die "no $RUN/admin-openrc: run start.sh first"
# shellcheck disable=SC1091
. "$RUN/admin-openrc"
export OS_REGION_NAME=$REGION
export OS_CLIENT_CONFIG_FILE=/dev/null
# stdin closed: `openstack image create` uploads a non-tty stdin when no --file is given
os() { "$BIN/openstack" "$@" </dev/null; }
N=smoke-$P
T0=$(date +%s)
step() { printf '%s %-34s' "$REGION" "$1" >&2; }
ok() { echo "ok${1:+ ($1)}" >&2; }

# await KIND NAME WANTED [TIMEOUT_S]: poll the status of a server/volume/image
await() {
    local kind=$1 name=$2 want=$3 timeout=${4:-180} t0 s
    t0=$(date +%s)
    while :; do
        s=$(os "$kind" show "$name" -f value -c status)
        [ "$s" = "$want" ] && return 0
        case $s in ERROR | error*) die "$kind $name is $s (wanted $want)" ;; esac
        [ $(($(date +%s) - t0)) -ge "$timeout" ] && die "$kind $name still $s after ${timeout}s (wanted $want)"
        sleep 1
    done
}

cleanup() {
    local id
    for id in $(os server list --name "^$N-" -f value -c ID); do os server delete --wait "$id" || true; done
    for id in $(os volume list --name "$N-vol" -f value -c ID); do os volume delete --force "$id" || true; done
    for id in $(os port list --name "$N-port" -f value -c ID); do os port delete "$id" || true; done
    for id in $(os network list --name "$N-net" -f value -c ID); do os network delete "$id" || true; done
    for id in $(os image list --name "$N-img" -f value -c ID); do os image delete "$id" || true; done
    os flavor delete "$N-flavor" >/dev/null 2>&1 || true
}
cleanup >/dev/null 2>&1 || true

step "token issue"
os token issue -f value -c project_id >/dev/null
ok
step "network/subnet/port create"
os network create "$N-net" -f value -c id >/dev/null
os subnet create --network "$N-net" --subnet-range 10.77.0.0/24 "$N-sub" -f value -c id >/dev/null
os port create --network "$N-net" --fixed-ip ip-address=10.77.0.50 "$N-port" -f value -c id >/dev/null
ip=$(os port show "$N-port" -f json -c fixed_ips | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["fixed_ips"][0]["ip_address"])')
[ "$ip" = 10.77.0.50 ] || die "port got $ip, not 10.77.0.50"
ok "$ip"
step "image upload -> active"
img=$RUN/smoke-$P.img
head -c 1048576 /dev/urandom >"$img"
os image create --disk-format raw --container-format bare --file "$img" "$N-img" -f value -c id >/dev/null
await image "$N-img" active 120
want=$(md5sum "$img" | cut -d' ' -f1)
got=$(os image show "$N-img" -f value -c checksum)
[ "$got" = "$want" ] || die "image checksum $got does not match the file's md5 $want"
rm -f "$img"
ok "${want:0:12}.."
step "flavor create"
os flavor create --vcpus 1 --ram 128 --disk 1 "$N-flavor" -f value -c id >/dev/null
ok
step "server create -> ACTIVE"
t=$(date +%s)
os server create --flavor "$N-flavor" --image "$N-img" --network "$N-net" "$N-vm" -f value -c id >/dev/null
await server "$N-vm" ACTIVE 240
port=$(os port list --server "$N-vm" -f value -c ID | head -1)
pstat=$(os port show "$port" -f value -c status)
vif=$(os port show "$port" -f value -c binding_vif_type)
[ "$pstat" = ACTIVE ] && [ "$vif" = ovs ] || die "server port is $pstat/$vif, wanted ACTIVE/ovs"
ok "$(($(date +%s) - t))s"
step "volume create -> available"
t=$(date +%s)
os volume create --size 1 "$N-vol" -f value -c id >/dev/null
await volume "$N-vol" available 180
ok "$(($(date +%s) - t))s"
step "cleanup"
os server delete --wait "$N-vm"
os volume delete "$N-vol"
t=$(date +%s)
while [ -n "$(os volume list --name "$N-vol" -f value -c ID)" ]; do
    [ $(($(date +%s) - t)) -ge 60 ] && die "volume $N-vol not deleted after 60s"
    sleep 1
done
os port delete "$N-port"
os network delete "$N-net" # also deletes the subnet
os image delete "$N-img"
os flavor delete "$N-flavor"
left=$( (os server list --name "^$N-" -f value -c ID; os volume list --name "$N-vol" -f value -c ID;
    os network list --name "$N-net" -f value -c ID; os image list --name "$N-img" -f value -c ID) | wc -l)
[ "$left" = 0 ] || die "$left resources left behind after cleanup"
ok
log "smoke $REGION passed in $(($(date +%s) - T0))s"
