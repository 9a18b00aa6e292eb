//! End to end through the Tencent reliable-callback path: the real `vodbridge` binary with a
//! `[sources.poll]` block pulls from the fake VOD API (TC3-verified, redelivering), writes to the
//! file sink, confirms only what was fsynced, dead-letters a poison element, reports a bad key in
//! `/readyz`, and exits 0 on SIGTERM.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vodbridge_test_support::fake_vod::{
    poison_event, procedure_event, upload_event, FakeVod, FakeVodConfig,
};

use vodbridge_tests::{free_port, vodbridge_binary as binary};

struct Bridge {
    child: Child,
    dir: tempfile::TempDir,
    admin: u16,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bridge {
    fn start(fake: &FakeVod, secret_key: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (listen, admin) = (free_port(), free_port());
        let config = format!(
            r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"

[log]
level = "warn"

[[sources]]
name = "tencent"
provider = "tencent"

[sources.poll]
secret_id = "{secret_id}"
secret_key = "{secret_key}"
sub_app_id = 1500000001
endpoint = "{endpoint}"
concurrency = 2
backoff_initial = "20ms"
backoff_max = "200ms"

[[sinks]]
name = "local"
type = "file"
path = "out/events.jsonl"

[dead_letter]
sink = "local"
destination = "out/deadletter.jsonl"
"#,
            secret_id = fake.config().secret_id,
            endpoint = fake.endpoint(),
        );
        let path = dir.path().join("vodbridge.toml");
        std::fs::write(&path, config).expect("write config");
        let stderr = std::fs::File::create(dir.path().join("vodbridge.log")).expect("log");
        let child = Command::new(binary())
            .args(["run", "--config"])
            .arg(&path)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start vodbridge");
        Self { child, dir, admin }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vodbridge.log")).unwrap_or_default()
    }

    fn lines(&self, file: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("out").join(file))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON CloudEvent per line"))
            .collect()
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("http://127.0.0.1:{}{path}", self.admin))
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    async fn wait_for(&mut self, what: &str, mut check: impl AsyncCheck) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("vodbridge exited early with {status}: {}", self.log());
            }
            if check.check(self).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out: {what}; log: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(
            status.code(),
            Some(0),
            "exit after SIGTERM; log: {}",
            self.log()
        );
    }
}

/// A readiness condition polled by [`Bridge::wait_for`].
trait AsyncCheck {
    async fn check(&mut self, bridge: &Bridge) -> bool;
}

struct Ready(u16, &'static str);

impl AsyncCheck for Ready {
    async fn check(&mut self, bridge: &Bridge) -> bool {
        bridge
            .get("/readyz")
            .await
            .is_some_and(|(status, body)| status == self.0 && body.contains(self.1))
    }
}

#[tokio::test]
async fn pulled_events_land_in_the_file_and_are_confirmed() {
    let fake = FakeVod::start(FakeVodConfig {
        hold: Duration::from_millis(500),
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake vod");
    fake.push_all(
        (0..30)
            .map(upload_event)
            .chain((0..10).map(procedure_event)),
    );
    let poison = fake.push(poison_event(1));
    let mut bridge = Bridge::start(&fake, &fake.config().secret_key.clone());
    bridge
        .wait_for(
            "poller ready",
            Ready(200, r#""name":"poller:tencent","ready":true"#),
        )
        .await;
    assert!(
        fake.wait_confirmed(41, Duration::from_secs(30)).await,
        "confirmed {} of 41; log: {}",
        fake.confirmed(),
        bridge.log()
    );

    // Confirmed means fsynced: the file is complete now.
    let events = bridge.lines("events.jsonl");
    let ids: HashSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(events.len(), 40, "each pulled event exactly once");
    assert_eq!(ids.len(), 40);
    assert!(events
        .iter()
        .all(|e| e["source"] == "/vodbridge/tencent" && e["provider"] == "tencent"));
    let letters = bridge.lines("deadletter.jsonl");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["data"]["ingress"], "pull");
    assert!(fake.is_confirmed(poison));
    assert!(fake.delivery_counts().iter().all(|&n| n == 1));

    let (_, metrics) = bridge.get("/metrics").await.expect("metrics");
    assert!(
        metrics.contains(r#"vodbridge_poller_events_confirmed_total{source="tencent"} 41"#),
        "{metrics}"
    );
    bridge.terminate();
}

#[tokio::test]
async fn a_wrong_key_shows_in_readyz_without_hammering_the_api() {
    let fake = FakeVod::start(FakeVodConfig {
        hold: Duration::from_millis(500),
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake vod");
    let mut bridge = Bridge::start(&fake, "not-the-secret-key");
    bridge
        .wait_for(
            "poller failed in /readyz",
            Ready(503, "AuthFailure.SignatureFailure"),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fake.requests("PullEvents"),
        1,
        "one request, then the slow retry"
    );
    assert!(bridge.log().contains("AuthFailure.SignatureFailure"));
    bridge.terminate();
}
