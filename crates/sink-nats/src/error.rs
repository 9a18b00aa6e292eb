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
    /// The first connection to the server failed.
    #[error("cannot connect to nats at `{url}`")]
    Connect {
        /// The configured URL(s).
        url: String,
        /// What the client reported.
        #[source]
        source: async_nats::ConnectError,
    },
    /// Creating or updating the configured stream failed.
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
