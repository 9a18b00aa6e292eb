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

const fn t(
    vendor_type: &'static str,
    payload_keys: &'static [&'static str],
    canonical_type: &'static str,
    task_kind: &'static str,
) -> TypeMapping {
    TypeMapping {
        vendor_type,
        canonical_type,
        task_kind,
        payload_keys,
    }
}

const fn v(
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

/// Tencent Cloud VOD `EventContent.EventType` values (API 2018-07-17, plus 2017-compatible ones).
pub(crate) const TENCENT: &[TypeMapping] = &[
    t(
        "NewFileUpload",
        &["FileUploadEvent"],
        "vod.media.uploaded",
        "upload",
    ),
    t(
        "PullComplete",
        &["PullCompleteEvent"],
        "vod.media.pulled",
        "pull",
    ),
    t(
        "FileDeleted",
        &["FileDeleteEvent"],
        "vod.media.deleted",
        "delete",
    ),
    t(
        "ProcedureStateChanged",
        &["ProcedureStateChangeEvent"],
        "vod.workflow.completed",
        "workflow",
    ),
    t(
        "EditMediaComplete",
        &["EditMediaCompleteEvent"],
        "vod.media.edited",
        "edit",
    ),
    t(
        "SplitMediaComplete",
        &["SplitMediaCompleteEvent"],
        "vod.media.split",
        "split",
    ),
    t(
        "ComposeMediaComplete",
        &["ComposeMediaCompleteEvent"],
        "vod.media.composed",
        "compose",
    ),
    t(
        "WechatMiniProgramPublishComplete",
        &[
            "WechatMiniProgramPublishCompleteEvent",
            "WechatMiniProgramPublishEvent",
        ],
        "vod.media.published",
        "wechat_mini_program_publish",
    ),
    t(
        "WechatPublishComplete",
        &["WechatPublishCompleteEvent", "WechatPublishComplete"],
        "vod.media.published",
        "wechat_publish",
    ),
    t(
        "RestoreMediaComplete",
        &["RestoreMediaCompleteEvent"],
        "vod.media.restored",
        "restore",
    ),
    t(
        "RemoveWatermark",
        &["RemoveWatermarkCompleteEvent"],
        "vod.media.watermark.removed",
        "remove_watermark",
    ),
    t(
        "RebuildMediaComplete",
        &["RebuildMediaCompleteEvent"],
        "vod.media.rebuilt",
        "rebuild",
    ),
    t(
        "ReviewAudioVideoComplete",
        &["ReviewAudioVideoCompleteEvent"],
        "vod.media.reviewed",
        "review",
    ),
    t(
        "ExtractTraceWatermarkComplete",
        &["ExtractTraceWatermarkCompleteEvent"],
        "vod.media.watermark.extracted",
        "extract_trace_watermark",
    ),
    t(
        "ExtractCopyRightWatermarkComplete",
        &["ExtractCopyRightWatermarkCompleteEvent"],
        "vod.media.watermark.extracted",
        "extract_copyright_watermark",
    ),
    t(
        "ExtractBlindWatermarkComplete",
        &[
            "ExtractBlindWatermarkComplete",
            "ExtractBlindWatermarkCompleteEvent",
        ],
        "vod.media.watermark.extracted",
        "extract_blind_watermark",
    ),
    t(
        "DescribeFileAttributesComplete",
        &["DescribeFileAttributesCompleteEvent"],
        "vod.media.metadata.extracted",
        "describe_file_attributes",
    ),
    t(
        "QualityInspectComplete",
        &["QualityInspectCompleteEvent"],
        "vod.media.quality.inspected",
        "quality_inspect",
    ),
    t(
        "QualityEnhanceComplete",
        &["QualityEnhanceCompleteEvent"],
        "vod.media.quality.enhanced",
        "quality_enhance",
    ),
    t(
        "MediaCastStatusChanged",
        &["MediaCastStatusChangedEvent"],
        "vod.mediacast.status.changed",
        "media_cast",
    ),
    t(
        "PersistenceComplete",
        &["PersistenceCompleteEvent"],
        "vod.media.persisted",
        "persistence",
    ),
    t(
        "ComplexAdaptiveDynamicStreamingComplete",
        &["ComplexAdaptiveDynamicStreamingCompleteEvent"],
        "vod.media.transcoded",
        "complex_adaptive_streaming",
    ),
    t(
        "ProcessMediaByMPSComplete",
        &["ProcessMediaByMPSCompleteEvent"],
        "vod.media.processed",
        "mps",
    ),
    t(
        "AigcImageTaskComplete",
        &["AigcImageCompleteEvent"],
        "vod.aigc.image.generated",
        "aigc_image",
    ),
    t(
        "AigcImageComplete",
        &["AigcImageCompleteEvent"],
        "vod.aigc.image.generated",
        "aigc_image",
    ),
    t(
        "AigcVideoTaskComplete",
        &["AigcVideoCompleteEvent"],
        "vod.aigc.video.generated",
        "aigc_video",
    ),
    t(
        "AigcVideoComplete",
        &["AigcVideoCompleteEvent"],
        "vod.aigc.video.generated",
        "aigc_video",
    ),
    t(
        "SceneAigcImageCompleteEvent",
        &["SceneAigcImageCompleteEvent"],
        "vod.aigc.image.generated",
        "scene_aigc_image",
    ),
    t(
        "ProcessImageAsyncCompleteEvent",
        &["ProcessImageAsyncCompleteEvent"],
        "vod.image.processed",
        "process_image",
    ),
    t(
        "CreateAigcAdvancedCustomElementCompleteEvent",
        &["CreateAigcAdvancedCustomElementCompleteEvent"],
        "vod.aigc.element.created",
        "aigc_custom_element",
    ),
    t(
        "CreateAigcCustomVoiceCompleteEvent",
        &["CreateAigcCustomVoiceCompleteEvent"],
        "vod.aigc.voice.created",
        "aigc_custom_voice",
    ),
    t(
        "DescribeAigcFaceInfoAsyncComplete",
        &["DescribeAigcFaceInfoAsyncCompleteEvent"],
        "vod.aigc.faceinfo.extracted",
        "aigc_face_info",
    ),
    // 2017-compatible events (tasks started through the 2017 API).
    t(
        "TranscodeComplete",
        &["TranscodeCompleteEvent"],
        "vod.media.transcoded",
        "transcode_2017",
    ),
    t(
        "ConcatComplete",
        &["ConcatCompleteEvent"],
        "vod.media.concatenated",
        "concat_2017",
    ),
    t(
        "ClipComplete",
        &["ClipCompleteEvent"],
        "vod.media.clipped",
        "clip_2017",
    ),
    t(
        "CreateImageSpriteComplete",
        &["CreateImageSpriteCompleteEvent"],
        "vod.media.sprites.generated",
        "image_sprite_2017",
    ),
    t(
        "CreateSnapshotByTimeOffsetComplete",
        &["SnapshotByTimeOffsetCompleteEvent"],
        "vod.media.snapshots.generated",
        "snapshot_2017",
    ),
];

/// Volcengine VOD callback `EventType` values.
pub(crate) const VOLCENGINE: &[TypeMapping] = &[
    v("FileUploadComplete", "vod.media.uploaded", "upload"),
    v(
        "DirectUrlObjectUploadComplete",
        "vod.media.uploaded",
        "direct_url_upload",
    ),
    v("FileUploadByUrlComplete", "vod.media.pulled", "url_upload"),
    v(
        "MaterialUploadComplete",
        "vod.material.uploaded",
        "material_upload",
    ),
    v(
        "UploadGetMetaComplete",
        "vod.media.metadata.extracted",
        "get_meta",
    ),
    v("DeleteMediaComplete", "vod.media.deleted", "delete"),
    v(
        "DeleteMaterialComplete",
        "vod.material.deleted",
        "delete_material",
    ),
    v(
        "DeleteTranscodesComplete",
        "vod.media.outputs.deleted",
        "delete_transcodes",
    ),
    v("WorkflowComplete", "vod.workflow.completed", "workflow"),
    // The subscription name of workflow completion (SetCallbackEvent); same occurrence.
    v("TranscodeComplete", "vod.workflow.completed", "workflow"),
    v("ExecutionComplete", "vod.media.processed", "execution"),
    v("VideoTrackComplete", "vod.media.edited", "edit"),
    v(
        "UpdateMediaStorageClassComplete",
        "vod.media.storageclass.changed",
        "storage_class",
    ),
    v("SyncURIComplete", "vod.media.synced", "sync"),
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
