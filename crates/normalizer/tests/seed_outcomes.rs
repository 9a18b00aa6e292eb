//! Every fuzz seed (`fuzz/seeds/*/*`), normalized as a Tencent body, a Volcengine body and a
//! pulled Tencent element along both paths, gives the outcome recorded in
//! `seed_outcomes.tsv` beside this file: the ids of its events and a digest of their structured
//! JSON, or the reason it was refused, and a pulled element's handle. The differential tests hold the two paths to each other; this holds
//! both to outcomes recorded from an earlier build (the error classification included, which the
//! paths share). `VODBRIDGE_BLESS=1` rewrites the file from the current build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use sha2::{Digest, Sha256};
use vodbridge_core::{CanonicalEvent, Provider};
use vodbridge_normalizer::{
    normalize, normalize_pulled, normalize_pulled_reference, normalize_reference, NormalizeError,
    PulledEvent, SourceContext,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ctx() -> SourceContext<'static> {
    SourceContext {
        source_name: "seed",
        source_uri: "/vodbridge/seed",
        received_at: Utc
            .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    }
}

/// The ids of the events and a digest of their whole structured JSON, or the reason.
fn outcome(result: Result<Vec<CanonicalEvent>, NormalizeError>) -> String {
    match result {
        Ok(events) => {
            let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
            let mut digest = Sha256::new();
            for event in &events {
                digest.update(event.to_structured_json());
            }
            let digest = hex::encode(&digest.finalize()[..8]);
            format!("ok [{}] {digest}", ids.join(","))
        }
        Err(e) => format!("err {}", e.reason()),
    }
}

fn pulled(event: PulledEvent) -> String {
    let handle = event.handle.unwrap_or_else(|| "-".to_owned());
    format!("{handle} {}", outcome(event.result.map(|e| vec![e])))
}

/// One line per seed and path: `path`, the path, then the three outcomes, tab-separated.
fn outcomes() -> String {
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(root().join("fuzz/seeds"))
        .expect("seed directories")
        .flat_map(|dir| std::fs::read_dir(dir.expect("entry").path()).expect("seeds"))
        .map(|entry| entry.expect("entry").path())
        .collect();
    seeds.sort();
    let mut out = String::new();
    for seed in seeds {
        let body = std::fs::read(&seed).expect("seed");
        let name = seed.strip_prefix(root()).expect("under the root").display();
        let text = std::str::from_utf8(&body).ok();
        for (path, tencent, volcengine, element) in [
            (
                "fast",
                normalize(Provider::Tencent, &body, &ctx()),
                normalize(Provider::Volcengine, &body, &ctx()),
                text.map(|t| normalize_pulled(t, &ctx())),
            ),
            (
                "reference",
                normalize_reference(Provider::Tencent, &body, &ctx()),
                normalize_reference(Provider::Volcengine, &body, &ctx()),
                text.map(|t| normalize_pulled_reference(t, &ctx())),
            ),
        ] {
            let element = element.map_or_else(|| "not UTF-8".to_owned(), pulled);
            let _ = writeln!(
                out,
                "{name}\t{path}\t{}\t{}\t{element}",
                outcome(tencent),
                outcome(volcengine)
            );
        }
    }
    out
}

#[test]
fn every_seed_gives_its_recorded_outcome() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed_outcomes.tsv");
    let actual = outcomes();
    if std::env::var_os("VODBRIDGE_BLESS").is_some() {
        std::fs::write(&file, &actual).expect("written");
    }
    let expected = std::fs::read_to_string(&file).expect("recorded outcomes");
    for (a, e) in actual.lines().zip(expected.lines()) {
        assert_eq!(a, e);
    }
    assert_eq!(actual.lines().count(), expected.lines().count());
}
