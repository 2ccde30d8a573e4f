//! The only module that talks to the Docker Engine. For now: whether it is
//! reachable and its version (`GET /version` on its Unix socket).

use std::time::Duration;

use rampart_proto::DockerStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The engine's socket (`DOCKER_HOST=unix://…` overrides it).
fn socket_path() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| "/var/run/docker.sock".into())
}

async fn query_version(path: &str) -> Result<String, String> {
    let mut stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|e| format!("cannot connect to {path}: {e}"))?;
    stream
        .write_all(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("malformed answer")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "engine answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|_| "malformed version document")?;
    v["Version"]
        .as_str()
        .map(|s| s.chars().take(64).collect())
        .ok_or_else(|| "no version".into())
}

/// Whether Docker is usable here, its version, or why not.
pub async fn docker_status() -> DockerStatus {
    let path = socket_path();
    match tokio::time::timeout(Duration::from_secs(3), query_version(&path)).await {
        Ok(Ok(version)) => DockerStatus {
            available: true,
            version: Some(version),
            reason: None,
        },
        Ok(Err(reason)) => DockerStatus {
            available: false,
            version: None,
            reason: Some(reason.chars().take(200).collect()),
        },
        Err(_) => DockerStatus {
            available: false,
            version: None,
            reason: Some("the engine did not answer within 3 s".into()),
        },
    }
}
