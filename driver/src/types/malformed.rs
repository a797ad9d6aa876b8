//! Malformed binary from the server is an error, never a panic: every decoder is fed
//! truncated, oversized and random bytes.

use super::*;

/// Deterministic bytes (xorshift), so a failure reproduces.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Decodes many malformed inputs; panics are the failure, errors are expected.
macro_rules! survives {
    ($rust:ty, $ty:expr, $valid:expr) => {{
        let ty: Type = $ty;
        assert!(
            <$rust as Decode<'_>>::accepts(&ty),
            "{} should accept {ty}",
            stringify!($rust)
        );
        check_inputs(&ty, $valid, stringify!($rust), |ty, raw| {
            <$rust as Decode<'_>>::decode(ty, raw).is_ok()
        });
    }};
}

fn check_inputs(ty: &Type, valid: &[u8], rust: &str, decode: impl Fn(&Type, &[u8]) -> bool) {
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for len in 0..valid.len() {
        inputs.push(valid[..len].to_vec());
    }
    let mut longer = valid.to_vec();
    longer.extend_from_slice(&[0xFF; 9]);
    inputs.push(longer);
    for seed in 0..400u64 {
        inputs.push(noise(seed, (seed % 48) as usize));
        // The valid value with one byte flipped to an extreme.
        let mut flipped = valid.to_vec();
        if !flipped.is_empty() {
            let i = seed as usize % flipped.len();
            flipped[i] = if seed % 2 == 0 { 0xFF } else { 0x80 };
            inputs.push(flipped);
        }
    }
    for raw in &inputs {
        decode(ty, raw);
    }
    assert!(decode(ty, valid), "{rust} from {ty}");
}

#[test]
fn every_decoder_survives_malformed_input() {
    // numeric 12.5: ndigits 2, weight 0, +, dscale 1, digits 12, 5000
    survives!(
        String,
        Type::NUMERIC,
        &[0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88]
    );
    #[cfg(feature = "decimal")]
    survives!(
        rust_decimal::Decimal,
        Type::NUMERIC,
        &[0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88]
    );
    survives!(String, Type::JSONB, b"\x01{}");
    #[cfg(feature = "json")]
    {
        survives!(serde_json::Value, Type::JSONB, b"\x01{\"a\": [1]}");
        survives!(&serde_json::value::RawValue, Type::JSON, b"[1]");
    }
    #[cfg(feature = "uuid")]
    survives!(::uuid::Uuid, Type::UUID, &[7; 16]);
    #[cfg(feature = "chrono")]
    {
        survives!(chrono::NaiveDate, Type::DATE, &[0, 0, 1, 0]);
        survives!(chrono::NaiveTime, Type::TIME, &[0, 0, 0, 1, 0, 0, 0, 0]);
        survives!(
            TimeTz,
            Type::TIMETZ,
            &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x0e, 0x10]
        );
        survives!(
            chrono::NaiveDateTime,
            Type::TIMESTAMP,
            &[0, 0, 0, 1, 0, 0, 0, 0]
        );
        survives!(
            chrono::DateTime<chrono::Utc>,
            Type::TIMESTAMPTZ,
            &[0, 0, 0, 1, 0, 0, 0, 0]
        );
        survives!(
            MaybeInfinite<chrono::NaiveDate>,
            Type::DATE,
            &[0x7F, 0xFF, 0xFF, 0xFF]
        );
    }
    survives!(
        Interval,
        Type::INTERVAL,
        &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
    );
    survives!(IpNetwork, Type::INET, &[2, 24, 0, 4, 10, 0, 0, 1]);
    survives!(
        std::net::IpAddr,
        Type::CIDR,
        &[
            3, 128, 1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
        ]
    );
    survives!(MacAddr, Type::MACADDR, &[1, 2, 3, 4, 5, 6]);
    survives!(MacAddr8, Type::MACADDR8, &[1, 2, 3, 4, 5, 6, 7, 8]);
    survives!(Bits, Type::VARBIT, &[0, 0, 0, 9, 0xFF, 0x80]);
    survives!(Money, Type::MONEY, &[0, 0, 0, 0, 0, 0, 0, 100]);
    survives!(PgLsn, Type::PG_LSN, &[0, 0, 0, 1, 0, 0, 0, 2]);
    survives!(u64, Type::XID8, &[0, 0, 0, 1, 0, 0, 0, 2]);
    let point = [0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0];
    survives!(Point, Type::POINT, &point);
    survives!(Circle, Type::CIRCLE, &[&point[..], &point[..8]].concat());
    survives!(LineSegment, Type::LSEG, &[point, point].concat());
    survives!(PgBox, Type::BOX, &[point, point].concat());
    survives!(Line, Type::LINE, &[&point[..], &point[..8]].concat());
    survives!(
        Path,
        Type::PATH,
        &[&[1, 0, 0, 0, 2][..], &point, &point].concat()
    );
    survives!(
        Polygon,
        Type::POLYGON,
        &[&[0, 0, 0, 1][..], &point].concat()
    );
}

#[test]
fn impossible_lengths_are_refused_before_allocating() {
    // A path announcing 2^31-1 points with none following.
    let err = Path::decode(&Type::PATH, &[0, 0x7F, 0xFF, 0xFF, 0xFF]).unwrap_err();
    assert!(err.to_string().contains("points announced"), "{err}");
    let err = Bits::decode(&Type::VARBIT, &[0x7F, 0xFF, 0xFF, 0xFF]).unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
    let err = String::decode(&Type::NUMERIC, &[0x7F, 0xFF, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert!(err.to_string().contains("digits announced"), "{err}");
    let err = IpNetwork::decode(&Type::INET, &[2, 33, 0, 4, 1, 2, 3, 4]).unwrap_err();
    assert!(err.to_string().contains("/33"), "{err}");
    let err = String::decode(&Type::JSONB, b"\x02{}").unwrap_err();
    assert!(err.to_string().contains("version 2"), "{err}");
}

/// The container codecs (arrays, ranges, multiranges, records) survive the same inputs.
#[test]
fn container_decoders_survive_malformed_input() {
    fn encoded<T: Encode>(value: T, ty: &Type) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        value.encode(ty, &mut buf).unwrap();
        buf.to_vec()
    }
    let array = encoded(
        Array::new(
            vec![
                Dimension {
                    len: 2,
                    lower_bound: 0,
                },
                Dimension {
                    len: 1,
                    lower_bound: 1,
                },
            ],
            vec![Some(1i32), None],
        )
        .unwrap(),
        &Type::INT4_ARRAY,
    );
    survives!(Array<Option<i32>>, Type::INT4_ARRAY, &array);
    let texts = encoded(vec![Some("a"), None, Some("bc")], &Type::TEXT_ARRAY);
    survives!(Vec<Option<&str>>, Type::TEXT_ARRAY, &texts);
    survives!(Vec<Option<String>>, Type::TEXT_ARRAY, &texts);
    let range = encoded(
        Range::new(std::ops::Bound::Included(1i64), std::ops::Bound::Unbounded),
        &Type::INT8RANGE,
    );
    survives!(Range<i64>, Type::INT8RANGE, &range);
    let multirange = encoded(
        Multirange(vec![
            Range::new(
                std::ops::Bound::Excluded(1i32),
                std::ops::Bound::Included(4),
            ),
            Range::new(std::ops::Bound::Included(9), std::ops::Bound::Unbounded),
        ]),
        &Type::INT4MULTIRANGE,
    );
    survives!(Multirange<i32>, Type::INT4MULTIRANGE, &multirange);
    // ROW(7, 'hi', ARRAY[1]) as an anonymous record.
    let mut record = vec![0, 0, 0, 3, 0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 7];
    record.extend_from_slice(&[0, 0, 0, 25, 0, 0, 0, 2, b'h', b'i', 0, 0, 0x03, 0xEF]);
    let one = encoded(vec![1i32], &Type::INT4_ARRAY);
    record.extend_from_slice(&(one.len() as i32).to_be_bytes());
    record.extend_from_slice(&one);
    survives!((i32, String, Vec<i32>), Type::RECORD, &record);
    survives!(
        Vec<(i32, String, Vec<i32>)>,
        Type::RECORD_ARRAY,
        &encoded_records(&record)
    );
}

/// A one-element record[] around one encoded record.
fn encoded_records(record: &[u8]) -> Vec<u8> {
    let mut out = vec![
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x08, 0xC9, 0, 0, 0, 1, 0, 0, 0, 1,
    ];
    out.extend_from_slice(&(record.len() as i32).to_be_bytes());
    out.extend_from_slice(record);
    out
}
