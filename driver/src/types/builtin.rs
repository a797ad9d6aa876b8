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

/// Whether the driver has a binary codec for the built-in scalar type `oid`. Arrays, ranges and
/// multiranges follow what they hold (decided in [`Type::is_binary`]). Every other built-in
/// type is requested in text format and decodes to `String`.
///
/// Types whose only Rust side comes from an optional crate stay on the text path when its
/// feature is off.
pub(super) const fn has_binary_codec(oid: Oid) -> bool {
    match oid {
        // bool, bytea, "char", name, int8, int2, int4, text, oid, float4, float8, unknown,
        // bpchar, varchar
        16 | 17 | 18 | 19 | 20 | 21 | 23 | 25 | 26 | 700 | 701 | 705 | 1042 | 1043 => true,
        // numeric, json, jsonb (String works without features)
        1700 | 114 | 3802 => true,
        // interval, inet, cidr, macaddr, macaddr8, bit, varbit, money
        1186 | 869 | 650 | 829 | 774 | 1560 | 1562 | 790 => true,
        // point, lseg, path, box, polygon, line, circle
        600 | 601 | 602 | 603 | 604 | 628 | 718 => true,
        // pg_lsn, xid8
        3220 | 5069 => true,
        // uuid
        2950 => cfg!(feature = "uuid"),
        // date, time, timetz, timestamp, timestamptz
        1082 | 1083 | 1266 | 1114 | 1184 => cfg!(feature = "chrono"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only OIDs fixed by PostgreSQL's catalog headers (below `FirstGenbkiObjectId`), sorted,
    /// and every array's element is in the table too.
    #[test]
    fn the_table_holds_only_stable_oids_sorted_with_their_elements() {
        assert!(table::BY_OID.windows(2).all(|w| w[0].oid < w[1].oid));
        for b in table::BY_OID {
            assert!(b.oid < 10_000, "{} has OID {}", b.name, b.oid);
            if let Kind::Array(e) | Kind::Range(e) | Kind::Multirange(e) = &b.kind {
                assert!(lookup(e.oid()).is_some(), "{}'s element", b.name);
            }
            // record[] is a pseudo-type; every other `_name` is an array of `name`.
            if b.name.starts_with('_') && b.kind != Kind::Pseudo {
                assert!(matches!(b.kind, Kind::Array(_)), "{} is an array", b.name);
            }
        }
    }
}
