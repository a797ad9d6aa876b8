//! SQL identifiers written by the driver itself (column lists of `insert` and COPY).

/// Appends `name` as a quoted identifier: in double quotes, a `"` inside doubled.
pub(crate) fn push_identifier(sql: &mut String, name: &str) {
    sql.push('"');
    for c in name.chars() {
        if c == '"' {
            sql.push('"');
        }
        sql.push(c);
    }
    sql.push('"');
}

/// `names` as a comma-separated list of quoted identifiers.
pub(crate) fn identifier_list<S: AsRef<str>>(names: &[S]) -> String {
    let mut list = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            list.push_str(", ");
        }
        push_identifier(&mut list, name.as_ref());
    }
    list
}

#[cfg(test)]
mod tests {
    use super::identifier_list;

    #[test]
    fn identifiers_are_quoted_and_quotes_doubled() {
        assert_eq!(
            identifier_list(&["id", "Name", "a\"b"]),
            "\"id\", \"Name\", \"a\"\"b\""
        );
        assert_eq!(identifier_list::<&str>(&[]), "");
    }
}
