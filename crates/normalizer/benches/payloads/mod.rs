//! The payloads both normalizer benchmarks measure (`normalize.rs` with criterion, `ratio.rs`
//! paired against `serde_json::Value` parsing).

use std::path::Path;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use vodbridge_core::Provider;
use vodbridge_normalizer::{type_mappings, SourceContext};

fn fixture_text(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path);
    std::fs::read_to_string(full).expect("fixture")
}

fn fixture(path: &str) -> Value {
    serde_json::from_str(&fixture_text(path)).expect("fixture is JSON")
}

/// The fixtures of the `PullEvents` inputs, in turn.
const PULL_NAMES: [&str; 8] = [
    "new_file_upload",
    "procedure_state_changed",
    "pull_complete",
    "file_deleted",
    "edit_media_complete",
    "review_audio_video_complete",
    "concat_complete_2017",
    "remove_watermark",
];

/// A `ProcedureStateChanged` with a realistic large result: 12 transcodes, snapshots, sprites,
/// an adaptive-streaming output and AI review/analysis results (about 16 KB).
fn large_procedure() -> Value {
    let mut event = fixture("tencent/procedure_state_changed.json");
    let p = &mut event["ProcedureStateChangeEvent"];
    let base = p["MediaProcessResultSet"][0].clone();
    let mut results = Vec::new();
    for def in [
        10, 20, 30, 40, 100010, 100020, 100030, 100040, 100210, 100220, 100230, 100240,
    ] {
        let mut t = base.clone();
        t["TranscodeTask"]["Input"]["Definition"] = json!(def);
        t["TranscodeTask"]["Output"]["Definition"] = json!(def);
        t["TranscodeTask"]["Output"]["Url"] = json!(format!(
            "https://1256768367.vod2.myqcloud.com/xxx/xxx/v.f{def}.mp4"
        ));
        results.push(t);
    }
    for i in 0..6 {
        results.push(json!({"Type":"SnapshotByTimeOffset","SnapshotByTimeOffsetTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"SUCCESS","Progress":100,
            "Input":{"Definition":10,"ExtTimeOffsetSet":["1s","5s","10s"]},
            "Output":{"Definition":10,"PicInfoSet":(0..10).map(|k| json!({"TimeOffset":k*1000,"Url":format!("https://1256768367.vod2.myqcloud.com/xxx/xxx/snapshot/{i}_{k}.jpg"),"WaterMarkDefinition":[]})).collect::<Vec<_>>()}}}));
    }
    results.push(json!({"Type":"ImageSprites","ImageSpriteTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"SUCCESS","Progress":100,"Input":{"Definition":10},
        "Output":{"Definition":10,"Height":80,"Width":142,"TotalCount":60,"ImageUrlSet":["https://xxx/sprite_0.jpg","https://xxx/sprite_1.jpg"],"WebVttUrl":"https://xxx/sprite.vtt"}}}));
    results.push(json!({"Type":"AdaptiveDynamicStreaming","AdaptiveDynamicStreamingTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"SUCCESS","Progress":100,"Input":{"Definition":12},
        "Output":{"Definition":12,"Package":"HLS","DrmType":"","Url":"https://xxx/master.m3u8","Size":0,"DigitalWatermarkType":"None","SubStreamSet":[{"Type":"video","Width":1280,"Height":720,"Size":12000000},{"Type":"video","Width":640,"Height":360,"Size":6000000}]}}}));
    p["MediaProcessResultSet"] = Value::Array(results);
    p["AiContentReviewResultSet"] = json!([
        {"Type":"Porn","PornTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Input":{"Definition":10},"Output":{"Confidence":2.0,"Suggestion":"pass","Label":"normal","SegmentSet":[]}}},
        {"Type":"Terrorism","TerrorismTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Input":{"Definition":10},"Output":{"Confidence":0.0,"Suggestion":"pass","Label":"normal","SegmentSet":[]}}},
        {"Type":"Political","PoliticalTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Input":{"Definition":10},"Output":{"Confidence":0.0,"Suggestion":"pass","Label":"","SegmentSet":[]}}}
    ]);
    p["AiAnalysisResultSet"] = json!([
        {"Type":"Classification","ClassificationTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Input":{"Definition":10},"Output":{"ClassificationSet":[{"Classification":"animal","Confidence":97.5}]}}},
        {"Type":"Tag","TagTask":{"Status":"SUCCESS","ErrCodeExt":"","ErrCode":0,"Message":"","Input":{"Definition":10},"Output":{"TagSet":[{"Tag":"cat","Confidence":91.0},{"Tag":"grass","Confidence":80.0}]}}}
    ]);
    event
}

/// A full `PullEvents` response: 16 events of mixed types, as the poller receives it.
fn pull_response() -> Value {
    let names = PULL_NAMES;
    let set: Vec<Value> = (0..16)
        .map(|i| {
            let mut e = fixture(&format!("tencent/{}.json", names[i % names.len()]));
            e["EventHandle"] = json!(format!("EventHandle.{i}"));
            e
        })
        .collect();
    json!({"Response": {"EventSet": set, "RequestId": "335bdaa3-db0e-46ce-9946-51941d9cb0f5"}})
}

/// The same 16 events as [`pull_response`], spelled as the vendor's `PullEvents` spells them:
/// each fixture's text in its own key order, `EventHandle` first, every other mapped type's
/// payload member present as `null`, no whitespace. [`pull_response`] went through a sorted
/// map, which drops that shape; both are measured.
fn pull_response_vendor_shape() -> Vec<u8> {
    let names = PULL_NAMES;
    // Each payload member once (two types can share one), in the table's order.
    let mut keys: Vec<&str> = Vec::new();
    for key in type_mappings(Provider::Tencent)
        .iter()
        .flat_map(|m| m.payload_keys.iter())
    {
        if !keys.contains(key) {
            keys.push(key);
        }
    }
    let mut body = String::from(r#"{"Response":{"EventSet":["#);
    for i in 0..16 {
        let path = format!("tencent/{}.json", names[i % names.len()]);
        let text = minified(&fixture_text(&path));
        let inner = text
            .trim()
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .expect("fixture is an object");
        let object: Value = serde_json::from_str(&text).expect("fixture is JSON");
        // The vendor's null members, except where the event has the member itself.
        let nulls: String = keys
            .iter()
            .filter(|k| object.get(**k).is_none())
            .map(|k| format!(",\"{k}\":null"))
            .collect();
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"EventHandle":"EventHandle.{i}",{inner}{nulls}}}"#
        ));
    }
    body.push_str(r#"],"RequestId":"335bdaa3-db0e-46ce-9946-51941d9cb0f5"}}"#);
    body.into_bytes()
}

/// `json` without the whitespace between its tokens, keys left in their order (a `Value` would
/// sort them).
fn minified(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The receive context every benchmark normalizes with.
pub(crate) fn context() -> SourceContext<'static> {
    SourceContext {
        source_name: "bench",
        source_uri: "/vodbridge/bench",
        received_at: Utc
            .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("valid time"),
    }
}

/// (name, provider, body) of every measured payload: a small Tencent callback, a Volcengine
/// callback, a large Tencent procedure result and a 16-event `PullEvents` response, sorted and
/// in the vendor's own shape.
pub(crate) fn payloads() -> Vec<(&'static str, Provider, Vec<u8>)> {
    vec![
        (
            "tencent_new_file_upload",
            Provider::Tencent,
            fixture("tencent/new_file_upload.json")
                .to_string()
                .into_bytes(),
        ),
        (
            "volcengine_workflow_complete",
            Provider::Volcengine,
            fixture("volcengine/workflow_complete.json")
                .to_string()
                .into_bytes(),
        ),
        (
            "tencent_large_procedure",
            Provider::Tencent,
            large_procedure().to_string().into_bytes(),
        ),
        (
            "tencent_pull_events_16",
            Provider::Tencent,
            pull_response().to_string().into_bytes(),
        ),
        (
            "tencent_pull_events_16_vendor",
            Provider::Tencent,
            pull_response_vendor_shape(),
        ),
    ]
}
