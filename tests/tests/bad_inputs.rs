//! One table of bad inputs — DSNs, parameter values, type mismatches, hostile server bytes,
//! oversized messages, text that is not UTF-8 — each with the exact kind of error it must
//! give, words the message must contain (the key, `$n` or column it is about, or what to do),
//! and what must become of the connection: still usable (`SELECT 1` answers on it) or closed.
//!
//! Rows against a real server use the shared TempCluster (one new connection per row, and a
//! SQL_ASCII database for text that is not UTF-8); hostile bytes come from the fake server of
//! `pgtusk_tests::fake_server`, which serves `SELECT 1` normally once its one tampered reply
//! is sent.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use pgtusk::{ConnectOptions, Connection, Encode, Error, Record, SqlState};
use pgtusk_tests::fake_server::{
    FakeServer, Msg, Stage, Tamper, Then, data_row, msg, parameter_status, row_description,
};
use pgtusk_tests::{connect, connect_with, shared_dsn, shared_options};
use rust_decimal::Decimal;
use tokio::sync::OnceCell;

/// The kind of error a row expects: a variant of [`pgtusk::Error`] (for a server error, with
/// its SQLSTATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Encode,
    Decode,
    Interface,
    Protocol,
    Io,
    Auth,
    Tls,
    NoRows,
    Db(SqlState),
    /// Any variant this table does not expect.
    Other,
}

impl Kind {
    fn of(e: &Error) -> Kind {
        match e {
            Error::Config(_) => Kind::Config,
            Error::Encode(_) => Kind::Encode,
            Error::Decode(_) => Kind::Decode,
            Error::Interface(_) => Kind::Interface,
            Error::Protocol(_) => Kind::Protocol,
            Error::Io(_) => Kind::Io,
            Error::Auth(_) => Kind::Auth,
            Error::Tls(_) => Kind::Tls,
            Error::NoRows { .. } => Kind::NoRows,
            Error::Db(db) => Kind::Db(db.code()),
            _ => Kind::Other,
        }
    }
}

/// What must become of the connection after the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// It answers `SELECT 1` on the same connection.
    Usable,
    /// It is closed: the next call fails with `Error::Closed`.
    Closed,
    /// There is no connection (the input is a DSN, or the connect itself failed).
    NoConnection,
}

/// An operation on a connection.
type Action = for<'c> fn(&'c mut Connection) -> BoxFuture<'c, pgtusk::Result<()>>;

/// Decodes something from a fetched row.
type Check = fn(&Record) -> pgtusk::Result<()>;

/// Parameters, made when the row runs.
type Params = fn() -> Vec<Box<dyn Encode + Sync>>;

/// Which real database a row runs against.
#[derive(Debug, Clone, Copy)]
enum Db {
    /// The shared server's database.
    Shared,
    /// A SQL_ASCII database on the shared server: text is sent as stored, UTF-8 or not.
    SqlAscii,
}

/// Where a row's bad input goes in.
enum Input {
    /// A DSN, parsed.
    Dsn(&'static str),
    /// A connect to the shared server with these options.
    Connect(fn(ConnectOptions) -> ConnectOptions),
    /// A connect with this DSN (`{port}`: the shared server's port).
    ConnectDsn(&'static str),
    /// `fetch` with these parameters.
    Params(&'static str, Params),
    /// `fetch_one`, then the check decodes the row.
    Decode(Db, &'static str, Check),
    /// Anything else, on a connection to the shared server.
    Run(Action),
    /// The same, on a connection made with adjusted options.
    RunWith(fn(ConnectOptions) -> ConnectOptions, Action),
    /// A connect to a fake server whose handshake is replaced, with these options.
    Handshake(Tamper, Then, fn(ConnectOptions) -> ConnectOptions),
    /// `fetch_one` of SQL on a fake server whose reply at `Stage` is replaced, then the check.
    Hostile(Stage, Tamper, Then, &'static str, Check),
}

/// One bad input and what it must give.
struct Row {
    name: &'static str,
    input: Input,
    kind: Kind,
    /// Words the error's message must contain.
    says: &'static str,
    after: After,
}

fn row(name: &'static str, input: Input, kind: Kind, says: &'static str, after: After) -> Row {
    Row {
        name,
        input,
        kind,
        says,
        after,
    }
}

/// A DSN the parser must refuse with a `Config` error naming `says`.
fn dsn(dsn: &'static str, says: &'static str) -> Row {
    row(
        dsn,
        Input::Dsn(dsn),
        Kind::Config,
        says,
        After::NoConnection,
    )
}

fn params(
    name: &'static str,
    sql: &'static str,
    params: Params,
    kind: Kind,
    says: &'static str,
) -> Row {
    row(name, Input::Params(sql, params), kind, says, After::Usable)
}

fn decode(name: &'static str, sql: &'static str, check: Check, says: &'static str) -> Row {
    row(
        name,
        Input::Decode(Db::Shared, sql, check),
        Kind::Decode,
        says,
        After::Usable,
    )
}

fn not_utf8(name: &'static str, sql: &'static str, check: Check, says: &'static str) -> Row {
    row(
        name,
        Input::Decode(Db::SqlAscii, sql, check),
        Kind::Decode,
        says,
        After::Usable,
    )
}

fn handshake(
    name: &'static str,
    tamper: Tamper,
    then: Then,
    kind: Kind,
    says: &'static str,
) -> Row {
    row(
        name,
        Input::Handshake(tamper, then, |o| o),
        kind,
        says,
        After::NoConnection,
    )
}

/// The hostile rows query this SQL on the fake server (one int4 column `n`).
const HOSTILE_SQL: &str = "SELECT n FROM hostile";

/// The same, with a text column `t`.
const HOSTILE_TEXT_SQL: &str = "SELECT n::text AS t FROM hostile";

/// A row on the fake server: a decode error or the server's own error leaves the connection
/// usable; anything else (the bytes cannot be trusted any more) closes it.
fn hostile(
    name: &'static str,
    stage: Stage,
    tamper: Tamper,
    then: Then,
    kind: Kind,
    says: &'static str,
) -> Row {
    let after = if kind == Kind::Decode || matches!(kind, Kind::Db(_)) {
        After::Usable
    } else {
        After::Closed
    };
    row(
        name,
        Input::Hostile(stage, tamper, then, HOSTILE_SQL, |r| {
            r.try_get::<i32>(0).map(drop)
        }),
        kind,
        says,
        after,
    )
}

/// Wraps an async block into an [`Action`].
macro_rules! action {
    (|$c:ident| $body:expr) => {{
        fn action<'c>($c: &'c mut Connection) -> BoxFuture<'c, pgtusk::Result<()>> {
            Box::pin(async move { $body })
        }
        action as Action
    }};
}

/// Boxes parameters.
macro_rules! values {
    ($($v:expr),* $(,)?) => {{
        fn make() -> Vec<Box<dyn ::pgtusk::Encode + Sync>> {
            vec![$(Box::new($v)),*]
        }
        make as Params
    }};
}

/// Replaces the message with tag `tag` in a reply by `with` (its raw bytes).
fn replace(messages: Vec<Msg>, tag: u8, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut done = false;
    for m in messages {
        if m.tag == tag && !done {
            out.extend_from_slice(with);
            done = true;
        } else {
            out.extend(m.bytes());
        }
    }
    out
}

/// The reply with its message `tag` replaced, and nothing after it: the server then falls
/// silent on that request (the client must not wait for more than it was sent before it
/// sees the error).
fn replace_and_cut(messages: Vec<Msg>, tag: u8, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        if m.tag == tag {
            out.extend_from_slice(with);
            return out;
        }
        out.extend(m.bytes());
    }
    out
}

/// An ErrorResponse body: severity, code and message, then the terminator.
fn error_fields(severity: &str, code: &str, message: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', severity.as_bytes()),
        (b'V', severity.as_bytes()),
        (b'C', code.as_bytes()),
        (b'M', message),
    ] {
        body.push(field);
        body.extend_from_slice(value);
        body.push(0);
    }
    body.push(0);
    body
}

/// The reply to a failed Bind: ErrorResponse, ReadyForQuery.
fn bind_error(body: Vec<u8>) -> Vec<u8> {
    let mut out = msg(b'E', &body);
    out.extend(msg(b'Z', b"I"));
    out
}

/// The table, by category.
fn rows() -> Vec<Row> {
    use After::*;
    use Kind::*;
    vec![
        // ------------------------------------------------------------------ DSNs: ports
        dsn("postgres://h:65536/db", r#""port": "65536""#),
        dsn("postgres://h:5432:5433/db", r#""port": "5432:5433""#),
        dsn("postgres://[::1]:99999/db", r#""port": "99999""#),
        dsn("host=h port=5432,,abc", r#""port""#),
        row(
            "more ports than hosts",
            Input::ConnectDsn("host=127.0.0.1,127.0.0.1 port={port},{port},{port} user=x"),
            Config,
            "port",
            NoConnection,
        ),
        // ------------------------------------------------------------------ DSNs: keys and values
        dsn(
            "sslmode=verify_full",
            r#""sslmode": "verify_full" (expected"#,
        ),
        dsn("postgres://h/db?sslmode=requir", r#""sslmode""#),
        dsn(
            "postgres://h/db?ssl=true",
            r#"unknown connection option "ssl""#,
        ),
        dsn(
            "dbname=x colour=blue",
            r#"unknown connection option "colour""#,
        ),
        dsn(
            "postgres://h/db?Host=x",
            r#"unknown connection option "Host""#,
        ),
        dsn("postgres://h/db?=x", "connection option"),
        dsn("host=h port=5432 port", r#"missing "=" after "port""#),
        dsn(
            "application_name='x",
            r#"unterminated quoted value for "application_name""#,
        ),
        dsn("user='it''s'", r#"missing "=""#),
        dsn(
            "postgres://h/db?options=%2",
            r#"invalid percent-escape "%2" in "options""#,
        ),
        dsn(
            "postgres://h/db?application_name=%C3%28",
            r#""application_name": not valid UTF-8"#,
        ),
        dsn("postgres://h/db?options=-c%00x", r#""%00" in "options""#),
        dsn(
            "application_name=a\0b",
            r#""application_name": it contains a NUL byte"#,
        ),
        dsn(
            "postgres://h/db?connect_timeout=1e3",
            r#""connect_timeout": "1e3""#,
        ),
        dsn("command_timeout=-0.5", r#""command_timeout": "-0.5""#),
        dsn("command_timeout=1e400", r#""command_timeout""#),
        dsn("max_message_size=1023", "at least 1024"),
        dsn(
            "target_session_attrs=primary-ish",
            r#""target_session_attrs""#,
        ),
        dsn("load_balance_hosts=sometimes", r#""load_balance_hosts""#),
        dsn("channel_binding=maybe", r#""channel_binding""#),
        dsn("sslsni=yes", r#""sslsni": "yes" (expected 1 or 0)"#),
        dsn("sslnegotiation=fast", r#""sslnegotiation""#),
        dsn("hostaddr=300.1.1.1", r#""hostaddr""#),
        dsn("postgresql:/h/db", "postgres:// URL"),
        dsn("jdbc:postgresql://h/db", "postgres:// URL"),
        // ------------------------------------------------------------------ options the server refuses
        row(
            "a database that does not exist",
            Input::Connect(|o| o.dbname("no_such_database")),
            Db(SqlState::INVALID_CATALOG_NAME),
            "no_such_database",
            NoConnection,
        ),
        row(
            "a role that does not exist",
            Input::Connect(|o| o.user("no_such_role")),
            Db(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
            "no_such_role",
            NoConnection,
        ),
        row(
            "options with an unknown setting",
            Input::Connect(|o| o.options("-c no_such_setting=1")),
            Db(SqlState::UNDEFINED_OBJECT),
            "no_such_setting",
            NoConnection,
        ),
        row(
            "options with a bad value",
            Input::Connect(|o| o.options("-c statement_timeout=banana")),
            Db(SqlState::INVALID_PARAMETER_VALUE),
            "statement_timeout",
            NoConnection,
        ),
        row(
            "channel_binding=require with sslmode=disable",
            Input::Connect(|o| {
                o.ssl_mode(pgtusk::SslMode::Disable)
                    .channel_binding(pgtusk::ChannelBinding::Require)
            }),
            Config,
            "set sslmode to require",
            NoConnection,
        ),
        row(
            "channel_binding=require on a server without TLS",
            Input::Connect(|o| {
                o.ssl_mode(pgtusk::SslMode::Prefer)
                    .channel_binding(pgtusk::ChannelBinding::Require)
            }),
            Auth,
            "channel_binding",
            NoConnection,
        ),
        row(
            "sslmode=require on a server without TLS",
            Input::Connect(|o| o.ssl_mode(pgtusk::SslMode::Require)),
            Tls,
            "sslmode",
            NoConnection,
        ),
        // ------------------------------------------------------------------ parameters
        params(
            "no value for $1",
            "SELECT $1::int4",
            values![],
            Interface,
            "takes 1 parameter(s) but 0 were given",
        ),
        params(
            "two values for $1",
            "SELECT $1::int4",
            values![1i32, 2i32],
            Interface,
            "but 2 were given",
        ),
        params(
            "a string for int4",
            "SELECT $1::int4",
            values!["12"],
            Encode,
            "$1",
        ),
        params(
            "the second parameter is wrong",
            "SELECT $1::int4 + $2::int4",
            values![1i32, "x"],
            Encode,
            "$2",
        ),
        params(
            "i32 for int2",
            "SELECT $1::int2",
            values![70_000i32],
            Encode,
            "$1",
        ),
        params(
            "i64 for int4",
            "SELECT $1::int4",
            values![1i64],
            Encode,
            "$1",
        ),
        params(
            "an untyped $1 is text",
            "SELECT $1",
            values![1i32],
            Encode,
            "text",
        ),
        params(
            "i32 for bool",
            "SELECT $1::bool",
            values![1i32],
            Encode,
            "bool",
        ),
        params(
            "a NUL byte in text",
            "SELECT $1::text",
            values!["a\0b"],
            Encode,
            "NUL",
        ),
        params(
            "a date before 4713 BC",
            "SELECT $1::date",
            values![NaiveDate::MIN],
            Encode,
            "$1",
        ),
        params(
            "a timestamp the day before 4714-11-24 BC",
            "SELECT $1::timestamp",
            values![
                NaiveDate::from_ymd_opt(-4713, 11, 23)
                    .and_then(|d| d.and_hms_opt(23, 59, 59))
                    .unwrap_or_default()
            ],
            Encode,
            "parameter $1",
        ),
        params(
            "a nested Vec for int4[]",
            "SELECT $1::int4[]",
            values![vec![vec![1i32, 2], vec![3]]],
            Encode,
            "$1",
        ),
        params(
            "a string that is not a number for numeric",
            "SELECT $1::numeric",
            values!["twelve"],
            Encode,
            "$1",
        ),
        params(
            "a string that is not JSON for jsonb",
            "SELECT $1::jsonb",
            values!["not json"],
            Db(SqlState::INVALID_TEXT_REPRESENTATION),
            "json",
        ),
        params(
            "an int4 too large for the int2 it is cast to",
            "SELECT $1::int4::int2",
            values![70_000i32],
            Db(SqlState::NUMERIC_VALUE_OUT_OF_RANGE),
            "smallint out of range",
        ),
        params(
            "u64 for int4",
            "SELECT $1::int4",
            values![1u64],
            Encode,
            "$1",
        ),
        params(
            "Option<i64> for int4",
            "SELECT $1::int4",
            values![Some(1i64)],
            Encode,
            "parameter $1: Rust type Option<i64> cannot be sent as PostgreSQL type int4",
        ),
        params(
            "a parameter $0",
            "SELECT $0",
            values![],
            Db(SqlState::UNDEFINED_PARAMETER),
            "$0",
        ),
        row(
            "SQL text with a NUL byte",
            Input::Run(action!(|c| c.execute("SELECT 1\0", &[]).await.map(drop))),
            Interface,
            "query contains a NUL byte, which PostgreSQL cannot receive in it (remove it",
            Usable,
        ),
        // ------------------------------------------------------------------ oversized
        row(
            "70000 parameters",
            Input::Run(action!(|c| {
                let sql = (1..=70_000)
                    .map(|i| format!("${i}::int4"))
                    .collect::<Vec<_>>()
                    .join(",");
                let values = vec![1i32; 70_000];
                let refs: Vec<&(dyn pgtusk::Encode + Sync)> =
                    values.iter().map(|v| v as _).collect();
                c.fetch(format!("SELECT {sql}").as_str(), &refs)
                    .await
                    .map(drop)
            })),
            Interface,
            "at most 65535",
            Usable,
        ),
        row(
            "a row longer than max_message_size",
            Input::RunWith(
                |o| o.max_message_size(1024),
                action!(|c| c
                    .fetch_one("SELECT repeat('x', 5000) AS big", &[])
                    .await
                    .map(drop)),
            ),
            Protocol,
            "max_message_size",
            // The row's bytes are not read past, so the exchange cannot go on.
            Closed,
        ),
        params(
            "a result of 1 GiB asked for",
            "SELECT repeat('x', $1)",
            values![1i32 << 30],
            Db(SqlState::PROGRAM_LIMIT_EXCEEDED),
            "requested length too large",
        ),
        params(
            "an array of 7 dimensions",
            "SELECT '{{{{{{{1}}}}}}}'::int4[]",
            values![],
            Db(SqlState::PROGRAM_LIMIT_EXCEEDED),
            "exceeds the maximum allowed (6)",
        ),
        params(
            "JSON nested 100000 deep",
            "SELECT repeat('[', 100000)::jsonb",
            values![],
            Db(SqlState::STATEMENT_TOO_COMPLEX),
            "stack depth limit exceeded",
        ),
        row(
            "1700 result columns",
            Input::Run(action!(|c| {
                let columns = vec!["1"; 1700].join(",");
                c.fetch(format!("SELECT {columns}").as_str(), &[])
                    .await
                    .map(drop)
            })),
            Db(SqlState::TOO_MANY_COLUMNS),
            "at most 1664 entries",
            Usable,
        ),
        hostile(
            "a DataRow claiming 65535 values in 2 bytes",
            Stage::Execute,
            |m| replace(m, b'D', &msg(b'D', &[0xff, 0xff])),
            Then::Serve,
            Protocol,
            "DataRow",
        ),
        hostile(
            "a RowDescription claiming 65535 columns in 2 bytes",
            Stage::Prepare,
            |m| replace(m, b'T', &msg(b'T', &[0xff, 0xff])),
            Then::Serve,
            Protocol,
            "RowDescription",
        ),
        // ------------------------------------------------------------------ type mismatches
        decode(
            "int8 into i32",
            "SELECT 1::int8 AS big",
            |r| r.try_get::<i32>(0).map(drop),
            r#"column 0 "big": cannot decode PostgreSQL type int8 into Rust type i32"#,
        ),
        decode(
            "text into i32",
            "SELECT 'x'::text AS t",
            |r| r.try_get::<i32>("t").map(drop),
            r#""t""#,
        ),
        decode(
            "NULL into i32",
            "SELECT NULL::int4 AS n",
            |r| r.try_get::<i32>(0).map(drop),
            "decode into an Option",
        ),
        decode(
            "int4 into i16",
            "SELECT 300::int4 AS n",
            |r| r.try_get::<i16>(0).map(drop),
            "int4 into Rust type i16",
        ),
        decode(
            "numeric into i64",
            "SELECT 1.5::numeric AS n",
            |r| r.try_get::<i64>(0).map(drop),
            r#""n""#,
        ),
        decode(
            "NaN into Decimal",
            "SELECT 'NaN'::numeric AS n",
            |r| r.try_get::<Decimal>(0).map(drop),
            "NaN",
        ),
        decode(
            "infinity into NaiveDateTime",
            "SELECT 'infinity'::timestamp AS ts",
            |r| r.try_get::<NaiveDateTime>(0).map(drop),
            "infinity",
        ),
        decode(
            "-infinity into DateTime<Utc>",
            "SELECT '-infinity'::timestamptz AS ts",
            |r| r.try_get::<DateTime<Utc>>(0).map(drop),
            "infinity",
        ),
        decode(
            "infinity into NaiveDate",
            "SELECT 'infinity'::date AS d",
            |r| r.try_get::<NaiveDate>(0).map(drop),
            "infinity",
        ),
        decode(
            "a NULL element into Vec<i32>",
            "SELECT '{1,NULL}'::int4[] AS a",
            |r| r.try_get::<Vec<i32>>(0).map(drop),
            r#""a""#,
        ),
        decode(
            "a 2-D array into Vec<i32>",
            "SELECT '{{1,2},{3,4}}'::int4[] AS a",
            |r| r.try_get::<Vec<i32>>(0).map(drop),
            r#""a""#,
        ),
        decode(
            "a column name that is not there",
            "SELECT 1 AS n",
            |r| r.try_get::<i32>("nope").map(drop),
            r#"no column "nope" in this row (columns: n)"#,
        ),
        decode(
            "a column index past the end",
            "SELECT 1 AS n",
            |r| r.try_get::<i32>(5).map(drop),
            "no column 5",
        ),
        decode(
            "jsonb into i32",
            r#"SELECT '{"a":1}'::jsonb AS j"#,
            |r| r.try_get::<i32>(0).map(drop),
            "jsonb into Rust type i32",
        ),
        decode(
            "bytea into String",
            "SELECT 'abc'::bytea AS b",
            |r| r.try_get::<String>(0).map(drop),
            "cannot decode PostgreSQL type bytea into Rust type String",
        ),
        decode(
            "int4 into u32",
            "SELECT -1::int4 AS n",
            |r| r.try_get::<u32>(0).map(drop),
            "int4 into Rust type u32",
        ),
        row(
            "fetch_one with no rows",
            Input::Run(action!(|c| c
                .fetch_one("SELECT 1 WHERE false", &[])
                .await
                .map(drop))),
            NoRows,
            "fetch_optional",
            Usable,
        ),
        row(
            "fetch_value of a statement without columns",
            Input::Run(action!(|c| c
                .fetch_value::<i32>("SET application_name = 'x'", &[])
                .await
                .map(drop))),
            Interface,
            "no columns",
            Usable,
        ),
        // ------------------------------------------------------------------ text that is not UTF-8
        not_utf8(
            "text into String",
            "SELECT 'caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII') AS t",
            |r| r.try_get::<String>(0).map(drop),
            r#"column 0 "t""#,
        ),
        not_utf8(
            "text into &str",
            "SELECT 'caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII') AS t",
            |r| r.try_get::<&str>(0).map(drop),
            "Record::raw",
        ),
        not_utf8(
            "varchar into String",
            "SELECT ('caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII'))::varchar AS v",
            |r| r.try_get::<String>("v").map(drop),
            r#""v""#,
        ),
        not_utf8(
            "name into String",
            "SELECT ('caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII'))::name AS nm",
            |r| r.try_get::<String>("nm").map(drop),
            r#""nm""#,
        ),
        not_utf8(
            "a text[] element into Vec<String>",
            "SELECT ARRAY['ok', 'caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII')] AS a",
            |r| r.try_get::<Vec<String>>("a").map(drop),
            r#""a""#,
        ),
        row(
            "a fake server's text value",
            Input::Hostile(
                Stage::Execute,
                |m| replace(m, b'D', &msg(b'D', &data_row(Some(b"caf\xe9")))),
                Then::Serve,
                HOSTILE_TEXT_SQL,
                |r| r.try_get::<String>(0).map(drop),
            ),
            Decode,
            r#"column 0 "t""#,
            Usable,
        ),
        // ------------------------------------------------------------------ hostile handshakes
        handshake(
            "tag 0x00",
            |m| replace(m, b'S', &[0, 0, 0, 0, 8, 0, 0, 0, 0]),
            Then::Serve,
            Protocol,
            "unknown backend message tag 0x00",
        ),
        handshake(
            "a length of 3",
            |m| replace(m, b'K', &[b'K', 0, 0, 0, 3]),
            Then::Serve,
            Protocol,
            "invalid length 3",
        ),
        handshake(
            "a negative length",
            |m| replace(m, b'K', &[b'K', 0xff, 0xff, 0xff, 0xff]),
            Then::Serve,
            Protocol,
            "invalid length -1",
        ),
        row(
            "a ParameterStatus longer than max_message_size",
            Input::Handshake(
                |m| {
                    let long = parameter_status(b"application_name", &[b'x'; 2000]);
                    replace(m, b'S', &msg(b'S', &long))
                },
                Then::Serve,
                |o| o.max_message_size(1024),
            ),
            Protocol,
            "max_message_size",
            NoConnection,
        ),
        handshake(
            "a message claiming 2 GB",
            |m| replace_and_cut(m, b'K', &[b'K', 0x7f, 0xff, 0xff, 0xff]),
            Then::Serve,
            Protocol,
            "max_message_size",
        ),
        handshake(
            "a ParameterStatus without its terminator",
            |m| replace(m, b'S', &msg(b'S', b"server_version")),
            Then::Serve,
            Protocol,
            "ParameterStatus",
        ),
        handshake(
            "a BackendKeyData of 4 bytes",
            |m| replace(m, b'K', &msg(b'K', &[0, 0, 0, 7])),
            Then::Serve,
            Protocol,
            "BackendKeyData",
        ),
        handshake(
            "a ReadyForQuery status 'Q'",
            |m| replace(m, b'Z', &msg(b'Z', b"Q")),
            Then::Serve,
            Protocol,
            "ReadyForQuery",
        ),
        handshake(
            "a FATAL whose message is not UTF-8",
            |_| msg(b'E', &error_fields("FATAL", "28000", b"r\xf4le refus\xe9")),
            Then::Close,
            Db(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
            "r\u{fffd}le refus\u{fffd}",
        ),
        handshake(
            "a FATAL, then silence",
            |_| msg(b'E', &error_fields("FATAL", "53300", b"too many clients")),
            Then::Serve,
            Db(SqlState::TOO_MANY_CONNECTIONS),
            "too many clients",
        ),
        handshake(
            "an ErrorResponse without a terminator",
            |_| msg(b'E', b"SFATAL\0C28000\0Mno"),
            Then::Serve,
            Protocol,
            "ErrorResponse",
        ),
        handshake(
            "SASL with no mechanism we know",
            |_| {
                msg(
                    b'R',
                    &[&10u32.to_be_bytes()[..], b"SCRAM-SHA-1\0\0"].concat(),
                )
            },
            Then::Serve,
            Auth,
            "SCRAM-SHA-256",
        ),
        handshake(
            "an MD5 password asked for, none given",
            |_| msg(b'R', &[0, 0, 0, 5, 1, 2, 3, 4]),
            Then::Serve,
            Auth,
            "password",
        ),
        handshake(
            "a header cut after 3 bytes, then the end",
            |m| replace_and_cut(m, b'S', &[b'S', 0, 0]),
            Then::Close,
            Io,
            "closed",
        ),
        handshake(
            "the end before any answer",
            |_| Vec::new(),
            Then::Close,
            Io,
            "closed",
        ),
        // ------------------------------------------------------------------ hostile replies
        hostile(
            "a RowDescription with fewer columns than it says",
            Stage::Prepare,
            |m| {
                let mut body = row_description("n", 23, 4);
                body[1] = 2;
                replace(m, b'T', &msg(b'T', &body))
            },
            Then::Serve,
            Protocol,
            "RowDescription",
        ),
        hostile(
            "a ParameterDescription with missing types",
            Stage::Prepare,
            |m| replace(m, b't', &msg(b't', &[0, 3, 0, 0, 0, 23])),
            Then::Serve,
            Protocol,
            "ParameterDescription",
        ),
        hostile(
            "a DataRow with a length of -2",
            Stage::Execute,
            |m| replace(m, b'D', &msg(b'D', &[0, 1, 0xff, 0xff, 0xff, 0xfe])),
            Then::Serve,
            Protocol,
            "DataRow",
        ),
        hostile(
            "an int4 of 3 bytes",
            Stage::Execute,
            |m| replace(m, b'D', &msg(b'D', &[0, 1, 0, 0, 0, 3, 0, 0, 1])),
            Then::Serve,
            Decode,
            r#"column 0 "n""#,
        ),
        hostile(
            "a CommandComplete without its terminator",
            Stage::Execute,
            |m| replace(m, b'C', &msg(b'C', b"SELECT 1")),
            Then::Serve,
            Protocol,
            "CommandComplete",
        ),
        hostile(
            "a DataRow claiming 2 GB",
            Stage::Execute,
            |m| replace_and_cut(m, b'D', &[b'D', 0x7f, 0xff, 0xff, 0xff]),
            Then::Serve,
            Protocol,
            "max_message_size",
        ),
        hostile(
            "a DataRow cut short, then the end",
            Stage::Execute,
            |m| replace_and_cut(m, b'D', &msg(b'D', &data_row(Some(&[0, 0, 0, 1])))[..8]),
            Then::Close,
            Io,
            "closed",
        ),
        hostile(
            "an AuthenticationOk in a query",
            Stage::Execute,
            |m| replace(m, b'D', &msg(b'R', &[0, 0, 0, 0])),
            Then::Serve,
            Protocol,
            "unexpected",
        ),
        hostile(
            "a ReadyForQuery before the rows",
            Stage::Execute,
            |m| {
                let mut out = msg(b'2', b"");
                out.extend(msg(b'Z', b"I"));
                out.extend(m[1..].iter().flat_map(Msg::bytes));
                out
            },
            Then::Serve,
            Protocol,
            "ReadyForQuery before the result of every Execute",
        ),
        hostile(
            "an ERROR whose message is not UTF-8",
            Stage::Execute,
            |_| bind_error(error_fields("ERROR", "22023", b"caf\xe9")),
            Then::Serve,
            Db(SqlState::INVALID_PARAMETER_VALUE),
            "caf\u{fffd}",
        ),
        row(
            "an ERROR without a code",
            Input::Hostile(
                Stage::Execute,
                |_| bind_error(b"SERROR\0MI have no code\0\0".to_vec()),
                Then::Serve,
                HOSTILE_SQL,
                |r| r.try_get::<i32>(0).map(drop),
            ),
            Protocol,
            "missing field C (code)",
            // The request still ended with its ReadyForQuery.
            Usable,
        ),
        row(
            "a FATAL in a query, then silence",
            Input::Hostile(
                Stage::Execute,
                |_| {
                    msg(
                        b'E',
                        &error_fields("FATAL", "57P01", b"terminating connection"),
                    )
                },
                Then::Serve,
                HOSTILE_SQL,
                |r| r.try_get::<i32>(0).map(drop),
            ),
            Db(SqlState::ADMIN_SHUTDOWN),
            "terminating connection",
            Closed,
        ),
    ]
}

/// A database whose encoding is SQL_ASCII, created once per server.
const SQL_ASCII_DB: &str = "pgtusk_bad_inputs_sql_ascii";

async fn connect_db(db: Db) -> Connection {
    match db {
        Db::Shared => connect().await,
        Db::SqlAscii => {
            static CREATED: OnceCell<()> = OnceCell::const_new();
            CREATED
                .get_or_init(|| async {
                    let sql = format!(
                        "CREATE DATABASE {SQL_ASCII_DB} ENCODING 'SQL_ASCII' LC_COLLATE 'C' \
                         LC_CTYPE 'C' TEMPLATE template0"
                    );
                    match connect().await.execute(sql.as_str(), &[]).await {
                        // Or left by an earlier run against the same server (DATABASE_URL).
                        Err(e) if e.sqlstate() != Some(SqlState::DUPLICATE_DATABASE) => {
                            panic!("cannot create the SQL_ASCII database: {e}")
                        }
                        _ => {}
                    }
                })
                .await;
            let mut conn = connect_with(shared_options().dbname(SQL_ASCII_DB)).await;
            // The server then sends text as it is stored, without checking it is UTF-8.
            conn.execute("SET client_encoding = 'SQL_ASCII'", &[])
                .await
                .expect("SET client_encoding");
            conn
        }
    }
}

/// Runs one row's input: its result, and the connection it ran on (if any).
async fn run(input: &Input) -> (pgtusk::Result<()>, Option<Connection>) {
    match input {
        Input::Dsn(dsn) => (dsn.parse::<ConnectOptions>().map(drop), None),
        Input::Connect(adjust) => {
            let options = adjust(shared_options().connect_timeout(Duration::from_secs(10)));
            (Connection::connect_with(&options).await.map(drop), None)
        }
        Input::ConnectDsn(dsn) => {
            let port = pgtusk_tests::shared_port().to_string();
            let dsn = dsn.replace("{port}", &port);
            (Connection::connect(&dsn).await.map(drop), None)
        }
        Input::Params(sql, make) => {
            let mut conn = connect().await;
            let values = make();
            let refs: Vec<&(dyn Encode + Sync)> = values.iter().map(|v| &**v as _).collect();
            let result = conn.fetch(*sql, &refs).await.map(drop);
            (result, Some(conn))
        }
        Input::Decode(db, sql, check) => {
            let mut conn = connect_db(*db).await;
            let result = match conn.fetch_one(*sql, &[]).await {
                Ok(row) => check(&row),
                Err(e) => Err(e),
            };
            (result, Some(conn))
        }
        Input::Run(action) => {
            let mut conn = connect().await;
            let result = action(&mut conn).await;
            (result, Some(conn))
        }
        Input::RunWith(adjust, action) => {
            let mut conn = connect_with(adjust(shared_options())).await;
            let result = action(&mut conn).await;
            (result, Some(conn))
        }
        Input::Handshake(tamper, then, adjust) => {
            let server = FakeServer::start(Stage::Startup, *tamper, *then).await;
            let options: ConnectOptions = server.dsn().parse().expect("the fake server's DSN");
            (
                Connection::connect_with(&adjust(options)).await.map(drop),
                None,
            )
        }
        Input::Hostile(stage, tamper, then, sql, check) => {
            let server = FakeServer::start(*stage, *tamper, *then).await;
            let mut conn = Connection::connect(&server.dsn())
                .await
                .expect("the fake server's handshake is sound");
            let result = match conn.fetch_one(*sql, &[]).await {
                Ok(row) => check(&row),
                Err(e) => Err(e),
            };
            (result, Some(conn))
        }
    }
}

/// Checks one row; the reason when it fails.
async fn check(row: &Row) -> Result<(), String> {
    let (result, conn) = run(&row.input).await;
    let err = match result {
        Ok(()) => return Err("no error".to_owned()),
        Err(e) => e,
    };
    let message = err.to_string();
    if Kind::of(&err) != row.kind {
        return Err(format!(
            "expected {:?}, got {:?}: {message}",
            row.kind,
            Kind::of(&err)
        ));
    }
    if !message.contains(row.says) {
        return Err(format!("the message lacks {:?}: {message}", row.says));
    }
    match (row.after, conn) {
        (After::NoConnection, _) => Ok(()),
        (_, None) => Err("no connection to check".to_owned()),
        (After::Usable, Some(mut conn)) => match conn.fetch_value::<i32>("SELECT 1", &[]).await {
            Ok(1) => Ok(()),
            Ok(other) => Err(format!("SELECT 1 afterwards gave {other}")),
            Err(e) => Err(format!("not usable afterwards ({message}): {e}")),
        },
        (After::Closed, Some(mut conn)) => {
            if !conn.is_closed() {
                return Err("the connection is not marked closed".to_owned());
            }
            match conn.fetch_value::<i32>("SELECT 1", &[]).await {
                Err(Error::Closed) => Ok(()),
                other => Err(format!("SELECT 1 afterwards gave {other:?}, not Closed")),
            }
        }
    }
}

#[tokio::test]
async fn every_bad_input_is_a_clear_error_and_loses_only_what_it_must() {
    // Start the shared server before the clock of the first row starts.
    let _ = shared_dsn();
    let rows = rows();
    assert!(rows.len() >= 50, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            AssertUnwindSafe(check(row)).catch_unwind(),
        )
        .await;
        let why = match outcome {
            Ok(Ok(Ok(()))) => continue,
            Ok(Ok(Err(why))) => why,
            Ok(Err(panic)) => format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            ),
            Err(_) => "hung for 30 s".to_owned(),
        };
        failures.push(format!("{}: {why}", row.name));
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Not an error, and so not a row: a ParameterStatus whose value is not UTF-8 (here the
/// `session_authorization` a SQL_ASCII database reports as stored) is kept lossily, as an
/// error message is, and the session goes on. It used to end the session with a protocol
/// error.
#[tokio::test]
async fn a_parameter_status_that_is_not_utf8_is_kept_lossily() {
    let mut conn = connect_db(Db::SqlAscii).await;
    let role = "'caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII')";
    let sql = format!(
        "DO $$ BEGIN \
           EXECUTE format('DROP ROLE IF EXISTS %I', {role}); \
           EXECUTE format('CREATE ROLE %I', {role}); \
           EXECUTE format('SET SESSION AUTHORIZATION %I', {role}); \
         END $$"
    );
    conn.execute(sql.as_str(), &[]).await.unwrap();
    assert_eq!(conn.parameter("session_authorization"), Some("caf\u{fffd}"));
    assert_eq!(conn.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    conn.execute("RESET SESSION AUTHORIZATION", &[])
        .await
        .unwrap();
    let drop_role = format!("DO $$ BEGIN EXECUTE format('DROP ROLE %I', {role}); END $$");
    conn.execute(drop_role.as_str(), &[]).await.unwrap();
}
