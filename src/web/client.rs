//! The client behind a request: its address (the peer's, or behind a trusted proxy the one it
//! vouches for), and the keyed digest limits count it by. Addresses are never stored: only
//! the digest, under a key of the instance's. An IPv6 client is counted by its /64, the block
//! one subscriber is given, so it cannot step through its own addresses to escape a limit.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The client's address: the peer's, or with `trust_forwarded_for` the last entry of
/// `X-Forwarded-For` (the one the proxy in front appended, and so vouches for).
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.ip()
}

/// Keyed digests of client addresses.
#[derive(Clone)]
pub struct AddressKeys {
    key: [u8; 32],
}

impl AddressKeys {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The digest a limit counts `ip` by: of the address, or of an IPv6 address's /64.
    pub fn of(&self, ip: IpAddr) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(network(ip).as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// What one client holds: an IPv4 address (also when mapped into IPv6), or an IPv6 /64.
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_itself() {
        let keys = AddressKeys::new([3; 32]);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(keys.of(a), keys.of(b));
        assert_ne!(keys.of(a), keys.of(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(keys.of(mapped), keys.of("192.0.2.7".parse().unwrap()));
        assert_ne!(
            keys.of("192.0.2.7".parse().unwrap()),
            keys.of("192.0.2.8".parse().unwrap())
        );
        assert_ne!(AddressKeys::new([4; 32]).of(a), keys.of(a), "keyed");
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 198.51.100.9".parse().unwrap());
        assert_eq!(client_ip(peer, &headers, false), peer.ip());
        assert_eq!(
            client_ip(peer, &headers, true),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
    }
}
