//! Unit tests of the file sink: durability contract, concurrency, rotation, dead-letter files.

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Sink, SinkHealth};

use vodbridge_test_support::metrics::metric;

use crate::{FileSink, FileSinkConfig, FileSinkMetrics};

fn event(id: usize, ty: &str) -> CanonicalEvent {
    vodbridge_test_support::event(format!("id-{id}"), ty)
        .media(&format!("media-{id}"))
        .source("test")
        .time("2024-01-01T00:00:00Z")
        .data(&format!(r#"{{"n":{id},"pad":"{}"}}"#, "x".repeat(100)))
        .build()
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON object"))
        .collect()
}

fn open(config: FileSinkConfig) -> (FileSink, Registry) {
    let registry = Registry::new();
    let metrics = FileSinkMetrics::register("file", &registry).expect("register");
    (
        FileSink::open("file", config, metrics).expect("open"),
        registry,
    )
}

#[tokio::test]
async fn publish_is_on_disk_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/events.jsonl");
    let (sink, registry) = open(FileSinkConfig::new(&path));
    sink.publish(&[
        event(1, "vod.media.uploaded"),
        event(2, "vod.media.deleted"),
    ])
    .await
    .expect("publish");
    let got = lines(&path);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["id"], "id-1");
    assert_eq!(got[1]["type"], "vod.media.deleted");
    assert_eq!(got[0]["specversion"], "1.0");
    assert_eq!(
        metric(&registry, "vodbridge_file_sink_fsyncs_total", &[]),
        1.0
    );
    assert!(metric(&registry, "vodbridge_file_sink_bytes_written_total", &[]) > 200.0);
    let commit = registry
        .gather()
        .into_iter()
        .find(|f| f.name() == "vodbridge_file_sink_commit_seconds")
        .expect("commit histogram registered");
    let commit = commit.get_metric()[0].get_histogram();
    assert_eq!(commit.get_sample_count(), 1, "one commit timed");
    assert!(commit.get_sample_sum() > 0.0, "write + fdatasync take time");
    assert_eq!(sink.health().await, SinkHealth::Healthy);
    sink.flush(Duration::from_secs(1)).await.expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_all_land_and_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let (sink, registry) = open(FileSinkConfig::new(&path));
    let sink = Arc::new(sink);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                sink.publish(&[event(2 * i, "a"), event(2 * i + 1, "b")])
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("publish");
    }
    let got = lines(&path);
    assert_eq!(got.len(), 400);
    let mut ids: Vec<String> = got
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400, "no line lost or duplicated");
    // Each pair of a batch is contiguous: a batch is never interleaved with another.
    for pair in got.chunks(2) {
        let a: usize = pair[0]["data"]["n"].as_u64().expect("n") as usize;
        assert_eq!(pair[1]["data"]["n"].as_u64(), Some(a as u64 + 1));
    }
    let fsyncs = metric(&registry, "vodbridge_file_sink_fsyncs_total", &[]);
    assert!((1.0..=200.0).contains(&fsyncs), "fsyncs = {fsyncs}");
}

#[tokio::test]
async fn rotates_by_size_and_keeps_max_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let mut config = FileSinkConfig::new(&path);
    config.rotate_bytes = 1000;
    config.max_files = 2;
    let (sink, registry) = open(config);
    for i in 0..30 {
        sink.publish(&[event(i, "vod.media.uploaded")])
            .await
            .expect("publish");
    }
    // Rotation runs right after the acknowledgement; a flush waits until the writer is idle.
    sink.flush(Duration::from_secs(5)).await.expect("flush");
    let rotated1 = dir.path().join("events.jsonl.1");
    let rotated2 = dir.path().join("events.jsonl.2");
    assert!(rotated1.exists() && rotated2.exists());
    assert!(
        !dir.path().join("events.jsonl.3").exists(),
        "only max_files rotated files are kept"
    );
    assert!(metric(&registry, "vodbridge_file_sink_rotations_total", &[]) >= 3.0);
    for p in [&path, &rotated1, &rotated2] {
        for line in lines(p) {
            assert!(line["id"].as_str().is_some());
        }
        assert!(std::fs::metadata(p).expect("meta").len() < 1000 + 400);
    }
    // Oldest to newest: .2, .1, active; numbering keeps the order and the newest event is last.
    let ordered: Vec<u64> = [&rotated2, &rotated1, &path]
        .iter()
        .flat_map(|p| lines(p))
        .map(|v| v["data"]["n"].as_u64().expect("n"))
        .collect();
    assert!(ordered.windows(2).all(|w| w[1] == w[0] + 1), "{ordered:?}");
    assert_eq!(ordered.last(), Some(&29));
}

#[tokio::test]
async fn type_filter_and_publish_to_separate_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let dead = dir.path().join("dead/deadletter.jsonl");
    let mut config = FileSinkConfig::new(&path);
    config.types = vec!["vod.media.*".into()];
    let (sink, _registry) = open(config);
    sink.publish(&[
        event(1, "vod.media.uploaded"),
        event(2, "vod.workflow.completed"),
    ])
    .await
    .expect("publish");
    sink.publish_to(
        dead.to_str().expect("utf8"),
        &[event(3, "vodbridge.deadletter")],
    )
    .await
    .expect("publish_to");
    assert_eq!(
        lines(&path).len(),
        1,
        "the filter dropped the workflow event"
    );
    let dl = lines(&dead);
    assert_eq!(dl.len(), 1);
    assert_eq!(
        dl[0]["type"], "vodbridge.deadletter",
        "publish_to ignores the type filter"
    );
    sink.flush(Duration::from_secs(1)).await.expect("flush");
}

#[tokio::test]
async fn appends_to_an_existing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, "{\"id\":\"old\"}\n").expect("seed");
    let (sink, _registry) = open(FileSinkConfig::new(&path));
    sink.publish(&[event(1, "t")]).await.expect("publish");
    let got = lines(&path);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["id"], "old");
}

#[tokio::test]
async fn an_unfinished_last_line_from_a_crash_is_cut_before_appending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    // A crash in the middle of a write: half a line, never acknowledged.
    std::fs::write(&path, "{\"id\":\"old\"}\n{\"id\":\"tor").expect("seed");
    let (sink, _registry) = open(FileSinkConfig::new(&path));
    sink.publish(&[event(1, "t")]).await.expect("publish");
    let got = lines(&path);
    assert_eq!(
        got.len(),
        2,
        "the half line is gone, nothing is glued to it"
    );
    assert_eq!(got[0]["id"], "old");
    assert_eq!(got[1]["id"], "id-1");

    // Nothing complete at all: the file starts again from empty.
    let path = dir.path().join("only-torn.jsonl");
    std::fs::write(&path, vec![b'x'; 100_000]).expect("seed");
    let (sink, _registry) = open(FileSinkConfig::new(&path));
    sink.publish(&[event(2, "t")]).await.expect("publish");
    let got = lines(&path);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["id"], "id-2");
}

#[tokio::test]
async fn unwritable_directory_is_unhealthy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let (sink, _registry) = open(FileSinkConfig::new(&path));
    assert_eq!(sink.health().await, SinkHealth::Healthy);
    drop(dir); // the directory disappears under the sink
    assert!(matches!(sink.health().await, SinkHealth::Unhealthy(_)));
}

#[tokio::test]
async fn pretty_printed_data_still_gives_one_line_per_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let (sink, _registry) = open(FileSinkConfig::new(&path));
    let mut ev = event(1, "t");
    ev.data = RawValue::from_string("{\n  \"original\": {\r\n    \"a\": \"x\\ny\"\n  }\n}".into())
        .expect("json");
    sink.publish(&[ev, event(2, "t")]).await.expect("publish");
    let got = lines(&path);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0]["data"]["original"]["a"], "x\ny",
        "escaped newlines inside strings are kept"
    );
}

#[tokio::test]
async fn two_spellings_of_one_file_share_its_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    std::fs::create_dir_all(dir.path().join("sub")).expect("sub");
    let (sink, _registry) = open(FileSinkConfig::new(&path));
    // The main file through a detour, and a dead-letter file spelled two ways.
    let detour = dir.path().join("sub/../events.jsonl");
    let dead = dir.path().join("dead.jsonl");
    let dead_detour = dir.path().join("sub/../dead.jsonl");
    for (i, dest) in [&detour, &dead, &dead_detour, &detour, &dead_detour]
        .into_iter()
        .enumerate()
    {
        sink.publish_to(
            dest.to_str().expect("utf8"),
            &[event(i, "vod.media.uploaded")],
        )
        .await
        .expect("publish_to");
    }
    sink.publish(&[event(100, "vod.media.uploaded")])
        .await
        .expect("publish");
    assert_eq!(lines(&path).len(), 3);
    assert_eq!(lines(&dead).len(), 3);
    let others = sink.others.lock().expect("lock");
    let (to_main, elsewhere): (Vec<_>, Vec<_>) =
        others.values().partition(|tx| tx.same_channel(&sink.main));
    assert_eq!(
        to_main.len(),
        1,
        "the detour goes to the main file's writer"
    );
    assert!(
        elsewhere.windows(2).all(|w| w[0].same_channel(w[1])),
        "both spellings of the dead-letter file share one writer"
    );
}
