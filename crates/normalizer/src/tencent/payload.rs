//! Typed, lenient view of a Tencent `EventContent` payload (`FileUploadEvent`,
//! `ProcedureStateChangeEvent` …) and the vendor-neutral fields and outcome derived from it.
//!
//! One struct covers every payload: it names the union of the fields vodbridge reads, all
//! optional, so serde skips the rest without materializing it.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use vodbridge_core::Outcome;

use crate::error::NormalizeError;
use crate::lenient::{id, is_one_of, nonempty, number, obj, text, Key, List, Obj, Scalar};
use crate::record::Extract;
use crate::types::TypeMapping;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
pub(crate) struct Payload<'a> {
    task_id: Option<Scalar<'a>>,
    status: Option<Scalar<'a>>,
    err_code: Option<Scalar<'a>>,
    err_code_ext: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
    file_id: Option<Scalar<'a>>,
    src_file_id: Option<Scalar<'a>>,
    file_name: Option<Scalar<'a>>,
    file_url: Option<Scalar<'a>>,
    duration: Option<Scalar<'a>>,
    session_id: Option<Scalar<'a>>,
    session_context: Option<Scalar<'a>>,
    cast_id: Option<Scalar<'a>>,
    wechat_status: Option<Scalar<'a>>,
    publish_result: Option<Scalar<'a>>,
    media_basic_info: Option<Obj<MediaBasicInfo<'a>>>,
    meta_data: Option<Obj<MetaData<'a>>>,
    input: Option<Obj<Box<Io<'a>>>>,
    output: Option<Obj<Box<Io<'a>>>>,
    file_info: Option<Obj<Box<Io<'a>>>>,
    file_info_set: Option<List<Obj<Io<'a>>>>,
    file_id_set: Option<List<Scalar<'a>>>,
    file_delete_result_info: Option<List<Obj<Io<'a>>>>,
    snapshot_info_set: Option<List<Obj<SubTask<'a>>>>,
    sub_task_set: Option<List<Obj<SubTask<'a>>>>,
    complex_adaptive_dynamic_streaming_task_result_set: Option<List<Obj<SubTask<'a>>>>,
    media_process_result_set: Option<List<Obj<SubTasks<'a>>>>,
    ai_content_review_result_set: Option<List<Obj<SubTasks<'a>>>>,
    ai_analysis_result_set: Option<List<Obj<SubTasks<'a>>>>,
    ai_recognition_result_set: Option<List<Obj<SubTasks<'a>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct MediaBasicInfo<'a> {
    name: Option<Scalar<'a>>,
    media_url: Option<Scalar<'a>>,
    storage_region: Option<Scalar<'a>>,
    source_info: Option<Obj<SourceInfo<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SourceInfo<'a> {
    source_context: Option<Scalar<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct MetaData<'a> {
    size: Option<Scalar<'a>>,
    duration: Option<Scalar<'a>>,
}

/// An `Input`, `Output` or file-info object (the fields vodbridge reads are shared).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct Io<'a> {
    file_id: Option<Scalar<'a>>,
    file_url: Option<Scalar<'a>>,
    media_name: Option<Scalar<'a>>,
    err_code: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
    meta_data: Option<Obj<MetaData<'a>>>,
    input: Option<Obj<IoId<'a>>>,
    output: Option<Obj<IoId<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct IoId<'a> {
    file_id: Option<Scalar<'a>>,
}

/// Status and error of a sub-task (procedure results, MPS sub-tasks, snapshots …).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct SubTask<'a> {
    status: Option<Scalar<'a>>,
    err_code: Option<Scalar<'a>>,
    err_code_ext: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
}

/// A procedure result item `{"Type":"Transcode","TranscodeTask":{…}}`: every object member is a
/// sub-task, whatever its name (new task types appear without notice).
#[derive(Debug, Default)]
struct SubTasks<'a>(Vec<SubTask<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for SubTasks<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SubTasksVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for SubTasksVisitor<'a> {
            type Value = SubTasks<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut tasks = Vec::new();
                while let Some(Key(_)) = map.next_key::<Key<'de>>()? {
                    if let Some(Obj::Some(task)) = map.next_value::<Option<Obj<SubTask<'a>>>>()? {
                        tasks.push(task);
                    }
                }
                Ok(SubTasks(tasks))
            }
        }
        d.deserialize_map(SubTasksVisitor(PhantomData))
    }
}

/// [`obj`] of a boxed view (the `Io` members are boxed: inline, they tripled the size of a
/// [`Payload`], which is moved and boxed whole, yet most payloads have none of them).
fn boxed<T>(v: &Option<Obj<Box<T>>>) -> Option<&T> {
    obj(v).map(|b| &**b)
}

/// True for a code meaning "no error": `0`, `""`, `"0"`, `"Success"`.
fn ok_code(v: &Option<Scalar<'_>>) -> bool {
    match v {
        None => true,
        Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("success") => true,
        Some(s) => s.is_zero_code(),
    }
}

const FAILED_STATUSES: &[&str] = &["FAIL", "FAILED", "ERROR"];

/// A failure found in the payload.
struct Failure<'a> {
    code: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
}

fn code_text<'a>(ext: &Option<Scalar<'a>>, code: &Option<Scalar<'a>>) -> Option<Cow<'a, str>> {
    nonempty(ext).or_else(|| if ok_code(code) { None } else { text(code) })
}

impl<'a> SubTask<'a> {
    fn failure(&self) -> Option<Failure<'a>> {
        let failed = is_one_of(&self.status, FAILED_STATUSES)
            || !ok_code(&self.err_code)
            || nonempty(&self.err_code_ext).is_some();
        failed.then(|| Failure {
            code: code_text(&self.err_code_ext, &self.err_code),
            message: nonempty(&self.message),
        })
    }
}

impl<'a> Payload<'a> {
    /// The outcome and the vendor-neutral fields of an event of `mapping`'s type (`None`:
    /// unmapped).
    pub(crate) fn map(
        &self,
        mapping: Option<&TypeMapping>,
    ) -> Result<(Outcome, Extract<'a>), NormalizeError> {
        let kind = mapping.map(|m| m.task_kind);
        let mut x = match self.extract(kind) {
            Ok(x) => x,
            // The payload of an unmapped type is a guess: forward the event with the original
            // rather than dead-letter it over a field we only guessed at.
            Err(_) if mapping.is_none() => Extract::default(),
            Err(e) => return Err(e),
        };
        let (outcome, failure) = self.outcome(kind);
        if let Some(failure) = failure {
            x.error_code = failure.code;
            x.error_message = failure.message;
        }
        Ok((outcome, x))
    }

    /// The outcome, and the error when it failed (see `docs/events.md`, "Outcome rules").
    fn outcome(&self, kind: Option<&str>) -> (Outcome, Option<Failure<'a>>) {
        // RestoreMediaTask.Status is a deprecated integer with undocumented values; the event
        // itself announces completion.
        if kind == Some("restore") {
            return (Outcome::Succeeded, None);
        }
        if is_one_of(&self.status, &["PROCESSING", "WAITING"]) {
            return (Outcome::Processing, None);
        }
        let wechat_failed = is_one_of(&self.wechat_status, &["FAIL", "AUDITNOTPASS"]);
        let publish_failed = is_one_of(&self.publish_result, &["Failed", "Rejected"]);
        let own = is_one_of(&self.status, FAILED_STATUSES)
            || !ok_code(&self.err_code)
            || nonempty(&self.err_code_ext).is_some()
            || wechat_failed
            || publish_failed;
        if own {
            let code = code_text(&self.err_code_ext, &self.err_code)
                .or_else(|| nonempty(&self.wechat_status).filter(|_| wechat_failed))
                .or_else(|| nonempty(&self.publish_result).filter(|_| publish_failed));
            let message = nonempty(&self.message);
            return (Outcome::Failed, Some(Failure { code, message }));
        }
        if let Some(f) = self.sub_failure() {
            return (Outcome::Failed, Some(f));
        }
        (Outcome::Succeeded, None)
    }

    fn sub_failure(&self) -> Option<Failure<'a>> {
        let files = boxed(&self.file_info)
            .into_iter()
            .chain(List::items(&self.file_info_set).iter().filter_map(Obj::get));
        for f in files {
            if !ok_code(&f.err_code) {
                return Some(Failure {
                    code: text(&f.err_code),
                    message: nonempty(&f.message),
                });
            }
        }
        let flat = [
            &self.snapshot_info_set,
            &self.sub_task_set,
            &self.complex_adaptive_dynamic_streaming_task_result_set,
        ];
        for list in flat {
            if let Some(f) = List::items(list)
                .iter()
                .filter_map(Obj::get)
                .find_map(SubTask::failure)
            {
                return Some(f);
            }
        }
        let nested = [
            &self.media_process_result_set,
            &self.ai_content_review_result_set,
            &self.ai_analysis_result_set,
            &self.ai_recognition_result_set,
        ];
        for list in nested {
            for item in List::items(list).iter().filter_map(Obj::get) {
                if let Some(f) = item.0.iter().find_map(SubTask::failure) {
                    return Some(f);
                }
            }
        }
        None
    }

    /// The vendor-neutral fields (see `docs/events.md`, "data").
    fn extract(&self, kind: Option<&'static str>) -> Result<Extract<'a>, NormalizeError> {
        let mut x = Extract::default();
        let input = boxed(&self.input);
        let output = boxed(&self.output);
        let file_info = boxed(&self.file_info);
        let info = obj(&self.media_basic_info);
        let items = |list| List::items(list).iter().filter_map(Obj::get);

        // Every media id the event names, the media acted on (source) first.
        let mut ids: Vec<Cow<'a, str>> = Vec::new();
        let mut push = |v: Option<Cow<'a, str>>| {
            if let Some(v) = v.filter(|v| !ids.contains(v)) {
                ids.push(v);
            }
        };
        push(id(&self.file_id, "FileId")?);
        push(id(input.map_or(&None, |i| &i.file_id), "Input.FileId")?);
        push(id(output.map_or(&None, |o| &o.file_id), "Output.FileId")?);
        push(id(&self.src_file_id, "SrcFileId")?);
        for f in List::items(&self.file_id_set) {
            push(id(&Some(f.clone()), "FileIdSet")?);
        }
        for d in items(&self.file_delete_result_info) {
            push(id(&d.file_id, "FileDeleteResultInfo.FileId")?);
        }
        push(id(
            file_info.map_or(&None, |f| &f.file_id),
            "FileInfo.FileId",
        )?);
        for f in items(&self.file_info_set) {
            push(id(&f.file_id, "FileInfoSet.FileId")?);
            push(obj(&f.input).and_then(|i| nonempty(&i.file_id)));
            push(obj(&f.output).and_then(|o| nonempty(&o.file_id)));
        }
        x.media.id = ids.first().cloned();
        if ids.len() > 1 {
            x.media.ids = ids;
        }

        let out_meta = output.and_then(|o| obj(&o.meta_data));
        let meta = obj(&self.meta_data).or(out_meta);
        x.media.name = info
            .and_then(|i| nonempty(&i.name))
            .or_else(|| nonempty(&self.file_name))
            .or_else(|| output.and_then(|o| nonempty(&o.media_name)));
        x.media.url = info
            .and_then(|i| nonempty(&i.media_url))
            .or_else(|| nonempty(&self.file_url))
            .or_else(|| output.and_then(|o| nonempty(&o.file_url)))
            .or_else(|| file_info.and_then(|f| nonempty(&f.file_url)));
        x.media.size = meta.and_then(|m| number(&m.size));
        x.media.duration = meta
            .and_then(|m| number(&m.duration))
            .or_else(|| number(&self.duration));

        x.task.id = id(&self.task_id, "TaskId")?;
        x.task.kind = kind;
        x.task.status = nonempty(&self.status);
        x.context = nonempty(&self.session_context).or_else(|| {
            info.and_then(|i| obj(&i.source_info))
                .and_then(|s| nonempty(&s.source_context))
        });
        x.session_id = nonempty(&self.session_id);
        x.storage_region = info.and_then(|i| nonempty(&i.storage_region));
        x.fallback_key = x.task.id.clone().or(id(&self.cast_id, "CastId")?);
        Ok(x)
    }
}
