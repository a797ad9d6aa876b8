//! The rewrite on strings: what it changes, and everything it leaves alone.

use sea_query::{ArrayType, Value, Values};

use super::rewrite;

fn ints(n: i32) -> Values {
    Values((1..=n).map(|i| Value::Int(Some(i))).collect())
}

fn strings(n: usize) -> Values {
    Values(
        (0..n)
            .map(|i| Value::String(Some(format!("s{i}"))))
            .collect(),
    )
}

/// The rewritten SQL.
fn sql(sql: &str, values: Values) -> String {
    rewrite(sql, values).0
}

/// Asserts `sql` passes unchanged, values included.
fn unchanged(sql: &str, values: Values) {
    let (out, v) = rewrite(sql, values.clone());
    assert_eq!(out, sql);
    assert_eq!(v, values);
}

#[test]
fn in_list_becomes_any_and_later_placeholders_are_renumbered() {
    let (out, values) = rewrite(
        r#"SELECT "a" FROM "t" WHERE "b" = $1 AND "id" IN ($2, $3, $4) AND "c" NOT IN ($5, $6) AND "d" = $7"#,
        ints(7),
    );
    assert_eq!(
        out,
        r#"SELECT "a" FROM "t" WHERE "b" = $1 AND "id" = ANY($2) AND "c" <> ALL($3) AND "d" = $4"#
    );
    assert_eq!(
        values.0,
        [
            Value::Int(Some(1)),
            Value::Array(
                ArrayType::Int,
                Some(Box::new(vec![
                    Value::Int(Some(2)),
                    Value::Int(Some(3)),
                    Value::Int(Some(4))
                ]))
            ),
            Value::Array(
                ArrayType::Int,
                Some(Box::new(vec![Value::Int(Some(5)), Value::Int(Some(6))]))
            ),
            Value::Int(Some(7)),
        ]
    );
}

#[test]
fn lists_with_nulls_and_one_item() {
    let values = Values(vec![Value::Int(Some(1)), Value::Int(None)]);
    let (out, v) = rewrite(r#"SELECT 1 WHERE "x" IN ($1, $2)"#, values);
    assert_eq!(out, r#"SELECT 1 WHERE "x" = ANY($1)"#);
    assert_eq!(
        v.0,
        [Value::Array(
            ArrayType::Int,
            Some(Box::new(vec![Value::Int(Some(1)), Value::Int(None)]))
        )]
    );
    assert_eq!(
        sql(r#"SELECT 1 WHERE "x" IN ($1)"#, strings(1)),
        r#"SELECT 1 WHERE "x" = ANY($1)"#
    );
}

#[test]
fn enum_casts_move_onto_the_array() {
    let values = Values(vec![
        Value::String(Some("happy".into())),
        Value::String(Some("sad".into())),
    ]);
    assert_eq!(
        sql(
            r#"SELECT 1 WHERE "m" IN (CAST($1 AS "mood"), CAST($2 AS "mood"))"#,
            values.clone()
        ),
        r#"SELECT 1 WHERE "m" = ANY(CAST($1 AS "mood"[]))"#
    );
    assert_eq!(
        sql(
            r#"SELECT 1 WHERE "m" NOT IN ($1::"mood", $2::"mood")"#,
            values.clone()
        ),
        r#"SELECT 1 WHERE "m" <> ALL($1::"mood"[])"#
    );
    assert_eq!(
        sql(
            r#"SELECT 1 WHERE "m" IN (CAST($1 AS "s"."mood"), CAST($2 AS "s"."mood"))"#,
            values.clone()
        ),
        r#"SELECT 1 WHERE "m" = ANY(CAST($1 AS "s"."mood"[]))"#
    );
    // Two types, or a cast and none: unchanged.
    unchanged(
        r#"SELECT 1 WHERE "m" IN (CAST($1 AS "mood"), CAST($2 AS "feel"))"#,
        values.clone(),
    );
    unchanged(
        r#"SELECT 1 WHERE "m" IN (CAST($1 AS "mood"), $2)"#,
        values.clone(),
    );
    unchanged(
        r#"SELECT 1 WHERE "m" IN ($1::varchar(5), $2::varchar(5))"#,
        values,
    );
}

#[test]
fn left_operands_of_every_shape() {
    for (left, want) in [
        (r#""t"."c""#, r#""t"."c""#),
        (r#"LOWER("c")"#, r#"LOWER("c")"#),
        (r#""s"."f"("c", 1)"#, r#""s"."f"("c", 1)"#),
        (r#""c"::int8"#, r#""c"::int8"#),
        (r#""a" + "b" * 2"#, r#""a" + "b" * 2"#),
        (r#""j" ->> 'k'"#, r#""j" ->> 'k'"#),
        (r#"- "c""#, r#"- "c""#),
        (r#""arr"[1]"#, r#""arr"[1]"#),
        (r#"("a" + 1)"#, r#"("a" + 1)"#),
        (r#"CAST("c" AS int8)"#, r#"CAST("c" AS int8)"#),
        ("$1", "$1"),
    ] {
        let values = if left == "$1" { ints(3) } else { ints(2) };
        let first = if left == "$1" { 2 } else { 1 };
        let input = format!("SELECT 1 FROM t WHERE {left} IN (${first}, ${})", first + 1);
        let k = first;
        assert_eq!(
            sql(&input, values),
            format!("SELECT 1 FROM t WHERE {want} = ANY(${k})"),
            "{left}"
        );
    }
}

#[test]
fn parentheses_where_precedence_needs_them() {
    // `IN` binds tighter than `=`: next to a comparison the new `=` goes in parentheses.
    assert_eq!(
        sql(r#"SELECT "a" = "b" IN ($1, $2)"#, ints(2)),
        r#"SELECT "a" = ("b" = ANY($1))"#
    );
    assert_eq!(
        sql(r#"SELECT "b" IN ($1, $2) = TRUE"#, ints(2)),
        r#"SELECT ("b" = ANY($1)) = TRUE"#
    );
    assert_eq!(
        sql(
            r#"SELECT CASE WHEN "id" IN ($1, $2)=TRUE THEN 0 ELSE 1 END"#,
            ints(2)
        ),
        r#"SELECT CASE WHEN ("id" = ANY($1))=TRUE THEN 0 ELSE 1 END"#
    );
    assert_eq!(
        sql(r#"UPDATE "t" SET "f" = "x" IN ($1, $2)"#, ints(2)),
        r#"UPDATE "t" SET "f" = ("x" = ANY($1))"#
    );
    // Looser neighbours: as it stands.
    assert_eq!(
        sql(
            r#"SELECT ("x" IN ($1) OR NOT "y" IN ($2)) AND "z" IN ($3) IS NULL"#,
            ints(3)
        ),
        r#"SELECT ("x" = ANY($1) OR NOT "y" = ANY($2)) AND "z" = ANY($3) IS NULL"#
    );
    assert_eq!(
        sql(
            r#"SELECT "x" IN ($1) AS "r" FROM t ORDER BY "x" IN ($2) DESC"#,
            ints(2)
        ),
        r#"SELECT "x" = ANY($1) AS "r" FROM t ORDER BY "x" = ANY($2) DESC"#
    );
}

#[test]
fn unclear_left_operands_keep_in() {
    for sql in [
        r#"SELECT "x" IS NOT TRUE IN ($1, $2)"#,
        r#"SELECT "a" BETWEEN 1 AND "x" IN ($1, $2)"#,
        r#"SELECT "a" LIKE "x" IN ($1, $2)"#,
        r#"SELECT CASE WHEN "a" THEN 1 END IN ($1, $2)"#,
        r#"SELECT count(*) OVER (ORDER BY "a") IN ($1, $2)"#,
        r#"SELECT "x" COLLATE "C" IN ($1, $2)"#,
        r#"SELECT position("x" IN ($1, $2))"#,
        r#"SELECT ("a", "b") IN ($1, $2)"#,
    ] {
        unchanged(sql, ints(2));
    }
    // `AND` after a finished `BETWEEN` is the boolean one.
    assert_eq!(
        sql(
            r#"SELECT 1 WHERE "a" BETWEEN 1 AND 2 AND "x" IN ($1, $2)"#,
            ints(2)
        ),
        r#"SELECT 1 WHERE "a" BETWEEN 1 AND 2 AND "x" = ANY($1)"#
    );
}

#[test]
fn lists_that_are_not_all_placeholders_of_one_variant_stay() {
    unchanged(r#"SELECT 1 WHERE "x" IN ($1, "y")"#, ints(1));
    unchanged(r#"SELECT 1 WHERE "x" IN ($1, 2)"#, ints(1));
    unchanged(r#"SELECT 1 WHERE "x" IN (SELECT $1)"#, ints(1));
    unchanged(r#"SELECT 1 WHERE "x" IN ($1 + 1, $2)"#, ints(2));
    unchanged(
        r#"SELECT 1 WHERE "x" IN ($1, $2)"#,
        Values(vec![Value::Int(Some(1)), Value::BigInt(Some(2))]),
    );
    unchanged(
        r#"SELECT 1 WHERE "x" IN ($1, $2)"#,
        Values(vec![Value::Int(Some(1)), Value::String(None)]),
    );
    unchanged(
        r#"SELECT 1 WHERE "x" IN ($1)"#,
        Values(vec![Value::Array(
            ArrayType::Int,
            Some(Box::new(vec![Value::Int(Some(1))])),
        )]),
    );
}

#[test]
fn literals_identifiers_dollar_quotes_and_comments_are_not_code() {
    let values = ints(2);
    for sql in [
        "SELECT 'x IN ($1, $2)', $1, $2",
        "SELECT E'\\' IN ($1, $2)', $1, $2",
        r#"SELECT "x IN ($1, $2)", $1, $2"#,
        "SELECT $$ x IN ($1, $2) $$, $1, $2",
        "SELECT $f$ x IN ($1, $2) $f$, $1, $2",
        "SELECT 1 -- x IN ($1, $2)\n, $1, $2",
        "SELECT /* x /* IN */ ($1, $2) */ $1, $2",
    ] {
        unchanged(sql, values.clone());
    }
    assert_eq!(
        sql(
            "SELECT 'a''b IN ($9)' /* $9 */ WHERE x IN ($1, $2) -- $3",
            values
        ),
        "SELECT 'a''b IN ($9)' /* $9 */ WHERE x = ANY($1) -- $3"
    );
}

#[test]
fn placeholders_not_numbered_in_order_pass_unchanged() {
    unchanged("SELECT 1 WHERE x IN ($2, $1)", ints(2));
    unchanged("SELECT 1 WHERE x IN ($1, $1)", ints(1));
    unchanged("SELECT 1 WHERE x IN ($1, $2)", ints(3));
    unchanged("SELECT 1 WHERE x IN ($1, $2) AND 'open", ints(2));
    unchanged("SELECT 1 WHERE x IN ($1, $2", ints(2));
    unchanged("SELECT 1 WHERE x IN ($1, $2); SELECT 2", ints(2));
    unchanged("SELECT 1 WHERE x IN (1, 2)", Values(Vec::new()));
}

#[test]
fn row_lists_become_unnest_of_typed_arrays() {
    let uuid = uuid::Uuid::nil();
    let values = Values(vec![
        Value::Int(Some(1)),
        Value::Uuid(Some(uuid)),
        Value::Int(Some(2)),
        Value::Uuid(None),
        Value::BigInt(Some(7)),
    ]);
    let (out, v) = rewrite(
        r#"SELECT 1 FROM "t" WHERE ("t"."a", "t"."b") IN (($1, $2), ($3, $4)) AND "c" = $5"#,
        values,
    );
    assert_eq!(
        out,
        r#"SELECT 1 FROM "t" WHERE ("t"."a", "t"."b") IN (SELECT * FROM unnest($1::int4[], $2::uuid[])) AND "c" = $3"#
    );
    assert_eq!(
        v.0,
        [
            Value::Array(
                ArrayType::Int,
                Some(Box::new(vec![Value::Int(Some(1)), Value::Int(Some(2))]))
            ),
            Value::Array(
                ArrayType::Uuid,
                Some(Box::new(vec![Value::Uuid(Some(uuid)), Value::Uuid(None)]))
            ),
            Value::BigInt(Some(7)),
        ]
    );
    // Enum casts, NOT IN.
    let values = Values(vec![
        Value::Int(Some(1)),
        Value::String(Some("ok".into())),
        Value::Int(Some(2)),
        Value::String(Some("sad".into())),
    ]);
    assert_eq!(
        sql(
            r#"SELECT 1 WHERE ("a", "m") NOT IN (($1, CAST($2 AS "mood")), ($3, CAST($4 AS "mood")))"#,
            values.clone()
        ),
        r#"SELECT 1 WHERE ("a", "m") NOT IN (SELECT * FROM unnest($1::int4[], CAST($2 AS "mood"[])))"#
    );
    // A position of plain strings: unchanged.
    unchanged(
        r#"SELECT 1 WHERE ("a", "m") IN (($1, $2), ($3, $4))"#,
        values.clone(),
    );
    // One-element rows, as sea-orm's loader writes a one-column key list: a plain list.
    assert_eq!(
        sql(
            r#"SELECT 1 FROM "t" WHERE ("t"."a") IN (($1), ($2), ($3)) AND "c" = $4"#,
            ints(4)
        ),
        r#"SELECT 1 FROM "t" WHERE ("t"."a") = ANY($1) AND "c" = $2"#
    );
    assert_eq!(
        sql(
            r#"SELECT 1 WHERE ("m") NOT IN ((CAST($1 AS "mood")), (CAST($2 AS "mood")))"#,
            strings(2)
        ),
        r#"SELECT 1 WHERE ("m") <> ALL(CAST($1 AS "mood"[]))"#
    );
    unchanged(r#"SELECT 1 WHERE ("a") IN (($1), $2)"#, ints(2));
    unchanged(r#"SELECT 1 WHERE ("a") IN (($1 + 1), ($2))"#, ints(2));
    unchanged(r#"SELECT 1 WHERE ("a") IN (($1), ($2),)"#, ints(2));
    // Rows of another width, a function's arguments on the left: unchanged.
    unchanged(r#"SELECT 1 WHERE ("a", "b") IN (($1, $2, $3))"#, ints(3));
    unchanged(r#"SELECT 1 WHERE f("a", "b") IN (($1, $2))"#, ints(2));
}

#[test]
fn multi_row_insert_becomes_unnest_of_column_typed_arrays() {
    let (out, v) = rewrite(
        r#"INSERT INTO "s"."t" ("a", "b") VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT ("a") DO UPDATE SET "b" = $7 WHERE "t"."a" IN ($8, $9) RETURNING "a""#,
        ints(9),
    );
    assert_eq!(
        out,
        r#"INSERT INTO "s"."t" ("a", "b") SELECT * FROM unnest(CASE WHEN false THEN ARRAY[(NULL::"s"."t")."a"] ELSE $1 END, CASE WHEN false THEN ARRAY[(NULL::"s"."t")."b"] ELSE $2 END) ON CONFLICT ("a") DO UPDATE SET "b" = $3 WHERE "t"."a" = ANY($4) RETURNING "a""#
    );
    let array = |items: &[i32]| {
        Value::Array(
            ArrayType::Int,
            Some(Box::new(
                items.iter().map(|&i| Value::Int(Some(i))).collect(),
            )),
        )
    };
    assert_eq!(
        v.0,
        [
            array(&[1, 3, 5]),
            array(&[2, 4, 6]),
            Value::Int(Some(7)),
            array(&[8, 9])
        ]
    );
    // Enum casts go onto the column's array.
    let values = Values(vec![
        Value::Int(Some(1)),
        Value::String(Some("ok".into())),
        Value::Int(Some(2)),
        Value::String(None),
    ]);
    assert_eq!(
        sql(
            r#"INSERT INTO "t" ("a", "m") VALUES ($1, CAST($2 AS "mood")), ($3, CAST($4 AS "mood"))"#,
            values
        ),
        r#"INSERT INTO "t" ("a", "m") SELECT * FROM unnest(CASE WHEN false THEN ARRAY[(NULL::"t")."a"] ELSE $1 END, CAST($2 AS "mood"[]))"#
    );
}

#[test]
fn inserts_that_stay() {
    // One row, DEFAULT, a literal, mixed variants in a column, no column list, array values,
    // something after the rows.
    unchanged(r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2)"#, ints(2));
    unchanged(
        r#"INSERT INTO "t" ("a", "b") VALUES ($1, DEFAULT), ($2, $3)"#,
        ints(3),
    );
    unchanged(
        r#"INSERT INTO "t" ("a", "b") VALUES ($1, 1), ($2, $3)"#,
        ints(3),
    );
    unchanged(
        r#"INSERT INTO "t" ("a") VALUES ($1), ($2)"#,
        Values(vec![Value::Int(Some(1)), Value::BigInt(Some(2))]),
    );
    unchanged(r#"INSERT INTO "t" VALUES ($1), ($2)"#, ints(2));
    unchanged(
        r#"INSERT INTO "t" ("a") VALUES ($1), ($2)"#,
        Values(vec![
            Value::Array(ArrayType::Int, None),
            Value::Array(ArrayType::Int, None),
        ]),
    );
    unchanged(
        r#"INSERT INTO "t" ("a") VALUES ($1), ($2) UNION SELECT 1"#,
        ints(2),
    );
    unchanged(
        r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3)"#,
        ints(3),
    );
}

#[test]
fn with_clause_before_insert() {
    assert_eq!(
        sql(
            r#"WITH "c" AS (SELECT $1 AS "x") INSERT INTO "t" ("a") VALUES ($2), ($3)"#,
            ints(3)
        ),
        r#"WITH "c" AS (SELECT $1 AS "x") INSERT INTO "t" ("a") SELECT * FROM unnest(CASE WHEN false THEN ARRAY[(NULL::"t")."a"] ELSE $2 END)"#
    );
}

#[test]
fn output_of_the_dialect_builder_passes_unchanged() {
    unchanged(
        r#"SELECT "a" FROM "t" WHERE "id" = ANY($1::int4[]) AND "s" <> ALL($2)"#,
        Values(vec![
            Value::Array(ArrayType::Int, None),
            Value::Array(ArrayType::String, None),
        ]),
    );
}

#[test]
fn statements_without_in_or_values_skip_the_tokenizer() {
    use super::may_have_a_list;
    for sql in [
        "x IN (1)",
        "x in(1)",
        "x NOT IN\n\t(1)",
        "INSERT INTO t (a) VALUES ($1)",
        "insert into t(a) values($1)",
        "SELECT 'IN (' ",
    ] {
        assert!(may_have_a_list(sql), "{sql}");
    }
    for sql in [
        "SELECT 1",
        "SELECT min(x), join(y), \"in\" (z)",
        "SELECT $1 IN_(2)",
        "UPDATE t SET a = $1 WHERE id = $2",
        "SELECT x FROM t WHERE y IN \"t\"",
    ] {
        assert!(!may_have_a_list(sql), "{sql}");
    }
}

#[test]
fn enum_array_casts_are_not_lists_of_labels() {
    unchanged(
        r#"SELECT 1 WHERE "m" IN (CAST($1 AS "mood"[]), CAST($2 AS "mood"[]))"#,
        strings(2),
    );
    unchanged(
        r#"INSERT INTO "t" ("m") VALUES (CAST($1 AS "mood"[])), (CAST($2 AS "mood"[]))"#,
        strings(2),
    );
}

/// Random statements from pieces of the grammar the rewrite looks at, lists among them: it
/// never panics, and what it returns has placeholders `$1..$n` in order for its `n` values.
#[test]
fn random_statements_never_break_the_numbering() {
    const PIECES: &[&str] = &[
        " IN ",
        " NOT ",
        "(",
        ")",
        ", ",
        "$P",
        "'a'",
        "'I''N ($1)'",
        "\"c\"",
        "\"t\".\"c\"",
        "$$ $1 $$",
        "-- x\n",
        "/* $1 */",
        "::",
        "\"mood\"",
        "CAST(",
        " AS ",
        "VALUES ",
        " = ",
        " AND ",
        "SELECT ",
        " WHERE ",
        "[",
        "]",
        "E'\\''",
        "lower",
        " + ",
        "ON CONFLICT ",
        "RETURNING ",
        ";",
        "1",
        " IS ",
        " BETWEEN ",
        " \"x\" IN ($P, $P)",
        " \"x\" NOT IN ($P)",
        " (\"a\", \"b\") IN (($P, $P), ($P, $P))",
        " \"m\" IN (CAST($P AS \"mood\"), CAST($P AS \"mood\"))",
        "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($P, $P), ($P, $P)",
        "INSERT INTO \"t\" (\"a\") VALUES ($P::\"mood\"), ($P::\"mood\")",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut changed = 0;
    for _ in 0..20_000 {
        let mut sql = String::new();
        let mut params = 0;
        for _ in 0..next(12) + 1 {
            let mut parts = PIECES[next(PIECES.len())].split("$P");
            sql.push_str(parts.next().unwrap_or_default());
            for part in parts {
                params += 1;
                sql.push_str(&format!("${params}{part}"));
            }
        }
        let values = Values(
            (0..params)
                .map(|i| match next(8) {
                    0 => Value::Int(None),
                    1 => Value::String(Some(i.to_string())),
                    _ => Value::Int(Some(i)),
                })
                .collect(),
        );
        let (out, new) = rewrite(&sql, values.clone());
        if out == sql {
            assert_eq!(new, values, "{sql}");
            continue;
        }
        changed += 1;
        let tokens = super::tokenizer::tokenize(&out).expect("the output tokenizes");
        let numbers: Vec<u32> = tokens
            .iter()
            .filter_map(|t| match t.kind {
                super::tokenizer::Kind::Param(n) => Some(n),
                _ => None,
            })
            .collect();
        let want: Vec<u32> = (1..=new.0.len() as u32).collect();
        assert_eq!(numbers, want, "{sql}\n{out}");
        assert!(new.0.len() <= values.0.len(), "{sql}\n{out}");
    }
    // The pieces make lists often enough to exercise the rewrites.
    assert!(changed > 1_000, "{changed} statements rewritten");
}
