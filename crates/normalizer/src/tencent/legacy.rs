//! The legacy Tencent v2 callback body, `{"version":"4.0","eventType":…,"data":{…}}`, accepted
//! leniently: its event types share the v3 names, its keys are lower camel case.

use serde::Deserialize;
use vodbridge_core::Outcome;

use crate::error::NormalizeError;
use crate::lenient::{self, nonempty, number, obj, Obj, Scalar};
use crate::record::Extract;
use crate::types::TypeMapping;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
pub(super) struct Data<'a> {
    file_id: Option<Scalar<'a>>,
    file_name: Option<Scalar<'a>>,
    file_url: Option<Scalar<'a>>,
    vod_task_id: Option<Scalar<'a>>,
    task_id: Option<Scalar<'a>>,
    status: Option<Scalar<'a>>,
    err_code: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
    session_context: Option<Scalar<'a>>,
    meta_data: Option<Obj<MetaData<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct MetaData<'a> {
    size: Option<Scalar<'a>>,
    duration: Option<Scalar<'a>>,
}

impl<'a> Data<'a> {
    /// The outcome and the vendor-neutral fields of an event of `mapping`'s type (`None`:
    /// unmapped).
    pub(super) fn map(
        &self,
        mapping: Option<&TypeMapping>,
    ) -> Result<(Outcome, Extract<'a>), NormalizeError> {
        let mut x = Extract::default();
        x.media.id = lenient::id(&self.file_id, "data.fileId")?;
        x.media.name = nonempty(&self.file_name);
        x.media.url = nonempty(&self.file_url);
        let meta = obj(&self.meta_data);
        x.media.size = meta.and_then(|m| number(&m.size));
        x.media.duration = meta.and_then(|m| number(&m.duration));
        x.task.id = lenient::id(&self.vod_task_id, "data.vodTaskId")?
            .or(lenient::id(&self.task_id, "data.taskId")?);
        x.task.kind = mapping.map(|m| m.task_kind);
        x.task.status = nonempty(&self.status);
        x.context = nonempty(&self.session_context);
        x.fallback_key = x.task.id.clone();
        let failed_code = self.err_code.as_ref().is_some_and(|c| !c.is_zero_code());
        let outcome = if matches!(&self.status, Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("PROCESSING"))
        {
            Outcome::Processing
        } else if failed_code
            || matches!(&self.status, Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("FAIL"))
        {
            x.error_code = lenient::text(&self.err_code);
            x.error_message = nonempty(&self.message);
            Outcome::Failed
        } else {
            Outcome::Succeeded
        };
        Ok((outcome, x))
    }
}
