//! Redaction in `Debug` output: secrets (passwords, tokens, keys) print as [`REDACTED`], so a
//! `{:?}` in a log line or a panic message never carries one.

/// What a secret prints as.
pub const REDACTED: &str = "<redacted>";

/// An optional secret as `Debug` should show it: `None`, or `Some("<redacted>")`.
pub fn opt<T>(secret: &Option<T>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

#[cfg(test)]
mod tests {
    #[test]
    fn optional_secrets_show_only_presence() {
        assert_eq!(super::opt(&Some("hunter2")), Some("<redacted>"));
        assert_eq!(super::opt::<String>(&None), None);
    }
}
