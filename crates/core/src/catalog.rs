//! The service catalog Cascade publishes: every service on Cascade's own listener, under
//! sub-paths (`/identity`, `/compute/v2.1`, `/network`, `/volume/v3/<project_id>`, `/image`).
//! Child endpoints never appear here.

use cascade_model::identity::{CatalogEndpoint, CatalogService};
use sha2::{Digest, Sha256};

fn stable_id(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

/// The catalog for a token scoped to `project_id` (Cinder URLs embed it; unscoped tokens get
/// a catalog without the volume services, as Keystone renders `$(project_id)s` templates).
pub fn build(public_url: &str, region: &str, project_id: Option<&str>) -> Vec<CatalogService> {
    let base = public_url.trim_end_matches('/');
    let mut services = vec![
        ("identity", "keystone", format!("{base}/identity")),
        ("compute", "nova", format!("{base}/compute/v2.1")),
        ("network", "neutron", format!("{base}/network")),
        ("image", "glance", format!("{base}/image")),
    ];
    if let Some(project_id) = project_id {
        services.push((
            "block-storage",
            "cinder",
            format!("{base}/volume/v3/{project_id}"),
        ));
        services.push((
            "volumev3",
            "cinderv3",
            format!("{base}/volume/v3/{project_id}"),
        ));
    }
    services
        .into_iter()
        .map(|(ty, name, url)| CatalogService {
            id: stable_id(ty),
            service_type: ty.to_string(),
            name: name.to_string(),
            endpoints: vec![CatalogEndpoint {
                id: stable_id(&format!("{ty}-public-{region}")),
                interface: "public".into(),
                region: Some(region.to_string()),
                region_id: Some(region.to_string()),
                url,
            }],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_every_service_on_our_listener() {
        let cat = build("http://127.0.0.1:5000/", "RegionOne", Some("p1"));
        let types: Vec<_> = cat.iter().map(|s| s.service_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "identity",
                "compute",
                "network",
                "image",
                "block-storage",
                "volumev3"
            ]
        );
        let vol = cat.iter().find(|s| s.service_type == "volumev3").unwrap();
        assert_eq!(vol.endpoints[0].url, "http://127.0.0.1:5000/volume/v3/p1");
        assert!(
            cat.iter()
                .all(|s| s.endpoints[0].url.starts_with("http://127.0.0.1:5000/"))
        );
        assert_eq!(build("http://x", "R", None).len(), 4);
    }
}
