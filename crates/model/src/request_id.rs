//! Request ids in oslo.middleware's format: `req-<uuid4>`.

/// The id of the request being served, as the API answers it (`x-openstack-request-id`);
/// the router puts it in every request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Mints a new request id (`req-` followed by a random UUID4).
pub fn new_request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

/// Whether `value` is a well-formed request id that may be adopted as a global request id.
pub fn is_valid_request_id(value: &str) -> bool {
    value
        .strip_prefix("req-")
        .is_some_and(|rest| rest.len() == 36 && uuid::Uuid::parse_str(rest).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_valid() {
        let id = new_request_id();
        assert!(is_valid_request_id(&id), "{id}");
    }

    #[test]
    fn rejects_malformed_ids() {
        assert!(!is_valid_request_id("req-123"));
        assert!(!is_valid_request_id("6f1c3c2e-1f7e-4b4e-9d3c-3c6b5a1e2f10"));
        assert!(!is_valid_request_id(
            "req-6f1c3c2e-1f7e-4b4e-9d3c-3c6b5a1e2f1z"
        ));
    }
}
