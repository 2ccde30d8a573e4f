//! Rampart's test harness: real components, no mocks.
//!
//! - [`spawn_panel`] — a real panel on 127.0.0.1 port 0 with a fresh SQLite
//!   store in a temp dir and a [`ManualClock`](rampart_core::ManualClock).
//! - [`TestClient`] — an HTTP client with a cookie jar that sends the
//!   panel's `Origin` on form posts, like a browser.
//! - [`stores`] — a fresh store on every engine (SQLite, and PostgreSQL when
//!   reachable) for store tests.
//! - [`webdriver`] — headless Chromium through Debian's `chromedriver`.
//! - [`Binary`] — the `rampart` executable as a child process with its
//!   stdout and stderr captured.
#![forbid(unsafe_code)]
// A test harness: failing loudly on a broken fixture is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// It starts real tools (chromedriver, the rampart binary) and talks SQL to
// create and drop PostgreSQL test databases; none of this is product code.
#![allow(clippy::disallowed_methods)]

mod binary;
mod client;
pub mod docker;
mod panel;
pub mod postgres;
pub mod sim_agent;
pub mod webdriver;

pub use binary::Binary;
pub use client::{TestClient, TestResponse};
pub use panel::{
    TestPanel, basic_auth, enroll_totp, spawn_panel, spawn_panel_no_forced_2fa, spawn_panel_with,
};
pub use postgres::{TestStores, stores};

/// A password that passes the policy, for fixtures.
pub const GOOD_PASSWORD: &str = "correct horse battery staple";

/// Whether an environment switch like `RAMPART_REQUIRE_DOCKER=1` is on.
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Skips (returns `true`) with a loud message, or panics when `require_var`
/// is set, because then the component must be there.
pub fn skip_or_fail(require_var: &str, what: &str) -> bool {
    if required(require_var) {
        panic!("{what} is not available but {require_var}=1 requires it");
    }
    eprintln!(
        "\n*** SKIPPED: {what} is not available (set {require_var}=1 to make this a failure) ***\n"
    );
    true
}

/// Ends the whole test process if it is still alive `limit` after this was
/// made and not dropped: tests that drive outside tools (Docker, a browser)
/// may block in them, and a hung run must fail instead of eating CI's hour.
pub struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

impl Watchdog {
    pub fn new(what: &str, limit: std::time::Duration) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let what = what.to_owned();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // Straight to the process's stderr: the test harness captures eprintln!.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** {what} still running after {limit:?}: aborting the test process ***\n"
                );
                std::process::exit(101);
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}
