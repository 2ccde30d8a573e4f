//! Headless Chromium through Debian's `chromedriver` (WebDriver), for UI
//! tests in a real browser. Missing driver: the test is skipped with a
//! message, or fails under `RAMPART_REQUIRE_BROWSER=1`.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub struct Browser {
    pub client: Client,
    _driver: Child,
    _watchdog: crate::Watchdog,
}

fn find_driver() -> Option<String> {
    for candidate in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if std::path::Path::new(candidate).exists() {
            return Some(candidate.to_owned());
        }
    }
    None
}

/// Starts chromedriver and a headless Chromium session, or `None` (skip).
pub async fn start_browser() -> Option<Browser> {
    let Some(driver) = find_driver() else {
        crate::skip_or_fail(
            "RAMPART_REQUIRE_BROWSER",
            "chromedriver (Debian: chromium-driver)",
        );
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1200,900"]
        },
        "goog:loggingPrefs": { "browser": "ALL" }
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let mut last_err = String::new();
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    _driver: child,
                    _watchdog: crate::Watchdog::new("a browser test", Duration::from_secs(300)),
                });
            }
            Err(e) => last_err = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start a session: {last_err}");
}

/// chromedriver's log endpoint (`POST /session/{id}/se/log`).
#[derive(Debug)]
struct GetLog;

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    /// Browser console entries since the last call (each has `level`, `message`).
    pub async fn console_log(&self) -> Vec<Value> {
        match self.client.issue_cmd(GetLog).await {
            Ok(Value::Array(entries)) => entries,
            Ok(other) => panic!("unexpected log answer: {other}"),
            Err(e) => panic!("reading the browser log failed: {e}"),
        }
    }

    /// Console entries since the last call that are errors or refusals
    /// (a CSP violation, a blocked resource): a page should have none.
    pub async fn console_problems(&self) -> Vec<Value> {
        self.console_log()
            .await
            .into_iter()
            .filter(|e| {
                let msg = e["message"].as_str().unwrap_or("");
                e["level"] == "SEVERE"
                    || msg.contains("Content Security Policy")
                    || msg.contains("Refused to")
            })
            .collect()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

impl Browser {
    /// Signs in through the panel's login form at `base` and waits for
    /// the signed-in page.
    pub async fn sign_in(&self, base: &str, username: &str, password: &str) {
        use fantoccini::Locator;
        let c = &self.client;
        c.goto(&format!("{base}/login")).await.expect("login page");
        for (id, value) in [("username", username), ("password", password)] {
            c.find(Locator::Id(id))
                .await
                .expect("login field")
                .send_keys(value)
                .await
                .expect("typing");
        }
        c.find(Locator::Css("button.primary"))
            .await
            .expect("sign-in button")
            .click()
            .await
            .expect("click");
        c.wait()
            .for_element(Locator::Css("nav"))
            .await
            .expect("signed in");
    }
}

/// Polls `check` every 100 ms until it holds; fails after 30 s naming `what`.
pub async fn wait_for(mut check: impl AsyncFnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
