//! Statistics, the stdout table, the JSON record and the SVG chart.

use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::workloads::{BoxError, Contestant, Workload};

#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub ops_per_sec: f64,
    pub cpu_us_per_op: f64,
    /// The part of `cpu_us_per_op` spent in user space (the rest is the kernel's: socket
    /// calls, wake-ups, loopback TCP).
    pub user_cpu_us_per_op: f64,
    pub secs: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub median_ops_per_sec: f64,
    /// (max - min) / median of the per-round throughput, in percent.
    pub spread_pct: f64,
    pub median_cpu_us_per_op: f64,
    pub median_user_cpu_us_per_op: f64,
    /// Median CPU per row in ns, for workloads that return or write many rows.
    pub median_cpu_ns_per_row: Option<f64>,
    /// Median over rounds of (first contestant's ops/s) / (this contestant's ops/s).
    pub ratio_throughput: Option<f64>,
    /// Median over rounds of (first contestant's CPU per op) / (this contestant's CPU per op).
    pub ratio_cpu: Option<f64>,
    /// The same ratio for user-space CPU alone.
    pub ratio_user_cpu: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ContestantResult {
    pub driver: &'static str,
    pub phases: Vec<Phase>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct WorkloadResult {
    pub number: u8,
    pub key: &'static str,
    pub title: &'static str,
    pub ops_per_phase: usize,
    pub rows_per_op: u64,
    pub note: Option<&'static str>,
    pub skipped: Option<&'static str>,
    pub contestants: Vec<ContestantResult>,
}

#[derive(Debug, Serialize)]
pub struct Run {
    pub date_utc: String,
    pub machine: String,
    pub server_version: String,
    pub rounds: usize,
    pub scale: f64,
    pub asyncpg: Option<String>,
    pub cpu_source: &'static str,
    pub workloads: Vec<WorkloadResult>,
}

impl WorkloadResult {
    pub fn new(w: Workload, ops: usize, contestants: &[Contestant]) -> Self {
        WorkloadResult {
            number: w.number(),
            key: w.key(),
            title: w.title(),
            ops_per_phase: ops,
            rows_per_op: w.rows_per_op(),
            note: w.note(),
            skipped: None,
            contestants: contestants
                .iter()
                .map(|c| ContestantResult {
                    driver: c.name(),
                    phases: Vec::new(),
                    summary: Summary::default(),
                })
                .collect(),
        }
    }

    pub fn skipped(w: Workload, why: &'static str) -> Self {
        let mut r = WorkloadResult::new(w, 0, &[]);
        r.skipped = Some(why);
        r
    }

    fn summarize(&mut self) {
        let first: Vec<Phase> = match self.contestants.first() {
            Some(c) => c.phases.clone(),
            None => return,
        };
        for (i, c) in self.contestants.iter_mut().enumerate() {
            let thr: Vec<f64> = c.phases.iter().map(|p| p.ops_per_sec).collect();
            let cpu: Vec<f64> = c.phases.iter().map(|p| p.cpu_us_per_op).collect();
            let user: Vec<f64> = c.phases.iter().map(|p| p.user_cpu_us_per_op).collect();
            let m = median(&thr);
            let (lo, hi) = thr
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let cpu_m = median(&cpu);
            c.summary = Summary {
                median_ops_per_sec: m,
                spread_pct: if m > 0.0 { (hi - lo) / m * 100.0 } else { 0.0 },
                median_cpu_us_per_op: cpu_m,
                median_user_cpu_us_per_op: median(&user),
                median_cpu_ns_per_row: (self.rows_per_op > 1)
                    .then(|| cpu_m * 1000.0 / self.rows_per_op as f64),
                ratio_throughput: (i > 0).then(|| {
                    let r: Vec<f64> = first
                        .iter()
                        .zip(&c.phases)
                        .map(|(a, b)| a.ops_per_sec / b.ops_per_sec)
                        .collect();
                    median(&r)
                }),
                ratio_cpu: (i > 0).then(|| {
                    let r: Vec<f64> = first
                        .iter()
                        .zip(&c.phases)
                        .map(|(a, b)| a.cpu_us_per_op / b.cpu_us_per_op.max(1e-9))
                        .collect();
                    median(&r)
                }),
                ratio_user_cpu: (i > 0).then(|| {
                    let r: Vec<f64> = first
                        .iter()
                        .zip(&c.phases)
                        .map(|(a, b)| a.user_cpu_us_per_op / b.user_cpu_us_per_op.max(1e-9))
                        .collect();
                    median(&r)
                }),
            };
        }
    }
}

fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn header() {
    println!(
        "{:<20} {:>12} {:>8} {:>12} {:>10} {:>11} {:>13} {:>10} {:>11}",
        "driver",
        "ops/s",
        "spread",
        "CPU µs/op",
        "CPU ns/row",
        "user µs/op",
        "thr pg/this",
        "CPU pg/this",
        "user pg/this"
    );
}

fn opt(x: Option<f64>, prec: usize) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.prec$}"))
}

fn print_rows(w: &WorkloadResult) {
    for c in &w.contestants {
        let s = &c.summary;
        println!(
            "{:<20} {:>12.1} {:>7.1}% {:>12.1} {:>10} {:>11.1} {:>13} {:>10} {:>11}",
            c.driver,
            s.median_ops_per_sec,
            s.spread_pct,
            s.median_cpu_us_per_op,
            opt(s.median_cpu_ns_per_row, 0),
            s.median_user_cpu_us_per_op,
            opt(s.ratio_throughput, 2),
            opt(s.ratio_cpu, 2),
            opt(s.ratio_user_cpu, 2),
        );
    }
}

/// Prints one workload's table as soon as it is done.
pub fn print_workload(w: &mut WorkloadResult) {
    w.summarize();
    println!(
        "\n[{}] {} — {} ({} ops/phase)",
        w.number, w.key, w.title, w.ops_per_phase
    );
    if let Some(n) = w.note {
        println!("  note: {n}");
    }
    header();
    print_rows(w);
    print_targets(w);
}

/// The whole table again at the end, with the run's context.
pub fn print_summary(run: &Run) {
    println!("\n=== pgtusk-bench, {} ===", run.date_utc);
    println!("machine: {}", run.machine);
    println!(
        "server: PostgreSQL {}; {} rounds, scale {}; {}",
        run.server_version,
        run.rounds,
        run.scale,
        run.asyncpg.as_deref().unwrap_or("asyncpg skipped")
    );
    println!(
        "client CPU: {} (asyncpg: its own time.process_time()); user = the user-space part, \
         split by the kernel's utime/stime ticks (asyncpg: getrusage ru_utime)",
        run.cpu_source
    );
    println!(
        "ops/s and CPU are medians over rounds; spread = (max-min)/median; \
         thr pg/this = pgtusk ops/s ÷ this driver's (>1: pgtusk faster); \
         CPU pg/this = pgtusk CPU/op ÷ this driver's (<1: pgtusk cheaper), user pg/this the \
         same for user-space CPU; the ratios are medians of per-round ratios"
    );
    for w in &run.workloads {
        println!("\n[{}] {} — {}", w.number, w.key, w.title);
        if let Some(why) = w.skipped {
            println!("  {why}");
            continue;
        }
        if let Some(n) = w.note {
            println!("  note: {n}");
        }
        header();
        print_rows(w);
        print_targets(w);
    }
}

/// Workload 9's targets (issue): pgtusk's throughput at least the best peer's and within 10 %
/// of pgbench's, its client CPU per query at most the best Rust peer's. Read from the per-round
/// ratios of the first row (pgtusk through the pool's Executor).
fn print_targets(w: &WorkloadResult) {
    if w.number == 10 {
        print_orm_target(w);
        return;
    }
    if w.key == "pipeline" {
        print_pipeline_target(w);
        return;
    }
    if w.key != "pool" || w.contestants.first().is_none_or(|c| c.driver != "pgtusk") {
        return;
    }
    let ratios = |drivers: &[&str], f: fn(&Summary) -> Option<f64>| {
        w.contestants
            .iter()
            .filter(|c| drivers.contains(&c.driver))
            .filter_map(|c| Some((c.driver, f(&c.summary)?)))
            .collect::<Vec<_>>()
    };
    let peers = ["deadpool-postgres", "sqlx", "sqlx no ping", "asyncpg"];
    let rust_peers = ["deadpool-postgres", "sqlx", "sqlx no ping"];
    // The best peer is the one the ratio pgtusk/peer is least favourable against.
    let thr = ratios(&peers, |s| s.ratio_throughput)
        .into_iter()
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let cpu = ratios(&rust_peers, |s| s.ratio_cpu)
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let pgbench = ratios(&["pgbench"], |s| s.ratio_throughput).pop();
    let show = |x: Option<(&str, f64)>, want: &str, ok: fn(f64) -> bool| match x {
        Some((d, r)) => format!(
            "{r:.2} ({d}; wanted {want}: {})",
            if ok(r) { "met" } else { "not met" }
        ),
        None => "- (not run)".to_owned(),
    };
    println!(
        "  targets: ops/s pgtusk/best peer {}; pgtusk/pgbench {}; CPU/op pgtusk/best Rust peer {}",
        show(thr, ">= 1.00", |r| r >= 1.0),
        show(pgbench, ">= 0.90", |r| r >= 0.9),
        show(cpu, "<= 1.00", |r| r <= 1.0),
    );
}

/// Workload 10's target (issue): sea-orm on pgtusk at least 1.2 × sea-orm on sqlx (its
/// defaults) in throughput, on each part.
fn print_orm_target(w: &WorkloadResult) {
    let Some(r) = w
        .contestants
        .iter()
        .find(|c| c.driver == "sea-orm/sqlx")
        .and_then(|c| c.summary.ratio_throughput)
    else {
        return;
    };
    println!(
        "  target: ops/s sea-orm/pgtusk ÷ sea-orm/sqlx {r:.2} (wanted >= 1.20: {})",
        if r >= 1.2 { "met" } else { "not met" }
    );
}

/// Workload 13's target (issue): pgtusk's pipeline at least as fast as tokio-postgres's
/// joined futures.
fn print_pipeline_target(w: &WorkloadResult) {
    let Some(r) = w
        .contestants
        .iter()
        .find(|c| c.driver == "tokio-postgres")
        .and_then(|c| c.summary.ratio_throughput)
    else {
        return;
    };
    println!(
        "  target: ops/s pgtusk ÷ tokio-postgres {r:.2} (wanted >= 1.00: {})",
        if r >= 1.0 { "met" } else { "not met" }
    );
}

pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores ({model}), Linux {kernel}, server and client on the same machine")
}

const COLORS: [RGBColor; 8] = [
    RGBColor(0xd6, 0x4f, 0x1c),
    RGBColor(0x3b, 0x6e, 0xb4),
    RGBColor(0x4c, 0x9a, 0x4a),
    RGBColor(0x88, 0x5a, 0xb0),
    RGBColor(0x99, 0x99, 0x99),
    RGBColor(0xf0, 0x9a, 0x6e),
    RGBColor(0x9c, 0xd0, 0x8e),
    RGBColor(0x33, 0x33, 0x33),
];

fn color_of(driver: &str) -> RGBColor {
    match driver {
        "pgtusk" | "sea-orm/pgtusk" => COLORS[0],
        // tokio-postgres under deadpool's pool, or over TLS.
        "tokio-postgres" | "deadpool-postgres" | "tokio-postgres-rustls" => COLORS[1],
        "sqlx" | "sea-orm/sqlx" | "sqlx rustls" => COLORS[2],
        "asyncpg" => COLORS[3],
        "pgtusk acquire" | "pgtusk by index" | "pgtusk atomic" => COLORS[5],
        "sqlx no ping" | "sea-orm/sqlx no ping" => COLORS[6],
        "pgbench" => COLORS[7],
        _ => COLORS[4],
    }
}

/// Grouped bars: each driver's median throughput relative to pgtusk's in the same workload.
pub fn chart(run: &Run, path: &Path) -> Result<(), BoxError> {
    let ws: Vec<&WorkloadResult> = run
        .workloads
        .iter()
        .filter(|w| w.skipped.is_none() && !w.contestants.is_empty())
        .collect();
    if ws.is_empty() {
        return Ok(());
    }
    let rel = |w: &WorkloadResult, c: &ContestantResult| {
        c.summary.median_ops_per_sec / w.contestants[0].summary.median_ops_per_sec
    };
    let ymax = ws
        .iter()
        .flat_map(|w| w.contestants.iter().map(|c| rel(w, c)))
        .fold(1.0f64, f64::max)
        * 1.15;
    let root = SVGBackend::new(path, (1100, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!(
        "throughput relative to pgtusk (higher = faster) — {}, {}",
        &run.date_utc[..10],
        run.machine.split(" (").next().unwrap_or("")
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..ws.len() as f64, 0f64..ymax)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("ops/s ÷ pgtusk ops/s")
        .draw()?;
    let mut drivers: Vec<&str> = Vec::new();
    for w in &ws {
        for c in &w.contestants {
            if !drivers.contains(&c.driver) {
                drivers.push(c.driver);
            }
        }
    }
    for d in &drivers {
        let color = color_of(d);
        let mut bars = Vec::new();
        for (i, w) in ws.iter().enumerate() {
            let n = w.contestants.len() as f64;
            if let Some(k) = w.contestants.iter().position(|c| c.driver == *d) {
                let width = 0.8 / n;
                let x0 = i as f64 + 0.1 + k as f64 * width;
                let y = rel(w, &w.contestants[k]);
                bars.push(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, y)],
                    color.filled(),
                ));
            }
        }
        chart
            .draw_series(bars)?
            .label(*d)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart.draw_series(ws.iter().enumerate().map(|(i, w)| {
        Text::new(
            format!("{} {}", w.number, w.key),
            (i as f64 + 0.1, ymax * 0.97),
            ("sans-serif", 13),
        )
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (ws.len() as f64, 1.0)],
        BLACK.stroke_width(1),
    )))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(30)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
