"""Helpers shared by the real tier's pytest suites (`tests/real`, `tests/real_e2e`)."""
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OPENRC = str(Path(os.environ.get('REAL_OS_RUN', ROOT / '.real-openstack' / 'run'))
                     / 'admin-openrc')


def read_openrc(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r'\s*export\s+(OS_[A-Z_]+)=(.*)$', line)
        if m:
            env[m.group(1)] = m.group(2).strip().strip('"\'')
    return env


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cascade_binary(opt):
    if opt:
        return opt
    target_dir = Path(os.environ.get('CARGO_TARGET_DIR', ROOT / 'target'))
    binary = target_dir / 'debug' / 'cascade'
    if not binary.exists():
        cargo = shutil.which('cargo') or 'cargo'
        subprocess.run([cargo, 'build', '-p', 'cascade'], cwd=ROOT, check=True)
    return str(binary)
