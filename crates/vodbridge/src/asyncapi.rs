//! `vodbridge asyncapi`: the AsyncAPI 3.0.0 document of what consumers receive
//! (`docs/asyncapi.yaml`).
//!
//! Everything in it comes from the code, so it cannot drift from what the bridge publishes:
//!
//! - the channels: one per canonical type of the normalizer's type table
//!   ([`vodbridge_normalizer::type_mappings`]), plus `vod.unmapped` and the dead-letter channel,
//!   for each broker, at the address the sinks' default templates render;
//! - the binding modes: the sinks' default modes, `content-type`s and header names
//!   ([`CanonicalEvent::attributes`], the Kafka and NATS binding constants);
//! - the payload: `docs/schema/vodbridge-event.schema.json`, read when the binary is built and
//!   translated to JSON Schema draft-07 (the newest draft the AsyncAPI parser validates; the file
//!   is draft 2020-12): `$defs` are inlined, `$schema` and `$id` dropped, and any 2020-12-only
//!   keyword stops the generator with an error instead of being passed on unchecked.
//!
//! A test (`crates/vodbridge/tests/asyncapi.rs`) fails when the committed file differs from the
//! output; `scripts/checks/asyncapi.sh` validates the file with `@asyncapi/parser`.

use std::fmt::{self, Write as _};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use vodbridge_core::{
    BindingMode, CanonicalEvent, DestinationTemplate, Provider, TemplateError, CONTENT_TYPE_JSON,
    DEAD_LETTER_TYPE,
};
use vodbridge_normalizer::{type_mappings, UNMAPPED_TYPE};
use vodbridge_sink_kafka::KafkaSinkConfig;
use vodbridge_sink_nats::NatsSinkConfig;

/// The canonical event's JSON Schema, compiled in: the binary is rebuilt when it changes, so the
/// document (and the drift test) always follows the committed schema.
const EVENT_SCHEMA: &str = include_str!("../../../docs/schema/vodbridge-event.schema.json");

/// Where the compose stack (`config/compose.toml`) sends dead letters; the drift test checks
/// that file still says so.
pub(crate) const DEAD_LETTER_DESTINATION: &str = "vodbridge.deadletter";

/// The command that regenerates `docs/asyncapi.yaml`.
pub(crate) const REGENERATE: &str = "cargo run --bin vodbridge -- asyncapi > docs/asyncapi.yaml";

/// `schemaFormat` of the payloads: the schema is a draft-07 translation (see the module docs).
const SCHEMA_FORMAT: &str = "application/schema+json;version=draft-07";

/// AsyncAPI Kafka bindings version used.
const KAFKA_BINDING_VERSION: &str = "0.5.0";

/// Why the document could not be generated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AsyncApiError {
    /// The embedded event schema is not JSON.
    SchemaNotJson(String),
    /// The embedded event schema has not the shape expected (an object with `properties`).
    SchemaShape(&'static str),
    /// A 2020-12 keyword with no draft-07 equivalent: translating it silently would weaken the
    /// contract.
    UnsupportedKeyword(String),
    /// A `$ref` other than `#/$defs/<name>`, or to a missing definition.
    UnsupportedRef(String),
    /// `$defs` refer to each other too deeply (a cycle cannot be inlined).
    RefTooDeep(String),
    /// A sink's default destination template does not parse.
    Template(TemplateError),
    /// A sink's default template does not give one destination per canonical type.
    TemplateNotPerType(String),
    /// Two canonical types would share one channel id.
    DuplicateChannel(String),
    /// A sink's defaults, or the sample event that lists the attributes, do not deserialize.
    Defaults(String),
}

impl fmt::Display for AsyncApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SchemaNotJson(e) => write!(f, "event schema is not JSON: {e}"),
            Self::SchemaShape(what) => write!(f, "event schema: {what}"),
            Self::UnsupportedKeyword(k) => write!(
                f,
                "event schema uses `{k}`, which has no JSON Schema draft-07 equivalent"
            ),
            Self::UnsupportedRef(r) => write!(
                f,
                "event schema: `$ref` `{r}` is not `#/$defs/<name>` of a definition"
            ),
            Self::RefTooDeep(r) => write!(f, "event schema: `$ref` `{r}` nests too deeply"),
            Self::Template(e) => write!(f, "default destination template: {e}"),
            Self::TemplateNotPerType(t) => write!(
                f,
                "default destination template `{t}` does not give one destination per type"
            ),
            Self::DuplicateChannel(id) => write!(f, "two channels would be named `{id}`"),
            Self::Defaults(e) => write!(f, "cannot build the defaults: {e}"),
        }
    }
}

impl std::error::Error for AsyncApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Template(e) => Some(e),
            _ => None,
        }
    }
}

/// A JSON-like tree whose maps keep their insertion order: the document's order is written
/// here, and the schema's member order is the file's (serde_json's map sorts keys).
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match self {
            Node::Map(pairs) => pairs.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Replace `key`'s value in place, or append it.
    fn set(&mut self, key: &str, value: Node) {
        if let Some(slot) = self.get_mut(key) {
            *slot = value;
        } else if let Node::Map(pairs) = self {
            pairs.push((key.to_owned(), value));
        }
    }

    fn remove(&mut self, key: &str) {
        if let Node::Map(pairs) = self {
            pairs.retain(|(k, _)| k != key);
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    #[cfg(test)]
    fn keys(&self) -> Vec<&str> {
        match self {
            Node::Map(pairs) => pairs.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Num(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Num(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Node, E> {
                serde_json::Number::from_f64(v)
                    .map(Node::Num)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut pairs: Vec<(String, Node)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Node>()? {
                    pairs.push((k, v));
                }
                Ok(Node::Map(pairs))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

fn s(text: impl Into<String>) -> Node {
    Node::Str(text.into())
}

fn m<const N: usize>(pairs: [(&str, Node); N]) -> Node {
    Node::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn seq(items: impl IntoIterator<Item = Node>) -> Node {
    Node::Seq(items.into_iter().collect())
}

fn strs<'a>(items: impl IntoIterator<Item = &'a str>) -> Node {
    seq(items.into_iter().map(s))
}

fn reference(pointer: &str) -> Node {
    m([("$ref", s(pointer))])
}

// ---------------------------------------------------------------------------------------------
// JSON Schema 2020-12 → draft-07.

/// Keywords whose value is a map of name → schema (the names are not keywords).
const SCHEMA_MAP_KEYWORDS: &[&str] = &["properties", "patternProperties"];
/// Keywords whose value is a schema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
/// Keywords whose value is a list of schemas.
const SCHEMA_LIST_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf"];
/// 2019-09/2020-12 keywords draft-07 does not have.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "prefixItems",
    "unevaluatedItems",
    "unevaluatedProperties",
    "dependentRequired",
    "dependentSchemas",
    "minContains",
    "maxContains",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$vocabulary",
];
/// Identification keywords dropped: inside an AsyncAPI document the schema is not a resource of
/// its own, and one `$id` in several messages is an error for validators.
const DROPPED_KEYWORDS: &[&str] = &["$schema", "$id", "$defs"];
/// Nesting of `$defs` through `$ref`s beyond which the schema is taken as cyclic.
const MAX_REF_DEPTH: usize = 16;

/// The draft-07 form of the 2020-12 schema `root`.
fn to_draft07(root: &Node) -> Result<Node, AsyncApiError> {
    let empty = Node::Map(Vec::new());
    let defs = root.get("$defs").unwrap_or(&empty);
    translate(root, defs, 0)
}

fn translate(schema: &Node, defs: &Node, depth: usize) -> Result<Node, AsyncApiError> {
    let Node::Map(pairs) = schema else {
        // `true` / `false` schemas are the same in both drafts.
        return Ok(schema.clone());
    };
    let mut out = Vec::with_capacity(pairs.len());
    let mut target = None;
    for (key, value) in pairs {
        let k = key.as_str();
        if UNSUPPORTED_KEYWORDS.contains(&k) {
            return Err(AsyncApiError::UnsupportedKeyword(key.clone()));
        }
        if DROPPED_KEYWORDS.contains(&k) {
            continue;
        }
        let translated = if k == "$ref" {
            let r = value.as_str().unwrap_or_default();
            let def = r
                .strip_prefix("#/$defs/")
                .and_then(|name| defs.get(name))
                .ok_or_else(|| AsyncApiError::UnsupportedRef(r.to_owned()))?;
            if depth >= MAX_REF_DEPTH {
                return Err(AsyncApiError::RefTooDeep(r.to_owned()));
            }
            target = Some(translate(def, defs, depth + 1)?);
            continue;
        } else if SCHEMA_MAP_KEYWORDS.contains(&k) {
            match value {
                Node::Map(props) => Node::Map(
                    props
                        .iter()
                        .map(|(name, sub)| Ok((name.clone(), translate(sub, defs, depth)?)))
                        .collect::<Result<_, AsyncApiError>>()?,
                ),
                other => other.clone(),
            }
        } else if SCHEMA_KEYWORDS.contains(&k) {
            if matches!(value, Node::Seq(_)) {
                // Array-form `items` means something else in 2020-12 (`prefixItems`).
                return Err(AsyncApiError::UnsupportedKeyword(format!("{key} (array)")));
            }
            translate(value, defs, depth)?
        } else if SCHEMA_LIST_KEYWORDS.contains(&k) {
            match value {
                Node::Seq(items) => Node::Seq(
                    items
                        .iter()
                        .map(|sub| translate(sub, defs, depth))
                        .collect::<Result<_, _>>()?,
                ),
                other => other.clone(),
            }
        } else {
            // Annotations and assertions with plain values (`type`, `pattern`, `const`, `enum`…).
            value.clone()
        };
        out.push((key.clone(), translated));
    }
    Ok(match target {
        None => Node::Map(out),
        // A `$ref` alone is replaced by its target; beside other keywords (which 2020-12 applies
        // too, draft-07 ignores) both are kept under `allOf`.
        Some(target) if out.is_empty() => target,
        Some(target) => {
            let mut both = vec![("allOf".to_owned(), seq([target]))];
            both.extend(out);
            Node::Map(both)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// What the code says.

/// One channel's worth of facts about a canonical type.
struct TypeInfo {
    /// Canonical type (`vod.media.uploaded`).
    ty: &'static str,
    /// `(provider, vendor EventType, task kind)` rows mapping to it, table order.
    rows: Vec<(Provider, &'static str, &'static str)>,
}

impl TypeInfo {
    fn providers(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (p, _, _) in &self.rows {
            if !out.contains(&p.as_str()) {
                out.push(p.as_str());
            }
        }
        out
    }

    fn vendor_types(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (_, v, _) in &self.rows {
            if !out.contains(v) {
                out.push(v);
            }
        }
        out
    }

    fn task_kinds(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (_, _, k) in &self.rows {
            if !out.contains(k) {
                out.push(k);
            }
        }
        out
    }

    /// "Tencent `NewFileUpload`; Volcengine `FileUploadComplete`, …".
    fn summary(&self) -> String {
        [
            (Provider::Tencent, "Tencent"),
            (Provider::Volcengine, "Volcengine"),
        ]
        .iter()
        .filter_map(|(provider, label)| {
            let names: Vec<String> = self
                .rows
                .iter()
                .filter(|(p, _, _)| p == provider)
                .map(|(_, v, _)| format!("`{v}`"))
                .collect();
            (!names.is_empty()).then(|| format!("{label} {}", names.join(", ")))
        })
        .collect::<Vec<_>>()
        .join("; ")
    }
}

/// Every canonical type of the type table, sorted, with its rows.
fn canonical_types() -> Vec<TypeInfo> {
    let mut types: Vec<TypeInfo> = Vec::new();
    for provider in [Provider::Tencent, Provider::Volcengine] {
        for row in type_mappings(provider) {
            let entry = (provider, row.vendor_type, row.task_kind);
            match types.iter_mut().find(|t| t.ty == row.canonical_type) {
                Some(t) => t.rows.push(entry),
                None => types.push(TypeInfo {
                    ty: row.canonical_type,
                    rows: vec![entry],
                }),
            }
        }
    }
    types.sort_by(|a, b| a.ty.cmp(b.ty));
    types
}

/// "vod.media.watermark.removed" → "Media watermark removed".
fn title_of(ty: &str) -> String {
    let words: Vec<&str> = ty
        .strip_prefix("vod.")
        .unwrap_or(ty)
        .split('.')
        .filter(|w| !w.is_empty())
        .collect();
    let mut title = words.join(" ");
    if let Some(first) = title.get(..1) {
        let upper = first.to_ascii_uppercase();
        title.replace_range(..1, &upper);
    }
    title
}

/// An event with every optional attribute set, so [`CanonicalEvent::attributes`] names them
/// all. Built from JSON rather than a struct literal: attributes added later (with serde
/// defaults) are then picked up here without an edit.
fn full_event(
    ty: &str,
    provider: &str,
    source: &str,
    outcome: &str,
) -> Result<CanonicalEvent, AsyncApiError> {
    let json = serde_json::json!({
        "specversion": "1.0",
        "id": "0123456789abcdef0123456789abcdef",
        "source": format!("/vodbridge/{source}"),
        "type": ty,
        "subject": "m",
        "time": "2024-01-01T00:00:00Z",
        "datacontenttype": CONTENT_TYPE_JSON,
        "provider": provider,
        "providertype": "X",
        "outcome": outcome,
        "partitionkey": "m",
        "timesource": "received",
        "traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
        "tracestate": "a=b",
        "data": {},
    });
    let mut event: CanonicalEvent = serde_json::from_value(json)
        .map_err(|e| AsyncApiError::Defaults(format!("sample event: {e}")))?;
    event.source_name = source.to_owned();
    Ok(event)
}

/// The binding attribute names, in the order the bindings write them.
fn attribute_names() -> Result<Vec<&'static str>, AsyncApiError> {
    Ok(full_event("vod.x", "tencent", "s", "succeeded")?
        .attributes()
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// The address the default `template` gives events of type `ty`, checked to depend on the type
/// alone (other placeholders would make one channel per type wrong).
fn address(template: &DestinationTemplate, raw: &str, ty: &str) -> Result<String, AsyncApiError> {
    let a = template.render(&full_event(ty, "tencent", "a", "succeeded")?);
    let b = template.render(&full_event(ty, "volcengine", "b", "failed")?);
    if a != b || template.is_fixed() {
        return Err(AsyncApiError::TemplateNotPerType(raw.to_owned()));
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// The document.

/// One broker: its sink defaults and binding details.
struct Broker {
    /// `kafka` / `nats`: prefix of ids.
    id: &'static str,
    label: &'static str,
    template: String,
    default_mode: BindingMode,
}

impl Broker {
    fn mode_id(&self, mode: BindingMode) -> String {
        format!("{}-{}", self.id, mode_name(mode))
    }

    /// The default mode first.
    fn modes(&self) -> [BindingMode; 2] {
        match self.default_mode {
            BindingMode::Binary => [BindingMode::Binary, BindingMode::Structured],
            BindingMode::Structured => [BindingMode::Structured, BindingMode::Binary],
        }
    }
}

fn mode_name(mode: BindingMode) -> &'static str {
    match mode {
        BindingMode::Binary => "binary",
        BindingMode::Structured => "structured",
    }
}

fn brokers() -> Result<[Broker; 2], AsyncApiError> {
    // The defaults exactly as a `[[sinks]]` entry without `topic`/`subject`/`mode` gets them.
    let kafka: KafkaSinkConfig = serde_json::from_value(serde_json::json!({"brokers": "x"}))
        .map_err(|e| AsyncApiError::Defaults(format!("Kafka sink: {e}")))?;
    let nats: NatsSinkConfig = serde_json::from_value(serde_json::json!({"url": "x"}))
        .map_err(|e| AsyncApiError::Defaults(format!("NATS sink: {e}")))?;
    Ok([
        Broker {
            id: "kafka",
            label: "Kafka",
            template: kafka.topic,
            default_mode: kafka.mode,
        },
        Broker {
            id: "nats",
            label: "NATS",
            template: nats.subject,
            default_mode: nats.mode,
        },
    ])
}

/// The translated event schema and the parts the document reuses.
struct Schemas {
    event: Node,
    data: Node,
}

fn schemas() -> Result<Schemas, AsyncApiError> {
    let raw: Node = serde_json::from_str(EVENT_SCHEMA)
        .map_err(|e| AsyncApiError::SchemaNotJson(e.to_string()))?;
    let mut event = to_draft07(&raw)?;
    event.set(
        "$comment",
        s(
            "JSON Schema draft-07 translation of docs/schema/vodbridge-event.schema.json \
           (draft 2020-12), made by `vodbridge asyncapi`: $defs inlined, $schema and $id dropped.",
        ),
    );
    let data = event
        .get("properties")
        .and_then(|p| p.get("data"))
        .cloned()
        .ok_or(AsyncApiError::SchemaShape("no `properties.data`"))?;
    Ok(Schemas { event, data })
}

/// The attribute's schema in the event schema, for its header; `{type: string}` when the schema
/// does not list it (yet).
fn attribute_schema(event: &Node, name: &str) -> Node {
    event
        .get("properties")
        .and_then(|p| p.get(name))
        .cloned()
        .unwrap_or_else(|| m([("type", s("string"))]))
}

fn required_attributes(event: &Node) -> Vec<String> {
    match event.get("required") {
        Some(Node::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Header schema of one binding mode.
fn headers_schema(
    broker: &Broker,
    mode: BindingMode,
    schemas: &Schemas,
) -> Result<Node, AsyncApiError> {
    let attrs = attribute_names()?;
    let required_attrs = required_attributes(&schemas.event);
    let mut props: Vec<(String, Node)> = Vec::new();
    let mut required: Vec<String> = Vec::new();
    let traced = attrs.contains(&"traceparent");
    let (content_type_header, content_type) = match (broker.id, mode) {
        ("kafka", BindingMode::Binary) => ("content-type", CONTENT_TYPE_JSON),
        ("kafka", BindingMode::Structured) => (
            "content-type",
            vodbridge_sink_kafka::message::STRUCTURED_CONTENT_TYPE,
        ),
        (_, BindingMode::Binary) => ("Content-Type", CONTENT_TYPE_JSON),
        (_, BindingMode::Structured) => (
            "Content-Type",
            vodbridge_sink_nats::binding::STRUCTURED_CONTENT_TYPE,
        ),
    };
    if broker.id == "nats" {
        let mut id = attribute_schema(&schemas.event, "id");
        id.set(
            "description",
            s("The event id: JetStream drops a copy published again within the stream's duplicate window."),
        );
        props.push((vodbridge_sink_nats::binding::MSG_ID_HEADER.to_owned(), id));
        required.push(vodbridge_sink_nats::binding::MSG_ID_HEADER.to_owned());
    }
    props.push((
        content_type_header.to_owned(),
        m([("const", s(content_type))]),
    ));
    required.push(content_type_header.to_owned());
    if mode == BindingMode::Binary {
        let prefix = if broker.id == "kafka" { "ce_" } else { "ce-" };
        if broker.id == "nats" {
            // The NATS binding's own mapping of datacontenttype, beside Content-Type.
            props.push((
                "ce-datacontenttype".to_owned(),
                m([("const", s(CONTENT_TYPE_JSON))]),
            ));
            required.push("ce-datacontenttype".to_owned());
        }
        for name in &attrs {
            let mut schema = attribute_schema(&schemas.event, name);
            if broker.id == "nats" {
                let note = "Percent-encoded as the NATS binding requires (space, `\"`, `%` and non-printable or non-ASCII bytes as `%XY`).";
                let text = match schema.get("description").and_then(Node::as_str) {
                    Some(d) => format!("{d} {note}"),
                    None => note.to_owned(),
                };
                schema.set("description", s(text));
            }
            props.push((format!("{prefix}{name}"), schema));
            if required_attrs.iter().any(|r| r == name) {
                required.push(format!("{prefix}{name}"));
            }
        }
    }
    if traced {
        // W3C Trace Context propagation for tracing tools that do not read CloudEvents
        // attributes: the same values as the `traceparent`/`tracestate` attributes.
        for name in ["traceparent", "tracestate"] {
            if !attrs.contains(&name) {
                continue;
            }
            let mut schema = attribute_schema(&schemas.event, name);
            schema.set(
                "description",
                s(format!(
                    "W3C Trace Context `{name}` header: the event's `{name}` attribute."
                )),
            );
            props.push((name.to_owned(), schema));
            if required_attrs.iter().any(|r| r == name) {
                required.push(name.to_owned());
            }
        }
    }
    Ok(m([
        ("type", s("object")),
        (
            "required",
            Node::Seq(required.into_iter().map(Node::Str).collect()),
        ),
        ("properties", Node::Map(props)),
    ]))
}

fn trait_for(broker: &Broker, mode: BindingMode) -> Node {
    let default = if mode == broker.default_mode {
        format!(" This is the default of a {} sink (`mode`).", broker.label)
    } else {
        format!(
            " A {} sink uses it with `mode = \"{}\"`.",
            broker.label,
            mode_name(mode)
        )
    };
    let (content_type, description, correlation) = match (broker.id, mode) {
        ("kafka", BindingMode::Binary) => (
            CONTENT_TYPE_JSON,
            "CloudEvents Kafka binding, binary mode: every attribute in a `ce_<name>` header, \
             `data` as the record value. The record key is the `partitionkey` attribute.",
            "$message.header#/ce_id",
        ),
        ("kafka", BindingMode::Structured) => (
            vodbridge_sink_kafka::message::STRUCTURED_CONTENT_TYPE,
            "CloudEvents Kafka binding, structured mode: the whole event in the JSON event \
             format as the record value. The record key is the `partitionkey` attribute.",
            "$message.payload#/id",
        ),
        (_, BindingMode::Binary) => (
            CONTENT_TYPE_JSON,
            "CloudEvents NATS binding, binary mode: every attribute in a `ce-<name>` header, \
             `data` as the payload. `Nats-Msg-Id` is the event id.",
            "$message.header#/Nats-Msg-Id",
        ),
        (_, BindingMode::Structured) => (
            vodbridge_sink_nats::binding::STRUCTURED_CONTENT_TYPE,
            "CloudEvents NATS binding, structured mode: the whole event in the JSON event format \
             as the payload. `Nats-Msg-Id` is the event id.",
            "$message.header#/Nats-Msg-Id",
        ),
    };
    let mut t = m([
        ("contentType", s(content_type)),
        ("description", s(format!("{description}{default}"))),
        (
            "correlationId",
            m([
                (
                    "description",
                    s("The event id: deterministic, equal for every delivery of one occurrence, so repeats can be dropped."),
                ),
                ("location", s(correlation)),
            ]),
        ),
    ]);
    if broker.id == "kafka" {
        t.set(
            "bindings",
            m([(
                "kafka",
                m([
                    (
                        "key",
                        m([
                            ("type", s("string")),
                            ("minLength", Node::Num(1.into())),
                            (
                                "description",
                                s("The `partitionkey` attribute (UTF-8): the media id, else the most specific stable id, so one media's events share a partition and stay in order."),
                            ),
                        ]),
                    ),
                    ("bindingVersion", s(KAFKA_BINDING_VERSION)),
                ]),
            )]),
        );
    }
    t
}

/// Per-type constraints on the structured event (components.schemas.<type>).
fn type_constraint(info: Option<&TypeInfo>, ty: &str) -> Node {
    let mut props = vec![("type".to_owned(), m([("const", s(ty))]))];
    match info {
        Some(info) => {
            props.push(("provider".to_owned(), m([("enum", strs(info.providers()))])));
            props.push((
                "providertype".to_owned(),
                m([("enum", strs(info.vendor_types()))]),
            ));
            props.push((
                "data".to_owned(),
                m([(
                    "properties",
                    m([(
                        "task",
                        m([(
                            "properties",
                            m([("kind", m([("enum", strs(info.task_kinds()))]))]),
                        )]),
                    )]),
                )]),
            ));
        }
        None => {
            // Unmapped: any vendor type; no task kind, since none is known for it.
            props.push((
                "data".to_owned(),
                m([(
                    "properties",
                    m([("task", m([("not", m([("required", strs(["kind"]))]))]))]),
                )]),
            ));
        }
    }
    m([
        ("type", s("object")),
        (
            "description",
            s(match info {
                Some(info) => format!("`{ty}`: {}.", info.summary()),
                None => format!(
                    "`{ty}`: a vendor event type not mapped yet, forwarded with its full payload."
                ),
            }),
        ),
        ("properties", Node::Map(props)),
    ])
}

/// The dead letter's data (core's `DeadLetterData`).
const DEAD_LETTER_DATA: &str = r#"{
  "type": "object",
  "description": "An input that could not be normalized (or a record a sink refused for good), kept raw with the reason. See docs/events.md.",
  "required": ["source", "provider", "ingress", "reason", "receivedtime", "bodybase64"],
  "additionalProperties": false,
  "properties": {
    "source": { "type": "string", "description": "The configured source name it arrived on (`spool` for a damaged spool record)." },
    "provider": { "enum": ["tencent", "volcengine", "vodbridge"] },
    "ingress": { "enum": ["http", "pull", "spool"], "description": "Which path received it: a callback, the Tencent pull queue, or the spool's forwarder." },
    "reason": { "type": "string", "description": "Why it was rejected." },
    "receivedtime": { "type": "string", "description": "RFC 3339 receive time." },
    "body": { "type": "string", "description": "The raw body as text, when it is valid UTF-8." },
    "bodybase64": { "type": "string", "contentEncoding": "base64", "description": "The raw body, always, as standard base64." }
  }
}"#;

/// The dead-letter event: the canonical envelope with the dead letter's fixed values.
fn dead_letter_schema(event: &Node) -> Result<Node, AsyncApiError> {
    let data: Node = serde_json::from_str(DEAD_LETTER_DATA)
        .map_err(|e| AsyncApiError::SchemaNotJson(e.to_string()))?;
    let mut dl = event.clone();
    dl.set("title", s("vodbridge dead letter"));
    dl.set(
        "description",
        s("A dead letter as a CloudEvent: the canonical envelope, with `data` holding the raw input and the reason."),
    );
    dl.remove("$comment");
    // The canonical conditions (error only when failed, media with a subject) are about the
    // canonical `data`.
    dl.remove("allOf");
    let props = dl
        .get_mut("properties")
        .ok_or(AsyncApiError::SchemaShape("no `properties`"))?;
    props.remove("subject");
    props.set("type", m([("const", s(DEAD_LETTER_TYPE))]));
    props.set(
        "provider",
        m([("enum", strs(["tencent", "volcengine", "vodbridge"]))]),
    );
    props.set(
        "providertype",
        m([
            ("const", s("")),
            ("description", s("Empty: no vendor type applies.")),
        ]),
    );
    props.set("outcome", m([("const", s("failed"))]));
    props.set("timesource", m([("const", s("received"))]));
    props.set(
        "partitionkey",
        m([
            ("type", s("string")),
            ("minLength", Node::Num(1.into())),
            ("description", s("The source name.")),
        ]),
    );
    props.set("data", data);
    Ok(dl)
}

/// The document as an ordered tree.
fn document() -> Result<Node, AsyncApiError> {
    let schemas = schemas()?;
    let types = canonical_types();
    let brokers = brokers()?;
    let kafka_defaults = KafkaSinkConfig::new("x");

    let mut channels = Vec::new();
    let mut operations = Vec::new();
    let mut component_schemas = vec![
        ("VodbridgeEvent".to_owned(), schemas.event.clone()),
        ("VodbridgeEventData".to_owned(), schemas.data.clone()),
        (
            "VodbridgeDeadLetter".to_owned(),
            dead_letter_schema(&schemas.event)?,
        ),
    ];
    let mut traits = Vec::new();
    for broker in &brokers {
        for mode in broker.modes() {
            component_schemas.push((
                format!("{}Headers", broker.mode_id(mode)),
                headers_schema(broker, mode, &schemas)?,
            ));
            traits.push((broker.mode_id(mode), trait_for(broker, mode)));
        }
    }
    // Channel list: every canonical type, then the unmapped and dead-letter channels.
    let mut entries: Vec<(&str, Option<&TypeInfo>)> =
        types.iter().map(|t| (t.ty, Some(t))).collect();
    entries.push((UNMAPPED_TYPE, None));
    for (ty, info) in &entries {
        component_schemas.push(((*ty).to_owned(), type_constraint(*info, ty)));
    }
    entries.push((DEAD_LETTER_TYPE, None));

    let mut seen: Vec<String> = Vec::new();
    for broker in &brokers {
        let template =
            DestinationTemplate::parse(&broker.template).map_err(AsyncApiError::Template)?;
        for (ty, info) in &entries {
            let dead_letter = *ty == DEAD_LETTER_TYPE;
            let address = if dead_letter {
                DEAD_LETTER_DESTINATION.to_owned()
            } else {
                address(&template, &broker.template, ty)?
            };
            let channel_id = format!("{}-{}", broker.id, address.replace('.', "-"));
            if seen.contains(&channel_id) {
                return Err(AsyncApiError::DuplicateChannel(channel_id));
            }
            seen.push(channel_id.clone());
            let title = if dead_letter {
                "Dead letters".to_owned()
            } else {
                title_of(ty)
            };
            let mut messages = Vec::new();
            let mut op_messages = Vec::new();
            for mode in broker.modes() {
                let structured = mode == BindingMode::Structured;
                let payload = match (dead_letter, structured) {
                    (true, true) => reference("#/components/schemas/VodbridgeDeadLetter"),
                    (true, false) => {
                        reference("#/components/schemas/VodbridgeDeadLetter/properties/data")
                    }
                    (false, true) => m([(
                        "allOf",
                        seq([
                            reference("#/components/schemas/VodbridgeEvent"),
                            reference(&format!("#/components/schemas/{ty}")),
                        ]),
                    )]),
                    (false, false) => m([(
                        "allOf",
                        seq([
                            reference("#/components/schemas/VodbridgeEventData"),
                            reference(&format!("#/components/schemas/{ty}/properties/data")),
                        ]),
                    )]),
                };
                let headers_ref = format!("#/components/schemas/{}Headers", broker.mode_id(mode));
                let headers = if structured {
                    reference(&headers_ref)
                } else {
                    let type_header = if broker.id == "kafka" {
                        "ce_type"
                    } else {
                        "ce-type"
                    };
                    m([
                        ("type", s("object")),
                        (
                            "allOf",
                            seq([
                                reference(&headers_ref),
                                m([("properties", m([(type_header, m([("const", s(*ty))]))]))]),
                            ]),
                        ),
                    ])
                };
                let summary = match info {
                    Some(info) => format!("{}.", info.summary()),
                    None if dead_letter => "Inputs that could not be normalized, and records a sink refused for good, kept raw with the reason. Published here when `[dead_letter]` names this sink with this destination (the compose stack: Kafka).".to_owned(),
                    None => "Vendor event types not mapped yet, forwarded with the full payload.".to_owned(),
                };
                let message = m([
                    ("name", s(*ty)),
                    (
                        "title",
                        s(format!(
                            "{title} ({}, {} mode)",
                            broker.label,
                            mode_name(mode)
                        )),
                    ),
                    ("summary", s(summary)),
                    ("headers", headers),
                    (
                        "payload",
                        m([("schemaFormat", s(SCHEMA_FORMAT)), ("schema", payload)]),
                    ),
                    (
                        "traits",
                        seq([reference(&format!(
                            "#/components/messageTraits/{}",
                            broker.mode_id(mode)
                        ))]),
                    ),
                ]);
                op_messages.push(reference(&format!(
                    "#/channels/{channel_id}/messages/{}",
                    mode_name(mode)
                )));
                messages.push((mode_name(mode).to_owned(), message));
            }
            let mut channel = m([
                ("address", s(address.clone())),
                ("title", s(title.clone())),
                (
                    "description",
                    s(if dead_letter {
                        format!(
                            "`{DEAD_LETTER_TYPE}` events on {} `{address}` (`[dead_letter] destination`).",
                            broker.label
                        )
                    } else {
                        format!(
                            "`{ty}` events, at the {} sink's default {} template `{}`.",
                            broker.label,
                            if broker.id == "kafka" {
                                "topic"
                            } else {
                                "subject"
                            },
                            broker.template
                        )
                    }),
                ),
                (
                    "servers",
                    seq([
                        reference(&format!("#/servers/{}", broker.id)),
                        reference(&format!("#/servers/{}-host", broker.id)),
                    ]),
                ),
                ("messages", Node::Map(messages)),
            ]);
            if broker.id == "kafka" {
                channel.set(
                    "bindings",
                    m([(
                        "kafka",
                        m([
                            ("topic", s(address.clone())),
                            ("partitions", Node::Num(kafka_defaults.partitions.into())),
                            (
                                "replicas",
                                Node::Num(kafka_defaults.replication_factor.into()),
                            ),
                            ("bindingVersion", s(KAFKA_BINDING_VERSION)),
                        ]),
                    )]),
                );
            }
            operations.push((
                format!("receive-{channel_id}"),
                m([
                    ("action", s("receive")),
                    ("channel", reference(&format!("#/channels/{channel_id}"))),
                    (
                        "summary",
                        s(format!("Consume {title} from {}.", broker.label)),
                    ),
                    ("messages", Node::Seq(op_messages)),
                ]),
            ));
            channels.push((channel_id, channel));
        }
    }

    Ok(m([
        ("asyncapi", s("3.0.0")),
        (
            "info",
            m([
                ("title", s("vodbridge events")),
                ("version", s(env!("CARGO_PKG_VERSION"))),
                (
                    "description",
                    s(format!(
                        "What consumers of vodbridge receive: one CloudEvents 1.0 record per vendor \
                         VOD event, on Kafka topics and NATS (JetStream) subjects named by canonical \
                         type (the sinks' default templates). Generated by `vodbridge asyncapi` from \
                         the normalizer's type table, the bindings and \
                         docs/schema/vodbridge-event.schema.json; regenerate with `{REGENERATE}`. \
                         Payload schemas are a JSON Schema draft-07 translation of that draft 2020-12 \
                         file. See docs/events.md."
                    )),
                ),
                ("license", m([("name", s("Apache-2.0"))])),
            ]),
        ),
        ("defaultContentType", s(CONTENT_TYPE_JSON)),
        ("servers", servers()),
        ("channels", Node::Map(channels)),
        ("operations", Node::Map(operations)),
        (
            "components",
            m([
                ("schemas", Node::Map(component_schemas)),
                ("messageTraits", Node::Map(traits)),
            ]),
        ),
    ]))
}

/// The compose stack's brokers (docker-compose.yml): inside the compose network and from the
/// host. The drift test checks docker-compose.yml still publishes these.
fn servers() -> Node {
    let server = |host: &str, protocol: &str, description: &str| {
        m([
            ("host", s(host)),
            ("protocol", s(protocol)),
            ("description", s(description)),
        ])
    };
    m([
        (
            "kafka",
            server(
                "kafka:9092",
                "kafka",
                "Apache Kafka (KRaft) of the compose stack, inside the compose network (the address vodbridge uses).",
            ),
        ),
        (
            "kafka-host",
            server(
                "127.0.0.1:29092",
                "kafka",
                "The same Kafka from the host (listener HOST).",
            ),
        ),
        (
            "nats",
            server(
                "nats:4222",
                "nats",
                "NATS with JetStream (stream VOD) of the compose stack, inside the compose network.",
            ),
        ),
        (
            "nats-host",
            server(
                "127.0.0.1:4222",
                "nats",
                "The same NATS from the host.",
            ),
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// YAML.

/// The document as YAML, deterministic byte for byte.
pub(crate) fn generate() -> Result<String, AsyncApiError> {
    let doc = document()?;
    let mut out = format!(
        "# Generated by `vodbridge asyncapi` (crates/vodbridge/src/asyncapi.rs); do not edit.\n\
         # Regenerate: {REGENERATE}\n"
    );
    write_block(&mut out, &doc, 0);
    Ok(out)
}

/// Print the document on standard output.
pub(crate) fn run() -> anyhow::Result<()> {
    use std::io::Write as _;
    let yaml = generate()?;
    std::io::stdout().write_all(yaml.as_bytes())?;
    Ok(())
}

/// A string as a YAML scalar: plain when that cannot be read as anything else, else a JSON
/// string (JSON escapes are valid in YAML double-quoted scalars).
fn scalar_str(text: &str) -> String {
    const RESERVED: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n"];
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '$')
        && !text.ends_with(' ')
        && !text.contains("  ")
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./-,;()=+$".contains(c))
        && !RESERVED.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_owned()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}

/// `node` as an inline scalar, if it is one (empty collections included).
fn inline(node: &Node) -> Option<String> {
    match node {
        Node::Null => Some("null".to_owned()),
        Node::Bool(b) => Some(b.to_string()),
        Node::Num(n) => Some(n.to_string()),
        Node::Str(text) => Some(scalar_str(text)),
        Node::Seq(items) if items.is_empty() => Some("[]".to_owned()),
        Node::Map(pairs) if pairs.is_empty() => Some("{}".to_owned()),
        Node::Seq(_) | Node::Map(_) => None,
    }
}

/// `node` (a map or a list) in block style, every line indented by `indent` spaces.
fn write_block(out: &mut String, node: &Node, indent: usize) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(pairs) => {
            for (key, value) in pairs {
                let key = scalar_str(key);
                match inline(value) {
                    Some(v) => {
                        let _ = writeln!(out, "{pad}{key}: {v}");
                    }
                    None => {
                        let _ = writeln!(out, "{pad}{key}:");
                        write_block(out, value, indent + 2);
                    }
                }
            }
        }
        Node::Seq(items) => {
            for item in items {
                match inline(item) {
                    Some(v) => {
                        let _ = writeln!(out, "{pad}- {v}");
                    }
                    None => {
                        // The item's block at indent + 2, its first indentation turned into "- ".
                        let mut block = String::new();
                        write_block(&mut block, item, indent + 2);
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&block[indent + 2..]);
                    }
                }
            }
        }
        scalar => {
            if let Some(v) = inline(scalar) {
                let _ = writeln!(out, "{pad}{v}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates() {
        let yaml = generate().expect("generates");
        assert!(yaml.contains("\nasyncapi: \"3.0.0\"\n"));
        assert!(yaml.contains("  kafka-vod-media-uploaded:\n    address: vod.media.uploaded\n"));
        assert!(yaml.contains("  nats-vodbridge-deadletter:\n"));
        assert_eq!(generate().expect("generates"), yaml, "deterministic");
    }

    #[test]
    fn every_canonical_type_has_a_channel_per_broker() {
        let doc = document().expect("document");
        let channels = doc.get("channels").expect("channels");
        for t in canonical_types() {
            for broker in ["kafka", "nats"] {
                let id = format!("{broker}-{}", t.ty.replace('.', "-"));
                assert_eq!(
                    channels.get(&id).and_then(|c| c.get("address")),
                    Some(&s(t.ty)),
                    "{id}"
                );
            }
        }
        assert!(channels.get("kafka-vod-unmapped").is_some());
        let ops = doc.get("operations").expect("operations");
        assert_eq!(ops.keys().len(), channels.keys().len());
    }

    #[test]
    fn translates_defs_and_refuses_2020_only_keywords() {
        let schema: Node = serde_json::from_str(
            r##"{"$schema":"x","$id":"y","properties":{"prefixItems":{"$ref":"#/$defs/t"},
                "b":{"$ref":"#/$defs/t","description":"d"}},"$defs":{"t":{"type":"string"}}}"##,
        )
        .expect("json");
        let out = to_draft07(&schema).expect("translates");
        let expected: Node = serde_json::from_str(
            r#"{"properties":{"prefixItems":{"type":"string"},
                "b":{"allOf":[{"type":"string"}],"description":"d"}}}"#,
        )
        .expect("json");
        assert_eq!(out, expected);
        for bad in [
            r#"{"prefixItems":[]}"#,
            r#"{"items":[{}]}"#,
            r#"{"properties":{"a":{"unevaluatedProperties":false}}}"#,
            r##"{"$ref":"#/definitions/x"}"##,
            r##"{"$ref":"#/$defs/x","$defs":{"x":{"$ref":"#/$defs/x"}}}"##,
        ] {
            let schema: Node = serde_json::from_str(bad).expect("json");
            assert!(to_draft07(&schema).is_err(), "{bad}");
        }
    }

    #[test]
    fn yaml_scalars_quote_what_could_be_misread() {
        assert_eq!(scalar_str("vod.media.uploaded"), "vod.media.uploaded");
        assert_eq!(scalar_str("$ref"), "$ref");
        for (text, quoted) in [
            ("3.0.0", "\"3.0.0\""),
            ("#/a", "\"#/a\""),
            ("a: b", "\"a: b\""),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("", "\"\""),
            ("a\"b", "\"a\\\"b\""),
            ("^[0-9]$", "\"^[0-9]$\""),
        ] {
            assert_eq!(scalar_str(text), quoted);
        }
        let mut out = String::new();
        write_block(
            &mut out,
            &m([
                ("a", seq([m([("b", s("c")), ("d", seq([s("e")]))]), s("f")])),
                ("g", Node::Map(Vec::new())),
            ]),
            0,
        );
        assert_eq!(out, "a:\n  - b: c\n    d:\n      - e\n  - f\ng: {}\n");
    }

    #[test]
    fn titles() {
        assert_eq!(
            title_of("vod.media.watermark.removed"),
            "Media watermark removed"
        );
    }
}
