//! [`TuskQueryBuilder`]: PostgreSQL's sea-query backend, with value lists bound as one array.

use std::fmt::Write;

use sea_query::{
    ArrayType, BinOper, EscapeBuilder, ExplainStatement, ExplainableStatement, Expr, Func,
    OperLeftAssocDecider, OrderExpr, PostgresQueryBuilder, PrecedenceDecider, Query, QueryBuilder,
    Quote, QuotedBuilder, SelectDistinct, SelectInto, SelectStatement, SqlWriter, SqlWriterValues,
    SubQueryStatement, TableRefBuilder, Value, Values,
};

use crate::array_type::{ElementType, element_type};

/// A sea-query [`QueryBuilder`] that renders what [`PostgresQueryBuilder`] renders, except for
/// `IN` lists of plain values:
///
/// | sea-query | rendered |
/// |---|---|
/// | `expr IN (v1, …, vn)`, every `vi` a plain value of one variant | `expr = ANY($k::T[])` |
/// | `expr NOT IN (v1, …, vn)` | `expr <> ALL($k::T[])` |
/// | `expr IN ('a', …)`, `expr NOT IN ('a', …)`: strings | `expr = ANY($k)`, `expr <> ALL($k)`: no cast |
/// | `expr IN (CAST('ok' AS "mood"), …)`: sea-orm's enum values (`Expr::val(v).as_enum("mood")`) | `expr = ANY(CAST($k AS "mood"[]))` |
/// | `(a, b) IN ((1, 2.5), (2, 3.5))`, one variant per position, no strings | `(a, b) IN (SELECT * FROM unnest($1::int4[], $2::float8[]))` |
/// | `expr IN ()`, `expr NOT IN ()` | `1 = 2`, `1 = 1` (sea-query's truth values, written inline: its `$1 = $2` would reach the server as two text parameters) |
/// | columns, expressions, mixed variants, array values | unchanged (`IN (…)`) |
///
/// The list travels as one array parameter (`Value::Array` of the items' variant), so every
/// length is the same statement: one entry in the statement cache, one plan, and no limit at
/// 65,535 parameters. `x IN (1, NULL)` and `x = ANY('{1,NULL}')` have the same truth value in
/// every case (true, or NULL, never false), and so do `NOT IN` and `<> ALL`.
///
/// `T` follows from the items' [`Value`] variant; see [`crate::array_type`] for the table.
///
/// ```
/// use pgtusk_dialect::TuskQueryBuilder;
/// use pgtusk_dialect::sea_query::{Expr, ExprTrait, Query};
///
/// let (sql, values) = Query::select()
///     .column("name")
///     .from("users")
///     .and_where(Expr::col("id").is_in([3, 1, 4, 1, 5]))
///     .and_where(Expr::col("team").is_not_in(["red", "blue"]))
///     .build(TuskQueryBuilder::new());
/// assert_eq!(
///     sql,
///     r#"SELECT "name" FROM "users" WHERE "id" = ANY($1::int4[]) AND "team" <> ALL($2)"#
/// );
/// assert_eq!(values.0.len(), 2);
/// ```
///
/// # Strings compare in the left side's type
///
/// The cast decides which `=` operator runs, so strings get none: in `code IN ('a  ')` the
/// literal takes `code`'s type, and in `code = ANY($1)` the server gives `$1` the array of that
/// type (`bpchar[]` for a char(n) column, `citext[]`, a domain's base type) — char(n) ignores
/// trailing spaces, citext ignores case, exactly as `IN` does. `$1::text[]` would compare as
/// text. Row values with a string position keep `(a, b) IN (($1, $2), …)` for the same reason:
/// `unnest` needs its arrays typed.
///
/// [`TuskQueryBuilder::without_casts`] drops the casts of the other lists too: the server then
/// types every list from its left side, and the values are encoded for that type (an int4 list
/// against an int2 column is then an int2 list, and a value past int2's range an error).
///
/// Lists are rewritten wherever expressions go, `ORDER BY` included: `ORDER BY "id" =
/// ANY($1::int4[]) DESC NULLS LAST`, and `Order::Field`'s `CASE WHEN "id" = ANY($1::int4[])=TRUE
/// THEN 0 …`.
///
/// `EXPLAIN` is the exception: sea-query keeps the statement inside an [`ExplainStatement`]
/// private and renders it with [`PostgresQueryBuilder`], so
/// `explain.build(TuskQueryBuilder::new())` renders exactly as PostgresQueryBuilder does, lists
/// included. Use [`TuskQueryBuilder::build_explain`] instead: it takes the options and the
/// statement separately, and renders the statement with this builder.
#[derive(Debug, Clone, Copy)]
pub struct TuskQueryBuilder {
    casts: bool,
}

impl Default for TuskQueryBuilder {
    fn default() -> Self {
        TuskQueryBuilder { casts: true }
    }
}

impl TuskQueryBuilder {
    /// The builder with array casts (`= ANY($1::int4[])`) on every list but lists of strings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Render every list as `expr = ANY($k)` without a cast (lists of strings never have one):
    /// the server infers the array type from `expr`. Row-value lists keep their casts
    /// (`unnest` needs them).
    pub fn without_casts(self) -> Self {
        TuskQueryBuilder { casts: false }
    }

    /// Whether array parameters other than lists of strings carry a `::T[]` cast.
    pub fn casts(&self) -> bool {
        self.casts
    }

    /// `EXPLAIN` with the options of `options` around `statement` rendered by this builder, its
    /// lists rewritten. The statement inside `options`, if any, is ignored.
    ///
    /// `options.build(TuskQueryBuilder::new())` renders the statement inside as
    /// [`PostgresQueryBuilder`] does, lists included: sea-query keeps it private.
    ///
    /// ```
    /// use pgtusk_dialect::TuskQueryBuilder;
    /// use pgtusk_dialect::sea_query::{ExplainFormat, ExplainStatement, Expr, ExprTrait, Query};
    ///
    /// let (sql, values) = TuskQueryBuilder::new().build_explain(
    ///     &ExplainStatement::new().analyze().format(ExplainFormat::Json),
    ///     Query::select()
    ///         .column("name")
    ///         .from("users")
    ///         .and_where(Expr::col("id").is_in([3, 1, 4]))
    ///         .to_owned(),
    /// );
    /// assert_eq!(
    ///     sql,
    ///     r#"EXPLAIN (ANALYZE, FORMAT JSON) SELECT "name" FROM "users" WHERE "id" = ANY($1::int4[])"#
    /// );
    /// assert_eq!(values.0.len(), 1);
    /// ```
    pub fn build_explain(
        &self,
        options: &ExplainStatement,
        statement: impl Into<ExplainableStatement>,
    ) -> (String, Values) {
        let statement = statement.into();
        // A header that is not a prefix, or a statement kind newer than this code:
        // PostgresQueryBuilder's rendering, correct with its lists as they are.
        let postgres = |statement| {
            options
                .clone()
                .statement(statement)
                .build(PostgresQueryBuilder)
        };
        // The header (`EXPLAIN (…)`) as sea-query writes it: its rendering of an empty SELECT,
        // without that SELECT. The options are keywords, never parameters.
        let empty = Query::select();
        let (explained, _) = postgres(empty.clone().into());
        let (select, _) = empty.build(PostgresQueryBuilder);
        let Some(header) = explained
            .strip_suffix(select.as_str())
            .and_then(|h| h.strip_suffix(' '))
        else {
            return postgres(statement);
        };
        let (placeholder, numbered) = self.placeholder();
        let mut sql = SqlWriterValues::new(placeholder, numbered);
        sql.write_str(header).unwrap();
        sql.write_str(" ").unwrap();
        match &statement {
            ExplainableStatement::Select(s) => self.prepare_select_statement(s, &mut sql),
            ExplainableStatement::Insert(s) => self.prepare_insert_statement(s, &mut sql),
            ExplainableStatement::Update(s) => self.prepare_update_statement(s, &mut sql),
            ExplainableStatement::Delete(s) => self.prepare_delete_statement(s, &mut sql),
            _ => return postgres(statement),
        }
        sql.into_parts()
    }

    /// `left IN (items)` as `left = ANY($k::T[])` (strings: `ANY($k)`), if the items qualify;
    /// items that are all `CAST(value AS "mood")` (sea-orm's enum values) as
    /// `left = ANY(CAST($k AS "mood"[]))`.
    fn try_any(&self, left: &Expr, op: BinOper, items: &[Expr], sql: &mut impl SqlWriter) -> bool {
        // The array's type: the element type of plain values, or the enum's name.
        let (ty, values) = match enum_cast_values(items) {
            Some((name, values)) => (Err(name), values),
            None => match uniform_values(items) {
                Some((ty, values)) => (Ok(ty), values),
                None => return false,
            },
        };
        let paren = !(self.inner_expr_well_known_greater_precedence(left, &op.into())
            && self.inner_expr_well_known_greater_precedence(left, &BinOper::Equal.into()));
        if paren {
            sql.write_str("(").unwrap();
        }
        self.prepare_expr(left, sql);
        if paren {
            sql.write_str(")").unwrap();
        }
        sql.write_str(if op == BinOper::In {
            " = ANY("
        } else {
            " <> ALL("
        })
        .unwrap();
        match ty {
            Ok(ty) => {
                // Strings take the left side's type, as inline literals do (see
                // `crate::array_type`).
                let cast = self.casts && !ty.takes_left_type();
                self.push_array(ty, values, cast, sql);
            }
            Err(name) => {
                sql.write_str("CAST(").unwrap();
                sql.push_param(
                    Value::Array(ArrayType::String, Some(Box::new(values))),
                    self,
                );
                let q = self.quote();
                write!(sql, " AS {}{name}{}[])", q.left(), q.right()).unwrap();
            }
        }
        sql.write_str(")").unwrap();
        true
    }

    /// `(a, b) IN ((1, 'x'), …)` as `(a, b) IN (SELECT * FROM unnest($1::T1[], $2::T2[]))`.
    fn try_unnest(
        &self,
        left: &Expr,
        op: BinOper,
        rows: &[Expr],
        sql: &mut impl SqlWriter,
    ) -> bool {
        let Expr::Tuple(cols) = left else {
            return false;
        };
        let width = cols.len();
        if width < 2 || rows.is_empty() {
            return false;
        }
        let mut columns: Vec<Vec<Expr>> = vec![Vec::with_capacity(rows.len()); width];
        for row in rows {
            let Expr::Values(vals) = row else {
                return false;
            };
            if vals.len() != width {
                return false;
            }
            for (col, v) in columns.iter_mut().zip(vals) {
                col.push(Expr::Value(v.clone()));
            }
        }
        let mut typed = Vec::with_capacity(width);
        for col in &columns {
            match uniform_values(col) {
                // `unnest` needs every array's type, but strings must take their column's
                // type, which only the server knows: `(a, b) IN (($1, $2), …)` keeps it.
                Some((ty, _)) if ty.takes_left_type() => return false,
                Some(t) => typed.push(t),
                None => return false,
            }
        }
        self.prepare_expr(left, sql);
        sql.write_str(if op == BinOper::In {
            " IN "
        } else {
            " NOT IN "
        })
        .unwrap();
        sql.write_str("(SELECT * FROM unnest(").unwrap();
        for (i, (ty, values)) in typed.into_iter().enumerate() {
            if i > 0 {
                sql.write_str(", ").unwrap();
            }
            self.push_array(ty, values, true, sql);
        }
        sql.write_str("))").unwrap();
        true
    }

    fn push_array(
        &self,
        ty: ElementType,
        values: Vec<Value>,
        cast: bool,
        sql: &mut impl SqlWriter,
    ) {
        match ty.enum_name {
            // Enum labels travel as text[] and the server casts them to the enum's array type.
            Some(name) => {
                sql.push_param(
                    Value::Array(ArrayType::String, Some(Box::new(values))),
                    self,
                );
                if cast {
                    write!(sql, "::text[]::\"{}\"[]", name.replace('"', "\"\"")).unwrap();
                }
            }
            None => {
                sql.push_param(Value::Array(ty.array_type, Some(Box::new(values))), self);
                if cast {
                    write!(sql, "::{}[]", ty.sql_name).unwrap();
                }
            }
        }
    }
}

/// The type name and the labels of items that are all `CAST(value AS "name")` of one enum type
/// `name` (sea-orm's ActiveEnum values: `Expr::val("ok").as_enum("mood")`), the values strings,
/// enum values or NULLs of either; `None` otherwise.
fn enum_cast_values(items: &[Expr]) -> Option<(String, Vec<Value>)> {
    let mut name: Option<std::borrow::Cow<'static, str>> = None;
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let Expr::AsEnum(ty, inner) = item else {
            return None;
        };
        let ty = ty.inner();
        match &name {
            // `mood[]` casts an array: not a list of labels.
            None if ty.ends_with("[]") => return None,
            None => name = Some(ty),
            Some(n) if *n == ty => {}
            Some(_) => return None,
        }
        values.push(match inner.as_ref() {
            Expr::Value(Value::String(s)) => Value::String(s.clone()),
            Expr::Value(Value::Enum(sea_query::OptionEnum::Some(e))) => {
                Value::String(Some(e.value.to_string()))
            }
            Expr::Value(Value::Enum(sea_query::OptionEnum::None(_))) => Value::String(None),
            _ => return None,
        });
    }
    Some((name?.into_owned(), values))
}

/// The items as values of one scalar variant, with their element type; `None` otherwise.
fn uniform_values(items: &[Expr]) -> Option<(ElementType, Vec<Value>)> {
    let first = match items.first()? {
        Expr::Value(v) => v,
        _ => return None,
    };
    let ty = element_type(first)?;
    let disc = std::mem::discriminant(first);
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let Expr::Value(v) = item else {
            return None;
        };
        if std::mem::discriminant(v) != disc {
            return None;
        }
        if let (Some(a), Some(b)) = (&ty.enum_name, element_type(v).and_then(|t| t.enum_name)) {
            if *a != b {
                return None;
            }
        }
        values.push(match v {
            Value::Enum(sea_query::OptionEnum::Some(e)) => Value::String(Some(e.value.to_string())),
            Value::Enum(sea_query::OptionEnum::None(_)) => Value::String(None),
            other => other.clone(),
        });
    }
    Some((ty, values))
}

/// The [`QueryBuilder`] methods that [`TuskQueryBuilder`] takes from [`PostgresQueryBuilder`]
/// unchanged, each delegated to `self.$to()`: TuskQueryBuilder delegates them to
/// PostgresQueryBuilder, [`DefaultOrder`] to TuskQueryBuilder.
macro_rules! postgres_methods {
    ($to:ident) => {
        fn placeholder(&self) -> (&'static str, bool) {
            self.$to().placeholder()
        }

        fn write_value(&self, buf: &mut impl Write, value: &Value) -> std::fmt::Result {
            self.$to().write_value(buf, value)
        }

        fn prepare_select_distinct(
            &self,
            select_distinct: &SelectDistinct,
            sql: &mut impl SqlWriter,
        ) {
            self.$to().prepare_select_distinct(select_distinct, sql)
        }

        fn prepare_select_into(&self, into_table: &SelectInto, sql: &mut impl SqlWriter) {
            self.$to().prepare_select_into(into_table, sql)
        }

        fn prepare_bin_oper(&self, bin_oper: &BinOper, sql: &mut impl SqlWriter) {
            self.$to().prepare_bin_oper(bin_oper, sql)
        }

        fn prepare_explain_statement(&self, explain: &ExplainStatement, sql: &mut impl SqlWriter) {
            self.$to().prepare_explain_statement(explain, sql)
        }

        fn prepare_function_name(&self, function: &Func, sql: &mut impl SqlWriter) {
            self.$to().prepare_function_name(function, sql)
        }

        fn prepare_table_sample(&self, select: &SelectStatement, sql: &mut impl SqlWriter) {
            self.$to().prepare_table_sample(select, sql)
        }

        // Enum values and enum arrays get a type hint; the rest is a plain parameter.
        // PostgresQueryBuilder pushes the parameter itself, with the same numbering.
        fn prepare_value(&self, value: Value, sql: &mut impl SqlWriter) {
            self.$to().prepare_value(value, sql)
        }

        fn write_string_quoted(&self, string: &str, buffer: &mut impl Write) {
            self.$to().write_string_quoted(string, buffer)
        }

        fn write_bytes(&self, bytes: &[u8], buffer: &mut impl Write) {
            self.$to().write_bytes(bytes, buffer)
        }
    };
}

/// The supertraits of [`QueryBuilder`] for `$ty`, every method delegated to `self.$to()`.
macro_rules! supertraits {
    ($ty:ty, $to:ident) => {
        impl QuotedBuilder for $ty {
            fn quote(&self) -> Quote {
                self.$to().quote()
            }
        }

        impl EscapeBuilder for $ty {
            fn needs_escape(&self, s: &str) -> bool {
                self.$to().needs_escape(s)
            }

            fn write_escaped(&self, buffer: &mut impl Write, string: &str) {
                self.$to().write_escaped(buffer, string)
            }

            fn unescape_string(&self, string: &str) -> String {
                self.$to().unescape_string(string)
            }
        }

        impl TableRefBuilder for $ty {}

        impl OperLeftAssocDecider for $ty {
            fn well_known_left_associative(&self, op: &BinOper) -> bool {
                self.$to().well_known_left_associative(op)
            }
        }

        impl PrecedenceDecider for $ty {
            fn inner_expr_well_known_greater_precedence(
                &self,
                inner: &Expr,
                outer_oper: &sea_query::Oper,
            ) -> bool {
                self.$to()
                    .inner_expr_well_known_greater_precedence(inner, outer_oper)
            }
        }
    };
}

impl TuskQueryBuilder {
    fn postgres(&self) -> PostgresQueryBuilder {
        PostgresQueryBuilder
    }
}

impl QueryBuilder for TuskQueryBuilder {
    postgres_methods!(postgres);

    fn prepare_expr(&self, simple_expr: &Expr, sql: &mut impl SqlWriter) {
        match simple_expr {
            Expr::Binary(left, op @ (BinOper::In | BinOper::NotIn), right) => {
                if let Expr::Tuple(items) = right.as_ref() {
                    if items.is_empty() {
                        // sea-query writes `$1 = $2` with two int parameters, which the server
                        // types as text; written inline the truth value needs no parameters.
                        sql.write_str(if *op == BinOper::In { "1 = 2" } else { "1 = 1" })
                            .unwrap();
                        return;
                    }
                    if self.try_any(left, *op, items, sql) || self.try_unnest(left, *op, items, sql)
                    {
                        return;
                    }
                }
                self.prepare_expr_common(simple_expr, sql)
            }
            // PostgresQueryBuilder's rendering of a cast to an enum type, with our builder inside.
            Expr::AsEnum(type_name, expr) => {
                sql.write_str("CAST(").unwrap();
                self.prepare_expr_common(expr, sql);
                let type_name = type_name.inner();
                let (ty, sfx) = match type_name.strip_suffix("[]") {
                    Some(base) => (base, "[]"),
                    None => (type_name.as_ref(), ""),
                };
                let q = self.quote();
                sql.write_str(" AS ").unwrap();
                sql.write_char(q.left()).unwrap();
                sql.write_str(ty).unwrap();
                sql.write_char(q.right()).unwrap();
                sql.write_str(sfx).unwrap();
                sql.write_char(')').unwrap();
            }
            _ => self.prepare_expr_common(simple_expr, sql),
        }
    }

    fn prepare_query_statement(&self, query: &SubQueryStatement, sql: &mut impl SqlWriter) {
        match query {
            SubQueryStatement::SelectStatement(s) => self.prepare_select_statement(s, sql),
            SubQueryStatement::InsertStatement(s) => self.prepare_insert_statement(s, sql),
            SubQueryStatement::UpdateStatement(s) => self.prepare_update_statement(s, sql),
            SubQueryStatement::DeleteStatement(s) => self.prepare_delete_statement(s, sql),
            SubQueryStatement::WithStatement(s) => self.prepare_with_query(s, sql),
        }
    }

    fn prepare_order_expr(&self, order_expr: &OrderExpr, sql: &mut impl SqlWriter) {
        // OrderExpr's fields are private to sea-query. PostgresQueryBuilder's rendering, into a
        // scratch writer, tells the order (it ends in ` ASC`, ` DESC`, or `CASE … END` for
        // `Order::Field`) and the null ordering (` NULLS LAST`, ` NULLS FIRST` after it).
        let mut scratch = SqlWriterValues::new("$", true);
        PostgresQueryBuilder.prepare_order_expr(order_expr, &mut scratch);
        let postgres = scratch.into_parts().0;
        let (order, nulls) = [" NULLS LAST", " NULLS FIRST"]
            .into_iter()
            .find_map(|nulls| Some((postgres.strip_suffix(nulls)?, nulls)))
            .unwrap_or((&postgres, ""));
        let field = !(order.ends_with(" ASC") || order.ends_with(" DESC"));
        // The trait's rendering (expression and order, no null ordering), with this builder.
        DefaultOrder { tusk: self, field }.prepare_order_expr(order_expr, sql);
        sql.write_str(nulls).unwrap();
    }

    fn if_null_function(&self) -> &str {
        "COALESCE"
    }
}

supertraits!(TuskQueryBuilder, postgres);

/// [`TuskQueryBuilder`] with sea-query's default `prepare_order_expr`, which is
/// PostgresQueryBuilder's without the null ordering: everything else is TuskQueryBuilder's, so
/// the expression inside renders with the list rewrites.
struct DefaultOrder<'a> {
    tusk: &'a TuskQueryBuilder,
    /// `Order::Field`: the expression is written as `CASE WHEN expr=value …`.
    field: bool,
}

impl DefaultOrder<'_> {
    fn tusk(&self) -> &TuskQueryBuilder {
        self.tusk
    }
}

impl QueryBuilder for DefaultOrder<'_> {
    postgres_methods!(tusk);

    fn prepare_expr(&self, simple_expr: &Expr, sql: &mut impl SqlWriter) {
        // `Order::Field` writes `CASE WHEN expr=value …`. `x = ANY($1)=TRUE` parses as
        // `(x = ANY($1)) = TRUE`, as `x IN ($1, $2)=TRUE` does, but an empty list's `1 = 2=TRUE`
        // is a syntax error (`=` does not associate): at the end of the expression it goes in
        // parentheses.
        match self
            .field
            .then(|| parenthesize_last_empty_list(simple_expr))
            .flatten()
        {
            Some(expr) => self.tusk.prepare_expr(&expr, sql),
            None => self.tusk.prepare_expr(simple_expr, sql),
        }
    }

    fn prepare_query_statement(&self, query: &SubQueryStatement, sql: &mut impl SqlWriter) {
        self.tusk.prepare_query_statement(query, sql)
    }

    fn if_null_function(&self) -> &str {
        self.tusk.if_null_function()
    }
}

supertraits!(DefaultOrder<'_>, tusk);

/// `expr` with the empty list at its right end in parentheses (a one-item tuple: `(1 = 2)`);
/// `None` if there is none. A list is at the right end of the expression, or of the right
/// operand of a binary operator, or of the operand of a unary one (if the renderer wraps that
/// operand in parentheses, this is one more pair).
fn parenthesize_last_empty_list(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::Binary(_, BinOper::In | BinOper::NotIn, right) if is_empty_tuple(right) => {
            Some(Expr::Tuple(vec![expr.clone()]))
        }
        Expr::Binary(left, op, right) => {
            let right = parenthesize_last_empty_list(right)?;
            Some(Expr::Binary(left.clone(), *op, Box::new(right)))
        }
        Expr::Unary(op, operand) => {
            let operand = parenthesize_last_empty_list(operand)?;
            Some(Expr::Unary(*op, Box::new(operand)))
        }
        _ => None,
    }
}

fn is_empty_tuple(expr: &Expr) -> bool {
    matches!(expr, Expr::Tuple(items) if items.is_empty())
}
