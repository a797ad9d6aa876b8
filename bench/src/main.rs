//! pgtusk against tokio-postgres, sqlx and asyncpg, side by side in one run (issue 7).
//!
//! `cargo run --release -p pgtusk-bench -- [WORKLOAD…] [--rounds N] [--scale F] [--no-python]`
//!
//! Starts a TempCluster (or uses `DATABASE_URL`), prepares the data, then runs each workload on
//! every driver in turn (A B C A B C …) for several rounds, on one connection per driver and a
//! current-thread tokio runtime (workload 9: a pool per driver on a 2-worker multi-thread
//! runtime, asyncpg's pool, and pgbench as the C reference; workload 10: sea-orm on pgtusk and
//! on sqlx, a pool of one connection each; workload 14: the blocking APIs, pgtusk::blocking and
//! the postgres crate, called from the main thread outside any runtime; workload 15: workload 1
//! over TLS, on TLS connections of its own, the TempCluster then serving TLS). Each phase is
//! timed (wall clock) and charged the process's CPU
//! (user + sys from /proc/self/stat; asyncpg reports its own process time). Every phase's
//! checksum is compared with the expected one. Output: a table on stdout,
//! bench/results/latest.json and bench/results/latest.svg.

mod blocking;
mod copy;
mod cpu;
mod orm;
mod pgbench;
mod pipeline;
mod pool;
mod python;
mod report;
mod tls;
mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use blocking::Blocking;
use orm::Orms;
use pgbench::Pgbench;
use pool::Pools;
use report::{Phase, Run, WorkloadResult};
use tls::TlsConns;
use workloads::{Conns, Contestant, R, WIDE_SUM_SQL, Workload};

struct Args {
    workloads: Vec<Workload>,
    rounds: usize,
    scale: f64,
    python: bool,
    /// Run only these drivers (by name), e.g. to profile one under callgrind.
    only: Vec<String>,
    out: PathBuf,
}

fn usage() -> String {
    let names: Vec<&str> = Workload::ALL.iter().map(|w| w.key()).collect();
    format!(
        "usage: pgtusk-bench [WORKLOAD…] [--rounds N] [--scale F] [--no-python] [--only DRIVER,…] [--out DIR]\n\
         WORKLOAD: a number 1-15, sea-orm (both parts of 10), or one of {}",
        names.join(", ")
    )
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workloads: Vec::new(),
        rounds: 5,
        scale: 1.0,
        python: true,
        only: Vec::new(),
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => {
                args.rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--rounds wants a positive number")?;
            }
            "--scale" => {
                args.scale = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&f: &f64| f > 0.0)
                    .ok_or("--scale wants a positive number")?;
            }
            "--no-python" => args.python = false,
            "--only" => {
                let list = it
                    .next()
                    .ok_or("--only wants driver names, comma-separated")?;
                args.only = list.split(',').map(str::to_owned).collect();
            }
            "--out" => args.out = it.next().ok_or("--out wants a directory")?.into(),
            "-h" | "--help" => return Err(usage()),
            name => {
                let found: Vec<Workload> = Workload::ALL
                    .into_iter()
                    .filter(|w| w.matches(name))
                    .collect();
                if found.is_empty() {
                    return Err(format!("unknown workload {name:?}\n{}", usage()));
                }
                args.workloads.extend(found);
            }
        }
    }
    if args.workloads.is_empty() {
        args.workloads = Workload::ALL.to_vec();
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("pgtusk-bench: {e}");
        std::process::exit(1);
    }
}

/// Why workload 15 does not run against `DATABASE_URL`.
const TLS_NEEDS_CLUSTER: &str = "skipped: workload 15 needs the bench's own TempCluster serving TLS \
     with the CA it makes (unset DATABASE_URL)";

fn run(args: &Args) -> R<()> {
    let want_tls = args.workloads.contains(&Workload::PointTls);
    // Keep the cluster alive for the whole run; it stops when dropped.
    let (_cluster, dsn) = match std::env::var("DATABASE_URL") {
        Ok(url) => (None, url),
        Err(_) if want_tls => {
            let cluster = pgtusk::cluster::TempCluster::builder()
                .tls(pgtusk::cluster::ClusterTls::new())
                .start()?;
            // The server now offers TLS, and pgtusk, sqlx (built with TLS) and asyncpg would
            // take it under their default sslmode=prefer: every other workload stays plain.
            let dsn = format!("{}?sslmode=disable", cluster.dsn());
            (Some(cluster), dsn)
        }
        Err(_) => {
            let cluster = pgtusk::cluster::TempCluster::start()?;
            let dsn = cluster.dsn();
            (Some(cluster), dsn)
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let started = Instant::now();
    let (mut admin, expected) = rt.block_on(async {
        let mut admin = pgtusk::Connection::connect(&dsn).await?;
        eprintln!("preparing data (1M-row table, 100k wide rows, arrays, bytea)…");
        admin.execute_script(workloads::SETUP).await?;
        admin.execute_script(orm::SETUP).await?;
        admin.execute_script(copy::SETUP).await?;
        // Its own statement: VACUUM cannot run inside the script's implicit transaction.
        admin.execute_script("VACUUM ANALYZE").await?;
        // Point selects hit random pages: load the table and its index into shared buffers so
        // the driver that runs first in a round does not pay for everyone's cold reads.
        let prewarm = "CREATE EXTENSION IF NOT EXISTS pg_prewarm; \
                       SELECT pg_prewarm('bench_point'), pg_prewarm('bench_point_pkey'), pg_prewarm('bench_wide')";
        if let Err(e) = admin.execute_script(prewarm).await {
            eprintln!("pg_prewarm unavailable ({e}); the point-select rounds warm the cache themselves");
        }
        let expected = Expected::query(&mut admin).await?;
        R::Ok((admin, expected))
    })?;
    eprintln!("data ready in {:.1} s", started.elapsed().as_secs_f64());
    let server_version = rt.block_on(async {
        admin
            .fetch_value::<String>("SELECT current_setting('server_version')", &[])
            .await
    })?;

    let conns = rt.block_on(Conns::connect(&dsn))?;
    let python_wanted =
        args.python && (args.only.is_empty() || args.only.iter().any(|o| o == "asyncpg"));
    let py = if python_wanted {
        match python::Runner::start(&dsn) {
            Ok(r) => Some(r),
            Err(why) => {
                println!("asyncpg skipped: {why}");
                None
            }
        }
    } else {
        println!("asyncpg skipped: --no-python or --only");
        None
    };
    let mut drivers = Drivers {
        conns,
        py,
        pools: None,
        pgbench: None,
        orms: None,
        blocking: None,
        tls: None,
    };
    let tls_ca = _cluster.as_ref().and_then(|c| c.ca_cert_path());
    if let (true, Some(ca)) = (want_tls, tls_ca) {
        let (conns, sessions) = rt.block_on(TlsConns::connect(&dsn, &ca))?;
        // The other workloads' connections (sslmode=disable) must have stayed plain.
        let on_tls: i64 =
            rt.block_on(admin.fetch_value("SELECT count(*) FROM pg_stat_ssl WHERE ssl", &[]))?;
        if on_tls != 3 {
            return Err(format!(
                "{on_tls} connections to the server use TLS where only workload 15's 3 should: \
                 a plain workload's driver ignored sslmode=disable"
            )
            .into());
        }
        println!("workload 15: {sessions}; every other connection plain");
        drivers.tls = Some(conns);
    }
    if args.workloads.contains(&Workload::Blocking) {
        drivers.blocking = Some(Blocking::connect(&dsn)?);
    }
    if args.workloads.iter().any(|w| w.number() == 10) {
        drivers.orms = Some(rt.block_on(Orms::connect(&dsn))?);
    }
    if args.workloads.contains(&Workload::Pool) {
        drivers.pools = Some(Pools::connect(&dsn)?);
        let wanted = args.only.is_empty() || args.only.iter().any(|o| o == "pgbench");
        let bin_dir = _cluster.as_ref().map(|c| c.bin_dir());
        match Pgbench::find(bin_dir, &dsn) {
            Ok(pgbench) if wanted => {
                eprintln!(
                    "{}: pgbench -i -s {} (1M rows in pgbench_accounts)…",
                    pgbench.version(),
                    pgbench::SCALE
                );
                pgbench.init()?;
                let prewarm =
                    "SELECT pg_prewarm('pgbench_accounts'), pg_prewarm('pgbench_accounts_pkey')";
                if let Err(e) = rt.block_on(admin.execute_script(prewarm)) {
                    eprintln!("pg_prewarm unavailable for pgbench_accounts ({e})");
                }
                drivers.pgbench = Some(pgbench);
            }
            Ok(_) => {}
            Err(why) => println!("pgbench skipped: {why}"),
        }
    }

    let mut results = Vec::new();
    for &w in &args.workloads {
        let why = w.skipped().or_else(|| {
            (w == Workload::PointTls && drivers.tls.is_none()).then_some(TLS_NEEDS_CLUSTER)
        });
        if let Some(why) = why {
            println!("workload {} ({}): {why}", w.number(), w.key());
            results.push(WorkloadResult::skipped(w, why));
            continue;
        }
        let mut contestants = w.contestants(drivers.py.is_some());
        contestants.retain(|&c| c != Contestant::Pgbench || drivers.pgbench.is_some());
        if !args.only.is_empty() {
            contestants.retain(|c| args.only.iter().any(|o| o == c.name()));
        }
        let ops = ((w.ops() as f64 * args.scale).round() as usize).max(1);
        eprintln!("workload {} {}: {} ops per phase", w.number(), w.key(), ops);
        let mut result = WorkloadResult::new(w, ops, &contestants);

        // Warm-up, not recorded: prepares statements, fills caches, and checks correctness once.
        for (ci, &c) in contestants.iter().enumerate() {
            let warm = (ops / 5).max(1);
            phase(
                &rt,
                &mut drivers,
                &mut admin,
                c,
                w,
                warm,
                1000 + ci as u64,
                &expected,
            )?;
        }
        for round in 0..args.rounds {
            for (ci, &c) in contestants.iter().enumerate() {
                let p = phase(
                    &rt,
                    &mut drivers,
                    &mut admin,
                    c,
                    w,
                    ops,
                    round as u64,
                    &expected,
                )?;
                result.contestants[ci].phases.push(p);
            }
        }
        report::print_workload(&mut result);
        results.push(result);
    }

    let run = Run {
        date_utc: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine: report::machine(),
        server_version,
        rounds: args.rounds,
        scale: args.scale,
        asyncpg: drivers.py.as_ref().map(|p| p.version.clone()),
        cpu_source: cpu::source(),
        workloads: results,
    };
    if let Some(py) = drivers.py {
        py.stop();
    }
    std::fs::create_dir_all(&args.out)?;
    let json = args.out.join("latest.json");
    std::fs::write(&json, serde_json::to_string_pretty(&run)?)?;
    let svg = args.out.join("latest.svg");
    report::chart(&run, &svg)?;
    report::print_summary(&run);
    println!("\nwrote {} and {}", json.display(), svg.display());
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Checksums the server computes once, per operation.
struct Expected {
    series: i64,
    wide: i64,
    arrays: i64,
    bytea: i64,
    typed: i64,
    insert: i64,
    /// Workload 10a: each parent's `sum(id + v + parent_id)` over its children, by parent id.
    child_sums: Vec<i64>,
    /// Workloads 11 and 12: the checksum of the 1M rows (`bench_copy_src`, and what a COPY in
    /// must store), and the bytes of their binary COPY out (asyncpg's checksum).
    copy_sum: i64,
    copy_out_bytes: i64,
}

impl Expected {
    async fn query(c: &mut pgtusk::Connection) -> R<Expected> {
        Ok(Expected {
            series: 500_500,
            wide: c
                .fetch_value(&format!("SELECT ({WIDE_SUM_SQL})::int8 FROM bench_wide"), &[])
                .await?,
            arrays: c
                .fetch_value("SELECT (sum(x) + count(*))::int8 FROM bench_arr, unnest(a) x", &[])
                .await?,
            bytea: c
                .fetch_value(
                    "SELECT sum(length(b) + get_byte(b, 0) + get_byte(b, length(b) - 1))::int8 FROM bench_bytea",
                    &[],
                )
                .await?,
            typed: c
                .fetch_value(
                    &format!("SELECT ({WIDE_SUM_SQL})::int8 FROM bench_wide WHERE i <= 10000"),
                    &[],
                )
                .await?,
            insert: workloads::BATCH as i64,
            child_sums: {
                let mut sums = vec![0i64; orm::PARENTS as usize + 1];
                for row in c.fetch(orm::CHILD_SUMS, &[]).await? {
                    let (parent, sum): (i32, i64) = (row.try_get(0)?, row.try_get(1)?);
                    *sums
                        .get_mut(parent as usize)
                        .ok_or("a child's parent_id is out of range")? = sum;
                }
                sums
            },
            copy_sum: {
                let server: i64 = c
                    .fetch_value(&format!("SELECT ({WIDE_SUM_SQL})::int8 FROM bench_copy_src"), &[])
                    .await?;
                let built = copy::rows_sum(&copy::rows());
                if server != built {
                    return Err(format!(
                        "bench_copy_src sums to {server} but the rows built for COPY in to {built}"
                    )
                    .into());
                }
                server
            },
            copy_out_bytes: copy::out_bytes(c).await?,
        })
    }

    fn per_phase(&self, w: Workload, ops: usize, seed: u64) -> i64 {
        let n = ops as i64;
        match w {
            Workload::Point | Workload::Pool | Workload::Blocking | Workload::PointTls => {
                workloads::point_expected(seed, ops)
            }
            Workload::Tiny => 2 * n,
            Workload::Series => self.series * n,
            Workload::Wide | Workload::TypedVsIndex => self.wide * n,
            Workload::Arrays => self.arrays * n,
            Workload::Bytea => self.bytea * n,
            Workload::Insert => self.insert * n,
            Workload::Typed | Workload::SeaOrmAll => self.typed * n,
            Workload::SeaOrmLoader => orm::loader_expected(&self.child_sums, seed, ops),
            Workload::InList => workloads::inlist_expected(seed, ops),
            Workload::CopyIn => i64::from(copy::ROWS) * n,
            Workload::CopyOut => self.copy_sum * n,
            Workload::Pipeline => pipeline::expected(seed, ops),
        }
    }
}

/// Every driver's side of the run: the Rust connections, the asyncpg process, for workload 9
/// the Rust pools and pgbench, for workload 10 sea-orm's pools, for workload 15 the TLS
/// connections.
struct Drivers {
    conns: Conns,
    py: Option<python::Runner>,
    pools: Option<Pools>,
    pgbench: Option<Pgbench>,
    orms: Option<Orms>,
    /// Workload 14: the blocking connections, used outside the harness's runtime.
    blocking: Option<Blocking>,
    /// Workload 15: one TLS connection per Rust driver.
    tls: Option<TlsConns>,
}

/// Runs one timed phase and verifies it.
#[allow(clippy::too_many_arguments)]
fn phase(
    rt: &tokio::runtime::Runtime,
    drivers: &mut Drivers,
    admin: &mut pgtusk::Connection,
    c: Contestant,
    w: Workload,
    ops: usize,
    seed: u64,
    expected: &Expected,
) -> R<Phase> {
    if w == Workload::Insert {
        rt.block_on(admin.execute_script("TRUNCATE bench_ins"))?;
    }
    if w == Workload::CopyIn {
        rt.block_on(admin.execute_script("TRUNCATE bench_copy_dst"))?;
    }
    // pgbench runs whole transactions per client and has no checksum (its count is checked).
    let (secs, (cpu, user_cpu), checksum, ops) = match c {
        Contestant::Pgbench => {
            let pgbench = drivers.pgbench.as_ref().ok_or("pgbench missing")?;
            let run = pgbench.run(ops)?;
            (run.secs, run.cpu, None, run.transactions)
        }
        Contestant::Asyncpg => {
            let py = drivers.py.as_mut().ok_or("asyncpg runner missing")?;
            let (secs, cpu, sum) = py.run(w, ops, seed)?;
            (secs, cpu, Some(sum), ops)
        }
        _ if w == Workload::Pool => {
            let pools = drivers.pools.as_ref().ok_or("pools missing")?;
            let cpu0 = cpu::CpuSample::now()?;
            let t0 = Instant::now();
            let sum = pools.run(c, ops, seed)?;
            let secs = t0.elapsed().as_secs_f64();
            (secs, cpu::CpuSample::now()?.since(&cpu0), Some(sum), ops)
        }
        Contestant::PgtuskBlocking | Contestant::Postgres => {
            // On this thread, outside the harness's runtime: the blocking APIs refuse one.
            let blocking = drivers
                .blocking
                .as_mut()
                .ok_or("blocking connections missing")?;
            let cpu0 = cpu::CpuSample::now()?;
            let t0 = Instant::now();
            let sum = blocking.run(c, ops, seed)?;
            let secs = t0.elapsed().as_secs_f64();
            (secs, cpu::CpuSample::now()?.since(&cpu0), Some(sum), ops)
        }
        _ if w == Workload::PointTls => {
            let tls = drivers.tls.as_mut().ok_or("TLS connections missing")?;
            let cpu0 = cpu::CpuSample::now()?;
            let t0 = Instant::now();
            let sum = rt.block_on(tls.run(c, ops, seed))?;
            let secs = t0.elapsed().as_secs_f64();
            (secs, cpu::CpuSample::now()?.since(&cpu0), Some(sum), ops)
        }
        _ if w.number() == 10 => {
            let orms = drivers.orms.as_mut().ok_or("sea-orm pools missing")?;
            orms.prepare(w, ops, seed);
            let cpu0 = cpu::CpuSample::now()?;
            let t0 = Instant::now();
            let sum = rt.block_on(orms.run(c, w, ops))?;
            let secs = t0.elapsed().as_secs_f64();
            (secs, cpu::CpuSample::now()?.since(&cpu0), Some(sum), ops)
        }
        _ => {
            let conns = &mut drivers.conns;
            conns.prepare(w, ops, seed);
            let cpu0 = cpu::CpuSample::now()?;
            let t0 = Instant::now();
            let sum = rt.block_on(conns.run(c, w, ops, seed))?;
            let secs = t0.elapsed().as_secs_f64();
            (secs, cpu::CpuSample::now()?.since(&cpu0), Some(sum), ops)
        }
    };
    let want = if c == Contestant::Asyncpg && w == Workload::CopyOut {
        // asyncpg's raw COPY out decodes nothing: its checksum is the bytes it received.
        expected.copy_out_bytes * ops as i64
    } else {
        expected.per_phase(w, ops, seed)
    };
    if let Some(checksum) = checksum.filter(|&sum| sum != want) {
        return Err(format!(
            "{} on {}: checksum {checksum}, expected {want}",
            c.name(),
            w.key()
        )
        .into());
    }
    if w == Workload::Insert {
        // The rows must really be there.
        let (count, sum): (i64, i64) = rt.block_on(async {
            let row = admin
                .fetch_one(
                    "SELECT count(*), coalesce(sum(id + length(v)), 0)::int8 FROM bench_ins",
                    &[],
                )
                .await?;
            R::Ok((row.try_get(0)?, row.try_get(1)?))
        })?;
        let per_batch: i64 = (1..=workloads::BATCH as i64)
            .map(|i| i + format!("v{i}").len() as i64)
            .sum();
        if count != (ops * workloads::BATCH) as i64 || sum != per_batch * ops as i64 {
            return Err(format!(
                "{} on insert: table holds {count} rows (checksum {sum}), expected {} ({})",
                c.name(),
                ops * workloads::BATCH,
                per_batch * ops as i64
            )
            .into());
        }
    }
    if w == Workload::CopyIn {
        // The rows must really be there, every value as sent.
        let (count, sum): (i64, i64) = rt.block_on(async {
            let row = admin
                .fetch_one(
                    &format!(
                        "SELECT count(*), coalesce(({WIDE_SUM_SQL})::int8, 0) FROM bench_copy_dst"
                    ),
                    &[],
                )
                .await?;
            R::Ok((row.try_get(0)?, row.try_get(1)?))
        })?;
        let ops = ops as i64;
        if count != i64::from(copy::ROWS) * ops || sum != expected.copy_sum * ops {
            return Err(format!(
                "{} on copy-in: table holds {count} rows (checksum {sum}), expected {} ({})",
                c.name(),
                i64::from(copy::ROWS) * ops,
                expected.copy_sum * ops
            )
            .into());
        }
    }
    Ok(Phase {
        ops_per_sec: ops as f64 / secs,
        cpu_us_per_op: cpu * 1e6 / ops as f64,
        user_cpu_us_per_op: user_cpu * 1e6 / ops as f64,
        secs,
    })
}
