//! Optional stream set-up at start-up (`[sinks.stream]`).

use async_nats::jetstream::{self, stream};
use tracing::info;

use crate::config::{StreamConfig, StreamStorage};
use crate::error::NatsSinkError;

/// Create the stream when missing; when it exists with other subjects, age limit, duplicate
/// window or replicas, update just those fields so settings an operator made by hand (byte
/// limits, placement, …) survive a restart of the bridge.
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    wanted: &StreamConfig,
) -> Result<(), NatsSinkError> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| NatsSinkError::Stream {
        stream: wanted.name.clone(),
        source,
    };
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
    let existing = js
        .get_or_create_stream(fresh)
        .await
        .map_err(|e| fail(Box::new(e)))?;
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
        js.update_stream(config)
            .await
            .map_err(|e| fail(Box::new(e)))?;
        info!(stream = %wanted.name, "stream configuration updated");
    }
    Ok(())
}
