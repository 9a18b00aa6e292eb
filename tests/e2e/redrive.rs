//! End to end for `vodbridge redrive` and `vodbridge replay` with the real binary and real
//! brokers. A running bridge turns an authenticated callback sent with a `Content-Type` no vendor
//! uses, and an invalid body, into dead letters, and an unknown vendor type into `vod.unmapped`;
//! `redrive` then reads them back from the file sink, a Kafka topic and a JetStream stream. The
//! redriven upload must equal what a direct callback of the same body gives (same `id`, `type`
//! and `data`), the invalid body must be dead-lettered again (same id, counted by reason),
//! bad records are counted with their line, a second redrive adds nothing to a JetStream stream
//! with duplicate detection, and `replay --types --since --until` publishes exactly the events
//! that match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;
use serde_json::Value;
use vodbridge_test_support::kafka::KafkaBroker;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::kafka_read::read_topic;
use vodbridge_tests::{
    callback_config, free_port, nats_sink_toml, read_lines, run_vodbridge, Bridge, CommandOutput,
};

const UPLOADED: &str = "vod.media.uploaded";
/// A body that is not JSON: a dead letter now and after any mapping change.
const INVALID: &str = "{\"EventType\": broken";
/// A vendor type no release maps: forwarded as `vod.unmapped`.
const UNMAPPED: &str =
    r#"{"EventType":"BrandNewThing","BrandNewThingEvent":{"TaskId":"t-9","FileId":"f-9"}}"#;

fn upload_body() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tencent/new_file_upload.json");
    std::fs::read_to_string(path).expect("fixture")
}

/// POST `body` to the `tencent` source with `content_type`; the status.
async fn post(listen: u16, body: &str, content_type: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent"))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("callback answered")
        .status()
        .as_u16()
}

/// The three callbacks every test sends first: the upload with a `Content-Type` no vendor uses
/// (415, a dead letter), an invalid body (400, a dead letter) and an unknown type (200,
/// `vod.unmapped`).
async fn send_failures(listen: u16) {
    assert_eq!(post(listen, &upload_body(), "text/html").await, 415);
    assert_eq!(post(listen, INVALID, "application/json").await, 400);
    assert_eq!(post(listen, UNMAPPED, "application/json").await, 200);
}

fn write_config(dir: &Path, name: &str, config: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, config).expect("write config");
    path
}

/// `vodbridge redrive|replay --config CONFIG --input INPUT EXTRA…`.
fn backfill(command: &str, config: &Path, input: &str, extra: &[&str]) -> CommandOutput {
    let mut args = vec![command.to_owned(), "--config".to_owned()];
    args.push(config.display().to_string());
    args.extend(["--input".to_owned(), input.to_owned()]);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    run_vodbridge(args)
}

/// The first line of the summary (`redrive: read …`), panicking with the output when absent.
fn summary_line<'a>(out: &'a CommandOutput, command: &str) -> &'a str {
    out.stderr
        .lines()
        .find(|l| l.starts_with(&format!("{command}: read ")))
        .unwrap_or_else(|| panic!("no summary; stderr:\n{}", out.stderr))
}

fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_and_unmapped_events_are_redriven_from_the_file_sink() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events_path = dir.path().join("events.jsonl");
    // No [dead_letter]: dead letters go to deadletter.jsonl beside the file sink's path.
    let dead_path = dir.path().join("deadletter.jsonl");
    let (listen, admin) = (free_port(), free_port());
    let tables = format!(
        "\n[[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
        events_path.display()
    );
    let config_text = callback_config(listen, admin, &tables);
    let config = write_config(dir.path(), "redrive.toml", &config_text);
    let direct = {
        let _bridge = Bridge::start(dir.path(), &config_text, admin).await;
        send_failures(listen).await;
        // The same upload as it should have been sent: the reference for the redriven one.
        assert_eq!(post(listen, &upload_body(), "application/json").await, 200);
        let events = read_lines(&events_path);
        of_type(&events, UPLOADED)
            .first()
            .copied()
            .cloned()
            .expect("the direct upload event")
    };
    let letters = read_lines(&dead_path);
    assert_eq!(letters.len(), 2, "{letters:?}");
    let invalid_id = letters[1]["id"].clone();

    // Bad input the run must count and go on past: a line that is not JSON, and an event of
    // another type (lines 3 and 4).
    let mut text = std::fs::read_to_string(&dead_path).expect("dead letters");
    text.push_str("this is not json\n");
    text.push_str(&format!("{direct}\n"));
    std::fs::write(&dead_path, text).expect("append bad lines");
    let input = dead_path.display().to_string();

    // A dry run prints what each record would become and publishes nothing.
    let before = std::fs::read_to_string(&events_path).expect("events");
    let dry = backfill("redrive", &config, &input, &["--dry-run"]);
    assert_eq!(
        dry.code,
        Some(1),
        "still failing and bad records: {}",
        dry.stderr
    );
    let printed: Vec<Value> = dry
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("one JSON object per line: {e}: {l}"))
        })
        .collect();
    assert_eq!(printed.len(), 3, "{}", dry.stdout);
    assert_eq!(printed[0]["id"], direct["id"]);
    assert_eq!(printed[1]["error"], "not_json", "{}", dry.stdout);
    assert_eq!(printed[2]["error"], "not_json");
    assert_eq!(printed[2]["at"], format!("{input}:3"));
    assert_eq!(
        std::fs::read_to_string(&events_path).expect("events"),
        before
    );

    let out = backfill("redrive", &config, &input, &[]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(
        summary_line(&out, "redrive"),
        "redrive: read 4, published 1, dead-lettered again 1, skipped 1, bad 1, failed 0",
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("  skipped: other_type 1"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("  bad: not_json 1"), "{}", out.stderr);
    assert!(
        out.stderr.contains("  still failing: not_json 1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{input}:3")),
        "the bad line is named: {}",
        out.stderr
    );
    let events = read_lines(&events_path);
    let uploads = of_type(&events, UPLOADED);
    assert_eq!(uploads.len(), 2, "direct and redriven: {events:?}");
    for attribute in ["id", "type", "data", "source", "subject", "partitionkey"] {
        assert_eq!(uploads[1][attribute], direct[attribute], "{attribute}");
    }
    // The redrive continues the dead letter's trace.
    let letter_trace = &letters[0]["traceparent"].as_str().expect("traceparent")[3..35];
    let redriven_trace = &uploads[1]["traceparent"].as_str().expect("traceparent")[3..35];
    assert_eq!(letter_trace, redriven_trace);
    // What still fails is a dead letter again, with the same id; the run ended at the file's
    // length when it began, though its own dead letter was appended to it.
    // (Line 3 is the test's own non-JSON line: skipped here.)
    let letters: Vec<Value> = std::fs::read_to_string(&dead_path)
        .expect("dead letters")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(letters.len(), 4, "{letters:?}");
    assert_eq!(letters[3]["id"], invalid_id);

    // An older release that did not map NewFileUpload forwarded it as `vod.unmapped`: redriving
    // it with today's mapping gives the direct event; today's unmapped type stays unmapped.
    let unmapped = of_type(&events, "vod.unmapped")
        .first()
        .copied()
        .cloned()
        .expect("the unmapped event");
    let mut old = direct.clone();
    old["type"] = "vod.unmapped".into();
    old["id"] = "older-release-unmapped".into();
    let old_path = dir.path().join("older-release.jsonl");
    std::fs::write(&old_path, format!("{old}\n{unmapped}\n")).expect("write");
    let out = backfill("redrive", &config, &old_path.display().to_string(), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        summary_line(&out, "redrive"),
        "redrive: read 2, published 1, dead-lettered again 0, skipped 1, bad 0, failed 0"
    );
    assert!(
        out.stderr.contains("  skipped: still_unmapped 1"),
        "{}",
        out.stderr
    );
    let events = read_lines(&events_path);
    let last = events.last().expect("the redriven event");
    assert_eq!(last["id"], direct["id"]);
    assert_eq!(last["type"], UPLOADED);
    assert_eq!(last["data"], direct["data"]);
}

/// Kafka records of `topic` from the beginning: `(ce_id, ce_type, value)`, until `want`
/// arrived or a minute passed.
fn read_kafka(brokers: &str, topic: &str, want: usize) -> Vec<(String, String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    tokio::task::block_in_place(|| read_topic(brokers, topic, want, deadline))
        .into_iter()
        .map(|r| {
            (
                r.header("ce_id").to_owned(),
                r.header("ce_type").to_owned(),
                r.value,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_redriven_from_a_kafka_topic_and_a_second_run_resumes() {
    let broker = KafkaBroker::start().await;
    let brokers = broker.bootstrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let tables = format!(
        r#"
[[sinks]]
name = "kafka"
type = "kafka"
brokers = "{brokers}"
topic = "{{type}}"
mode = "binary"
create_topics = true
partitions = 1

[dead_letter]
sink = "kafka"
destination = "vodbridge.deadletter"
"#
    );
    let config_text = callback_config(listen, admin, &tables);
    let config = write_config(dir.path(), "redrive.toml", &config_text);
    let _bridge = Bridge::start(dir.path(), &config_text, admin).await;
    send_failures(listen).await;
    assert_eq!(post(listen, &upload_body(), "application/json").await, 200);

    // Redriven while the bridge runs, as an operator would.
    let out = backfill("redrive", &config, "kafka://vodbridge.deadletter", &[]);
    assert_eq!(
        out.code,
        Some(1),
        "the invalid body still fails: {}",
        out.stderr
    );
    assert_eq!(
        summary_line(&out, "redrive"),
        "redrive: read 2, published 1, dead-lettered again 1, skipped 0, bad 0, failed 0",
        "{}",
        out.stderr
    );
    let uploads = read_kafka(&brokers, UPLOADED, 2);
    assert_eq!(uploads.len(), 2, "direct and redriven");
    assert_eq!(uploads[0].0, uploads[1].0, "same id");
    assert_eq!(uploads[1].1, UPLOADED);
    assert_eq!(uploads[0].2, uploads[1].2, "same data");
    let letters = read_kafka(&brokers, "vodbridge.deadletter", 3);
    assert_eq!(letters.len(), 3, "the invalid body dead-lettered again");
    assert_eq!(letters[2].0, letters[1].0, "with its id");

    // The group committed what it read: a second run starts after it, at its own dead letter.
    let again = backfill("redrive", &config, "kafka://vodbridge.deadletter", &[]);
    assert_eq!(
        summary_line(&again, "redrive"),
        "redrive: read 1, published 0, dead-lettered again 1, skipped 0, bad 0, failed 0",
        "{}",
        again.stderr
    );
    // The unmapped type is still unmapped: nothing to publish, and a clean exit.
    let unmapped = backfill("redrive", &config, "kafka://vod.unmapped", &[]);
    assert_eq!(unmapped.code, Some(0), "{}", unmapped.stderr);
    assert!(
        unmapped.stderr.contains("  skipped: still_unmapped 1"),
        "{}",
        unmapped.stderr
    );
}

/// Every message of the `VOD` stream: `(subject, event)`.
async fn read_stream(url: &str) -> Vec<(String, Value)> {
    let client = async_nats::connect(url).await.expect("reader");
    let stream = jetstream::new(client)
        .get_stream("VOD")
        .await
        .expect("stream VOD");
    let mut reader: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let total = reader.info().await.expect("consumer info").num_pending as usize;
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < total && Instant::now() < deadline {
        let mut batch = reader
            .fetch()
            .max_messages(100)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        while let Some(msg) = batch.next().await {
            let msg = msg.expect("message");
            let event = serde_json::from_slice(&msg.payload).expect("structured CloudEvent");
            out.push((msg.subject.to_string(), event));
        }
    }
    out
}

fn count_by_subject(messages: &[(String, Value)]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (subject, _) in messages {
        *counts.entry(subject.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_redriven_from_a_jetstream_stream_and_twice_adds_nothing() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config_text = callback_config(listen, admin, &nats_sink_toml(&nats.url()));
    let config = write_config(dir.path(), "redrive.toml", &config_text);
    let _bridge = Bridge::start(dir.path(), &config_text, admin).await;
    send_failures(listen).await;

    let out = backfill("redrive", &config, "nats://deadletter.vod", &[]);
    assert_eq!(
        out.code,
        Some(1),
        "the invalid body still fails: {}",
        out.stderr
    );
    assert_eq!(
        summary_line(&out, "redrive"),
        "redrive: read 2, published 1, dead-lettered again 1, skipped 0, bad 0, failed 0",
        "{}",
        out.stderr
    );
    let first = read_stream(&nats.url()).await;
    let counts = count_by_subject(&first);
    assert_eq!(counts.get(UPLOADED), Some(&1), "{counts:?}");
    // The dead letter published again has the id of the first: duplicate detection drops it.
    assert_eq!(counts.get("deadletter.vod"), Some(&2), "{counts:?}");

    // The direct callback of the same body has the redriven event's id: JetStream drops it as a
    // duplicate. Its data is what `vodbridge normalize` gives for the body.
    assert_eq!(post(listen, &upload_body(), "application/json").await, 200);
    let redriven = &first.iter().find(|(s, _)| s == UPLOADED).expect("upload").1;
    let body = dir.path().join("upload.json");
    std::fs::write(&body, upload_body()).expect("write body");
    let normalized = run_vodbridge([
        "normalize".as_ref(),
        "--provider".as_ref(),
        "tencent".as_ref(),
        "--source".as_ref(),
        "tencent".as_ref(),
        body.as_os_str(),
    ]);
    let expected: Value = serde_json::from_str(normalized.stdout.trim()).expect("one event");
    assert_eq!(redriven["id"], expected["id"]);
    assert_eq!(redriven["type"], expected["type"]);
    assert_eq!(redriven["data"], expected["data"]);

    let again = backfill("redrive", &config, "nats://deadletter.vod", &[]);
    assert_eq!(again.code, Some(1), "{}", again.stderr);
    let second = read_stream(&nats.url()).await;
    assert_eq!(
        count_by_subject(&second),
        counts,
        "a second redrive adds no ids"
    );
}

/// One canonical event of `ty` at `time` with id `id`, from a real one.
fn event_like(template: &Value, id: &str, ty: &str, time: &str) -> Value {
    let mut event = template.clone();
    event["id"] = id.into();
    event["type"] = ty.into();
    event["time"] = time.into();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_publishes_exactly_the_events_of_its_types_and_time_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = dir.path().join("upload.json");
    std::fs::write(&body, upload_body()).expect("write body");
    let normalized = run_vodbridge([
        "normalize".as_ref(),
        "--provider".as_ref(),
        "tencent".as_ref(),
        body.as_os_str(),
    ]);
    let template: Value = serde_json::from_str(normalized.stdout.trim()).expect("one event");
    let input = dir.path().join("archive.jsonl");
    let events = [
        ("before", UPLOADED, "2026-11-30T23:59:59Z"),
        ("first", UPLOADED, "2026-12-01T00:00:00Z"),
        ("deleted", "vod.media.deleted", "2026-12-01T06:00:00+01:00"),
        (
            "transcode",
            "vod.task.transcode.completed",
            "2026-12-01T12:00:00Z",
        ),
        ("last", UPLOADED, "2026-12-01T23:59:59.999Z"),
        ("after", UPLOADED, "2026-12-02T00:00:00Z"),
    ];
    let mut text = String::new();
    for (id, ty, time) in events {
        text.push_str(&format!("{}\n", event_like(&template, id, ty, time)));
    }
    std::fs::write(&input, text).expect("write archive");
    let out_path = dir.path().join("backfill.jsonl");
    let config = write_config(
        dir.path(),
        "replay.toml",
        &callback_config(
            free_port(),
            free_port(),
            &format!(
                "\n[[sinks]]\nname = \"new\"\ntype = \"file\"\npath = \"{}\"\n",
                out_path.display()
            ),
        ),
    );
    let out = backfill(
        "replay",
        &config,
        &input.display().to_string(),
        &[
            "--types",
            "vod.media.*",
            "--since",
            "2026-12-01T00:00:00Z",
            "--until",
            "2026-12-02T00:00:00Z",
            "--rate",
            "1000",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        summary_line(&out, "replay"),
        "replay: read 6, published 3, dead-lettered again 0, skipped 3, bad 0, failed 0"
    );
    let published = read_lines(&out_path);
    let ids: Vec<&str> = published
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["first", "deleted", "last"]);
    // Unchanged: each is the input line, attribute for attribute.
    assert_eq!(
        published[1],
        event_like(
            &template,
            "deleted",
            "vod.media.deleted",
            "2026-12-01T06:00:00+01:00"
        )
    );
}
