//! Unit tests of the Tencent readings: the fast reading against the text's id and the reference
//! reading, and where the one-pass reading locates elements.

use proptest::prelude::*;

use super::*;

#[test]
fn the_fast_reading_gives_the_id_of_the_whole_object() {
    let cases = [
        r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1","MediaBasicInfo":{"Name":"a","Size":null}},"EventHandle":"h"}"#,
        r#"{"EventHandle":"h","EventType":"NewFileUpload","Z":[1,null],"FileUploadEvent":{"b":1,"a":2},"A":null}"#,
        r#"{"EventType":"NewFileUpload","FileUploadEvent":null,"FileUploadEvent":{"FileId":"2"},"T":"1","Sign":"x"}"#,
        r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1"},"FileUploadEvent":{"FileId":"2"}}"#,
        r#"{"EventType":"NewFileUpload","FileUploadEvent":{"Z\u00e9":"\u0041","A":[{"y":1,"x":-2.5}]},"B":{}}"#,
        r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"NewFileUpload"}"#,
        r#"{"Z":1,"FileUploadEvent":{"b":2,"a":1},"EventHandle":"h","EventType":"NewFileUpload"}"#,
        r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"SomethingNew"}"#,
        r#"{"EventType":"SomethingNew","SomethingNewEvent":{"b":[2],"a":1}}"#,
    ];
    for json in cases {
        let read = fast::event(json).expect("read in one pass");
        let expected = ids::event_id(Provider::Tencent, json, ID_EXCLUDED).expect("valid");
        assert_eq!(read.id, Some(expected), "{json}");
        assert_eq!(read.original.get(), json);
    }
    // A member that cannot be decoded, or a payload view that refuses its object (a known
    // field twice), leaves the event to the reference reading, which reports the error.
    for json in [
        r#"{"EventType":"NewFileUpload","X":"\ud800"}"#,
        r#"{"EventType":"NewFileUpload","X":{"FileId":"1","FileId":"2"}}"#,
        r#"[{"EventType":"NewFileUpload"}]"#,
    ] {
        assert!(fast::event(json).is_none(), "{json}");
    }
}

#[test]
fn an_envelope_member_that_is_not_a_scalar_is_read_as_the_reference_reads_it() {
    // It may be an unmapped type's payload: by its name, or as the smallest object member.
    for json in [
        r#"{"EventType":"EventHandle","EventHandle":{"FileId":"f1"}}"#,
        r#"{"EventType":"Custom","EventType":{"FileId":"f1"}}"#,
    ] {
        assert!(fast::event(json).is_none(), "{json}");
        let event = &normalize(Path::Fast, json, &test_ctx()).expect("normalizes")[0];
        assert_eq!(event.subject.as_deref(), Some("f1"), "{json}");
    }
}

/// Element texts with every kind of string content the scanner must step over, the last
/// member's key among them (escaped, it is not borrowed, so the scan starts before it).
fn element(strings: &[String], spaces: &[&str], k: usize) -> String {
    let s = |i: usize| serde_json::to_string(&strings[(i + k) % strings.len()]).expect("string");
    let w = |i: usize| spaces[(i + k) % spaces.len()];
    format!(
        "{{{w0}\"EventType\"{w1}:{w2}\"NewFileUpload\"{w3},\"FileUploadEvent\":{w4}{{\"FileId\":{s0},{w5}\"A\":[{s1},{{{s2}:{s3}}},[],{{}}],{s4}:{s5}{w6}}}{w7},{s6}:[{s7}]}}",
        w0 = w(0), w1 = w(1), w2 = w(2), w3 = w(3), w4 = w(4), w5 = w(5), w6 = w(6), w7 = w(7),
        s0 = s(0), s1 = s(1), s2 = s(2), s3 = s(3), s4 = s(4), s5 = s(5), s6 = s(6), s7 = s(7),
    )
}

proptest! {
    #[test]
    fn elements_read_in_one_pass_are_located_exactly(
        strings in prop::collection::vec("[\"\\\\{}\\[\\],: aé\u{1F600}]{0,8}", 1..6),
        spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "\n", "\t\r\n "]), 1..8),
        count in 1usize..4,
    ) {
        let texts: Vec<String> = (0..count)
            .map(|i| element(&strings, &spaces, i))
            .collect();
        let w = spaces[0];
        let body = format!(
            "{{\"Response\":{{\"EventSet\":[{w}{}{w}],\"RequestId\":\"]}}\"}}}}",
            texts.join(&format!("{w},{w}"))
        );
        let reads = fast::pull_in_one_pass(&body).expect("one pass").expect("events");
        prop_assert_eq!(reads.len(), texts.len());
        for (read, text) in reads.iter().zip(&texts) {
            prop_assert_eq!(read.original.get(), text.as_str());
            let id = ids::event_id(Provider::Tencent, text, ID_EXCLUDED).expect("valid");
            prop_assert_eq!(read.id.as_deref(), Some(id.as_str()));
        }
    }
}

#[test]
fn an_element_whose_first_key_has_an_escape_is_left_to_the_reference_reading() {
    let body = r#"{"Response":{"EventSet":[{"\u0045ventType":"NewFileUpload"}]}}"#;
    assert!(fast::pull_in_one_pass(body).is_none());
    let events = normalize(Path::Fast, body, &test_ctx()).expect("normalizes");
    assert_eq!(events[0].ty, "vod.media.uploaded");
}

fn test_ctx() -> SourceContext<'static> {
    SourceContext {
        source_name: "t",
        source_uri: "/t",
        received_at: chrono::DateTime::UNIX_EPOCH,
    }
}
