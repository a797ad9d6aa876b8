//! Workload 10: sea-orm 2.0 on pgtusk (`pgtusk_dialect::sea_orm::TuskDatabase`) against
//! sea-orm on sqlx (`sea_orm::Database::connect`), each over a pool of one connection, on the
//! current-thread runtime of workloads 1-8, sequential operations.
//!
//! - 10a (`sea-orm-loader`): `parents.load_many(child::Entity, &db)` over 1..=5,000 parent
//!   models per operation, their ids drawn by one LCG per phase (the same for every driver);
//!   sea-orm renders `("parent_id") IN (($1), ($2), …) ORDER BY id`, which pgtusk's rewrite
//!   sends as one array parameter.
//! - 10b (`sea-orm-all`): `wide::Entity::find().all(&db)`, 10,000 rows into models.

use chrono::Utc;
use pgtusk_dialect::sea_orm::TuskDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait as _, LoaderTrait as _};

use crate::workloads::{Contestant, R, Workload, lcg_lists, wide_sum};

/// Rows in `bench_so_parent`; parent `p` has `p % 3` children in `bench_so_child`.
pub const PARENTS: u64 = 100_000;
/// The most keys one loader operation loads for.
pub const MAX_KEYS: u64 = 5_000;

/// Workload 10's tables: made by the harness's setup script with the others.
pub const SETUP: &str = "
DROP TABLE IF EXISTS bench_so_parent, bench_so_child, bench_so_wide;
CREATE TABLE bench_so_parent (id int4 PRIMARY KEY, name text NOT NULL);
INSERT INTO bench_so_parent SELECT g, 'parent ' || g FROM generate_series(1, 100000) g;
CREATE TABLE bench_so_child (id int8 PRIMARY KEY, parent_id int4 NOT NULL, v int8 NOT NULL);
INSERT INTO bench_so_child
  SELECT p * 2 + k, p, p * 7 + k FROM generate_series(1, 100000) p, generate_series(0, 1) k
  WHERE k < p % 3;
CREATE INDEX bench_so_child_parent ON bench_so_child (parent_id);
CREATE TABLE bench_so_wide (i int4 PRIMARY KEY, t text NOT NULL, ts timestamptz NOT NULL, n numeric(12, 2) NOT NULL);
INSERT INTO bench_so_wide SELECT i, t, ts, n FROM bench_wide WHERE i <= 10000;
";

/// The server's checksum of each parent's children (`sum(id + v + parent_id)`), by parent id.
pub const CHILD_SUMS: &str =
    "SELECT parent_id, sum(id + v + parent_id)::int8 FROM bench_so_child GROUP BY parent_id";

mod parent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_so_parent")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::child::Entity")]
        Child,
    }

    impl Related<super::child::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Child.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

mod child {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_so_child")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub parent_id: i32,
        pub v: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::parent::Entity",
            from = "Column::ParentId",
            to = "super::parent::Column::Id"
        )]
        Parent,
    }

    impl Related<super::parent::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Parent.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

mod wide {
    use sea_orm::entity::prelude::*;

    /// Workload 4's columns (the first 10,000 rows of `bench_wide`), as sea-orm generates them.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_so_wide")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub i: i32,
        pub t: String,
        pub ts: DateTimeWithTimeZone,
        pub n: Decimal,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The loader phase's key lists: lengths 1..=5,000, ids 1..=100,000 (repeats allowed; the
/// loader asks for each distinct key once and gives every parent its children).
pub fn loader_keys(seed: u64, ops: usize) -> Vec<Vec<i32>> {
    lcg_lists(seed, ops, MAX_KEYS, PARENTS)
}

/// The checksum a loader phase must return, from the server's per-parent sums.
pub fn loader_expected(child_sums: &[i64], seed: u64, ops: usize) -> i64 {
    loader_keys(seed, ops)
        .iter()
        .flatten()
        .map(|&k| child_sums.get(k as usize).copied().unwrap_or(0))
        .sum()
}

/// sea-orm over each driver's pool of one connection.
pub struct Orms {
    tusk: TuskDatabase,
    sqlx: DatabaseConnection,
    sqlx_no_ping: DatabaseConnection,
    /// The current loader phase's parent models, made before the timer starts.
    parents: Vec<Vec<parent::Model>>,
}

impl Orms {
    /// Opens the pools, each with its one connection.
    pub async fn connect(dsn: &str) -> R<Orms> {
        // Pool defaults apart from the size, as workload 9 (no ping on acquire before 60 s idle).
        let pool = pgtusk::Pool::builder(dsn.parse()?)
            .min_connections(1)
            .max_connections(1)
            .build()
            .await?;
        Ok(Orms {
            tusk: TuskDatabase::new(pool),
            sqlx: sqlx_db(dsn, true).await?,
            sqlx_no_ping: sqlx_db(dsn, false).await?,
            parents: Vec::new(),
        })
    }

    /// Builds a phase's inputs outside the timed section.
    pub fn prepare(&mut self, w: Workload, ops: usize, seed: u64) {
        if w == Workload::SeaOrmLoader {
            self.parents = loader_keys(seed, ops)
                .into_iter()
                .map(|keys| {
                    keys.into_iter()
                        .map(|id| parent::Model {
                            id,
                            name: format!("parent {id}"),
                        })
                        .collect()
                })
                .collect();
        }
    }

    /// Runs one phase (`ops` operations) of `w` on `c` and returns its checksum.
    pub async fn run(&self, c: Contestant, w: Workload, ops: usize) -> R<i64> {
        match c {
            Contestant::SeaOrmPgtusk => self.run_on(&self.tusk, w, ops).await,
            Contestant::SeaOrmSqlx => self.run_on(&self.sqlx, w, ops).await,
            Contestant::SeaOrmSqlxNoPing => self.run_on(&self.sqlx_no_ping, w, ops).await,
            _ => Err(format!("{} does not run workload 10", c.name()).into()),
        }
    }

    async fn run_on<C: ConnectionTrait>(&self, db: &C, w: Workload, ops: usize) -> R<i64> {
        let mut s = 0i64;
        match w {
            Workload::SeaOrmLoader => {
                for parents in &self.parents {
                    let children = parents.load_many(child::Entity, db).await?;
                    if children.len() != parents.len() {
                        return Err(format!(
                            "load_many for {} parents returned {} groups",
                            parents.len(),
                            children.len()
                        )
                        .into());
                    }
                    for (p, group) in parents.iter().zip(&children) {
                        for c in group {
                            if c.parent_id != p.id {
                                return Err(format!(
                                    "load_many gave child {} of parent {} to parent {}",
                                    c.id, c.parent_id, p.id
                                )
                                .into());
                            }
                            s += c.id + c.v + i64::from(c.parent_id);
                        }
                    }
                }
            }
            Workload::SeaOrmAll => {
                for _ in 0..ops {
                    for m in wide::Entity::find().all(db).await? {
                        s += wide_sum(m.i, &m.t, &m.ts.with_timezone(&Utc), m.n);
                    }
                }
            }
            _ => return Err(format!("{} is not a sea-orm workload", w.key()).into()),
        }
        Ok(s)
    }
}

/// sea-orm on sqlx's pool of one connection, its defaults otherwise (sqlx's
/// `test_before_acquire` pings on every acquire: one more round trip per statement) or
/// without that ping.
async fn sqlx_db(dsn: &str, ping: bool) -> R<DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(dsn.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(ping)
        .sqlx_logging(false);
    Ok(sea_orm::Database::connect(options).await?)
}
