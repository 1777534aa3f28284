//! The whole path of a new participant in a real headless Chromium (Debian's chromium and
//! chromium-driver, driven over WebDriver): sign up, upload through the form (the page's
//! script sends it with a progress bar), watch the status change live to "scored", and
//! mark it final and find the entry on the board.
//!
//! Skipped with a printed reason when `/usr/bin/chromedriver` is missing, except under CI,
//! where it must run.

mod helpers;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use helpers::{Backend, predictions_csv, spawn_app_signup};
use triageboard::config::SignupMode;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_signs_up_uploads_in_the_browser_and_finds_the_entry_on_the_board() {
    if !std::path::Path::new(CHROMEDRIVER).exists() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{CHROMEDRIVER} is required under CI (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "skipping the browser test: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let app = spawn_app_signup(Backend::Sqlite, SignupMode::Open).await;
    let csv = app.dir.path().join("predictions.csv");
    std::fs::write(&csv, predictions_csv(1.0)).unwrap();

    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver"),
    );
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let browser = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await
        {
            Ok(client) => break client,
            Err(err) if started.elapsed() < Duration::from_secs(20) => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("connecting to chromedriver: {err}"),
        }
    };

    let result = async {
        browser.goto(&app.url("/signup")).await?;
        browser
            .find(Locator::Id("name"))
            .await?
            .send_keys("browser-user")
            .await?;
        browser
            .find(Locator::Id("password"))
            .await?
            .send_keys("a long password")
            .await?;
        browser
            .find(Locator::Css("form.card button[type=submit]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Id("upload-form"))
            .await?;
        assert!(browser.current_url().await?.path().ends_with("/submit"));

        browser
            .find(Locator::Id("file"))
            .await?
            .send_keys(csv.to_str().unwrap())
            .await?;
        browser
            .find(Locator::Id("method"))
            .await?
            .send_keys("Chromium upload")
            .await?;
        browser
            .find(Locator::Css("#upload-form button[type=submit]"))
            .await?
            .click()
            .await?;

        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // The page reloads itself when scoring ends: an element may go stale meanwhile.
            if let Ok(status) = browser.find(Locator::Id("status")).await
                && status.text().await.is_ok_and(|text| text == "scored")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the submission page never showed \"scored\""
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let page = browser.source().await?;
        assert!(page.contains("AUC vs all"));

        // Mark it final: it then enters the main board.
        browser
            .find(Locator::Css("form.final-form button[type=submit]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::XPath("//th[contains(., 'Final: private split')]"))
            .await?;

        browser.goto(&app.url("/")).await?;
        let board = browser
            .find(Locator::Css("table.board"))
            .await?
            .text()
            .await?;
        assert!(board.contains("Chromium upload"), "{board}");
        assert!(board.contains("browser-user"), "{board}");

        // Revoking a token asks first: dismissed, the token stays; accepted, it goes.
        browser.goto(&app.url("/settings")).await?;
        browser
            .find(Locator::Id("token-name"))
            .await?
            .send_keys("ci")
            .await?;
        browser
            .find(Locator::Css("form[action='/settings/tokens'] button"))
            .await?
            .click()
            .await?;
        let revoke = "form[data-confirm] button";
        browser.wait().for_element(Locator::Css(revoke)).await?;
        browser.find(Locator::Css(revoke)).await?.click().await?;
        let question = browser.get_alert_text().await?;
        assert!(question.contains("Revoke this token"), "{question}");
        browser.dismiss_alert().await?;
        assert!(
            browser.find(Locator::Css(revoke)).await.is_ok(),
            "dismissed: the token is still live"
        );
        browser.find(Locator::Css(revoke)).await?.click().await?;
        browser.accept_alert().await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.find(Locator::Css(revoke)).await.is_ok() {
            assert!(Instant::now() < deadline, "the token was not revoked");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser session");
}
