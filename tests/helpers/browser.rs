//! A browser without JavaScript, as the page tests drive one: it keeps cookies, does not
//! follow redirects, and reads each page's CSRF token.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use super::TestApp;

/// A cookie-keeping client that does not follow redirects.
pub struct Browser<'a> {
    app: &'a TestApp,
    /// The HTTP client (no redirects followed, no cookie store).
    pub client: reqwest::Client,
    /// The cookies the server set, by name.
    pub cookies: HashMap<String, String>,
    /// The CSRF token of the last page's forms (a signed-in session's own token).
    page_csrf: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            client,
            cookies: HashMap::new(),
            page_csrf: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status();
        let page = response.text().await.unwrap();
        let field = "name=\"csrf\" value=\"";
        self.page_csrf = page.find(field).map(|at| {
            page[at + field.len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect()
        });
        (status, page)
    }

    /// The token of the last page's forms, else the double-submit cookie's.
    pub fn csrf(&self) -> String {
        self.page_csrf
            .clone()
            .or_else(|| self.cookies.get("tb_csrf").cloned())
            .expect("a CSRF token")
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    pub async fn upload(&mut self, csv: &str, method: &str, csrf: &str) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                    .file_name("predictions.csv"),
            )
            .text("method", method.to_owned());
        let response = self
            .client
            .post(self.app.url("/submit"))
            .header("cookie", self.cookie_header())
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    pub async fn sign_up(&mut self, name: &str) {
        self.get("/signup").await;
        let csrf = self.csrf();
        let response = self
            .post_form(
                "/signup",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(self.cookies.contains_key("tb_session"));
        // As a browser does: the next page carries the new session's token.
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        self.get(&location).await;
    }
}
