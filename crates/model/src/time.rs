//! Timestamp formats per service: Keystone's `expires_at` (microseconds, `Z`) and the
//! second-precision `2015-08-27T09:49:58Z` form used by Nova, Neutron, Glance and the admin API.

use chrono::{DateTime, SecondsFormat, Utc};

/// Keystone token timestamps: `2026-11-21T10:00:00.000000Z`.
pub fn keystone(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Second-precision UTC timestamps with a `Z` suffix.
pub fn iso_seconds(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats() {
        let ts = Utc.with_ymd_and_hms(2015, 8, 27, 9, 49, 58).unwrap();
        assert_eq!(iso_seconds(ts), "2015-08-27T09:49:58Z");
        assert_eq!(keystone(ts), "2015-08-27T09:49:58.000000Z");
    }
}
