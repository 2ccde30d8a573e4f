//! The file manager over HTTP with the real agent code on real files:
//! content streamed both ways (large files, resumed uploads), every
//! operation, the escape corpus through the API, the quota in every write
//! path, archives, and other tenants seeing nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::files_rig::{FilesRig, files_rig};

pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Api {
    pub(crate) async fn new(rig: &FilesRig, user: rampart_core::UserId) -> Api {
        let token = rig
            .panel
            .api_token(user, "server.view,server.files.view,server.files.edit")
            .await;
        Api {
            http: reqwest::Client::new(),
            base: format!("{}/api/v1/servers/{}/files", rig.panel.url, rig.id),
            auth: format!("Bearer {token}"),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}{tail}", self.base)
    }

    pub(crate) async fn put(
        &self,
        path: &str,
        body: Vec<u8>,
        offset: Option<u64>,
    ) -> (StatusCode, String) {
        let mut url = reqwest::Url::parse(&self.url("/content")).unwrap();
        url.query_pairs_mut().append_pair("path", path);
        if let Some(o) = offset {
            url.query_pairs_mut().append_pair("offset", &o.to_string());
        }
        let res = self
            .http
            .put(url)
            .header("authorization", &self.auth)
            .body(body)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let mut url = reqwest::Url::parse(&self.url("/content")).unwrap();
        url.query_pairs_mut().append_pair("path", path);
        let res = self
            .http
            .get(url)
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap();
        (res.status(), res.bytes().await.unwrap().to_vec())
    }

    /// A raw query string, for paths the URL parser would normalise.
    async fn get_raw(&self, query: &str) -> StatusCode {
        self.http
            .get(self.url(&format!("/content?{query}")))
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub(crate) async fn op(&self, op: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .request(Method::POST, self.url(&format!("/{op}")))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn pseudo_random(len: usize, seed: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = u64::from(seed) + 0x9e37_79b9_7f4a_7c15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contents_stream_both_ways_and_operations_stay_inside() {
    let rig = files_rig(1000).await;
    let api = Api::new(&rig, rig.owner).await;
    let vol = &rig.volume;
    let outside = rig._dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink("/", vol.join("host")).unwrap();
    std::os::unix::fs::symlink(&outside, vol.join("out")).unwrap();

    // Small and large files round-trip byte for byte.
    assert_eq!(
        api.put("motd.txt", b"hello\n".to_vec(), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(std::fs::read(vol.join("motd.txt")).unwrap(), b"hello\n");
    let big = pseudo_random(24 << 20, 1);
    let (status, body) = api.put("world/region.bin", big.clone(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "parent missing: {body}");
    assert_eq!(
        api.op("mkdir", json!({"path": "world"})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.put("world/region.bin", big.clone(), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, got) = api.get("world/region.bin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Sha256::digest(&got), Sha256::digest(&big));
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(vol.join("world"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["region.bin"]);

    // A resumed upload appends at the file's size; a wrong offset is refused.
    assert_eq!(
        api.put("log.txt", b"part one,".to_vec(), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.put("log.txt", b" part two".to_vec(), Some(9)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.get("log.txt").await.1, b"part one, part two");
    let (status, body) = api.put("log.txt", b"x".to_vec(), Some(3)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("offset_mismatch"), "{body}");
    assert_eq!(api.get("log.txt").await.1, b"part one, part two");

    // The escape corpus through the content routes: refused, nothing outside touched.
    for path in [
        "host/etc/passwd",
        "host/etc/hostname",
        "out/secret",
        "host",
        "../outside/secret",
        "/../outside/secret",
        "world/../../outside/secret",
        "..\\outside\\secret",
        "a\0b",
    ] {
        let (status, body) = api.get(path).await;
        assert!(
            status == StatusCode::BAD_REQUEST,
            "GET {path:?}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let (status, body) = api.put(path, b"owned".to_vec(), None).await;
        assert!(
            status == StatusCode::BAD_REQUEST,
            "PUT {path:?}: {status} {body}"
        );
    }
    for raw in [
        "path=..%2f..%2fetc%2fpasswd",
        "path=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "path=%c0%ae%c0%ae%2fetc%2fpasswd",
        "path=host%2fetc%2fpasswd",
        "path=%00",
    ] {
        let status = api.get_raw(raw).await;
        assert!(status.is_client_error(), "{raw}: {status}");
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "top secret"
    );
    assert!(
        std::fs::symlink_metadata(vol.join("host"))
            .unwrap()
            .is_symlink()
    );

    // Operations: each refuses to cross a link, each works inside.
    for (op, body) in [
        ("mkdir", json!({"path": "host/tmp/owned"})),
        ("mkdir", json!({"path": "out/owned"})),
        ("rename", json!({"from": "motd.txt", "to": "out/motd.txt"})),
        ("rename", json!({"from": "out/secret", "to": "stolen"})),
        ("copy", json!({"from": "out/secret", "to": "stolen"})),
        ("copy", json!({"from": "out", "to": "stolen"})),
        ("copy", json!({"from": "motd.txt", "to": "host/tmp/motd"})),
        ("chmod", json!({"path": "out", "mode": 0o777})),
        ("chmod", json!({"path": "out/secret", "mode": 0o777})),
        ("delete", json!({"path": "out/secret"})),
        ("delete", json!({"path": "../outside"})),
        ("extract", json!({"path": "host/etc/passwd.zip", "to": "x"})),
    ] {
        let (status, v) = api.op(op, body.clone()).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{op} {body}: {status} {v}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "top secret"
    );
    assert!(!std::path::Path::new("/tmp/owned").exists());
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    };
    assert_ne!(mode(&outside.join("secret")), 0o777);

    let ok = |r: (StatusCode, Value)| assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    ok(api
        .op(
            "rename",
            json!({"from": "motd.txt", "to": "world/motd.txt"}),
        )
        .await);
    ok(api
        .op("copy", json!({"from": "world", "to": "world2"}))
        .await);
    assert_eq!(
        std::fs::read(vol.join("world2/motd.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        Sha256::digest(std::fs::read(vol.join("world2/region.bin")).unwrap()),
        Sha256::digest(&big)
    );
    ok(api
        .op("chmod", json!({"path": "world2/motd.txt", "mode": 0o600}))
        .await);
    assert_eq!(mode(&vol.join("world2/motd.txt")), 0o600);
    let (status, _) = api
        .op("chmod", json!({"path": "world2/motd.txt", "mode": 0o4755}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "set-uid is refused");
    let (status, _) = api
        .op("rename", json!({"from": "world2", "to": "world"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "rename never replaces");

    // Search by name, with paths, links listed but not entered.
    let res = api
        .http
        .get(api.url("/search?q=MOTD"))
        .header("authorization", &api.auth)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let found: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["world/motd.txt", "world2/motd.txt"]);

    // Recursive delete of a tree holding outbound links: the targets survive.
    std::os::unix::fs::symlink(&outside, vol.join("world2/link-out")).unwrap();
    std::os::unix::fs::symlink("/", vol.join("world2/link-root")).unwrap();
    ok(api.op("delete", json!({"path": "world2"})).await);
    assert!(!vol.join("world2").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "top secret"
    );
    assert!(std::path::Path::new("/etc/hostname").exists());

    // Archive and extract round trip (tar.gz and zip).
    for name in ["backup.tar.gz", "backup.zip"] {
        ok(api
            .op(
                "archive",
                json!({"paths": ["world", "log.txt"], "to": name}),
            )
            .await);
        ok(api
            .op(
                "extract",
                json!({"path": name, "to": format!("restored-{name}")}),
            )
            .await);
        let base = vol.join(format!("restored-{name}"));
        assert_eq!(
            std::fs::read(base.join("world/motd.txt")).unwrap(),
            b"hello\n"
        );
        assert_eq!(
            std::fs::read(base.join("log.txt")).unwrap(),
            b"part one, part two"
        );
        assert_eq!(
            Sha256::digest(std::fs::read(base.join("world/region.bin")).unwrap()),
            Sha256::digest(&big)
        );
    }

    // Another tenant, or a viewer without files.edit, gets 404 / 403.
    let other = Api::new(&rig, rig.tenant).await;
    assert_eq!(other.get("log.txt").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        other.put("log.txt", b"x".to_vec(), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other.op("delete", json!({"path": "log.txt"})).await.0,
        StatusCode::NOT_FOUND
    );
    let viewer = rig
        .panel
        .api_token(rig.owner, "server.view,server.files.view")
        .await;
    let read_only = Api {
        auth: format!("Bearer {viewer}"),
        ..Api::new(&rig, rig.owner).await
    };
    assert_eq!(read_only.get("log.txt").await.0, StatusCode::OK);
    assert_eq!(
        read_only.put("log.txt", b"x".to_vec(), None).await.0,
        StatusCode::FORBIDDEN
    );

    // Every write, delete and rename is in the audit log with actor and server.
    let records = rig.panel.audit_records().await;
    let actions: Vec<String> = records
        .iter()
        .filter(|r| r.body.target.as_deref() == Some(&format!("server:{}", rig.id)))
        .map(|r| r.body.action.clone())
        .collect();
    for a in [
        "server.files.write",
        "server.files.mkdir",
        "server.files.rename",
        "server.files.copy",
        "server.files.delete",
        "server.files.chmod",
        "server.files.archive",
        "server.files.extract",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_holds_in_every_write_path() {
    // 4 MiB for the whole volume.
    let rig = files_rig(4).await;
    let api = Api::new(&rig, rig.owner).await;
    let vol = &rig.volume;
    let three = pseudo_random(3 << 20, 2);
    assert_eq!(
        api.put("a.bin", three.clone(), None).await.0,
        StatusCode::NO_CONTENT
    );
    // Upload past the quota: refused, the old contents stay, nothing beside.
    std::fs::write(vol.join("keep.txt"), "old").unwrap();
    let (status, body) = api.put("keep.txt", pseudo_random(2 << 20, 3), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("quota_exceeded"), "{body}");
    assert_eq!(
        std::fs::read_to_string(vol.join("keep.txt")).unwrap(),
        "old"
    );
    let (status, _) = api.put("new.bin", pseudo_random(2 << 20, 4), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!vol.join("new.bin").exists());
    // A resumed upload past it is cut back to where it started.
    let (status, _) = api
        .put("a.bin", pseudo_random(2 << 20, 5), Some(3 << 20))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(std::fs::metadata(vol.join("a.bin")).unwrap().len(), 3 << 20);
    // Copy past it.
    let (status, _) = api
        .op("copy", json!({"from": "a.bin", "to": "b.bin"}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!vol.join("b.bin").exists());
    // Archive past it (a.bin does not compress).
    let (status, v) = api
        .op("archive", json!({"paths": ["a.bin"], "to": "a.tar"}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(std::fs::read_dir(vol).unwrap().all(|e| {
        let n = e.unwrap().file_name();
        !n.to_string_lossy().starts_with(".rampart-part")
    }));
    // Deleting frees room at once.
    assert_eq!(
        api.op("delete", json!({"path": "a.bin"})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.put("new.bin", pseudo_random(2 << 20, 4), None).await.0,
        StatusCode::NO_CONTENT
    );
    // Extract past it: a small archive of 3 MiB of zeros.
    let zeros = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        {
            let mut tar = tar::Builder::new(&mut gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(3 << 20);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, "zeros.bin", std::io::repeat(0).take_bytes(3 << 20))
                .unwrap();
            tar.finish().unwrap();
        }
        gz.finish().unwrap()
    };
    assert_eq!(
        api.put("zeros.tar.gz", zeros, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, v) = api
        .op("extract", json!({"path": "zeros.tar.gz", "to": "x"}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(!vol.join("x/zeros.bin").exists());
}

trait TakeBytes: std::io::Read + Sized {
    fn take_bytes(self, n: u64) -> std::io::Take<Self> {
        std::io::Read::take(self, n)
    }
}
impl<R: std::io::Read> TakeBytes for R {}
