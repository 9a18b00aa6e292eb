//! Fault tests of the spool (`[spool]`): broker outages longer than a vendor retries, SIGKILLs
//! of the bridge under load, a sink down while another works, a full spool, a full disk, damaged
//! spool files, and a second process on the same directory. Each keeps the same ledger as the
//! other fault tests (sent / 200 / delivered / duplicated / lost) and asserts lost = 0.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vodbridge_test_support::metrics::series;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::ledger::{Ledger, Outcome};
use vodbridge_tests::nats::{bridge_config, read_stream};
use vodbridge_tests::sender::{media_id, post_once, Sender, SenderConfig};
use vodbridge_tests::{free_port, vodbridge_binary, Bridge};

/// The fault suite's bridge ([`bridge_config`]: a Tencent source and the JetStream sink `nats`,
/// stream `VOD`, dead letters on `deadletter.vod`) with a file sink `file` at
/// `dir/events.jsonl` and a spool in `spool_dir`. `spool_extra` holds more `[spool]` lines.
fn config(
    listen: u16,
    admin: u16,
    nats_url: &str,
    dir: &Path,
    spool_dir: &Path,
    spool_extra: &str,
) -> String {
    format!(
        r#"{bridge}
[[sinks]]
name = "file"
type = "file"
path = "{events}"

[spool]
path = "{spool}"
commit_interval = "200ms"
{spool_extra}
"#,
        bridge = bridge_config(listen, admin, nats_url, ""),
        events = dir.join("events.jsonl").display(),
        spool = spool_dir.display(),
    )
}

/// One test's spooled bridge and what it runs on: a nats-server, a scratch directory (the file
/// sink's events, the bridge's configuration and log), the spool directory and the callback URL.
struct Rig {
    nats: NatsServer,
    dir: tempfile::TempDir,
    spool: PathBuf,
    url: String,
    bridge: Bridge,
}

impl Rig {
    /// A bridge whose spool is `dir/spool`, started and ready.
    async fn start(spool_extra: &str) -> Rig {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = dir.path().join("spool");
        Rig::start_in(dir, spool, spool_extra).await
    }

    /// A bridge in `dir` with its spool at `spool` (possibly elsewhere), started and ready.
    async fn start_in(dir: tempfile::TempDir, spool: PathBuf, spool_extra: &str) -> Rig {
        vodbridge_binary();
        let nats = NatsServer::start().await;
        let (listen, admin) = (free_port(), free_port());
        let cfg = config(listen, admin, &nats.url(), dir.path(), &spool, spool_extra);
        let bridge = Bridge::start(dir.path(), &cfg, admin).await;
        Rig {
            nats,
            url: format!("http://127.0.0.1:{listen}/v1/callbacks/tencent"),
            dir,
            spool,
            bridge,
        }
    }
}

/// Media ids (`data.media.id`) of the events in the file sink's JSON Lines file, with their
/// CloudEvents ids.
fn file_events(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    // The last line may be in the middle of being written: only newline-terminated ones count.
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    for line in complete.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let key = event["data"]["media"]["id"].as_str().unwrap_or_default();
        let id = event["id"].as_str().unwrap_or_default();
        out.entry(key.to_owned()).or_default().insert(id.to_owned());
    }
    out
}

/// Every callback answered 200 is in the file sink, each key under one id only.
fn assert_file_has_everything(ledger: &Ledger, dir: &Path, log: &str) {
    let file = file_events(dir);
    let missing: Vec<String> = ledger
        .acknowledged_keys()
        .into_iter()
        .filter(|k| !file.contains_key(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged callbacks missing from the file sink (first: {:?})\n{log}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    let split: Vec<_> = file.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        split.is_empty(),
        "one occurrence under several ids: {split:?}"
    );
}

/// Wait until `check` holds, polling every 200 ms; panic with `what` after `timeout`.
async fn eventually(timeout: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < timeout, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until every acknowledged callback is in the JetStream stream and the file.
async fn wait_delivered(ledger: &Ledger, nats_url: &str, dir: &Path, timeout: Duration) {
    let started = Instant::now();
    loop {
        ledger.clear_deliveries();
        read_stream(nats_url, ledger).await;
        let file = file_events(dir);
        let in_file = ledger
            .acknowledged_keys()
            .iter()
            .all(|k| file.contains_key(k));
        if (ledger.all_acknowledged_delivered() && in_file) || started.elapsed() > timeout {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn outage_longer_than_volcengine_retries_with_a_sigkill_loses_nothing() {
    let mut rig = Rig::start("").await;
    let ledger = Arc::new(Ledger::new(
        "fault_spool: JetStream down 120 s, bridge SIGKILLed mid-outage, sender on Volcengine's schedule (+5 s, +10 s, +30 s, give up)",
    ));
    let mut sender_config = SenderConfig::volcengine(rig.url.clone());
    // About 10 callbacks a second, as in the measurement that lost 327 of 600 without a spool.
    sender_config.workers = 2;
    sender_config.pace = Duration::from_millis(200);
    let sender = Sender::start(sender_config, Arc::clone(&ledger));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = ledger.acknowledged();

    rig.nats.stop().await;
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(50)).await;
    rig.bridge.kill();
    // The restart happens with the broker still down: the bridge must come up and be ready.
    rig.bridge.restart(Duration::from_secs(30)).await;
    let during = ledger.acknowledged() - before;
    tokio::time::sleep(Duration::from_secs(120).saturating_sub(down.elapsed())).await;
    rig.nats.start_again().await;
    let outage = down.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    sender.stop().await;

    wait_delivered(
        &ledger,
        &rig.nats.url(),
        rig.dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let report = ledger.report();
    println!("outage {outage:.1?}; accepted before it: {before}, during it: {during}");
    report.assert_nothing_lost(&rig.bridge.log());
    assert!(
        during > 100,
        "callbacks must be accepted during the outage\n{report}"
    );
    assert_file_has_everything(&ledger, rig.dir.path(), &rig.bridge.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn sigkill_loop_under_load_keeps_every_acknowledged_event_in_both_sinks() {
    let mut rig = Rig::start("").await;
    let ledger = Arc::new(Ledger::new(
        "fault_spool: five SIGKILLs under load, two sinks (JetStream and file)",
    ));
    let mut sender_config = SenderConfig::new(rig.url.clone());
    sender_config.workers = 8;
    sender_config.pace = Duration::ZERO;
    let sender = Sender::start(sender_config, Arc::clone(&ledger));
    for round in 0..5u64 {
        // Kill at a different point of the commit and forward cycle each round.
        tokio::time::sleep(Duration::from_millis(700 + 290 * round)).await;
        rig.bridge.kill();
        rig.bridge.restart(Duration::from_secs(30)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    sender.stop().await;
    wait_delivered(
        &ledger,
        &rig.nats.url(),
        rig.dir.path(),
        Duration::from_secs(60),
    )
    .await;
    let report = ledger.report();
    report.assert_nothing_lost(&rig.bridge.log());
    assert!(report.acknowledged > 500, "the load must be real\n{report}");
    assert_file_has_everything(&ledger, rig.dir.path(), &rig.bridge.log());
    let metrics = rig.bridge.metrics().await;
    println!(
        "recovered at the last start: {:?} events",
        series(&metrics, "vodbridge_spool_recovered_events_total")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn a_dead_sink_holds_back_only_its_own_cursor() {
    let Rig {
        mut nats,
        dir,
        url,
        bridge,
        ..
    } = Rig::start("").await;
    let ledger = Arc::new(Ledger::new(
        "fault_spool: JetStream down 60 s while the file sink keeps receiving",
    ));
    let mut sender_config = SenderConfig::new(url);
    sender_config.workers = 2;
    sender_config.pace = Duration::from_millis(20);
    let sender = Sender::start(sender_config, Arc::clone(&ledger));
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.stop().await;
    let down = Instant::now();
    let mut worst_file_lag = 0.0f64;
    let mut worst_file_behind = 0usize;
    let mut nats_lag = 0.0f64;
    while down.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let metrics = bridge.metrics().await;
        worst_file_lag = worst_file_lag.max(
            series(&metrics, "vodbridge_spool_lag_seconds{sink=\"file\"}").unwrap_or(f64::MAX),
        );
        nats_lag = series(&metrics, "vodbridge_spool_lag_seconds{sink=\"nats\"}").unwrap_or(0.0);
        // What was answered 200 a second ago must be in the file by now.
        let acked = ledger.acknowledged_keys();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let file = file_events(dir.path());
        worst_file_behind =
            worst_file_behind.max(acked.iter().filter(|k| !file.contains_key(*k)).count());
    }
    nats.start_again().await;
    sender.stop().await;
    wait_delivered(&ledger, &nats.url(), dir.path(), Duration::from_secs(60)).await;
    let report = ledger.report();
    println!("file sink: worst lag {worst_file_lag:.2} s, worst missing after 1 s {worst_file_behind}; JetStream lag at the end of the outage {nats_lag:.1} s");
    report.assert_nothing_lost(&bridge.log());
    assert_eq!(
        report.answered_503, 0,
        "a spool accepts while a broker is down\n{report}"
    );
    assert!(
        worst_file_lag < 2.0,
        "the healthy sink's lag stays flat: {worst_file_lag}"
    );
    assert_eq!(
        worst_file_behind, 0,
        "the healthy sink keeps up within a second"
    );
    assert!(
        nats_lag > 40.0,
        "the dead sink's lag grows with the outage: {nats_lag}"
    );
    assert_file_has_everything(&ledger, dir.path(), &bridge.log());
}

/// POST fresh callbacks `from..` one at a time until one is refused; the refusal.
async fn post_until_refused(url: &str, ledger: &Ledger, from: u64, limit: u64) -> (u64, Outcome) {
    let client = reqwest::Client::new();
    for n in from..from + limit {
        let key = media_id(n);
        ledger.sent(&key);
        let outcome = post_once(&client, url, &key).await;
        ledger.answered(&key, &outcome);
        if outcome != Outcome::Accepted {
            return (n, outcome);
        }
    }
    panic!("nothing refused after {limit} callbacks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn a_full_spool_answers_503_then_drains_and_accepts_again() {
    // Room for about 60 of the 2.3 KB events.
    let Rig {
        mut nats,
        dir,
        url,
        bridge,
        ..
    } = Rig::start("max_bytes = \"150KiB\"").await;
    let ledger = Ledger::new("fault_spool: spool full while JetStream is down");
    nats.stop().await;
    let (refused_at, outcome) = post_until_refused(&url, &ledger, 0, 10_000).await;
    assert!(
        matches!(&outcome, Outcome::Rejected { status: 503, reason: Some(r), retry_after: true } if r == "spool_full"),
        "a full spool answers 503 spool_full with Retry-After: {outcome:?}"
    );
    assert!(
        (30..200).contains(&refused_at),
        "refused after {refused_at} callbacks"
    );
    let metrics = bridge.metrics().await;
    assert!(
        series(
            &metrics,
            "vodbridge_spool_rejected_total{reason=\"spool_full\"}"
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    // Still full: old data is never dropped to make room.
    let again = post_once(&reqwest::Client::new(), &url, &media_id(refused_at)).await;
    assert!(
        matches!(again, Outcome::Rejected { status: 503, .. }),
        "{again:?}"
    );
    nats.start_again().await;
    eventually(Duration::from_secs(60), "the spool drains", async || {
        let m = bridge.metrics().await;
        series(&m, "vodbridge_spool_retained_events") == Some(0.0)
    })
    .await;
    let client = reqwest::Client::new();
    for n in refused_at..refused_at + 20 {
        let key = media_id(n);
        ledger.sent(&key);
        let outcome = post_once(&client, &url, &key).await;
        ledger.answered(&key, &outcome);
        assert_eq!(outcome, Outcome::Accepted, "accepted again once drained");
    }
    wait_delivered(&ledger, &nats.url(), dir.path(), Duration::from_secs(30)).await;
    let report = ledger.report();
    println!("{report}");
    assert_eq!(report.lost, 0, "{report}\n{}", bridge.log());
    assert_file_has_everything(&ledger, dir.path(), &bridge.log());
}

/// A size-limited tmpfs mounted by the test (root is needed), unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&path).expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount a {size} tmpfs at {} (the test runs as root)",
            path.display()
        );
        Self { path }
    }

    /// Fill the filesystem with a ballast file until it is full.
    fn fill(&self) -> PathBuf {
        let ballast = self.path.join("ballast");
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=64k"])
            .arg(format!("of={}", ballast.display()))
            .stderr(std::process::Stdio::null())
            .status();
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn a_full_disk_answers_503_and_recovers_when_space_returns() {
    // The disk in a directory of its own, unmounted (dropped) after the bridge has stopped.
    let disk_root = tempfile::tempdir().expect("temp dir");
    let disk = SmallDisk::mount(disk_root.path().join("disk"), "4m");
    let Rig {
        mut nats,
        dir,
        spool,
        url,
        bridge,
    } = Rig::start_in(
        tempfile::tempdir().expect("temp dir"),
        disk.path.join("spool"),
        "",
    )
    .await;
    let ledger = Ledger::new("fault_spool: the spool's filesystem fills up");
    // Keep what is accepted in the spool, then take the rest of the disk.
    nats.stop().await;
    let client = reqwest::Client::new();
    for n in 0..20 {
        let key = media_id(n);
        ledger.sent(&key);
        let outcome = post_once(&client, &url, &key).await;
        ledger.answered(&key, &outcome);
        assert_eq!(outcome, Outcome::Accepted);
    }
    let ballast = disk.fill();
    let (refused_at, outcome) = post_until_refused(&url, &ledger, 20, 5_000).await;
    assert!(
        matches!(&outcome, Outcome::Rejected { status: 503, reason: Some(r), retry_after: true } if r == "spool_io"),
        "a full disk answers 503 spool_io with Retry-After: {outcome:?}"
    );
    eventually(
        Duration::from_secs(10),
        "/readyz reports the spool unready",
        async || matches!(bridge.readyz().await, Some((503, body)) if body.contains("spool")),
    )
    .await;
    assert!(
        bridge.log().contains(&spool.display().to_string()),
        "the log names the path"
    );
    std::fs::remove_file(&ballast).expect("free the disk");
    eventually(
        Duration::from_secs(20),
        "the spool takes writes again",
        async || matches!(bridge.readyz().await, Some((200, _))),
    )
    .await;
    for n in refused_at..refused_at + 20 {
        let key = media_id(n);
        ledger.sent(&key);
        let outcome = post_once(&client, &url, &key).await;
        ledger.answered(&key, &outcome);
        assert_eq!(
            outcome,
            Outcome::Accepted,
            "accepted again once space returned"
        );
    }
    nats.start_again().await;
    wait_delivered(&ledger, &nats.url(), dir.path(), Duration::from_secs(30)).await;
    let report = ledger.report();
    println!("{report}");
    assert_eq!(report.lost, 0, "{report}\n{}", bridge.log());
    assert!(
        !bridge.log().contains("panicked"),
        "no panic\n{}",
        bridge.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bridge_on_the_same_spool_refuses_to_start() {
    // The first bridge keeps running (and holding the lock) until the end of the test.
    let first = Rig::start("").await;
    let spool = &first.spool;
    let other = tempfile::tempdir().expect("temp dir");
    let (listen2, admin2) = (free_port(), free_port());
    let path = other.path().join("vodbridge.toml");
    std::fs::write(
        &path,
        config(listen2, admin2, &first.nats.url(), other.path(), spool, ""),
    )
    .expect("config");
    let out = std::process::Command::new(vodbridge_binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second bridge must not start");
    assert!(
        stderr.contains("in use by another vodbridge process")
            && stderr.contains(&spool.display().to_string()),
        "a clear message naming the directory: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_spool_path_stops_start_up_naming_it() {
    vodbridge_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"a file").expect("file");
    let spool = blocker.join("spool");
    let path = dir.path().join("vodbridge.toml");
    std::fs::write(
        &path,
        config(
            free_port(),
            free_port(),
            "nats://127.0.0.1:1",
            dir.path(),
            &spool,
            "",
        ),
    )
    .expect("config");
    let out = std::process::Command::new(vodbridge_binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&spool.display().to_string()),
        "names the path: {stderr}"
    );
}

/// Damage done to a copy of the spool database.
type Damage = Box<dyn Fn(&Path)>;

/// Copy every file of `from` into `to` (created).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("copy target");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Fold the spool's WAL into its database file (what a checkpoint does), so damage to
/// `spool.db` hits the records themselves.
fn checkpoint(spool: &Path) {
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()); c.close()")
        .arg(spool.join("spool.db"))
        .status()
        .expect("python3");
    assert!(status.success(), "checkpoint the spool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn a_damaged_spool_starts_delivers_the_intact_and_counts_the_rest() {
    const EVENTS: u64 = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let pristine = dir.path().join("pristine");
    // Fill a spool while JetStream is away, so every event stays in it for the `nats` sink.
    {
        let mut rig = Rig::start("").await;
        rig.nats.stop().await;
        let client = reqwest::Client::new();
        for n in 0..EVENTS {
            let outcome = post_once(&client, &rig.url, &media_id(n)).await;
            assert_eq!(outcome, Outcome::Accepted);
        }
        rig.bridge.kill();
        checkpoint(&rig.spool);
        copy_dir(&rig.spool, &pristine);
    }
    let size = std::fs::metadata(pristine.join("spool.db"))
        .expect("db")
        .len();
    let flips: Vec<u64> = (1..=12).map(|i| size * i / 13 + 7).collect();
    let damages: Vec<(String, Damage)> = vec![
        (
            format!("12 bytes flipped at {flips:?}"),
            Box::new(move |db: &Path| {
                let mut bytes = std::fs::read(db).expect("read");
                for &at in &flips {
                    bytes[at as usize] ^= 0x5a;
                }
                std::fs::write(db, bytes).expect("write");
            }),
        ),
        (
            format!("truncated to {} of {size} bytes", size * 3 / 4),
            Box::new(move |db: &Path| truncate(db, size * 3 / 4)),
        ),
        (
            format!("truncated to {} of {size} bytes", size / 2),
            Box::new(move |db: &Path| truncate(db, size / 2)),
        ),
        (
            format!(
                "truncated to {} of {size} bytes (mid-page)",
                size / 3 + 1000
            ),
            Box::new(move |db: &Path| truncate(db, size / 3 + 1000)),
        ),
    ];
    for (what, damage) in damages {
        let case = tempfile::tempdir().expect("case dir");
        let spool = case.path().join("spool");
        copy_dir(&pristine, &spool);
        damage(&spool.join("spool.db"));
        // Start-up must succeed whatever the damage.
        let Rig {
            nats,
            bridge,
            dir: _case,
            ..
        } = Rig::start_in(case, spool, "").await;
        let forwarded = Instant::now();
        while series(
            &bridge.metrics().await,
            "vodbridge_spool_lag_events{sink=\"nats\"}",
        ) != Some(0.0)
        {
            assert!(
                forwarded.elapsed() < Duration::from_secs(60),
                "{what}: the damaged spool is forwarded within 60 s\n{}\n{}",
                bridge.metrics().await,
                bridge.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ledger = Ledger::new(format!("fault_spool: spool {what}"));
        read_stream(&nats.url(), &ledger).await;
        let delivered = (0..EVENTS)
            .filter(|n| ledger.is_delivered(&media_id(*n)))
            .count() as u64;
        let m = bridge.metrics().await;
        let quarantined =
            series(&m, "vodbridge_spool_quarantined_records_total").unwrap_or(0.0) as u64;
        let truncated = series(&m, "vodbridge_spool_truncated_records_total").unwrap_or(0.0) as u64;
        println!("{what}: delivered {delivered} of {EVENTS}, quarantined {quarantined} records, unreadable {truncated}");
        assert!(
            delivered > 0,
            "{what}: intact events are delivered\n{}",
            bridge.log()
        );
        assert!(
            delivered < EVENTS || quarantined + truncated == 0,
            "{what}: nothing counted as damaged while everything arrived"
        );
        // Every event is accounted for: delivered, or counted among the damaged records.
        assert!(
            EVENTS - delivered <= truncated + quarantined,
            "{what}: {} events neither delivered nor counted (quarantined {quarantined}, unreadable {truncated})\n{}",
            EVENTS - delivered,
            bridge.log()
        );
        assert!(
            quarantined + truncated > 0 || delivered == EVENTS,
            "{what}: damage is counted"
        );
        assert!(
            !bridge.log().contains("panicked"),
            "{what}: no panic\n{}",
            bridge.log()
        );
    }
}

fn truncate(db: &Path, len: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(db)
        .expect("open");
    file.set_len(len).expect("truncate");
}
