"""Cinder volumes and Glance images."""
import hashlib
import uuid

import pytest

from conftest import IMAGE_DATA
from shapes import (ISO_US, UUID_RE, DictOf, Keys, ListOf, NoneType, Optional, Re, assert_keys,
                    assert_shape)

LINK = {'rel': str, 'href': str}

VOLUME = {
    'id': UUID_RE, 'name': (str, NoneType), 'status': str, 'size': int,
    'availability_zone': str, 'created_at': ISO_US, 'updated_at': (ISO_US, NoneType),
    'description': (str, NoneType), 'volume_type': str, 'snapshot_id': (str, NoneType),
    'source_volid': (str, NoneType), 'metadata': DictOf(str), 'links': ListOf(LINK, 2),
    'attachments': ListOf(dict), 'bootable': Re('^(true|false)$'), 'encrypted': bool,
    'multiattach': bool, 'replication_status': (str, NoneType),
    'consistencygroup_id': (str, NoneType), 'user_id': str,
    'os-vol-tenant-attr:tenant_id': str, 'os-vol-host-attr:host': (str, NoneType),
}


def cli_volume_body(name, size=1):
    """What `openstack volume create --size N NAME` sends: explicit nulls included."""
    return {'volume': {'size': size, 'consistencygroup_id': None, 'snapshot_id': None,
                       'name': name, 'description': None, 'volume_type': None,
                       'availability_zone': None, 'metadata': {}, 'imageRef': None,
                       'source_volid': None, 'backup_id': None}}


@pytest.fixture(scope='module')
def volume(cloud, uniq):
    r = cloud.post(f'{cloud.volume}/volumes', json=cli_volume_body(f'{uniq}-vol'))
    yield r
    if r.status_code == 202:
        vid = r.json()['volume']['id']
        cloud.wait_for(f'{cloud.volume}/volumes/{vid}', 'volume', 'status', 'available',
                       bad=('error',))
        cloud.delete(f'{cloud.volume}/volumes/{vid}')
        cloud.wait_gone(f'{cloud.volume}/volumes/{vid}')


def test_volume_create_with_explicit_nulls_is_202(volume, uniq):
    assert volume.status_code == 202, volume.text
    v = volume.json()['volume']
    assert_shape(v, {'id': UUID_RE, 'status': 'creating', 'size': 1, 'name': f'{uniq}-vol',
                     'links': ListOf(LINK, 2), 'metadata': {}})


def test_volume_creating_to_available_and_show_shape(cloud, volume):
    vid = volume.json()['volume']['id']
    seen, body = cloud.wait_for(f'{cloud.volume}/volumes/{vid}', 'volume', 'status', 'available')
    assert set(seen) <= {'creating', 'available'}, seen
    v = cloud.get(f'{cloud.volume}/volumes/{vid}', expect=200).json()
    assert_shape(v, Keys({'volume': VOLUME}))
    v = v['volume']
    assert v['bootable'] == 'false' and v['attachments'] == []
    assert v['os-vol-tenant-attr:tenant_id'] == cloud.project_id and v['user_id'] == cloud.user_id


def test_volume_list_filters_by_name(cloud, volume, uniq):
    vid = volume.json()['volume']['id']
    body = cloud.get(f'{cloud.volume}/volumes?name={uniq}-vol', expect=200).json()
    assert [v['id'] for v in body['volumes']] == [vid]
    assert_shape(body, Keys({'volumes': ListOf({'id': str, 'name': (str, NoneType),
                                                 'links': ListOf(LINK, 2)}, 1)}))


def test_volume_brief_list_has_only_id_name_links(cloud, volume, uniq):
    body = cloud.get(f'{cloud.volume}/volumes?name={uniq}-vol', expect=200).json()
    assert_shape(body, Keys({'volumes': ListOf(Keys({'id': str, 'name': (str, NoneType),
                                                      'links': ListOf(LINK, 2)}), 1)}))


def test_volume_detail_list(cloud, volume, uniq):
    vid = volume.json()['volume']['id']
    body = cloud.get(f'{cloud.volume}/volumes/detail?name={uniq}-vol', expect=200).json()
    assert_shape(body, Keys({'volumes': ListOf(VOLUME, 1)}))
    assert [v['id'] for v in body['volumes']] == [vid]
    body = cloud.get(f'{cloud.volume}/volumes/detail?name={uuid.uuid4()}', expect=200).json()
    assert body == {'volumes': []}


def test_volume_missing_is_404(cloud):
    r = cloud.get(f'{cloud.volume}/volumes/{uuid.uuid4()}', expect=404)
    assert_shape(r.json(), Keys({'itemNotFound': Keys({'code': 404, 'message': str})}))


def test_volume_create_without_size_is_400(cloud):
    body = cli_volume_body('contract-nosize')
    del body['volume']['size']
    r = cloud.post(f'{cloud.volume}/volumes', json=body, expect=400)
    assert_shape(r.json(), Keys({'badRequest': Keys({'code': 400, 'message': str})}))


def test_volume_microversion_is_echoed(cloud):
    r = cloud.get(f'{cloud.volume}/volumes', headers={'OpenStack-API-Version': 'volume 3.60'},
                  expect=200)
    assert r.headers.get('OpenStack-API-Version') == 'volume 3.60'
    r = cloud.get(f'{cloud.volume}/volumes', headers={'OpenStack-API-Version': 'volume 3.999'},
                  expect=406)
    # (sic) Cinder answers an unsupported microversion with a computeFault
    assert_shape(r.json(), Keys({'computeFault': Keys({'code': 406, 'message': str})}))
    r = cloud.get(f'{cloud.volume}/volumes', expect=200)
    assert r.headers.get('OpenStack-API-Version') == 'volume 3.0'


def test_volume_406_echoes_the_request(cloud):
    r = cloud.get(f'{cloud.volume}/volumes', headers={'OpenStack-API-Version': 'volume 3.999'},
                  expect=406)
    assert r.headers.get('OpenStack-API-Version') == 'volume 3.999'


# Full key sets of the tier's real Cinder 29 (fake volume driver), as an admin sees them.
VOLUME_CREATE_KEYS = {
    'attachments', 'availability_zone', 'bootable', 'consistencygroup_id', 'created_at',
    'description', 'encrypted', 'id', 'links', 'metadata', 'migration_status', 'multiattach', 'name',
    'replication_status', 'size', 'snapshot_id', 'source_volid', 'status', 'updated_at', 'user_id',
    'volume_type'}
VOLUME_SHOW_KEYS = VOLUME_CREATE_KEYS | {
    'os-vol-host-attr:host', 'os-vol-mig-status-attr:migstat', 'os-vol-mig-status-attr:name_id',
    'os-vol-tenant-attr:tenant_id'}
# 3.13 adds group_id, 3.21 provider_id, 3.48 shared_targets and service_uuid
VOLUME_SHOW_KEYS_3_60 = VOLUME_SHOW_KEYS | {'group_id', 'provider_id', 'service_uuid',
                                           'shared_targets'}


def test_volume_create_key_set(volume):
    assert_keys(volume.json()['volume'], VOLUME_CREATE_KEYS, 'volume create response')


def test_volume_show_key_set(cloud, volume):
    vid = volume.json()['volume']['id']
    cloud.wait_for(f'{cloud.volume}/volumes/{vid}', 'volume', 'status', 'available')
    v = cloud.get(f'{cloud.volume}/volumes/{vid}', expect=200).json()['volume']
    assert_keys(v, VOLUME_SHOW_KEYS, 'volume show at 3.0')


def test_volume_show_key_set_3_60(cloud, volume):
    vid = volume.json()['volume']['id']
    cloud.wait_for(f'{cloud.volume}/volumes/{vid}', 'volume', 'status', 'available')
    v = cloud.get(f'{cloud.volume}/volumes/{vid}', headers={'OpenStack-API-Version': 'volume 3.60'},
                  expect=200).json()['volume']
    assert_keys(v, VOLUME_SHOW_KEYS_3_60, 'volume show at 3.60')


# ---------------------------------------------------------------------------------- Glance

IMAGE = {
    'id': UUID_RE, 'name': (str, NoneType), 'status': str, 'visibility': str,
    'protected': bool, 'os_hidden': bool, 'owner': str, 'tags': ListOf(str),
    'disk_format': (str, NoneType), 'container_format': (str, NoneType),
    'size': (int, NoneType), 'virtual_size': (int, NoneType), 'checksum': (str, NoneType),
    'os_hash_algo': (str, NoneType), 'os_hash_value': (str, NoneType),
    'min_disk': int, 'min_ram': int, 'created_at': Re(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'),
    'updated_at': Re(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'), 'self': str, 'file': str,
    'schema': str,
}


def test_image_create_is_201_queued(cloud, uniq):
    r = cloud.post(f'{cloud.image}/images', json={
        'name': f'{uniq}-img2', 'disk_format': 'qcow2', 'container_format': 'bare',
        'visibility': 'private'}, expect=201)
    img = r.json()
    try:
        assert_shape(img, IMAGE)
        assert img['status'] == 'queued' and img['size'] is None and img['checksum'] is None
        assert img['self'] == f"/v2/images/{img['id']}" and img['file'] == f"/v2/images/{img['id']}/file"
    finally:
        cloud.delete(f"{cloud.image}/images/{img['id']}", expect=204)


def test_image_upload_checksums(cloud, image):
    body = cloud.get(f"{cloud.image}/images/{image['id']}", expect=200).json()
    assert_shape(body, IMAGE)
    assert body['status'] == 'active' and body['size'] == len(IMAGE_DATA)
    assert body['checksum'] == hashlib.md5(IMAGE_DATA).hexdigest()
    assert body['os_hash_algo'] == 'sha512'
    assert body['os_hash_value'] == hashlib.sha512(IMAGE_DATA).hexdigest()


def test_image_download(cloud, image):
    r = cloud.get(f"{cloud.image}/images/{image['id']}/file", expect=200)
    assert r.content == IMAGE_DATA
    assert r.headers.get('Content-MD5') == hashlib.md5(IMAGE_DATA).hexdigest()


def test_image_list_filters_and_paging(cloud, image):
    body = cloud.get(f"{cloud.image}/images?name={image['name']}", expect=200).json()
    assert_shape(body, {'images': ListOf(IMAGE, 1), 'first': str, 'schema': str})
    assert [i['id'] for i in body['images']] == [image['id']]
    body = cloud.get(f'{cloud.image}/images?limit=1', expect=200).json()
    assert len(body['images']) == 1
    assert_shape(body, {'next': Optional(Re(r'^/v2/images\?.*marker='))})


def test_image_missing_is_404(cloud):
    r = cloud.get(f'{cloud.image}/images/{uuid.uuid4()}', expect=404)
    assert 'No image found' in r.text


def test_image_missing_404_is_json_when_asked(cloud):
    r = cloud.get(f'{cloud.image}/images/{uuid.uuid4()}', expect=404)
    assert r.headers.get('Content-Type', '').startswith('application/json')
    assert_shape(r.json(), Keys({'message': str, 'code': '404 Not Found', 'title': 'Not Found'}))


IMAGE_SHOW_KEYS = {
    'checksum', 'container_format', 'created_at', 'disk_format', 'file', 'id', 'min_disk',
    'min_ram', 'name', 'os_hash_algo', 'os_hash_value', 'os_hidden', 'owner', 'protected', 'schema',
    'self', 'size', 'status', 'stores', 'tags', 'updated_at', 'virtual_size', 'visibility'}


def test_image_active_key_set_and_virtual_size(cloud, image):
    body = cloud.get(f"{cloud.image}/images/{image['id']}", expect=200).json()
    assert_keys(body, IMAGE_SHOW_KEYS, 'active image')
    assert isinstance(body['stores'], str)
    assert body['virtual_size'] == len(IMAGE_DATA)


def test_image_upload_twice_is_409(cloud, image):
    # Connection: close, because the sim answers this 409 without reading the body and then,
    # now and then (5 of 200 tries), drops the keep-alive connection without saying so: the
    # pooled client's next request on it fails (RemoteDisconnected / BrokenPipe). The real
    # Glance (gunicorn) kept the connection usable in 200 of 200 tries.
    cloud.put(f"{cloud.image}/images/{image['id']}/file", data=b'again',
              headers={'Content-Type': 'application/octet-stream', 'Connection': 'close'},
              expect=409)


MEMBER = {'created_at': str, 'updated_at': str, 'image_id': UUID_RE, 'member_id': str,
          'status': 'pending', 'schema': '/v2/schemas/member'}


def test_image_members_of_a_shared_image(cloud, uniq):
    # Cascade shares a region's copy of a shared image with each member project that boots it.
    img = cloud.post(f'{cloud.image}/images', json={
        'name': f'{uniq}-shared', 'disk_format': 'raw', 'container_format': 'bare',
        'visibility': 'shared'}, expect=201).json()
    base = f"{cloud.image}/images/{img['id']}/members"
    member = uuid.uuid4().hex
    try:
        m = cloud.post(base, json={'member': member}, expect=200).json()
        assert_shape(m, MEMBER)
        assert m['member_id'] == member and m['image_id'] == img['id']
        cloud.post(base, json={'member': member}, expect=409)
        listed = cloud.get(base, expect=200).json()
        assert [x['member_id'] for x in listed['members']] == [member]
        assert listed['schema'] == '/v2/schemas/members'
        assert cloud.get(f'{base}/{member}', expect=200).json()['member_id'] == member
        cloud.delete(f'{base}/{member}', expect=204)
        cloud.get(f'{base}/{member}', expect=404)
    finally:
        cloud.delete(f"{cloud.image}/images/{img['id']}", expect=204)


def test_image_members_only_for_shared_images(cloud, uniq):
    img = cloud.post(f'{cloud.image}/images', json={
        'name': f'{uniq}-private', 'disk_format': 'raw', 'container_format': 'bare',
        'visibility': 'private'}, expect=201).json()
    try:
        cloud.post(f"{cloud.image}/images/{img['id']}/members",
                   json={'member': uuid.uuid4().hex}, expect=403)
    finally:
        cloud.delete(f"{cloud.image}/images/{img['id']}", expect=204)
