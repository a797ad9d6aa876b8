//! Workload 14: workload 1 (point select by primary key) through the synchronous APIs, from a
//! plain thread with no runtime of the caller's: `pgtusk::blocking::Connection` against the
//! `postgres` crate (tokio-postgres's blocking wrapper). Both drive their async driver on a
//! current-thread runtime they own. The async pgtusk and tokio-postgres run the same phase
//! on the harness's current-thread runtime, for reference (`Conns`, workload 1's code).

use crate::workloads::{Contestant, POINT, R, point_id};

/// One blocking connection per driver, made outside any runtime and kept for the whole run.
pub struct Blocking {
    pg: pgtusk::blocking::Connection,
    pq: postgres::Client,
    /// The `postgres` crate's best way: the statement prepared once and reused.
    pq_point: postgres::Statement,
}

impl Blocking {
    /// Connects both drivers; must run outside a tokio runtime (both refuse one).
    pub fn connect(dsn: &str) -> R<Blocking> {
        let pg = pgtusk::blocking::Connection::connect(dsn)?;
        let mut pq = postgres::Client::connect(dsn, postgres::NoTls)?;
        let pq_point = pq.prepare(POINT)?;
        Ok(Blocking { pg, pq, pq_point })
    }

    /// Runs one phase (`ops` point selects) on `c` and returns its checksum (workload 1's).
    pub fn run(&mut self, c: Contestant, ops: usize, seed: u64) -> R<i64> {
        let mut s = 0i64;
        match c {
            Contestant::PgtuskBlocking => {
                for k in 0..ops as u64 {
                    let row = self.pg.fetch_one(POINT, &[&point_id(seed, k)])?;
                    s += row.try_get::<i64>(0)? + row.try_get::<&str>(1)?.len() as i64;
                }
            }
            Contestant::Postgres => {
                for k in 0..ops as u64 {
                    let row = self.pq.query_one(&self.pq_point, &[&point_id(seed, k)])?;
                    s += row.try_get::<_, i64>(0)? + row.try_get::<_, &str>(1)?.len() as i64;
                }
            }
            other => return Err(format!("{} does not run the blocking phase", other.name()).into()),
        }
        Ok(s)
    }
}
