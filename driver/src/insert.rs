//! `insert` and `insert_many`: rows of a [`ToRecord`] type with column names into a table,
//! with the INSERT written from those names.

use crate::connection::{Connection, QueryRef};
use crate::error::{Error, Result};
use crate::from_record::short_type_name;
use crate::identifier::push_identifier;
use crate::to_record::ToRecord;

impl Connection {
    /// Inserts one row into `table` and returns the rows affected (1).
    ///
    /// The statement is `INSERT INTO <table> ("col1", "col2", …) VALUES ($1, $2, …)` with the
    /// columns [`T::column_names`](ToRecord::column_names) gives, each quoted as an identifier;
    /// a type without column names (a tuple, a tuple struct) is an error. Columns the type
    /// does not name (`#[record(skip)]` fields, columns it has no field for) get their
    /// defaults. The statement is cached like any other, so inserting the same type into the
    /// same table again is one round trip.
    ///
    /// `table` is SQL, written into the statement as given: a table name, optionally
    /// schema-qualified (`audit.events`), quoted by the caller where it needs quotes
    /// (`"Order Lines"`). Never build it from untrusted input.
    ///
    /// ```no_run
    /// #[derive(pgtusk::ToRecord)]
    /// struct Animal<'a> {
    ///     id: i64,
    ///     name: &'a str,
    /// }
    ///
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// conn.insert("zoo.animals", &Animal { id: 1, name: "walrus" }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn insert<T: ToRecord>(&mut self, table: &str, row: &T) -> Result<u64> {
        let sql = insert_sql::<T>(table)?;
        self.execute_row(QueryRef::Sql(&sql), row).await
    }

    /// Inserts every row into `table` in one statement run once per row, pipelined (see
    /// [`execute_many`](Connection::execute_many)), and returns the rows affected.
    ///
    /// All or nothing outside a transaction block: a failing row (a constraint, a value its
    /// column cannot take) leaves none of them inserted, and the error says which row. The
    /// statement is built as [`insert`](Connection::insert) builds it.
    ///
    /// ```no_run
    /// #[derive(pgtusk::ToRecord)]
    /// struct Reading {
    ///     sensor: i32,
    ///     celsius: f64,
    /// }
    ///
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let readings: Vec<Reading> = (0..100).map(|i| Reading { sensor: i, celsius: 20.5 }).collect();
    /// let inserted = conn.insert_many("readings", &readings).await?;
    /// assert_eq!(inserted, 100);
    /// # Ok(()) }
    /// ```
    pub async fn insert_many<I>(&mut self, table: &str, rows: I) -> Result<u64>
    where
        I: IntoIterator,
        I::Item: ToRecord,
    {
        let sql = insert_sql::<I::Item>(table)?;
        self.execute_many(sql.as_str(), rows).await
    }
}

/// The INSERT for rows of `T` into `table`.
fn insert_sql<T: ToRecord>(table: &str) -> Result<String> {
    let Some(columns) = T::column_names() else {
        return Err(Error::Interface(format!(
            "insert into {table}: {} has no column names (a tuple or tuple struct writes its \
             values by position); derive ToRecord on a struct with named fields, or run your \
             own INSERT with execute_many",
            short_type_name(std::any::type_name::<T>())
        )));
    };
    Ok(insert_statement(table, &columns))
}

fn insert_statement(table: &str, columns: &[&str]) -> String {
    if columns.is_empty() {
        return format!("INSERT INTO {table} DEFAULT VALUES");
    }
    let mut sql = format!("INSERT INTO {table} (");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_identifier(&mut sql, column);
    }
    sql.push_str(") VALUES (");
    for i in 1..=columns.len() {
        if i > 1 {
            sql.push_str(", ");
        }
        sql.push('$');
        sql.push_str(&i.to_string());
    }
    sql.push(')');
    sql
}

#[cfg(test)]
mod tests {
    use super::insert_statement;

    #[test]
    fn columns_are_quoted_identifiers_and_values_numbered() {
        assert_eq!(
            insert_statement("public.t", &["id", "Name", "say \"hi\""]),
            r#"INSERT INTO public.t ("id", "Name", "say ""hi""") VALUES ($1, $2, $3)"#
        );
    }

    #[test]
    fn no_columns_inserts_default_values() {
        assert_eq!(insert_statement("t", &[]), "INSERT INTO t DEFAULT VALUES");
    }
}
