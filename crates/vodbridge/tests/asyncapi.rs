//! `docs/asyncapi.yaml` is exactly what `vodbridge asyncapi` prints, and the compose facts the
//! generator writes down (servers, dead-letter destination) are still those of the compose stack.

use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "cargo run --bin vodbridge -- asyncapi > docs/asyncapi.yaml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn committed_document_is_the_generated_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_vodbridge"))
        .arg("asyncapi")
        .output()
        .expect("run vodbridge asyncapi");
    assert!(
        out.status.success(),
        "vodbridge asyncapi failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("UTF-8 output");
    let committed = read("docs/asyncapi.yaml");
    if generated != committed {
        let (line, (want, got)) = generated
            .lines()
            .zip(committed.lines())
            .enumerate()
            .find(|(_, (g, c))| g != c)
            .map_or_else(
                || {
                    (
                        generated.lines().count().min(committed.lines().count()),
                        ("(end of file)", "(end of file)"),
                    )
                },
                |(i, pair)| (i, pair),
            );
        panic!(
            "docs/asyncapi.yaml is out of date (first difference at line {}:\n  generated: {want}\n  committed: {got})\nregenerate it with `{REGENERATE}`",
            line + 1
        );
    }
}

#[test]
fn compose_stack_still_matches_the_servers_and_dead_letters() {
    let compose = read("docker-compose.yml");
    for needle in [
        "PLAINTEXT://kafka:9092",
        "HOST://127.0.0.1:29092",
        "\"127.0.0.1:29092:29092\"",
        "\"127.0.0.1:4222:4222\"",
        "  nats:\n",
    ] {
        assert!(
            compose.contains(needle),
            "docker-compose.yml no longer has `{needle}`: update servers() in crates/vodbridge/src/asyncapi.rs, then `{REGENERATE}`"
        );
    }
    let config = read("config/compose.toml");
    for needle in [
        "brokers = \"kafka:9092\"",
        "url = \"nats://nats:4222\"",
        "destination = \"vodbridge.deadletter\"",
    ] {
        assert!(
            config.contains(needle),
            "config/compose.toml no longer has `{needle}`: update crates/vodbridge/src/asyncapi.rs, then `{REGENERATE}`"
        );
    }
}
