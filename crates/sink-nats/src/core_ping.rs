//! The acknowledgement of a core NATS batch: a round trip through the server.
//!
//! Core NATS has no per-message acknowledgement, and the client's `flush` only empties its own
//! socket buffer. The server reads one connection's messages in order, so once a request sent
//! after the batch has come back through the server, the server has read every message of the
//! batch (and routed it to the subscribers it had at that moment). The request goes to a
//! subject only this sink subscribes to, answered by a small responder task on the same client.

use async_nats::{Client, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt as _;
use tokio::task::AbortHandle;
use tracing::warn;

use crate::error::NatsSinkError;

/// The sink's private echo subject and the task answering it; aborted on drop.
pub(crate) struct CorePing {
    subject: String,
    responder: AbortHandle,
}

impl CorePing {
    /// Subscribe to a fresh inbox subject and answer every request on it with an empty reply.
    ///
    /// Works while disconnected too: the client sends the subscription once it connects, and
    /// re-sends it after every reconnection.
    pub(crate) async fn start(sink: &str, client: &Client) -> Result<Self, NatsSinkError> {
        let subject = format!("{}.ack", client.new_inbox());
        let mut requests = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| NatsSinkError::Config(format!("cannot subscribe to `{subject}`: {e}")))?;
        let replier = client.clone();
        let sink = sink.to_owned();
        let responder = tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(reply) = request.reply else { continue };
                if let Err(e) = replier.publish(reply, Bytes::new()).await {
                    // The requester times out and fails its batch as retriable.
                    warn!(sink = %sink, error = %e, "core nats acknowledgement reply not sent");
                }
            }
        })
        .abort_handle();
        Ok(CorePing { subject, responder })
    }

    /// Wait until the server has read everything this client sent before the call.
    ///
    /// The caller bounds the wait (`ack_timeout`); an error here is always retriable.
    pub(crate) async fn round_trip(&self, client: &Client) -> Result<(), String> {
        match client.request(self.subject.clone(), Bytes::new()).await {
            Ok(_) => Ok(()),
            // Right after a reconnection the server may not have our subscription back yet.
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                Err("the server had no acknowledgement subscription yet".into())
            }
            Err(e) => Err(format!("acknowledgement round trip failed: {e}")),
        }
    }
}

impl Drop for CorePing {
    fn drop(&mut self) {
        // The responder holds a client clone; without this the connection would outlive the sink.
        self.responder.abort();
    }
}
