//! The HTTP server loop, with the connection limits `axum::serve` does not expose (issue 11):
//! hyper's HTTP/1 header read timeout (which also bounds a keep-alive connection's idle
//! wait for its next request), a cap on open connections, a cap per client address, and a
//! graceful shutdown that waits a bounded time for requests in flight.
//!
//! Without a timer hyper never enforces its header read timeout, and `axum::serve` sets
//! none: 2,672 clients sending one header byte a second held their connections forever,
//! and at about 20,000 the process ran out of file descriptors.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// A client must send a request's whole header within this time after the connection
    /// opens or after its previous response; otherwise the connection is closed.
    pub header_timeout: Duration,
    /// Connections open at once; beyond it new ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Connections open at once from one client address (a trusted proxy is exempt).
    pub max_per_client: usize,
    /// How long a shutdown waits for requests in flight before it closes their connections.
    pub grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets
/// requests in flight finish for at most `limits.grace`, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    exempt: impl Fn(IpAddr) -> bool + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_client = PerClient::new(limits.max_per_client.max(1), exempt);
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_client.enter(peer.ip()) else {
            tracing::debug!(%peer, "too many connections from one address: closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            // What `into_make_service_with_connect_info` would insert: the rate limits
            // and the proxy check read the peer from it.
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended");
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = limits.grace.as_secs_f64(),
            "requests still running after the grace period are cut off"
        );
    }
}

/// An accept error: a connection the client already gave up is skipped; running out of
/// file descriptors (or anything else) waits a moment so that open connections can close.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Open connections per client address.
struct PerClient<F> {
    limit: usize,
    exempt: F,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl<F: Fn(IpAddr) -> bool> PerClient<F> {
    fn new(limit: usize, exempt: F) -> Self {
        Self {
            limit,
            exempt,
            open: Arc::default(),
        }
    }

    /// A slot for one more connection from `ip`, or `None` at its limit.
    fn enter(&self, ip: IpAddr) -> Option<ClientSlot> {
        let ip = ip.to_canonical();
        if (self.exempt)(ip) {
            return Some(ClientSlot { ip, open: None });
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            ip,
            open: Some(self.open.clone()),
        })
    }
}

/// One connection's place in its address's count, given back on drop.
struct ClientSlot {
    ip: IpAddr,
    open: Option<Arc<Mutex<HashMap<IpAddr, usize>>>>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some(open) = &self.open else { return };
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PerClient;
    use std::net::IpAddr;

    #[test]
    fn a_client_gets_its_limit_of_slots_and_a_closed_one_back() {
        let limit = PerClient::new(2, |ip: IpAddr| ip.to_string() == "10.0.0.9");
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let first = limit.enter(ip).expect("first");
        let _second = limit.enter(ip).expect("second");
        assert!(limit.enter(ip).is_none(), "a third is refused");
        assert!(limit.enter("10.0.0.2".parse().unwrap()).is_some());
        drop(first);
        assert!(
            limit.enter(ip).is_some(),
            "a closed connection frees its slot"
        );
        let proxy: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| limit.enter(proxy)).collect();
        assert!(
            held.iter().all(Option::is_some),
            "a trusted proxy is exempt"
        );
    }
}
