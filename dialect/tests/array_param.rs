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
    assert!(name(Value::Int(None)).contains("Option<pgtusk_dialect::params::WideInt>"));
    assert!(name(Value::String(None)).contains("Option<alloc::string::String>"));
    assert!(name(Value::Uuid(None)).contains("Uuid"));
    // And the driver's type check sees the real type.
    assert!(param(Value::Int(None)).unwrap().accepts_dyn(&Type::INT4));
    assert!(param(Value::Int(None)).unwrap().accepts_dyn(&Type::INT8));
    assert!(!param(Value::String(None)).unwrap().accepts_dyn(&Type::INT4));
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

#[tokio::test]
async fn integers_widen_to_the_asked_type_and_refuse_what_does_not_fit() {
    let mut conn = common::connect().await;
    let p = param(Value::Int(Some(5))).unwrap();
    for ty in ["int2", "int4", "int8", "numeric"] {
        let row = conn
            .fetch_one(&format!("SELECT ($1::{ty})::text"), &[p.as_ref()])
            .await
            .unwrap_or_else(|e| panic!("{ty}: {e}"));
        assert_eq!(row.get::<String>(0), "5", "{ty}");
    }
    let big = param(Value::BigUnsigned(Some(u64::MAX))).unwrap();
    let err = conn
        .fetch_one("SELECT $1::int8", &[big.as_ref()])
        .await
        .unwrap_err();
    assert!(matches!(err, pgtusk::Error::Encode(_)), "{err}");
    assert!(err.to_string().contains("out of range for int8"), "{err}");
    // The connection is still usable.
    let row = conn
        .fetch_one("SELECT $1::numeric::text", &[big.as_ref()])
        .await
        .unwrap();
    assert_eq!(row.get::<String>(0), u64::MAX.to_string());
}

/// The server asks for an array of a domain (`$1::dom[]`): the elements travel as the base type.
#[tokio::test]
async fn arrays_of_a_domain_encode_as_its_base_type() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "DO $$ BEGIN CREATE DOMAIN tusk_array_item AS char(2);
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .await
    .unwrap();
    let list = Value::Array(
        pgtusk_dialect::sea_query::ArrayType::String,
        Some(Box::new(vec!["a".into(), Value::String(None), "bc".into()])),
    );
    let p = param(list).unwrap();
    let row = conn
        .fetch_one("SELECT $1::tusk_array_item[]::text", &[p.as_ref()])
        .await
        .unwrap();
    assert_eq!(row.get::<String>(0), r#"{"a ",NULL,bc}"#);
}
