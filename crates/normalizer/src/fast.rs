//! The fast path's machinery: the id's canonical form written while an event's views are read,
//! instead of by a second parse of the event. [`tee`] writes the form of a value while a typed
//! view is deserialized from it; [`ObjectWriter`] assembles an object's form from members its
//! caller split off itself. Both give the form `crate::ids::event_id` gives the same text, byte
//! for byte; the reference path (`Path::Reference`) uses `event_id` itself, and the
//! differential tests hold the two to the same output.

mod object;
mod tee;

pub(crate) use object::ObjectWriter;
pub(crate) use tee::{view_with_id, TeeBuf, TeeSeed};
