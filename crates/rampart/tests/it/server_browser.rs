//! A server's page in real headless Chromium against real Docker: the
//! console connects over the WebSocket, shows the history, sends a typed
//! command and shows its output (with ANSI colours as classes, never as
//! markup); the graphs draw; power buttons work; no CSP violation.

use std::time::Duration;

use fantoccini::Locator;
use rampart_testkit::webdriver::{start_browser, wait_for};
use serde_json::json;

use crate::server_rig::Rig;

/// The element's text, or `None` while the page is (re)loading.
async fn text(c: &fantoccini::Client, id: &str) -> Option<String> {
    c.find(Locator::Id(id)).await.ok()?.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_page_runs_a_live_console_in_chromium() {
    let Some(rig) = Rig::new().await else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    rig.import_template(json!({
        "id": "test-shell", "name": "Test shell", "image": rig.image,
        "startup": "sh", "stop": {"command": "exit", "timeout_secs": 5}
    }))
    .await;
    let token = rig.admin_token.clone();
    let id = rig
        .create(
            &token,
            json!({"name": "In the browser", "template_id": "test-shell"}),
        )
        .await;
    rig.wait_state(&id, "offline", Duration::from_secs(60))
        .await;

    // Signed in as the admin through the login form.
    let c = &browser.client;
    browser
        .sign_in(&rig.panel.url, "ada", rampart_testkit::GOOD_PASSWORD)
        .await;

    c.goto(&format!("{}/servers", rig.panel.url)).await.unwrap();
    c.find(Locator::LinkText("In the browser"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("console")).await.unwrap();
    // Start with the page's own button; the badge follows the socket.
    c.find(Locator::Css("button[data-power=start]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        async || text(c, "server-state").await.as_deref() == Some("running"),
        "the running badge",
    )
    .await;
    wait_for(
        async || text(c, "console-status").await.as_deref() == Some("Connected."),
        "the console to connect",
    )
    .await;

    let input = c.find(Locator::Id("console-command")).await.unwrap();
    input
        .send_keys("printf '\\033[31mred-%s\\033[0m <b>x</b>\\n' $((40+2))\u{E007}")
        .await
        .unwrap();
    wait_for(
        async || {
            text(c, "console")
                .await
                .unwrap_or_default()
                .contains("red-42 <b>x</b>")
        },
        "the command's output",
    )
    .await;
    let red = c
        .find(Locator::Css("#console span.ansi-red"))
        .await
        .unwrap();
    assert_eq!(
        red.text().await.unwrap(),
        "red-42",
        "ANSI red became a class"
    );
    assert!(
        c.find_all(Locator::Css("#console b"))
            .await
            .unwrap()
            .is_empty(),
        "output is text, never markup"
    );
    // Command history: arrow up brings the last command back.
    input.send_keys("\u{E013}").await.unwrap();
    assert!(
        input
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
            .starts_with("printf")
    );

    wait_for(
        async || {
            let points = c
                .find(Locator::Css("#mem-graph polyline"))
                .await
                .unwrap()
                .attr("points")
                .await
                .unwrap()
                .unwrap_or_default();
            !points.is_empty()
        },
        "the memory graph",
    )
    .await;

    let problems = browser.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    browser.close().await;
    assert_eq!(rig.power(&token, &id, "kill").await, 202);
    rig.wait_state(&id, "offline", Duration::from_secs(30))
        .await;
}
