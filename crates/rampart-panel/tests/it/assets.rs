//! The UI's static files.

use rampart_testkit::spawn_panel_no_forced_2fa;

#[tokio::test]
async fn css_and_js_are_served_with_cache_headers() {
    let panel = spawn_panel_no_forced_2fa().await;
    let client = panel.client();
    let page = client.get("/login").await;
    let start = page.body.find("/static/app.css?v=").unwrap();
    let end = page.body[start..].find('"').unwrap() + start;
    let css_path = &page.body[start..end];
    let css = client.get(css_path).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(css.body.contains("--accent"));

    let js = client.get("/static/app.js").await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        js.header("cache-control"),
        Some("no-cache"),
        "unversioned URL must revalidate"
    );

    let etag = js.header("etag").unwrap().to_owned();
    let again = client
        .request(
            reqwest::Method::GET,
            "/static/app.js",
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, 304);

    assert_eq!(client.get("/static/../Cargo.toml").await.status, 404);
    assert_eq!(client.get("/static/app.css.map").await.status, 404);
}

#[tokio::test]
async fn pages_have_no_inline_script_or_style() {
    let panel = spawn_panel_no_forced_2fa().await;
    let client = panel.client();
    for path in ["/login", &panel.setup_path(), "/missing"] {
        let body = client.get(path).await.body;
        assert!(
            !body.contains("<script>") && !body.contains(" onclick") && !body.contains("style="),
            "{path}"
        );
        assert!(
            body.contains("name=\"viewport\""),
            "{path}: mobile viewport"
        );
    }
}
