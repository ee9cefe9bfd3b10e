#!/usr/bin/env bash
# OpenStack's own API tests (Tempest, pinned in requirements.lock) against Cascade.
#
#   tests/tempest/run.sh                 start `cascade demo` (simulated pods, embedded identity)
#                                        and run the selection against it
#   TEMPEST_OPENRC=FILE tests/tempest/run.sh
#                                        run against a running cloud whose admin credentials FILE
#                                        exports (OS_AUTH_URL, OS_USERNAME, ...): the real tier uses
#                                        this for Cascade in keystone mode in front of real regions
#
# The selection is include.txt minus exclude.txt (each exclusion says why). Tempest's own
# feature flags in the generated tempest.conf say what the cloud offers (Cascade's Neutron
# extensions are read from the cloud itself). The run fails when a test fails that is not
# listed in known-failures.txt, or when fewer tests pass than min-pass (a count that only
# rises). Prints "tempest: P passed, F failed (K known), S skipped in Ns".
#
# TEMPEST_FILTER=REGEX narrows the run to matching tests (a developer's loop; the checks on
# the counts are then not applied). TEMPEST_CONCURRENCY (default 6) sets the workers; TEMPEST_BUILD_TIMEOUT
# (default 30 s, the demo builds in 1 s) bounds each wait for a status. TEMPEST_KNOWN and
# TEMPEST_MIN_PASS name other lists (the real tier's: known-failures-real.txt, min-pass-real),
# TEMPEST_INCLUDE another selection (the real tier's: interop.txt).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cascade="${CASCADE_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/cascade}"
venv="${TEMPEST_VENV:-$root/.venv-tempest}"
osc="$("$root/scripts/venv.sh")/bin/openstack"
work="${TEMPEST_WORK:-$(mktemp -d)}"
mkdir -p "$work"
concurrency="${TEMPEST_CONCURRENCY:-6}"
label="${TEMPEST_LABEL:-demo}"
known="${TEMPEST_KNOWN:-$here/known-failures.txt}"
min_pass="${TEMPEST_MIN_PASS:-$here/min-pass}"
demo_pid=""
cleanup() {
    if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null; fi
    [ -n "${TEMPEST_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
die() { echo "tempest: $*" >&2; echo "tempest: 0 passed, 1 failed (harness)"; exit 1; }

# 1. Tempest itself, pinned.
stamp="$venv/.cascade-tempest-$(sha256sum "$here/requirements.lock" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    python3 -m venv --clear "$venv" >&2 || die "cannot make the venv $venv"
    "$venv/bin/pip" install --quiet --upgrade pip >&2
    "$venv/bin/pip" install --quiet -r "$here/requirements.lock" >&2 || die "cannot install Tempest"
    touch "$stamp"
fi

# 2. The cloud under test.
if [ -n "${TEMPEST_OPENRC:-}" ]; then
    # shellcheck disable=SC1090
    source "$TEMPEST_OPENRC"
else
    "$cascade" demo --listen 127.0.0.1:0 --pods 2 --build-secs 1 --data-dir "$work/demo" > "$work/demo.out" 2> "$work/demo.err" &
    demo_pid=$!
    for _ in $(seq 1 300); do
        grep -q "Stop with Ctrl-C" "$work/demo.out" 2>/dev/null && break
        kill -0 "$demo_pid" 2>/dev/null || break
        sleep 0.2
    done
    grep -q "Stop with Ctrl-C" "$work/demo.out" || { cat "$work/demo.out" "$work/demo.err"; die "cascade demo did not start"; }
    # shellcheck disable=SC1091
    source "$work/demo/admin-openrc.sh"
fi
export OS_CLIENT_CONFIG_FILE="$work/none.yaml"
region="${OS_REGION_NAME:-RegionOne}"

# 3. What Tempest needs to exist: two images to boot and two flavors.
head -c 1048576 /dev/urandom > "$work/disk.img"
image_id() {
    local name="$1" id
    id="$("$osc" image list --name "$name" -f value -c ID | head -1)"
    if [ -z "$id" ]; then
        id="$("$osc" image create --public --disk-format raw --container-format bare \
            --file "$work/disk.img" -f value -c id "$name")" || return 1
    fi
    echo "$id"
}
flavor_id() {
    local name="$1" ram="$2" id
    id="$("$osc" flavor list --all -f value -c ID -c Name | awk -v n="$name" '$2 == n {print $1}' | head -1)"
    if [ -z "$id" ]; then
        id="$("$osc" flavor create --ram "$ram" --vcpus 1 --disk 1 -f value -c id "$name")" || return 1
    fi
    echo "$id"
}
image_ref="$(image_id tempest-image)" || die "cannot create the image"
image_ref_alt="$(image_id tempest-image-alt)" || die "cannot create the second image"
flavor_ref="$(flavor_id tempest-flavor 128)" || die "cannot create the flavor"
flavor_ref_alt="$(flavor_id tempest-flavor-alt 256)" || die "cannot create the second flavor"
# What the cloud says of itself: its public endpoints, Neutron's and Cinder's extensions and the newest
# compute and volume microversions.
discovered="$(python3 - <<'PY'
import json, os, urllib.request
def call(url, body=None, token=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers, json.load(resp)
auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": os.environ["OS_USERNAME"], "password": os.environ["OS_PASSWORD"],
    "domain": {"name": os.environ.get("OS_USER_DOMAIN_NAME", "Default")}}}},
    "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"],
                          "domain": {"name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
headers, body = call(os.environ["OS_AUTH_URL"].rstrip("/") + "/auth/tokens", auth)
token = headers["X-Subject-Token"]
urls = {}
for service in body["token"]["catalog"]:
    for ep in service["endpoints"]:
        if ep["interface"] == "public" and ep.get("region_id", ep.get("region")) in (
                os.environ.get("OS_REGION_NAME") or ep.get("region_id"),):
            urls.setdefault(service["type"], ep["url"].rstrip("/"))
_, ext = call(urls["network"].rstrip("/") + "/v2.0/extensions", token=token)
_, compute = call(urls["compute"], token=token)
volume_root = urls["volumev3"].split("/v3")[0]
_, volume = call(volume_root + "/v3/", token=token)
volume = volume.get("version") or volume["versions"][0]
_, vext = call(urls["volumev3"] + "/extensions", token=token)
print("extensions=" + ",".join(sorted(e["alias"] for e in ext["extensions"])))
print("max_microversion=" + compute["version"]["version"])
print("volume_max=" + volume["version"])
print("volume_extensions=" + ",".join(sorted(e["alias"] for e in vext["extensions"])))
PY
)" || die "cannot read the cloud's endpoints and versions"
eval "$discovered"

# 4. tempest.conf: Tempest's feature flags say what the cloud offers; each flag that turns a
#    feature off is a feature Cascade (or, for the data plane, this test set-up) lacks.
rm -rf "$work/tw"
"$venv/bin/tempest" init --workspace-path "$work/workspace.yaml" --name cascade "$work/tw" >/dev/null 2>&1 || die "tempest init failed"
cat > "$work/tw/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $work/tw/logs
log_file = tempest.log

[auth]
use_dynamic_credentials = true
admin_username = $OS_USERNAME
admin_password = $OS_PASSWORD
admin_project_name = $OS_PROJECT_NAME
admin_domain_name = ${OS_USER_DOMAIN_NAME:-Default}
default_credentials_domain_name = Default
create_isolated_networks = true
tempest_roles = member

[identity]
uri_v3 = $OS_AUTH_URL
auth_version = v3
region = $region
v3_endpoint_type = public

[identity-feature-enabled]
api_v2 = false
api_v2_admin = false
api_v3 = true
# The embedded identity has no OS-TRUST API (keystone mode passes trusts to Keystone).
trust = ${TEMPEST_TRUST:-false}
access_rules = false
application_credentials = true

[compute]
image_ref = $image_ref
image_ref_alt = $image_ref_alt
flavor_ref = $flavor_ref
flavor_ref_alt = $flavor_ref_alt
region = $region
min_microversion = 2.1
max_microversion = $max_microversion
build_timeout = ${TEMPEST_BUILD_TIMEOUT:-30}
build_interval = 1

[compute-feature-enabled]
# Not offered by Cascade: shelve, rescue, migrations, password change, consoles, personality
# files, config drive, metadata service (data plane), attach-interface.
resize = true
pause = true
suspend = true
shelve = false
shelve_migrate = false
rescue = false
cold_migration = false
live_migration = false
change_password = false
console_output = true
vnc_console = false
spice_console = false
serial_console = false
personality = false
config_drive = false
metadata_service = false
interface_attach = false
snapshot = true
attach_encrypted_volume = false
disk_config = false
enable_instance_password = true
swap_volume = false
volume_multiattach = false
ide_bus = false

[image]
region = $region
container_formats = bare
disk_formats = raw,qcow2

[image-feature-enabled]
api_v2 = true
import_image = false
os_glance_reserved = false
manage_locations = false
image_conversion = false
do_secure_hash = true

[network]
region = $region
project_networks_reachable = false
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_network_v6_cidr = 2001:db8::/48
project_network_v6_mask_bits = 64
public_network_id =
floating_network_name =

[network-feature-enabled]
ipv6 = true
ipv6_subnet_attributes = true
api_extensions = $extensions
port_admin_state_change = true
port_security = false
# Floating IPs need an external network; the demo has none yet.
floating_ips = false

[volume]
region = $region
catalog_type = volumev3
min_microversion = 3.0
max_microversion = $volume_max
build_timeout = ${TEMPEST_BUILD_TIMEOUT:-30}
build_interval = 1

[volume-feature-enabled]
api_extensions = $volume_extensions
backup = false
snapshot = true
clone = true
manage_snapshot = false
manage_volume = false
extend_attached_volume = false
enable_volume_image_dep_tests = false

[service_available]
nova = true
neutron = true
cinder = true
glance = true
swift = false
heat = false
horizon = false
placement = false

[validation]
run_validation = false
EOF

# 5. The run, then one retry of the failures not known to fail (a pass on retry is printed
#    as flaky), then the judgement (judge.py).
cd "$work/tw" || die "no workspace"
select_args=(--include-list "${TEMPEST_INCLUDE:-$here/include.txt}" --exclude-list "$here/exclude.txt")
[ -n "${TEMPEST_FILTER:-}" ] && select_args=(--regex "$TEMPEST_FILTER" --exclude-list "$here/exclude.txt")
results() { # results FILE: the last run's results as CSV
    # `stestr last` exits non-zero when the run had failures: judge by the file instead.
    "$venv/bin/stestr" last --subunit 2>/dev/null | "$venv/bin/subunit2csv" > "$1" 2>/dev/null
    [ "$(wc -l < "$1")" -gt 1 ]
}
t0=$(date +%s)
"$venv/bin/tempest" run "${select_args[@]}" --concurrency "$concurrency" > "$work/tempest.out" 2>&1
results "$work/results.csv" || { tail -40 "$work/tempest.out"; die "no results"; }
python3 "$here/judge.py" retry "$work/results.csv" "$known" > "$work/retry.txt"
csvs=("$work/results.csv")
if [ -s "$work/retry.txt" ]; then
    echo "tempest: retrying $(wc -l < "$work/retry.txt") unexpected failures once"
    "$venv/bin/tempest" run --include-list "$work/retry.txt" --concurrency "$concurrency" > "$work/tempest-retry.out" 2>&1
    results "$work/retry.csv" && csvs+=("$work/retry.csv")
fi
elapsed=$(( $(date +%s) - t0 ))
[ -n "${TEMPEST_RESULTS:-}" ] && cp "$work/results.csv" "$TEMPEST_RESULTS"
[ -n "${TEMPEST_LOG:-}" ] && cp "$work/tw/logs/tempest.log" "$TEMPEST_LOG"
python3 "$here/judge.py" judge --known "$known" --min-pass "$min_pass" \
    --elapsed "$elapsed" --label "$label" ${TEMPEST_FILTER:+--filtered} "${csvs[@]}"
rc=$?
if [ $rc -ne 0 ]; then
    grep -E "^\{[0-9]+\} .*FAILED" "$work/tempest.out" | head -60
fi
exit $rc
