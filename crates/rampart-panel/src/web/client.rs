//! The [`Client`] extractor: who is on the other end (SPEC R3).
//!
//! The IP is the TCP peer, unless that peer is a configured trusted proxy:
//! then it is the right-most `X-Forwarded-For` address that is not itself a
//! trusted proxy. From anyone else the header is ignored, so a client cannot
//! choose the address its login failures are counted against.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use rampart_core::IpNet;

use crate::Services;
use crate::auth::ClientInfo;

#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

/// The client's IP per the rule above.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        for item in text.split(',') {
            match item.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // A malformed chain cannot be trusted past the proxy.
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer),
    )
}

/// Client info for any request parts (also used by the audit layer).
pub fn client_info(
    parts_ext: &axum::http::Extensions,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> ClientInfo {
    let peer = parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(p)| p.ip());
    ClientInfo {
        ip: client_ip(peer, headers, trusted).map(|ip| ip.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
    }
}

/// What is needed to work out the client later, captured cheaply (no
/// strings built) for layers that may not need it.
#[derive(Debug, Clone)]
pub struct ClientSource {
    peer: Option<IpAddr>,
    forwarded: Option<HeaderMap>,
    user_agent: Option<axum::http::HeaderValue>,
}

impl ClientSource {
    pub fn capture(ext: &axum::http::Extensions, headers: &HeaderMap) -> ClientSource {
        let forwarded = headers.contains_key("x-forwarded-for").then(|| {
            let mut h = HeaderMap::new();
            for v in headers.get_all("x-forwarded-for") {
                h.append("x-forwarded-for", v.clone());
            }
            h
        });
        ClientSource {
            peer: ext
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(p)| p.ip()),
            forwarded,
            user_agent: headers.get(header::USER_AGENT).cloned(),
        }
    }

    pub fn resolve(&self, trusted: &[IpNet]) -> ClientInfo {
        let empty = HeaderMap::new();
        ClientInfo {
            ip: client_ip(
                self.peer,
                self.forwarded.as_ref().unwrap_or(&empty),
                trusted,
            )
            .map(|ip| ip.to_string()),
            user_agent: self
                .user_agent
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(256).collect()),
        }
    }
}

impl FromRequestParts<Arc<Services>> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(client_info(
            &parts.extensions,
            &parts.headers,
            &services.settings.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        let trusted = [IpNet::parse("10.0.0.1").unwrap()];
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), &headers("198.51.100.1"), &trusted),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), &headers("198.51.100.1"), &[]),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn trusted_peer_gives_rightmost_untrusted_hop() {
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        // A client-supplied first hop cannot win over what the proxy appended.
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.1")),
                &headers("1.2.3.4, 198.51.100.9, 10.0.0.5"),
                &trusted
            ),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers("garbage"), &trusted),
            Some(ip("10.0.0.1"))
        );
    }
}

/// The TCP peer of the connection itself (never a forwarded address).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(p)| *p),
        ))
    }
}
