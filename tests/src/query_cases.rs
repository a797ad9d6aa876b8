//! One table of queries and what they must give, run through the async API and the blocking
//! one (`tests/tests/blocking.rs`): both must return the same rows and the same errors.

use pgtusk::{Encode, Record, SqlState};

/// What a case must give.
#[derive(Debug)]
pub enum Expect {
    /// Rows, checked by this function.
    Rows(fn(&[Record])),
    /// A server error with this SQLSTATE.
    Error(SqlState),
}

/// A query, its parameters, and what it must give.
pub struct Case {
    pub name: &'static str,
    pub sql: &'static str,
    pub params: Vec<Box<dyn Encode + Sync>>,
    pub expect: Expect,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// The parameters as a query method takes them.
    pub fn params(&self) -> Vec<&(dyn Encode + Sync)> {
        self.params.iter().map(|p| &**p as _).collect()
    }

    /// Checks what a `fetch` of this case returned; `api` names the API in the message.
    pub fn check(&self, api: &str, got: pgtusk::Result<Vec<Record>>) {
        match (&self.expect, got) {
            (Expect::Rows(check), Ok(rows)) => check(&rows),
            (Expect::Error(code), Err(e)) => assert_eq!(
                e.sqlstate(),
                Some(*code),
                "{api} {}: wrong error {e}",
                self.name
            ),
            (Expect::Rows(_), Err(e)) => panic!("{api} {}: unexpected error {e}", self.name),
            (Expect::Error(code), Ok(rows)) => panic!(
                "{api} {}: {} rows where error {code:?} was expected",
                self.name,
                rows.len()
            ),
        }
    }
}

fn case(
    name: &'static str,
    sql: &'static str,
    params: Vec<Box<dyn Encode + Sync>>,
    expect: Expect,
) -> Case {
    Case {
        name,
        sql,
        params,
        expect,
    }
}

/// The main cases of `tests/tests/queries.rs`: types bound in binary, NULLs, empty results,
/// many rows, names, and the server's errors.
pub fn cases() -> Vec<Case> {
    vec![
        case(
            "rows with names and types",
            "SELECT g AS n, g::text AS s FROM generate_series(1, 3) g ORDER BY g",
            vec![],
            Expect::Rows(|rows| {
                let got: Vec<(i32, String)> =
                    rows.iter().map(|r| (r.get("n"), r.get("s"))).collect();
                assert_eq!(got, [(1, "1".into()), (2, "2".into()), (3, "3".into())]);
                assert_eq!(
                    *rows[0].columns().get(0).unwrap().type_(),
                    pgtusk::Type::INT4
                );
            }),
        ),
        case(
            "parameters bound in binary",
            "SELECT $1::int2 + 1::int2, $2::int8 - 1, $3::float8, $4::bool, $5::text, $6::bytea",
            vec![
                Box::new(1i16),
                Box::new(i64::MAX),
                Box::new(-0.25f64),
                Box::new(true),
                Box::new("héllo"),
                Box::new(vec![0u8, 255]),
            ],
            Expect::Rows(|rows| {
                let row = &rows[0];
                assert_eq!(row.get::<i16>(0), 2);
                assert_eq!(row.get::<i64>(1), i64::MAX - 1);
                assert_eq!(row.get::<f64>(2), -0.25);
                assert!(row.get::<bool>(3));
                assert_eq!(row.get::<&str>(4), "héllo");
                assert_eq!(row.get::<&[u8]>(5), &[0u8, 255]);
            }),
        ),
        case(
            "NULL into an Option",
            "SELECT NULL::int4 AS missing, $1::text AS given",
            vec![Box::new(None::<String>)],
            Expect::Rows(|rows| {
                assert_eq!(rows[0].get::<Option<i32>>("missing"), None);
                assert_eq!(rows[0].get::<Option<String>>("given"), None);
            }),
        ),
        case(
            "an empty result",
            "SELECT 1 WHERE false",
            vec![],
            Expect::Rows(|rows| assert!(rows.is_empty())),
        ),
        case(
            "many rows",
            "SELECT g FROM generate_series(1, $1) g",
            vec![Box::new(10_000i32)],
            Expect::Rows(|rows| {
                assert_eq!(rows.len(), 10_000);
                assert_eq!(rows[9_999].get::<i32>(0), 10_000);
            }),
        ),
        case(
            "an array parameter",
            "SELECT x FROM unnest($1::int8[]) x ORDER BY x DESC",
            vec![Box::new(vec![3i64, 1, 2])],
            Expect::Rows(|rows| {
                let got: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                assert_eq!(got, [3, 2, 1]);
            }),
        ),
        case(
            "a syntax error",
            "SELEC 1",
            vec![],
            Expect::Error(SqlState::SYNTAX_ERROR),
        ),
        case(
            "division by zero at run time",
            "SELECT 1 / $1::int4",
            vec![Box::new(0i32)],
            Expect::Error(SqlState::DIVISION_BY_ZERO),
        ),
        case(
            "an unknown table",
            "SELECT * FROM no_such_table_here",
            vec![],
            Expect::Error(SqlState::UNDEFINED_TABLE),
        ),
    ]
}
