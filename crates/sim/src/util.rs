//! Small helpers shared by every simulated service: ids, timestamps in each service's wire
//! format, a cheap random source, query-string access and generic pagination.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

pub(crate) type Ts = DateTime<Utc>;

pub(crate) fn now() -> Ts {
    Utc::now()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

/// Nova, Neutron and Glance: `2015-08-27T09:49:58Z`.
pub(crate) fn ts_z(t: &Ts) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Cinder: naive microseconds, `2018-11-29T06:50:07.770785`.
pub(crate) fn ts_cinder(t: &Ts) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Parses what clients send in `changes-since` and friends: RFC 3339 with `Z` or an offset,
/// or a naive timestamp taken as UTC.
pub(crate) fn parse_ts(s: &str) -> Option<Ts> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
        }
    }
    None
}

static RNG: AtomicU64 = AtomicU64::new(0);

/// A splitmix64 step seeded from a v4 uuid: good enough for error rates, latency jitter and
/// MAC addresses, and dependency-free.
pub(crate) fn rand_u64() -> u64 {
    let mut s = RNG.load(Ordering::Relaxed);
    if s == 0 {
        s = uuid::Uuid::new_v4().as_u128() as u64 | 1;
    }
    let mut z = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    RNG.store(z, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in `[0, 1)`.
pub(crate) fn rand_f64() -> f64 {
    (rand_u64() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn random_mac() -> String {
    let r = rand_u64();
    format!(
        "fa:16:3e:{:02x}:{:02x}:{:02x}",
        (r >> 16) as u8,
        (r >> 8) as u8,
        r as u8
    )
}

/// The SLAAC address of a MAC in an IPv6 prefix (EUI-64, RFC 4291 appendix A), as Neutron
/// computes it for `slaac` / `dhcpv6-stateless` subnets.
pub(crate) fn eui64_address(cidr: &ipnet::IpNet, mac: &str) -> Option<std::net::IpAddr> {
    let ipnet::IpNet::V6(net) = cidr else {
        return None;
    };
    let b: Vec<u8> = mac
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    if b.len() != 6 {
        return None;
    }
    let id = u64::from_be_bytes([b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]]);
    Some(std::net::IpAddr::V6(
        (u128::from(net.network()) + u128::from(id)).into(),
    ))
}

/// Query parameters in their original order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let Some(q) = query else {
            return Self::default();
        };
        Params(
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
    /// The query string with `marker` replaced, for `next` links.
    pub(crate) fn with_marker(&self, marker: &str, limit: usize) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            if k != "marker" && k != "limit" {
                out.append_pair(k, v);
            }
        }
        out.append_pair("limit", &limit.to_string());
        out.append_pair("marker", marker);
        out.finish()
    }
}

/// Truthiness the way oslo's `bool_from_string` reads query strings.
pub(crate) fn truthy(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// Compares two JSON values for sorting: numbers numerically, strings lexically, null first.
pub(crate) fn cmp_json(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// A JSON scalar as the string a query filter compares against.
pub(crate) fn json_as_filter_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_per_service() {
        let t = parse_ts("2018-11-29T06:50:07.770785").unwrap();
        assert_eq!(ts_cinder(&t), "2018-11-29T06:50:07.770785");
        assert_eq!(ts_z(&t), "2018-11-29T06:50:07Z");
        let t2 = parse_ts("2015-08-27T09:49:58+02:00").unwrap();
        assert_eq!(ts_z(&t2), "2015-08-27T07:49:58Z");
        assert!(parse_ts("not a time").is_none());
    }

    #[test]
    fn params_keep_repeats_and_rebuild_next() {
        let p = Params::parse(Some("name=a&name=b&limit=2&marker=x&status=ACTIVE"));
        assert_eq!(p.all("name"), vec!["a", "b"]);
        assert_eq!(
            p.with_marker("m", 2),
            "name=a&name=b&status=ACTIVE&limit=2&marker=m"
        );
    }

    #[test]
    fn macs_are_openstack_style_and_vary() {
        let a = random_mac();
        assert!(a.starts_with("fa:16:3e:") && a.len() == 17);
        assert_ne!(a, random_mac());
    }
}
