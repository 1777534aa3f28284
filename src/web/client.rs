//! Who is on the other end of a request: the client's address and whether it came over
//! https. Both come from the TCP peer, unless the peer is a proxy the organizer named
//! (`--trusted-proxy`): only then are `X-Forwarded-For` and `X-Forwarded-Proto` believed,
//! since any client can send them. The rate limits key on this address; `Secure` cookies
//! and HSTS follow this scheme.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Config;
use crate::state::AppState;

/// HSTS for a year, sent on https answers only (browsers ignore it over http anyway, and a
/// service reached over plain http must not promise https).
const HSTS: &str = "max-age=31536000";

/// The client of a request, as far as the service can trust it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the TCP peer, or the forwarded one behind a trusted proxy.
    pub address: IpAddr,
    /// True when a trusted proxy says the client used https.
    pub https: bool,
}

impl Client {
    /// The client of a request from `peer` with `headers` (`peer` is `None` when the
    /// router runs without connection info: nothing is forwarded then either).
    pub fn resolve(config: &Config, peer: Option<IpAddr>, headers: &HeaderMap) -> Self {
        let Some(peer) = peer.map(|p| p.to_canonical()) else {
            return Self {
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                https: false,
            };
        };
        if !config.is_trusted_proxy(peer) {
            return Self {
                address: peer,
                https: false,
            };
        }
        Self {
            address: forwarded_client(config, peer, headers),
            https: forwarded_proto(headers).is_some_and(|p| p.eq_ignore_ascii_case("https")),
        }
    }
}

/// The client behind a trusted `peer`: `X-Forwarded-For` read from the right (the entry
/// the nearest proxy appended) past every trusted proxy; the first other address is the
/// client. Entries left of it were written by the client and could be anything.
fn forwarded_client(config: &Config, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let mut client = peer;
    let entries = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for entry in entries.iter().rev() {
        let Ok(address) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = address.to_canonical();
        if !config.is_trusted_proxy(client) {
            break;
        }
    }
    client
}

/// The scheme the nearest proxy saw: the last value of `X-Forwarded-Proto` (a proxy that
/// appends rather than replaces leaves the client's own claim to the left).
fn forwarded_proto(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .next_back()
}

/// Middleware: resolves the [`Client`] once for the handlers and the rate limits, and adds
/// `Strict-Transport-Security` to https answers.
pub async fn resolve_client(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = Client::resolve(&state.config, peer, request.headers());
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    if client.https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Without the middleware (a router built for a unit test) nothing is trusted.
        Ok(parts.extensions.get::<Client>().copied().unwrap_or(Client {
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            https: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::Client;
    use crate::config::Config;
    use axum::http::{HeaderMap, HeaderValue};
    use std::net::IpAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn behind_proxy() -> Config {
        let mut config = Config::new("data");
        config.trusted_proxies = vec![ip("10.0.0.1"), ip("10.0.0.2")];
        config
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let spoof = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = Client::resolve(&behind_proxy(), Some(ip("203.0.113.9")), &spoof);
        assert_eq!(client.address, ip("203.0.113.9"));
        assert!(!client.https);
        let client = Client::resolve(&Config::new("data"), Some(ip("10.0.0.1")), &spoof);
        assert_eq!(client.address, ip("10.0.0.1"), "no proxy configured");
        assert!(!client.https);
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_entry_from_the_right() {
        let chain = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = Client::resolve(&behind_proxy(), Some(ip("10.0.0.1")), &chain);
        assert_eq!(
            client.address,
            ip("198.51.100.7"),
            "1.2.3.4 is the client's claim"
        );
        assert!(client.https);
    }

    #[test]
    fn a_malformed_forwarded_entry_stops_the_walk_at_the_last_good_address() {
        let odd = headers(&[("x-forwarded-for", "198.51.100.7, unknown")]);
        let client = Client::resolve(&behind_proxy(), Some(ip("10.0.0.1")), &odd);
        assert_eq!(client.address, ip("10.0.0.1"));
        let none = Client::resolve(&behind_proxy(), Some(ip("10.0.0.1")), &HeaderMap::new());
        assert_eq!(none.address, ip("10.0.0.1"));
        assert!(!none.https);
    }

    #[test]
    fn the_nearest_proxy_decides_the_scheme() {
        let appended = headers(&[("x-forwarded-proto", "https, http")]);
        let client = Client::resolve(&behind_proxy(), Some(ip("10.0.0.1")), &appended);
        assert!(!client.https);
    }
}
