//! Transfer sockets (see `rampart_proto::files`): the file is opened
//! through the confined opener on a blocking thread, the answer goes back on
//! the link, then the agent dials `/agent/transfer` with the ticket and
//! the bytes flow between the socket and that thread through a small
//! bounded channel (back-pressure both ways, a few chunks in memory).

use futures_util::{SinkExt, StreamExt};
use rampart_proto::{
    AgentMessage, CommandResult, Direction, TRANSFER_CHUNK, TransferEnd, UPLOAD_END, encode,
};
use std::io::Read;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::fs::{FsError, VolumePath, ops::Upload};
use crate::servers::files::{Volume, failure};
use crate::state::AgentState;

/// Chunks in flight between the socket and the file thread.
const IN_FLIGHT: usize = 4;

#[derive(Debug)]
pub struct Job {
    pub volume: Volume,
    pub path: String,
    pub direction: Direction,
    pub tmp: String,
}

enum Chunk {
    Data(Vec<u8>),
    End,
}

pub async fn run(
    state: AgentState,
    ticket: String,
    job: Job,
    id: u64,
    replies: mpsc::Sender<AgentMessage>,
) {
    let (opened_tx, opened_rx) = oneshot::channel::<Result<u64, FsError>>();
    match job.direction {
        Direction::Read => {
            let (tx, rx) = mpsc::channel::<Result<Vec<u8>, FsError>>(IN_FLIGHT);
            tokio::task::spawn_blocking(move || read_file(&job, opened_tx, tx));
            let Some(size) = answer_open(opened_rx, id, &replies).await else {
                return;
            };
            if let Err(e) = send_file(&state, &ticket, rx, size).await {
                tracing::warn!(error = %e, "download transfer failed");
            }
        }
        Direction::Write { offset } => {
            let (tx, rx) = mpsc::channel::<Chunk>(IN_FLIGHT);
            let (end_tx, end_rx) = oneshot::channel::<TransferEnd>();
            tokio::task::spawn_blocking(move || write_file(&job, offset, opened_tx, rx, end_tx));
            let Some(_) = answer_open(opened_rx, id, &replies).await else {
                return;
            };
            if let Err(e) = receive_file(&state, &ticket, tx, end_rx).await {
                tracing::warn!(error = %e, "upload transfer failed");
            }
        }
    }
}

/// Answers the panel's `Transfer` request once the file thread opened the
/// file (or could not); the size when the transfer goes ahead.
async fn answer_open(
    opened: oneshot::Receiver<Result<u64, FsError>>,
    id: u64,
    replies: &mpsc::Sender<AgentMessage>,
) -> Option<u64> {
    let (result, size) = match opened.await {
        Ok(Ok(size)) => (CommandResult::Opened { size }, Some(size)),
        Ok(Err(e)) => (CommandResult::FileFailed { error: failure(&e) }, None),
        Err(_) => (
            CommandResult::Failed {
                reason: "the file could not be opened".into(),
            },
            None,
        ),
    };
    let _ = replies.send(AgentMessage::Response { id, result }).await;
    size
}

fn read_file(
    job: &Job,
    opened: oneshot::Sender<Result<u64, FsError>>,
    out: mpsc::Sender<Result<Vec<u8>, FsError>>,
) {
    let file = (|| {
        let path = VolumePath::parse(&job.path)?;
        let file = job.volume.root()?.read(&path)?;
        let size = file.metadata()?.len();
        Ok((file, size))
    })();
    let (file, size) = match file {
        Ok(f) => f,
        Err(e) => {
            let _ = opened.send(Err(e));
            return;
        }
    };
    if opened.send(Ok(size)).is_err() {
        return;
    }
    // Never more than the size announced: a file growing meanwhile is cut.
    let mut file = file.take(size);
    loop {
        let mut buf = vec![0u8; TRANSFER_CHUNK];
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if out.blocking_send(Ok(buf)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = out.blocking_send(Err(e.into()));
                return;
            }
        }
    }
}

async fn send_file(
    state: &AgentState,
    ticket: &str,
    mut chunks: mpsc::Receiver<Result<Vec<u8>, FsError>>,
    size: u64,
) -> Result<(), crate::AgentError> {
    let mut ws =
        super::dial::dial(state, "/agent/transfer", &[("x-rampart-ticket", ticket)]).await?;
    let err = |e: tokio_tungstenite::tungstenite::Error| crate::AgentError::Panel(e.to_string());
    let mut sent = 0u64;
    let end = loop {
        match chunks.recv().await {
            Some(Ok(buf)) => {
                sent += buf.len() as u64;
                ws.send(Message::Binary(buf.into())).await.map_err(err)?;
            }
            Some(Err(e)) => break TransferEnd::Failed { error: failure(&e) },
            None if sent == size => break TransferEnd::Done { size },
            None => {
                break TransferEnd::Failed {
                    error: failure(&FsError::Io(std::io::Error::other(
                        "the file shrank while it was read",
                    ))),
                };
            }
        }
    };
    ws.send(Message::Text(encode(&end).into()))
        .await
        .map_err(err)?;
    let _ = ws.close(None).await;
    Ok(())
}

fn write_file(
    job: &Job,
    offset: Option<u64>,
    opened: oneshot::Sender<Result<u64, FsError>>,
    mut chunks: mpsc::Receiver<Chunk>,
    end: oneshot::Sender<TransferEnd>,
) {
    let mut allowance = job.volume.allowance();
    let Some(outcome) = write_chunks(job, offset, opened, &mut chunks, &mut allowance) else {
        return;
    };
    let verdict = match outcome {
        Ok(size) => {
            allowance.commit();
            TransferEnd::Done { size }
        }
        Err(e) => TransferEnd::Failed { error: failure(&e) },
    };
    let _ = end.send(verdict);
}

/// Opens the upload, answers `opened`, writes what arrives; `None` when the
/// transfer ended without a verdict to give (the upload is rolled back).
fn write_chunks(
    job: &Job,
    offset: Option<u64>,
    opened: oneshot::Sender<Result<u64, FsError>>,
    chunks: &mut mpsc::Receiver<Chunk>,
    allowance: &mut crate::fs::Allowance,
) -> Option<Result<u64, FsError>> {
    let root = job.volume.root();
    let upload = match (root.as_ref(), VolumePath::parse(&job.path)) {
        (Err(_), _) => Err(FsError::NotFound),
        (_, Err(e)) => Err(e),
        (Ok(root), Ok(path)) => match offset {
            None => Upload::replace(root, &path, &job.tmp, allowance),
            Some(at) => Upload::append(root, &path, at, allowance),
        },
    };
    let mut upload = match upload {
        Ok(u) => u,
        Err(e) => {
            let _ = opened.send(Err(e));
            return None;
        }
    };
    opened.send(Ok(offset.unwrap_or(0))).ok()?;
    loop {
        match chunks.blocking_recv() {
            Some(Chunk::Data(buf)) => {
                if let Err(e) = upload.write(&buf) {
                    return Some(Err(e));
                }
            }
            Some(Chunk::End) => return Some(upload.finish()),
            // The socket went away without its end: the upload is dropped
            // (a replaced file stays as it was, an append is cut back).
            None => return None,
        }
    }
}

async fn receive_file(
    state: &AgentState,
    ticket: &str,
    chunks: mpsc::Sender<Chunk>,
    verdict: oneshot::Receiver<TransferEnd>,
) -> Result<(), crate::AgentError> {
    let mut ws =
        super::dial::dial(state, "/agent/transfer", &[("x-rampart-ticket", ticket)]).await?;
    let err = |e: tokio_tungstenite::tungstenite::Error| crate::AgentError::Panel(e.to_string());
    let mut verdict = verdict;
    let end = loop {
        tokio::select! {
            // The file thread stopped early (a quota refusal): say so now.
            v = &mut verdict => match v {
                Ok(end) => break end,
                Err(_) => return Ok(()),
            },
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(b))) => {
                    if chunks.send(Chunk::Data(b.into())).await.is_err() {
                        match (&mut verdict).await {
                            Ok(end) => break end,
                            Err(_) => return Ok(()),
                        }
                    }
                }
                Some(Ok(Message::Text(t))) if t.as_str() == UPLOAD_END => {
                    let _ = chunks.send(Chunk::End).await;
                    match (&mut verdict).await {
                        Ok(end) => break end,
                        Err(_) => return Ok(()),
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // Anything else, or the socket's end before UPLOAD_END,
                // aborts: dropping `chunks` rolls the upload back.
                _ => return Ok(()),
            },
        }
    };
    ws.send(Message::Text(encode(&end).into()))
        .await
        .map_err(err)?;
    let _ = ws.close(None).await;
    Ok(())
}
