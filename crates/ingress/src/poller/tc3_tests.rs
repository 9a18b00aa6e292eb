//! Test vectors: the official worked example (every intermediate value), the older revisions of
//! the same example, and VOD vectors computed independently with Python `hmac`/`hashlib`.

use super::*;

const BODY: &[u8] =
    br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

fn cvm(action: Option<&'static str>) -> SignRequest<'static> {
    SignRequest {
        host: "cvm.tencentcloudapi.com",
        content_type: "application/json; charset=utf-8",
        action,
        payload: BODY,
        timestamp: 1_551_113_065,
        service: "cvm",
    }
}

#[test]
fn official_worked_example_every_step() {
    let secret_id = format!("AKID{}", "*".repeat(32));
    let secret_key = "*".repeat(32);
    let sig = sign(&cvm(Some("DescribeInstances")), &secret_key);
    assert_eq!(
        sig.payload_hash,
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    assert_eq!(
        sig.canonical_request,
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\
         x-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n\
         35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    assert_eq!(
        sig.canonical_request_hash,
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    );
    assert_eq!(sig.date, "2019-02-25", "the UTC date, not the +08:00 one");
    assert_eq!(
        sig.string_to_sign,
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
         7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    );
    let date_key = secret_date(&secret_key, "2019-02-25");
    assert_eq!(
        hex::encode(date_key),
        "da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0"
    );
    let service_key = secret_service(&date_key, "cvm");
    assert_eq!(
        hex::encode(service_key),
        "8d70cbefb03939f929db64d32dc2ba89b1095620119fe3e050e2b18c5bd2752f"
    );
    let signing_key = secret_signing(&service_key);
    assert_eq!(
        hex::encode(signing_key),
        "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af"
    );
    assert_eq!(
        sig.signature,
        "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    );
    assert_eq!(
        sig.authorization(&secret_id),
        "TC3-HMAC-SHA256 Credential=AKID********************************/2019-02-25/cvm/tc3_request, \
         SignedHeaders=content-type;host;x-tc-action, \
         Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    );
}

const OLD_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3*******";

#[test]
fn older_revision_without_action_header() {
    let sig = sign(&cvm(None), OLD_KEY);
    assert_eq!(sig.signed_headers, "content-type;host");
    assert_eq!(
        sig.canonical_request_hash,
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
    let date_key = secret_date(OLD_KEY, &sig.date);
    assert_eq!(
        hex::encode(date_key),
        "f1cb4d518a0eda9d5cbbfdb7850983f1e603eeae484edea76e4dd8d8deb5556e"
    );
    let service_key = secret_service(&date_key, "cvm");
    assert_eq!(
        hex::encode(service_key),
        "e7c609ce81bea53546bed2cc904778bef9ca14082e48e67883443ed64e227cd7"
    );
    assert_eq!(
        hex::encode(secret_signing(&service_key)),
        "8aa8ab5755582f576e94bcfe383b8e29325b0ca90c3590d569221c6a63a091ed"
    );
    assert_eq!(
        sig.signature,
        "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    );
}

#[test]
fn older_revision_with_action_header() {
    let sig = sign(&cvm(Some("DescribeInstances")), OLD_KEY);
    assert_eq!(
        sig.canonical_request_hash,
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    );
    assert_eq!(
        sig.signature,
        "be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3"
    );
}

fn vod(payload: &'static [u8]) -> SignRequest<'static> {
    SignRequest {
        host: "vod.tencentcloudapi.com",
        content_type: "application/json",
        action: None,
        payload,
        timestamp: 1_700_000_000,
        service: VOD_SERVICE,
    }
}

#[test]
fn vod_pull_events_vector() {
    let sig = sign(&vod(b"{}"), "SECRETEXAMPLE");
    assert_eq!(
        sig.payload_hash,
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(
        sig.canonical_request_hash,
        "d74a16d017107110de12f3485bfc000e9501a53329c77c44a7d4457f38cb813a"
    );
    assert_eq!(sig.date, "2023-11-14");
    let key = secret_signing(&secret_service(
        &secret_date("SECRETEXAMPLE", &sig.date),
        VOD_SERVICE,
    ));
    assert_eq!(
        hex::encode(key),
        "661254f0ca86f016159589662cc2e65e5d854b4ff8345e13b29241f497df7478"
    );
    assert_eq!(
        sig.signature,
        "5f6bcb13b4b24190ab376d3b9b8ce939adbf97ee80eda730bde763d285f301b1"
    );
}

#[test]
fn vod_confirm_events_vector() {
    let sig = sign(&vod(br#"{"EventHandles":["h1","h2"]}"#), "SECRETEXAMPLE");
    assert_eq!(
        sig.signature,
        "f17ec694993e8dd031df187619006a9354ea3a54a0e462fa3e6cae7415f657a6"
    );
}

#[test]
fn header_values_are_lowercased_and_trimmed() {
    let mut req = vod(b"{}");
    req.host = " VOD.TencentCloudAPI.com ";
    req.content_type = "Application/JSON";
    assert_eq!(
        sign(&req, "SECRETEXAMPLE").signature,
        "5f6bcb13b4b24190ab376d3b9b8ce939adbf97ee80eda730bde763d285f301b1"
    );
}
