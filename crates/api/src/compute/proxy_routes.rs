//! The routes of Nova's proxy APIs and of the small APIs around servers: the image proxy
//! (`images.rs`), extensions (`extensions.rs`), server passwords and tenant networks
//! (`server_extras.rs`), instance actions (`instance_actions.rs`),
//! the volume proxies (`volume_proxy.rs`). Kept apart from `mod.rs` so the compute router stays one list per concern.

use axum::Router;
use axum::routing::get;

use super::{extensions, images, instance_actions, server_extras, volume_proxy};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/images", get(images::index))
        .route("/images/detail", get(images::detail))
        .route("/images/{id}", get(images::show).delete(images::delete))
        .route(
            "/images/{id}/metadata",
            get(images::list_metadata)
                .put(images::replace_metadata)
                .post(images::update_metadata),
        )
        .route(
            "/images/{id}/metadata/{key}",
            get(images::show_metadata_item)
                .put(images::set_metadata_item)
                .delete(images::delete_metadata_item),
        )
        .route("/extensions", get(extensions::list))
        .route("/extensions/{alias}", get(extensions::show))
        .route(
            "/servers/{id}/os-server-password",
            get(server_extras::show_password).delete(server_extras::clear_password),
        )
        .route(
            "/servers/{id}/os-instance-actions",
            get(instance_actions::list),
        )
        .route(
            "/servers/{id}/os-instance-actions/{request_id}",
            get(instance_actions::show),
        )
        .route(
            "/os-volumes",
            get(volume_proxy::list_volumes).post(volume_proxy::create_volume),
        )
        .route("/os-volumes/detail", get(volume_proxy::list_volumes))
        .route(
            "/os-volumes/{id}",
            get(volume_proxy::show_volume).delete(volume_proxy::delete_volume),
        )
        .route(
            "/os-snapshots",
            get(volume_proxy::list_snapshots).post(volume_proxy::create_snapshot),
        )
        .route("/os-snapshots/detail", get(volume_proxy::list_snapshots))
        .route(
            "/os-snapshots/{id}",
            get(volume_proxy::show_snapshot).delete(volume_proxy::delete_snapshot),
        )
        .route("/os-tenant-networks", get(server_extras::tenant_networks))
        .route(
            "/os-tenant-networks/{id}",
            get(server_extras::tenant_network),
        )
}
