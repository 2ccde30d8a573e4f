//! A login for a missing user costs the same as for a real one (within 20 %).
//!
//! Samples are interleaved and compared by their minimum, the estimator of
//! a request's own cost least disturbed by other tests sharing the CPU.
//! Without the dummy hash the missing-user path would cost about 1/20 of the
//! real one, far outside the band.

use std::time::{Duration, Instant};

use rampart_testkit::GOOD_PASSWORD;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn min(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap()
}

#[tokio::test]
async fn missing_user_login_costs_the_same_as_real_user() {
    // Limits out of the way: this test measures the cost of many failures.
    let generous = rampart_panel::auth::Limit {
        max: 10_000,
        window_secs: 60,
    };
    let panel = rampart_testkit::spawn_panel_with(rampart_panel::PanelSettings {
        require_2fa_for: Vec::new(),
        login_limits: rampart_panel::settings::LoginLimits {
            per_ip: generous,
            per_account: generous,
        },
        ..Default::default()
    })
    .await;
    panel
        .create_admin(&panel.client(), "ada", GOOD_PASSWORD)
        .await;
    let browser = panel.client();
    let csrf = browser.get("/login").await.csrf_token().unwrap();
    let attempt = |user: &'static str| {
        let (b, c) = (&browser, csrf.clone());
        async move {
            let t = Instant::now();
            let res = b
                .post_form(
                    "/login",
                    &[
                        ("username", user),
                        ("password", "wrong password, long enough"),
                        ("csrf_token", &c),
                    ],
                )
                .await;
            assert_eq!(res.status, 401);
            t.elapsed()
        }
    };
    // Warm up, then interleave so drift on a noisy machine hits both sides.
    attempt("ada").await;
    attempt("ghost").await;
    let (mut real, mut missing) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        real.push(attempt("ada").await);
        missing.push(attempt("ghost").await);
    }
    let (r, m) = (min(&real), min(&missing));
    let ratio = m.as_secs_f64() / r.as_secs_f64();
    eprintln!(
        "login timing: min real {r:?}, min missing {m:?}, ratio {ratio:.3}; medians {:?} / {:?}",
        median(real.clone()),
        median(missing.clone())
    );
    assert!(
        (0.8..=1.2).contains(&ratio),
        "real {r:?} vs missing {m:?} (ratio {ratio:.3})"
    );
}
