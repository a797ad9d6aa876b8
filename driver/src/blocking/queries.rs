//! The query methods every blocking handle shares ([`Connection`](super::Connection),
//! [`Transaction`](super::Transaction)), written once: each drives the async method of the
//! same name on the handle's runtime.
//!
//! A type that uses `query_methods!("Name")` has a method
//! `fn parts(&mut self) -> (&mut crate::Connection, &Runtime)` and
//! `fn connection(&self) -> &crate::Connection`.

macro_rules! query_methods {
    ($name:literal) => {
        /// Runs a statement and returns the number of rows it affected (or returned).
        /// See [`Connection::execute`](crate::Connection::execute).
        pub fn execute<'a>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<u64> {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::execute"), conn.execute(query, params))
        }

        /// Runs one or more statements separated by `;` through the simple query protocol (no
        /// parameters, nothing cached): for migrations and setup scripts.
        pub fn execute_script(&mut self, sql: &str) -> $crate::Result<()> {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::execute_script"), conn.execute_script(sql))
        }

        /// Runs a query and returns every row.
        /// See [`Connection::fetch`](crate::Connection::fetch).
        pub fn fetch<'a>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<Vec<$crate::Record>> {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::fetch"), conn.fetch(query, params))
        }

        /// Runs a query and returns its first row; [`Error::NoRows`](crate::Error::NoRows)
        /// when there is none. Only one row travels.
        pub fn fetch_one<'a>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<$crate::Record> {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::fetch_one"), conn.fetch_one(query, params))
        }

        /// Runs a query and returns its first row, if there is one.
        pub fn fetch_optional<'a>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<Option<$crate::Record>> {
            let (conn, rt) = self.parts();
            rt.block_on(
                concat!($name, "::fetch_optional"),
                conn.fetch_optional(query, params),
            )
        }

        /// Runs a query and decodes the first column of its first row into `T`.
        /// See [`Connection::fetch_value`](crate::Connection::fetch_value).
        pub fn fetch_value<'a, T>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<T>
        where
            T: for<'r> $crate::Decode<'r>,
        {
            let (conn, rt) = self.parts();
            rt.block_on(
                concat!($name, "::fetch_value"),
                conn.fetch_value(query, params),
            )
        }

        /// Runs a query and decodes every row into `T`; `T` is checked against the columns
        /// before the query runs. See [`Connection::fetch_as`](crate::Connection::fetch_as).
        pub fn fetch_as<'a, T>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<Vec<T>>
        where
            T: for<'r> $crate::FromRecord<'r>,
        {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::fetch_as"), conn.fetch_as(query, params))
        }

        /// Runs a query and decodes its first row into `T`; an error when there is none.
        pub fn fetch_one_as<'a, T>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<T>
        where
            T: for<'r> $crate::FromRecord<'r>,
        {
            let (conn, rt) = self.parts();
            rt.block_on(
                concat!($name, "::fetch_one_as"),
                conn.fetch_one_as(query, params),
            )
        }

        /// Runs a query and decodes its first row into `T`, if there is one.
        pub fn fetch_optional_as<'a, T>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<Option<T>>
        where
            T: for<'r> $crate::FromRecord<'r>,
        {
            let (conn, rt) = self.parts();
            rt.block_on(
                concat!($name, "::fetch_optional_as"),
                conn.fetch_optional_as(query, params),
            )
        }

        /// Runs a query and returns its rows as an [`Iterator`] that reads them as they
        /// arrive, without buffering the result. Dropping it early is safe: the connection
        /// discards the rest before its next operation.
        ///
        /// ```no_run
        /// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
        /// for row in conn.fetch_iter("SELECT g FROM generate_series(1, 1000000) g", &[])? {
        ///     let g: i32 = row?.get(0);
        /// }
        /// # Ok(()) }
        /// ```
        pub fn fetch_iter<'a>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<$crate::blocking::RowIter<'_>> {
            let (conn, rt) = self.parts();
            let rows = rt.block_on(
                concat!($name, "::fetch_iter"),
                conn.fetch_stream(query, params),
            )?;
            Ok($crate::blocking::RowIter::new(rows, rt))
        }

        /// Runs a query and returns its rows decoded into `T` as an [`Iterator`] that reads
        /// them as they arrive; `T` is checked against the columns before the query runs.
        pub fn fetch_iter_as<'a, T>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<$crate::blocking::TypedRowIter<'_, T>>
        where
            T: for<'r> $crate::FromRecord<'r>,
        {
            let (conn, rt) = self.parts();
            let rows = rt.block_on(
                concat!($name, "::fetch_iter_as"),
                conn.fetch_stream_as::<T>(query, params),
            )?;
            Ok($crate::blocking::TypedRowIter::new(rows, rt))
        }

        /// Prepares a named statement (parameter types and result columns known); pass
        /// `&stmt` wherever SQL goes.
        pub fn prepare(&mut self, sql: &str) -> $crate::Result<$crate::Statement> {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::prepare"), conn.prepare(sql))
        }

        /// Runs one statement once per parameter set, pipelined, and returns the total rows
        /// affected; atomic outside a transaction.
        /// See [`Connection::execute_many`](crate::Connection::execute_many).
        pub fn execute_many<'a, I, P>(
            &mut self,
            query: impl $crate::IntoQuery<'a>,
            param_sets: I,
        ) -> $crate::Result<u64>
        where
            I: IntoIterator<Item = P>,
            P: $crate::ToRecord,
        {
            let (conn, rt) = self.parts();
            rt.block_on(
                concat!($name, "::execute_many"),
                conn.execute_many(query, param_sets),
            )
        }

        /// Declares a `WITH HOLD` cursor over `sql`: it needs no transaction and stays open
        /// across commits. See [`Connection::hold_cursor`](crate::Connection::hold_cursor).
        pub fn hold_cursor(
            &mut self,
            sql: &str,
            params: &[&(dyn $crate::Encode + Sync)],
        ) -> $crate::Result<$crate::blocking::HoldCursor<'_>> {
            let (conn, rt) = self.parts();
            let cursor = rt.block_on(
                concat!($name, "::hold_cursor"),
                conn.hold_cursor(sql, params),
            )?;
            Ok($crate::blocking::HoldCursor::new(cursor, rt))
        }

        /// Starts `COPY … FROM STDIN` and returns its data side, a [`std::io::Write`]; end
        /// it with [`CopyIn::finish`](crate::blocking::CopyIn::finish).
        pub fn copy_in(&mut self, sql: &str) -> $crate::Result<$crate::blocking::CopyIn<'_>> {
            let (conn, rt) = self.parts();
            let copy = rt.block_on(concat!($name, "::copy_in"), conn.copy_in(sql))?;
            Ok($crate::blocking::CopyIn::new(copy, rt))
        }

        /// Starts `COPY … TO STDOUT` and returns its data as a [`std::io::Read`].
        pub fn copy_out(&mut self, sql: &str) -> $crate::Result<$crate::blocking::CopyOut<'_>> {
            let (conn, rt) = self.parts();
            let copy = rt.block_on(concat!($name, "::copy_out"), conn.copy_out(sql))?;
            Ok($crate::blocking::CopyOut::new(copy, rt))
        }

        /// Copies `rows` into `table` with a binary COPY and returns the number of rows
        /// copied. See [`Connection::copy_in_rows`](crate::Connection::copy_in_rows).
        pub fn copy_in_rows<R, I>(
            &mut self,
            table: &str,
            columns: &[&str],
            rows: I,
        ) -> $crate::Result<u64>
        where
            R: $crate::ToRecord,
            I: IntoIterator<Item = R>,
        {
            let (conn, rt) = self.parts();
            rt.block_on(
                concat!($name, "::copy_in_rows"),
                conn.copy_in_rows(table, columns, rows),
            )
        }

        /// Runs `query` as a binary `COPY (query) TO STDOUT` and decodes every row into `T`.
        /// See [`Connection::copy_out_as`](crate::Connection::copy_out_as).
        pub fn copy_out_as<T>(&mut self, query: &str) -> $crate::Result<Vec<T>>
        where
            T: for<'r> $crate::FromRecord<'r>,
        {
            let (conn, rt) = self.parts();
            rt.block_on(concat!($name, "::copy_out_as"), conn.copy_out_as(query))
        }

        /// A token that cancels this connection's running statement from another thread.
        pub fn cancel_token(&self) -> $crate::blocking::CancelToken {
            $crate::blocking::CancelToken::new(self.connection().cancel_token())
        }

        /// Whether the connection is closed or was marked broken by an earlier failure.
        pub fn is_closed(&self) -> bool {
            self.connection().is_closed()
        }

        /// The server's transaction status as of the last reply.
        pub fn transaction_status(&self) -> $crate::TransactionStatus {
            self.connection().transaction_status()
        }

        /// The async connection underneath, for what needs no I/O and has no blocking form
        /// here (`backend_pid`, `parameter`, `server_version`, `on_notice`, …).
        pub fn as_async(&mut self) -> &mut $crate::Connection {
            self.parts().0
        }
    };
}

pub(crate) use query_methods;
