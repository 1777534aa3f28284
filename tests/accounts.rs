//! Accounts over real HTTP (EVALUATION.md 5.4): the three sign-up modes, organizers
//! admitting accounts, rate limits per address and per account, log-in that takes as long
//! for an unknown name as for a known one, names unique without case, CSRF tokens bound to
//! their session, and forwarded headers believed from a trusted proxy only.

mod helpers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helpers::{Backend, TestApp, predictions_csv, spawn_app_signup, spawn_app_with};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use serde_json::Value;
use triageboard::accounts::{create_user_with_token, new_token, token_hash};
use triageboard::config::SignupMode;
use triageboard::db::tokens;
use triageboard::db::users::Role;
use triageboard::web::limits;

on_both_databases!(
    open_sign_up_gives_an_account_that_is_signed_in_at_once,
    an_account_waits_for_approval_then_logs_in_and_submits_or_is_refused,
    closed_sign_up_explains_who_creates_accounts_and_refuses_the_form,
    sign_up_and_log_in_are_limited_per_client_address,
    log_in_is_limited_per_account_name_whether_or_not_it_exists,
    an_unknown_name_takes_as_long_to_refuse_as_a_known_one,
    user_names_are_unique_and_found_without_regard_to_case,
    a_csrf_token_from_another_session_is_refused,
    forwarded_headers_count_only_from_a_trusted_proxy,
);

const PASSWORD: &str = "correct horse battery";

/// A cookie-keeping client that does not follow redirects and reads each page's CSRF
/// token from its forms, as a browser does.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    page_csrf: Option<String>,
    /// Extra headers sent with every request (a proxy's forwarded headers).
    headers: Vec<(&'static str, String)>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            client,
            cookies: HashMap::new(),
            page_csrf: None,
            headers: Vec::new(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let cookies = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = self
            .client
            .request(method, self.app.url(path))
            .header("cookie", cookies);
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status();
        let page = response.text().await.unwrap();
        self.page_csrf = form_token(&page);
        (status, page)
    }

    /// The token of the last page's forms, else the double-submit cookie's.
    fn csrf(&self) -> String {
        self.page_csrf
            .clone()
            .or_else(|| self.cookies.get("tb_csrf").cloned())
            .expect("a CSRF token")
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .request(reqwest::Method::POST, path)
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Posts the sign-up or log-in form with a fresh token from its page.
    async fn credentials(&mut self, path: &str, name: &str, password: &str) -> reqwest::Response {
        self.get(path).await;
        let csrf = self.csrf();
        self.post(
            path,
            &[("csrf", &csrf), ("name", name), ("password", password)],
        )
        .await
    }
}

fn form_token(page: &str) -> Option<String> {
    let start = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[start..].chars().take_while(|c| *c != '"').collect())
}

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A participant with a password, created the way `triageboard user add` does (active).
async fn user_with_password(app: &TestApp, name: &str) -> String {
    create_user_with_token(&app.state.db, name, Role::Participant, Some(PASSWORD))
        .await
        .unwrap()
}

async fn accounts(app: &TestApp, status: &str) -> Vec<Value> {
    let (code, body) = app
        .get_json(
            &format!("/api/v1/admin/accounts?status={status}"),
            Some(&app.organizer_token),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn id_of(accounts: &[Value], name: &str) -> i64 {
    accounts
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["id"].as_i64())
        .unwrap_or_else(|| panic!("no account {name} in {accounts:?}"))
}

async fn open_sign_up_gives_an_account_that_is_signed_in_at_once(backend: Backend) {
    let app = spawn_app_signup(backend, SignupMode::Open).await;
    let mut browser = Browser::new(&app);
    let (_, page) = browser.get("/signup").await;
    assert!(!page.contains("approval"), "{page}");
    let response = browser.credentials("/signup", "olive", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.cookies.contains_key("tb_session"));
    let (status, page) = browser.get("/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains("Log out olive"));
    let active = accounts(&app, "active").await;
    assert_eq!(
        id_of(&active, "olive"),
        id_of(&accounts(&app, "").await, "olive")
    );
}

async fn an_account_waits_for_approval_then_logs_in_and_submits_or_is_refused(backend: Backend) {
    // With a test set and no flag, sign-up asks for approval.
    let app = helpers::spawn_app(backend).await;
    let mut browser = Browser::new(&app);
    let (_, page) = browser.get("/signup").await;
    assert!(
        page.contains("once an organizer has approved yours"),
        "{page}"
    );
    let response = browser.credentials("/signup", "paula", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(!browser.cookies.contains_key("tb_session"));
    let page = text(response).await;
    assert!(
        page.contains("An organizer must approve the account paula"),
        "{page}"
    );

    // A guesser learns nothing: a wrong password reads as for any name.
    let response = browser
        .credentials("/login", "paula", "not the password")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("Wrong user name or password"));
    let response = browser.credentials("/login", "paula", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("tb_session"));
    assert!(
        text(response)
            .await
            .contains("not approved this account yet")
    );

    // Its tokens do nothing while it waits (one is planted: the pages give none).
    let pending = accounts(&app, "pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["status"], "pending");
    let id = id_of(&pending, "paula");
    let token = new_token().unwrap();
    tokens::insert_token(app.state.db.pool(), id, "planted", &token_hash(&token), 0)
        .await
        .unwrap();
    let (status, _) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(status, 401);
    let response = app
        .upload(&token, "p.csv", predictions_csv(1.0).into_bytes(), &[])
        .await;
    assert_eq!(response.status(), 401);

    // Only organizers decide.
    let participant = app.participant("quentin").await;
    let (status, _) = app
        .get_json("/api/v1/admin/accounts?status=pending", Some(&participant))
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .get_json(
            "/api/v1/admin/accounts?status=waiting",
            Some(&app.organizer_token),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("pending, active or refused")
    );

    let approved = app
        .client
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/approve")))
        .bearer_auth(&app.organizer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["status"], "active");
    assert!(accounts(&app, "pending").await.is_empty());
    let (status, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "paula");
    let submission = app.submit(&token, &predictions_csv(1.0), "approved").await;
    assert!(submission > 0);
    let response = browser.credentials("/login", "paula", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.cookies.contains_key("tb_session"));
    let refuse_active = app
        .client
        .post(app.url(&format!("/api/v1/admin/accounts/{id}/refuse")))
        .bearer_auth(&app.organizer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refuse_active.status(),
        400,
        "an active account stays active"
    );

    // An organizer refuses the next one on the accounts page.
    let mut newcomer = Browser::new(&app);
    let response = newcomer.credentials("/signup", "rupert", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    create_user_with_token(&app.state.db, "boss", Role::Organizer, Some(PASSWORD))
        .await
        .unwrap();
    let mut organizer = Browser::new(&app);
    let response = organizer.credentials("/login", "boss", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list) = organizer.get("/organizer").await;
    assert!(list.contains("href=\"/organizer/accounts\""));
    let (status, page) = organizer.get("/organizer/accounts").await;
    assert_eq!(status, 200);
    assert!(page.contains("rupert") && !page.contains("paula"), "{page}");
    let rupert = id_of(&accounts(&app, "pending").await, "rupert");
    let csrf = organizer.csrf();
    let response = organizer
        .post(
            &format!("/organizer/accounts/{rupert}/refuse"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(id_of(&accounts(&app, "refused").await, "rupert"), rupert);
    let response = newcomer.credentials("/login", "rupert", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        text(response)
            .await
            .contains("an organizer refused this account")
    );
    let (status, _) = browser.get("/organizer/accounts").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "participants are kept out");
}

async fn closed_sign_up_explains_who_creates_accounts_and_refuses_the_form(backend: Backend) {
    let app = spawn_app_signup(backend, SignupMode::Closed).await;
    let mut browser = Browser::new(&app);
    let (status, page) = browser.get("/signup").await;
    assert_eq!(status, 200);
    assert!(page.contains("triageboard user add"), "{page}");
    assert!(!page.contains("action=\"/signup\""), "no form to fill in");
    let csrf = browser.csrf();
    let response = browser
        .post(
            "/signup",
            &[("csrf", &csrf), ("name", "sneaky"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text(response).await.contains("created by its organizers"));
    let all = accounts(&app, "").await;
    assert!(all.iter().all(|a| a["name"] != "sneaky"), "{all:?}");

    // Organizers' accounts are active at once.
    user_with_password(&app, "tess").await;
    assert!(id_of(&accounts(&app, "active").await, "tess") > 0);
    let response = browser.credentials("/login", "tess", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// Posts `path` with a new name each time until it answers 429 (at most `max` times);
/// returns how many were let through, the 429, and how long it took.
async fn until_limited(
    browser: &mut Browser<'_>,
    path: &str,
    csrf: &str,
    max: u32,
) -> (u32, reqwest::Response, Duration) {
    let started = Instant::now();
    for i in 0..max {
        let name = format!("name{i}");
        let response = browser
            .post(
                path,
                &[("csrf", csrf), ("name", &name), ("password", PASSWORD)],
            )
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return (i, response, started.elapsed());
        }
        assert!(
            response.status().is_success() || response.status().is_client_error(),
            "{path} {i}: {}",
            response.status()
        );
    }
    panic!("{path} was never limited in {max} attempts");
}

/// True when `allowed` attempts fit a limit of `burst`, then one per `period`, over
/// `elapsed` (a slow machine earns a few more).
fn within(allowed: u32, burst: u32, period: Duration, elapsed: Duration) -> bool {
    let refills = (elapsed.as_secs_f64() / period.as_secs_f64()).ceil() as u32;
    (burst..=burst + refills).contains(&allowed)
}

async fn sign_up_and_log_in_are_limited_per_client_address(backend: Backend) {
    let app = spawn_app_signup(backend, SignupMode::Approval).await;
    let mut browser = Browser::new(&app);
    browser.get("/signup").await;
    let csrf = browser.csrf();
    // A forwarded address from an untrusted peer changes nothing.
    browser.headers = vec![("x-forwarded-for", "198.51.100.99".to_owned())];
    let (allowed, response, elapsed) = until_limited(&mut browser, "/signup", &csrf, 40).await;
    assert!(
        within(
            allowed,
            limits::SIGNUP_BURST,
            limits::SIGNUP_PERIOD,
            elapsed
        ),
        "{allowed} sign-ups in {elapsed:?}"
    );
    let wait = retry_after(&response);
    assert!(
        (1..=limits::SIGNUP_PERIOD.as_secs()).contains(&wait),
        "{wait}"
    );
    let page = text(response).await;
    assert!(
        page.contains(&format!("Try again in {wait} seconds")),
        "{page}"
    );
    assert_eq!(accounts(&app, "pending").await.len(), allowed as usize);

    // Log-in has its own budget; pages and the token-less API stay open meanwhile.
    let (status, _) = browser.get("/signup").await;
    assert_eq!(status, 200);
    let (allowed, response, elapsed) = until_limited(&mut browser, "/login", &csrf, 80).await;
    assert!(
        within(allowed, limits::LOGIN_BURST, limits::LOGIN_PERIOD, elapsed),
        "{allowed} log-ins in {elapsed:?}"
    );
    assert!(retry_after(&response) >= 1);
    let (status, _) = app.get_json("/api/v1/leaderboard", None).await;
    assert_eq!(status, 200);

    // Behind a trusted proxy each forwarded client has its own budget.
    let app = spawn_app_with(backend, |c| {
        c.signup = Some(SignupMode::Approval);
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let mut proxied = Browser::new(&app);
    proxied.headers = vec![("x-forwarded-for", "198.51.100.1".to_owned())];
    proxied.get("/login").await;
    let csrf = proxied.csrf();
    let (allowed, _, elapsed) = until_limited(&mut proxied, "/login", &csrf, 80).await;
    assert!(within(
        allowed,
        limits::LOGIN_BURST,
        limits::LOGIN_PERIOD,
        elapsed
    ));
    proxied.headers = vec![("x-forwarded-for", "198.51.100.2".to_owned())];
    let response = proxied
        .post(
            "/login",
            &[("csrf", &csrf), ("name", "other"), ("password", "guess")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn log_in_is_limited_per_account_name_whether_or_not_it_exists(backend: Backend) {
    let app = spawn_app_signup(backend, SignupMode::Open).await;
    user_with_password(&app, "victim").await;
    let mut browser = Browser::new(&app);
    browser.get("/login").await;
    let csrf = browser.csrf();
    for name in ["victim", "ghost"] {
        for i in 0..limits::ACCOUNT_BURST {
            let response = browser
                .post(
                    "/login",
                    &[("csrf", &csrf), ("name", name), ("password", "guess")],
                )
                .await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name} {i}");
        }
        // Another case of the same name is the same account.
        let shouted = name.to_uppercase();
        let response = browser
            .post(
                "/login",
                &[("csrf", &csrf), ("name", &shouted), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        let wait = retry_after(&response);
        assert!(
            (1..=limits::ACCOUNT_PERIOD.as_secs()).contains(&wait),
            "{wait}"
        );
        assert!(text(response).await.contains("this account name"));
    }
    user_with_password(&app, "bystander").await;
    let response = browser
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("name", "bystander"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "other names log in"
    );
}

/// The fastest of some timings: other tests share the CPU and only ever add time, so the
/// minimum is the timing least disturbed by them (a median flaked under a full run).
fn fastest(times: &[Duration]) -> Duration {
    times.iter().copied().min().expect("some timings")
}

async fn an_unknown_name_takes_as_long_to_refuse_as_a_known_one(backend: Backend) {
    const TRIES: usize = 20;
    // Each try from its own forwarded address and each known try on its own account, so
    // that no rate limit answers (a 429 is fast).
    let app = spawn_app_with(backend, |c| {
        c.signup = Some(SignupMode::Open);
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for i in 0..TRIES {
        user_with_password(&app, &format!("known{i}")).await;
    }
    let mut browser = Browser::new(&app);
    browser.get("/login").await;
    let csrf = browser.csrf();
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..TRIES {
        for (prefix, times) in [("known", &mut known), ("nobody", &mut unknown)] {
            let name = format!("{prefix}{i}");
            let network = if prefix == "known" {
                "198.51.100"
            } else {
                "203.0.113"
            };
            browser.headers = vec![("x-forwarded-for", format!("{network}.{i}"))];
            let started = Instant::now();
            let response = browser
                .post(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("name", &name),
                        ("password", "wrong guess"),
                    ],
                )
                .await;
            let elapsed = started.elapsed();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
            times.push(elapsed);
        }
    }
    // Skipping argon2 for unknown names made this ratio 0.02 (the attack saw 0.04). With
    // both paths equal and five copies of this binary sharing two cores, ten tries each
    // gave ratios from 0.33 to 2.5; twenty tries and a factor of 4 either way passed
    // every such run and still catch the leak by a wide margin.
    let ratio = fastest(&unknown).as_secs_f64() / fastest(&known).as_secs_f64();
    assert!(
        (0.25..=4.0).contains(&ratio),
        "unknown {unknown:?} vs known {known:?}: fastest ratio {ratio:.2}"
    );
}

async fn user_names_are_unique_and_found_without_regard_to_case(backend: Backend) {
    let app = spawn_app_signup(backend, SignupMode::Open).await;
    let mut browser = Browser::new(&app);
    let response = browser.credentials("/signup", "alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mut other = Browser::new(&app);
    let response = other
        .credentials("/signup", "Alice", "another password")
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(text(response).await.contains("That user name is taken"));
    let err = create_user_with_token(&app.state.db, "ALICE", Role::Participant, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");

    let response = other.credentials("/login", "ALICE", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, page) = other.get("/settings").await;
    assert!(page.contains("Log out alice"), "the stored name is kept");

    // The service's own accounts: a participant who took `reference-models` before the
    // baselines ran would own them.
    for reserved in ["reference-models", "Organizer"] {
        let mut squatter = Browser::new(&app);
        let response = squatter.credentials("/signup", reserved, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{reserved}");
        assert!(text(response).await.contains("reserved"), "{reserved}");
    }
}

async fn a_csrf_token_from_another_session_is_refused(backend: Backend) {
    let app = spawn_app_signup(backend, SignupMode::Open).await;
    let mut alice = Browser::new(&app);
    alice.get("/login").await;
    let anonymous = alice.csrf();
    alice.credentials("/signup", "alice", PASSWORD).await;
    let (_, _) = alice.get("/settings").await;
    let alices = alice.csrf();
    assert_ne!(alices, anonymous, "a new session brings a new token");
    let mut bob = Browser::new(&app);
    bob.credentials("/signup", "bob", PASSWORD).await;
    bob.get("/settings").await;
    let bobs = bob.csrf();
    assert_ne!(alices, bobs);

    let response = bob
        .post("/settings/tokens", &[("csrf", &alices), ("name", "stolen")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Not even with a matching double-submit cookie: a session's token is its own.
    bob.cookies.insert("tb_csrf".to_owned(), alices.clone());
    let response = bob
        .post("/settings/tokens", &[("csrf", &alices), ("name", "stolen")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = bob
        .post("/settings/tokens", &[("csrf", &bobs), ("name", "mine")])
        .await;
    // Created: on to the settings page that shows it once.
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // After logging out and in again the old token is dead too.
    let response = alice.post("/logout", &[("csrf", &alices)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = alice.credentials("/login", "alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = alice
        .post("/settings/tokens", &[("csrf", &alices), ("name", "old")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

fn secure_cookies(response: &reqwest::Response) -> Vec<bool> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().contains("; Secure"))
        .collect()
}

async fn forwarded_headers_count_only_from_a_trusted_proxy(backend: Backend) {
    let spoofed = [("x-forwarded-proto", "https".to_owned())];
    let app = spawn_app_signup(backend, SignupMode::Open).await;
    let mut direct = Browser::new(&app);
    direct.headers = spoofed.to_vec();
    let response = direct
        .request(reqwest::Method::GET, "/login")
        .send()
        .await
        .unwrap();
    assert_eq!(secure_cookies(&response), vec![false]);
    assert!(!response.headers().contains_key("strict-transport-security"));
    let response = direct.credentials("/signup", "plain", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(secure_cookies(&response), vec![false]);
    let (_, api) = direct.get("/api").await;
    assert!(
        api.contains("--server http://"),
        "the API page names the real scheme"
    );

    let app = spawn_app_with(backend, |c| {
        c.signup = Some(SignupMode::Open);
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let mut proxied = Browser::new(&app);
    proxied.headers = spoofed.to_vec();
    let response = proxied
        .request(reqwest::Method::GET, "/login")
        .send()
        .await
        .unwrap();
    assert_eq!(secure_cookies(&response), vec![true]);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let response = proxied.credentials("/signup", "proxied", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/submit");
    assert_eq!(secure_cookies(&response), vec![true]);
    let (_, api) = proxied.get("/api").await;
    assert!(api.contains("--server https://"), "{api}");
    // The same proxy forwarding plain http: no HSTS, no Secure.
    let mut plain = Browser::new(&app);
    plain.headers = vec![("x-forwarded-proto", "http".to_owned())];
    let response = plain
        .request(reqwest::Method::GET, "/login")
        .send()
        .await
        .unwrap();
    assert_eq!(secure_cookies(&response), vec![false]);
    assert!(!response.headers().contains_key("strict-transport-security"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_account_endpoints() {
    let app = helpers::spawn_app(Backend::Sqlite).await;
    let (status, doc) = app.get_json("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];
    let list = &paths["/api/v1/admin/accounts"]["get"];
    assert_eq!(list["parameters"][0]["name"], "status", "{list}");
    for path in [
        "/api/v1/admin/accounts/{id}/approve",
        "/api/v1/admin/accounts/{id}/refuse",
    ] {
        assert!(paths[path]["post"].is_object(), "{path} is missing");
    }
    let status = &doc["components"]["schemas"]["AccountStatus"];
    assert_eq!(
        status["enum"],
        serde_json::json!(["active", "pending", "refused"])
    );
}
