#!/usr/bin/env bash
# End-to-end check as a new user would do it: start `cascade demo`, then drive it with the
# unmodified `openstack` CLI (python-openstackclient 10.x from the venv made by
# scripts/venv.sh) and with `cascade pod|routing`. Prints "e2e: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cascade="${CASCADE_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/cascade}"
venv="$("$root/scripts/venv.sh")"
osc="$venv/bin/openstack"
work="$(mktemp -d)"
passed=0; failed=0
demo_pid=""
cleanup() {
    if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

check() { # check NAME COMMAND... : passes when the command succeeds
    local name="$1"; shift
    if out="$("$@" 2>&1)"; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; echo "$out" | sed 's/^/     /' | tail -20
    fi
}
expect_fail() { # expect_fail NAME COMMAND... : passes when the command fails
    local name="$1"; shift
    if out="$("$@" 2>&1)"; then
        failed=$((failed + 1)); echo "FAIL $name (unexpectedly succeeded)"; echo "$out" | sed 's/^/     /' | tail -5
    else
        passed=$((passed + 1)); echo "ok   $name"
    fi
}

"$cascade" demo --listen 127.0.0.1:0 --pods 3 --data-dir "$work/demo" > "$work/demo.out" 2> "$work/demo.err" &
demo_pid=$!
for _ in $(seq 1 300); do
    grep -q "Stop with Ctrl-C" "$work/demo.out" 2>/dev/null && break
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 0.2
done
if ! grep -q "Stop with Ctrl-C" "$work/demo.out"; then
    echo "cascade demo did not start:"; cat "$work/demo.out" "$work/demo.err"
    echo "e2e: 0 passed, 1 failed"; exit 1
fi

# shellcheck disable=SC1091
source "$work/demo/admin-openrc.sh"
export OS_CLIENT_CONFIG_FILE="$work/none.yaml"

check "token issue" "$osc" token issue
check "catalog lists compute" bash -c "'$osc' catalog list -f value -c Type | grep -qx compute"
check "catalog lists volumev3 and block-storage" bash -c "'$osc' catalog list -f value -c Type | grep -qx volumev3 && '$osc' catalog list -f value -c Type | grep -qx block-storage"
check "catalog points only at Cascade" bash -c "! '$osc' catalog show compute -f value -c endpoints | grep -v \"${OS_AUTH_URL%/identity/v3}\" | grep -q http"
check "project create" "$osc" project create --description "e2e project" e2e-project
expect_fail "project create duplicate is refused" "$osc" project create e2e-project
check "project list shows it" bash -c "'$osc' project list -f value -c Name | grep -qx e2e-project"
check "user create" "$osc" user create --password e2e-secret --project e2e-project e2e-user
check "role add" "$osc" role add --project e2e-project --user e2e-user member
check "role assignment list" bash -c "'$osc' role assignment list --user e2e-user --project e2e-project -f value | grep -q ."
check "new user gets a token" env OS_USERNAME=e2e-user OS_PASSWORD=e2e-secret OS_PROJECT_NAME=e2e-project "$osc" token issue
expect_fail "wrong password is refused" env OS_PASSWORD=wrong "$osc" token issue

token="$("$osc" token issue -f value -c id)"
check "the token works" curl -fsS -o /dev/null -H "X-Auth-Token: $token" "${OS_AUTH_URL}/auth/projects"
check "token revoke" "$osc" token revoke "$token"
check "a revoked token is refused (401)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: $token' '${OS_AUTH_URL}/auth/projects')\" = 401 ]"

check "demo user token" bash -c "source '$work/demo/demo-openrc.sh' && '$osc' token issue"
expect_fail "demo user cannot create projects" bash -c "source '$work/demo/demo-openrc.sh' && '$osc' project create nope"

check "cascade pod list shows 3 pods up" bash -c "[ \"\$('$cascade' pod list | grep -c ' up ')\" = 3 ]"
check "cascade pod list -f json" bash -c "'$cascade' pod list -f json | grep -q '\"az_name\": \"az2\"'"
pod_id="$("$cascade" pod list -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pod_id"])')"
check "cascade pod show" bash -c "'$cascade' pod show '$pod_id' | grep -q Pod1"
check "cascade pod maintenance on" bash -c "'$cascade' pod maintenance '$pod_id' on | grep -q maintenance"
check "cascade routing list" "$cascade" routing list
expect_fail "cascade pod add with a duplicate region is refused" "$cascade" pod add --region-name Pod1 --az-name az9 --endpoint compute=http://127.0.0.1:9/compute/v2.1

# The simulated region answers the CLI directly, as an ordinary OpenStack.
pod2_auth="$(grep '| Pod2 ' "$work/demo.out" | grep -o 'http://[^ ]*/identity/v3')"
check "CLI straight at pod Pod2: network create" env OS_AUTH_URL="$pod2_auth" OS_REGION_NAME=Pod2 "$osc" network create e2e-net
check "CLI straight at pod Pod2: network list" bash -c "OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' network list -f value -c Name | grep -qx e2e-net"

pod() { env OS_AUTH_URL="$pod2_auth" OS_REGION_NAME=Pod2 "$osc" "$@"; }
head -c 1048576 /dev/urandom > "$work/disk.img"
check "CLI straight at Pod2: subnet create" pod subnet create --network e2e-net --subnet-range 10.10.0.0/24 e2e-subnet
check "CLI straight at Pod2: port create" pod port create --network e2e-net e2e-port
check "CLI straight at Pod2: image create with data" pod image create --file "$work/disk.img" --disk-format qcow2 --container-format bare e2e-img
check "CLI straight at Pod2: image checksum matches" bash -c "[ \"\$(OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' image show e2e-img -f value -c checksum)\" = \"\$(md5sum '$work/disk.img' | cut -d' ' -f1)\" ]"
check "CLI straight at Pod2: server create --wait reaches ACTIVE" pod server create --flavor m1.tiny --image e2e-img --network e2e-net --wait e2e-vm
check "CLI straight at Pod2: server is ACTIVE in az2" bash -c "OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' server show e2e-vm -f value -c status -c OS-EXT-AZ:availability_zone | tr '\n' ' ' | grep -q 'az2 ACTIVE'"
check "CLI straight at Pod2: volume create" pod volume create --size 1 e2e-vol
volume_ready() {
    for _ in $(seq 1 50); do
        [ "$(pod volume show e2e-vol -f value -c status)" = available ] && return 0
        sleep 0.2
    done
    return 1
}
check "CLI straight at Pod2: volume becomes available" volume_ready

# Compute across pods through Cascade (issue 4), with the unmodified CLI.
check "flavor create (admin)" "$osc" flavor create --vcpus 1 --ram 256 --disk 1 m1.e2e
check "image create through Cascade" "$osc" image create --file "$work/disk.img" --disk-format qcow2 --container-format bare e2e-cimg
check "network create through Cascade" "$osc" network create e2e-cnet
check "subnet create through Cascade" "$osc" subnet create --network e2e-cnet --subnet-range 10.20.0.0/24 e2e-csub
check "server create --wait in az2 reaches ACTIVE" "$osc" server create --flavor m1.e2e --image e2e-cimg --network e2e-cnet --availability-zone az2 --wait e2e-vm1
vm1_id="$("$osc" server show e2e-vm1 -f value -c id)"
check "the server is in az2 with an address on e2e-cnet" bash -c "'$osc' server show e2e-vm1 -f value -c OS-EXT-AZ:availability_zone -c addresses | tr '\n' ' ' | grep -q \"az2.*e2e-cnet.*10.20.0.\""
check "the bottom server is in Pod2, carrying the top id" bash -c "OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' server list -f value -c Name | grep -qx 'e2e-vm1@$vm1_id'"
# Isolation (the policy layer): another project's member, a reader and a user with no role.
eu() { env OS_USERNAME=e2e-user OS_PASSWORD=e2e-secret OS_PROJECT_NAME=e2e-project "$osc" "$@"; }
expect_fail "another project's member cannot show the admin's server" eu server show "$vm1_id"
check "--all-projects by a member lists only its own project" bash -c "! OS_USERNAME=e2e-user OS_PASSWORD=e2e-secret OS_PROJECT_NAME=e2e-project '$osc' server list --all-projects -f value -c Name | grep -q e2e-vm1"
expect_fail "another project's member cannot rename the admin's server" eu server set --name pwned "$vm1_id"
check "the admin's server keeps its name" bash -c "'$osc' server show '$vm1_id' -f value -c name | grep -qx e2e-vm1"
check "user create e2e-reader" "$osc" user create --password e2e-secret --project e2e-project e2e-reader
check "role add reader" "$osc" role add --project e2e-project --user e2e-reader reader
check "a reader lists servers" env OS_USERNAME=e2e-reader OS_PASSWORD=e2e-secret OS_PROJECT_NAME=e2e-project "$osc" server list
check "a reader cannot create a network (403 by policy)" bash -c "OS_USERNAME=e2e-reader OS_PASSWORD=e2e-secret OS_PROJECT_NAME=e2e-project '$osc' network create nope 2>&1 | grep -q 'disallowed by policy'"
check "user create e2e-norole (no role anywhere)" "$osc" user create --password e2e-secret e2e-norole
expect_fail "a user with no role cannot scope a token" env OS_USERNAME=e2e-norole OS_PASSWORD=e2e-secret OS_PROJECT_NAME=e2e-project "$osc" token issue
unscoped="$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"e2e-norole","domain":{"name":"Default"},"password":"e2e-secret"}}}}}' "${OS_AUTH_URL}/auth/tokens" | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}')"
check "an unscoped token lists no servers (403)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: $unscoped' '${OS_AUTH_URL%/identity/v3}/compute/v2.1/servers')\" = 403 ]"
check "an unscoped token renames no server (403)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'content-type: application/json' -d '{\"server\":{\"name\":\"x\"}}' -H 'X-Auth-Token: $unscoped' '${OS_AUTH_URL%/identity/v3}/compute/v2.1/servers/$vm1_id')\" = 403 ]"
check "cascade policy list shows every route's rule" bash -c "'$cascade' policy list | grep 'os_compute_api:servers:index' | grep -q project_reader"
# Pod1 (az1) was put into maintenance above: no new placements there.
expect_fail "no placement in az1 while Pod1 is in maintenance" "$osc" server create --flavor m1.e2e --image e2e-cimg --network e2e-cnet --availability-zone az1 --wait e2e-nohost
check "the refused server is ERROR with Nova's fault" bash -c "'$osc' server show e2e-nohost -f value -c status | grep -qx ERROR"
check "cascade pod maintenance off" bash -c "'$cascade' pod maintenance '$pod_id' off | grep -q ' up \\| down '"
pod1_up() { for _ in $(seq 1 50); do "$cascade" pod list | grep ' Pod1 ' | grep -q ' up ' && return 0; sleep 0.2; done; return 1; }
check "Pod1 is up again" pod1_up
check "server delete of the ERROR server" "$osc" server delete --wait e2e-nohost
for i in 2 3 4; do
    check "server create e2e-vm$i in az$(( (i % 3) + 1 ))" "$osc" server create --flavor m1.e2e --image e2e-cimg --network e2e-cnet --availability-zone "az$(( (i % 3) + 1 ))" --wait "e2e-vm$i"
done
walk_pages() {
    local marker="" seen="" out
    while :; do
        if [ -z "$marker" ]; then out="$("$osc" server list --limit 2 -f value -c ID)"; else out="$("$osc" server list --limit 2 --marker "$marker" -f value -c ID)"; fi
        [ -z "$out" ] && break
        seen="$seen $out"; marker="$(echo "$out" | tail -1)"
    done
    local all; all="$("$osc" server list -f value -c ID | sort)"
    [ "$(echo $seen | tr ' ' '\n' | sort)" = "$all" ] && [ "$(echo $seen | wc -w)" = "$(echo "$all" | wc -l)" ]
}
# Networking across pods (issue 5), judged by the simulated regions' reachability oracle.
pod_auth() { grep "| $1 " "$work/demo.out" | grep -o 'http://[^ ]*/identity/v3'; }
bottom_port() { # bottom_port REGION TOP_SERVER_NAME
    local id; id="$("$osc" server show "$2" -f value -c id)"
    local auth; auth="$(pod_auth "$1")"
    local bottom; bottom="$(OS_AUTH_URL="$auth" OS_REGION_NAME="$1" "$osc" server list --all-projects -f value -c ID -c Name | grep "@$id\$" | cut -d' ' -f1)"
    OS_AUTH_URL="$auth" OS_REGION_NAME="$1" "$osc" port list --device-id "$bottom" -f value -c ID | head -1
}
reach() { # reach FROM_REGION FROM_SERVER TO_REGION TO_SERVER PROTOCOL [PORT] -> prints true/false
    local a b body; a="$(bottom_port "$1" "$2")"; b="$(bottom_port "$3" "$4")"
    body="{\"from\": {\"region\": \"$1\", \"port_id\": \"$a\"}, \"to\": {\"region\": \"$3\", \"port_id\": \"$b\"}, \"protocol\": \"$5\""
    [ -n "${6:-}" ] && body="$body, \"port\": $6"
    curl -fsS -X POST -H 'content-type: application/json' -d "$body}" "$(grep '| Pod1 ' "$work/demo.out" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)/sim/reachability" \
        | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["reachable"]).lower())'
}
check "oracle: e2e-vm1 (az2) reaches e2e-vm2 (az3) on one network" bash -c "[ \"\$($(declare -f pod_auth bottom_port reach); osc='$osc' work='$work' reach Pod2 e2e-vm1 Pod3 e2e-vm2 icmp)\" = true ]"
check "network create e2e-cnet2 + subnet" bash -c "'$osc' network create e2e-cnet2 >/dev/null && '$osc' subnet create --network e2e-cnet2 --subnet-range 10.21.0.0/24 e2e-csub2 >/dev/null"
check "server on e2e-cnet2 in az1" "$osc" server create --flavor m1.e2e --image e2e-cimg --network e2e-cnet2 --availability-zone az1 --wait e2e-vm5
check "oracle: isolated networks do not reach each other" bash -c "[ \"\$($(declare -f pod_auth bottom_port reach); osc='$osc' work='$work' reach Pod2 e2e-vm1 Pod1 e2e-vm5 icmp)\" = false ]"
check "router create" "$osc" router create e2e-r1
check "router add subnet (az2/az3 network)" "$osc" router add subnet e2e-r1 e2e-csub
check "router add subnet (az1 network)" "$osc" router add subnet e2e-r1 e2e-csub2
routed() { for _ in $(seq 1 50); do [ "$(reach Pod2 e2e-vm1 Pod1 e2e-vm5 icmp)" = true ] && return 0; sleep 0.2; done; return 1; }
check "oracle: the router joins the networks across pods" routed
check "security group rule create (tcp/22 from anywhere)" "$osc" security group rule create --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 default
check "port create" "$osc" port create --network e2e-cnet e2e-port
check "external network (admin, one AZ)" bash -c "'$osc' network create --external --availability-zone-hint az1 --provider-network-type flat --provider-physical-network physnet1 e2e-public >/dev/null && '$osc' subnet create --network e2e-public --subnet-range 172.30.0.0/24 --no-dhcp e2e-public-sub >/dev/null"
check "router external gateway" "$osc" router set --external-gateway e2e-public e2e-r1
fip="$("$osc" floating ip create e2e-public -f value -c floating_ip_address 2>/dev/null)"
check "floating ip create" test -n "$fip"
check "server add floating ip" "$osc" server add floating ip e2e-vm5 "$fip"
check "the floating ip shows in server list" bash -c "'$osc' server list -f value -c Name -c Networks | grep e2e-vm5 | grep -q '$fip'"
ext_id="$("$osc" network show e2e-public -f value -c id)"
outside_port() { # a host outside: a port on the external network, made straight in Pod1
    local auth; auth="$(pod_auth Pod1)"
    local bnet; bnet="$(OS_AUTH_URL="$auth" OS_REGION_NAME=Pod1 "$osc" network list -f value -c ID -c Name | grep " $ext_id\$" | cut -d' ' -f1)"
    OS_AUTH_URL="$auth" OS_REGION_NAME=Pod1 "$osc" port create --network "$bnet" e2e-outside -f value -c id
}
outside="$(outside_port 2>/dev/null)"
from_outside() { # from_outside PROTOCOL PORT -> true/false
    local b; b="$(bottom_port Pod1 e2e-vm5)"
    curl -fsS -X POST -H 'content-type: application/json' \
        -d "{\"from\": {\"region\": \"Pod1\", \"port_id\": \"$outside\"}, \"to\": {\"region\": \"Pod1\", \"port_id\": \"$b\"}, \"protocol\": \"$1\", \"port\": $2}" \
        "$(grep '| Pod1 ' "$work/demo.out" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)/sim/reachability" \
        | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["reachable"]).lower())'
}
fip_reach() { for _ in $(seq 1 50); do [ "$(from_outside tcp 22)" = true ] && return 0; sleep 0.2; done; return 1; }
check "oracle: ssh from outside reaches e2e-vm5 through its floating ip" fip_reach
check "oracle: port 80 from outside is blocked by the security group" bash -c "[ \"\$($(declare -f pod_auth bottom_port from_outside); osc='$osc' work='$work' outside='$outside' from_outside tcp 80)\" = false ]"
check "the L2/L3 state is visible in the pod: shadow network in Pod3" bash -c "OS_AUTH_URL='$(pod_auth Pod3)' OS_REGION_NAME=Pod3 '$osc' network list -f value -c Name | grep -q ."
check "the L2/L3 state is visible in the pod: bottom router in Pod1" bash -c "OS_AUTH_URL='$(pod_auth Pod1)' OS_REGION_NAME=Pod1 '$osc' router list -f value -c ID | grep -q ."
check "server list --limit 2 with markers walks every server once" walk_pages
check "server stop" "$osc" server stop e2e-vm1
wait_status() { for _ in $(seq 1 50); do [ "$("$osc" server show "$1" -f value -c status)" = "$2" ] && return 0; sleep 0.2; done; return 1; }
check "server stop reaches SHUTOFF" wait_status e2e-vm1 SHUTOFF
check "the bottom server is SHUTOFF in Pod2" bash -c "OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' server show 'e2e-vm1@$vm1_id' -f value -c status | grep -qx SHUTOFF"
check "server start" "$osc" server start e2e-vm1
check "server start reaches ACTIVE" wait_status e2e-vm1 ACTIVE
pod1_base="$(grep '| Pod1 ' "$work/demo.out" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)"
check "fault injection: Pod3 down" curl -fsS -X POST -H 'content-type: application/json' -d '{"down": true}' "$pod1_base/sim/regions/Pod3/faults"
pod3_down() { for _ in $(seq 1 50); do "$cascade" pod list | grep ' Pod3 ' | grep -q ' down ' && return 0; sleep 0.2; done; return 1; }
check "Cascade sees Pod3 down" pod3_down
check "Pod3's server is UNKNOWN at 2.69" bash -c "'$osc' --os-compute-api-version 2.69 server list -f value -c Status | grep -qx UNKNOWN"
check "servers in other pods stay manageable" "$osc" server reboot e2e-vm1
check "fault injection: Pod3 back" curl -fsS -X POST -H 'content-type: application/json' -d '{"down": false}' "$pod1_base/sim/regions/Pod3/faults"
check "server delete" "$osc" server delete --wait e2e-vm1
check "the bottom server is gone from Pod2" bash -c "! OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' server list -f value -c Name | grep -q 'e2e-vm1@'"

# Block storage across pods through Cascade (issue 6): a volume lives in one AZ and meets its
# servers there; attaching across AZs is refused with a clear message.
check "volume create --availability-zone az2" "$osc" volume create --size 1 --availability-zone az2 v1
vol_status() { for _ in $(seq 1 100); do [ "$("$osc" volume show "$1" -f value -c status)" = "$2" ] && return 0; sleep 0.2; done; return 1; }
check "the volume becomes available" vol_status v1 available
v1_id="$("$osc" volume show v1 -f value -c id)"
check "the volume is in az2" bash -c "'$osc' volume show v1 -f value -c availability_zone | grep -qx az2"
check "the bottom volume is in Pod2, carrying the top id" bash -c "OS_AUTH_URL='$pod2_auth' OS_REGION_NAME=Pod2 '$osc' volume list --all-projects -f value -c Name | grep -qx 'v1@$v1_id'"
check "server add volume to a server in az2 (e2e-vm4)" "$osc" server add volume e2e-vm4 v1
check "the volume is in-use" vol_status v1 in-use
check "the server shows the volume" bash -c "'$osc' server show e2e-vm4 -f json | grep -q '$v1_id'"
check "volume create v2 in az2" "$osc" volume create --size 1 --availability-zone az2 v2
check "v2 becomes available" vol_status v2 available
expect_fail "server add volume to a server in az1 (e2e-vm3) is refused" "$osc" server add volume e2e-vm3 v2
check "the refusal says why" bash -c "'$osc' server add volume e2e-vm3 v2 2>&1 | grep -q 'same availability zone'"
check "volume list shows both" bash -c "[ \"\$('$osc' volume list -f value -c Name | grep -c '^v[12]\$')\" = 2 ]"
check "server remove volume" "$osc" server remove volume e2e-vm4 v1
check "v1 is available again" vol_status v1 available
check "volume create from an image in az3" "$osc" volume create --size 1 --image e2e-cimg --availability-zone az3 e2e-bootvol
check "the boot volume becomes available" vol_status e2e-bootvol available
check "boot from volume reaches ACTIVE" "$osc" server create --flavor m1.e2e --volume e2e-bootvol --network e2e-cnet --wait e2e-bfv
check "the server booted from volume is in az3 with its volume" bash -c "'$osc' server show e2e-bfv -f value -c OS-EXT-AZ:availability_zone | grep -qx az3 && '$osc' volume show e2e-bootvol -f value -c status | grep -qx in-use"
check "volume delete" "$osc" volume delete v2
vol_gone() { for _ in $(seq 1 100); do "$osc" volume show "$1" >/dev/null 2>&1 || return 0; sleep 0.2; done; return 1; }
check "the deleted volume is gone" vol_gone v2

# Images across pods (issue 6): lazy copies only where servers boot, eager copies by policy.
head -c 300000 /dev/urandom > "$work/lazy.img"
check "image create img-lazy" "$osc" image create --file "$work/lazy.img" --disk-format qcow2 --container-format bare img-lazy
check "checksum is the file's md5" bash -c "[ \"\$('$osc' image show img-lazy -f value -c checksum)\" = \"\$(md5sum '$work/lazy.img' | cut -d' ' -f1)\" ]"
home_az="$("$cascade" image copies img-lazy | grep -o ' az[0-9] ' | tr -d ' ' | head -1)"
for az in az1 az3; do
    check "boot img-lazy in $az" "$osc" server create --flavor m1.e2e --image img-lazy --no-network --availability-zone "$az" --wait "lazy-$az"
done
copies_in() { "$cascade" image copies img-lazy | grep ' active ' | grep -o ' az[0-9] ' | tr -d ' ' | sort -u | tr '\n' ' '; }
want="$(printf '%s\n' az1 az3 "$home_az" | sort -u | tr '\n' ' ')"
check "img-lazy was copied only to the home pod and where it booted ($want)" bash -c "[ \"\$($(declare -f copies_in); cascade='$cascade' copies_in)\" = '$want' ]"
pod3_copy="$("$cascade" image copies img-lazy | grep ' Pod3 ' | grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' | tail -1)"
check "the copy in Pod3 has the same checksum" bash -c "[ \"\$(OS_AUTH_URL='$(pod_auth Pod3)' OS_REGION_NAME=Pod3 '$osc' image show '$pod3_copy' -f value -c checksum)\" = \"\$(md5sum '$work/lazy.img' | cut -d' ' -f1)\" ]"
admin_token="$("$osc" token issue -f value -c id)"
cascade_base="${OS_AUTH_URL%/identity/v3}"
set_country() { curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $admin_token" -H 'content-type: application/json' -d "{\"pod\": {\"capabilities\": {\"country\": \"$2\"}}}" "$cascade_base/v1.0/pods/$1"; }
for region in Pod1 Pod2 Pod3; do
    id="$("$cascade" pod list -f json | python3 -c "import json,sys; print([p['pod_id'] for p in json.load(sys.stdin) if p['region_name']=='$region'][0])")"
    country=DE; [ "$region" = Pod2 ] && country=FR
    check "label $region country=$country" set_country "$id" "$country"
done
check "eager image with a country=DE policy" "$osc" image create --file "$work/lazy.img" --disk-format qcow2 --container-format bare --property cascade_replication=eager --property cascade_placement=country=DE img-de
eager_done() { for _ in $(seq 1 100); do [ "$("$cascade" image copies img-de | grep -c ' active ')" = 2 ] && return 0; sleep 0.2; done; return 1; }
check "img-de lands in the two DE pods" eager_done
check "img-de is not in the FR pod" bash -c "! '$cascade' image copies img-de | grep -q ' Pod2 '"
expect_fail "a policy naming no pod is refused" "$osc" image create --file "$work/lazy.img" --disk-format qcow2 --container-format bare --property cascade_replication=eager --property cascade_placement=country=XX img-xx

# `cascade sim` on its own, trusting Cascade's identity.
"$cascade" sim --regions 2 --identity-url "$OS_AUTH_URL" > "$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do grep -q "Stop with Ctrl-C" "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
sim_compute="$(grep '| Pod2 ' "$work/sim.out" | grep -o 'http://[^ ]*/compute/v2.1')"
check "cascade sim serves Nova version discovery" bash -c "curl -fsS '$sim_compute' | grep -q '\"min_version\"'"
check "cascade sim checks tokens (401 without one)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$sim_compute/servers')\" = 401 ]"
kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null

echo "e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
