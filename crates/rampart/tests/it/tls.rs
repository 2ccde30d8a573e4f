//! The panel serving TLS itself (`--tls-cert/--tls-key`): HTTPS with HSTS,
//! `__Host-` secure cookies, a non-loopback listen accepted, and the local
//! agent of `up` dialling the TLS listener with the certificate pinned.

use std::time::Duration;

use rampart_testkit::{Binary, GOOD_PASSWORD};
use serde_json::Value;

use super::{STARTUP, exe, setup_url};

fn pinned_client(fingerprint: &str) -> reqwest::Client {
    rampart_agent::ensure_crypto_provider();
    let config = rampart_agent::link::pinned::client_config(fingerprint).unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured((*config).clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
}

#[tokio::test]
async fn the_panel_serves_tls_itself() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let fingerprint = rampart_panel::agents::tls::fingerprint(certified.cert.der());
    let toml = dir.path().join("rampart.toml");
    std::fs::write(&toml, "[auth]\nrequire_2fa_for = []\n").unwrap();
    let data = dir.path().join("data");
    let tls_args = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];

    let mut args = vec![
        "up",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        toml.to_str().unwrap(),
    ];
    args.extend_from_slice(&tls_args);
    let mut up = Binary::start(exe(), &args, &[]);
    let url = setup_url(&up.wait_stdout_line("Setup URL: ", STARTUP).await.unwrap());
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let base = url.split("/setup").next().unwrap().to_owned();
    let c = pinned_client(&fingerprint);

    let health = c.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health.headers().get("strict-transport-security").is_some(),
        "HSTS over TLS"
    );

    let page = c.get(&url).send().await.unwrap();
    let csrf_cookie = page
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csrf_cookie.starts_with("__Host-rampart_csrf=") && csrf_cookie.contains("Secure"),
        "{csrf_cookie}"
    );
    let body = page.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    let csrf = &body[start..start + 64];
    let res = c
        .post(&url)
        .header("origin", &base)
        .header(
            "cookie",
            format!("__Host-rampart_csrf={}", cookie_value(&csrf_cookie)),
        )
        .form(&[
            ("username", "ada"),
            ("password", GOOD_PASSWORD),
            ("csrf_token", csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        session.starts_with("__Host-rampart_session=") && session.contains("Secure"),
        "{session}"
    );

    // The local agent reached the TLS listener with the certificate pinned.
    let mut online = false;
    for _ in 0..100 {
        let v: Value = c
            .get(format!("{base}/api/v1/nodes"))
            .header(
                "cookie",
                format!("__Host-rampart_session={}", cookie_value(&session)),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if v["items"][0]["online"] == true {
            online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(online, "local node online over TLS: {:?}", up.stderr());
    up.stop().await;

    // With TLS, a non-loopback listen is allowed.
    let mut public = vec![
        "panel",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    public.extend_from_slice(&tls_args);
    let mut p = Binary::start(exe(), &public, &[]);
    let deadline = tokio::time::Instant::now() + STARTUP;
    while !p.stderr().iter().any(|l| l.contains("panel listening")) {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", p.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!p.stderr().iter().any(|l| l.contains("refusing")));
    p.stop().await;
}
