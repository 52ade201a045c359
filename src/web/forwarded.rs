//! Who the client of a request is, for limiting failed sign-ins per address: the connection's
//! own address, or, when that is one of the reverse proxies named with
//! `--http-trusted-proxy`, the address those proxies appended to `X-Forwarded-For`.
//!
//! The header is read from its right end, where the trusted proxies write, and the first
//! address that is not a trusted proxy is the client; anything further left was written by
//! the client and is never believed. A malformed entry stops the walk at the last address a
//! trusted proxy vouched for. Must not: trust the header from anyone but a listed proxy.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Entries of `X-Forwarded-For` looked at, from the right: more proxies than this in a row
/// is not a deployment, it is a header a client padded.
const MAX_HOPS: usize = 16;

/// The client's address: `peer` itself unless it is a trusted proxy (see the module doc).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let mut client = peer;
    // Several header lines are one list, in order.
    let hops = values.iter().rev().flat_map(|value| value.rsplit(','));
    for hop in hops.take(MAX_HOPS) {
        let Ok(address) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = address.to_canonical();
        if !trusted_proxies.contains(&client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    #[test]
    fn a_request_not_from_a_trusted_proxy_is_its_own_client_whatever_it_says() {
        let proxies = [ip("10.0.0.1")];
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &headers, &proxies),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("198.51.100.7"), &headers, &[]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_address_it_appended() {
        let proxies = [ip("10.0.0.1")];
        let peer = ip("10.0.0.1");
        assert_eq!(
            client_address(peer, &forwarded(&["203.0.113.9"]), &proxies),
            ip("203.0.113.9")
        );
        // What the client wrote itself, further left, is not believed.
        assert_eq!(
            client_address(peer, &forwarded(&["1.2.3.4, 203.0.113.9"]), &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(peer, &forwarded(&["1.2.3.4", "203.0.113.9"]), &proxies),
            ip("203.0.113.9")
        );
        // IPv4 through an IPv6 socket is the IPv4 address.
        assert_eq!(
            client_address(
                ip("::ffff:10.0.0.1"),
                &forwarded(&["::ffff:203.0.113.9"]),
                &proxies
            ),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let headers = forwarded(&["1.2.3.4, 203.0.113.9, 10.0.0.2"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &proxies),
            ip("203.0.113.9")
        );
        // Only proxies all the way: the leftmost of them.
        assert_eq!(
            client_address(ip("10.0.0.1"), &forwarded(&["10.0.0.2"]), &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn no_header_or_a_malformed_entry_leaves_the_last_address_a_proxy_vouched_for() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let peer = ip("10.0.0.1");
        assert_eq!(client_address(peer, &HeaderMap::new(), &proxies), peer);
        assert_eq!(
            client_address(peer, &forwarded(&["not an address"]), &proxies),
            peer
        );
        assert_eq!(
            client_address(peer, &forwarded(&["203.0.113.9, junk, 10.0.0.2"]), &proxies),
            ip("10.0.0.2")
        );
        // A client padding the header with trusted addresses gets no further than the cap.
        let padded = vec!["10.0.0.2"; MAX_HOPS + 5].join(",");
        let headers = forwarded(&[&format!("203.0.113.9,{padded}")]);
        assert_eq!(client_address(peer, &headers, &proxies), ip("10.0.0.2"));
    }
}
