//! Connection options from the configuration: authentication, TLS, timeouts and connection
//! event logging.

use async_nats::ConnectOptions;
use tracing::{error, info, warn};

use crate::config::NatsSinkConfig;
use crate::error::NatsSinkError;

pub(crate) async fn connect_options(
    name: &str,
    config: &NatsSinkConfig,
) -> Result<ConnectOptions, NatsSinkError> {
    let sink = name.to_owned();
    let mut options = ConnectOptions::new()
        .name(format!("vodbridge/{name}"))
        .connection_timeout(config.connect_timeout)
        .require_tls(config.tls_required)
        .event_callback(move |event| {
            let sink = sink.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        info!(sink = %sink, "nats connection (re)established")
                    }
                    async_nats::Event::Disconnected => {
                        warn!(sink = %sink, "nats connection lost, reconnecting")
                    }
                    async_nats::Event::Closed => error!(sink = %sink, "nats connection closed"),
                    other => warn!(sink = %sink, event = %other, "nats connection event"),
                }
            }
        });
    match (&config.user, &config.password) {
        (Some(user), Some(password)) => {
            options = options.user_and_password(user.clone(), password.expose().to_owned());
        }
        (None, None) => {}
        _ => {
            return Err(NatsSinkError::Config(
                "`user` and `password` must be set together".into(),
            ))
        }
    }
    if let Some(token) = &config.token {
        options = options.token(token.expose().to_owned());
    }
    if let Some(seed) = &config.nkey_seed {
        options = options.nkey(seed.expose().to_owned());
    }
    if let Some(path) = &config.credentials_file {
        options =
            options
                .credentials_file(path)
                .await
                .map_err(|source| NatsSinkError::Credentials {
                    path: path.clone(),
                    source,
                })?;
    }
    if let Some(ca) = &config.ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            options = options.add_client_certificate(cert.clone(), key.clone())
        }
        (None, None) => {}
        _ => {
            return Err(NatsSinkError::Config(
                "`client_cert` and `client_key` must be set together".into(),
            ))
        }
    }
    Ok(options)
}
