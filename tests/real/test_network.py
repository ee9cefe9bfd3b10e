"""Neutron: networks, subnets and ports as Cascade creates, filters and pages them."""
import urllib.parse
import uuid

import pytest

from shapes import UUID_RE, Keys, ListOf, NoneType, Re, assert_keys, assert_shape

LINK = {'rel': str, 'href': str}


def neutron_error(type_):
    return Keys({'NeutronError': Keys({'type': type_, 'message': str, 'detail': str})})


NETWORK = {
    'id': UUID_RE, 'name': str, 'tenant_id': str, 'project_id': str, 'status': str,
    'admin_state_up': bool, 'shared': bool, 'subnets': ListOf(str), 'mtu': int,
    'router:external': bool, 'port_security_enabled': bool, 'tags': ListOf(str),
    'description': str, 'created_at': Re(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'),
    'updated_at': Re(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'), 'revision_number': int,
    'availability_zones': ListOf(str), 'availability_zone_hints': ListOf(str),
    'provider:network_type': (str, NoneType), 'provider:physical_network': (str, NoneType),
    'provider:segmentation_id': (int, NoneType),
}
SUBNET = {
    'id': UUID_RE, 'name': str, 'network_id': UUID_RE, 'tenant_id': str, 'project_id': str,
    'cidr': str, 'ip_version': int, 'gateway_ip': (str, NoneType), 'enable_dhcp': bool,
    'allocation_pools': ListOf({'start': str, 'end': str}), 'dns_nameservers': ListOf(str),
    'host_routes': ListOf(dict), 'ipv6_ra_mode': (str, NoneType),
    'ipv6_address_mode': (str, NoneType), 'subnetpool_id': (str, NoneType),
    'description': str, 'tags': ListOf(str), 'revision_number': int,
}
PORT = {
    'id': UUID_RE, 'name': str, 'network_id': UUID_RE, 'tenant_id': str, 'project_id': str,
    'mac_address': Re(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$'), 'admin_state_up': bool,
    'status': str, 'device_id': str, 'device_owner': str,
    'fixed_ips': ListOf(Keys({'subnet_id': UUID_RE, 'ip_address': str})),
    'security_groups': ListOf(str), 'allowed_address_pairs': ListOf(dict),
    'port_security_enabled': bool, 'binding:host_id': str, 'binding:vif_type': str,
    'binding:vnic_type': str, 'binding:profile': dict, 'binding:vif_details': dict,
    'description': str, 'tags': ListOf(str), 'revision_number': int,
    'extra_dhcp_opts': ListOf(dict),
}


@pytest.fixture(scope='module')
def net2(cloud, uniq):
    """A network with a subnet and three ports with given addresses."""
    net = cloud.post(f'{cloud.network}/networks', json={'network': {'name': f'{uniq}-n2'}},
                     expect=201).json()['network']
    sub = cloud.post(f'{cloud.network}/subnets', json={'subnet': {
        'name': f'{uniq}-s2', 'network_id': net['id'], 'ip_version': 4, 'cidr': '10.124.0.0/24'}},
        expect=201).json()['subnet']
    ports = []
    for i in range(3):
        ports.append(cloud.post(f'{cloud.network}/ports', json={'port': {
            'name': f'{uniq}-p{i}', 'network_id': net['id'],
            'fixed_ips': [{'subnet_id': sub['id'], 'ip_address': f'10.124.0.{10 + i}'}],
            'mac_address': f'fa:16:3e:00:12:{i:02x}'}}, expect=201).json()['port'])
    yield {'network': net, 'subnet': sub, 'ports': ports}
    for p in ports:
        cloud.delete(f"{cloud.network}/ports/{p['id']}")
    cloud.delete(f"{cloud.network}/networks/{net['id']}")


def test_network_create_and_show(cloud, net2):
    net = cloud.get(f"{cloud.network}/networks/{net2['network']['id']}", expect=200).json()
    assert_shape(net, Keys({'network': NETWORK}))
    n = net['network']
    assert n['subnets'] == [net2['subnet']['id']]
    assert n['status'] == 'ACTIVE' and n['admin_state_up'] is True
    assert n['project_id'] == cloud.project_id == n['tenant_id']


def test_subnet_create_shape(cloud, net2):
    s = cloud.get(f"{cloud.network}/subnets/{net2['subnet']['id']}", expect=200).json()
    assert_shape(s, Keys({'subnet': SUBNET}))
    s = s['subnet']
    assert s['gateway_ip'] == '10.124.0.1' and s['enable_dhcp'] is True
    assert s['allocation_pools'] == [{'start': '10.124.0.2', 'end': '10.124.0.254'}]


def test_port_create_with_fixed_ip_and_mac(cloud, net2):
    p = net2['ports'][0]
    assert_shape({'port': p}, Keys({'port': PORT}))
    assert p['fixed_ips'] == [{'subnet_id': net2['subnet']['id'], 'ip_address': '10.124.0.10'}]
    assert p['mac_address'] == 'fa:16:3e:00:12:00'
    assert p['status'] == 'DOWN' and p['device_id'] == '' and p['binding:vif_type'] == 'unbound'
    assert len(p['security_groups']) == 1  # the project's default group


def test_port_with_allocated_ip_is_409(cloud, net2):
    r = cloud.post(f'{cloud.network}/ports', json={'port': {
        'network_id': net2['network']['id'],
        'fixed_ips': [{'subnet_id': net2['subnet']['id'], 'ip_address': '10.124.0.10'}]}}, expect=409)
    assert_shape(r.json(), neutron_error('IpAddressAlreadyAllocated'))


def test_port_with_used_mac_is_409(cloud, net2):
    r = cloud.post(f'{cloud.network}/ports', json={'port': {
        'network_id': net2['network']['id'], 'mac_address': 'fa:16:3e:00:12:00'}}, expect=409)
    assert_shape(r.json(), neutron_error('MacAddressInUse'))


def test_port_ip_outside_subnet_is_400(cloud, net2):
    r = cloud.post(f'{cloud.network}/ports', json={'port': {
        'network_id': net2['network']['id'],
        'fixed_ips': [{'subnet_id': net2['subnet']['id'], 'ip_address': '10.200.0.5'}]}}, expect=400)
    assert_shape(r.json(), neutron_error('InvalidIpForSubnet'))


def test_port_filters(cloud, net2):
    net_id = net2['network']['id']
    body = cloud.get(f'{cloud.network}/ports?network_id={net_id}', expect=200).json()
    assert sorted(p['name'] for p in body['ports']) == sorted(p['name'] for p in net2['ports'])
    body = cloud.get(f'{cloud.network}/ports?network_id={net_id}&fixed_ips=ip_address%3D10.124.0.11',
                     expect=200).json()
    assert [p['id'] for p in body['ports']] == [net2['ports'][1]['id']]
    body = cloud.get(f"{cloud.network}/ports?name={net2['ports'][2]['name']}", expect=200).json()
    assert [p['id'] for p in body['ports']] == [net2['ports'][2]['id']]
    body = cloud.get(f"{cloud.network}/ports?mac_address=fa:16:3e:00:12:01", expect=200).json()
    assert [p['id'] for p in body['ports']] == [net2['ports'][1]['id']]
    # repeated filter: any of the values
    ids = [p['id'] for p in net2['ports'][:2]]
    body = cloud.get(f'{cloud.network}/ports?id={ids[0]}&id={ids[1]}', expect=200).json()
    assert sorted(p['id'] for p in body['ports']) == sorted(ids)
    body = cloud.get(f'{cloud.network}/networks?name={uuid.uuid4()}', expect=200).json()
    assert body == {'networks': []}


def test_fields_selects_keys(cloud, net2):
    body = cloud.get(f"{cloud.network}/ports?network_id={net2['network']['id']}&fields=id&fields=name",
                     expect=200).json()
    assert_shape(body, Keys({'ports': ListOf(Keys({'id': str, 'name': str}), 3)}))
    body = cloud.get(f"{cloud.network}/networks/{net2['network']['id']}?fields=id&fields=subnets",
                     expect=200).json()
    assert_shape(body, Keys({'network': Keys({'id': str, 'subnets': ListOf(str)})}))


def test_port_pagination_links(cloud, net2):
    net_id = net2['network']['id']
    url = f'{cloud.network}/ports?network_id={net_id}&limit=2&sort_key=name&sort_dir=asc'
    body = cloud.get(url, expect=200).json()
    assert_shape(body, Keys({'ports': ListOf(dict), 'ports_links': ListOf(LINK, 1)}))
    assert [p['name'] for p in body['ports']] == sorted(p['name'] for p in net2['ports'])[:2]
    nxt = [link['href'] for link in body['ports_links'] if link['rel'] == 'next']
    assert len(nxt) == 1
    q = urllib.parse.parse_qs(urllib.parse.urlparse(nxt[0]).query)
    assert q['marker'] == [body['ports'][-1]['id']] and q['limit'] == ['2']
    page2 = cloud.get(nxt[0], expect=200).json()
    assert [p['name'] for p in page2['ports']] == sorted(p['name'] for p in net2['ports'])[2:]
    assert_shape(page2, Keys({'ports': ListOf(dict, 1), 'ports_links': ListOf(LINK, 1)}))
    # the last page links back ('previous') but not forward
    assert {link['rel'] for link in page2['ports_links']} == {'previous'}


@pytest.mark.parametrize('coll,type_', [('networks', 'NetworkNotFound'), ('ports', 'PortNotFound'),
                                        ('subnets', 'SubnetNotFound')])
def test_missing_is_404_neutron_error(cloud, coll, type_):
    r = cloud.get(f'{cloud.network}/{coll}/{uuid.uuid4()}', expect=404)
    assert_shape(r.json(), neutron_error(type_))


def test_delete_network_with_ports_is_409(cloud, net2):
    r = cloud.delete(f"{cloud.network}/networks/{net2['network']['id']}", expect=409)
    assert_shape(r.json(), neutron_error('NetworkInUse'))


def test_subnet_bad_cidr_is_400(cloud, net2):
    r = cloud.post(f'{cloud.network}/subnets', json={'subnet': {
        'network_id': net2['network']['id'], 'ip_version': 4, 'cidr': 'not-a-cidr'}}, expect=400)
    assert_shape(r.json(), neutron_error('InvalidInput'))


# Full key sets of the tier's real Neutron 29 (ML2 with the port_security extension driver,
# router service plugin), as an admin sees them; captured from RegionOne.
NETWORK_KEYS = {
    'admin_state_up', 'availability_zone_hints', 'availability_zones', 'created_at', 'description',
    'id', 'ipv4_address_scope', 'ipv6_address_scope', 'mtu', 'name', 'port_security_enabled',
    'project_id', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id',
    'qinq', 'revision_number', 'router:external', 'shared', 'status', 'subnets', 'tags', 'tenant_id',
    'updated_at', 'vlan_transparent'}
SUBNET_KEYS = {
    'allocation_pools', 'cidr', 'created_at', 'description', 'dns_nameservers', 'enable_dhcp',
    'gateway_ip', 'host_routes', 'id', 'ip_version', 'ipv6_address_mode', 'ipv6_ra_mode', 'name',
    'network_id', 'project_id', 'revision_number', 'router:external', 'service_types',
    'subnetpool_id', 'tags', 'tenant_id', 'updated_at'}
PORT_KEYS = {
    'admin_state_up', 'allowed_address_pairs', 'binding:host_id', 'binding:profile',
    'binding:vif_details', 'binding:vif_type', 'binding:vnic_type', 'created_at', 'description',
    'device_id', 'device_owner', 'extra_dhcp_opts', 'fixed_ips', 'id', 'mac_address', 'name',
    'network_id', 'port_security_enabled', 'project_id', 'revision_number', 'security_groups',
    'status', 'tags', 'tenant_id', 'updated_at'}


def test_network_key_set(cloud, net2):
    n = cloud.get(f"{cloud.network}/networks/{net2['network']['id']}", expect=200).json()['network']
    assert_keys(n, NETWORK_KEYS, 'network')
    # (sic) the real create response also has is_default, the show does not
    assert_keys(net2['network'], NETWORK_KEYS | {'is_default'}, 'network (create response)')


def test_subnet_key_set(cloud, net2):
    s = cloud.get(f"{cloud.network}/subnets/{net2['subnet']['id']}", expect=200).json()['subnet']
    assert_keys(s, SUBNET_KEYS, 'subnet')
    assert_keys(net2['subnet'], SUBNET_KEYS, 'subnet (create response)')


def test_port_key_set(cloud, net2):
    p = cloud.get(f"{cloud.network}/ports/{net2['ports'][0]['id']}", expect=200).json()['port']
    assert_keys(p, PORT_KEYS, 'port')
    assert_keys(net2['ports'][0], PORT_KEYS, 'port (create response)')

