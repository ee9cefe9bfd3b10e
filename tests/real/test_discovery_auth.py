"""Version discovery and token handling, as Cascade's pod client uses them."""
import re

import pytest

from shapes import ISO_Z, Keys, ListOf, Optional, Re, assert_shape

LINK = {'rel': str, 'href': str}
VERSION_RE = Re(r'^\d+\.\d+$', 'N.M')


def test_compute_version_document(cloud):
    r = cloud.get(cloud.compute, expect=200)
    assert_shape(r.json(), {'version': {
        'id': 'v2.1', 'status': 'CURRENT', 'version': VERSION_RE, 'min_version': '2.1',
        'updated': ISO_Z, 'links': ListOf(LINK, 1), 'media-types': ListOf({'base': str, 'type': str})}})
    max_mv = tuple(int(x) for x in r.json()['version']['version'].split('.'))
    # Cascade relies on (at least) 2.100
    assert max_mv >= (2, 100), max_mv


def test_image_root_lists_versions_with_300(cloud):
    r = cloud.get(cloud.image_root + '/', expect=300)
    body = r.json()
    assert_shape(body, {'versions': ListOf({'id': Re(r'^v2\.\d+$'), 'status': str,
                                             'links': ListOf(LINK, 1)}, 1)})
    assert any(v['status'] == 'CURRENT' for v in body['versions'])


def test_volume_v3_version_document(cloud):
    r = cloud.get(cloud.volume_root + '/v3/', expect=200)
    v = r.json()
    assert_shape(v, {'versions': ListOf({
        'id': 'v3.0', 'status': 'CURRENT', 'version': VERSION_RE, 'min_version': '3.0',
        'updated': ISO_Z, 'links': ListOf(LINK, 1), 'media-types': ListOf({'base': str, 'type': str})},
        1)})
    assert tuple(int(x) for x in v['versions'][0]['version'].split('.')) >= (3, 60)


def test_network_root_lists_v2(cloud):
    r = cloud.get(cloud.network_root + '/', expect=200)
    assert_shape(r.json(), {'versions': ListOf({'id': 'v2.0', 'status': 'CURRENT',
                                                 'links': ListOf(LINK, 1)}, 1)})


@pytest.mark.parametrize('service', ['compute', 'network', 'volume', 'image'])
def test_no_token_is_401(cloud, service):
    url = {'compute': f'{cloud.compute}/servers', 'network': f'{cloud.network}/networks',
           'volume': f'{cloud.volume}/volumes', 'image': f'{cloud.image}/images'}[service]
    r = cloud.http.get(url, headers={'X-Auth-Token': ''}, timeout=30)
    assert r.status_code == 401, r.text
    assert 'www-authenticate' in {k.lower() for k in r.headers}


@pytest.mark.parametrize('service', ['compute', 'network', 'volume', 'image'])
def test_bad_token_is_401(cloud, service):
    url = {'compute': f'{cloud.compute}/flavors', 'network': f'{cloud.network}/networks',
           'volume': f'{cloud.volume}/volumes', 'image': f'{cloud.image}/images'}[service]
    r = cloud.http.get(url, headers={'X-Auth-Token': 'gAAAAA-not-a-token'}, timeout=30)
    assert r.status_code == 401, r.text


def test_token_catalog_has_the_services_cascade_uses(cloud):
    types = {s['type'] for s in cloud.catalog}
    assert {'identity', 'compute', 'network', 'volumev3', 'block-storage', 'image'} <= types
    assert_shape(cloud.token_body, {
        'expires_at': str, 'issued_at': str, 'methods': ListOf(str, 1),
        'project': {'id': str, 'name': str, 'domain': {'id': str, 'name': str}},
        'user': {'id': str, 'name': str, 'domain': {'id': str, 'name': str}},
        'roles': ListOf({'id': str, 'name': str}, 1),
        'catalog': ListOf({'type': str, 'id': str, 'name': Optional(str),
                           'endpoints': ListOf({'id': str, 'interface': str, 'region': str,
                                                'region_id': str, 'url': str}, 1)})})


SERVICE_URL = {'compute': lambda c: f'{c.compute}/servers', 'network': lambda c: f'{c.network}/networks',
               'volume': lambda c: f'{c.volume}/volumes', 'image': lambda c: f'{c.image}/images'}
# keystonemiddleware answers for Nova, Neutron and Cinder; Glance (Accept: application/json)
# answers itself
MIDDLEWARE_401 = Keys({'error': Keys({'code': 401, 'title': 'Unauthorized',
                                      'message': 'The request you have made requires authentication.'})})
GLANCE_401 = Keys({'message': str, 'code': '401 Unauthorized', 'title': 'Unauthorized'})


@pytest.mark.parametrize('service,envelope', [
    ('compute', MIDDLEWARE_401),
    ('network', MIDDLEWARE_401),
    ('volume', MIDDLEWARE_401),
    ('image', GLANCE_401),
])
def test_401_body_envelope(cloud, service, envelope):
    r = cloud.http.get(SERVICE_URL[service](cloud), headers={'X-Auth-Token': ''}, timeout=30)
    assert r.status_code == 401
    assert r.headers.get('Content-Type', '').startswith('application/json'), r.headers.get('Content-Type')
    assert_shape(r.json(), envelope)


@pytest.mark.parametrize('service', ['compute', 'network', 'volume', 'image'])
def test_401_names_the_keystone(cloud, service):
    r = cloud.http.get(SERVICE_URL[service](cloud), headers={'X-Auth-Token': ''}, timeout=30)
    assert r.status_code == 401
    assert re.match(r'^Keystone uri="https?://[^"]+"$', r.headers.get('WWW-Authenticate', '')), \
        r.headers.get('WWW-Authenticate')
