//! Errors raised while building a NATS sink (start-up). Publish failures are reported as
//! [`vodbridge_core::SinkError`], classified retriable or permanent.

/// Building the NATS sink failed; the binary refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum NatsSinkError {
    /// The subject template is invalid.
    #[error("invalid subject template")]
    Template(#[source] vodbridge_core::TemplateError),
    /// The configuration is inconsistent (for example `user` without `password`).
    #[error("invalid nats sink configuration: {0}")]
    Config(String),
    /// The credentials file could not be read.
    #[error("cannot read credentials file `{path}`")]
    Credentials {
        /// The configured path.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server refused the connection for a reason a retry cannot fix (credentials,
    /// authorization, TLS set-up) or the URL is malformed. An unreachable server is not an
    /// error: the sink starts disconnected and keeps connecting.
    #[error("cannot connect to nats at `{url}`")]
    Connect {
        /// The configured URL(s).
        url: String,
        /// What the client reported.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The server, reachable at start-up, refused to create or update the configured stream
    /// (for example its subjects overlap another stream). Outages are not an error: the set-up
    /// is retried once the server is there.
    #[error("cannot create or update stream `{stream}`")]
    Stream {
        /// The stream name.
        stream: String,
        /// What the server reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Registering the sink's metrics failed (for example two sinks with the same name).
    #[error("cannot register nats sink metrics")]
    Metrics(#[source] prometheus::Error),
}
