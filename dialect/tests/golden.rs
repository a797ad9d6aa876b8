//! Golden tests: TuskQueryBuilder renders what PostgresQueryBuilder renders, except for IN
//! lists of values, and both renderings return the same rows on a real server.

mod common;

use pgtusk_dialect::sea_query::{
    Asterisk, CaseStatement, CommonTableExpression, Cond, ExplainFormat, ExplainStatement,
    ExplainableStatement, Expr, ExprTrait, Func, JoinType, NullOrdering, OnConflict, Order,
    PostgresQueryBuilder, Query, QueryStatementWriter, SelectStatement, UnionType, Values,
    WindowStatement, WithClause,
};
use pgtusk_dialect::{TuskQueryBuilder, bind};

const SCHEMA: &str = "
CREATE TEMP TABLE teams (id int4 PRIMARY KEY, title text NOT NULL);
CREATE TEMP TABLE users (id int4 PRIMARY KEY, name text NOT NULL, age int4, team_id int4, score float8);
INSERT INTO teams VALUES (1, 'red'), (2, 'blue'), (3, 'green');
INSERT INTO users VALUES
  (1, 'ann', 31, 1, 1.5), (2, 'bob', NULL, 1, 2.5), (3, 'cid', 45, 2, NULL),
  (4, 'dee', 22, NULL, 4.0), (5, 'eve', 31, 3, 5.5);
";

struct Case {
    name: &'static str,
    /// Built by PostgresQueryBuilder, TuskQueryBuilder, and TuskQueryBuilder without casts.
    built: [(String, Values); 3],
    pg: &'static str,
    tusk: &'static str,
    /// Whether the renderings return the same rows (`EXPLAIN ANALYZE` timings differ).
    same_rows: bool,
}

fn case(
    name: &'static str,
    stmt: impl QueryStatementWriter,
    pg: &'static str,
    tusk: &'static str,
) -> Case {
    Case {
        name,
        built: [
            stmt.build(PostgresQueryBuilder),
            stmt.build(TuskQueryBuilder::new()),
            stmt.build(TuskQueryBuilder::new().without_casts()),
        ],
        pg,
        tusk,
        same_rows: true,
    }
}

/// `EXPLAIN` with `options` around `stmt`: sea-query's own rendering by PostgresQueryBuilder,
/// and [`TuskQueryBuilder::build_explain`] with and without casts.
fn explain_case(
    name: &'static str,
    options: ExplainStatement,
    stmt: impl Into<ExplainableStatement> + Clone,
    pg: &'static str,
    tusk: &'static str,
) -> Case {
    Case {
        name,
        built: [
            options
                .clone()
                .statement(stmt.clone())
                .build(PostgresQueryBuilder),
            TuskQueryBuilder::new().build_explain(&options, stmt.clone()),
            TuskQueryBuilder::new()
                .without_casts()
                .build_explain(&options, stmt),
        ],
        pg,
        tusk,
        same_rows: false,
    }
}

fn users_in_teams() -> SelectStatement {
    Query::select()
        .column("id")
        .from("users")
        .and_where(Expr::col("team_id").is_in([1, 2]))
        .to_owned()
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "select where in",
            Query::select()
                .columns(["id", "name"])
                .from("users")
                .and_where(Expr::col("id").is_in([1, 3, 5]))
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id", "name" FROM "users" WHERE "id" IN ($1, $2, $3) ORDER BY "id" ASC"#,
            r#"SELECT "id", "name" FROM "users" WHERE "id" = ANY($1::int4[]) ORDER BY "id" ASC"#,
        ),
        case(
            "select where not in with text",
            Query::select()
                .column("id")
                .from("users")
                .and_where(Expr::col("name").is_not_in(["ann", "bob"]))
                .and_where(Expr::col("age").gt(20))
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE "name" NOT IN ($1, $2) AND "age" > $3 ORDER BY "id" ASC"#,
            r#"SELECT "id" FROM "users" WHERE "name" <> ALL($1) AND "age" > $2 ORDER BY "id" ASC"#,
        ),
        case(
            "join on with a list",
            Query::select()
                .column(("users", "name"))
                .column(("teams", "title"))
                .from("users")
                .join(
                    JoinType::InnerJoin,
                    "teams",
                    Cond::all()
                        .add(Expr::col(("users", "team_id")).equals(("teams", "id")))
                        .add(Expr::col(("teams", "title")).is_in(["red", "green"])),
                )
                .order_by(("users", "id"), Order::Asc)
                .to_owned(),
            r#"SELECT "users"."name", "teams"."title" FROM "users" INNER JOIN "teams" ON "users"."team_id" = "teams"."id" AND "teams"."title" IN ($1, $2) ORDER BY "users"."id" ASC"#,
            r#"SELECT "users"."name", "teams"."title" FROM "users" INNER JOIN "teams" ON "users"."team_id" = "teams"."id" AND "teams"."title" = ANY($1) ORDER BY "users"."id" ASC"#,
        ),
        case(
            "subquery in where",
            Query::select()
                .column("title")
                .from("teams")
                .and_where(
                    Expr::col("id").in_subquery(
                        Query::select()
                            .column("team_id")
                            .from("users")
                            .and_where(Expr::col("age").is_in([31, 45]))
                            .to_owned(),
                    ),
                )
                .order_by("title", Order::Asc)
                .to_owned(),
            r#"SELECT "title" FROM "teams" WHERE "id" IN (SELECT "team_id" FROM "users" WHERE "age" IN ($1, $2)) ORDER BY "title" ASC"#,
            r#"SELECT "title" FROM "teams" WHERE "id" IN (SELECT "team_id" FROM "users" WHERE "age" = ANY($1::int4[])) ORDER BY "title" ASC"#,
        ),
        case(
            "cte",
            Query::select()
                .column("id")
                .from("picked")
                .order_by("id", Order::Desc)
                .to_owned()
                .with(
                    WithClause::new()
                        .cte(
                            CommonTableExpression::new()
                                .query(users_in_teams())
                                .table_name("picked")
                                .to_owned(),
                        )
                        .to_owned(),
                ),
            r#"WITH "picked" AS (SELECT "id" FROM "users" WHERE "team_id" IN ($1, $2)) SELECT "id" FROM "picked" ORDER BY "id" DESC"#,
            r#"WITH "picked" AS (SELECT "id" FROM "users" WHERE "team_id" = ANY($1::int4[])) SELECT "id" FROM "picked" ORDER BY "id" DESC"#,
        ),
        case(
            "window",
            Query::select()
                .column("id")
                .expr_window_as(
                    Func::sum(Expr::col("age")),
                    WindowStatement::partition_by("team_id"),
                    "team_age",
                )
                .from("users")
                .and_where(Expr::col("id").is_in([1, 2, 3]))
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id", SUM("age") OVER ( PARTITION BY "team_id" ) AS "team_age" FROM "users" WHERE "id" IN ($1, $2, $3) ORDER BY "id" ASC"#,
            r#"SELECT "id", SUM("age") OVER ( PARTITION BY "team_id" ) AS "team_age" FROM "users" WHERE "id" = ANY($1::int4[]) ORDER BY "id" ASC"#,
        ),
        case(
            "case",
            Query::select()
                .column("id")
                .expr_as(
                    CaseStatement::new()
                        .case(Expr::col("age").is_in([31, 22]), "listed")
                        .finally("other"),
                    "label",
                )
                .from("users")
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id", (CASE WHEN ("age" IN ($1, $2)) THEN $3 ELSE $4 END) AS "label" FROM "users" ORDER BY "id" ASC"#,
            r#"SELECT "id", (CASE WHEN ("age" = ANY($1::int4[])) THEN $2 ELSE $3 END) AS "label" FROM "users" ORDER BY "id" ASC"#,
        ),
        case(
            "group by having",
            Query::select()
                .column("team_id")
                .expr_as(Func::count(Expr::col(Asterisk)), "n")
                .from("users")
                .group_by_col("team_id")
                .and_having(Func::count(Expr::col(Asterisk)).is_in([1i64, 2]))
                .order_by("team_id", Order::Asc)
                .to_owned(),
            r#"SELECT "team_id", COUNT(*) AS "n" FROM "users" GROUP BY "team_id" HAVING COUNT(*) IN ($1, $2) ORDER BY "team_id" ASC"#,
            r#"SELECT "team_id", COUNT(*) AS "n" FROM "users" GROUP BY "team_id" HAVING COUNT(*) = ANY($1::int8[]) ORDER BY "team_id" ASC"#,
        ),
        case(
            "union",
            Query::select()
                .column("id")
                .from("users")
                .and_where(Expr::col("id").is_in([1, 2]))
                .union(UnionType::All, users_in_teams())
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE "id" IN ($1, $2) UNION ALL (SELECT "id" FROM "users" WHERE "team_id" IN ($3, $4))"#,
            r#"SELECT "id" FROM "users" WHERE "id" = ANY($1::int4[]) UNION ALL (SELECT "id" FROM "users" WHERE "team_id" = ANY($2::int4[]))"#,
        ),
        case(
            "mixed items keep in",
            Query::select()
                .column("id")
                .from("users")
                .and_where(Expr::col("id").is_in([Expr::val(1), Expr::col("age")]))
                .and_where(Expr::col("name").is_in([Expr::val("ann"), Expr::val('e')]))
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE "id" IN ($1, "age") AND "name" IN ($2, $3) ORDER BY "id" ASC"#,
            r#"SELECT "id" FROM "users" WHERE "id" IN ($1, "age") AND "name" IN ($2, $3) ORDER BY "id" ASC"#,
        ),
        case(
            "empty list",
            Query::select()
                .column("id")
                .from("users")
                .and_where(Expr::col("id").is_in(Vec::<i32>::new()))
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE $1 = $2"#,
            r#"SELECT "id" FROM "users" WHERE 1 = 2"#,
        ),
        case(
            "row values",
            Query::select()
                .column("id")
                .from("users")
                .and_where(
                    Expr::tuple([Expr::col("id"), Expr::col("score")]).in_tuples([
                        (1, 1.5),
                        (2, 9.0),
                        (5, 5.5),
                    ]),
                )
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE ("id", "score") IN (($1, $2), ($3, $4), ($5, $6)) ORDER BY "id" ASC"#,
            r#"SELECT "id" FROM "users" WHERE ("id", "score") IN (SELECT * FROM unnest($1::int4[], $2::float8[])) ORDER BY "id" ASC"#,
        ),
        case(
            "row values with strings keep IN",
            Query::select()
                .column("id")
                .from("users")
                .and_where(
                    Expr::tuple([Expr::col("id"), Expr::col("name")]).in_tuples([
                        (1, "ann".to_owned()),
                        (2, "zed".to_owned()),
                        (3, "cid".to_owned()),
                    ]),
                )
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE ("id", "name") IN (($1, $2), ($3, $4), ($5, $6)) ORDER BY "id" ASC"#,
            r#"SELECT "id" FROM "users" WHERE ("id", "name") IN (($1, $2), ($3, $4), ($5, $6)) ORDER BY "id" ASC"#,
        ),
        case(
            "from subquery and an expression on the left",
            Query::select()
                .column("id")
                .from_subquery(
                    Query::select()
                        .columns(["id", "age"])
                        .from("users")
                        .and_where(Expr::col("id").is_in([1, 2, 3, 5]))
                        .to_owned(),
                    "u",
                )
                .and_where(Expr::col("age").add(1).is_in([32, 46]))
                .and_where(Expr::col("id").is_in([3, 4]).not())
                .to_owned(),
            r#"SELECT "id" FROM (SELECT "id", "age" FROM "users" WHERE "id" IN ($1, $2, $3, $4)) AS "u" WHERE "age" + $5 IN ($6, $7) AND (NOT "id" IN ($8, $9))"#,
            r#"SELECT "id" FROM (SELECT "id", "age" FROM "users" WHERE "id" = ANY($1::int4[])) AS "u" WHERE "age" + $2 = ANY($3::int4[]) AND (NOT "id" = ANY($4::int4[]))"#,
        ),
        case(
            "nulls in the list and on the left",
            Query::select()
                .column("id")
                .expr_as(Expr::col("age").is_in([Some(31), None]), "r")
                .expr_as(Expr::col("age").is_not_in([Some(31), None]), "s")
                .from("users")
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id", "age" IN ($1, $2) AS "r", "age" NOT IN ($3, $4) AS "s" FROM "users" ORDER BY "id" ASC"#,
            r#"SELECT "id", "age" = ANY($1::int4[]) AS "r", "age" <> ALL($2::int4[]) AS "s" FROM "users" ORDER BY "id" ASC"#,
        ),
        case(
            "insert on conflict where returning",
            Query::insert()
                .into_table("teams")
                .columns(["id", "title"])
                .values_panic([2.into(), "navy".into()])
                .values_panic([9.into(), "gold".into()])
                .on_conflict(
                    OnConflict::column("id")
                        .update_column("title")
                        .action_and_where(Expr::col(("teams", "id")).is_in([2, 3]))
                        .to_owned(),
                )
                .returning(Query::returning().expr(Expr::col("id").is_in([9, 10])))
                .to_owned(),
            r#"INSERT INTO "teams" ("id", "title") VALUES ($1, $2), ($3, $4) ON CONFLICT ("id") DO UPDATE SET "title" = "excluded"."title" WHERE "teams"."id" IN ($5, $6) RETURNING "id" IN ($7, $8)"#,
            r#"INSERT INTO "teams" ("id", "title") VALUES ($1, $2), ($3, $4) ON CONFLICT ("id") DO UPDATE SET "title" = "excluded"."title" WHERE "teams"."id" = ANY($5::int4[]) RETURNING "id" = ANY($6::int4[])"#,
        ),
        case(
            "update",
            Query::update()
                .table("users")
                .value("score", Expr::col("score").add(1.0))
                .and_where(Expr::col("id").is_in([1, 2]))
                .returning(Query::returning().columns(["id", "score"]))
                .to_owned(),
            r#"UPDATE "users" SET "score" = "score" + $1 WHERE "id" IN ($2, $3) RETURNING "id", "score""#,
            r#"UPDATE "users" SET "score" = "score" + $1 WHERE "id" = ANY($2::int4[]) RETURNING "id", "score""#,
        ),
        case(
            "delete",
            Query::delete()
                .from_table("users")
                .and_where(Expr::col("id").is_not_in([1, 2, 3]))
                .and_where(Expr::col("team_id").is_in([3]))
                .returning_col("id")
                .to_owned(),
            r#"DELETE FROM "users" WHERE "id" NOT IN ($1, $2, $3) AND "team_id" IN ($4) RETURNING "id""#,
            r#"DELETE FROM "users" WHERE "id" <> ALL($1::int4[]) AND "team_id" = ANY($2::int4[]) RETURNING "id""#,
        ),
        case(
            "order by a list",
            Query::select()
                .column("id")
                .from("users")
                .order_by_expr(Expr::col("team_id").is_in([1, 3]), Order::Desc)
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id" FROM "users" ORDER BY "team_id" IN ($1, $2) DESC, "id" ASC"#,
            r#"SELECT "id" FROM "users" ORDER BY "team_id" = ANY($1::int4[]) DESC, "id" ASC"#,
        ),
        case(
            "order by lists with nulls first and last",
            Query::select()
                .column("id")
                .from("users")
                .and_where(Expr::col("id").is_in([1, 2, 3, 4, 5]))
                .order_by_expr_with_nulls(
                    Expr::col("age").is_not_in([31, 22]),
                    Order::Asc,
                    NullOrdering::First,
                )
                .order_by_expr_with_nulls(
                    Expr::col("team_id").is_in([1, 3]),
                    Order::Desc,
                    NullOrdering::Last,
                )
                .order_by("id", Order::Desc)
                .to_owned(),
            r#"SELECT "id" FROM "users" WHERE "id" IN ($1, $2, $3, $4, $5) ORDER BY "age" NOT IN ($6, $7) ASC NULLS FIRST, "team_id" IN ($8, $9) DESC NULLS LAST, "id" DESC"#,
            r#"SELECT "id" FROM "users" WHERE "id" = ANY($1::int4[]) ORDER BY "age" <> ALL($2::int4[]) ASC NULLS FIRST, "team_id" = ANY($3::int4[]) DESC NULLS LAST, "id" DESC"#,
        ),
        case(
            "order by field of a list",
            Query::select()
                .column("id")
                .from("users")
                .order_by_expr(
                    Expr::col("team_id").is_in([1, 3]),
                    Order::Field(Values(vec![false.into(), true.into()])),
                )
                .order_by_expr_with_nulls(
                    Expr::col("age").is_not_in([31]),
                    Order::Field(Values(vec![true.into()])),
                    NullOrdering::First,
                )
                .order_by_expr(
                    Expr::col("id").is_in([Expr::val(2), Expr::col("age")]),
                    Order::Field(Values(vec![true.into()])),
                )
                .order_by_expr(
                    Expr::col("age")
                        .gt(25)
                        .and(Expr::col("team_id").is_not_in([2, 3]).not()),
                    Order::Field(Values(vec![false.into()])),
                )
                .order_by_expr(
                    Expr::col("team_id").is_in([1]).not(),
                    Order::Field(Values(vec![true.into()])),
                )
                .order_by("id", Order::Field(Values(vec![5.into(), 1.into()])))
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id" FROM "users" ORDER BY CASE WHEN "team_id" IN ($1, $2)=FALSE THEN 0 WHEN "team_id" IN ($3, $4)=TRUE THEN 1 ELSE 2 END, CASE WHEN "age" NOT IN ($5)=TRUE THEN 0 ELSE 1 END NULLS FIRST, CASE WHEN "id" IN ($6, "age")=TRUE THEN 0 ELSE 1 END, CASE WHEN "age" > $7 AND (NOT "team_id" NOT IN ($8, $9))=FALSE THEN 0 ELSE 1 END, CASE WHEN NOT "team_id" IN ($10)=TRUE THEN 0 ELSE 1 END, CASE WHEN "id"=5 THEN 0 WHEN "id"=1 THEN 1 ELSE 2 END, "id" ASC"#,
            r#"SELECT "id" FROM "users" ORDER BY CASE WHEN "team_id" = ANY($1::int4[])=FALSE THEN 0 WHEN "team_id" = ANY($2::int4[])=TRUE THEN 1 ELSE 2 END, CASE WHEN "age" <> ALL($3::int4[])=TRUE THEN 0 ELSE 1 END NULLS FIRST, CASE WHEN "id" IN ($4, "age")=TRUE THEN 0 ELSE 1 END, CASE WHEN "age" > $5 AND (NOT "team_id" <> ALL($6::int4[]))=FALSE THEN 0 ELSE 1 END, CASE WHEN NOT "team_id" = ANY($7::int4[])=TRUE THEN 0 ELSE 1 END, CASE WHEN "id"=5 THEN 0 WHEN "id"=1 THEN 1 ELSE 2 END, "id" ASC"#,
        ),
        case(
            "window order by a list",
            Query::select()
                .column("id")
                .expr_window_as(
                    Func::sum(Expr::col("age")),
                    WindowStatement::partition_by("team_id")
                        .order_by_expr(Expr::col("id").is_in([1, 3]), Order::Desc)
                        .order_by("id", Order::Asc)
                        .to_owned(),
                    "running",
                )
                .from("users")
                .order_by("id", Order::Asc)
                .to_owned(),
            r#"SELECT "id", SUM("age") OVER ( PARTITION BY "team_id" ORDER BY "id" IN ($1, $2) DESC, "id" ASC ) AS "running" FROM "users" ORDER BY "id" ASC"#,
            r#"SELECT "id", SUM("age") OVER ( PARTITION BY "team_id" ORDER BY "id" = ANY($1::int4[]) DESC, "id" ASC ) AS "running" FROM "users" ORDER BY "id" ASC"#,
        ),
        explain_case(
            "explain select",
            ExplainStatement::new(),
            users_in_teams(),
            r#"EXPLAIN SELECT "id" FROM "users" WHERE "team_id" IN ($1, $2)"#,
            r#"EXPLAIN SELECT "id" FROM "users" WHERE "team_id" = ANY($1::int4[])"#,
        ),
        explain_case(
            "explain analyze select, json, not verbose",
            ExplainStatement::new()
                .analyze()
                .verbose(false)
                .format(ExplainFormat::Json),
            Query::select()
                .columns(["id", "name"])
                .from("users")
                .and_where(Expr::col("name").is_not_in(["ann", "eve"]))
                .order_by_expr(Expr::col("age").is_in([45]), Order::Desc)
                .to_owned(),
            r#"EXPLAIN (ANALYZE, VERBOSE 0, FORMAT JSON) SELECT "id", "name" FROM "users" WHERE "name" NOT IN ($1, $2) ORDER BY "age" IN ($3) DESC"#,
            r#"EXPLAIN (ANALYZE, VERBOSE 0, FORMAT JSON) SELECT "id", "name" FROM "users" WHERE "name" <> ALL($1) ORDER BY "age" = ANY($2::int4[]) DESC"#,
        ),
        explain_case(
            "explain analyze update, its own statement replaced",
            ExplainStatement::new()
                .analyze()
                .costs(false)
                .statement(Query::select().column("id").from("teams").to_owned()),
            Query::update()
                .table("users")
                .value("score", Expr::col("score").add(1.0))
                .and_where(Expr::col("id").is_in([1, 2]))
                .to_owned(),
            r#"EXPLAIN (ANALYZE, COSTS 0) UPDATE "users" SET "score" = "score" + $1 WHERE "id" IN ($2, $3)"#,
            r#"EXPLAIN (ANALYZE, COSTS 0) UPDATE "users" SET "score" = "score" + $1 WHERE "id" = ANY($2::int4[])"#,
        ),
        explain_case(
            "explain analyze delete, json",
            ExplainStatement::new()
                .analyze()
                .format(ExplainFormat::Json),
            Query::delete()
                .from_table("users")
                .and_where(Expr::col("id").is_not_in([1, 2, 3]))
                .returning_col("id")
                .to_owned(),
            r#"EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM "users" WHERE "id" NOT IN ($1, $2, $3) RETURNING "id""#,
            r#"EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM "users" WHERE "id" <> ALL($1::int4[]) RETURNING "id""#,
        ),
        explain_case(
            "explain verbose delete",
            ExplainStatement::new().verbose(true),
            Query::delete()
                .from_table("users")
                .and_where(Expr::col("team_id").is_in([3]))
                .to_owned(),
            r#"EXPLAIN (VERBOSE) DELETE FROM "users" WHERE "team_id" IN ($1)"#,
            r#"EXPLAIN (VERBOSE) DELETE FROM "users" WHERE "team_id" = ANY($1::int4[])"#,
        ),
        explain_case(
            "explain insert",
            ExplainStatement::new().costs(false),
            Query::insert()
                .into_table("teams")
                .columns(["id", "title"])
                .values_panic([9.into(), "gold".into()])
                .returning(Query::returning().expr(Expr::col("id").is_in([9, 10])))
                .to_owned(),
            r#"EXPLAIN (COSTS 0) INSERT INTO "teams" ("id", "title") VALUES ($1, $2) RETURNING "id" IN ($3, $4)"#,
            r#"EXPLAIN (COSTS 0) INSERT INTO "teams" ("id", "title") VALUES ($1, $2) RETURNING "id" = ANY($3::int4[])"#,
        ),
    ]
}

#[test]
fn renders_like_postgres_except_lists() {
    let mut wrong = Vec::new();
    for c in cases() {
        let pg = &c.built[0].0;
        let tusk = &c.built[1].0;
        if pg != c.pg || tusk != c.tusk {
            wrong.push(format!(
                "{}:\n  pg:   {pg}\n  want: {}\n  tusk: {tusk}\n  want: {}",
                c.name, c.pg, c.tusk
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn without_casts_lets_the_server_infer() {
    let sql = users_in_teams()
        .build(TuskQueryBuilder::new().without_casts())
        .0;
    assert_eq!(sql, r#"SELECT "id" FROM "users" WHERE "team_id" = ANY($1)"#);
}

async fn run(conn: &mut pgtusk::Connection, sql: &str, values: Values) -> Vec<pgtusk::Record> {
    let params = bind(values).unwrap();
    conn.fetch(sql, &params.as_refs())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn both_renderings_return_the_same_rows() {
    let mut conn = common::connect().await;
    for c in cases() {
        // Each rendering runs on a fresh copy of the tables, inside a rolled-back transaction.
        let mut results = Vec::new();
        for (sql, values) in c.built.clone() {
            if sql.contains("$1 = $2") {
                // sea-query's empty list: two untyped parameters the server types as text.
                continue;
            }
            conn.execute_script("BEGIN").await.unwrap();
            conn.execute_script(SCHEMA).await.unwrap();
            let rows = run(&mut conn, &sql, values).await;
            conn.execute_script("ROLLBACK").await.unwrap();
            results.push(common::raw_rows(&rows));
        }
        if !c.same_rows {
            // EXPLAIN: each rendering ran and returned its plan.
            assert_eq!(results.len(), 3, "{}", c.name);
            assert!(
                results.iter().all(|rows| !rows.is_empty()),
                "{}: no plan",
                c.name
            );
            continue;
        }
        if c.name == "empty list" {
            assert_eq!(results.len(), 2, "{}", c.name);
            assert!(results.iter().all(Vec::is_empty), "{}", c.name);
            continue;
        }
        assert_eq!(results[0], results[1], "{}: rows differ", c.name);
        assert_eq!(
            results[0], results[2],
            "{}: rows differ without casts",
            c.name
        );
        assert!(
            !results[0].is_empty(),
            "{}: no rows, nothing compared",
            c.name
        );
    }
}

#[test]
fn a_rewritten_list_inside_a_comparison_keeps_its_parentheses() {
    let sql = Query::select()
        .expr(Expr::col("id").is_in([1, 2]).eq(true))
        .expr(Expr::col("id").is_in([1, 2]).is_null())
        .from("users")
        .to_owned()
        .build(TuskQueryBuilder::new())
        .0;
    assert_eq!(
        sql,
        r#"SELECT ("id" = ANY($1::int4[])) = $2, ("id" = ANY($3::int4[])) IS NULL FROM "users""#
    );
}

#[test]
fn lists_of_array_values_keep_in() {
    use pgtusk_dialect::sea_query::{ArrayType, Value};
    let arr = |v: i32| Value::Array(ArrayType::Int, Some(Box::new(vec![Value::Int(Some(v))])));
    let sql = Query::select()
        .column("id")
        .from("t")
        .and_where(Expr::col("tags").is_in([arr(1), arr(2)]))
        .to_owned()
        .build(TuskQueryBuilder::new())
        .0;
    assert_eq!(sql, r#"SELECT "id" FROM "t" WHERE "tags" IN ($1, $2)"#);
}

#[test]
fn enum_casts_render_like_postgres() {
    let stmt = Query::select()
        .expr(Expr::col("mood").as_enum("mood"))
        .expr(Expr::val("ok").as_enum("mood[]"))
        .from("t")
        .to_owned();
    assert_eq!(
        stmt.build(TuskQueryBuilder::new()).0,
        stmt.build(PostgresQueryBuilder).0
    );
}

#[test]
fn explain_renders_like_postgres() {
    use pgtusk_dialect::sea_query::ExplainStatement;
    let explain = ExplainStatement::new()
        .analyze()
        .statement(users_in_teams());
    assert_eq!(
        explain.build(TuskQueryBuilder::new()).0,
        explain.build(PostgresQueryBuilder).0
    );
}

/// `Order::Field` writes `CASE WHEN expr=value`: an empty list at the end of `expr` is
/// `(1 = 2)`, since `1 = 2=TRUE` is a syntax error; `x = ANY($1)=TRUE` is not.
fn field_order_with_empty_lists() -> SelectStatement {
    let field = || Order::Field(Values(vec![true.into()]));
    Query::select()
        .column("id")
        .from("users")
        .order_by_expr(Expr::col("id").is_in(Vec::<i32>::new()), field())
        .order_by_expr(
            Expr::col("age")
                .gt(1)
                .and(Expr::col("id").is_not_in(Vec::<i32>::new())),
            field(),
        )
        .order_by_expr(Expr::col("id").is_in(Vec::<i32>::new()).not(), field())
        .order_by_expr(
            Expr::col("id")
                .is_in([1, 2])
                .and(Expr::col("age").is_in([3])),
            field(),
        )
        .order_by("id", Order::Asc)
        .to_owned()
}

#[test]
fn order_by_field_parenthesizes_a_trailing_empty_list() {
    let sql = field_order_with_empty_lists()
        .build(TuskQueryBuilder::new().without_casts())
        .0;
    assert_eq!(
        sql,
        r#"SELECT "id" FROM "users" ORDER BY CASE WHEN (1 = 2)=TRUE THEN 0 ELSE 1 END, CASE WHEN "age" > $1 AND (1 = 1)=TRUE THEN 0 ELSE 1 END, CASE WHEN NOT (1 = 2)=TRUE THEN 0 ELSE 1 END, CASE WHEN "id" = ANY($2) AND "age" = ANY($3)=TRUE THEN 0 ELSE 1 END, "id" ASC"#
    );
}

#[tokio::test]
async fn order_by_field_with_empty_lists_runs() {
    let mut conn = common::connect().await;
    for builder in [
        TuskQueryBuilder::new(),
        TuskQueryBuilder::new().without_casts(),
    ] {
        let (sql, values) = field_order_with_empty_lists().build(builder);
        conn.execute_script("BEGIN").await.unwrap();
        conn.execute_script(SCHEMA).await.unwrap();
        let rows = run(&mut conn, &sql, values).await;
        conn.execute_script("ROLLBACK").await.unwrap();
        assert_eq!(rows.len(), 5, "{sql}");
    }
}

#[test]
fn build_explain_ignores_the_statement_in_the_options() {
    let options = ExplainStatement::new()
        .analyze()
        .statement(Query::select().column("x").from("t").to_owned());
    let (sql, values) = TuskQueryBuilder::new().build_explain(&options, users_in_teams());
    assert_eq!(
        sql,
        r#"EXPLAIN (ANALYZE) SELECT "id" FROM "users" WHERE "team_id" = ANY($1::int4[])"#
    );
    assert_eq!(values.0.len(), 1);
}
