//! The optional JetStream stream (`[sinks.stream]`): created or updated once per process, as
//! soon as the connection is up.
//!
//! At start-up [`StreamSetup::start`] tries once when the client is already connected. When the
//! server is unreachable, or answers with something that clears up by itself (no JetStream
//! responders yet, a timeout, no cluster leader), a background task takes over: it waits for the
//! connection, tries again with a growing pause (250 ms up to 5 s) and stops after the first
//! success, so the set-up runs to completion exactly once. Until then publishes fail as
//! retriable `no_stream` and the health check reports not ready.
//!
//! A refusal that only an operator can fix (the subjects overlap another stream, replicas the
//! server cannot have, an invalid configuration) is loud: at start-up with the server reachable
//! it fails [`crate::connect`] as before; found later, it is logged at ERROR, the health check
//! reports it, and it is retried every 5 s growing to 60 s so the bridge recovers by itself
//! once the operator has fixed the server side.

use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamError, CreateStreamErrorKind};
use async_nats::jetstream::{self, stream, ErrorCode};
use async_nats::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::{StreamConfig, StreamStorage};
use crate::error::NatsSinkError;

/// First pause after a failure that clears up by itself, doubled up to [`TRANSIENT_MAX`].
const TRANSIENT_FIRST: Duration = Duration::from_millis(250);
const TRANSIENT_MAX: Duration = Duration::from_secs(5);
/// First pause after a refusal only an operator can fix, doubled up to [`REFUSED_MAX`].
const REFUSED_FIRST: Duration = Duration::from_secs(5);
const REFUSED_MAX: Duration = Duration::from_secs(60);
/// How often the set-up task looks at the connection state while the server is away.
const CONNECTION_POLL: Duration = Duration::from_millis(100);

/// JetStream API errors that say "not now" rather than "not like this": cluster and leader
/// elections, typically for a few moments after a server restart.
const TRANSIENT_API_ERRORS: [ErrorCode; 7] = [
    ErrorCode::CLUSTER_NOT_AVAILABLE,
    ErrorCode::CLUSTER_NOT_LEADER,
    ErrorCode::CLUSTER_NOT_ACTIVE,
    ErrorCode::CLUSTER_INCOMPLETE,
    ErrorCode::CLUSTER_NO_PEERS,
    ErrorCode::RAFT_GENERAL,
    ErrorCode::STREAM_ASSIGNMENT,
];

/// Where the stream set-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetupState {
    /// Not done yet: waiting for the connection, or retrying after a failure that clears up by
    /// itself (its text, when there was one).
    Pending(Option<String>),
    /// The server refused the configuration; an operator must act. Retried less often.
    Refused(String),
    /// Created, or updated to match the configuration.
    Ready,
}

/// The configured stream, its set-up state, and the task that completes a deferred set-up.
pub(crate) struct StreamSetup {
    name: String,
    state: watch::Receiver<SetupState>,
    /// Aborted when the sink is dropped, so a sink that never reached its server leaves nothing
    /// running behind.
    _task: Option<AbortOnDrop>,
}

impl StreamSetup {
    /// Set the stream up now when `client` is connected; otherwise (or when the attempt failed
    /// in a way that clears up by itself) leave it to a background task. Fails only when the
    /// server is reachable and refuses the configuration.
    pub(crate) async fn start(
        sink: &str,
        client: &Client,
        js: &jetstream::Context,
        wanted: StreamConfig,
    ) -> Result<Self, NatsSinkError> {
        let name = wanted.name.clone();
        let mut first = SetupState::Pending(None);
        if client.connection_state() == async_nats::connection::State::Connected {
            match ensure_stream(js, &wanted).await {
                Ok(()) => {
                    info!(sink, stream = %name, "stream ready");
                    let (_tx, state) = watch::channel(SetupState::Ready);
                    return Ok(Self {
                        name,
                        state,
                        _task: None,
                    });
                }
                Err(e) if is_refusal(&e) => {
                    return Err(NatsSinkError::Stream {
                        stream: name,
                        source: Box::new(e),
                    })
                }
                Err(e) => {
                    warn!(sink, stream = %name, error = %e, "stream set-up failed, retrying in the background");
                    first = SetupState::Pending(Some(e.to_string()));
                }
            }
        } else {
            warn!(sink, stream = %name, "stream set-up deferred until the nats connection is up");
        }
        let (tx, state) = watch::channel(first);
        let task = tokio::spawn(complete_later(
            sink.to_owned(),
            client.clone(),
            js.clone(),
            wanted,
            tx,
        ));
        Ok(Self {
            name,
            state,
            _task: Some(AbortOnDrop(task)),
        })
    }

    /// The stream name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The current state.
    pub(crate) fn state(&self) -> SetupState {
        self.state.borrow().clone()
    }

    /// `Ok` once the stream is set up. While a set-up may still succeed, waits for it at most
    /// `wait`; a refusal answers at once. The error text says why the stream is not there.
    pub(crate) async fn ready(&self, wait: Duration) -> Result<(), String> {
        if *self.state.borrow() == SetupState::Ready {
            return Ok(());
        }
        let mut state = self.state.clone();
        // A closed channel (task gone) leaves the last state to read below.
        let _ = tokio::time::timeout(
            wait,
            state.wait_for(|s| !matches!(s, SetupState::Pending(_))),
        )
        .await;
        let now = self.state();
        match now {
            SetupState::Ready => Ok(()),
            SetupState::Refused(why) => Err(format!(
                "stream `{}` refused by the server: {why}",
                self.name
            )),
            SetupState::Pending(None) => Err(format!("stream `{}` is not set up yet", self.name)),
            SetupState::Pending(Some(why)) => {
                Err(format!("stream `{}` is not set up yet: {why}", self.name))
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Retry the set-up whenever connected until it succeeds once, publishing each outcome.
async fn complete_later(
    sink: String,
    client: Client,
    js: jetstream::Context,
    wanted: StreamConfig,
    state: watch::Sender<SetupState>,
) {
    let mut transient_pause = TRANSIENT_FIRST;
    let mut refused_pause = REFUSED_FIRST;
    loop {
        // Attempting while disconnected would only time out; wait for the client instead.
        while client.connection_state() != async_nats::connection::State::Connected {
            tokio::time::sleep(CONNECTION_POLL).await;
        }
        let pause = match ensure_stream(&js, &wanted).await {
            Ok(()) => {
                info!(sink = %sink, stream = %wanted.name, "stream ready (deferred set-up done)");
                state.send_replace(SetupState::Ready);
                return;
            }
            Err(e) if is_refusal(&e) => {
                error!(sink = %sink, stream = %wanted.name, error = %e, retry_in = ?refused_pause, "server refused the stream configuration; events for this sink are not accepted until it is fixed");
                state.send_replace(SetupState::Refused(e.to_string()));
                let pause = refused_pause;
                refused_pause = (refused_pause * 2).min(REFUSED_MAX);
                pause
            }
            Err(e) => {
                warn!(sink = %sink, stream = %wanted.name, error = %e, retry_in = ?transient_pause, "stream set-up failed, retrying");
                state.send_replace(SetupState::Pending(Some(e.to_string())));
                let pause = transient_pause;
                transient_pause = (transient_pause * 2).min(TRANSIENT_MAX);
                pause
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// True when retrying cannot help until an operator changes the configuration or the server:
/// the server answered and said no, or the request itself is invalid.
pub(crate) fn is_refusal(e: &CreateStreamError) -> bool {
    match e.kind() {
        CreateStreamErrorKind::JetStreamUnavailable
        | CreateStreamErrorKind::TimedOut
        | CreateStreamErrorKind::Response
        | CreateStreamErrorKind::NotFound
        | CreateStreamErrorKind::ResponseParse => false,
        CreateStreamErrorKind::JetStream(api) => !TRANSIENT_API_ERRORS.contains(&api.error_code()),
        CreateStreamErrorKind::EmptyStreamName
        | CreateStreamErrorKind::InvalidStreamName
        | CreateStreamErrorKind::DomainAndExternalSet => true,
    }
}

/// Create the stream when missing; when it exists with other subjects, age limit, duplicate
/// window or replicas, update just those fields so settings an operator made by hand (byte
/// limits, placement, …) survive a restart of the bridge. Idempotent, so an attempt cut short
/// (timeout, lost connection) is simply made again.
async fn ensure_stream(
    js: &jetstream::Context,
    wanted: &StreamConfig,
) -> Result<(), CreateStreamError> {
    let fresh = stream::Config {
        name: wanted.name.clone(),
        subjects: wanted.subjects.clone(),
        max_age: wanted.max_age.unwrap_or_default(),
        duplicate_window: wanted.duplicate_window.unwrap_or_default(),
        num_replicas: wanted.replicas,
        storage: match wanted.storage {
            StreamStorage::File => stream::StorageType::File,
            StreamStorage::Memory => stream::StorageType::Memory,
        },
        ..Default::default()
    };
    let existing = js.get_or_create_stream(fresh).await?;
    let mut config = existing.cached_info().config.clone();
    let mut changed = false;
    let mut want_subjects = wanted.subjects.clone();
    let mut have_subjects = config.subjects.clone();
    want_subjects.sort();
    have_subjects.sort();
    if want_subjects != have_subjects {
        config.subjects = wanted.subjects.clone();
        changed = true;
    }
    if let Some(max_age) = wanted.max_age.filter(|a| *a != config.max_age) {
        config.max_age = max_age;
        changed = true;
    }
    if let Some(window) = wanted
        .duplicate_window
        .filter(|w| *w != config.duplicate_window)
    {
        config.duplicate_window = window;
        changed = true;
    }
    if wanted.replicas != config.num_replicas {
        config.num_replicas = wanted.replicas;
        changed = true;
    }
    if changed {
        js.update_stream(config).await?;
        info!(stream = %wanted.name, "stream configuration updated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: ErrorCode) -> CreateStreamError {
        let api: jetstream::Error = serde_json::from_value(serde_json::json!({
            "code": 400, "err_code": code.0, "description": "test"
        }))
        .expect("api error json");
        CreateStreamError::new(CreateStreamErrorKind::JetStream(api))
    }

    #[test]
    fn conflicts_are_refusals_and_outages_are_not() {
        assert!(is_refusal(&api_error(ErrorCode::STREAM_SUBJECT_OVERLAP)));
        assert!(is_refusal(&api_error(
            ErrorCode::STREAM_REPLICAS_NOT_SUPPORTED
        )));
        assert!(is_refusal(&api_error(ErrorCode::STREAM_INVALID_CONFIG)));
        assert!(!is_refusal(&api_error(ErrorCode::CLUSTER_NOT_AVAILABLE)));
        for kind in [
            CreateStreamErrorKind::JetStreamUnavailable,
            CreateStreamErrorKind::TimedOut,
            CreateStreamErrorKind::Response,
        ] {
            assert!(!is_refusal(&CreateStreamError::new(kind.clone())), "{kind}");
        }
        assert!(is_refusal(&CreateStreamError::new(
            CreateStreamErrorKind::InvalidStreamName
        )));
    }
}
