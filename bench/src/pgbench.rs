//! Workload 9's C reference: PostgreSQL's own `pgbench -S -M prepared -c 8 -j 2`, run as a
//! child process on its own table (`pgbench_accounts`, scale 10: 1M rows like `bench_point`).
//!
//! Throughput is pgbench's "tps = … (without initial connection time)". Its client CPU is the
//! child's user + system time (this process's cutime/cstime once the child is waited for, in
//! 10 ms ticks), which includes its 8 connects; there is no checksum, but the count of
//! transactions processed (and none failed) is checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use crate::cpu;
use crate::pool::POOL_SIZE;
use crate::workloads::R;

/// pgbench's scale: 100 000 accounts per unit, so 1M rows, as many as the point table.
pub const SCALE: u32 = 10;
/// pgbench's worker threads (`-j`), one per core here.
pub const THREADS: u32 = 2;

/// A pgbench that works, and the database it runs against.
pub struct Pgbench {
    bin: PathBuf,
    dsn: String,
}

/// One pgbench run.
pub struct PgbenchRun {
    /// Wall seconds for the transactions, at pgbench's tps (connection time excluded).
    pub secs: f64,
    /// (total, user) client CPU seconds, connects included.
    pub cpu: (f64, f64),
    /// Transactions run (a multiple of the 8 clients).
    pub transactions: usize,
}

impl Pgbench {
    /// Finds pgbench (next to the cluster's server binaries, else on `PATH`) and checks that it
    /// runs, or says why it cannot be used.
    pub fn find(bin_dir: Option<&Path>, dsn: &str) -> Result<Pgbench, String> {
        let bin = bin_dir
            .map(|d| d.join("pgbench"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("pgbench"));
        let out = Command::new(&bin).arg("--version").output().map_err(|e| {
            format!(
                "{} not runnable ({e}); install PostgreSQL's client tools",
                bin.display()
            )
        })?;
        if !out.status.success() {
            return Err(format!(
                "{} --version failed: {}",
                bin.display(),
                last_line(&out.stderr)
            ));
        }
        Ok(Pgbench {
            bin,
            dsn: dsn.to_owned(),
        })
    }

    /// `pgbench --version`'s answer, for the report.
    pub fn version(&self) -> String {
        Command::new(&self.bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// Creates pgbench's tables anew (`pgbench -i`, data generated on the server, then
    /// vacuumed and given primary keys).
    pub fn init(&self) -> R<()> {
        let out = Command::new(&self.bin)
            .args([
                "-i",
                "-q",
                "-I",
                "dtGvp",
                "-s",
                &SCALE.to_string(),
                &self.dsn,
            ])
            .output()?;
        check(&out, "pgbench -i")?;
        Ok(())
    }

    /// Runs about `ops` select-only transactions on 8 clients and 2 threads.
    pub fn run(&self, ops: usize) -> R<PgbenchRun> {
        let per_client = (ops / POOL_SIZE as usize).max(1);
        let transactions = per_client * POOL_SIZE as usize;
        let before = cpu::children_secs()?;
        let t0 = Instant::now();
        let out = Command::new(&self.bin)
            .args([
                "-n", // no vacuum before the run: the tables were vacuumed once by -i
                "-S",
                "-M",
                "prepared",
                "-c",
                &POOL_SIZE.to_string(),
                "-j",
                &THREADS.to_string(),
                "-t",
                &per_client.to_string(),
                &self.dsn,
            ])
            .output()?;
        let wall = t0.elapsed().as_secs_f64();
        let after = cpu::children_secs()?;
        let text = check(&out, "pgbench -S")?;

        let tps = field(&text, "tps = ", " (without initial connection time)")
            .ok_or_else(|| format!("pgbench printed no tps line:\n{text}"))?;
        let processed = text
            .lines()
            .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
            .ok_or_else(|| format!("pgbench printed no transaction count:\n{text}"))?;
        if processed.trim() != format!("{transactions}/{transactions}") {
            return Err(format!(
                "pgbench processed {processed} transactions, expected {transactions}"
            )
            .into());
        }
        let failed = field(&text, "number of failed transactions: ", " (").unwrap_or(0.0);
        if failed != 0.0 {
            return Err(format!("pgbench: {failed} transactions failed:\n{text}").into());
        }
        let secs = transactions as f64 / tps;
        if !(secs > 0.0 && secs <= wall) {
            return Err(format!("pgbench tps {tps} does not fit its {wall:.2} s run").into());
        }
        Ok(PgbenchRun {
            secs,
            cpu: (after.0 - before.0, after.1 - before.1),
            transactions,
        })
    }
}

/// The number between `prefix` and `suffix` on the line that starts with `prefix`.
fn field(text: &str, prefix: &str, suffix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_once(suffix))
        .and_then(|(n, _)| n.trim().parse().ok())
}

/// stdout of a successful pgbench, or an error with what it said.
fn check(out: &Output, what: &str) -> R<String> {
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .last()
        .unwrap_or("")
        .to_owned()
}
