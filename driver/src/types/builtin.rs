//! The table of built-in types (generated into `builtin_table.rs`) and what the driver knows
//! about each: its kind and whether it travels in binary.

use super::{Field, Oid, Type};

#[path = "builtin_table.rs"]
mod table;

/// What kind of type a [`Type`] is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A scalar base type.
    Simple,
    /// An array of the element type.
    Array(Type),
    /// A range over the subtype.
    Range(Type),
    /// A multirange of the range type.
    Multirange(Type),
    /// An enum with its labels in sort order.
    Enum(Vec<String>),
    /// A composite (row) type with its attributes in order.
    Composite(Vec<Field>),
    /// A domain over its base type.
    Domain(Type),
    /// A pseudo-type (`void`, `record`, `anyelement`, ...).
    Pseudo,
}

/// One built-in type. Statics of this live in the generated table.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Builtin {
    pub(crate) oid: Oid,
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) binary: bool,
}

pub(super) fn lookup(oid: Oid) -> Option<&'static Builtin> {
    table::BY_OID
        .binary_search_by_key(&oid, |b| b.oid)
        .ok()
        .map(|i| table::BY_OID[i])
}

/// Whether the driver has a binary codec for the built-in type `oid` (arrays: for their
/// element). Every other built-in type is requested in text format and decodes to `String`.
pub(super) const fn has_binary_codec(oid: Oid) -> bool {
    matches!(
        oid,
        16 | 17 | 18 | 19 | 20 | 21 | 23 | 25 | 26 | 700 | 701 | 705 | 1042 | 1043
    )
}
