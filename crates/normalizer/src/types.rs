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

/// A Tencent row.
const fn tencent(
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

/// A Volcengine row.
const fn volcengine(
    vendor_type: &'static str,
    canonical_type: &'static str,
    task_kind: &'static str,
) -> TypeMapping {
    TypeMapping {
        vendor_type,
        canonical_type,
        task_kind,
        payload_keys: &[],
    }
}

/// Tencent Cloud VOD `EventContent.EventType` values (API 2018-07-17, plus 2017-compatible ones):
/// vendor type, canonical type, task kind, payload member(s).
// One row per line, so that a new vendor type is one new line.
#[rustfmt::skip]
pub(crate) const TENCENT: &[TypeMapping] = &[
    tencent("NewFileUpload",                                "vod.media.uploaded",            "upload",                      &["FileUploadEvent"]),
    tencent("PullComplete",                                 "vod.media.pulled",              "pull",                        &["PullCompleteEvent"]),
    tencent("FileDeleted",                                  "vod.media.deleted",             "delete",                      &["FileDeleteEvent"]),
    tencent("ProcedureStateChanged",                        "vod.workflow.completed",        "workflow",                    &["ProcedureStateChangeEvent"]),
    tencent("EditMediaComplete",                            "vod.media.edited",              "edit",                        &["EditMediaCompleteEvent"]),
    tencent("SplitMediaComplete",                           "vod.media.split",               "split",                       &["SplitMediaCompleteEvent"]),
    tencent("ComposeMediaComplete",                         "vod.media.composed",            "compose",                     &["ComposeMediaCompleteEvent"]),
    tencent("WechatMiniProgramPublishComplete",             "vod.media.published",           "wechat_mini_program_publish", &["WechatMiniProgramPublishCompleteEvent", "WechatMiniProgramPublishEvent"]),
    tencent("WechatPublishComplete",                        "vod.media.published",           "wechat_publish",              &["WechatPublishCompleteEvent", "WechatPublishComplete"]),
    tencent("RestoreMediaComplete",                         "vod.media.restored",            "restore",                     &["RestoreMediaCompleteEvent"]),
    tencent("RemoveWatermark",                              "vod.media.watermark.removed",   "remove_watermark",            &["RemoveWatermarkCompleteEvent"]),
    tencent("RebuildMediaComplete",                         "vod.media.rebuilt",             "rebuild",                     &["RebuildMediaCompleteEvent"]),
    tencent("ReviewAudioVideoComplete",                     "vod.media.reviewed",            "review",                      &["ReviewAudioVideoCompleteEvent"]),
    tencent("ExtractTraceWatermarkComplete",                "vod.media.watermark.extracted", "extract_trace_watermark",     &["ExtractTraceWatermarkCompleteEvent"]),
    tencent("ExtractCopyRightWatermarkComplete",            "vod.media.watermark.extracted", "extract_copyright_watermark", &["ExtractCopyRightWatermarkCompleteEvent"]),
    tencent("ExtractBlindWatermarkComplete",                "vod.media.watermark.extracted", "extract_blind_watermark",     &["ExtractBlindWatermarkComplete", "ExtractBlindWatermarkCompleteEvent"]),
    tencent("DescribeFileAttributesComplete",               "vod.media.metadata.extracted",  "describe_file_attributes",    &["DescribeFileAttributesCompleteEvent"]),
    tencent("QualityInspectComplete",                       "vod.media.quality.inspected",   "quality_inspect",             &["QualityInspectCompleteEvent"]),
    tencent("QualityEnhanceComplete",                       "vod.media.quality.enhanced",    "quality_enhance",             &["QualityEnhanceCompleteEvent"]),
    tencent("MediaCastStatusChanged",                       "vod.mediacast.status.changed",  "media_cast",                  &["MediaCastStatusChangedEvent"]),
    tencent("PersistenceComplete",                          "vod.media.persisted",           "persistence",                 &["PersistenceCompleteEvent"]),
    tencent("ComplexAdaptiveDynamicStreamingComplete",      "vod.media.transcoded",          "complex_adaptive_streaming",  &["ComplexAdaptiveDynamicStreamingCompleteEvent"]),
    tencent("ProcessMediaByMPSComplete",                    "vod.media.processed",           "mps",                         &["ProcessMediaByMPSCompleteEvent"]),
    tencent("AigcImageTaskComplete",                        "vod.aigc.image.generated",      "aigc_image",                  &["AigcImageCompleteEvent"]),
    tencent("AigcImageComplete",                            "vod.aigc.image.generated",      "aigc_image",                  &["AigcImageCompleteEvent"]),
    tencent("AigcVideoTaskComplete",                        "vod.aigc.video.generated",      "aigc_video",                  &["AigcVideoCompleteEvent"]),
    tencent("AigcVideoComplete",                            "vod.aigc.video.generated",      "aigc_video",                  &["AigcVideoCompleteEvent"]),
    tencent("SceneAigcImageCompleteEvent",                  "vod.aigc.image.generated",      "scene_aigc_image",            &["SceneAigcImageCompleteEvent"]),
    tencent("ProcessImageAsyncCompleteEvent",               "vod.image.processed",           "process_image",               &["ProcessImageAsyncCompleteEvent"]),
    tencent("CreateAigcAdvancedCustomElementCompleteEvent", "vod.aigc.element.created",      "aigc_custom_element",         &["CreateAigcAdvancedCustomElementCompleteEvent"]),
    tencent("CreateAigcCustomVoiceCompleteEvent",           "vod.aigc.voice.created",        "aigc_custom_voice",           &["CreateAigcCustomVoiceCompleteEvent"]),
    tencent("DescribeAigcFaceInfoAsyncComplete",            "vod.aigc.faceinfo.extracted",   "aigc_face_info",              &["DescribeAigcFaceInfoAsyncCompleteEvent"]),
    // 2017-compatible events (tasks started through the 2017 API).
    tencent("TranscodeComplete",                            "vod.media.transcoded",          "transcode_2017",              &["TranscodeCompleteEvent"]),
    tencent("ConcatComplete",                               "vod.media.concatenated",        "concat_2017",                 &["ConcatCompleteEvent"]),
    tencent("ClipComplete",                                 "vod.media.clipped",             "clip_2017",                   &["ClipCompleteEvent"]),
    tencent("CreateImageSpriteComplete",                    "vod.media.sprites.generated",   "image_sprite_2017",           &["CreateImageSpriteCompleteEvent"]),
    tencent("CreateSnapshotByTimeOffsetComplete",           "vod.media.snapshots.generated", "snapshot_2017",               &["SnapshotByTimeOffsetCompleteEvent"]),
];

/// Volcengine VOD callback `EventType` values: vendor type, canonical type, task kind.
#[rustfmt::skip]
pub(crate) const VOLCENGINE: &[TypeMapping] = &[
    volcengine("FileUploadComplete",              "vod.media.uploaded",             "upload"),
    volcengine("DirectUrlObjectUploadComplete",   "vod.media.uploaded",             "direct_url_upload"),
    volcengine("FileUploadByUrlComplete",         "vod.media.pulled",               "url_upload"),
    volcengine("MaterialUploadComplete",          "vod.material.uploaded",          "material_upload"),
    volcengine("UploadGetMetaComplete",           "vod.media.metadata.extracted",   "get_meta"),
    volcengine("DeleteMediaComplete",             "vod.media.deleted",              "delete"),
    volcengine("DeleteMaterialComplete",          "vod.material.deleted",           "delete_material"),
    volcengine("DeleteTranscodesComplete",        "vod.media.outputs.deleted",      "delete_transcodes"),
    volcengine("WorkflowComplete",                "vod.workflow.completed",         "workflow"),
    // The subscription name of workflow completion (SetCallbackEvent); same occurrence.
    volcengine("TranscodeComplete",               "vod.workflow.completed",         "workflow"),
    volcengine("ExecutionComplete",               "vod.media.processed",            "execution"),
    volcengine("VideoTrackComplete",              "vod.media.edited",               "edit"),
    volcengine("UpdateMediaStorageClassComplete", "vod.media.storageclass.changed", "storage_class"),
    volcengine("SyncURIComplete",                 "vod.media.synced",               "sync"),
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
