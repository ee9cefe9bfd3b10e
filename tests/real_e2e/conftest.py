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
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / 'tests' / 'real'))  # appended: this directory's conftest stays first
from harness import DEFAULT_OPENRC, read_openrc  # noqa: E402
from deploy import (CASCADE_REGION, REGIONS, Keystone, admin_env,  # noqa: E402,F401
                    cascade_in_front, wait_until)


def pytest_addoption(parser):
    g = parser.getgroup('real-e2e')
    g.addoption('--openrc', default=os.environ.get('CONTRACT_OPENRC', DEFAULT_OPENRC),
                help='admin openrc of the real tier')
    g.addoption('--cascade-bin', default=os.environ.get('CASCADE_BIN'),
                help='cascade binary (default target/debug/cascade, built if missing)')
    g.addoption('--stop-service', default='r1-nova-api',
                help='the real service stopped by the fault-isolation test (a PID file name)')


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
    stack = contextlib.ExitStack()  # Cascade in front (stops it, removes its endpoints)
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

        # ---- Cascade in keystone mode in front of both regions (tests/real/deploy.py)
        front = stack.enter_context(cascade_in_front(ks, creds, work,
                                                     cfg.getoption('--cascade-bin')))
        d = Deployment(creds=creds, ks=ks, auth_url=creds['OS_AUTH_URL'], url=front.url,
                       proc=front.proc, log=log, user=uniq, password=password, project=uniq,
                       project_id=project['id'], user_id=user['id'], uniq=uniq,
                       other=f'{uniq}-other', other_project_id=other_project['id'],
                       openstack=venv_bin / 'openstack', cascade_bin=front.binary,
                       transcript=[], regions={name: Region(ks, name) for name in REGIONS},
                       scripts=ROOT / 'scripts' / 'real-openstack',
                       stop_service=cfg.getoption('--stop-service'))
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
        stack.close()
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
