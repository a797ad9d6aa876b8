//! The dialect's array parameter: its binary form is byte for byte what the server's own
//! `array_send` writes, and its text form reads back as the same array.

mod common;

use bytes::BytesMut;
use pgtusk::Encode;
use pgtusk::types::{CustomType, IsNull, Kind, Type};
use pgtusk_dialect::params::{PgArray, param};
use pgtusk_dialect::sea_query::Value;

/// An array type the driver would send in binary (as it will once arrays get a binary codec).
fn binary_array_of(elem: Type, oid: u32, name: &str) -> Type {
    Type::custom(CustomType {
        oid,
        name: name.into(),
        schema: "pg_catalog".into(),
        kind: Kind::Array(elem),
    })
}

fn encode(value: &impl Encode, ty: &Type) -> Vec<u8> {
    let mut buf = BytesMut::new();
    assert_eq!(value.encode(ty, &mut buf).unwrap(), IsNull::No);
    buf.to_vec()
}

#[tokio::test]
async fn binary_form_matches_array_send() {
    let mut conn = common::connect().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "'{1,NULL,-3}'::int4[]",
            encode(
                &PgArray(vec![Some(1i32), None, Some(-3)]),
                &binary_array_of(Type::INT4, 1007, "_int4"),
            ),
        ),
        (
            "'{}'::int8[]",
            encode(
                &PgArray::<i64>(vec![]),
                &binary_array_of(Type::INT8, 1016, "_int8"),
            ),
        ),
        (
            "'{\"a b\",\"\"}'::text[]",
            encode(
                &PgArray(vec![Some("a b".to_owned()), Some(String::new())]),
                &binary_array_of(Type::TEXT, 1009, "_text"),
            ),
        ),
    ];
    for (literal, ours) in cases {
        let row = conn
            .fetch_one(&format!("SELECT array_send({literal})"), &[])
            .await
            .unwrap();
        let theirs: Vec<u8> = row.get(0);
        assert_eq!(ours, theirs, "{literal}");
    }
}

#[test]
fn nulls_are_typed() {
    let name = |v: Value| param(v).unwrap().rust_type_name();
    assert!(name(Value::Int(None)).contains("Option<i32>"));
    assert!(name(Value::TinyUnsigned(None)).contains("Option<i16>"));
    assert!(name(Value::BigUnsigned(None)).contains("Decimal"));
    assert!(name(Value::String(None)).contains("String"));
    // And the driver's type check sees the real type.
    assert!(param(Value::Int(None)).unwrap().accepts_dyn(&Type::INT4));
    assert!(!param(Value::Int(None)).unwrap().accepts_dyn(&Type::TEXT));
    assert!(
        param(Value::Array(
            pgtusk_dialect::sea_query::ArrayType::Int,
            None
        ))
        .unwrap()
        .accepts_dyn(&Type::INT4_ARRAY)
    );
}
