//! The client's IP address, for the activity log and rate limits.
//!
//! Forwarding headers are easy to forge, so they are believed only from the proxies named
//! by `MITAI_TRUSTED_PROXIES`: a request from any other peer is that peer. From a trusted
//! peer, the hops of `Forwarded` (RFC 7239, preferred) or else `X-Forwarded-For` are read
//! right to left — the order in which proxies appended them — skipping trusted hops; the
//! first untrusted address is the client. Garbage in a header ends the walk at the last
//! hop that a trusted proxy vouched for.

use crate::config::cidr::{Cidr, canonical};
use crate::service::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};

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
    use crate::config::cidr::parse_list;

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
