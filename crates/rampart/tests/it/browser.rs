//! The first-use story in real headless Chromium (WebDriver): open the
//! printed setup URL, create the admin, enrol in 2FA (the test reads the
//! secret off the page and computes the code, as an authenticator app
//! would), see the recovery codes, sign out, sign in with password and
//! code, see the dashboard; the console shows no CSP violation and no error.

use fantoccini::Locator;
use rampart_core::totp::step_of;
use rampart_core::{Clock, SystemClock, TotpSecret};
use rampart_testkit::webdriver::start_browser;
use rampart_testkit::{Binary, GOOD_PASSWORD};

use super::{STARTUP, exe, setup_url};

#[tokio::test]
async fn setup_enroll_2fa_logout_login_with_code_in_chromium() {
    let Some(browser) = start_browser().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut panel = Binary::start(
        exe(),
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    let url = setup_url(
        &panel
            .wait_stdout_line("Setup URL: ", STARTUP)
            .await
            .unwrap(),
    );
    let base = url.split("/setup").next().unwrap().to_owned();
    let c = &browser.client;

    c.goto(&url).await.unwrap();
    assert_eq!(
        c.title().await.unwrap(),
        "Create the first administrator · Rampart"
    );
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("ada")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(GOOD_PASSWORD)
        .await
        .unwrap();
    // The script's mismatch warning reacts to typing (proves app.js ran under the CSP).
    let confirm = c.find(Locator::Id("password_confirm")).await.unwrap();
    confirm.send_keys("different").await.unwrap();
    let warning = c.find(Locator::Css("[data-mismatch]")).await.unwrap();
    assert!(
        warning.is_displayed().await.unwrap(),
        "mismatch warning shown by app.js"
    );
    confirm.clear().await.unwrap();
    confirm.send_keys(GOOD_PASSWORD).await.unwrap();
    assert!(!warning.is_displayed().await.unwrap());
    c.find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Admins must enrol before anything else.
    c.wait()
        .for_element(Locator::Id("totp-secret"))
        .await
        .unwrap();
    assert_eq!(
        c.current_url().await.unwrap().as_str(),
        format!("{base}/account/security")
    );
    let secret_text = c
        .find(Locator::Id("totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(&secret_text).unwrap();
    let qr = c.find(Locator::Css(".qr svg")).await.unwrap();
    assert!(qr.is_displayed().await.unwrap(), "QR code rendered");
    let code = secret.code_at_step(step_of(SystemClock.now()));
    c.find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    c.find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(".recovery-code"))
        .await
        .unwrap();
    assert_eq!(
        c.find_all(Locator::Css(".recovery-code"))
            .await
            .unwrap()
            .len(),
        10
    );
    c.find(Locator::LinkText("Continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    c.wait()
        .for_element(Locator::XPath("//h1[text()='Dashboard']"))
        .await
        .unwrap();
    let who = c
        .find(Locator::Css(".who"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(who.contains("ada") && who.contains("admin"), "{who}");

    c.find(Locator::XPath("//button[text()='Sign out']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("login-title"))
        .await
        .unwrap();
    assert_eq!(
        c.current_url().await.unwrap().as_str(),
        format!("{base}/login")
    );

    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("ada")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(GOOD_PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("twofa-title"))
        .await
        .unwrap();
    // The step used to enrol is spent; the next one is within the allowed skew.
    let next = secret.code_at_step(step_of(SystemClock.now()) + 1);
    c.find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys(&next)
        .await
        .unwrap();
    c.find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::XPath("//h1[text()='Dashboard']"))
        .await
        .unwrap();

    // Narrow screen: the menu button opens the navigation.
    c.set_window_size(390, 800).await.unwrap();
    let toggle = c.find(Locator::Css(".nav-toggle")).await.unwrap();
    assert!(
        toggle.is_displayed().await.unwrap(),
        "menu button on a phone"
    );
    let sign_out = c
        .find(Locator::XPath("//button[text()='Sign out']"))
        .await
        .unwrap();
    assert!(!sign_out.is_displayed().await.unwrap());
    toggle.click().await.unwrap();
    assert!(sign_out.is_displayed().await.unwrap());

    let problems = browser.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    browser.close().await;
    panel.stop().await;
}
