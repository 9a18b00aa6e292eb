//! The legacy Tencent v2 callback body, `{"version":"4.0","eventType":…,"data":{…}}`, accepted
//! leniently: its event types share the v3 names, its keys are lower camel case.

use serde::Deserialize;
use vodbridge_core::{CanonicalEvent, Outcome, Provider};

use super::{event_type, Members};
use crate::lenient::{self, nonempty, number, obj, Obj, Scalar};
use crate::record::{self, Extract, Header, Original};
use crate::{ids, types, NormalizeError, Path, SourceContext, UNMAPPED_TYPE};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    #[serde(borrow)]
    file_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    file_name: Option<Scalar<'a>>,
    #[serde(borrow)]
    file_url: Option<Scalar<'a>>,
    #[serde(borrow)]
    vod_task_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    task_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    status: Option<Scalar<'a>>,
    #[serde(borrow)]
    err_code: Option<Scalar<'a>>,
    #[serde(borrow)]
    message: Option<Scalar<'a>>,
    #[serde(borrow)]
    session_context: Option<Scalar<'a>>,
    #[serde(borrow)]
    meta_data: Option<Obj<MetaData<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
struct MetaData<'a> {
    #[serde(borrow)]
    size: Option<Scalar<'a>>,
    #[serde(borrow)]
    duration: Option<Scalar<'a>>,
}

/// A v2 body (the whole body is the event; nothing is excluded from the id).
pub(super) fn event(
    path: Path,
    raw: Original<'_>,
    top: &Members<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let vendor_type = event_type(top, "eventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    let data: Data<'_> = match top.get("data") {
        None => Data::default(),
        Some(v) => match lenient::view::<Obj<Data<'_>>>(v.get())? {
            Obj::Some(d) => d,
            Obj::Other => return Err(NormalizeError::field("data", "an object")),
        },
    };
    let mut x = Extract::default();
    x.media.id = lenient::id(&data.file_id, "data.fileId")?;
    x.media.name = nonempty(&data.file_name);
    x.media.url = nonempty(&data.file_url);
    let meta = obj(&data.meta_data);
    x.media.size = meta.and_then(|m| number(&m.size));
    x.media.duration = meta.and_then(|m| number(&m.duration));
    x.task.id = lenient::id(&data.vod_task_id, "data.vodTaskId")?
        .or(lenient::id(&data.task_id, "data.taskId")?);
    x.task.kind = mapping.map(|m| m.task_kind);
    x.task.status = nonempty(&data.status);
    x.context = nonempty(&data.session_context);
    x.fallback_key = x.task.id.clone();
    let failed_code = data.err_code.as_ref().is_some_and(|c| !c.is_zero_code());
    let outcome = if matches!(&data.status, Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("PROCESSING"))
    {
        Outcome::Processing
    } else if failed_code
        || matches!(&data.status, Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("FAIL"))
    {
        x.error_code = lenient::text(&data.err_code);
        x.error_message = nonempty(&data.message);
        Outcome::Failed
    } else {
        Outcome::Succeeded
    };
    let id = ids::event_id(Provider::Tencent, raw.get(), &[])?;
    let header = Header {
        provider: Provider::Tencent,
        providertype: &vendor_type,
        ty: mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type),
        outcome,
        id,
        time: None,
    };
    Ok(record::build(path, header, x, raw, ctx))
}
