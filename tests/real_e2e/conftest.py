"""End to end through Cascade, in front of the two real regions of the tier (issue 7).

The session fixture ``deployment`` builds what an operator would:

* a tenant in the tier's shared, real Keystone: a new project and a user with the ``member``
  role only (not admin);
* ``cascade serve`` in ``keystone`` identity mode, trusting that Keystone (service user: the
  tier's admin), with its own SQLite database in a temporary directory;
* Cascade's endpoints registered in that Keystone under their own region, ``Cascade``, so that
  the unmodified ``openstack`` CLI and openstacksdk reach Cascade with ``OS_REGION_NAME=Cascade``
  and the real regions with ``RegionOne`` / ``RegionTwo``;
* RegionOne and RegionTwo registered as pods (availability zones ``az1`` and ``az2``) with
  ``cascade pod add``.

The tests (``test_through_cascade.py``) run in file order and share the module's state. They
drive Cascade with the CLI and openstacksdk as the tenant, and check the real regions directly
as admin. Teardown stops Cascade and removes the endpoints, the region, the user and the project.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / 'tests' / 'real'))  # appended: this directory's conftest stays first
from harness import DEFAULT_OPENRC, cascade_binary, free_port, read_openrc  # noqa: E402
REGIONS = {'RegionOne': 'az1', 'RegionTwo': 'az2'}
CASCADE_REGION = 'Cascade'


def pytest_addoption(parser):
    g = parser.getgroup('real-e2e')
    g.addoption('--openrc', default=os.environ.get('CONTRACT_OPENRC', DEFAULT_OPENRC),
                help='admin openrc of the real tier')
    g.addoption('--cascade-bin', default=os.environ.get('CASCADE_BIN'),
                help='cascade binary (default target/debug/cascade, built if missing)')
    g.addoption('--stop-service', default='r1-nova-api',
                help='the real service stopped by the fault-isolation test (a PID file name)')


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


def wait_for(what, fn, want, timeout=120, every=1, bad=('ERROR', 'error')):
    """Polls fn() until it returns want; fails at once on a value in bad, or after timeout."""
    seen = []
    t0 = time.monotonic()
    while True:
        v = fn()
        if not seen or seen[-1] != v:
            seen.append(v)
        if v == want:
            return seen
        assert v not in bad, f'{what}: became {v!r} (seen {seen})'
        assert time.monotonic() - t0 < timeout, f'{what}: still {v!r} after {timeout}s (seen {seen})'
        time.sleep(every)


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


class Region:
    """One real region, asked directly as admin (what the region really holds)."""

    def __init__(self, keystone, name):
        self.name = name
        self.ks = keystone
        self.http = requests.Session()
        self.http.headers.update({'X-Auth-Token': keystone.token, 'Accept': 'application/json'})
        self.compute = keystone.endpoint('compute', name)
        self.network = keystone.endpoint('network', name).rstrip('/') + '/v2.0'
        self.image = keystone.endpoint('image', name).rstrip('/') + '/v2'
        vol = keystone.endpoint('volumev3', name)
        self.volume = re.sub(r'/v3(/.*)?$', '', vol) + '/v3/' + keystone.body['project']['id']

    def get(self, url, expect=200, **kw):
        r = self.http.get(url, timeout=60, **kw)
        if expect is not None:
            assert r.status_code == expect, f'{self.name} GET {url}: {r.status_code} {r.text[:300]}'
        return r

    def servers(self, project_id):
        return self.get(f'{self.compute}/servers/detail?all_tenants=1&project_id={project_id}',
                        headers={'OpenStack-API-Version': 'compute 2.1'}).json()['servers']

    def neutron(self, kind, **filters):
        q = '&'.join(f'{k}={v}' for k, v in filters.items())
        return self.get(f'{self.network}/{kind}?{q}').json()[kind.replace('-', '_')]

    def volumes(self, project_id):
        return self.get(f'{self.volume}/volumes/detail?all_tenants=1&project_id={project_id}'
                        ).json()['volumes']

    def images(self, **filters):
        q = '&'.join(f'{k}={v}' for k, v in filters.items())
        return self.get(f'{self.image}/images?visibility=all&{q}').json()['images']

    def purge(self, project_id):
        """Best effort: deletes what a failed run left of project_id in this region, so that a
        later run (on the same databases) starts clean. Returns what it found."""
        found = []
        h = self.http

        def rm(url):
            try:
                h.delete(url, timeout=60)
            except requests.RequestException:
                pass

        for s in self.servers(project_id):
            found.append(('server', s['name']))
            rm(f"{self.compute}/servers/{s['id']}")
        t0 = time.monotonic()
        while self.servers(project_id) and time.monotonic() - t0 < 60:
            time.sleep(1)
        for v in self.volumes(project_id):
            found.append(('volume', v['name']))
            rm(f"{self.volume}/volumes/{v['id']}")
        for r in self.neutron('routers', project_id=project_id):
            found.append(('router', r['name']))
            # extra routes first: Neutron keeps an interface that a route's nexthop needs
            h.put(f"{self.network}/routers/{r['id']}", json={'router': {'routes': []}},
                  timeout=60)
            for p in self.neutron('ports', device_id=r['id']):
                if p['device_owner'] == 'network:router_interface':
                    h.put(f"{self.network}/routers/{r['id']}/remove_router_interface",
                          json={'port_id': p['id']}, timeout=60)
            rm(f"{self.network}/routers/{r['id']}")
        for kind in ('floatingips', 'ports', 'networks', 'security-groups'):
            for x in self.neutron(kind, project_id=project_id):
                if kind == 'security-groups' and x['name'] == 'default':
                    continue
                found.append((kind, x.get('name') or x['id']))
                rm(f"{self.network}/{kind}/{x['id']}")
        for i in self.images(owner=project_id):
            found.append(('image', i['name']))
            rm(f"{self.image}/images/{i['id']}")
        return found


class Deployment:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def env(self, who='tenant'):
        """OS_* variables for the CLI: the tenant or the admin, through Cascade's region."""
        e = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        user, password, project = {
            'tenant': (self.user, self.password, self.project),
            'other': (self.other, self.password, self.other),
            'admin': (self.creds['OS_USERNAME'], self.creds['OS_PASSWORD'],
                      self.creds['OS_PROJECT_NAME']),
        }[who]
        e.update({
            'OS_AUTH_URL': self.auth_url, 'OS_IDENTITY_API_VERSION': '3',
            'OS_USERNAME': user, 'OS_PASSWORD': password, 'OS_PROJECT_NAME': project,
            'OS_USER_DOMAIN_NAME': 'Default', 'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_REGION_NAME': CASCADE_REGION, 'OS_INTERFACE': 'public',
            'OS_CLIENT_CONFIG_FILE': '/nonexistent', 'CASCADE_URL': self.url,
        })
        return e

    def osc(self, *args, who='tenant', check=True, timeout=300):
        """Runs the unmodified `openstack` CLI; returns parsed JSON for `-f json`, else text."""
        cmd = [str(self.openstack), *args]
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=self.env(who), capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        took = time.monotonic() - t0
        line = f'$ openstack {" ".join(args)}  [{who}, {took:.1f}s, exit {p.returncode}]'
        print(line)
        self.transcript.append(line)
        if check and p.returncode != 0:
            raise AssertionError(f'{line}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}')
        if not check:
            return p
        if '-f' in args and args[args.index('-f') + 1] == 'json':
            return json.loads(p.stdout) if p.stdout.strip() else None
        return p.stdout

    def cascade(self, *args, who='admin'):
        p = subprocess.run([self.cascade_bin, *args], env=self.env(who), capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, f'cascade {" ".join(args)}: {p.stdout}\n{p.stderr}'
        return p.stdout

    def admin_api(self, method, path, **kw):
        return requests.request(method, f'{self.url}/v1.0{path}', timeout=30,
                                headers={'X-Auth-Token': self.ks.token}, **kw)

    def pod_states(self):
        pods = self.admin_api('GET', '/pods').json()['pods']
        return {p['region_name']: p['state'] for p in pods}

    def log_tail(self, n=80):
        try:
            return '\n'.join(Path(self.log).read_text(errors='replace').splitlines()[-n:])
        except OSError:
            return ''


@pytest.fixture(scope='session')
def deployment(request, tmp_path_factory):
    cfg = request.config
    openrc = cfg.getoption('--openrc')
    if not Path(openrc).exists():
        raise pytest.UsageError(f'{openrc} does not exist: start the real tier first '
                                '(scripts/real-openstack/start.sh)')
    creds = read_openrc(openrc)
    ks = Keystone(creds)
    venv_bin = Path(os.environ.get('REAL_OS_VENV', ROOT / '.real-openstack' / 'venv')) / 'bin'
    uniq = f'e2e-{uuid.uuid4().hex[:8]}'
    password = uuid.uuid4().hex
    undo = []  # teardown steps, run in reverse
    proc = None
    d = None
    work = tmp_path_factory.mktemp('cascade')
    log = work / 'cascade.log'
    try:
        # ---- the tenant, and another one: each a project and a member (not an admin)
        member = ks.call('GET', '/roles?name=member', expect=200).json()['roles'][0]
        tenants = {}
        for name in (uniq, f'{uniq}-other'):
            project = ks.call('POST', '/projects', expect=201, json={'project': {
                'name': name, 'domain_id': 'default', 'description': 'Cascade e2e tenant'}}
            ).json()['project']
            undo.append(('DELETE', f"/projects/{project['id']}"))
            user = ks.call('POST', '/users', expect=201, json={'user': {
                'name': name, 'password': password, 'domain_id': 'default',
                'default_project_id': project['id']}}).json()['user']
            undo.append(('DELETE', f"/users/{user['id']}"))
            ks.call('PUT', f"/projects/{project['id']}/users/{user['id']}/roles/{member['id']}",
                    expect=204)
            tenants[name] = (project, user)
        project, user = tenants[uniq]
        other_project = tenants[f'{uniq}-other'][0]

        # ---- Cascade in keystone mode
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
''')
        ready = work / 'ready'
        logf = open(log, 'w')
        env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        env.setdefault('RUST_LOG', 'info')
        binary = cascade_binary(cfg.getoption('--cascade-bin'))
        proc = subprocess.Popen([binary, 'serve', '--config', str(work / 'cascade.toml'),
                                 '--ready-file', str(ready)], stdout=logf,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                cwd=work)
        wait_until('cascade serve ready', lambda: ready.exists() or proc.poll() is not None,
                   timeout=60)
        assert proc.poll() is None, f'cascade serve exited:\n{log.read_text()}'

        # ---- Cascade's endpoints in the shared Keystone, as region "Cascade"
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

        d = Deployment(creds=creds, ks=ks, auth_url=creds['OS_AUTH_URL'], url=url, proc=proc,
                       log=log, user=uniq, password=password, project=uniq,
                       project_id=project['id'], user_id=user['id'], uniq=uniq,
                       other=f'{uniq}-other', other_project_id=other_project['id'],
                       openstack=venv_bin / 'openstack', cascade_bin=binary, transcript=[],
                       regions={name: Region(ks, name) for name in REGIONS},
                       scripts=ROOT / 'scripts' / 'real-openstack',
                       stop_service=cfg.getoption('--stop-service'))

        # ---- the two real regions as pods, as an operator registers them
        for region, az in REGIONS.items():
            d.cascade('pod', 'add', '--region-name', region, '--az-name', az,
                      '--auth-url', ks.url, '--username', creds['OS_USERNAME'],
                      '--password', creds['OS_PASSWORD'],
                      '--project-name', creds['OS_PROJECT_NAME'])
        wait_until('both pods up', lambda: all(
            s == 'up' for s in d.pod_states().values()) and len(d.pod_states()) == 2, timeout=60)
        yield d
    except BaseException:
        if log.exists():
            print('---- cascade log (tail)\n' + '\n'.join(
                log.read_text(errors='replace').splitlines()[-60:]))
        raise
    finally:
        if request.session.testsfailed and log.exists():
            print('---- cascade log (tail)\n' + '\n'.join(
                log.read_text(errors='replace').splitlines()[-80:]))
        if log.exists():  # kept beside the tier's logs
            logs = Path(os.environ.get('REAL_OS_RUN', ROOT / '.real-openstack' / 'run')) / 'logs'
            if logs.is_dir():
                shutil.copy(log, logs / 'cascade-e2e.log')
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if d is not None:
            for region in d.regions.values():
                for pid in (d.project_id, d.other_project_id):
                    try:
                        left = region.purge(pid)
                    except Exception as e:  # noqa: BLE001 - teardown must go on
                        left = f'purge failed: {e}'
                    if left:
                        print(f'teardown purged from {region.name}: {left}')
        for method, path in reversed(undo):
            ks.call(method, path)
