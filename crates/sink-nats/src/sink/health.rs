//! The `/readyz` check of a NATS sink: the connection is up and, with `[sinks.stream]`, the
//! stream is set up and answers a stream-info request within `ack_timeout`.

use vodbridge_core::SinkHealth;

use super::NatsSink;
use crate::stream::SetupState;

impl NatsSink {
    /// The sink's health, as [`vodbridge_core::Sink::health`] reports it.
    pub(super) async fn check_health(&self) -> SinkHealth {
        let state = self.client.connection_state();
        if state != async_nats::connection::State::Connected {
            return SinkHealth::Unhealthy(format!("nats connection {state}"));
        }
        if let (Some(js), Some(setup)) = (&self.jetstream, &self.stream) {
            let stream = setup.name();
            match setup.state() {
                SetupState::Ready => {}
                SetupState::Refused(why) => {
                    return SinkHealth::Unhealthy(format!(
                        "stream `{stream}` refused by the server: {why}"
                    ))
                }
                SetupState::Pending(why) => {
                    return SinkHealth::Unhealthy(match why {
                        Some(why) => format!("stream `{stream}` not set up yet: {why}"),
                        None => format!("stream `{stream}` not set up yet"),
                    })
                }
            }
            match tokio::time::timeout(self.ack_timeout, js.get_stream(stream)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return SinkHealth::Unhealthy(format!("stream `{stream}`: {e}")),
                Err(_) => {
                    return SinkHealth::Unhealthy(format!(
                        "stream `{stream}`: no answer within {:?}",
                        self.ack_timeout
                    ))
                }
            }
        }
        SinkHealth::Healthy
    }
}
