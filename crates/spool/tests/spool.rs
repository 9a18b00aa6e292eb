//! The spool on a real directory: append, read in order, acknowledge, retention, restart, limits.

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use vodbridge_spool::{Attachment, Entry, EntryBody, NewRecord, Spool, SpoolConfig, SpoolError};

fn record(n: u64) -> NewRecord {
    NewRecord {
        route: None,
        source_name: "tencent".into(),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
        attachment: Some(Attachment::new(n)),
    }
}

fn config(dir: &std::path::Path) -> SpoolConfig {
    let mut config = SpoolConfig::new(dir.join("spool"));
    config.commit_interval = Duration::from_millis(20);
    config
}

fn open(config: &SpoolConfig, consumers: &[&str]) -> Spool {
    let names: Vec<String> = consumers.iter().map(|s| (*s).to_owned()).collect();
    Spool::open(config.clone(), &names, &Registry::new())
        .expect("open")
        .0
}

fn payloads(entries: &[Arc<Entry>]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match &e.body {
            EntryBody::Record { payload, .. } => String::from_utf8(payload.clone()).expect("utf-8"),
            EntryBody::Corrupt { detail, .. } => format!("corrupt: {detail}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_consumer_reads_in_order_and_resumes_after_a_restart_from_its_own_cursor() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    let spool = open(&config, &["a", "b"]);
    spool
        .append((1..=5).map(record).collect())
        .await
        .expect("append");
    let mut a = spool.reader("a").expect("reader a").expect("open");
    let first = a.next(3).await.expect("read");
    assert_eq!(payloads(&first), ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
    a.ack(first[2].seq, 0);
    // Let a commit carry the cursor, then stop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    spool.close().await;
    drop((a, spool));

    let spool = open(&config, &["a", "b"]);
    let mut a = spool.reader("a").expect("reader a").expect("open");
    let mut b = spool.reader("b").expect("reader b").expect("open");
    let rest = a.next(10).await.expect("a");
    assert_eq!(payloads(&rest), ["{\"n\":4}", "{\"n\":5}"]);
    assert!(
        rest.iter().all(|e| e.attachment.is_none()),
        "attachments are never stored"
    );
    assert_eq!(
        b.next(10).await.expect("b").len(),
        5,
        "b acknowledged nothing"
    );
    assert_eq!(
        spool.retained().0,
        5,
        "nothing is removed before every cursor passed it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_never_reused_after_everything_was_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    let spool = open(&config, &["a"]);
    spool
        .append((1..=3).map(record).collect())
        .await
        .expect("append");
    let mut a = spool.reader("a").expect("reader").expect("open");
    let read = a.next(10).await.expect("read");
    a.ack(read[2].seq, 0);
    for _ in 0..100 {
        if spool.retained().0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(spool.retained(), (0, 0), "removed once acknowledged");
    spool.close().await;
    drop((a, spool));
    let spool = open(&config, &["a"]);
    spool.append(vec![record(4)]).await.expect("append");
    let mut a = spool.reader("a").expect("reader").expect("open");
    let read = a.next(10).await.expect("read");
    assert_eq!(
        payloads(&read),
        ["{\"n\":4}"],
        "the new record is seen, not skipped"
    );
    assert_eq!(read[0].seq, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_refuses_and_keeps_what_it_has() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = config(dir.path());
    config.max_bytes = 500;
    let spool = open(&config, &["a"]);
    let mut accepted = 0;
    let refusal = loop {
        match spool.append(vec![record(accepted)]).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(refusal, SpoolError::Full { limit: 500, .. }),
        "{refusal:?}"
    );
    assert_eq!(refusal.reason(), "spool_full");
    assert!(accepted > 3, "{accepted}");
    let mut a = spool.reader("a").expect("reader").expect("open");
    assert_eq!(a.next(1000).await.expect("read").len() as u64, accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_commits() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    let registry = Registry::new();
    let (spool, _) = Spool::open(config, &["a".to_owned()], &registry).expect("open");
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let spool = spool.clone();
            tokio::spawn(async move { spool.append(vec![record(n)]).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    assert_eq!(spool.last_seq(), 64);
    let families = registry.gather();
    let commits = families
        .iter()
        .find(|f| f.name() == "vodbridge_spool_commit_batch_events")
        .map(|f| f.get_metric()[0].get_histogram().get_sample_count())
        .expect("histogram");
    assert!(commits < 64, "64 appends in {commits} commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    let _spool = open(&config, &["a"]);
    let err = Spool::open(config, &["a".to_owned()], &Registry::new())
        .err()
        .expect("refused");
    assert!(matches!(err, SpoolError::Locked { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("in use by another vodbridge process"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_keeps_up_gets_attachments_and_one_far_behind_reads_the_database_in_order()
{
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    let spool = open(&config, &["near", "far"]);
    let mut near = spool.reader("near").expect("reader").expect("open");
    spool
        .append((1..=3).map(record).collect())
        .await
        .expect("append");
    let read = near.next(10).await.expect("read");
    let attached: Vec<Option<u64>> = read
        .iter()
        .map(|e| {
            e.attachment
                .as_ref()
                .and_then(|a| a.downcast_ref::<u64>())
                .copied()
        })
        .collect();
    assert_eq!(
        attached,
        [Some(1), Some(2), Some(3)],
        "fresh records come from memory"
    );

    // More than the memory holds (1,024 records): the consumer behind reads the oldest from the
    // database and the newest from memory, each record once and in order.
    for chunk in (4..=10_000u64).collect::<Vec<_>>().chunks(500) {
        spool
            .append(chunk.iter().copied().map(record).collect())
            .await
            .expect("append");
    }
    let mut far = spool.reader("far").expect("reader").expect("open");
    let (mut seen, mut from_disk, mut from_memory) = (Vec::new(), 0, 0);
    while seen.len() < 10_000 {
        let read = tokio::time::timeout(Duration::from_secs(10), far.next(512))
            .await
            .unwrap_or_else(|_| panic!("stuck after {} records: one was skipped", seen.len()));
        for e in read.expect("read") {
            match &e.attachment {
                Some(a) => {
                    from_memory += 1;
                    assert_eq!(
                        a.downcast_ref::<u64>(),
                        Some(&e.seq),
                        "attachment of its own record"
                    );
                }
                None => from_disk += 1,
            }
            seen.push(e.seq);
        }
    }
    assert_eq!(seen, (1..=10_000).collect::<Vec<u64>>());
    assert!(from_disk >= 10_000 - 1024, "{from_disk} from the database");
    assert!(from_memory > 0, "the newest come from memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_copied_from_the_wal_into_the_database_by_the_checkpoint_thread() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    let registry = Registry::new();
    let (spool, _) = Spool::open(config.clone(), &["a".to_owned()], &registry).expect("open");
    // About 4 MiB in 40 commits: far below the WAL size at which a commit checkpoints itself.
    for chunk in 0..40u64 {
        let records = (0..100)
            .map(|i| NewRecord {
                route: None,
                source_name: "tencent".into(),
                payload: vec![b'a' + ((chunk * 100 + i) % 26) as u8; 1024],
                attachment: None,
            })
            .collect();
        spool.append(records).await.expect("append");
    }
    let db = config.path.join("spool.db");
    let checkpoints = || {
        registry
            .gather()
            .into_iter()
            .find(|f| f.name() == "vodbridge_spool_checkpoint_duration_seconds")
            .map(|f| f.get_metric()[0].get_histogram().get_sample_count())
            .expect("checkpoint histogram")
    };
    // The file grows while a checkpoint runs, and the checkpoint is counted when it ends: wait
    // for both.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let len = std::fs::metadata(&db).expect("database file").len();
        if len >= 4_000_000 && checkpoints() > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file holds {len} bytes after {} background checkpoints: the commits stayed in the WAL",
            checkpoints()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    spool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salvage_completed_before_a_crash_is_put_in_place_at_the_next_start() {
    // A complete salvage, as a crash could leave it: the damaged database (and its WAL) still
    // in place beside `spool.db.salvaged`.
    let source = tempfile::tempdir().expect("dir");
    let source_config = config(source.path());
    let spool = open(&source_config, &["a"]);
    spool
        .append((1..=3).map(record).collect())
        .await
        .expect("append");
    spool.close().await;
    drop(spool);
    let dir = tempfile::tempdir().expect("dir");
    let config = config(dir.path());
    std::fs::create_dir_all(&config.path).expect("spool dir");
    std::fs::copy(
        source_config.path.join("spool.db"),
        config.path.join("spool.db.salvaged"),
    )
    .expect("copy");
    std::fs::write(config.path.join("spool.db"), vec![0x5a; 8192]).expect("damaged db");
    std::fs::write(config.path.join("spool.db-wal"), vec![0xa5; 4096]).expect("damaged wal");

    let (spool, recovery) =
        Spool::open(config.clone(), &["a".to_owned()], &Registry::new()).expect("open");
    let moved = recovery
        .quarantined_file
        .expect("the damaged database was set aside");
    assert_eq!(
        std::fs::read(&moved).expect("quarantined db"),
        vec![0x5a; 8192]
    );
    assert!(
        std::path::PathBuf::from(format!("{}-wal", moved.display())).exists(),
        "its WAL went with it"
    );
    assert!(!config.path.join("spool.db.salvaged").exists());
    let mut a = spool.reader("a").expect("reader").expect("open");
    assert_eq!(
        payloads(&a.next(10).await.expect("read")),
        ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
    );
}
