//! Every binary `Decode`, fed arbitrary bytes.
//!
//! Input: `[case] [value bytes ...]`. The first byte picks a (PostgreSQL type, Rust type)
//! pair from the table below, the rest is the value as the server would send it.
//!
//! Invariants checked, for every case:
//! - the Rust type accepts the PostgreSQL type (the table is right);
//! - decoding through a Record (a DataRow with the column's type) gives the same result as
//!   decoding the bytes directly;
//! - where the Rust type also encodes: a decoded value that encodes again decodes to the same
//!   value (compared by `Debug`, so NaN equals NaN; hstore maps by `==`).

#![no_main]

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::IpAddr;

use bytes::BytesMut;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use libfuzzer_sys::fuzz_target;
use pgtusk::__fuzz;
use pgtusk::Record;
use pgtusk::protocol::backend::{Message, parse_message};
use pgtusk::types::{
    Array, Bits, Circle, CompositeReader, CustomType, Decode, Encode, Field, Interval, IpNetwork,
    IsNull, Kind, Line, LineSegment, MacAddr, MacAddr8, MaybeInfinite, Money, Multirange, Path,
    PgBox, PgLsn, Point, Polygon, Range, TimeTz, Type,
};
use rust_decimal::Decimal;
use serde_json::Value;
use serde_json::value::RawValue;

type Hstore = HashMap<String, Option<String>>;

/// How a re-decoded value is compared with the first.
#[derive(Clone, Copy)]
enum Same {
    /// By `Debug` text (floats: NaN equals NaN, -0.0 differs from 0.0).
    Debug,
    /// By `==` (maps, whose `Debug` order varies).
    Eq,
}

fuzz_target!(|data: &[u8]| {
    let Some((&case, raw)) = data.split_first() else {
        return;
    };
    run(case, raw);
});

/// Decodes `raw` as `T` from `ty`, directly and through a Record, and re-encodes it.
fn owned<T>(ty: &Type, raw: &[u8], same: Same)
where
    T: for<'r> Decode<'r> + Encode + Debug + PartialEq,
{
    let record = record_of(ty, raw);
    let same_value: fn(&T, &T) -> bool = match same {
        Same::Debug => same_debug,
        Same::Eq => |a, b| a == b,
    };
    let Ok(value) = borrowed::<T>(ty, &record, same_value) else {
        return;
    };
    let ty = ty.base_type();
    let mut buf = BytesMut::new();
    match value.encode(ty, &mut buf) {
        Ok(IsNull::No) => {}
        // A value the server could not have sent (a NUL in an hstore key, a record with no
        // type to write) may be refused on the way back; that is not a decode bug.
        Ok(IsNull::Yes) | Err(_) => return,
    }
    let again = T::decode(ty, &buf)
        .unwrap_or_else(|e| panic!("{value:?} encoded as {ty} ({buf:?}) does not decode: {e}"));
    match same {
        Same::Debug => assert_eq!(
            format!("{value:?}"),
            format!("{again:?}"),
            "{ty} round trip"
        ),
        Same::Eq => assert!(value == again, "{ty} round trip: {value:?} != {again:?}"),
    }
}

/// A Record of one column of type `ty` holding `raw`, built as the connection builds one.
fn record_of(ty: &Type, raw: &[u8]) -> Record {
    __fuzz::record(data_row(raw), __fuzz::columns_of(std::slice::from_ref(ty)))
}

/// Decodes the record's value as `T` directly and through `Record::try_get`; both must agree
/// (compared as `same` says).
fn borrowed<'r, T: Decode<'r> + Debug>(
    ty: &Type,
    record: &'r Record,
    same: fn(&T, &T) -> bool,
) -> Result<T, String> {
    // A domain's values travel as its base type's, which is what a Record decodes.
    let base = ty.base_type();
    assert!(
        T::accepts(base),
        "{} should accept {ty}",
        T::rust_type_name()
    );
    let raw = record.raw(0).expect("the value is not NULL");
    let direct = T::decode(base, raw).map_err(|e| e.to_string());
    let via_record = record.try_get::<T>(0);
    match (&direct, &via_record) {
        (Ok(a), Ok(b)) => assert!(same(a, b), "Record decodes {ty} as {b:?}, directly {a:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("direct {direct:?} and Record {via_record:?} disagree for {ty}"),
    }
    direct
}

/// Equal by `Debug` text: NaN equals NaN, -0.0 differs from 0.0.
fn same_debug<T: Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// A DataRow with one field holding `raw`, parsed as the connection parses it.
fn data_row(raw: &[u8]) -> pgtusk::protocol::backend::DataRow {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"D");
    buf.extend_from_slice(&(4 + 2 + 4 + raw.len() as i32).to_be_bytes());
    buf.extend_from_slice(&1i16.to_be_bytes());
    buf.extend_from_slice(&(raw.len() as i32).to_be_bytes());
    buf.extend_from_slice(raw);
    match parse_message(&mut buf, usize::MAX) {
        Ok(Some(Message::DataRow(row))) => row,
        other => panic!("a one-field DataRow did not parse: {other:?}"),
    }
}

fn custom(oid: u32, name: &str, kind: Kind) -> Type {
    Type::custom(CustomType {
        oid,
        name: name.to_owned(),
        schema: "public".to_owned(),
        kind,
    })
}

/// `CREATE TYPE pair AS (a int4, b text)`.
fn pair() -> Type {
    custom(
        70_001,
        "pair",
        Kind::Composite(vec![
            Field {
                name: "a".to_owned(),
                ty: Type::INT4,
            },
            Field {
                name: "b".to_owned(),
                ty: Type::TEXT,
            },
        ]),
    )
}

/// Reads an anonymous record field by field, as a hand-written `Decode` would.
fn composite_fields(raw: &[u8]) {
    let ty = Type::RECORD;
    let Ok(mut reader) = CompositeReader::new(&ty, raw) else {
        return;
    };
    let count = reader.len();
    for _ in 0..count {
        if reader.read::<Option<String>>().is_err() {
            return;
        }
    }
    assert_eq!(reader.remaining(), 0);
    let _ = reader.finish();
}

fn run(case: u8, raw: &[u8]) {
    use Same::{Debug as D, Eq as E};
    match case % 64 {
        0 => owned::<bool>(&Type::BOOL, raw, D),
        1 => owned::<i16>(&Type::INT2, raw, D),
        2 => owned::<i32>(&Type::INT4, raw, D),
        3 => owned::<i64>(&Type::INT8, raw, D),
        4 => owned::<u32>(&Type::OID, raw, D),
        5 => owned::<f32>(&Type::FLOAT4, raw, D),
        6 => owned::<f64>(&Type::FLOAT8, raw, D),
        7 => owned::<i8>(&Type::CHAR, raw, D),
        8 => owned::<u64>(&Type::XID8, raw, D),
        9 => owned::<String>(&Type::TEXT, raw, D),
        10 => drop(borrowed::<&str>(
            &Type::VARCHAR,
            &record_of(&Type::VARCHAR, raw),
            same_debug,
        )),
        11 => owned::<Vec<u8>>(&Type::BYTEA, raw, D),
        12 => owned::<String>(&Type::NUMERIC, raw, D),
        13 => owned::<Decimal>(&Type::NUMERIC, raw, D),
        14 => owned::<String>(&Type::JSONB, raw, D),
        15 => owned::<Value>(&Type::JSONB, raw, D),
        16 => owned::<Value>(&Type::JSON, raw, D),
        17 => drop(borrowed::<&RawValue>(
            &Type::JSON,
            &record_of(&Type::JSON, raw),
            same_debug,
        )),
        18 => drop(borrowed::<Box<RawValue>>(
            &Type::JSONB,
            &record_of(&Type::JSONB, raw),
            same_debug,
        )),
        19 => owned::<uuid::Uuid>(&Type::UUID, raw, D),
        20 => owned::<NaiveDate>(&Type::DATE, raw, D),
        21 => owned::<NaiveTime>(&Type::TIME, raw, D),
        22 => owned::<TimeTz>(&Type::TIMETZ, raw, D),
        23 => owned::<NaiveDateTime>(&Type::TIMESTAMP, raw, D),
        24 => owned::<DateTime<Utc>>(&Type::TIMESTAMPTZ, raw, D),
        25 => owned::<DateTime<FixedOffset>>(&Type::TIMESTAMPTZ, raw, D),
        26 => owned::<MaybeInfinite<NaiveDate>>(&Type::DATE, raw, D),
        27 => owned::<MaybeInfinite<DateTime<Utc>>>(&Type::TIMESTAMPTZ, raw, D),
        28 => owned::<Interval>(&Type::INTERVAL, raw, D),
        29 => owned::<IpNetwork>(&Type::INET, raw, D),
        30 => owned::<IpNetwork>(&Type::CIDR, raw, D),
        31 => owned::<IpAddr>(&Type::INET, raw, D),
        32 => owned::<MacAddr>(&Type::MACADDR, raw, D),
        33 => owned::<MacAddr8>(&Type::MACADDR8, raw, D),
        34 => owned::<Bits>(&Type::BIT, raw, D),
        35 => owned::<Bits>(&Type::VARBIT, raw, D),
        36 => owned::<Money>(&Type::MONEY, raw, D),
        37 => owned::<Point>(&Type::POINT, raw, D),
        38 => owned::<LineSegment>(&Type::LSEG, raw, D),
        39 => owned::<PgBox>(&Type::BOX, raw, D),
        40 => owned::<Path>(&Type::PATH, raw, D),
        41 => owned::<Polygon>(&Type::POLYGON, raw, D),
        42 => owned::<Circle>(&Type::CIRCLE, raw, D),
        43 => owned::<Line>(&Type::LINE, raw, D),
        44 => owned::<PgLsn>(&Type::PG_LSN, raw, D),
        45 => owned::<Vec<i32>>(&Type::INT4_ARRAY, raw, D),
        46 => owned::<Vec<Option<String>>>(&Type::TEXT_ARRAY, raw, D),
        47 => owned::<Array<i64>>(&Type::INT8_ARRAY, raw, D),
        48 => owned::<Array<Option<String>>>(&Type::NUMERIC_ARRAY, raw, D),
        49 => owned::<Range<i32>>(&Type::INT4RANGE, raw, D),
        50 => owned::<Range<i64>>(&Type::INT8RANGE, raw, D),
        51 => owned::<Range<String>>(&Type::NUMRANGE, raw, D),
        52 => owned::<Range<NaiveDate>>(&Type::DATERANGE, raw, D),
        53 => owned::<Range<DateTime<Utc>>>(&Type::TSTZRANGE, raw, D),
        54 => owned::<Multirange<i32>>(&Type::INT4MULTIRANGE, raw, D),
        55 => owned::<Multirange<String>>(&Type::NUMMULTIRANGE, raw, D),
        56 => owned::<Vec<Range<i32>>>(&Type::INT4RANGE_ARRAY, raw, D),
        57 => {
            drop(borrowed::<(i32, String, Vec<i32>)>(
                &Type::RECORD,
                &record_of(&Type::RECORD, raw),
                same_debug,
            ));
            composite_fields(raw);
        }
        58 => drop(borrowed::<Vec<(i32, Option<String>)>>(
            &Type::RECORD_ARRAY,
            &record_of(&Type::RECORD_ARRAY, raw),
            same_debug,
        )),
        59 => owned::<(i32, Option<String>)>(&pair(), raw, D),
        60 => owned::<Vec<(i32, Option<String>)>>(
            &custom(70_002, "_pair", Kind::Array(pair())),
            raw,
            D,
        ),
        61 => owned::<Hstore>(&custom(70_003, "hstore", Kind::Simple), raw, E),
        62 => owned::<i32>(
            &custom(70_004, "positive", Kind::Domain(Type::INT4)),
            raw,
            D,
        ),
        _ => owned::<String>(
            &custom(
                70_005,
                "mood",
                Kind::Enum(vec!["sad".to_owned(), "ok".to_owned()]),
            ),
            raw,
            D,
        ),
    }
}
