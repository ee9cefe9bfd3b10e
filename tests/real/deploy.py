"""Cascade deployed in front of the real tier's regions, as an operator does it.

Shared by the end-to-end suite (``tests/real_e2e``) and the Tempest run through Cascade
(``tests/tempest/real_tier.py``):

* ``Keystone``: the tier's shared, real Keystone, as its admin;
* ``cascade_in_front(...)``: starts ``cascade serve`` in ``keystone`` identity mode (service user:
  the tier's admin, its own SQLite database in ``work``), registers its endpoints in that
  Keystone under region ``Cascade``, registers RegionOne and RegionTwo as pods ``az1`` and
  ``az2`` with ``cascade pod add``, waits until both are up, and on exit stops Cascade and
  removes the endpoints and the region. It yields a ``Front`` with Cascade's URL, its process,
  the log path and the binary.
"""
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from harness import cascade_binary, free_port

REGIONS = {'RegionOne': 'az1', 'RegionTwo': 'az2'}
CASCADE_REGION = 'Cascade'


def wait_until(what, fn, timeout=120, every=0.5):
    """Calls fn until it returns something truthy; fails with its last value after timeout."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f'{what}: not reached after {timeout}s (last: {last!r})')


class Keystone:
    """The shared real Keystone, as its admin (for the operator's set-up and teardown)."""

    def __init__(self, creds):
        self.url = creds['OS_AUTH_URL'].rstrip('/')
        self.creds = creds
        self.http = requests.Session()
        self.token, self.body = self.issue(creds['OS_USERNAME'], creds['OS_PASSWORD'],
                                           creds['OS_PROJECT_NAME'])
        self.http.headers['X-Auth-Token'] = self.token

    def issue(self, user, password, project):
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user, 'password': password, 'domain': {'name': 'Default'}}}},
            'scope': {'project': {'name': project, 'domain': {'name': 'Default'}}}}}
        r = requests.post(f'{self.url}/auth/tokens', json=body, timeout=30)
        assert r.status_code == 201, f'token for {user}: {r.status_code} {r.text[:300]}'
        return r.headers['X-Subject-Token'], r.json()['token']

    def call(self, method, path, expect=None, **kw):
        r = self.http.request(method, f'{self.url}{path}', timeout=30, **kw)
        if expect is not None:
            assert r.status_code in ((expect,) if isinstance(expect, int) else expect), \
                f'{method} {path}: {r.status_code} {r.text[:300]}'
        return r

    def endpoint(self, stype, region, project_id=None):
        for svc in self.body['catalog']:
            if svc['type'] == stype:
                for ep in svc['endpoints']:
                    if ep['interface'] == 'public' and ep['region_id'] == region:
                        return ep['url']
        raise AssertionError(f'no {stype} endpoint for {region}')


@dataclass
class Front:
    url: str
    proc: subprocess.Popen
    log: Path
    binary: str

    def cascade(self, env, *args):
        p = subprocess.run([self.binary, *args], env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, f'cascade {" ".join(args)}: {p.stdout}\n{p.stderr}'
        return p.stdout

    def pod_states(self, token):
        r = requests.get(f'{self.url}/v1.0/pods', timeout=30, headers={'X-Auth-Token': token})
        return {p['region_name']: p['state'] for p in r.json()['pods']}


def admin_env(creds, url):
    """OS_* of the tier's admin through Cascade's region, for `cascade` and the CLI."""
    e = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    e.update({
        'OS_AUTH_URL': creds['OS_AUTH_URL'], 'OS_IDENTITY_API_VERSION': '3',
        'OS_USERNAME': creds['OS_USERNAME'], 'OS_PASSWORD': creds['OS_PASSWORD'],
        'OS_PROJECT_NAME': creds['OS_PROJECT_NAME'],
        'OS_USER_DOMAIN_NAME': 'Default', 'OS_PROJECT_DOMAIN_NAME': 'Default',
        'OS_REGION_NAME': CASCADE_REGION, 'OS_INTERFACE': 'public',
        'OS_CLIENT_CONFIG_FILE': '/nonexistent', 'CASCADE_URL': url,
    })
    return e


@contextlib.contextmanager
def cascade_in_front(ks, creds, work, binary=None, extra_config=''):
    """Cascade in keystone mode in front of RegionOne and RegionTwo (see the module's text)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    log = work / 'cascade.log'
    undo = []  # Keystone calls that undo the set-up, run in reverse
    proc = None
    try:
        port = free_port()
        url = f'http://127.0.0.1:{port}'
        (work / 'cascade.toml').write_text(f'''
listen = "127.0.0.1:{port}"
region_name = "{CASCADE_REGION}"
database_url = "sqlite://{work}/cascade.db?mode=rwc"
secret_key_file = "{work}/cascade.key"
log_format = "pretty"

[identity]
mode = "keystone"
url = "{ks.url}"
service_username = "{creds['OS_USERNAME']}"
service_password = "{creds['OS_PASSWORD']}"
service_project = "{creds['OS_PROJECT_NAME']}"
cache_ttl_secs = 30

[pods]
health_interval_secs = 2
health_timeout_secs = 3
call_timeout_secs = 60
breaker_failure_threshold = 3
breaker_open_secs = 5
{extra_config}''')
        ready = work / 'ready'
        env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        env.setdefault('RUST_LOG', 'info')
        binary = cascade_binary(binary)
        with open(log, 'w') as logf:
            proc = subprocess.Popen([binary, 'serve', '--config', str(work / 'cascade.toml'),
                                     '--ready-file', str(ready)], stdout=logf,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                    cwd=work)
        wait_until('cascade serve ready', lambda: ready.exists() or proc.poll() is not None,
                   timeout=60)
        assert proc.poll() is None, f'cascade serve exited:\n{log.read_text()}'

        # Cascade's endpoints in the shared Keystone, as region "Cascade"
        r = ks.call('GET', f'/regions/{CASCADE_REGION}')
        if r.status_code == 200:  # left over from an interrupted run: replace it
            for ep in ks.call('GET', f'/endpoints?region_id={CASCADE_REGION}',
                              expect=200).json()['endpoints']:
                ks.call('DELETE', f"/endpoints/{ep['id']}", expect=204)
            ks.call('DELETE', f'/regions/{CASCADE_REGION}', expect=204)
        ks.call('POST', '/regions', expect=201, json={'region': {
            'id': CASCADE_REGION, 'description': 'Cascade: one API over RegionOne and RegionTwo'}})
        undo.append(('DELETE', f'/regions/{CASCADE_REGION}'))
        services = {s['type']: s['id'] for s in
                    ks.call('GET', '/services', expect=200).json()['services']}
        paths = {'compute': '/compute/v2.1', 'network': '/network', 'image': '/image',
                 'volumev3': '/volume/v3/%(project_id)s',
                 'block-storage': '/volume/v3/%(project_id)s'}
        urls = {stype: url + path for stype, path in paths.items() if stype in services}
        # the shared Keystone serves every region, Cascade's too (as in each real region)
        urls['identity'] = ks.endpoint('identity', creds.get('OS_REGION_NAME', 'RegionOne'))
        for stype, ep_url in urls.items():
            ep = ks.call('POST', '/endpoints', expect=201, json={'endpoint': {
                'service_id': services[stype], 'interface': 'public',
                'region_id': CASCADE_REGION, 'url': ep_url}}).json()['endpoint']
            undo.append(('DELETE', f"/endpoints/{ep['id']}"))

        front = Front(url=url, proc=proc, log=log, binary=binary)
        # the two real regions as pods, as an operator registers them
        env = admin_env(creds, url)
        for region, az in REGIONS.items():
            front.cascade(env, 'pod', 'add', '--region-name', region, '--az-name', az,
                          '--auth-url', ks.url, '--username', creds['OS_USERNAME'],
                          '--password', creds['OS_PASSWORD'],
                          '--project-name', creds['OS_PROJECT_NAME'])
        wait_until('both pods up', lambda: (lambda s: len(s) == 2 and all(
            v == 'up' for v in s.values()))(front.pod_states(ks.token)), timeout=60)
        yield front
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for method, path in reversed(undo):
            ks.call(method, path)
