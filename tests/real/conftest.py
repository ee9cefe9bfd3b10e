"""Contract suite: the same assertions against a real OpenStack region and a simulated one.

Targets (``--target`` or ``CONTRACT_TARGET``):

* ``real``: a region of the real-OpenStack tier (scripts/real-openstack/start.sh). Credentials
  come from ``--openrc`` (default ``.real-openstack/run/admin-openrc``), the region from
  ``--region`` (default RegionOne).
* ``sim``: a simulated region. The suite starts ``cascade sim --regions 1 --identity-url
  <Keystone>`` itself (the Keystone of the same openrc, so the tier's real Keystone), and
  authenticates through the simulated region's own ``/identity/v3`` (which forwards to that
  Keystone and rewrites the catalog). ``--cascade-bin`` (or ``CASCADE_BIN``) names the binary;
  default ``target/debug/cascade``, built with ``cargo build -p cascade`` only if missing.

Tests that document a known difference of the simulator are marked
``@pytest.mark.sim_mismatch("...")``: against the sim they are ``xfail(strict=True)`` (so they
fail loudly once the simulator is fixed), against a real region they are ordinary tests.
"""
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from harness import DEFAULT_OPENRC, cascade_binary, free_port, read_openrc

ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    g = parser.getgroup('contract')
    g.addoption('--target', choices=('real', 'sim'), default=os.environ.get('CONTRACT_TARGET'),
                help='run the contract against a real region or a simulated one')
    g.addoption('--region', default=os.environ.get('CONTRACT_REGION', 'RegionOne'),
                help='real region name (target real)')
    g.addoption('--openrc', default=os.environ.get('CONTRACT_OPENRC', DEFAULT_OPENRC),
                help='admin openrc of the real tier (its Keystone also serves target sim)')
    g.addoption('--cascade-bin', default=os.environ.get('CASCADE_BIN'),
                help='cascade binary for target sim (default target/debug/cascade)')
    g.addoption('--sim-build-secs', default='2', help='seconds a simulated server stays in BUILD')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'sim_mismatch(reason): a known difference of the simulator from the real '
        'region; xfail(strict=True) against target sim')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--target') != 'sim':
        return
    for item in items:
        m = item.get_closest_marker('sim_mismatch')
        if m is not None:
            item.add_marker(pytest.mark.xfail(reason='sim mismatch: ' + m.args[0], strict=True))


def pytest_report_header(config):
    return f"contract target: {config.getoption('--target')}"


class Cloud:
    """One region as a client sees it: a token, the project, and the endpoints of the catalog."""

    def __init__(self, target, auth_url, creds, region):
        self.target = target
        self.auth_url = auth_url.rstrip('/')
        self.region = region
        self.http = requests.Session()
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': creds['OS_USERNAME'], 'password': creds['OS_PASSWORD'],
                'domain': {'name': creds.get('OS_USER_DOMAIN_NAME', 'Default')}}}},
            'scope': {'project': {'name': creds['OS_PROJECT_NAME'],
                                  'domain': {'name': creds.get('OS_PROJECT_DOMAIN_NAME', 'Default')}}}}}
        r = self.http.post(f'{self.auth_url}/auth/tokens', json=body, timeout=30)
        assert r.status_code == 201, f'auth at {self.auth_url}: {r.status_code} {r.text[:300]}'
        self.token = r.headers['X-Subject-Token']
        tok = r.json()['token']
        self.token_body = tok
        self.project_id = tok['project']['id']
        self.user_id = tok['user']['id']
        self.catalog = tok['catalog']
        self.compute = self.endpoint('compute')
        self.network = self.endpoint('network').rstrip('/') + '/v2.0'
        self.network_root = self.endpoint('network').rstrip('/')
        vol = self.endpoint('volumev3').rstrip('/')
        # project-scoped /v3/{project_id}, whether the catalog has the project in it or not
        self.volume_root = re.sub(r'/v3(/.*)?$', '', vol)
        self.volume = f'{self.volume_root}/v3/{self.project_id}'
        self.image_root = self.endpoint('image').rstrip('/')
        self.image = self.image_root + '/v2'
        self.http.headers.update({'X-Auth-Token': self.token, 'Accept': 'application/json'})

    def endpoint(self, stype, interface='public'):
        for svc in self.catalog:
            if svc['type'] != stype:
                continue
            for ep in svc['endpoints']:
                if ep['interface'] == interface and ep.get('region_id', ep.get('region')) == self.region:
                    return ep['url']
        raise AssertionError(f'no {interface} {stype} endpoint for {self.region} in the catalog')

    def request(self, method, url, expect=None, **kw):
        kw.setdefault('timeout', 60)
        r = self.http.request(method, url, **kw)
        if expect is not None:
            assert r.status_code == expect, (
                f'{method} {url}: expected {expect}, got {r.status_code}: {r.text[:500]}')
        return r

    def get(self, url, **kw):
        return self.request('GET', url, **kw)

    def post(self, url, **kw):
        return self.request('POST', url, **kw)

    def put(self, url, **kw):
        return self.request('PUT', url, **kw)

    def delete(self, url, **kw):
        return self.request('DELETE', url, **kw)

    def wait_for(self, url, key, field, want, timeout=180, bad=('ERROR', 'error')):
        """Polls GET url until body[key][field] == want; returns the statuses seen, in order."""
        seen = []
        t0 = time.monotonic()
        while True:
            body = self.get(url, expect=200).json()[key]
            v = body[field]
            if not seen or seen[-1] != v:
                seen.append(v)
            if v == want:
                return seen, body
            assert v not in bad, f'{url}: {field} became {v} (seen {seen})'
            assert time.monotonic() - t0 < timeout, f'{url}: {field} still {v} after {timeout}s'
            time.sleep(0.5)

    def wait_gone(self, url, timeout=120):
        t0 = time.monotonic()
        while self.get(url).status_code != 404:
            assert time.monotonic() - t0 < timeout, f'{url} still exists after {timeout}s'
            time.sleep(0.5)


@pytest.fixture(scope='session')
def cloud(request, tmp_path_factory):
    cfg = request.config
    target = cfg.getoption('--target')
    if target is None:
        raise pytest.UsageError('choose a target: --target real|sim (or CONTRACT_TARGET)')
    openrc = cfg.getoption('--openrc')
    if not Path(openrc).exists():
        raise pytest.UsageError(f'{openrc} does not exist: start the real tier first '
                                '(scripts/real-openstack/start.sh)')
    creds = read_openrc(openrc)
    if target == 'real':
        yield Cloud('real', creds['OS_AUTH_URL'], creds, cfg.getoption('--region'))
        return
    # target sim: one simulated region trusting the real Keystone
    port = free_port()
    logdir = tmp_path_factory.mktemp('sim')
    out = open(logdir / 'sim.out', 'w+')
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    proc = subprocess.Popen(
        [cascade_binary(cfg.getoption('--cascade-bin')), 'sim', '--regions', '1',
         '--listen', f'127.0.0.1:{port}', '--identity-url', creds['OS_AUTH_URL'],
         '--build-secs', cfg.getoption('--sim-build-secs'), '--prefix', 'Pod'],
        stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        t0 = time.monotonic()
        while True:
            out.seek(0)
            text = out.read()
            if 'Stop with Ctrl-C' in text:
                break
            if proc.poll() is not None or time.monotonic() - t0 > 60:
                raise RuntimeError(f'cascade sim did not start (exit {proc.poll()}):\n{text}')
            time.sleep(0.2)
        yield Cloud('sim', f'http://127.0.0.1:{port}/identity/v3', creds, 'Pod1')
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


@pytest.fixture(scope='session')
def uniq():
    """A per-run prefix for the names of what the suite creates."""
    return f'contract-{uuid.uuid4().hex[:8]}'


@pytest.fixture(scope='session')
def flavor(cloud, uniq):
    body = {'flavor': {'name': f'{uniq}-flavor', 'ram': 128, 'vcpus': 1, 'disk': 1}}
    f = cloud.post(f'{cloud.compute}/flavors', json=body, expect=200).json()['flavor']
    yield f
    cloud.delete(f"{cloud.compute}/flavors/{f['id']}")


IMAGE_DATA = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture(scope='session')
def image(cloud, uniq):
    img = cloud.post(f'{cloud.image}/images', json={
        'name': f'{uniq}-image', 'disk_format': 'raw', 'container_format': 'bare'},
        expect=201).json()
    cloud.put(f"{cloud.image}/images/{img['id']}/file", data=IMAGE_DATA,
              headers={'Content-Type': 'application/octet-stream'}, expect=204)
    _wait_image(cloud, img['id'])
    yield img
    cloud.delete(f"{cloud.image}/images/{img['id']}")


def _wait_image(cloud, image_id, timeout=60):
    t0 = time.monotonic()
    while True:
        body = cloud.get(f'{cloud.image}/images/{image_id}', expect=200).json()
        if body['status'] == 'active':
            return body
        assert time.monotonic() - t0 < timeout, f"image {image_id} still {body['status']}"
        time.sleep(0.5)


@pytest.fixture(scope='session')
def network(cloud, uniq):
    net = cloud.post(f'{cloud.network}/networks', json={'network': {'name': f'{uniq}-net'}},
                     expect=201).json()['network']
    sub = cloud.post(f'{cloud.network}/subnets', json={'subnet': {
        'name': f'{uniq}-sub', 'network_id': net['id'], 'ip_version': 4,
        'cidr': '10.123.0.0/24'}}, expect=201).json()['subnet']
    yield {'network': net, 'subnet': sub}
    # ports of deleted servers may linger for a moment
    t0 = time.monotonic()
    while cloud.delete(f"{cloud.network}/networks/{net['id']}").status_code == 409 \
            and time.monotonic() - t0 < 60:
        time.sleep(1)


@pytest.fixture(scope='session')
def servers(cloud, uniq, flavor, image, network):
    """Three servers, created at once; yields (servers as created, created-before timestamp)."""
    before = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 2))
    created = []
    for i in range(3):
        r = cloud.post(f'{cloud.compute}/servers', json={'server': {
            'name': f'{uniq}-vm{i}', 'flavorRef': flavor['id'], 'imageRef': image['id'],
            'networks': [{'uuid': network['network']['id']}], 'metadata': {'idx': str(i)}}})
        created.append(r)
    ids = []
    for r in created:
        if r.status_code == 202:
            ids.append(r.json()['server']['id'])
    yield {'responses': created, 'ids': ids, 'before': before}
    for sid in ids:
        cloud.delete(f'{cloud.compute}/servers/{sid}')
    for sid in ids:
        cloud.wait_gone(f'{cloud.compute}/servers/{sid}', timeout=180)
