//! End to end for the consumer examples in `examples/consumers/`: the real `vodbridge` binary with
//! a Kafka sink (binary mode) on a test `tansu` broker, a structured JetStream sink on a test
//! `nats-server` and a file sink, one Tencent `NewFileUpload` callback carrying a W3C
//! `traceparent`, then each of the four example programs (Python and Rust, Kafka and NATS) run
//! against the brokers. Each must print the line
//! `media=<media id> outcome=succeeded trace=<trace id> id=<event id>`, the event id being the
//! one the file sink recorded: the examples decode with the CloudEvents SDKs, so this also checks
//! that the bridge's bindings are readable by independent implementations.
//!
//! Prerequisites (`scripts/test.sh` provides both): `VODBRIDGE_PYTHON`, a Python with
//! `examples/consumers/python/requirements.txt` installed, and the Rust examples built with
//! `cargo build --locked --manifest-path examples/consumers/rust/Cargo.toml` (their own
//! workspace, see its Cargo.toml). The test fails at once, naming the command, when one is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vodbridge_test_support::kafka::KafkaBroker;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::{callback_config, free_port, Bridge};

/// The trace context the callback carries (the W3C Trace Context specification's example).
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// Its trace-id field, which every consumer must print.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// `FileId` of `tests/fixtures/tencent/new_file_upload.json`.
const MEDIA_ID: &str = "5285890784273533167";
const TOPIC: &str = "vod.media.uploaded";
/// How long each consumer may take to print its event (`--timeout`); generous, because a Kafka
/// consumer group join and a cold Python start share two cores with the other programs.
const CONSUMER_TIMEOUT_SECS: u64 = 60;

const RUST_BUILD: &str = "cargo build --locked --manifest-path examples/consumers/rust/Cargo.toml";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits in the repository root")
        .to_path_buf()
}

/// One example program and its command line.
struct Example {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

/// The Python interpreter of `VODBRIDGE_PYTHON`; panics naming the set-up when it is missing.
fn python() -> PathBuf {
    let hint = "set VODBRIDGE_PYTHON to a Python with examples/consumers/python/requirements.txt \
                installed (scripts/test.sh does: python3 -m venv target/venv && target/venv/bin/pip \
                install -r examples/consumers/python/requirements.txt)";
    let python = std::env::var_os("VODBRIDGE_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{hint}"));
    assert!(python.is_file(), "{} missing: {hint}", python.display());
    python
}

/// A Rust example binary; panics naming the build command when it has not been built.
fn rust_example(name: &str) -> PathBuf {
    let bin = repo_root()
        .join("examples/consumers/rust/target/debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} missing: build the Rust consumer examples with `{RUST_BUILD}` (from the repository root)",
        bin.display()
    );
    bin
}

/// The four examples, pointed at the test brokers, each stopping after one event.
fn examples(bootstrap: &str, nats_url: &str) -> Vec<Example> {
    let python = python();
    let script = |file: &str| {
        repo_root()
            .join("examples/consumers/python")
            .join(file)
            .display()
            .to_string()
    };
    let limits = [
        "--count".to_owned(),
        "1".to_owned(),
        "--timeout".to_owned(),
        CONSUMER_TIMEOUT_SECS.to_string(),
    ];
    let kafka = |group: &str| {
        let mut args = vec![
            "--bootstrap-servers".to_owned(),
            bootstrap.to_owned(),
            "--topic".to_owned(),
            TOPIC.to_owned(),
            "--group-id".to_owned(),
            group.to_owned(),
        ];
        args.extend(limits.iter().cloned());
        args
    };
    let nats = || {
        let mut args = vec![
            "--server".to_owned(),
            nats_url.to_owned(),
            "--subject".to_owned(),
            TOPIC.to_owned(),
        ];
        args.extend(limits.iter().cloned());
        args
    };
    let with_script = |file: &str, mut args: Vec<String>| {
        args.insert(0, script(file));
        args
    };
    vec![
        Example {
            name: "python kafka_consumer.py",
            program: python.clone(),
            args: with_script("kafka_consumer.py", kafka("e2e-python")),
        },
        Example {
            name: "python nats_consumer.py",
            program: python,
            args: with_script("nats_consumer.py", nats()),
        },
        Example {
            name: "rust kafka-consumer",
            program: rust_example("kafka-consumer"),
            args: kafka("e2e-rust"),
        },
        Example {
            name: "rust nats-consumer",
            program: rust_example("nats-consumer"),
            args: nats(),
        },
    ]
}

/// Run `example` to its end: exit status, stdout, stderr.
async fn run(example: &Example) -> (std::process::ExitStatus, String, String) {
    let mut command = tokio::process::Command::new(&example.program);
    command
        .args(&example.args)
        .current_dir(repo_root())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // The flags above decide; an outer environment must not add to them.
    for var in [
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_TOPIC",
        "KAFKA_GROUP_ID",
        "NATS_URL",
        "NATS_SUBJECT",
        "NATS_STREAM",
        "CONSUMER_COUNT",
        "CONSUMER_TIMEOUT",
    ] {
        command.env_remove(var);
    }
    let out = tokio::time::timeout(
        Duration::from_secs(CONSUMER_TIMEOUT_SECS + 30),
        command.output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} did not exit after its --timeout", example.name))
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", example.program.display()));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sinks_toml(bootstrap: &str, nats_url: &str, dir: &Path) -> String {
    let events = dir.join("events.jsonl");
    let deadletters = dir.join("deadletter.jsonl");
    format!(
        r#"
[[sinks]]
name = "kafka"
type = "kafka"
brokers = "{bootstrap}"
topic = "{{type}}"
mode = "binary"
create_topics = true
partitions = 3

[[sinks]]
name = "nats"
type = "nats"
url = "{nats_url}"
subject = "{{type}}"
jetstream = true
mode = "structured"
connect_timeout = "2s"

[sinks.stream]
name = "VOD"
subjects = ["vod.>"]
max_age = "1h"

[[sinks]]
name = "file"
type = "file"
path = "{}"

[dead_letter]
sink = "file"
destination = "{}"
"#,
        events.display(),
        deadletters.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_examples_print_media_outcome_trace_and_id() {
    // Fail on a missing prerequisite before any broker starts.
    let _ = examples("", "");

    let kafka = KafkaBroker::start().await;
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config = callback_config(
        listen,
        admin,
        &sinks_toml(&kafka.bootstrap(), &nats.url(), dir.path()),
    );
    let bridge = Bridge::start(dir.path(), &config, admin).await;

    let body = std::fs::read(repo_root().join("tests/fixtures/tencent/new_file_upload.json"))
        .expect("fixture");
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent"))
        .header("content-type", "application/json")
        .header("traceparent", TRACEPARENT)
        .body(body)
        .send()
        .await
        .expect("callback answered");
    assert_eq!(
        response.status().as_u16(),
        200,
        "callback refused; log:\n{}",
        bridge.log()
    );

    // 200 means every sink acknowledged, so the file sink already holds the event.
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("file sink");
    let event: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON event per line"))
        .find(|e| e["type"] == TOPIC)
        .unwrap_or_else(|| panic!("no {TOPIC} event in the file sink:\n{events}"));
    let id = event["id"].as_str().expect("event id").to_owned();
    // Said apart from the consumers' output: a missing attribute is the bridge's doing.
    let published_traceparent = event["traceparent"].as_str().unwrap_or("<absent>");

    let expected = format!("media={MEDIA_ID} outcome=succeeded trace={TRACE_ID} id={id}");
    let examples = examples(&kafka.bootstrap(), &nats.url());
    let results = futures::future::join_all(examples.iter().map(run)).await;
    let mut failures = Vec::new();
    for (example, (status, stdout, stderr)) in examples.iter().zip(results) {
        eprintln!("{}: {status}\n{stdout}", example.name);
        if !status.success() || !stdout.lines().any(|l| l.trim() == expected) {
            failures.push(format!(
                "{} ({status}) did not print `{expected}`\n--- stdout\n{stdout}--- stderr\n{stderr}",
                example.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 4 consumer examples failed (the file sink's event has traceparent {published_traceparent}):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
