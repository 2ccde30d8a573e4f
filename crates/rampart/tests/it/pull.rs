//! Pull from URL through the panel and the real agent: a file from an
//! allowed mirror arrives whole; URLs, names and redirects that lead to
//! loopback, private, link-local or metadata addresses are refused before
//! any connection to them (the servers listening there count their hits);
//! the quota holds and a failed download leaves nothing behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::file_manager::Api;
use crate::files_rig::{PULL_MIRROR, files_rig};

/// A web server on `ip` serving a few routes; `hits` counts every request.
async fn serve(ip: std::net::IpAddr, port: u16) -> Option<Arc<AtomicUsize>> {
    let listener = tokio::net::TcpListener::bind((ip, port)).await.ok()?;
    let hits = Arc::new(AtomicUsize::new(0));
    let state = (hits.clone(), port);
    let app = Router::new()
        .route("/file", get(|| async { "pulled contents\n" }))
        .route(
            "/big",
            get(|| async { vec![7u8; 6 << 20] }), // past the 4 MiB quota
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/to-loopback",
            get(
                |State((_, port)): State<(Arc<AtomicUsize>, u16)>| async move {
                    redirect(format!("http://127.0.0.1:{port}/file"))
                },
            ),
        )
        .route(
            "/to-localhost",
            get(
                |State((_, port)): State<(Arc<AtomicUsize>, u16)>| async move {
                    redirect(format!("http://localhost:{port}/file"))
                },
            ),
        )
        .route(
            "/to-metadata",
            get(|| async { redirect("http://169.254.169.254/latest/meta-data/".into()) }),
        )
        .route(
            "/to-mirror",
            get(
                |State((_, port)): State<(Arc<AtomicUsize>, u16)>| async move {
                    redirect(format!("http://{PULL_MIRROR}:{port}/file"))
                },
            ),
        )
        .route("/loop", get(|| async { redirect("/loop".into()) }))
        .layer(axum::middleware::from_fn_with_state(
            hits.clone(),
            |State(hits): State<Arc<AtomicUsize>>,
             req: axum::extract::Request,
             next: axum::middleware::Next| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                next.run(req).await
            },
        ))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Some(hits)
}

fn redirect(to: String) -> impl IntoResponse {
    (StatusCode::FOUND, [(header::LOCATION, to)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_reach_public_addresses_only() {
    let rig = files_rig(4).await;
    let api = Api::new(&rig, rig.owner).await;
    // One port on three addresses: the allowed mirror, loopback and ::1.
    let port = std::net::TcpListener::bind((PULL_MIRROR, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mirror = serve(PULL_MIRROR.into(), port).await.unwrap();
    let loopback = serve(std::net::Ipv4Addr::LOCALHOST.into(), port)
        .await
        .expect("127.0.0.1 on the mirror's port");
    let loopback6 = serve(std::net::Ipv6Addr::LOCALHOST.into(), port).await;
    let m = format!("http://{PULL_MIRROR}:{port}");

    // The allowed mirror works, and a redirect within it too.
    let (status, v) = api
        .op(
            "pull",
            json!({"url": format!("{m}/file"), "path": "plugins/a.txt"}),
        )
        .await;
    assert_eq!(status, 404, "the directory must exist first: {v}");
    let (status, v) = api
        .op("pull", json!({"url": format!("{m}/file"), "path": "a.txt"}))
        .await;
    assert_eq!(status, 204, "{v}");
    assert_eq!(
        std::fs::read_to_string(rig.volume.join("a.txt")).unwrap(),
        "pulled contents\n"
    );
    let (status, v) = api
        .op(
            "pull",
            json!({"url": format!("{m}/to-mirror"), "path": "b.txt"}),
        )
        .await;
    assert_eq!(status, 204, "{v}");
    assert!(rig.volume.join("b.txt").is_file());
    let mirror_hits = mirror.load(Ordering::SeqCst);
    assert_eq!(mirror_hits, 3);

    let refused = [
        format!("http://127.0.0.1:{port}/file"),
        format!("http://127.1.2.3:{port}/file"),
        format!("http://[::1]:{port}/file"),
        format!("http://[::ffff:127.0.0.1]:{port}/file"),
        format!("http://2130706433:{port}/file"), // 127.0.0.1 as one number
        format!("http://0x7f.0.0.1:{port}/file"),
        format!("http://0.0.0.0:{port}/file"),
        format!("http://localhost:{port}/file"), // a name resolving to loopback
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        "http://100.100.100.200/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://192.168.1.1/".to_owned(),
        "http://172.16.0.1/".to_owned(),
        "http://100.64.0.1/".to_owned(),
        format!("{m}/to-loopback"),
        format!("{m}/to-localhost"),
        format!("{m}/to-metadata"),
    ];
    for url in &refused {
        let (status, v) = api
            .op("pull", json!({"url": url, "path": "evil.txt"}))
            .await;
        assert_eq!(status, 400, "{url}: {v}");
        assert_eq!(v["error"]["code"], "url_refused", "{url}: {v}");
    }
    let (status, v) = api
        .op(
            "pull",
            json!({"url": format!("{m}/loop"), "path": "evil.txt"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].as_str()),
        (400, Some("url_refused")),
        "{v}"
    );
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://127.0.0.1:70/",
        "http://",
        "not a url",
        "http://example.com/\r\nX-Evil: 1",
    ] {
        let (status, v) = api
            .op("pull", json!({"url": url, "path": "evil.txt"}))
            .await;
        assert_eq!(status, 400, "{url}: {v}");
        assert_eq!(v["error"]["code"], "bad_url", "{url}: {v}");
    }
    // Nothing ever reached loopback; the redirects hit the mirror only.
    assert_eq!(loopback.load(Ordering::SeqCst), 0, "127.0.0.1 was reached");
    if let Some(hits) = loopback6 {
        assert_eq!(hits.load(Ordering::SeqCst), 0, "::1 was reached");
    }
    assert_eq!(
        mirror.load(Ordering::SeqCst),
        mirror_hits + 3 + rampart_agent::pull::MAX_REDIRECTS,
        "the mirror served the three redirects and the loop (the first request and 4 redirects) only"
    );
    assert!(!rig.volume.join("evil.txt").exists());

    // A download past the quota, or a failed one, leaves nothing.
    let (status, v) = api
        .op(
            "pull",
            json!({"url": format!("{m}/big"), "path": "big.bin"}),
        )
        .await;
    assert_eq!(status, 413, "{v}");
    let (status, v) = api
        .op(
            "pull",
            json!({"url": format!("{m}/missing"), "path": "a.txt"}),
        )
        .await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "fetch_failed");
    assert_eq!(
        std::fs::read_to_string(rig.volume.join("a.txt")).unwrap(),
        "pulled contents\n",
        "a failed pull keeps the old file"
    );
    let names: Vec<_> = std::fs::read_dir(&rig.volume)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "no partial file left: {names:?}");

    // Another tenant, or a path through a link, gets nowhere.
    let tenant = Api::new(&rig, rig.tenant).await;
    let (status, _) = tenant
        .op("pull", json!({"url": format!("{m}/file"), "path": "t.txt"}))
        .await;
    assert_eq!(status, 404);
    std::os::unix::fs::symlink("/tmp", rig.volume.join("tmp-link")).unwrap();
    let (status, v) = api
        .op(
            "pull",
            json!({"url": format!("{m}/file"), "path": "tmp-link/x.txt"}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(!std::path::Path::new("/tmp/x.txt").exists());

    // Audited with the origin only.
    let pulls: Vec<String> = rig
        .panel
        .audit_records()
        .await
        .iter()
        .filter(|r| r.body.action == "server.files.pull")
        .map(|r| format!("{:?}", r.body))
        .collect();
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert!(pulls[0].contains(&format!("a.txt <- {m}")), "{pulls:?}");
    assert!(!pulls.iter().any(|p| p.contains("/file")), "{pulls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_name_does_not_reveal_where_it_points() {
    let rig = files_rig(4).await;
    let api = Api::new(&rig, rig.owner).await;
    let (status, v) = api
        .op("pull", json!({"url": "http://localhost:9/x", "path": "x"}))
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "url_refused");
    let text = v.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("::1"),
        "the node's DNS answer leaked: {text}"
    );
}
