//! Configuration loading and validation.

use super::*;

const MINIMAL: &str = r#"
[[sources]]
name = "tc"
provider = "tencent"

[[sinks]]
name = "local"
type = "file"
path = "data/events.jsonl"

[dead_letter]
sink = "local"
destination = "data/dl.jsonl"
"#;

fn err(toml: &str) -> String {
    format!("{:#}", Config::parse(toml).expect_err("must be refused"))
}

#[test]
fn embedded_default_is_valid_and_local_only() {
    let c = Config::load(None).expect("embedded default");
    assert_eq!(c.sources.len(), 2);
    assert!(c.server.listen.ip().is_loopback());
    assert!(c.server.admin_listen.ip().is_loopback());
    assert!(
        matches!(&c.sinks[0].settings, SinkSettings::File(config) if config.path == Path::new("data/events.jsonl"))
    );
    assert_eq!(
        c.dead_letter.as_ref().map(|d| d.destination.as_str()),
        Some("data/deadletter.jsonl")
    );
}

#[test]
fn example_documents_a_valid_configuration() {
    let text = include_str!("../../../../config/example.toml");
    std::env::set_var("TENCENT_VOD_SIGN_KEY", "mysignkey");
    let dir = tempfile::tempdir().expect("tempdir");
    // Every secret file the example names is created in a temporary directory.
    let secrets = dir.path().to_str().expect("utf8");
    let text = text.replace("/run/secrets", secrets);
    for (name, value) in [
        ("tencent_callback_token", "s3cret\n"),
        ("tencent_secret_id", "AKIDEXAMPLE\n"),
        ("tencent_secret_key", "SECRETEXAMPLE\n"),
    ] {
        std::fs::write(dir.path().join(name), value).expect("write");
    }
    let c = Config::parse(&text).expect("example parses");
    assert_eq!(c.sinks.len(), 3);
    let sources = resolve_sources(&c.sources).expect("secrets");
    assert_eq!(
        sources[0].auth.token.as_ref().map(Secret::expose),
        Some("s3cret")
    );
    assert_eq!(
        sources[0]
            .auth
            .tencent_sign_key
            .as_ref()
            .map(Secret::expose),
        Some("mysignkey")
    );
    assert_eq!(
        sources[1].auth.volcengine.as_ref().map(|v| v.keys.len()),
        Some(2)
    );
    assert_eq!(sources[1].ce_source, "/vodbridge/volcengine");
}

#[test]
fn defaults_apply() {
    let c = Config::parse(MINIMAL).expect("valid");
    assert_eq!(c.server.max_body_bytes, 1024 * 1024);
    assert_eq!(c.server.ack_timeout, Duration::from_secs(10));
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.sources[0].max_clock_skew, Duration::from_secs(300));
}

#[test]
fn environment_overrides_server_keys_and_ignores_unrelated_variables() {
    std::env::set_var("VODBRIDGE_SERVER__MAX_IN_FLIGHT", "7");
    std::env::set_var("VODBRIDGE_PYTHON", "/usr/bin/python3");
    let c = Config::parse(MINIMAL).expect("valid");
    assert_eq!(c.server.max_in_flight, 7);
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let e = err(&MINIMAL.replace(
        "provider = \"tencent\"",
        "provider = \"tencent\"\nsing_key = \"x\"",
    ));
    assert!(e.contains("sing_key"), "{e}");
    let e = err(&MINIMAL.replace(
        "path = \"data/events.jsonl\"",
        "path = \"a\"\nrotate_byte = 5",
    ));
    assert!(e.contains("rotate_byte"), "{e}");
    let e = err(&format!("{MINIMAL}\n[server]\nlisten_addr = \"x\"\n"));
    assert!(e.contains("listen_addr"), "{e}");
}

#[test]
fn invalid_values_name_the_key() {
    let e = err(&format!("{MINIMAL}\n[server]\nlisten = \"nowhere\"\n"));
    assert!(e.contains("server.listen"), "{e}");
    let e = err(&format!("{MINIMAL}\n[server]\nack_timeout = \"soon\"\n"));
    assert!(e.contains("server.ack_timeout"), "{e}");
    let e = err(&MINIMAL.replace("provider = \"tencent\"", "provider = \"youtube\""));
    assert!(e.contains("provider"), "{e}");
    let e = err(&MINIMAL.replace("type = \"file\"", "type = \"s3\""));
    assert!(e.contains("s3"), "{e}");
}

#[test]
fn cross_references_are_checked() {
    assert!(err(&MINIMAL.replace("sink = \"local\"", "sink = \"nope\""))
        .contains("dead_letter.sink `nope`"));
    assert!(err(&MINIMAL.replace("name = \"tc\"", "name = \"a/b\"")).contains("sources[0].name"));
    let twice = MINIMAL.replace(
        "[[sinks]]",
        "[[sources]]\nname = \"tc\"\nprovider = \"volcengine\"\n\n[[sinks]]",
    );
    assert!(err(&twice).contains("used twice"));
    let no_dl = MINIMAL
        .split("[dead_letter]")
        .next()
        .expect("prefix")
        .to_owned();
    let defaulted = Config::parse(&no_dl).expect("no [dead_letter] is a default route");
    assert!(defaulted.dead_letter_defaulted);
    let no_sinks = "[[sources]]\nname = \"a\"\nprovider = \"tencent\"\n";
    assert!(err(no_sinks).contains("at least one [[sinks]]"));
}

#[test]
fn provider_specific_keys_are_checked() {
    let volc_no_url = MINIMAL.replace(
        "provider = \"tencent\"",
        "provider = \"volcengine\"\nsigning_keys = [\"k1\"]",
    );
    assert!(err(&volc_no_url).contains("callback_url is required"));
    let tencent_keys = MINIMAL.replace(
        "provider = \"tencent\"",
        "provider = \"tencent\"\nsigning_keys = [\"k1\"]",
    );
    assert!(err(&tencent_keys).contains("volcengine only"));
    let two = MINIMAL.replace(
        "provider = \"tencent\"",
        "provider = \"tencent\"\ntoken = \"a\"\ntoken_env = \"B\"",
    );
    assert!(err(&two).contains("only one of token"));
    let missing = MINIMAL.replace(
        "provider = \"tencent\"",
        "provider = \"tencent\"\nsign_key_file = \"/nonexistent/key\"",
    );
    assert!(err(&missing).contains("sign_key_file"));
}

#[test]
fn secrets_never_print() {
    let c = Config::parse(&MINIMAL.replace(
        "provider = \"tencent\"",
        "provider = \"tencent\"\nsign_key = \"topsecret\"",
    ))
    .expect("valid");
    assert!(!format!("{c:?}").contains("topsecret"));
    let sources = resolve_sources(&c.sources).expect("resolve");
    assert!(!format!("{sources:?}").contains("topsecret"));
}

/// The `[[sinks]]` table of `kind` named `first`, with its required keys.
fn one_sink(kind: &str, extra: &str) -> String {
    let keys = match kind {
        "file" => "path = \"out/events.jsonl\"",
        "kafka" => "brokers = \"127.0.0.1:9092\"",
        _ => "url = \"nats://127.0.0.1:4222\"",
    };
    format!(
        "[[sources]]\nname = \"tc\"\nprovider = \"tencent\"\n\n[[sinks]]\nname = \"first\"\ntype = \"{kind}\"\n{keys}\n{extra}\n\n[[sinks]]\nname = \"second\"\ntype = \"file\"\npath = \"other.jsonl\"\n"
    )
}

#[test]
fn without_dead_letter_section_the_first_sink_gets_a_default_route() {
    for (kind, destination) in [
        ("file", "out/deadletter.jsonl"),
        ("kafka", "vodbridge.deadletter"),
        ("nats", "vodbridge.deadletter"),
    ] {
        let c = Config::parse(&one_sink(kind, "")).expect(kind);
        let dl = c.dead_letter.as_ref().expect("a route");
        assert_eq!(dl.sink, "first", "{kind}");
        assert_eq!(dl.destination, destination, "{kind}");
        assert!(c.dead_letter_defaulted);
        assert!(c.dead_letter_summary().contains("(default"), "{kind}");
        assert!(c.warnings().is_empty(), "{kind}: {:?}", c.warnings());
    }
    // A file sink whose events file already has the default name does not share it.
    let toml = one_sink("file", "").replace("out/events.jsonl", "out/deadletter.jsonl");
    let c = Config::parse(&toml).expect("valid");
    assert_eq!(
        c.dead_letter.expect("route").destination,
        "out/vodbridge.deadletter.jsonl"
    );
}

#[test]
fn an_explicit_dead_letter_section_stays_authoritative() {
    let c = Config::parse(MINIMAL).expect("valid");
    assert!(!c.dead_letter_defaulted);
    assert_eq!(
        c.dead_letter.as_ref().expect("route").destination,
        "data/dl.jsonl"
    );
    assert!(!c.dead_letter_summary().contains("default"));
}

#[test]
fn a_dead_letter_subject_the_stream_does_not_bind_is_warned_about() {
    let stream = "jetstream = true\n[sinks.stream]\nname = \"VOD\"\nsubjects = [\"vod.>\"]";
    let c = Config::parse(&one_sink("nats", stream)).expect("valid");
    let warnings = c.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("vodbridge.deadletter") && warnings[0].contains("`VOD`"));
    for bound in [
        "vod.>\", \"vodbridge.*",
        "vod.>\", \">",
        "vodbridge.deadletter",
    ] {
        let stream = stream.replace("vod.>", bound);
        let c = Config::parse(&one_sink("nats", &stream)).expect("valid");
        assert!(c.warnings().is_empty(), "{bound}: {:?}", c.warnings());
    }
    let no_stream = Config::parse(&one_sink("nats", "")).expect("valid");
    assert!(
        no_stream.warnings().is_empty(),
        "a stream managed elsewhere"
    );
}

#[test]
fn subject_patterns_match_as_nats_does() {
    use super::validate::subject_matches as m;
    assert!(m("vod.>", "vod.media.uploaded"));
    assert!(!m("vod.>", "vod"));
    assert!(m("vod.*", "vod.x"));
    assert!(!m("vod.*", "vod.x.y"));
    assert!(m("a.b", "a.b"));
    assert!(!m("a.b", "a.b.c"));
    assert!(!m("a.b.c", "a.b"));
    assert!(m(">", "anything.at.all"));
}

#[test]
fn sink_keys_are_checked_for_each_type() {
    // `deny_unknown_fields` of every sink config still applies through the tagged enum.
    for kind in ["file", "kafka", "nats"] {
        let e = err(&one_sink(kind, "pathh = \"x\""));
        assert!(
            e.contains(&format!("sink `first` ({kind})")) && e.contains("`pathh`"),
            "{kind}: {e}"
        );
    }
    let nested =
        "jetstream = true\n[sinks.stream]\nname = \"VOD\"\nsubjects = [\"vod.>\"]\nbogus = 1";
    let e = err(&one_sink("nats", nested));
    assert!(e.contains("`bogus`"), "{e}");
    let unknown = one_sink("file", "").replacen("type = \"file\"", "type = \"s3\"", 1);
    let e = err(&unknown);
    assert!(
        e.contains("sink `first` (s3)") && e.contains("`file`, `kafka`, `nats`"),
        "{e}"
    );
    let not_text = one_sink("file", "").replacen("type = \"file\"", "type = 3", 1);
    assert!(err(&not_text).contains("`type` must be a string"));
    let no_type = one_sink("file", "").replacen("type = \"file\"\n", "", 1);
    assert!(err(&no_type).contains("missing field `type`"));
}
