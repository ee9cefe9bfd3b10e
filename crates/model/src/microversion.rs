//! Microversions (API-SIG): parsing `OpenStack-API-Version: <service> X.Y` (and Nova's legacy
//! `X-OpenStack-Nova-API-Version: X.Y`), `latest`, and negotiation against a supported range.
//! No header, or one for another service, means the minimum.

use std::fmt;

/// A microversion `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    pub major: u16,
    pub minor: u16,
}

impl Microversion {
    pub const fn new(major: u16, minor: u16) -> Microversion {
        Microversion { major, minor }
    }

    /// Parses `X.Y` (`^([1-9]\d*)\.([1-9]\d*|0)$`).
    pub fn parse(s: &str) -> Option<Microversion> {
        let (a, b) = s.trim().split_once('.')?;
        let ok = |p: &str, allow_zero: bool| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p == "0" && allow_zero || !p.starts_with('0'))
                && p.len() <= 4
        };
        if !ok(a, false) || !ok(b, true) {
            return None;
        }
        Some(Microversion {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }

    /// `self >= X.Y`.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= Microversion::new(major, minor)
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a requested version cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicroversionError {
    /// Malformed version string: 400.
    Invalid(String),
    /// Outside the supported range: 406.
    Unsupported(Microversion),
}

/// Picks the version for a request. `headers` are the values of every `OpenStack-API-Version`
/// header; `legacy` the value of the service's legacy header, if any.
pub fn negotiate(
    service: &str,
    headers: &[&str],
    legacy: Option<&str>,
    min: Microversion,
    max: Microversion,
) -> Result<Microversion, MicroversionError> {
    let mut requested: Option<&str> = None;
    for value in headers {
        for part in value.split(',') {
            let mut words = part.split_whitespace();
            if let (Some(svc), Some(ver)) = (words.next(), words.next())
                && svc.eq_ignore_ascii_case(service)
            {
                requested = Some(ver);
            }
        }
    }
    let requested = requested.or(legacy.map(str::trim));
    let Some(v) = requested else { return Ok(min) };
    if v.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let parsed = Microversion::parse(v).ok_or_else(|| {
        MicroversionError::Invalid(format!(
            "Version {v} string is invalid: it should be major.minor (like 2.1) or 'latest'"
        ))
    })?;
    if parsed < min || parsed > max {
        return Err(MicroversionError::Unsupported(parsed));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Microversion = Microversion::new(2, 1);
    const MAX: Microversion = Microversion::new(2, 100);

    fn n(headers: &[&str], legacy: Option<&str>) -> Result<Microversion, MicroversionError> {
        negotiate("compute", headers, legacy, MIN, MAX)
    }

    #[test]
    fn parses_and_orders() {
        assert_eq!(
            Microversion::parse("2.100"),
            Some(Microversion::new(2, 100))
        );
        assert_eq!(Microversion::parse("3.0"), Some(Microversion::new(3, 0)));
        for bad in ["2", "2.", ".1", "02.1", "2.01", "a.b", "2.1.1", "-2.1", ""] {
            assert_eq!(Microversion::parse(bad), None, "{bad}");
        }
        assert!(Microversion::new(2, 10) > Microversion::new(2, 9));
    }

    #[test]
    fn negotiation_rules() {
        assert_eq!(n(&[], None), Ok(MIN));
        assert_eq!(n(&["compute 2.60"], None), Ok(Microversion::new(2, 60)));
        assert_eq!(
            n(&["volume 3.5"], None),
            Ok(MIN),
            "another service's header means the minimum"
        );
        assert_eq!(
            n(&["compute 2.11, identity 2.114"], None),
            Ok(Microversion::new(2, 11))
        );
        assert_eq!(n(&[], Some("2.47")), Ok(Microversion::new(2, 47)));
        assert_eq!(
            n(&["compute 2.90"], Some("2.47")),
            Ok(Microversion::new(2, 90)),
            "new header wins"
        );
        assert_eq!(n(&["compute latest"], None), Ok(MAX));
        assert_eq!(
            n(&["compute 2.101"], None),
            Err(MicroversionError::Unsupported(Microversion::new(2, 101)))
        );
        assert_eq!(
            n(&["compute 1.9"], None),
            Err(MicroversionError::Unsupported(Microversion::new(1, 9)))
        );
        assert!(matches!(
            n(&["compute 2.x"], None),
            Err(MicroversionError::Invalid(_))
        ));
    }
}
