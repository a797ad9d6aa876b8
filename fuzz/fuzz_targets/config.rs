//! The DSN parsers (`postgres://` URLs, libpq `key=value` strings), option resolution with
//! the environment, and the `.pgpass` parser.
//!
//! Input: UTF-8 text `DSN [\n ENV-VALUE [\n PGPASS ...]]`. The DSN goes through
//! `ConnectOptions: FromStr`; what parses is resolved with one environment variable (picked by
//! the DSN's length) set to ENV-VALUE and no files on disk; PGPASS is parsed as a password
//! file and looked up.
//!
//! Invariants checked: options that parsed, written out again as a quoted `key=value` string
//! and as a percent-encoded URL, parse to the same values; a `.pgpass` line written with the
//! file's escapes for fields taken from the input finds its password again.

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use pgtusk::__fuzz;
use pgtusk::ConnectOptions;

/// The variables option resolution reads.
const ENV: [&str; 19] = [
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGAPPNAME",
    "PGOPTIONS",
    "PGCONNECT_TIMEOUT",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLSNI",
    "PGSSLNEGOTIATION",
    "PGCHANNELBINDING",
    "PGTARGETSESSIONATTRS",
    "PGLOADBALANCEHOSTS",
    "PGPASSFILE",
    "HOME",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let dsn = parts.next().unwrap_or("");
    let env_value = parts.next().unwrap_or("");
    let pgpass = parts.next().unwrap_or("");

    if let Ok(options) = dsn.parse::<ConnectOptions>() {
        let _ = format!("{options:?}");
        let name = ENV[dsn.len() % ENV.len()];
        let env = |key: &str| (key == name).then(|| env_value.to_owned());
        if let Ok((user, dbname)) = __fuzz::resolve(&options, &env) {
            let _ = __fuzz::pgpass(pgpass, "localhost", 5432, &dbname, &user);
        }
        round_trip(&options);
    }
    let _ = __fuzz::pgpass(pgpass, "*", 5432, "*", "*");
    pgpass_round_trip(text);
});

/// The string options, by DSN key.
fn strings(o: &ConnectOptions) -> [(&'static str, Option<&str>); 5] {
    [
        ("user", o.get_user()),
        ("password", o.get_password()),
        ("dbname", o.get_dbname()),
        ("application_name", o.get_application_name()),
        ("options", o.get_options()),
    ]
}

/// Writes the string options as `key=value` and as a URL; both must parse to the same.
fn round_trip(options: &ConnectOptions) {
    let fields = strings(options);

    let mut key_value = String::new();
    for (key, value) in fields {
        let Some(value) = value else { continue };
        let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
        write!(key_value, "{key}='{quoted}' ").unwrap();
    }
    let reparsed: ConnectOptions = key_value
        .parse()
        .unwrap_or_else(|e| panic!("{key_value:?} does not parse again: {e}"));
    assert_eq!(
        strings(&reparsed),
        fields,
        "key=value round trip of {key_value:?}"
    );

    let mut url = String::from("postgres://");
    let [user, password, dbname, application_name, opts] = fields.map(|(_, v)| v);
    if user.is_some() || password.is_some() {
        url += &percent_encode(user.unwrap_or(""));
        if let Some(p) = password {
            url += ":";
            url += &percent_encode(p);
        }
        url += "@";
    }
    url += "/";
    url += &percent_encode(dbname.unwrap_or(""));
    url += "?";
    for (key, value) in [("application_name", application_name), ("options", opts)] {
        if let Some(value) = value {
            write!(url, "{key}={}&", percent_encode(value)).unwrap();
        }
    }
    let reparsed: ConnectOptions = url
        .parse()
        .unwrap_or_else(|e| panic!("{url:?} does not parse again: {e}"));
    assert_eq!(strings(&reparsed), fields, "URL round trip of {url:?}");
}

/// Percent-encodes every byte but the URL's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            write!(out, "%{b:02X}").unwrap();
        }
    }
    out
}

/// Splits the input into host, database, user and password, writes them as an escaped
/// `.pgpass` line and looks the password up with the same fields.
fn pgpass_round_trip(text: &str) {
    let mut fields = text.splitn(4, '\t');
    let (Some(host), Some(dbname), Some(user), Some(password)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    // A line ends at a line break, so no field can hold one.
    if [host, dbname, user, password]
        .iter()
        .any(|f| f.contains(['\n', '\r']))
    {
        return;
    }
    let escape = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if matches!(c, '\\' | ':' | '*' | '#') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let line = format!(
        "{}:5432:{}:{}:{}",
        escape(host),
        escape(dbname),
        escape(user),
        escape(password)
    );
    let found = __fuzz::pgpass(&line, host, 5432, dbname, user);
    let expected = (!password.is_empty()).then(|| password.to_owned());
    assert_eq!(found, expected, "the password of {line:?}");
}
