//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile`): parsing and matching.

use std::path::Path;

/// One field of a `.pgpass` line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PgpassField {
    /// An unescaped `*`.
    Any,
    Exact(String),
}

impl PgpassField {
    fn matches(&self, value: &str) -> bool {
        match self {
            PgpassField::Any => true,
            PgpassField::Exact(s) => s == value,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgpassEntry {
    host: PgpassField,
    port: PgpassField,
    dbname: PgpassField,
    user: PgpassField,
    password: String,
}

/// Reads a password file; a missing, unreadable or too-open file gives no entries.
pub(super) fn read_pgpass(path: &Path) -> Vec<PgpassEntry> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    if !meta.is_file() {
        tracing::warn!(path = %path.display(), "password file is not a plain file; ignoring it");
        return Vec::new();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "password file has group or world access; permissions should be u=rw (0600) \
                 or less; ignoring it"
            );
            return Vec::new();
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => parse_pgpass(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not read password file; ignoring it");
            Vec::new()
        }
    }
}

/// Parses `.pgpass` text: `hostname:port:database:username:password` lines;
/// `#` comments, blank and short lines are skipped.
pub(crate) fn parse_pgpass(text: &str) -> Vec<PgpassEntry> {
    text.lines().filter_map(parse_pgpass_line).collect()
}

fn parse_pgpass_line(line: &str) -> Option<PgpassEntry> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    // Split on unescaped ':'; a field that is exactly an unescaped "*" is a wildcard.
    let mut fields: Vec<PgpassField> = Vec::with_capacity(4);
    let mut chars = line.chars();
    let mut current = String::new();
    let mut escaped_any = false;
    let mut password = None;
    loop {
        let c = chars.next();
        match c {
            Some('\\') => match chars.next() {
                Some(next) => {
                    current.push(next);
                    escaped_any = true;
                }
                None => current.push('\\'),
            },
            Some(':') | None => {
                if fields.len() == 4 {
                    // The password ends at the next unescaped ':' or the line's end.
                    password = Some(std::mem::take(&mut current));
                    break;
                }
                if c.is_none() {
                    break; // a short line
                }
                let value = std::mem::take(&mut current);
                fields.push(if value == "*" && !escaped_any {
                    PgpassField::Any
                } else {
                    PgpassField::Exact(value)
                });
                escaped_any = false;
            }
            Some(c) => current.push(c),
        }
    }
    let password = password?;
    let mut fields = fields.into_iter();
    Some(PgpassEntry {
        host: fields.next()?,
        port: fields.next()?,
        dbname: fields.next()?,
        user: fields.next()?,
        password,
    })
}

/// The first entry matching; an empty password counts as none (libpq then
/// reports that no password was supplied).
pub(crate) fn pgpass_lookup(
    entries: &[PgpassEntry],
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let port = port.to_string();
    entries
        .iter()
        .find(|e| {
            e.host.matches(host)
                && e.port.matches(&port)
                && e.dbname.matches(dbname)
                && e.user.matches(user)
        })
        .map(|e| e.password.clone())
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(h: &str, p: &str, d: &str, u: &str, pw: &str) -> PgpassEntry {
        let f = |s: &str| {
            if s == "*" {
                PgpassField::Any
            } else {
                PgpassField::Exact(s.to_owned())
            }
        };
        PgpassEntry {
            host: f(h),
            port: f(p),
            dbname: f(d),
            user: f(u),
            password: pw.to_owned(),
        }
    }

    #[test]
    fn pgpass_parsing() {
        let text = "# a comment\n\
                    \n\
                    localhost:5432:db:alice:secret\n\
                    *:*:*:*:any\r\n\
                    h\\:x:5432:d\\\\b:u:p\\:w\\\\d:ignored\n\
                    \\*:*:db:bob:literal-star\n\
                    short:line\n\
                    a:b:c:d\n\
                    h:1:d:u:\n\
                    h:1:d:u:trail\\\n";
        let got = parse_pgpass(text);
        let mut literal_star = entry("*", "*", "db", "bob", "literal-star");
        literal_star.host = PgpassField::Exact("*".into());
        assert_eq!(
            got,
            vec![
                entry("localhost", "5432", "db", "alice", "secret"),
                entry("*", "*", "*", "*", "any"),
                entry("h:x", "5432", "d\\b", "u", "p:w\\d"),
                literal_star,
                entry("h", "1", "d", "u", ""),
                entry("h", "1", "d", "u", "trail\\"),
            ]
        );
    }

    #[test]
    fn pgpass_matching() {
        let entries = parse_pgpass(
            "db1:5432:app:alice:first\n\
             db1:5432:app:alice:second\n\
             db1:*:*:bob:bobs\n\
             \\*:5432:app:carol:only-a-host-named-star\n\
             localhost:5432:*:dave:local\n\
             empty:5432:*:*:\n\
             empty:5432:*:*:after-empty\n\
             *:*:*:eve:wild\n",
        );
        let look = |h, p, d, u| pgpass_lookup(&entries, h, p, d, u);
        assert_eq!(look("db1", 5432, "app", "alice").as_deref(), Some("first"));
        assert_eq!(look("db1", 5433, "app", "alice"), None);
        assert_eq!(look("db1", 9999, "x", "bob").as_deref(), Some("bobs"));
        assert_eq!(look("db2", 5432, "app", "carol"), None);
        assert_eq!(
            look("*", 5432, "app", "carol").as_deref(),
            Some("only-a-host-named-star")
        );
        assert_eq!(
            look("localhost", 5432, "x", "dave").as_deref(),
            Some("local")
        );
        assert_eq!(
            look("empty", 5432, "x", "y"),
            None,
            "first match wins, even when empty"
        );
        assert_eq!(look("anything", 1, "x", "eve").as_deref(), Some("wild"));
    }
}
