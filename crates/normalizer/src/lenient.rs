//! Lenient building blocks for the typed payload views.
//!
//! Vendors send numbers as strings and strings as numbers (Tencent `RestoreMediaTask.Status` is an
//! integer, MPS `ErrCode` a string, Volcengine `Size` sometimes a float), explicit `null`s and
//! fields of surprising shape. These wrappers never fail on a type mismatch: they record what they
//! saw, and the mappers decide which mismatches matter (an object where an id belongs does; a
//! string `Progress` does not). Unknown fields are skipped by serde without being materialized.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::NormalizeError;

/// The scalar visits of a lenient visitor (`visit_str`, to which `visit_borrowed_str` defaults,
/// `visit_u64`, `visit_i64`, `visit_f64`, `visit_bool` and `visit_unit`), each answering
/// `Ok($value)`: a value of a kind the visitor does not read means "not this" rather than an
/// error. `unit: $unit` gives JSON `null` its own answer. For `impl<'de, …> Visitor<'de>` blocks.
macro_rules! scalars_are {
    ($value:expr) => {
        $crate::lenient::scalars_are!($value, unit: $value);
    };
    ($value:expr, unit: $unit:expr) => {
        $crate::lenient::scalars_are!(@ $value, visit_str: &str, visit_u64: u64, visit_i64: i64,
            visit_f64: f64, visit_bool: bool);
        fn visit_unit<E: ::serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($unit)
        }
    };
    (@ $value:expr, $($visit:ident: $ty:ty),*) => {
        $(fn $visit<E: ::serde::de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok($value)
        })*
    };
}
pub(crate) use scalars_are;

/// Any JSON value seen where a scalar was expected. `null` is `Option::None` around it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// A JSON string (borrowed when it had no escapes).
    Str(Cow<'a, str>),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// An object or an array: unusable as a scalar (skipped, not materialized).
    Composite,
}

impl<'a> Scalar<'a> {
    /// The value as text: strings verbatim, numbers and booleans in JSON notation.
    pub(crate) fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) => Some(s.clone()),
            Scalar::UInt(n) => Some(Cow::Owned(n.to_string())),
            Scalar::Int(n) => Some(Cow::Owned(n.to_string())),
            Scalar::Float(f) => Some(Cow::Owned(f.to_string())),
            Scalar::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Scalar::Composite => None,
        }
    }

    /// The value as a number: numbers as they are, strings that parse as numbers.
    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Scalar::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            Scalar::UInt(n) => Some(*n as f64),
            Scalar::Int(n) => Some(*n as f64),
            Scalar::Float(f) => Some(*f),
            Scalar::Bool(_) | Scalar::Composite => None,
        }
    }

    /// True for a code that means "no error": `0`, `"0"`, `""`.
    pub(crate) fn is_zero_code(&self) -> bool {
        match self {
            Scalar::Str(s) => {
                let s = s.trim();
                s.is_empty() || s.parse::<f64>().is_ok_and(|f| f == 0.0)
            }
            Scalar::UInt(n) => *n == 0,
            Scalar::Int(n) => *n == 0,
            Scalar::Float(f) => *f == 0.0,
            Scalar::Bool(b) => !*b,
            Scalar::Composite => false,
        }
    }
}

/// Text of an optional scalar, treating objects/arrays as absent (for fields that do not matter).
pub(crate) fn text<'a>(v: &Option<Scalar<'a>>) -> Option<Cow<'a, str>> {
    v.as_ref().and_then(Scalar::text)
}

/// Non-empty text of an optional scalar, treating objects/arrays as absent.
pub(crate) fn nonempty<'a>(v: &Option<Scalar<'a>>) -> Option<Cow<'a, str>> {
    text(v).filter(|s| !s.is_empty())
}

/// Non-empty text of an id field that matters: an object or array there is an error.
pub(crate) fn id<'a>(
    v: &Option<Scalar<'a>>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, NormalizeError> {
    match v {
        Some(Scalar::Composite) => Err(NormalizeError::field(field, "a string or number")),
        other => Ok(nonempty(other)),
    }
}

/// Whether the value is a string equal to one of `any_of`, ignoring ASCII case and the
/// whitespace around it (vendors' status words).
pub(crate) fn is_one_of(v: &Option<Scalar<'_>>, any_of: &[&str]) -> bool {
    matches!(v, Some(Scalar::Str(s)) if any_of.iter().any(|w| s.trim().eq_ignore_ascii_case(w)))
}

/// An event type member `key`: a non-empty string.
pub(crate) fn event_type<'a>(
    v: Option<Scalar<'a>>,
    key: &'static str,
) -> Result<Cow<'a, str>, NormalizeError> {
    match v {
        Some(Scalar::Str(s)) if !s.trim().is_empty() => Ok(s),
        None | Some(Scalar::Str(_)) => Err(NormalizeError::MissingEventType),
        Some(_) => Err(NormalizeError::field(key, "a string")),
    }
}

/// A number of an optional scalar (numbers or numeric strings).
pub(crate) fn number(v: &Option<Scalar<'_>>) -> Option<f64> {
    v.as_ref().and_then(Scalar::number)
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::UInt(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Composite)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Composite)
            }
        }
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

/// An object parsed as `T`, or [`Obj::Other`] when the JSON value was not an object.
#[derive(Debug)]
pub(crate) enum Obj<T> {
    /// The value was an object.
    Some(T),
    /// The value was a scalar or an array (skipped).
    Other,
}

impl<T> Obj<T> {
    /// The parsed object, if the value was one.
    pub(crate) fn get(&self) -> Option<&T> {
        match self {
            Obj::Some(t) => Some(t),
            Obj::Other => None,
        }
    }
}

/// The parsed object behind an optional [`Obj`] field.
pub(crate) fn obj<T>(v: &Option<Obj<T>>) -> Option<&T> {
    v.as_ref().and_then(Obj::get)
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Some)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj::Other)
            }
            crate::lenient::scalars_are!(Obj::Other);
        }
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

/// An array whose elements are parsed as `T` (itself lenient), or empty when the value was not
/// an array.
#[derive(Debug)]
pub(crate) struct List<T>(pub(crate) Vec<T>);

impl<T> List<T> {
    /// The elements (empty when absent or not an array).
    pub(crate) fn items(v: &Option<List<T>>) -> &[T] {
        v.as_ref().map_or(&[], |l| l.0.as_slice())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Option<T>>()? {
                    items.extend(item);
                }
                Ok(List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(Vec::new()))
            }
            crate::lenient::scalars_are!(List(Vec::new()));
        }
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor(PhantomData))
    }
}

/// Parse `raw` (known-valid JSON) as a lenient view `T`.
pub(crate) fn view<'a, T: Deserialize<'a>>(raw: &'a str) -> Result<T, NormalizeError> {
    serde_json::from_str(raw).map_err(NormalizeError::json)
}
