"""Idempotent Keystone setup of the real-OpenStack tier (called by start.sh).

Creates the `service` project, the roles admin/service/member/reader, one service user per
OpenStack service (holding admin and service in project `service`), and for every region
the public/internal/admin endpoints of identity (the shared Keystone, registered in every
region so that OS_REGION_NAME=<any region> finds it), image, network, placement, compute,
block-storage and volumev3. One process and plain REST calls: much faster than the CLI.

usage: keystone_setup.py --url http://127.0.0.1:5000/v3 \
           RegionOne=image:9292,network:9696,placement:8778,compute:8774,volume:8776 ...
Passwords come from ADMIN_PASS and SERVICE_PASS (default "secret").
"""
import argparse
import os
import sys

import requests

# catalog kind -> (service user, [(service type, service name, URL template)])
KINDS = {
    'image': ('glance', [('image', 'glance', 'http://127.0.0.1:{port}')]),
    'network': ('neutron', [('network', 'neutron', 'http://127.0.0.1:{port}')]),
    'placement': ('placement', [('placement', 'placement', 'http://127.0.0.1:{port}')]),
    'compute': ('nova', [('compute', 'nova', 'http://127.0.0.1:{port}/v2.1')]),
    'volume': ('cinder', [('block-storage', 'cinder', 'http://127.0.0.1:{port}/v3'),
                          ('volumev3', 'cinderv3', 'http://127.0.0.1:{port}/v3')]),
}


class Keystone:
    def __init__(self, url, password):
        self.url = url.rstrip('/')
        self.http = requests.Session()
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': 'admin', 'domain': {'id': 'default'}, 'password': password}}},
            'scope': {'project': {'name': 'admin', 'domain': {'id': 'default'}}}}}
        r = self.http.post(f'{self.url}/auth/tokens', json=body, timeout=30)
        r.raise_for_status()
        self.http.headers['X-Auth-Token'] = r.headers['X-Subject-Token']

    def call(self, method, path, **kw):
        r = self.http.request(method, f'{self.url}{path}', timeout=30, **kw)
        if r.status_code >= 400:
            sys.exit(f'{method} {path}: {r.status_code} {r.text}')
        return r.json() if r.content else None

    def find_or_create(self, coll, key, attrs, query=None):
        """The first `coll` item whose attributes match `attrs`, created when missing."""
        items = self.call('GET', f'/{coll}', params=query or {})[coll]
        for it in items:
            if all(it.get(k) == v for k, v in attrs.items()):
                return it
        return self.call('POST', f'/{coll}', json={key: attrs})[key]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--url', required=True)
    ap.add_argument('regions', nargs='+', metavar='REGION=kind:port,...')
    args = ap.parse_args()
    admin_pass = os.environ.get('ADMIN_PASS', 'secret')
    svc_pass = os.environ.get('SERVICE_PASS', 'secret')
    ks = Keystone(args.url, admin_pass)

    regions = {}
    for spec in args.regions:
        name, ports = spec.split('=', 1)
        regions[name] = dict(p.split(':', 1) for p in ports.split(',') if p)

    project = ks.find_or_create('projects', 'project', {
        'name': 'service', 'domain_id': 'default'}, {'name': 'service'})
    roles = {name: ks.find_or_create('roles', 'role', {'name': name}, {'name': name})
             for name in ('admin', 'service', 'member', 'reader')}
    kinds = sorted({k for ports in regions.values() for k in ports})
    for kind in kinds:
        user_name = KINDS[kind][0]
        users = ks.call('GET', '/users', params={'name': user_name, 'domain_id': 'default'})['users']
        if users:
            user = users[0]
            # keep the password in step with SERVICE_PASS
            ks.call('PATCH', f"/users/{user['id']}", json={'user': {'password': svc_pass}})
        else:
            user = ks.call('POST', '/users', json={'user': {
                'name': user_name, 'domain_id': 'default', 'password': svc_pass,
                'default_project_id': project['id']}})['user']
        for role in ('admin', 'service'):
            ks.call('PUT', f"/projects/{project['id']}/users/{user['id']}/roles/{roles[role]['id']}")

    services = {s['type']: s for s in ks.call('GET', '/services')['services']}
    endpoints = ks.call('GET', '/endpoints')['endpoints']
    known_regions = {r['id'] for r in ks.call('GET', '/regions')['regions']}

    def ensure_endpoint(region, stype, sname, url):
        svc = services.get(stype)
        if svc is None:
            svc = ks.call('POST', '/services', json={'service': {'type': stype, 'name': sname}})['service']
            services[stype] = svc
        for iface in ('public', 'internal', 'admin'):
            ep = next((e for e in endpoints if e['service_id'] == svc['id']
                       and e['interface'] == iface and e['region_id'] == region), None)
            if ep is None:
                ks.call('POST', '/endpoints', json={'endpoint': {
                    'service_id': svc['id'], 'interface': iface, 'region_id': region, 'url': url}})
            elif ep['url'] != url:
                ks.call('PATCH', f"/endpoints/{ep['id']}", json={'endpoint': {'url': url}})

    for region, ports in regions.items():
        if region not in known_regions:
            ks.call('POST', '/regions', json={'region': {'id': region}})
        ensure_endpoint(region, 'identity', 'keystone', args.url.rstrip('/') + '/')
        for kind, port in ports.items():
            for stype, sname, tmpl in KINDS[kind][1]:
                ensure_endpoint(region, stype, sname, tmpl.format(port=port))
    print('catalog ok:', '; '.join(f"{r}: {', '.join(sorted(p))}" for r, p in regions.items()))


if __name__ == '__main__':
    main()
