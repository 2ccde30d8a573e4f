//! Dialing the panel: the link (`/agent/link`) and transfer sockets
//! (`/agent/transfer`) go to the same panel with the same credential and,
//! over TLS, the same pinned certificate.

use rampart_proto::MAX_FRAME_BYTES;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::AgentError;
use crate::state::AgentState;

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// `http://h:p` → `ws://h:p{path}`, `https://h:p` → `wss://h:p{path}`.
pub(super) fn ws_url(panel_url: &str, path: &str) -> Result<String, AgentError> {
    let base = panel_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}{path}"))
    } else if let Some(rest) = base.strip_prefix("https://") {
        Ok(format!("wss://{rest}{path}"))
    } else {
        Err(AgentError::Url(format!(
            "{base}: expected http:// or https://"
        )))
    }
}

fn header(value: &str) -> Result<HeaderValue, AgentError> {
    HeaderValue::from_str(value)
        .map_err(|_| AgentError::State("credential or node id is not a valid header value".into()))
}

/// Opens a WebSocket to `path` of the panel, authenticated as this agent,
/// with `extra` headers.
pub async fn dial(
    state: &AgentState,
    path: &str,
    extra: &[(&'static str, &str)],
) -> Result<Socket, AgentError> {
    let mut request = ws_url(&state.panel_url, path)?
        .into_client_request()
        .map_err(|e| AgentError::Url(e.to_string()))?;
    request.headers_mut().insert(
        "authorization",
        header(&format!("Bearer {}", state.credential))?,
    );
    request
        .headers_mut()
        .insert("x-rampart-node", header(&state.node_id)?);
    for (name, value) in extra {
        request.headers_mut().insert(*name, header(value)?);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    let connector = match (
        &state.panel_fingerprint,
        state.panel_url.starts_with("https://"),
    ) {
        (Some(fp), true) => Some(tokio_tungstenite::Connector::Rustls(
            super::pinned::client_config(fp)?,
        )),
        (None, true) => {
            return Err(AgentError::State(
                "an https:// panel needs a pinned certificate fingerprint".into(),
            ));
        }
        _ => None,
    };
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), false, connector)
            .await
            .map_err(|e| AgentError::Panel(crate::state::error_chain(&e)))?;
    Ok(ws)
}
