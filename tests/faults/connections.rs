//! Slow clients and a database that stops answering: headers sent a byte at a time are
//! cut off, one address cannot hold every connection, a slow but steady upload still
//! succeeds while a stalled one is cut off, a request past its deadline answers 503, and a
//! PostgreSQL outage answers 503 fast and heals by itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::Executor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::assert_nothing_lost;
use crate::helpers::{
    Backend, TestApp, postgres_address, postgres_available, predictions_csv, spawn_app_with,
};

fn socket_address(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// A client that sends a request header one byte every 200 ms; returns how long the
/// server kept the connection open (it never finishes the header).
async fn slow_header(server: SocketAddr) -> Duration {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect(server).await else {
        return started.elapsed();
    };
    let header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut byte = [0u8; 1];
    for b in header.iter().cycle().take(300) {
        if stream.write_all(&[*b]).await.is_err() {
            break;
        }
        // A closed connection reads as end of file (or an error) at once.
        let answered =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut byte)).await;
        if let Ok(Ok(0) | Err(_)) = answered {
            break;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sending_headers_a_byte_at_a_time_are_cut_off_and_starve_nobody() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.header_timeout_seconds = 1;
        c.max_connections_per_client = 8;
    })
    .await;
    let server = socket_address(&app);
    let slow: Vec<_> = (0..40).map(|_| tokio::spawn(slow_header(server))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // An honest client from another address is served at once meanwhile.
    let honest = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let started = Instant::now();
    let response = honest.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the honest request took {:?}",
        started.elapsed()
    );

    for client in slow {
        let open = client.await.unwrap();
        // 1 s of header timeout; the 32 beyond the address's 8 connections are closed
        // at once. 300 bytes at 200 ms would be a minute.
        assert!(
            open < Duration::from_secs(4),
            "a slow client held on for {open:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_steady_upload_succeeds_and_a_stalled_one_is_cut_off() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.request_timeout_seconds = 1;
        c.body_idle_seconds = 1;
    })
    .await;
    let token = app.participant("vic").await;
    let upload = |pause: Duration, chunks: usize| {
        let csv = predictions_csv(0.8).into_bytes();
        let size = csv.len().div_ceil(chunks);
        let pieces: Vec<Vec<u8>> = csv.chunks(size).map(<[u8]>::to_vec).collect();
        let body = futures_util::stream::unfold(pieces.into_iter(), move |mut rest| async move {
            let piece = rest.next()?;
            tokio::time::sleep(pause).await;
            Some((Ok::<_, std::io::Error>(piece), rest))
        });
        let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(body))
            .file_name("predictions.csv");
        let form = reqwest::multipart::Form::new()
            .text("method", "slow")
            .part("file", part);
        app.client
            .post(app.url("/api/v1/submissions"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    // Ten pieces 400 ms apart: 4 s in all, past the 1 s request timeout, never idle 1 s.
    let steady = upload(Duration::from_millis(400), 10).await.unwrap();
    assert_eq!(steady.status(), 202, "{}", steady.text().await.unwrap());
    let id = steady.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    // Two pieces 2.5 s apart: idle past the 1 s limit.
    let stalled = upload(Duration::from_millis(2500), 2).await;
    if let Ok(response) = stalled {
        assert_eq!(response.status(), 408);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("stopped sending"),
            "{body}"
        );
    }
    assert_eq!(app.wait_done(&token, id).await["status"], "scored");
    let rows: i64 = sqlx::query_scalar("select count(*) from submissions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1, "the stalled upload left a row");
    assert_nothing_lost(&app.state, &[id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_answers_503_with_a_reason() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.request_timeout_seconds = 1).await;
    let token = app.participant("wes").await;
    let id = app.submit(&token, &predictions_csv(0.6), "once").await;
    app.wait_done(&token, id).await;
    // Another writer holds SQLite's write lock, so a rescore's enqueue waits for it (up to
    // the 30 s busy timeout), and the request deadline answers first.
    let mut lock = app.state.db.pool().acquire().await.unwrap();
    lock.execute("begin immediate").await.unwrap();
    let started = Instant::now();
    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/submissions/{id}/rescore")))
        .bearer_auth(&app.organizer_token)
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    lock.execute("rollback").await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("too long"),
        "{body}"
    );
    assert!(took < Duration::from_secs(3), "the deadline took {took:?}");
}

/// A TCP proxy in front of PostgreSQL that the test can take down (every connection cut,
/// new ones refused) and bring back.
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(generation);
        let (accepting, cuts) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue;
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            address,
            up,
            generation,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_fast_and_heals_by_itself() {
    if !postgres_available().await {
        return;
    }
    // The proxy goes between the app and the tests' PostgreSQL.
    let server = postgres_address();
    let proxy = Proxy::start(server.parse().expect("a numeric host:port")).await;
    let through = proxy.address.to_string();
    let app = spawn_app_with(Backend::Postgres, |c| {
        c.database_timeout_seconds = 2;
        let url = c.db.database.take().unwrap();
        c.db.database = Some(url.replace(&server, &through));
    })
    .await;
    let token = app.participant("xia").await;
    let before = app.submit(&token, &predictions_csv(0.7), "before").await;
    app.wait_done(&token, before).await;

    proxy.down();
    for path in ["/healthz", "/api/v1/leaderboard", "/api/v1/me"] {
        let started = Instant::now();
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), 503, "{path} during the outage");
        assert!(response.headers().contains_key("retry-after"), "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("database is not answering"),
            "{path}: {body}"
        );
        assert!(
            took < Duration::from_secs(4),
            "{path} took {took:?} to fail"
        );
    }

    proxy.restore();
    let started = Instant::now();
    loop {
        let status = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no recovery: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = app.submit(&token, &predictions_csv(0.7), "after").await;
    assert_eq!(app.wait_done(&token, after).await["status"], "scored");
    assert_nothing_lost(&app.state, &[before, after]).await;
}
