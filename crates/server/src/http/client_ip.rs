//! The client's IP address, for the activity log and rate limits.
//!
//! Forwarding headers are easy to forge, so they are believed only from the proxies named
//! by `MITAI_TRUSTED_PROXIES`: a request from any other peer is that peer. From a trusted
//! peer, the hops of `Forwarded` (RFC 7239, preferred) or else `X-Forwarded-For` are read
//! right to left — the order in which proxies appended them — skipping trusted hops; the
//! first untrusted address is the client. Garbage in a header ends the walk at the last
//! hop that a trusted proxy vouched for.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::service::AppState;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address (`127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a prefix length outside 0–{max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in this block (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses `MITAI_TRUSTED_PROXIES`: CIDR blocks separated by commas or spaces.
pub fn parse_list(value: &str) -> Result<Vec<Cidr>, String> {
    value
        .split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(Cidr::from_str)
        .collect()
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn trusted(proxies: &[Cidr], ip: IpAddr) -> bool {
    proxies.iter().any(|c| c.contains(ip))
}

/// The hops a header names, in the order they were appended (client first). `None` for a
/// hop that is not an address (`unknown`, an obfuscated name, garbage).
fn hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<_> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| forwarded_node(value.trim()))
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect()
}

/// The address of an RFC 7239 node: `192.0.2.60`, `"[2001:db8::1]:4711"`, `"1.2.3.4:80"`.
fn forwarded_node(value: &str) -> Option<IpAddr> {
    let value = value.trim_matches('"');
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let host = match value.rsplit_once(':') {
        // An IPv4 address with a port; a bare IPv6 address is not allowed unbracketed.
        Some((host, _port)) if !host.contains(':') => host,
        _ => value,
    };
    host.parse().ok()
}

/// The client of a request from `peer`, given the trusted proxies.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, proxies: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(proxies, peer) {
        return peer;
    }
    let mut client = peer;
    for hop in hops(headers).into_iter().rev() {
        match hop.map(canonical) {
            Some(ip) if trusted(proxies, ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// The address of the client (see the module documentation). `None` when the peer is not
/// known (in-process tests without a connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| {
                client_of(addr.ip(), &parts.headers, &state.config.trusted_proxies).to_string()
            });
        Ok(ClientIp(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        for bad in ["", "10.0.0.0/33", "x", "10.0.0/8", "::/129", "1.2.3.4/-1"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(parse_list("").unwrap(), vec![]);
        assert_eq!(parse_list("10.0.0.0/8, 127.0.0.1 ::1").unwrap().len(), 3);
        assert!(parse_list("10.0.0.0/8,nope").is_err());
    }

    #[test]
    fn headers_are_believed_only_from_trusted_peers() {
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(
            client_of(ip("203.0.113.5"), &spoofed, &[]),
            ip("203.0.113.5")
        );
        let proxies = parse_list("10.0.0.0/8").unwrap();
        assert_eq!(
            client_of(ip("203.0.113.5"), &spoofed, &proxies),
            ip("203.0.113.5"),
            "an untrusted peer is the client whatever it claims"
        );
        assert_eq!(client_of(ip("10.0.0.2"), &spoofed, &proxies), ip("6.6.6.6"));
    }

    #[test]
    fn hops_are_read_right_to_left_skipping_trusted_ones() {
        let proxies = parse_list("10.0.0.0/8").unwrap();
        // The client forged the first entry; the trusted proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3")]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("198.51.100.7"));
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("198.51.100.7"));
        // Only trusted hops: the leftmost of them.
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.3")]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("10.0.0.9"));
        // Garbage stops the walk at the last vouched-for hop.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, nonsense, 10.0.0.3")]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("10.0.0.3"));
        // No header: the proxy itself.
        assert_eq!(
            client_of(ip("10.0.0.2"), &HeaderMap::new(), &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn forwarded_is_preferred_and_parsed() {
        let proxies = parse_list("10.0.0.0/8, 2001:db8::/32").unwrap();
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("6.6.6.6"));
        let h = headers(&[("forwarded", "for=198.51.100.7:8080;by=10.0.0.1")]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("198.51.100.7"));
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.5")]);
        assert_eq!(client_of(ip("10.0.0.2"), &h, &proxies), ip("10.0.0.5"));
    }
}
