//! Request body parsing with OpenStack-style 400s: the body must be JSON, must be an object
//! with the expected top-level key (`{"pod": {...}}`), and must fit the expected type; each
//! failure says which.

use bytes::Bytes;
use cascade_model::fault::Service;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// Parses `{"<key>": T}`.
pub(crate) fn wrapped<T: DeserializeOwned>(
    service: Service,
    body: &Bytes,
    key: &str,
) -> Result<T, ApiError> {
    let value = json(service, body)?;
    let Some(inner) = value.get(key) else {
        return Err(ApiError::new(
            service,
            400,
            format!("Invalid input: '{key}' is a required property"),
        ));
    };
    typed(service, inner.clone(), key)
}

/// Parses any JSON body.
pub(crate) fn json(service: Service, body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::new(
            service,
            400,
            "The request body is empty; a JSON body is required.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            service,
            400,
            format!("Malformed request body: not valid JSON ({e})"),
        )
    })
}

/// Converts a JSON value into `T`, reporting the field at fault.
pub(crate) fn typed<T: DeserializeOwned>(
    service: Service,
    value: Value,
    key: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            service,
            400,
            format!("Invalid input for field '{key}': {e}"),
        )
    })
}
