//! End to end with the file sink: the real `vodbridge` binary on free loopback ports with a
//! temporary configuration. Every fixture payload under `tests/fixtures/` is POSTed to its
//! callback route; the canonical events read back from the JSON Lines file must carry exactly the
//! ids `vodbridge normalize` prints for the same files, every refused payload must be in the
//! dead-letter file, and SIGTERM must end the process with exit code 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vodbridge_tests::{callback_config, free_port, vodbridge_binary as binary};

/// Every payload fixture (not the `.expected.json` files), with the provider its folder names.
fn fixtures() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut all = Vec::new();
    for provider in ["tencent", "volcengine"] {
        let Ok(dir) = std::fs::read_dir(root.join(provider)) else {
            continue;
        };
        for entry in dir {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name.ends_with(".json") && !name.ends_with(".expected.json") {
                all.push((provider.to_owned(), path));
            }
        }
    }
    all.sort();
    all
}

/// Ids `vodbridge normalize` prints for `path`, or `None` when it refuses the input.
fn normalize_ids(provider: &str, path: &Path) -> Option<Vec<String>> {
    let out = Command::new(binary())
        .args(["normalize", "--provider", provider, "--source", provider])
        .arg(path)
        .output()
        .expect("run vodbridge normalize");
    if !out.status.success() {
        assert!(
            !out.stderr.is_empty(),
            "a refusal says why ({})",
            path.display()
        );
        return None;
    }
    let text = String::from_utf8(out.stdout).expect("utf8");
    Some(
        text.lines()
            .map(|l| {
                let v: serde_json::Value =
                    serde_json::from_str(l).expect("one JSON event per line");
                v["id"].as_str().expect("id").to_owned()
            })
            .collect(),
    )
}

struct Bridge {
    child: Child,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, listen: u16, admin: u16) -> Bridge {
    let config = callback_config(
        listen,
        admin,
        r#"
[log]
level = "warn"

[[sinks]]
name = "local"
type = "file"
path = "out/events.jsonl"

[dead_letter]
sink = "local"
destination = "out/deadletter.jsonl"
"#,
    );
    let path = dir.join("vodbridge.toml");
    std::fs::write(&path, config).expect("write config");
    let stderr = std::fs::File::create(dir.join("vodbridge.log")).expect("log file");
    let child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start vodbridge");
    Bridge { child }
}

async fn wait_ready(client: &reqwest::Client, admin: u16, bridge: &mut Bridge, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = bridge.child.try_wait().expect("try_wait") {
            let log = std::fs::read_to_string(dir.join("vodbridge.log")).unwrap_or_default();
            panic!("vodbridge exited early with {status}: {log}");
        }
        let ready = client
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "vodbridge not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON CloudEvent"))
        .collect()
}

#[tokio::test]
async fn every_fixture_lands_in_the_file_with_the_ids_normalize_prints() {
    let fixtures = fixtures();
    assert!(!fixtures.is_empty(), "no fixtures under tests/fixtures");
    let dir = tempfile::tempdir().expect("tempdir");
    let (listen, admin) = (free_port(), free_port());
    let mut bridge = start(dir.path(), listen, admin);
    let client = reqwest::Client::new();
    wait_ready(&client, admin, &mut bridge, dir.path()).await;

    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut refused = 0;
    for (provider, path) in &fixtures {
        let body = std::fs::read(path).expect("fixture");
        let response = client
            .post(format!("http://127.0.0.1:{listen}/v1/callbacks/{provider}"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        match normalize_ids(provider, path) {
            Some(ids) => {
                assert_eq!(
                    status,
                    200,
                    "{} normalizes, so it must be acknowledged",
                    path.display()
                );
                for id in ids {
                    *expected.entry(id).or_default() += 1;
                }
            }
            None => {
                assert_eq!(
                    status,
                    400,
                    "{} is refused by normalize, so 400 + dead letter",
                    path.display()
                );
                refused += 1;
            }
        }
    }
    assert!(!expected.is_empty(), "fixtures produced no events");

    // 200 means fsynced: the file is complete now, before shutdown.
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    for event in read_lines(&dir.path().join("out/events.jsonl")) {
        assert_eq!(event["specversion"], "1.0");
        *written
            .entry(event["id"].as_str().expect("id").to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        written, expected,
        "the file holds exactly the events normalize promises"
    );
    let letters = read_lines(&dir.path().join("out/deadletter.jsonl"));
    assert_eq!(letters.len(), refused);
    assert!(letters
        .iter()
        .all(|l| l["type"] == "vodbridge.deadletter" && l["data"]["bodybase64"].is_string()));

    let metrics = client
        .get(format!("http://127.0.0.1:{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("vodbridge_build_info{version="),
        "{metrics}"
    );
    let rss: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vodbridge_process_resident_memory_bytes "))
        .expect("process metrics exported")
        .parse()
        .expect("a number");
    let status = std::fs::read_to_string(format!("/proc/{}/status", bridge.child.id()))
        .expect("bridge status");
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    assert!(
        (rss / 1024.0 - rss_kib).abs() < rss_kib / 2.0,
        "metric {rss} B agrees with /proc ({rss_kib} KiB)"
    );

    // SIGTERM: graceful shutdown, exit 0.
    let pid = bridge.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = bridge.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "vodbridge did not stop within 30 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read_to_string(dir.path().join("vodbridge.log")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; log: {log}"
    );
}
