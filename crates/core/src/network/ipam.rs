//! Address arithmetic for the central IPAM: parsing and checking CIDRs, gateways and
//! allocation pools the way Neutron does, picking free addresses from pools, carving bridge
//! subnets out of the configured pool, and MAC addresses under Neutron's `fa:16:3e` prefix.
//! Pure functions: the store's unique indexes decide who really gets an address.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use rand::Rng;

/// An inclusive range of addresses (`{"start", "end"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub start: IpAddr,
    pub end: IpAddr,
}

pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

pub(crate) fn from_u128(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(v.into())
    } else {
        IpAddr::V4((v as u32).into())
    }
}

/// The first and last addresses a host may use in `cidr` (IPv4 skips the network and
/// broadcast addresses; IPv6 skips only the subnet-router anycast address).
pub fn host_bounds(cidr: &IpNet) -> Option<(u128, u128)> {
    let (lo, hi) = (to_u128(cidr.network()), to_u128(cidr.broadcast()));
    match cidr {
        IpNet::V4(n) if n.prefix_len() >= 31 => Some((lo, hi)).filter(|_| n.prefix_len() == 31),
        IpNet::V4(_) => Some((lo + 1, hi - 1)),
        IpNet::V6(n) if n.prefix_len() == 128 => None,
        IpNet::V6(_) => Some((lo + 1, hi)),
    }
}

/// Whether `ip` may be given to a host in `cidr`.
pub fn usable(cidr: &IpNet, ip: IpAddr) -> bool {
    if ip.is_ipv4() != cidr.addr().is_ipv4() || !cidr.contains(&ip) {
        return false;
    }
    host_bounds(cidr).is_some_and(|(lo, hi)| (lo..=hi).contains(&to_u128(ip)))
}

/// Neutron's default pools: every host address except the gateway.
pub fn default_pools(cidr: &IpNet, gateway: Option<IpAddr>) -> Vec<Pool> {
    let Some((lo, hi)) = host_bounds(cidr) else {
        return Vec::new();
    };
    let v6 = cidr.addr().is_ipv6();
    let mut out = Vec::new();
    match gateway.map(to_u128).filter(|g| (lo..=hi).contains(g)) {
        Some(g) => {
            if g > lo {
                out.push((lo, g - 1));
            }
            if g < hi {
                out.push((g + 1, hi));
            }
        }
        None => out.push((lo, hi)),
    }
    out.into_iter()
        .map(|(a, b)| Pool {
            start: from_u128(a, v6),
            end: from_u128(b, v6),
        })
        .collect()
}

/// Why a set of pools is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// A pool is outside the CIDR or reversed (Neutron: `InvalidAllocationPool`).
    Invalid(String),
    /// Two pools overlap (`OverlappingAllocationPools`).
    Overlap(String),
    /// The gateway is inside a pool (`GatewayConflictWithAllocationPools`).
    Gateway(String),
}

/// Checks requested pools against the subnet.
pub fn check_pools(cidr: &IpNet, pools: &[Pool], gateway: Option<IpAddr>) -> Result<(), PoolError> {
    for p in pools {
        if !usable(cidr, p.start) || !usable(cidr, p.end) || to_u128(p.start) > to_u128(p.end) {
            return Err(PoolError::Invalid(format!(
                "The allocation pool {}-{} spans beyond the subnet cidr {cidr}.",
                p.start, p.end
            )));
        }
    }
    for (i, a) in pools.iter().enumerate() {
        for b in &pools[i + 1..] {
            if to_u128(a.start) <= to_u128(b.end) && to_u128(b.start) <= to_u128(a.end) {
                return Err(PoolError::Overlap(format!(
                    "Found overlapping allocation pools: {}-{} and {}-{} for subnet {cidr}.",
                    a.start, a.end, b.start, b.end
                )));
            }
        }
    }
    if let Some(g) = gateway {
        for p in pools {
            if (to_u128(p.start)..=to_u128(p.end)).contains(&to_u128(g)) {
                return Err(PoolError::Gateway(format!(
                    "Gateway ip {g} conflicts with allocation pool {}-{}.",
                    p.start, p.end
                )));
            }
        }
    }
    Ok(())
}

/// Whether `ip` lies in one of `pools`.
pub fn in_pools(pools: &[Pool], ip: IpAddr) -> bool {
    let v = to_u128(ip);
    pools
        .iter()
        .any(|p| (to_u128(p.start)..=to_u128(p.end)).contains(&v))
}

/// Up to `n` free addresses from `pools`, in order, skipping `used` and `skip`.
pub fn free_addresses(
    pools: &[Pool],
    used: &HashSet<IpAddr>,
    skip: Option<IpAddr>,
    n: usize,
) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for p in pools {
        if out.len() >= n {
            break;
        }
        let v6 = p.start.is_ipv6();
        // An inclusive range never steps past its end, so a pool ending at the top of the
        // address space (255.255.255.255, ffff:…:ffff) neither overflows nor wraps to `::`.
        // Each step yields an address or passes a used (or skipped) one: at most
        // |used| + n + 1 steps.
        let room = n - out.len();
        out.extend(
            (to_u128(p.start)..=to_u128(p.end))
                .map(|x| from_u128(x, v6))
                .filter(|ip| Some(*ip) != skip && !used.contains(ip))
                .take(room),
        );
    }
    out
}

/// The `index`-th subnet of length `prefix` inside `pool`, if it fits.
pub fn nth_subnet(pool: &IpNet, prefix: u8, index: u128) -> Option<IpNet> {
    if prefix < pool.prefix_len() || prefix > pool.max_prefix_len() {
        return None;
    }
    let bits = u32::from(pool.max_prefix_len() - prefix);
    let count_bits = u32::from(prefix - pool.prefix_len());
    if count_bits < 128 && index >= (1u128 << count_bits) {
        return None;
    }
    let base = to_u128(pool.network()) + (index << bits);
    IpNet::new(from_u128(base, pool.addr().is_ipv6()), prefix).ok()
}

/// A random MAC under Neutron's default base `fa:16:3e`.
pub fn random_mac() -> String {
    let mut rng = rand::rng();
    format!(
        "fa:16:3e:{:02x}:{:02x}:{:02x}",
        rng.random::<u8>(),
        rng.random::<u8>(),
        rng.random::<u8>()
    )
}

/// A MAC in canonical form (lower case, colon separated), or `None` when malformed or not
/// a unicast address.
pub fn normalize_mac(mac: &str) -> Option<String> {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    let first = u8::from_str_radix(parts[0], 16).ok()?;
    if first & 1 == 1 || parts.iter().all(|p| *p == "00") {
        return None;
    }
    Some(parts.join(":").to_ascii_lowercase())
}

/// The EUI-64 interface identifier of a MAC (RFC 4291 appendix A): `ff:fe` in the middle
/// and the universal/local bit flipped.
pub fn eui64_interface_id(mac: &str) -> Option<u64> {
    let m = normalize_mac(mac)?;
    let b: Vec<u8> = m
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let id = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]];
    Some(u64::from_be_bytes(id))
}

/// The SLAAC address of a MAC in an IPv6 prefix, as Neutron computes it for subnets in
/// `slaac` or `dhcpv6-stateless` address mode (`netutils.get_ipv6_addr_by_EUI64`).
pub fn eui64_address(cidr: &IpNet, mac: &str) -> Option<IpAddr> {
    let IpNet::V6(net) = cidr else {
        return None;
    };
    let id = eui64_interface_id(mac)?;
    Some(IpAddr::V6(
        (u128::from(net.network()) + u128::from(id)).into(),
    ))
}

/// Whether `ip` is the EUI-64 address of `mac` in whatever /64 it lies in.
pub fn is_eui64_of(ip: IpAddr, mac: &str) -> bool {
    match (ip, eui64_interface_id(mac)) {
        (IpAddr::V6(a), Some(id)) => u128::from(a) as u64 == id,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_addresses_match_neutron() {
        // netutils.get_ipv6_addr_by_EUI64('2001:db8::/64', 'fa:16:3e:12:34:56')
        let c: IpNet = "2001:db8::/64".parse().unwrap();
        let a = eui64_address(&c, "fa:16:3e:12:34:56").unwrap();
        assert_eq!(a, ip("2001:db8::f816:3eff:fe12:3456"));
        assert!(is_eui64_of(a, "FA:16:3E:12:34:56"));
        assert!(!is_eui64_of(ip("2001:db8::2"), "fa:16:3e:12:34:56"));
        // A locally administered MAC gets its U/L bit cleared.
        let a = eui64_address(&c, "02:00:00:00:00:01").unwrap();
        assert_eq!(a, ip("2001:db8::ff:fe00:1"));
        assert!(eui64_address(&"10.0.0.0/24".parse().unwrap(), "fa:16:3e:12:34:56").is_none());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_skip_gateway_and_edges() {
        let c: IpNet = "10.0.0.0/24".parse().unwrap();
        let p = default_pools(&c, Some(ip("10.0.0.1")));
        assert_eq!(
            p,
            vec![Pool {
                start: ip("10.0.0.2"),
                end: ip("10.0.0.254")
            }]
        );
        let p = default_pools(&c, Some(ip("10.0.0.100")));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].end, ip("10.0.0.99"));
        assert_eq!(p[1].start, ip("10.0.0.101"));
        let v6: IpNet = "fd00::/64".parse().unwrap();
        let p = default_pools(&v6, Some(ip("fd00::1")));
        assert_eq!(p[0].start, ip("fd00::2"));
        assert_eq!(p[0].end, ip("fd00::ffff:ffff:ffff:ffff"));
    }

    #[test]
    fn pools_are_checked() {
        let c: IpNet = "10.0.0.0/24".parse().unwrap();
        let pool = |a: &str, b: &str| Pool {
            start: ip(a),
            end: ip(b),
        };
        assert!(check_pools(&c, &[pool("10.0.0.2", "10.0.0.9")], Some(ip("10.0.0.1"))).is_ok());
        assert!(matches!(
            check_pools(&c, &[pool("10.0.0.2", "10.0.1.9")], None),
            Err(PoolError::Invalid(_))
        ));
        assert!(matches!(
            check_pools(
                &c,
                &[pool("10.0.0.2", "10.0.0.9"), pool("10.0.0.5", "10.0.0.20")],
                None
            ),
            Err(PoolError::Overlap(_))
        ));
        assert!(matches!(
            check_pools(&c, &[pool("10.0.0.1", "10.0.0.9")], Some(ip("10.0.0.1"))),
            Err(PoolError::Gateway(_))
        ));
    }

    #[test]
    fn free_addresses_skip_used() {
        let pools = [Pool {
            start: ip("10.0.0.2"),
            end: ip("10.0.0.6"),
        }];
        let used: HashSet<IpAddr> = [ip("10.0.0.2"), ip("10.0.0.3")].into();
        assert_eq!(
            free_addresses(&pools, &used, Some(ip("10.0.0.4")), 2),
            vec![ip("10.0.0.5"), ip("10.0.0.6")]
        );
        let all: HashSet<IpAddr> = (2..=6).map(|i| ip(&format!("10.0.0.{i}"))).collect();
        assert!(free_addresses(&pools, &all, None, 1).is_empty());
    }

    #[test]
    fn pools_at_the_top_of_the_v6_space_exhaust_without_wrapping() {
        let top = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        let pools = [Pool {
            start: ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd"),
            end: top,
        }];
        let mut used = HashSet::new();
        for _ in 0..3 {
            let got = free_addresses(&pools, &used, None, 8);
            assert!(!got.is_empty() && got.iter().all(|a| in_pools(&pools, *a)));
            used.insert(got[0]);
        }
        assert!(used.contains(&top));
        // Exhausted: nothing, and above all not `::` from a wrapped counter.
        assert!(free_addresses(&pools, &used, None, 8).is_empty());
        // The subnet at the very top: default pools reach ffff:…:ffff and allocate from it.
        let c: IpNet = "ffff:ffff:ffff:ffff::/64".parse().unwrap();
        let gw = ip("ffff:ffff:ffff:ffff::1");
        let p = default_pools(&c, Some(gw));
        assert_eq!(p.last().unwrap().end, top);
        assert!(check_pools(&c, &p, Some(gw)).is_ok());
        let got = free_addresses(&p, &HashSet::new(), Some(gw), 2);
        assert_eq!(
            got,
            vec![ip("ffff:ffff:ffff:ffff::2"), ip("ffff:ffff:ffff:ffff::3")]
        );
        // The gateway at the top of the pool is skipped, not stepped over into `::`.
        let only = [Pool {
            start: top,
            end: top,
        }];
        assert!(free_addresses(&only, &HashSet::new(), Some(top), 1).is_empty());
    }

    #[test]
    fn pools_at_the_top_of_the_v4_space_exhaust_without_wrapping() {
        let pools = [Pool {
            start: ip("255.255.255.254"),
            end: ip("255.255.255.255"),
        }];
        let mut used = HashSet::new();
        for _ in 0..2 {
            let got = free_addresses(&pools, &used, None, 4);
            assert!(got.iter().all(|a| in_pools(&pools, *a)));
            used.insert(got[0]);
        }
        assert!(free_addresses(&pools, &used, None, 4).is_empty());
        assert_eq!(
            host_bounds(&"0.0.0.0/0".parse().unwrap()),
            Some((1, u128::from(u32::MAX) - 1))
        );
    }

    /// Property: for random pools anywhere in either address space (biased to its top), the
    /// addresses handed out are free, in a pool, never the skipped one, distinct, and as many
    /// as the pools can still give.
    #[test]
    fn free_addresses_stay_in_pools_for_random_pools() {
        let mut rng = rand::rng();
        for case in 0..2000 {
            let v6 = case % 2 == 0;
            let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
            let len = rng.random_range(0..6u128);
            let end = if rng.random_bool(0.5) {
                max
            } else {
                rng.random_range(len..=max)
            };
            let start = end - len;
            let pools = [Pool {
                start: from_u128(start, v6),
                end: from_u128(end, v6),
            }];
            let all: Vec<IpAddr> = (start..=end).map(|x| from_u128(x, v6)).collect();
            let used: HashSet<IpAddr> = all
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.3))
                .collect();
            let skip = all.get(rng.random_range(0..all.len() + 1)).copied();
            let n = rng.random_range(1..8usize);
            let got = free_addresses(&pools, &used, skip, n);
            let free = all
                .iter()
                .filter(|a| !used.contains(a) && Some(**a) != skip)
                .count();
            assert_eq!(
                got.len(),
                free.min(n),
                "{pools:?} used {used:?} skip {skip:?}"
            );
            let distinct: HashSet<&IpAddr> = got.iter().collect();
            assert_eq!(distinct.len(), got.len());
            assert!(got.iter().all(|a| in_pools(&pools, *a)
                && !used.contains(a)
                && Some(*a) != skip
                && a.is_ipv6() == v6));
        }
    }

    #[test]
    fn bridge_subnets_and_macs() {
        let pool: IpNet = "100.0.0.0/9".parse().unwrap();
        assert_eq!(
            nth_subnet(&pool, 24, 0).unwrap().to_string(),
            "100.0.0.0/24"
        );
        assert_eq!(
            nth_subnet(&pool, 24, 257).unwrap().to_string(),
            "100.1.1.0/24"
        );
        assert!(nth_subnet(&pool, 24, 1 << 15).is_none());
        let m = random_mac();
        assert!(m.starts_with("fa:16:3e:") && normalize_mac(&m).as_deref() == Some(m.as_str()));
        assert_eq!(
            normalize_mac("FA-16-3E-00-11-22").as_deref(),
            Some("fa:16:3e:00:11:22")
        );
        assert!(normalize_mac("01:00:5e:00:00:01").is_none());
        assert!(normalize_mac("zz:16:3e:00:11:22").is_none());
    }
}
