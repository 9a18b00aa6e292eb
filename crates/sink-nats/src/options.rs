//! Connection options from the configuration (authentication, TLS, timeouts, connection event
//! logging) and the first connection.
//!
//! The first connection is tried once, bounded by `connect_timeout`. When the server answers,
//! that client is used. When it refuses what only configuration can fix (credentials,
//! authorization, TLS set-up, a malformed URL) start-up fails loudly. When it cannot be reached
//! at all (refused, timed out, DNS), the sink starts anyway with a client that keeps connecting
//! in the background (`retry_on_initial_connect`): the bridge comes up, answers 503 until the
//! server is there, and delivers from then on without a restart.

use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions};
use tracing::{error, info, warn};

use crate::config::NatsSinkConfig;
use crate::error::NatsSinkError;

/// A client for `config`: connected when the server answered within `connect_timeout`,
/// otherwise still connecting in the background. Errors only for what a retry cannot fix.
pub async fn connect_client(name: &str, config: &NatsSinkConfig) -> Result<Client, NatsSinkError> {
    let urls: Vec<String> = config.url.split(',').map(|u| u.trim().to_owned()).collect();
    let fail = |source| NatsSinkError::Connect {
        url: config.url.clone(),
        source,
    };
    let options = connect_options(name, config).await?;
    // The client's own timeout applies per server and address; this bounds the whole attempt.
    match tokio::time::timeout(config.connect_timeout, options.connect(urls.clone())).await {
        Ok(Ok(client)) => {
            info!(sink = %name, url = %config.url, jetstream = config.jetstream, "connected to nats");
            return Ok(client);
        }
        Ok(Err(e)) if is_configuration_error(&e.kind()) => return Err(fail(e)),
        Ok(Err(e)) => {
            warn!(sink = %name, url = %config.url, error = %e, "nats unreachable at start-up; connecting in the background, not ready until connected");
        }
        Err(_) => {
            warn!(sink = %name, url = %config.url, timeout = ?config.connect_timeout, "nats did not answer at start-up; connecting in the background, not ready until connected");
        }
    }
    // Returns at once: the connection is made by the client's own task, which retries forever.
    connect_options(name, config)
        .await?
        .retry_on_initial_connect()
        .connect(urls)
        .await
        .map_err(fail)
}

/// Connection failures a retry cannot fix: the server (or the URL) says the configuration is
/// wrong. Everything else (refused, timed out, DNS) means "not there yet".
fn is_configuration_error(kind: &ConnectErrorKind) -> bool {
    matches!(
        kind,
        ConnectErrorKind::ServerParse
            | ConnectErrorKind::Authentication
            | ConnectErrorKind::AuthorizationViolation
            | ConnectErrorKind::Tls
    )
}

/// Pause before reconnection attempt `attempts` (1 is the first): none, then doubling from
/// 100 ms to at most 1 s, so a server that is back is found within about a second; the client's
/// default grows to 4 s, which a spool's backlog and a vendor's retries would wait out.
fn reconnect_delay(attempts: usize) -> Duration {
    match attempts {
        0 | 1 => Duration::ZERO,
        n => {
            let doublings = u32::try_from(n - 2).unwrap_or(u32::MAX).min(4);
            (Duration::from_millis(100) * 2u32.pow(doublings)).min(Duration::from_secs(1))
        }
    }
}

/// Options for one connection attempt (built twice when the first attempt finds no server).
async fn connect_options(
    name: &str,
    config: &NatsSinkConfig,
) -> Result<ConnectOptions, NatsSinkError> {
    let sink = name.to_owned();
    let mut options = ConnectOptions::new()
        .name(format!("vodbridge/{name}"))
        .connection_timeout(config.connect_timeout)
        .reconnect_delay_callback(reconnect_delay)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_at_once_then_back_off_to_one_second() {
        let delays: Vec<u128> = (1..=8).map(|n| reconnect_delay(n).as_millis()).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(reconnect_delay(usize::MAX), Duration::from_secs(1));
    }
}
