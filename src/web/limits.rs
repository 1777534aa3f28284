//! Rate limits on sign-up and log-in (EVALUATION.md 5.4): per client address with
//! `tower_governor` on `POST /signup` and `POST /login`, and per account name with a keyed
//! `governor` limiter that both forms share. Both answer 429 with `Retry-After` and a page
//! saying when to try again.
//!
//! The sizes: an honest person mistypes a password a few times and a class behind one NAT
//! signs up together, so bursts are generous; a guesser gets a few attempts per minute per
//! account and per address, which makes online guessing of an 8-character password
//! hopeless, and sign-up in bulk from one address slow (`approval` mode is the real
//! defence: every account waits for an organizer).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::web::client::Client;
use crate::web::pages::{Nav, message};

/// Sign-ups per client address: a burst of 10, then one per minute.
pub const SIGNUP_BURST: u32 = 10;
/// Sign-ups per client address: one more allowed every this long after the burst.
pub const SIGNUP_PERIOD: Duration = Duration::from_secs(60);
/// Log-in attempts per client address: a burst of 20, then one every 3 s.
pub const LOGIN_BURST: u32 = 20;
/// Log-in attempts per client address: one more allowed every this long after the burst.
pub const LOGIN_PERIOD: Duration = Duration::from_secs(3);
/// Attempts per account name (log-in and sign-up together): a burst of 5, then one every
/// 12 s, whoever makes them and whether or not the name exists.
pub const ACCOUNT_BURST: u32 = 5;
/// Attempts per account name: one more allowed every this long after the burst.
pub const ACCOUNT_PERIOD: Duration = Duration::from_secs(12);
/// How often forgotten keys (addresses and names back at a full burst) are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Names longer than any valid one are cut to this for the key, so that a key's size is
/// bounded whatever is posted.
const MAX_KEY_CHARS: usize = 64;

/// The key of a client address: an IPv4 address, or the /64 network of an IPv6 one (one
/// host commonly holds a whole /64, so single IPv6 addresses would be free to change).
#[derive(Clone, Copy, Debug)]
pub struct ClientKey;

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        let client = req
            .extensions()
            .get::<Client>()
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(address_key(client.address))
    }
}

fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The per-address limit of one form (its `POST` only), as a layer for its route.
pub fn per_address(
    burst: u32,
    period: Duration,
) -> tower_governor::GovernorLayer<ClientKey, NoOpMiddleware, Body> {
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientKey)
        .period(period)
        .burst_size(burst)
        .methods(vec![Method::POST])
        .finish()
        .expect("the limits' burst and period are not zero");
    let limiter = Arc::downgrade(config.limiter());
    spawn_pruning(move || {
        let Some(limiter) = limiter.upgrade() else {
            return false;
        };
        limiter.retain_recent();
        limiter.shrink_to_fit();
        true
    });
    tower_governor::GovernorLayer::new(config).error_handler(|error| match error {
        GovernorError::TooManyRequests { wait_time, .. } => too_many(
            wait_time,
            "Too many sign-up or log-in attempts came from your address.",
        ),
        other => {
            tracing::error!(error = %other, "the rate limit found no client address");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                Nav::default(),
                "Something went wrong",
                vec!["The error was logged for the organizers.".to_owned()],
            )
        }
    })
}

/// Attempts per account name, shared by log-in and sign-up.
#[derive(Debug)]
pub struct AccountLimiter(DefaultKeyedRateLimiter<String>);

impl AccountLimiter {
    /// A limiter of [`ACCOUNT_BURST`] attempts, then one per [`ACCOUNT_PERIOD`].
    pub fn new() -> Arc<Self> {
        let quota = Quota::with_period(ACCOUNT_PERIOD)
            .expect("a period that is not zero")
            .allow_burst(NonZeroU32::new(ACCOUNT_BURST).expect("a burst that is not zero"));
        let limiter = Arc::new(Self(RateLimiter::keyed(quota)));
        let weak: Weak<Self> = Arc::downgrade(&limiter);
        spawn_pruning(move || {
            let Some(limiter) = weak.upgrade() else {
                return false;
            };
            limiter.0.retain_recent();
            limiter.0.shrink_to_fit();
            true
        });
        limiter
    }

    /// Counts an attempt for `name` (compared without case); [`Limited`] when the name
    /// has used up its attempts.
    pub fn check(&self, name: &str) -> Result<(), Limited> {
        let key: String = name
            .trim()
            .chars()
            .take(MAX_KEY_CHARS)
            .collect::<String>()
            .to_ascii_lowercase();
        self.0.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Limited {
                wait_s: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

/// An account name that used up its attempts; answers the 429 page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the next attempt is allowed.
    pub wait_s: u64,
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        too_many(
            self.wait_s,
            "Too many attempts were made for this account name.",
        )
    }
}

/// The 429 page: what was limited and when to retry, with `Retry-After`.
pub fn too_many(wait_s: u64, what: &str) -> Response {
    let wait_s = wait_s.max(1);
    let mut response = message(
        StatusCode::TOO_MANY_REQUESTS,
        Nav::default(),
        "Too many attempts",
        vec![what.to_owned(), format!("Try again in {wait_s} seconds.")],
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_s));
    response
}

/// Runs `prune` every [`PRUNE_EVERY`] until it returns false (its limiter is gone), on the
/// current tokio runtime; without one nothing is pruned (a limiter built outside the
/// server).
fn spawn_pruning(mut prune: impl FnMut() -> bool + Send + 'static) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !prune() {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{ACCOUNT_BURST, AccountLimiter, address_key};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    #[test]
    fn an_ipv6_client_is_limited_by_its_64_network_and_ipv4_by_its_address() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            address_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<std::net::IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_account_name_gets_its_burst_whatever_its_case_then_a_429_with_retry_after() {
        let limiter = AccountLimiter::new();
        for _ in 0..ACCOUNT_BURST {
            assert!(limiter.check("Alice").is_ok());
        }
        let refused = limiter.check(" alice ").unwrap_err().into_response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=12).contains(&retry), "{retry}");
        assert!(limiter.check("bob").is_ok(), "other names are not affected");
    }
}
