//! Error bodies in each OpenStack service's own wire format. This is the one place that knows
//! the envelopes: Keystone `{"error": {code, title, message}}`, Nova and Cinder
//! `{"<faultName>": {code, message}}`, Neutron `{"NeutronError": {type, message, detail}}`,
//! and Glance's plain-text pages. The Cascade admin API (`/v1.0`) uses the Keystone envelope.

use serde_json::{Value, json};

/// The API family a response belongs to; it picks the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Identity,
    Compute,
    Network,
    Volume,
    Image,
    Admin,
}

impl Service {
    /// Name used in metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Compute => "compute",
            Service::Network => "network",
            Service::Volume => "volume",
            Service::Image => "image",
            Service::Admin => "admin",
        }
    }
}

/// A rendered error: the status, the content type and the body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFault {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Keystone's `title` for a status code (it mirrors the HTTP reason phrase).
pub fn http_title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    }
}

/// Nova's fault name for a status code (`nova/api/openstack/wsgi.py`, `Fault._fault_names`).
pub fn nova_fault_name(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// A default Neutron exception type for a status code when the caller names none.
pub fn neutron_default_type(status: u16) -> &'static str {
    match status {
        400 => "HTTPBadRequest",
        401 => "HTTPUnauthorized",
        403 => "HTTPForbidden",
        404 => "HTTPNotFound",
        405 => "HTTPMethodNotAllowed",
        406 => "HTTPNotAcceptable",
        409 => "HTTPConflict",
        413 => "HTTPRequestEntityTooLarge",
        415 => "HTTPUnsupportedMediaType",
        503 => "ServiceUnavailable",
        _ => "HTTPInternalServerError",
    }
}

/// Renders an error for `service`. `neutron_type` names the Neutron exception class
/// (`NetworkNotFound`, `IpAddressAlreadyAllocated`, ...) and is ignored by other services.
pub fn render(
    service: Service,
    status: u16,
    message: &str,
    neutron_type: Option<&str>,
) -> RenderedFault {
    let json_body = |v: Value| RenderedFault {
        status,
        content_type: "application/json",
        body: v.to_string(),
    };
    match service {
        Service::Identity | Service::Admin => json_body(json!({
            "error": {"code": status, "title": http_title(status), "message": message}
        })),
        Service::Compute | Service::Volume => {
            let name = nova_fault_name(status);
            json_body(json!({ name: {"code": status, "message": message} }))
        }
        Service::Network => json_body(json!({
            "NeutronError": {
                "type": neutron_type.unwrap_or(neutron_default_type(status)),
                "message": message,
                "detail": "",
            }
        })),
        Service::Image => RenderedFault {
            status,
            content_type: "text/plain; charset=UTF-8",
            body: format!("{status} {}\n\n{message}\n\n   ", http_title(status)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(service: Service, status: u16, ty: Option<&str>) -> Value {
        serde_json::from_str(&render(service, status, "boom", ty).body).unwrap()
    }

    #[test]
    fn keystone_envelope() {
        assert_eq!(
            body(Service::Identity, 401, None),
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "boom"}})
        );
    }

    #[test]
    fn nova_envelope() {
        assert_eq!(
            body(Service::Compute, 404, None),
            json!({"itemNotFound": {"code": 404, "message": "boom"}})
        );
        assert_eq!(
            body(Service::Volume, 500, None),
            json!({"computeFault": {"code": 500, "message": "boom"}})
        );
    }

    #[test]
    fn neutron_types_for_framework_statuses() {
        // A 405 or 413 once fell through to HTTPInternalServerError.
        assert_eq!(neutron_default_type(405), "HTTPMethodNotAllowed");
        assert_eq!(neutron_default_type(413), "HTTPRequestEntityTooLarge");
        assert_eq!(neutron_default_type(415), "HTTPUnsupportedMediaType");
    }

    #[test]
    fn neutron_envelope() {
        assert_eq!(
            body(Service::Network, 404, Some("NetworkNotFound")),
            json!({"NeutronError": {"type": "NetworkNotFound", "message": "boom", "detail": ""}})
        );
        assert_eq!(
            body(Service::Network, 409, None)["NeutronError"]["type"],
            "HTTPConflict"
        );
    }

    #[test]
    fn glance_is_plain_text() {
        let f = render(Service::Image, 404, "No image found", None);
        assert!(f.content_type.starts_with("text/plain"));
        assert!(f.body.starts_with("404 Not Found"));
    }
}
