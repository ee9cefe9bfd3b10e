"""Tempest through Cascade in front of the real tier's regions (issue 12), or direct.

    real_tier.py [--openrc FILE] [--cascade-bin BIN] [--work DIR]
        Cascade in keystone mode in front of RegionOne and RegionTwo (tests/real/deploy.py),
        then tests/tempest/run.sh against it as the tier's admin (OS_REGION_NAME=Cascade) on
        the interop selection (interop.txt: what the OpenStack Powered Compute guideline
        requires), judged against known-failures-real.txt and min-pass-real.
    real_tier.py --direct REGION
        The same selection against one real region directly, judged against nothing (a
        reference for BENCHMARKS.md: what a real region passes, and in how long).

The whole selection (include.txt) runs against `cascade demo` in the fast stage; against the
real regions on this machine it takes over an hour, so the tier runs the interop selection.
TEMPEST_INCLUDE overrides it (e.g. include.txt, for a long run by hand). Identity tests reach
the tier's real Keystone (Cascade in keystone mode serves no identity API of its own).
Exits with run.sh's status; its last line is run.sh's "tempest: ..." summary.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.append(str(ROOT / 'tests' / 'real'))
from harness import DEFAULT_OPENRC, read_openrc  # noqa: E402
from deploy import Keystone, admin_env, cascade_in_front  # noqa: E402


def write_openrc(path, env):
    keys = ('OS_AUTH_URL', 'OS_USERNAME', 'OS_PASSWORD', 'OS_PROJECT_NAME',
            'OS_USER_DOMAIN_NAME', 'OS_PROJECT_DOMAIN_NAME', 'OS_REGION_NAME',
            'OS_IDENTITY_API_VERSION', 'OS_INTERFACE')
    Path(path).write_text(''.join(f'export {k}="{env[k]}"\n' for k in keys))


def run_tempest(openrc, label, work, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update({'TEMPEST_OPENRC': str(openrc), 'TEMPEST_LABEL': label,
                'TEMPEST_WORK': str(work / 'tempest'),
                'TEMPEST_BUILD_TIMEOUT': os.environ.get('TEMPEST_BUILD_TIMEOUT', '120'),
                'TEMPEST_CONCURRENCY': os.environ.get('TEMPEST_CONCURRENCY', '4'),
                'TEMPEST_TRUST': 'true',
                'TEMPEST_INCLUDE': os.environ.get('TEMPEST_INCLUDE', str(HERE / 'interop.txt'))})
    env.update(extra)
    return subprocess.run([str(HERE / 'run.sh')], env=env).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--openrc', default=os.environ.get('CONTRACT_OPENRC', DEFAULT_OPENRC))
    ap.add_argument('--cascade-bin', default=os.environ.get('CASCADE_BIN'))
    ap.add_argument('--work', default=None)
    ap.add_argument('--direct', metavar='REGION')
    a = ap.parse_args()
    creds = read_openrc(a.openrc)
    work = Path(a.work or (Path(os.environ.get('REAL_OS_RUN', ROOT / '.real-openstack' / 'run'))
                           / 'tempest'))
    work.mkdir(parents=True, exist_ok=True)
    openrc = work / 'tempest-openrc'
    if a.direct:
        env = admin_env(creds, '')
        env['OS_REGION_NAME'] = a.direct
        write_openrc(openrc, env)
        return run_tempest(openrc, f'direct {a.direct}', work,
                           {'TEMPEST_KNOWN': '/dev/null', 'TEMPEST_MIN_PASS': '/dev/null'})
    ks = Keystone(creds)
    with cascade_in_front(ks, creds, work / 'cascade', a.cascade_bin) as front:
        write_openrc(openrc, admin_env(creds, front.url))
        rc = run_tempest(openrc, 'real (Cascade in keystone mode)', work, {
            'TEMPEST_KNOWN': str(HERE / 'known-failures-real.txt'),
            'TEMPEST_MIN_PASS': str(HERE / 'min-pass-real')})
    logs = Path(os.environ.get('REAL_OS_RUN', ROOT / '.real-openstack' / 'run')) / 'logs'
    if logs.is_dir() and front.log.exists():
        (logs / 'cascade-tempest.log').write_bytes(front.log.read_bytes())
    return rc


if __name__ == '__main__':
    sys.exit(main())
