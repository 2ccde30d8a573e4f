//! Pull from URL: the agent downloads a file into a server's volume
//! without letting the URL reach anything the internet cannot.
//!
//! - Only `http` and `https`; no proxy from the environment.
//! - A host name is resolved once, by [`Guarded`]; if any of its addresses
//!   is not public ([`addresses::refusal`]) the pull is refused, otherwise
//!   the connection goes to exactly those addresses (no second lookup a
//!   rebinding DNS server could answer differently).
//! - An address written in the URL is judged before any connection.
//! - Every redirect (at most [`MAX_REDIRECTS`]) is judged the same way
//!   before it is followed, and the peer actually connected to is checked
//!   once more when the answer arrives.
//! - The body goes through the confined opener into a file beside the
//!   target, counted against the quota, renamed in place only when
//!   complete; no decompression; the whole pull has a deadline.
//!
//! `allow` lists exact addresses the node's operator lets through anyway
//! (`rampart agent --pull-allow`), e.g. an internal mirror.

pub mod addresses;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Url, redirect};
use tokio::sync::{mpsc, oneshot};

use rampart_proto::files::MAX_URL_BYTES;

use crate::fs::{FsError, VolumePath, ops::Upload};
use crate::servers::files::Volume;

pub const MAX_REDIRECTS: usize = 5;
/// The whole pull, connection to last byte (the panel waits 300 s).
const DEADLINE: Duration = Duration::from_secs(280);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Chunks in flight between the download and the file thread.
const IN_FLIGHT: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("invalid URL: {0}")]
    BadUrl(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("the download failed: {0}")]
    Fetch(String),
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Why `ip` may not be reached, unless the operator allowed it exactly.
fn judge(ip: IpAddr, allow: &[IpAddr]) -> Option<String> {
    if allow.contains(&ip) {
        return None;
    }
    addresses::refusal(ip).map(|why| format!("{ip} is {why}"))
}

/// The URL's scheme and, when it names an address, that address.
fn check_url(url: &Url, allow: &[IpAddr]) -> Result<(), PullError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PullError::BadUrl(format!(
            "scheme {:?}: http or https only",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| PullError::BadUrl("no host".into()))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && let Some(why) = judge(ip, allow)
    {
        return Err(PullError::Refused(why));
    }
    Ok(())
}

/// The first refusal a pull met inside reqwest (resolver or redirect
/// policy), which reqwest itself reports only as a generic error.
#[derive(Debug, Default, Clone)]
struct Refusal(Arc<Mutex<Option<String>>>);

impl Refusal {
    fn record(&self, why: &str) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert_with(|| why.to_owned());
        }
    }

    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// A resolver that refuses a name with any non-public address.
#[derive(Debug)]
struct Guarded {
    allow: Arc<[IpAddr]>,
    refusal: Refusal,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow = self.allow.clone();
        let refusal = self.refusal.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            for a in &addrs {
                if let Some(why) = judge(a.ip(), &allow) {
                    // The address stays in the agent's log: telling the
                    // caller would let them map the node's internal DNS.
                    tracing::info!(%host, %why, "pull refused: a name resolves to a non-public address");
                    let why = format!("{host} resolves to an address that is not public");
                    refusal.record(&why);
                    return Err(why.into());
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn client(allow: &Arc<[IpAddr]>, refusal: &Refusal) -> Result<reqwest::Client, PullError> {
    crate::ensure_crypto_provider();
    let (policy_allow, policy_refusal) = (allow.clone(), refusal.clone());
    let policy = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            let why = format!("more than {MAX_REDIRECTS} redirects");
            policy_refusal.record(&why);
            return attempt.error(why);
        }
        match check_url(attempt.url(), &policy_allow) {
            Ok(()) => attempt.follow(),
            Err(e) => {
                let why = format!("redirect to {}: {e}", attempt.url());
                policy_refusal.record(&why);
                attempt.error(why)
            }
        }
    });
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(Guarded {
            allow: allow.clone(),
            refusal: refusal.clone(),
        }))
        .redirect(policy)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("rampart-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PullError::Fetch(e.to_string()))
}

enum Piece {
    Data(Vec<u8>),
    End,
}

/// Downloads `url` into `path` of `volume` (replacing it whole, or not at
/// all); the file's size.
pub async fn pull(
    volume: Volume,
    url: &str,
    path: &str,
    tmp: String,
    allow: Arc<[IpAddr]>,
) -> Result<u64, PullError> {
    if url.len() > MAX_URL_BYTES || url.chars().any(char::is_control) {
        return Err(PullError::BadUrl("too long or control characters".into()));
    }
    let url = Url::parse(url).map_err(|e| PullError::BadUrl(e.to_string()))?;
    check_url(&url, &allow)?;
    let path = VolumePath::parse(path)?;

    // The target is opened before any request: a bad path costs no fetch.
    let (opened_tx, opened_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel::<Piece>(IN_FLIGHT);
    let writer =
        tokio::task::spawn_blocking(move || write_pieces(&volume, &path, &tmp, opened_tx, rx));
    match opened_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(PullError::Fetch("the file could not be opened".into())),
    }
    let refusal = Refusal::default();
    let fetched = tokio::time::timeout(DEADLINE, fetch(url, &allow, &refusal, &tx)).await;
    let fetched = match fetched {
        Ok(r) => r,
        Err(_) => Err(PullError::Fetch(format!(
            "not finished within {} s",
            DEADLINE.as_secs()
        ))),
    };
    match fetched {
        Ok(()) => {
            let _ = tx.send(Piece::End).await;
            drop(tx);
        }
        Err(e) => {
            // Dropping the sender without End rolls the file back; a write
            // failure (the quota) explains the stop better than the fetch.
            drop(tx);
            return match writer.await {
                Ok(Err(fs)) if !matches!(fs, FsError::Io(_)) => Err(fs.into()),
                _ => Err(e),
            };
        }
    }
    match writer.await {
        Ok(r) => Ok(r?),
        Err(_) => Err(PullError::Fetch("the file thread failed".into())),
    }
}

async fn fetch(
    url: Url,
    allow: &Arc<[IpAddr]>,
    refusal: &Refusal,
    out: &mpsc::Sender<Piece>,
) -> Result<(), PullError> {
    let failed = |e: reqwest::Error| match refusal.take() {
        Some(why) => PullError::Refused(why),
        None => PullError::Fetch(describe(e)),
    };
    let mut res = client(allow, refusal)?
        .get(url)
        .send()
        .await
        .map_err(failed)?;
    if let Some(peer) = res.remote_addr()
        && let Some(why) = judge(peer.ip(), allow)
    {
        return Err(PullError::Refused(why));
    }
    if !res.status().is_success() {
        return Err(PullError::Fetch(format!(
            "the server answered {}",
            res.status()
        )));
    }
    while let Some(chunk) = res.chunk().await.map_err(failed)? {
        if out.send(Piece::Data(Vec::from(chunk))).await.is_err() {
            // The file thread stopped (quota, disk): its error is the answer.
            return Err(PullError::Fetch("the write stopped".into()));
        }
    }
    Ok(())
}

/// reqwest's message with its source chain, without repeating the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(200).collect()
}

fn write_pieces(
    volume: &Volume,
    path: &VolumePath,
    tmp: &str,
    opened: oneshot::Sender<Result<(), FsError>>,
    mut pieces: mpsc::Receiver<Piece>,
) -> Result<u64, FsError> {
    let mut allowance = volume.allowance();
    let root = match volume.root() {
        Ok(root) => root,
        Err(e) => {
            let _ = opened.send(Err(e));
            return Err(FsError::Io(std::io::Error::other("not opened")));
        }
    };
    let mut upload = match Upload::replace(&root, path, tmp, &mut allowance) {
        Ok(u) => {
            let _ = opened.send(Ok(()));
            u
        }
        Err(e) => {
            let _ = opened.send(Err(e));
            return Err(FsError::Io(std::io::Error::other("not opened")));
        }
    };
    loop {
        match pieces.blocking_recv() {
            Some(Piece::Data(buf)) => upload.write(&buf)?,
            Some(Piece::End) => break,
            None => return Err(FsError::Io(std::io::Error::other("the download stopped"))),
        }
    }
    let size = upload.finish()?;
    allowance.commit();
    Ok(size)
}
