//! Cinder and Glance over loopback HTTP.

mod common;

use cascade_sim::RegionSpec;
use common::*;
use serde_json::json;

#[tokio::test]
async fn volumes_with_client_nulls_extend_and_changes_since() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let v3 = format!("{}/volume/v3/proj-a", e.base(0));
    let body = json!({"volume": {"name": "vol1", "size": 1, "source_volid": null, "imageRef": null, "metadata": null, "volume_type": null,
        "consistencygroup_id": null, "snapshot_id": null, "availability_zone": null, "backup_id": null, "description": null}});
    let (s, h, v) = e
        .call("POST", &format!("{v3}/volumes"), MEMBER, Some(body), None)
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(h["openstack-api-version"], "volume 3.0");
    let id = v["volume"]["id"].as_str().unwrap().to_string();
    let (_, v) = e.get(&format!("{v3}/volumes/{id}"), MEMBER).await;
    assert_eq!(v["volume"]["status"], "available");
    assert_eq!(v["volume"]["availability_zone"], "az1");
    let created = v["volume"]["created_at"].as_str().unwrap();
    assert!(
        !created.ends_with('Z') && created.contains('.'),
        "naive microseconds: {created}"
    );
    assert_eq!(
        e.post(
            &format!("{v3}/volumes/{id}/action"),
            MEMBER,
            json!({"os-extend": {"new_size": 3}})
        )
        .await
        .0,
        202
    );
    let (_, v) = e
        .get(&format!("{v3}/volumes/detail?name=vol1"), MEMBER)
        .await;
    assert_eq!(v["volumes"][0]["size"], 3);
    // Another project in the URL than the token's: Cinder's "Malformed request url".
    let (s, v) = e.get(&format!("{v3}/volumes/{id}"), OTHER).await;
    assert_eq!(
        (s, v["badRequest"]["message"].clone()),
        (400, json!("Malformed request url"))
    );
    let (s, v) = e
        .get(
            &format!("{}/volume/v3/proj-b/volumes/{id}", e.base(0)),
            OTHER,
        )
        .await;
    assert_eq!((s, v["itemNotFound"]["code"].clone()), (404, json!(404)));
    let (s, v) = e
        .post(
            &format!("{v3}/snapshots"),
            MEMBER,
            json!({"snapshot": {"volume_id": id, "name": "s1"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        e.call("DELETE", &format!("{v3}/volumes/{id}"), MEMBER, None, None)
            .await
            .0,
        400,
        "has a snapshot"
    );
    let (_, v) = e
        .get(&format!("{v3}/os-quota-sets/proj-a?usage=True"), MEMBER)
        .await;
    assert_eq!(v["quota_set"]["gigabytes"]["in_use"], 3);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn images_upload_download_patch_and_filters() {
    let e = env(vec![RegionSpec::new("r1", "az1").instant()]).await;
    let g = format!("{}/image/v2", e.base(0));
    let (s, img) = e.post(&format!("{g}/images"), MEMBER, json!({"name": "img1", "disk_format": "raw", "container_format": "bare", "cascade_top_id": "top-9"})).await;
    assert_eq!(s, 201, "{img}");
    assert_eq!(img["status"], "queued");
    assert_eq!(img["cascade_top_id"], "top-9");
    let id = img["id"].as_str().unwrap().to_string();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(7000).map(|c| Ok(c.to_vec())).collect();
    let r = e
        .http
        .put(format!("{g}/images/{id}/file"))
        .header("X-Auth-Token", MEMBER)
        .header("Content-Type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, v) = e.get(&format!("{g}/images/{id}"), MEMBER).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["size"], 200_000);
    assert_eq!(v["os_hash_algo"], "sha512");
    assert_eq!(v["checksum"].as_str().unwrap().len(), 32);
    let got = e
        .http
        .get(format!("{g}/images/{id}/file"))
        .header("X-Auth-Token", MEMBER)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), data.as_slice());
    let r = e.http.patch(format!("{g}/images/{id}")).header("X-Auth-Token", MEMBER).header("Content-Type", "application/openstack-images-v2.1-json-patch")
        .body(r#"[{"op": "replace", "path": "/name", "value": "renamed"}, {"op": "add", "path": "/extra", "value": "1"}]"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = e
        .get(&format!("{g}/images?cascade_top_id=top-9"), MEMBER)
        .await;
    assert_eq!(v["images"][0]["name"], "renamed");
    assert_eq!(v["images"][0]["extra"], "1");
    let (_, all) = e.get(&format!("{g}/images"), MEMBER).await;
    assert_eq!(all["images"].as_array().unwrap().len(), 2);
    let (_, v) = e.get(&format!("{g}/images?id=in:{id},nope"), MEMBER).await;
    assert_eq!(v["images"].as_array().unwrap().len(), 1);
    let (_, v) = e.get(&format!("{g}/images?limit=1"), MEMBER).await;
    assert!(v["next"].as_str().unwrap().starts_with("/v2/images?"));
    let (s, _) = e.get(&format!("{g}/images/{id}"), OTHER).await;
    assert_eq!(s, 404);
    assert_eq!(
        e.call("DELETE", &format!("{g}/images/{id}"), MEMBER, None, None)
            .await
            .0,
        204
    );
    e.sim.shutdown().await;
}
