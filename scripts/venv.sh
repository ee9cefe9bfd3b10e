#!/usr/bin/env bash
# Creates (or reuses) the Python venv with the real OpenStack clients used by the end-to-end
# tests: python-openstackclient 10.x and openstacksdk. Prints the venv's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CASCADE_VENV:-$root/.venv}"
stamp="$venv/.cascade-clients-v1"
if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --upgrade pip >&2
    "$venv/bin/pip" install --quiet 'python-openstackclient>=10,<11' 'openstacksdk>=4' >&2
    touch "$stamp"
fi
echo "$venv"
