"""Nova: what Cascade's compute gateway reads from and sends to a child region."""
import re
import time
import urllib.parse
import uuid

import pytest

from shapes import (ISO_US, ISO_Z, UUID_RE, DictOf, Keys, ListOf, NoneType, Optional, Re,
                    assert_keys, assert_shape)

LINK = {'rel': str, 'href': str}
FAULT_404 = Keys({'itemNotFound': Keys({'code': 404, 'message': str})})
FAULT_400 = Keys({'badRequest': Keys({'code': 400, 'message': str})})

FLAVOR_DETAIL = {
    'id': str, 'name': str, 'ram': int, 'vcpus': int, 'disk': int, 'links': ListOf(LINK, 1),
    'OS-FLV-EXT-DATA:ephemeral': int, 'OS-FLV-DISABLED:disabled': bool,
    'os-flavor-access:is_public': bool, 'swap': (int, str), 'rxtx_factor': (int, float),
}

ADDRESS = {'addr': str, 'version': int, 'OS-EXT-IPS:type': str, 'OS-EXT-IPS-MAC:mac_addr': str}

# The fields Cascade reads from a server (microversion 2.1), with their types.
SERVER_2_1 = {
    'id': UUID_RE, 'name': str, 'status': str, 'tenant_id': str, 'user_id': str,
    'OS-EXT-STS:vm_state': str, 'OS-EXT-STS:task_state': (str, NoneType),
    'OS-EXT-STS:power_state': int, 'OS-EXT-AZ:availability_zone': str,
    'addresses': DictOf(ListOf(ADDRESS)),
    'flavor': Keys({'id': str, 'links': ListOf(LINK, 1)}),
    'image': (Keys({'id': str, 'links': ListOf(LINK, 1)}), ''),
    'metadata': DictOf(str), 'created': ISO_Z, 'updated': ISO_Z, 'hostId': str,
    'links': ListOf(LINK, 2), 'key_name': (str, NoneType), 'accessIPv4': str, 'accessIPv6': str,
    'config_drive': str, 'progress': Optional(int), 'security_groups': Optional(ListOf({'name': str})),
    'os-extended-volumes:volumes_attached': ListOf({'id': str}),
    'OS-SRV-USG:launched_at': (ISO_US, NoneType), 'OS-SRV-USG:terminated_at': (ISO_US, NoneType),
    'OS-DCF:diskConfig': str,
}


def servers_url(cloud, **q):
    return f'{cloud.compute}/servers/detail?' + urllib.parse.urlencode(q, doseq=True)


# ------------------------------------------------------------------------------- flavors

def test_flavor_list_and_show(cloud, flavor):
    body = cloud.get(f'{cloud.compute}/flavors', expect=200).json()
    assert_shape(body, Keys({'flavors': ListOf(Keys({'id': str, 'name': str, 'links': ListOf(LINK, 1)}), 1)}))
    assert flavor['id'] in {f['id'] for f in body['flavors']}
    detail = cloud.get(f'{cloud.compute}/flavors/detail', expect=200).json()
    assert_shape(detail, {'flavors': ListOf(FLAVOR_DETAIL, 1)})
    show = cloud.get(f"{cloud.compute}/flavors/{flavor['id']}", expect=200).json()
    assert_shape(show, Keys({'flavor': FLAVOR_DETAIL}))
    f = show['flavor']
    assert (f['ram'], f['vcpus'], f['disk']) == (128, 1, 1)


def test_flavor_show_missing_is_404(cloud):
    r = cloud.get(f'{cloud.compute}/flavors/no-such-flavor-{uuid.uuid4().hex[:6]}', expect=404)
    assert_shape(r.json(), FAULT_404)


# ------------------------------------------------------------------------------- servers

def test_server_create_is_202_with_id(servers):
    for r in servers['responses']:
        assert r.status_code == 202, r.text
        assert_shape(r.json(), Keys({'server': Keys({
            'id': UUID_RE, 'links': ListOf(LINK, 2), 'OS-DCF:diskConfig': str,
            'security_groups': ListOf({'name': str}), 'adminPass': str})}))
        assert r.headers.get('Location', '').endswith(r.json()['server']['id'])


def test_server_build_to_active_and_show_shape(cloud, servers, flavor, image, network):
    sid = servers['ids'][0]
    seen, _ = cloud.wait_for(f'{cloud.compute}/servers/{sid}', 'server', 'status', 'ACTIVE', timeout=240)
    assert seen[-1] == 'ACTIVE' and set(seen) <= {'BUILD', 'ACTIVE'}, seen
    for other in servers['ids'][1:]:
        cloud.wait_for(f'{cloud.compute}/servers/{other}', 'server', 'status', 'ACTIVE', timeout=240)
    s = cloud.get(f'{cloud.compute}/servers/{sid}', expect=200).json()
    assert_shape(s, Keys({'server': SERVER_2_1}, exact=True))
    s = s['server']
    assert s['OS-EXT-STS:vm_state'] == 'active'
    assert s['OS-EXT-STS:task_state'] is None
    assert s['OS-EXT-STS:power_state'] == 1
    assert s['tenant_id'] == cloud.project_id and s['user_id'] == cloud.user_id
    assert s['flavor']['id'] == flavor['id'] and s['image']['id'] == image['id']
    assert s['metadata'] == {'idx': '0'}
    assert list(s['addresses']) == [network['network']['name']]
    addr = s['addresses'][network['network']['name']][0]
    assert addr['version'] == 4 and addr['OS-EXT-IPS:type'] == 'fixed'
    assert addr['addr'].startswith('10.123.0.')


# The full key set of a server at 2.100 (admin), from the tier's real Nova 34.
SERVER_KEYS_2_100 = {
    'OS-DCF:diskConfig', 'OS-EXT-AZ:availability_zone', 'OS-EXT-SRV-ATTR:host',
    'OS-EXT-SRV-ATTR:hostname', 'OS-EXT-SRV-ATTR:hypervisor_hostname',
    'OS-EXT-SRV-ATTR:instance_name', 'OS-EXT-SRV-ATTR:kernel_id', 'OS-EXT-SRV-ATTR:launch_index',
    'OS-EXT-SRV-ATTR:ramdisk_id', 'OS-EXT-SRV-ATTR:reservation_id',
    'OS-EXT-SRV-ATTR:root_device_name', 'OS-EXT-SRV-ATTR:user_data', 'OS-EXT-STS:power_state',
    'OS-EXT-STS:task_state', 'OS-EXT-STS:vm_state', 'OS-SRV-USG:launched_at',
    'OS-SRV-USG:terminated_at', 'accessIPv4', 'accessIPv6', 'addresses', 'config_drive', 'created',
    'description', 'flavor', 'hostId', 'host_status', 'id', 'image', 'key_name', 'links', 'locked',
    'locked_reason', 'metadata', 'name', 'os-extended-volumes:volumes_attached',
    'pinned_availability_zone', 'progress', 'scheduler_hints', 'security_groups', 'server_groups',
    'status', 'tags', 'tenant_id', 'trusted_image_certificates', 'updated', 'user_id'}


def test_server_show_2_100_key_set(cloud, servers):
    sid = servers['ids'][0]
    cloud.wait_for(f'{cloud.compute}/servers/{sid}', 'server', 'status', 'ACTIVE', timeout=240)
    s = cloud.get(f'{cloud.compute}/servers/{sid}', headers={'OpenStack-API-Version': 'compute 2.100'},
                  expect=200).json()['server']
    assert_keys(s, SERVER_KEYS_2_100, 'server at 2.100')
    assert_shape(s, {'host_status': 'UP', 'locked': False, 'locked_reason': NoneType,
                     'tags': [], 'server_groups': [], 'pinned_availability_zone': NoneType,
                     'OS-EXT-SRV-ATTR:host': str, 'OS-EXT-SRV-ATTR:hypervisor_hostname': str,
                     'description': (str, NoneType)})


def test_server_description_defaults_to_name(cloud, servers, uniq):
    sid = servers['ids'][0]
    s = cloud.get(f'{cloud.compute}/servers/{sid}', headers={'OpenStack-API-Version': 'compute 2.19'},
                  expect=200).json()['server']
    assert s['description'] == f'{uniq}-vm0'


def test_server_port_is_bound_to_its_host(cloud, servers):
    sid = servers['ids'][0]
    s = cloud.wait_for(f'{cloud.compute}/servers/{sid}', 'server', 'status', 'ACTIVE', timeout=240)[1]
    host = cloud.get(f'{cloud.compute}/servers/{sid}', expect=200).json()['server']['OS-EXT-SRV-ATTR:host']
    ports = cloud.get(f'{cloud.network}/ports?device_id={sid}', expect=200).json()['ports']
    assert len(ports) == 1
    p = ports[0]
    assert p['device_owner'] == 'compute:' + s['OS-EXT-AZ:availability_zone']
    assert (p['status'], p['binding:vif_type'], p['binding:host_id']) == ('ACTIVE', 'ovs', host)
    ips = [a['addr'] for net in s['addresses'].values() for a in net]
    assert ips == [f['ip_address'] for f in p['fixed_ips']]
    assert s['addresses'][next(iter(s['addresses']))][0]['OS-EXT-IPS-MAC:mac_addr'] == p['mac_address']


def test_server_stop_start_actions(cloud, servers):
    sid = servers['ids'][1]
    url = f'{cloud.compute}/servers/{sid}'
    cloud.wait_for(url, 'server', 'status', 'ACTIVE', timeout=240)
    r = cloud.post(f'{url}/action', json={'os-stop': None}, expect=202)
    assert r.content == b''
    _, s = cloud.wait_for(url, 'server', 'status', 'SHUTOFF', timeout=120)
    assert (s['OS-EXT-STS:vm_state'], s['OS-EXT-STS:power_state']) == ('stopped', 4)
    r = cloud.post(f'{url}/action', json={'os-stop': None}, expect=409)
    assert_shape(r.json(), Keys({'conflictingRequest': Keys({'code': 409, 'message': str})}))
    cloud.post(f'{url}/action', json={'os-start': None}, expect=202)
    _, s = cloud.wait_for(url, 'server', 'status', 'ACTIVE', timeout=120)
    assert (s['OS-EXT-STS:vm_state'], s['OS-EXT-STS:power_state']) == ('active', 1)
    r = cloud.post(f'{url}/action', json={'no-such-action': None}, expect=400)
    assert_shape(r.json(), FAULT_400)


def test_server_show_admin_and_2_47_fields(cloud, servers):
    sid = servers['ids'][0]
    cloud.wait_for(f'{cloud.compute}/servers/{sid}', 'server', 'status', 'ACTIVE', timeout=240)
    r = cloud.get(f'{cloud.compute}/servers/{sid}', headers={'OpenStack-API-Version': 'compute 2.47'},
                  expect=200)
    s = r.json()['server']
    assert_shape(s, {'flavor': Keys({'original_name': str, 'vcpus': int, 'ram': int, 'disk': int,
                                     'ephemeral': int, 'swap': int, 'extra_specs': dict})})
    assert s['flavor']['original_name'].endswith('-flavor')


def test_server_list_brief_shape(cloud, servers, uniq):
    body = cloud.get(f'{cloud.compute}/servers?name=^{uniq}-', expect=200).json()
    assert_shape(body, Keys({'servers': ListOf(Keys({'id': UUID_RE, 'name': str, 'links': ListOf(LINK, 2)}))}))
    assert {s['id'] for s in body['servers']} == set(servers['ids'])


def test_server_list_name_filter_is_a_regex(cloud, servers, uniq):
    body = cloud.get(servers_url(cloud, name=f'{uniq}-vm[12]$'), expect=200).json()
    assert sorted(s['name'] for s in body['servers']) == [f'{uniq}-vm1', f'{uniq}-vm2']
    body = cloud.get(servers_url(cloud, name=f'{uniq}-nothing'), expect=200).json()
    assert body == {'servers': []}


def test_server_list_paging_with_limit_and_marker(cloud, servers, uniq):
    names, url, pages = [], servers_url(cloud, name=f'^{uniq}-', limit=2), 0
    while url:
        body = cloud.get(url, expect=200).json()
        pages += 1
        assert_shape(body, Keys({'servers': ListOf(dict), 'servers_links': Optional(ListOf(LINK, 1))}))
        assert len(body['servers']) <= 2
        names += [s['name'] for s in body['servers']]
        nxt = [link['href'] for link in body.get('servers_links', []) if link['rel'] == 'next']
        if nxt:
            q = urllib.parse.parse_qs(urllib.parse.urlparse(nxt[0]).query)
            assert q['marker'] == [body['servers'][-1]['id']] and q['limit'] == ['2']
            url = nxt[0]
        else:
            url = None
        assert pages <= 3
    assert sorted(names) == sorted(f'{uniq}-vm{i}' for i in range(3))
    # Nova sorts by created_at desc by default: newest first (ties in any order)
    body = cloud.get(servers_url(cloud, name=f'^{uniq}-'), expect=200).json()
    created = [s['created'] for s in body['servers']]
    assert created == sorted(created, reverse=True), created


def test_server_list_unknown_marker_is_400(cloud):
    r = cloud.get(servers_url(cloud, marker=str(uuid.uuid4())), expect=400)
    assert_shape(r.json(), FAULT_400)


def test_server_list_changes_since(cloud, servers, uniq):
    body = cloud.get(servers_url(cloud, **{'changes-since': servers['before'], 'name': f'^{uniq}-'}),
                     expect=200).json()
    assert {s['id'] for s in body['servers']} == set(servers['ids'])
    future = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3600))
    body = cloud.get(servers_url(cloud, **{'changes-since': future}), expect=200).json()
    assert body['servers'] == []
    r = cloud.get(servers_url(cloud, **{'changes-since': 'yesterday'}), expect=400)
    assert_shape(r.json(), FAULT_400)


def test_server_show_missing_is_404(cloud):
    r = cloud.get(f'{cloud.compute}/servers/{uuid.uuid4()}', expect=404)
    assert_shape(r.json(), FAULT_404)
    assert 'could not be found' in r.json()['itemNotFound']['message']


def test_server_create_bad_flavor_is_400(cloud, image, network):
    r = cloud.post(f'{cloud.compute}/servers', json={'server': {
        'name': 'contract-bad-flavor', 'flavorRef': 'no-such-flavor', 'imageRef': image['id'],
        'networks': [{'uuid': network['network']['id']}]}}, expect=400)
    assert_shape(r.json(), FAULT_400)


def test_server_create_missing_name_is_400(cloud, flavor, image, network):
    r = cloud.post(f'{cloud.compute}/servers', json={'server': {
        'flavorRef': flavor['id'], 'imageRef': image['id'],
        'networks': [{'uuid': network['network']['id']}]}}, expect=400)
    assert_shape(r.json(), FAULT_400)


# --------------------------------------------------------------------------- microversions

@pytest.mark.parametrize('header,value,echo', [
    ('OpenStack-API-Version', 'compute 2.47', 'compute 2.47'),
    ('X-OpenStack-Nova-API-Version', '2.60', 'compute 2.60'),
    (None, None, 'compute 2.1'),
])
def test_microversion_is_echoed(cloud, header, value, echo):
    headers = {header: value} if header else {}
    r = cloud.get(f'{cloud.compute}/flavors', headers=headers, expect=200)
    assert r.headers.get('OpenStack-API-Version') == echo
    assert r.headers.get('X-OpenStack-Nova-API-Version') == echo.split()[1]
    vary = {v.strip().lower() for v in r.headers.get('Vary', '').split(',')}
    assert {'openstack-api-version', 'x-openstack-nova-api-version'} <= vary


def test_microversion_latest_is_the_maximum(cloud):
    maximum = cloud.get(cloud.compute, expect=200).json()['version']['version']
    r = cloud.get(f'{cloud.compute}/flavors', headers={'OpenStack-API-Version': 'compute latest'},
                  expect=200)
    assert r.headers['OpenStack-API-Version'] == f'compute {maximum}'


def test_unsupported_microversion_is_406(cloud):
    r = cloud.get(f'{cloud.compute}/flavors', headers={'OpenStack-API-Version': 'compute 2.999'},
                  expect=406)
    assert_shape(r.json(), Keys({'computeFault': Keys({'code': 406, 'message': str})}))
    assert re.match(r'^Version 2\.999 is not supported by the API\. Minimum is 2\.1 and maximum is 2\.\d+\.$',
                    r.json()['computeFault']['message'])


def test_unsupported_microversion_406_echoes_the_request(cloud):
    r = cloud.get(f'{cloud.compute}/flavors', headers={'OpenStack-API-Version': 'compute 2.999'},
                  expect=406)
    assert r.headers.get('OpenStack-API-Version') == 'compute 2.999'
    assert r.headers.get('X-OpenStack-Nova-API-Version') == '2.999'


def test_malformed_microversion_is_400(cloud):
    r = cloud.get(f'{cloud.compute}/flavors', headers={'OpenStack-API-Version': 'compute 2.x'},
                  expect=400)
    assert_shape(r.json(), FAULT_400)


# ---------------------------------------------------------------------------- delete

def test_server_delete_is_204_then_404(cloud, flavor, image, network, uniq):
    r = cloud.post(f'{cloud.compute}/servers', json={'server': {
        'name': f'del-{uniq}', 'flavorRef': flavor['id'], 'imageRef': image['id'],
        'networks': [{'uuid': network['network']['id']}]}}, expect=202)
    sid = r.json()['server']['id']
    cloud.wait_for(f'{cloud.compute}/servers/{sid}', 'server', 'status', 'ACTIVE', timeout=240)
    cloud.delete(f'{cloud.compute}/servers/{sid}', expect=204)
    cloud.wait_gone(f'{cloud.compute}/servers/{sid}', timeout=120)
    r = cloud.delete(f'{cloud.compute}/servers/{sid}', expect=404)
    assert_shape(r.json(), FAULT_404)
    # changes-since (and deleted=true) still list it, as DELETED: how a poller learns of deletes
    since = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 600))
    for q in ({'changes-since': since, 'name': f'^del-{uniq}$'}, {'deleted': 'true', 'name': f'^del-{uniq}$'}):
        body = cloud.get(servers_url(cloud, **q), expect=200).json()
        assert [(x['id'], x['status'], x['OS-EXT-STS:vm_state']) for x in body['servers']] == \
            [(sid, 'DELETED', 'deleted')], q
