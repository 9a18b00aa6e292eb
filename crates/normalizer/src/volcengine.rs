//! Volcengine VOD HTTP callbacks: `{"RequestId","Version","EventType","EventTime","Data":{…}}`
//! (`SyncURIComplete` adds top-level `ErrorCode`/`ErrorMessage`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Outcome, Provider};

use crate::context::{Path, SourceContext};
use crate::error::NormalizeError;
use crate::lenient::{self, id, nonempty, number, obj, Obj, Scalar};
use crate::record::{self, Extract, Header, Original};
use crate::time::parse_vendor_time;
use crate::types::{self, UNMAPPED_TYPE};
use crate::{fast, ids};

/// `RequestId` is excluded from the id: the docs do not promise that retries keep it.
const ID_EXCLUDED: &[&str] = &["RequestId"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope<'a> {
    #[serde(borrow)]
    event_type: Option<Scalar<'a>>,
    #[serde(borrow)]
    event_time: Option<Scalar<'a>>,
    #[serde(borrow)]
    error_code: Option<Scalar<'a>>,
    #[serde(borrow)]
    error_message: Option<Scalar<'a>>,
    /// Boxed: the view is large (over a kilobyte), and it is moved several times on its way out.
    #[serde(borrow)]
    data: Option<Obj<Box<Data<'a>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Data<'a> {
    #[serde(borrow)]
    code: Option<Scalar<'a>>,
    #[serde(borrow)]
    message: Option<Scalar<'a>>,
    #[serde(borrow)]
    status: Option<Scalar<'a>>,
    #[serde(borrow)]
    vid: Option<Scalar<'a>>,
    #[serde(borrow)]
    mid: Option<Scalar<'a>>,
    #[serde(borrow)]
    space_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    run_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    job_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    task_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    req_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    callback_args: Option<Scalar<'a>>,
    #[serde(borrow)]
    source_url: Option<Scalar<'a>>,
    #[serde(borrow)]
    play_url: Option<Scalar<'a>>,
    #[serde(borrow)]
    file_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    store_uri: Option<Scalar<'a>>,
    #[serde(borrow)]
    size: Option<Scalar<'a>>,
    #[serde(borrow)]
    source_info: Option<Obj<SourceInfo<'a>>>,
    #[serde(borrow)]
    input: Option<Obj<Input<'a>>>,
    #[serde(borrow)]
    meta: Option<Obj<Named<'a>>>,
    #[serde(borrow)]
    control: Option<Obj<Named<'a>>>,
    #[serde(borrow)]
    src: Option<Obj<Uri<'a>>>,
    #[serde(borrow)]
    dst: Option<Obj<Uri<'a>>>,
    #[serde(borrow)]
    extra: Option<Obj<Extra<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SourceInfo<'a> {
    #[serde(borrow)]
    file_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    store_uri: Option<Scalar<'a>>,
    #[serde(borrow)]
    size: Option<Scalar<'a>>,
    #[serde(borrow)]
    duration: Option<Scalar<'a>>,
}

/// `ExecutionComplete.Input`: `Vid`, or `FileId{Vid}`, or `DirectUrl{SpaceName, FileName}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Input<'a> {
    #[serde(borrow)]
    vid: Option<Scalar<'a>>,
    #[serde(borrow)]
    file_id: Option<Obj<Named<'a>>>,
    #[serde(borrow)]
    direct_url: Option<Obj<Named<'a>>>,
}

/// The small objects of `ExecutionComplete` (`Meta`, `Control`, `Input.FileId`, `Input.DirectUrl`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Named<'a> {
    #[serde(borrow)]
    vid: Option<Scalar<'a>>,
    #[serde(borrow)]
    space_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    file_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    callback_args: Option<Scalar<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Uri<'a> {
    #[serde(borrow, rename = "URI")]
    uri: Option<Scalar<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Extra<'a> {
    #[serde(borrow)]
    source_vid: Option<Scalar<'a>>,
    #[serde(borrow)]
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
            fast::view_with_id::<Obj<Envelope<'_>>>(Provider::Volcengine, text, ID_EXCLUDED)
        }
        Path::Reference => None,
    };
    let (env, id, raw) = match teed {
        Some((env, id)) => (
            env,
            Some(id),
            Original::of_body(text).map_err(NormalizeError::json)?,
        ),
        None => {
            let raw: &RawValue = serde_json::from_str(text).map_err(NormalizeError::json)?;
            (lenient::view(raw.get())?, None, Original::Raw(raw))
        }
    };
    let Obj::Some(env) = env else {
        return Err(NormalizeError::NotObject);
    };
    let vendor_type = match &env.event_type {
        None => return Err(NormalizeError::MissingEventType),
        Some(Scalar::Str(s)) if s.trim().is_empty() => {
            return Err(NormalizeError::MissingEventType)
        }
        Some(Scalar::Str(s)) => s.clone(),
        Some(_) => return Err(NormalizeError::field("EventType", "a string")),
    };
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
        ty: mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type),
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
    x.media.id = id(&d.vid, "Data.Vid")?
        .or(id(&d.mid, "Data.Mid")?)
        .or(input
            .map(|i| id(&i.vid, "Data.Input.Vid"))
            .transpose()?
            .flatten())
        .or_else(|| {
            input
                .and_then(|i| obj(&i.file_id))
                .and_then(|f| nonempty(&f.vid))
        })
        .or_else(|| {
            extra.and_then(|e| nonempty(&e.target_vid).or_else(|| nonempty(&e.source_vid)))
        });
    x.media.name = source
        .and_then(|s| nonempty(&s.file_name))
        .or_else(|| nonempty(&d.file_name))
        .or_else(|| {
            input
                .and_then(|i| obj(&i.direct_url))
                .and_then(|u| nonempty(&u.file_name))
        });
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
        .or_else(|| {
            input
                .and_then(|i| obj(&i.direct_url))
                .and_then(|u| nonempty(&u.space_name))
        });
    x.fallback_key = x
        .task
        .id
        .clone()
        .or_else(|| x.media.store_uri.clone())
        .or_else(|| x.space.clone());
    Ok(x)
}

fn is(v: &Option<Scalar<'_>>, any_of: &[&str]) -> bool {
    matches!(v, Some(Scalar::Str(s)) if any_of.iter().any(|w| s.trim().eq_ignore_ascii_case(w)))
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
        if is(&d.status, &["Success", "Succeeded"]) {
            return Outcome::Succeeded;
        }
        if is(&d.status, &["PendingStart", "Running", "Processing"]) {
            return Outcome::Processing;
        }
        let code = nonempty(&d.code).or_else(|| nonempty(&d.status));
        return fail(x, code, nonempty(&d.message));
    }
    match &d.code {
        Some(_) if is(&d.code, &["Success", ""]) => Outcome::Succeeded,
        Some(c) => fail(x, c.text(), nonempty(&d.message)),
        None => Outcome::Succeeded,
    }
}
