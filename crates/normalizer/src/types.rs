//! The type taxonomy: every documented vendor `EventType` → canonical CloudEvents `type` and task
//! kind. `docs/events.md` renders these tables for people; a test keeps the two in step.

use vodbridge_core::Provider;

/// Canonical type of vendor events nobody mapped yet: forwarded with the full payload, never dropped.
pub const UNMAPPED_TYPE: &str = "vod.unmapped";

/// One row of the taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeMapping {
    /// The vendor's `EventType`, verbatim.
    pub vendor_type: &'static str,
    /// The canonical CloudEvents `type`.
    pub canonical_type: &'static str,
    /// vodbridge's task kind (`data.task.kind`).
    pub task_kind: &'static str,
    /// Tencent only: the payload member(s) carrying the event, current name first.
    pub payload_keys: &'static [&'static str],
}

/// A row: vendor type, canonical type, task kind, payload member(s) (Tencent only).
const fn row(
    vendor_type: &'static str,
    canonical_type: &'static str,
    task_kind: &'static str,
    payload_keys: &'static [&'static str],
) -> TypeMapping {
    TypeMapping {
        vendor_type,
        canonical_type,
        task_kind,
        payload_keys,
    }
}

/// Tencent Cloud VOD `EventContent.EventType` values (API 2018-07-17, plus 2017-compatible ones):
/// vendor type, canonical type, task kind, payload member(s).
// One row per line, so that a new vendor type is one new line.
#[rustfmt::skip]
pub(crate) const TENCENT: &[TypeMapping] = &[
    row("NewFileUpload",                                "vod.media.uploaded",            "upload",                      &["FileUploadEvent"]),
    row("PullComplete",                                 "vod.media.pulled",              "pull",                        &["PullCompleteEvent"]),
    row("FileDeleted",                                  "vod.media.deleted",             "delete",                      &["FileDeleteEvent"]),
    row("ProcedureStateChanged",                        "vod.workflow.completed",        "workflow",                    &["ProcedureStateChangeEvent"]),
    row("EditMediaComplete",                            "vod.media.edited",              "edit",                        &["EditMediaCompleteEvent"]),
    row("SplitMediaComplete",                           "vod.media.split",               "split",                       &["SplitMediaCompleteEvent"]),
    row("ComposeMediaComplete",                         "vod.media.composed",            "compose",                     &["ComposeMediaCompleteEvent"]),
    row("WechatMiniProgramPublishComplete",             "vod.media.published",           "wechat_mini_program_publish", &["WechatMiniProgramPublishCompleteEvent", "WechatMiniProgramPublishEvent"]),
    row("WechatPublishComplete",                        "vod.media.published",           "wechat_publish",              &["WechatPublishCompleteEvent", "WechatPublishComplete"]),
    row("RestoreMediaComplete",                         "vod.media.restored",            "restore",                     &["RestoreMediaCompleteEvent"]),
    row("RemoveWatermark",                              "vod.media.watermark.removed",   "remove_watermark",            &["RemoveWatermarkCompleteEvent"]),
    row("RebuildMediaComplete",                         "vod.media.rebuilt",             "rebuild",                     &["RebuildMediaCompleteEvent"]),
    row("ReviewAudioVideoComplete",                     "vod.media.reviewed",            "review",                      &["ReviewAudioVideoCompleteEvent"]),
    row("ExtractTraceWatermarkComplete",                "vod.media.watermark.extracted", "extract_trace_watermark",     &["ExtractTraceWatermarkCompleteEvent"]),
    row("ExtractCopyRightWatermarkComplete",            "vod.media.watermark.extracted", "extract_copyright_watermark", &["ExtractCopyRightWatermarkCompleteEvent"]),
    row("ExtractBlindWatermarkComplete",                "vod.media.watermark.extracted", "extract_blind_watermark",     &["ExtractBlindWatermarkComplete", "ExtractBlindWatermarkCompleteEvent"]),
    row("DescribeFileAttributesComplete",               "vod.media.metadata.extracted",  "describe_file_attributes",    &["DescribeFileAttributesCompleteEvent"]),
    row("QualityInspectComplete",                       "vod.media.quality.inspected",   "quality_inspect",             &["QualityInspectCompleteEvent"]),
    row("QualityEnhanceComplete",                       "vod.media.quality.enhanced",    "quality_enhance",             &["QualityEnhanceCompleteEvent"]),
    row("MediaCastStatusChanged",                       "vod.mediacast.status.changed",  "media_cast",                  &["MediaCastStatusChangedEvent"]),
    row("PersistenceComplete",                          "vod.media.persisted",           "persistence",                 &["PersistenceCompleteEvent"]),
    row("ComplexAdaptiveDynamicStreamingComplete",      "vod.media.transcoded",          "complex_adaptive_streaming",  &["ComplexAdaptiveDynamicStreamingCompleteEvent"]),
    row("ProcessMediaByMPSComplete",                    "vod.media.processed",           "mps",                         &["ProcessMediaByMPSCompleteEvent"]),
    row("AigcImageTaskComplete",                        "vod.aigc.image.generated",      "aigc_image",                  &["AigcImageCompleteEvent"]),
    row("AigcImageComplete",                            "vod.aigc.image.generated",      "aigc_image",                  &["AigcImageCompleteEvent"]),
    row("AigcVideoTaskComplete",                        "vod.aigc.video.generated",      "aigc_video",                  &["AigcVideoCompleteEvent"]),
    row("AigcVideoComplete",                            "vod.aigc.video.generated",      "aigc_video",                  &["AigcVideoCompleteEvent"]),
    row("SceneAigcImageCompleteEvent",                  "vod.aigc.image.generated",      "scene_aigc_image",            &["SceneAigcImageCompleteEvent"]),
    row("ProcessImageAsyncCompleteEvent",               "vod.image.processed",           "process_image",               &["ProcessImageAsyncCompleteEvent"]),
    row("CreateAigcAdvancedCustomElementCompleteEvent", "vod.aigc.element.created",      "aigc_custom_element",         &["CreateAigcAdvancedCustomElementCompleteEvent"]),
    row("CreateAigcCustomVoiceCompleteEvent",           "vod.aigc.voice.created",        "aigc_custom_voice",           &["CreateAigcCustomVoiceCompleteEvent"]),
    row("DescribeAigcFaceInfoAsyncComplete",            "vod.aigc.faceinfo.extracted",   "aigc_face_info",              &["DescribeAigcFaceInfoAsyncCompleteEvent"]),
    // 2017-compatible events (tasks started through the 2017 API).
    row("TranscodeComplete",                            "vod.media.transcoded",          "transcode_2017",              &["TranscodeCompleteEvent"]),
    row("ConcatComplete",                               "vod.media.concatenated",        "concat_2017",                 &["ConcatCompleteEvent"]),
    row("ClipComplete",                                 "vod.media.clipped",             "clip_2017",                   &["ClipCompleteEvent"]),
    row("CreateImageSpriteComplete",                    "vod.media.sprites.generated",   "image_sprite_2017",           &["CreateImageSpriteCompleteEvent"]),
    row("CreateSnapshotByTimeOffsetComplete",           "vod.media.snapshots.generated", "snapshot_2017",               &["SnapshotByTimeOffsetCompleteEvent"]),
];

/// Volcengine VOD callback `EventType` values: vendor type, canonical type, task kind.
#[rustfmt::skip]
pub(crate) const VOLCENGINE: &[TypeMapping] = &[
    row("FileUploadComplete",              "vod.media.uploaded",             "upload",            &[]),
    row("DirectUrlObjectUploadComplete",   "vod.media.uploaded",             "direct_url_upload", &[]),
    row("FileUploadByUrlComplete",         "vod.media.pulled",               "url_upload",        &[]),
    row("MaterialUploadComplete",          "vod.material.uploaded",          "material_upload",   &[]),
    row("UploadGetMetaComplete",           "vod.media.metadata.extracted",   "get_meta",          &[]),
    row("DeleteMediaComplete",             "vod.media.deleted",              "delete",            &[]),
    row("DeleteMaterialComplete",          "vod.material.deleted",           "delete_material",   &[]),
    row("DeleteTranscodesComplete",        "vod.media.outputs.deleted",      "delete_transcodes", &[]),
    row("WorkflowComplete",                "vod.workflow.completed",         "workflow",          &[]),
    // The subscription name of workflow completion (SetCallbackEvent); same occurrence.
    row("TranscodeComplete",               "vod.workflow.completed",         "workflow",          &[]),
    row("ExecutionComplete",               "vod.media.processed",            "execution",         &[]),
    row("VideoTrackComplete",              "vod.media.edited",               "edit",              &[]),
    row("UpdateMediaStorageClassComplete", "vod.media.storageclass.changed", "storage_class",     &[]),
    row("SyncURIComplete",                 "vod.media.synced",               "sync",              &[]),
];

/// Every mapping of `provider` (empty for [`Provider::Vodbridge`]).
pub fn type_mappings(provider: Provider) -> &'static [TypeMapping] {
    match provider {
        Provider::Tencent => TENCENT,
        Provider::Volcengine => VOLCENGINE,
        Provider::Vodbridge => &[],
    }
}

/// The mapping of one vendor type, if vodbridge knows it.
pub fn lookup(provider: Provider, vendor_type: &str) -> Option<&'static TypeMapping> {
    type_mappings(provider)
        .iter()
        .find(|m| m.vendor_type == vendor_type)
}

/// True when `vendor_type` has a canonical type (ingress counts the others as unmapped).
pub fn is_known_vendor_type(provider: Provider, vendor_type: &str) -> bool {
    lookup(provider, vendor_type).is_some()
}

/// The canonical type of `vendor_type`, [`UNMAPPED_TYPE`] when unknown.
pub fn canonical_type(provider: Provider, vendor_type: &str) -> &'static str {
    lookup(provider, vendor_type).map_or(UNMAPPED_TYPE, |m| m.canonical_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_types_are_unique_per_provider() {
        for provider in [Provider::Tencent, Provider::Volcengine] {
            let table = type_mappings(provider);
            for (i, m) in table.iter().enumerate() {
                assert!(
                    table[i + 1..]
                        .iter()
                        .all(|o| o.vendor_type != m.vendor_type),
                    "{}",
                    m.vendor_type
                );
                assert!(m.canonical_type.starts_with("vod."));
            }
        }
    }

    #[test]
    fn transcode_complete_differs_by_provider() {
        assert_eq!(
            canonical_type(Provider::Tencent, "TranscodeComplete"),
            "vod.media.transcoded"
        );
        assert_eq!(
            canonical_type(Provider::Volcengine, "TranscodeComplete"),
            "vod.workflow.completed"
        );
        assert_eq!(
            canonical_type(Provider::Volcengine, "NewFileUpload"),
            UNMAPPED_TYPE
        );
        assert!(!is_known_vendor_type(
            Provider::Tencent,
            "FileUploadComplete"
        ));
    }
}
