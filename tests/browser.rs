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

/// Whether the browser tests can run here; under CI they must.
fn chromedriver_present() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{CHROMEDRIVER} is required under CI (apt-get install chromium chromium-driver)");
    }
    eprintln!(
        "skipping the browser test: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    false
}

/// A headless Chromium session; `javascript: false` blocks every page's scripts.
async fn chromium(javascript: bool) -> (Driver, fantoccini::Client) {
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver"),
    );
    let mut options = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    });
    if !javascript {
        options["prefs"] =
            serde_json::json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    let webdriver = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await
        {
            Ok(client) => return (driver, client),
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("connecting to chromedriver: {err}"),
        }
    }
}

/// Signs up in the browser and lands on the upload page.
async fn sign_up(
    browser: &fantoccini::Client,
    app: &helpers::TestApp,
    name: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&app.url("/signup")).await?;
    browser
        .find(Locator::Id("name"))
        .await?
        .send_keys(name)
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
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_signs_up_uploads_in_the_browser_and_finds_the_entry_on_the_board() {
    if !chromedriver_present() {
        return;
    }
    let app = spawn_app_signup(Backend::Sqlite, SignupMode::Open).await;
    let csv = app.dir.path().join("predictions.csv");
    std::fs::write(&csv, predictions_csv(1.0)).unwrap();
    let (_driver, browser) = chromium(true).await;

    let result = async {
        sign_up(&browser, &app, "browser-user").await?;

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
        // A double click sends one upload: the first click disables the button.
        let disabled = browser
            .execute(
                "const b = document.querySelector('#upload-form button[type=submit]'); b.click(); b.click(); return b.disabled;",
                vec![],
            )
            .await?;
        assert_eq!(disabled, serde_json::json!(true));

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
        let (_, mine) = app
            .get_json("/api/v1/leaderboard?board=live&all=true", None)
            .await;
        assert_eq!(mine["rows"].as_array().map(Vec::len), Some(1), "{mine}");

        // On a laptop the table fits and says nothing; on a phone it scrolls sideways
        // under a hint, the method stays in view, and the plot keeps readable type.
        let layout = "return {
            hint: getComputedStyle(document.querySelector('.scroll-hint')).display,
            overflows: document.querySelector('.table-wrap').scrollWidth > document.querySelector('.table-wrap').clientWidth,
            sticky: getComputedStyle(document.querySelector('table.board td:nth-child(2)')).position,
            plot: document.querySelector('.plot').getBoundingClientRect().width,
        };";
        let laptop = browser.execute(layout, vec![]).await?;
        assert_eq!(laptop["hint"], "none", "{laptop}");
        browser.set_window_size(390, 844).await?;
        browser.refresh().await?;
        let phone = browser.execute(layout, vec![]).await?;
        assert_eq!(phone["hint"], "block", "{phone}");
        assert_eq!(phone["overflows"], true, "{phone}");
        assert_eq!(phone["sticky"], "sticky", "{phone}");
        assert!(phone["plot"].as_f64().unwrap_or(0.0) >= 600.0, "{phone}");
        browser.set_window_size(1280, 900).await?;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_a_waiting_submission_page_refreshes_itself() {
    if !chromedriver_present() {
        return;
    }
    // No worker at first: the submission waits until the test starts one.
    let app = helpers::spawn_app_with(Backend::Sqlite, |c| {
        c.signup = Some(SignupMode::Open);
        c.workers = 0;
    })
    .await;
    let csv = app.dir.path().join("predictions.csv");
    std::fs::write(&csv, predictions_csv(0.9)).unwrap();
    let (_driver, browser) = chromium(false).await;
    let result = async {
        sign_up(&browser, &app, "no-script").await?;
        browser
            .find(Locator::Id("file"))
            .await?
            .send_keys(csv.to_str().unwrap())
            .await?;
        browser
            .find(Locator::Id("method"))
            .await?
            .send_keys("Without a script")
            .await?;
        browser
            .find(Locator::Css("#upload-form button[type=submit]"))
            .await?
            .click()
            .await?;
        // The form posted without the script and the browser followed the redirect.
        browser.wait().for_element(Locator::Id("status")).await?;
        let status = browser.find(Locator::Id("status")).await?.text().await?;
        assert_eq!(status, "queued");
        // Scripts are off: the <noscript> note is rendered, the script's hint is not shown.
        let note = browser.find(Locator::Id("reload-note")).await?;
        assert!(
            note.text()
                .await?
                .contains("reloads itself every 5 seconds")
        );
        assert!(
            !browser
                .find(Locator::Id("live-hint"))
                .await?
                .is_displayed()
                .await?
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let workers = triageboard::startup::spawn_workers(&app.state, 1, &stop);
        // Only the page's <noscript> refresh (every 5 s) can show the new status.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(status) = browser.find(Locator::Id("status")).await
                && status.text().await.is_ok_and(|text| text == "scored")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the page without JavaScript never showed \"scored\""
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        stop.cancel();
        for worker in workers {
            let _ = worker.await;
        }
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser session");
}
