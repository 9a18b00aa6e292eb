//! Volcengine VOD HTTP callbacks: `{"RequestId","Version","EventType","EventTime","Data":{…}}`
//! (`SyncURIComplete` adds top-level `ErrorCode`/`ErrorMessage`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Outcome, Provider};

use crate::context::{Path, SourceContext};
use crate::error::NormalizeError;
use crate::ids;
use crate::lenient::{self, id, is_one_of, nonempty, number, obj, Obj, Scalar};
use crate::record::{self, Extract, Header, Original};
use crate::time::parse_vendor_time;
use crate::types;

/// `RequestId` is excluded from the id: the docs do not promise that retries keep it.
const ID_EXCLUDED: &[&str] = &["RequestId"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Envelope<'a> {
    event_type: Option<Scalar<'a>>,
    event_time: Option<Scalar<'a>>,
    error_code: Option<Scalar<'a>>,
    error_message: Option<Scalar<'a>>,
    /// Boxed: the view is large (over a kilobyte), and it is moved several times on its way out.
    data: Option<Obj<Box<Data<'a>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Data<'a> {
    code: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
    status: Option<Scalar<'a>>,
    vid: Option<Scalar<'a>>,
    mid: Option<Scalar<'a>>,
    space_name: Option<Scalar<'a>>,
    run_id: Option<Scalar<'a>>,
    job_id: Option<Scalar<'a>>,
    task_id: Option<Scalar<'a>>,
    req_id: Option<Scalar<'a>>,
    callback_args: Option<Scalar<'a>>,
    source_url: Option<Scalar<'a>>,
    play_url: Option<Scalar<'a>>,
    file_name: Option<Scalar<'a>>,
    store_uri: Option<Scalar<'a>>,
    size: Option<Scalar<'a>>,
    source_info: Option<Obj<SourceInfo<'a>>>,
    input: Option<Obj<Input<'a>>>,
    meta: Option<Obj<Named<'a>>>,
    control: Option<Obj<Named<'a>>>,
    src: Option<Obj<Uri<'a>>>,
    dst: Option<Obj<Uri<'a>>>,
    extra: Option<Obj<Extra<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SourceInfo<'a> {
    file_name: Option<Scalar<'a>>,
    store_uri: Option<Scalar<'a>>,
    size: Option<Scalar<'a>>,
    duration: Option<Scalar<'a>>,
}

/// `ExecutionComplete.Input`: `Vid`, or `FileId{Vid}`, or `DirectUrl{SpaceName, FileName}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Input<'a> {
    vid: Option<Scalar<'a>>,
    file_id: Option<Obj<Named<'a>>>,
    direct_url: Option<Obj<Named<'a>>>,
}

/// The small objects of `ExecutionComplete` (`Meta`, `Control`, `Input.FileId`, `Input.DirectUrl`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Named<'a> {
    vid: Option<Scalar<'a>>,
    space_name: Option<Scalar<'a>>,
    file_name: Option<Scalar<'a>>,
    callback_args: Option<Scalar<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Uri<'a> {
    #[serde(rename = "URI")]
    uri: Option<Scalar<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Extra<'a> {
    source_vid: Option<Scalar<'a>>,
    target_vid: Option<Scalar<'a>>,
}

/// A callback body.
pub(crate) fn normalize(
    path: Path,
    text: &str,
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    // The envelope view and the id in one pass, which also validates the whole body (so the
    // body text is the `original`); anything unusual (an error of either) takes the old way, a
    // raw scan, the view, then the id, which reports errors exactly as it always did.
    let teed = match path {
        Path::Fast => {
            ids::view_with_id::<Obj<Envelope<'_>>>(Provider::Volcengine, text, ID_EXCLUDED).ok()
        }
        Path::Reference => None,
    };
    let (env, id, raw) = match teed {
        Some((env, id)) => (env, Some(id), Original::of_body(text)),
        None => {
            let raw: &RawValue = serde_json::from_str(text).map_err(NormalizeError::json)?;
            (lenient::view(raw.get())?, None, Original::Raw(raw))
        }
    };
    let Obj::Some(env) = env else {
        return Err(NormalizeError::NotObject);
    };
    let vendor_type = lenient::event_type(env.event_type.clone(), "EventType")?;
    let default = Data::default();
    let data = match &env.data {
        None => &default,
        Some(Obj::Some(d)) => d,
        Some(Obj::Other) => return Err(NormalizeError::field("Data", "an object")),
    };
    let mapping = types::lookup(Provider::Volcengine, &vendor_type);
    let mut x = extract(data, mapping.map(|m| m.task_kind))?;
    let outcome = outcome(&env, data, &mut x);
    let id = match id {
        Some(id) => id,
        None => ids::event_id(Provider::Volcengine, raw.get(), ID_EXCLUDED)?,
    };
    let header = Header {
        provider: Provider::Volcengine,
        providertype: &vendor_type,
        mapping,
        outcome,
        id,
        time: env.event_time.as_ref().and_then(parse_vendor_time),
    };
    Ok(vec![record::build(path, header, x, raw, ctx)])
}

fn extract<'a>(d: &Data<'a>, kind: Option<&'static str>) -> Result<Extract<'a>, NormalizeError> {
    let mut x = Extract::default();
    let input = obj(&d.input);
    let extra = obj(&d.extra);
    let source = obj(&d.source_info);
    let direct_url = input.and_then(|i| obj(&i.direct_url));
    x.media.id = id(&d.vid, "Data.Vid")?
        .or(id(&d.mid, "Data.Mid")?)
        .or(id(input.map_or(&None, |i| &i.vid), "Data.Input.Vid")?)
        .or_else(|| nonempty(&obj(&input?.file_id)?.vid))
        .or_else(|| {
            extra.and_then(|e| nonempty(&e.target_vid).or_else(|| nonempty(&e.source_vid)))
        });
    x.media.name = source
        .and_then(|s| nonempty(&s.file_name))
        .or_else(|| nonempty(&d.file_name))
        .or_else(|| nonempty(&direct_url?.file_name));
    x.media.url = nonempty(&d.play_url);
    x.media.source_url =
        nonempty(&d.source_url).or_else(|| obj(&d.src).and_then(|s| nonempty(&s.uri)));
    x.media.store_uri = source
        .and_then(|s| nonempty(&s.store_uri))
        .or_else(|| nonempty(&d.store_uri))
        .or_else(|| obj(&d.dst).and_then(|s| nonempty(&s.uri)));
    x.media.size = source
        .and_then(|s| number(&s.size))
        .or_else(|| number(&d.size));
    x.media.duration = source.and_then(|s| number(&s.duration));
    x.task.id = id(&d.run_id, "Data.RunId")?
        .or(id(&d.job_id, "Data.JobId")?)
        .or(id(&d.task_id, "Data.TaskId")?)
        .or(id(&d.req_id, "Data.ReqId")?);
    x.task.kind = kind;
    x.task.status = nonempty(&d.status).or_else(|| nonempty(&d.code));
    x.context = nonempty(&d.callback_args)
        .or_else(|| obj(&d.control).and_then(|c| nonempty(&c.callback_args)));
    x.space = nonempty(&d.space_name)
        .or_else(|| obj(&d.meta).and_then(|m| nonempty(&m.space_name)))
        .or_else(|| nonempty(&direct_url?.space_name));
    x.fallback_key = x
        .task
        .id
        .clone()
        .or_else(|| x.media.store_uri.clone())
        .or_else(|| x.space.clone());
    Ok(x)
}

/// Outcome rules (docs/events.md): top-level `ErrorCode` (SyncURIComplete), then `Status`
/// (VideoTrackComplete, ExecutionComplete), then `Code`; nothing reported means success.
fn outcome<'a>(env: &Envelope<'a>, d: &Data<'a>, x: &mut Extract<'a>) -> Outcome {
    let fail = |x: &mut Extract<'a>, code: Option<Cow<'a, str>>, message: Option<Cow<'a, str>>| {
        x.error_code = code;
        x.error_message = message;
        Outcome::Failed
    };
    if let Some(code) = &env.error_code {
        return if code.is_zero_code() {
            Outcome::Succeeded
        } else {
            fail(x, code.text(), nonempty(&env.error_message))
        };
    }
    // An empty `Status` reports nothing, like an absent one: fall through to `Code`.
    if nonempty(&d.status).is_some() {
        if is_one_of(&d.status, &["Success", "Succeeded"]) {
            return Outcome::Succeeded;
        }
        if is_one_of(&d.status, &["PendingStart", "Running", "Processing"]) {
            return Outcome::Processing;
        }
        let code = nonempty(&d.code).or_else(|| nonempty(&d.status));
        return fail(x, code, nonempty(&d.message));
    }
    match &d.code {
        Some(_) if is_one_of(&d.code, &["Success", ""]) => Outcome::Succeeded,
        Some(c) => fail(x, c.text(), nonempty(&d.message)),
        None => Outcome::Succeeded,
    }
}
