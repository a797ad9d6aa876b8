//! Load: 1,000 tasks share a pool of 10 connections for a bounded time. Every request must
//! succeed, every task must be served (the pool's waiters are first come, first served),
//! and the process's memory must stay flat once warmed up. The acquire waits are reported
//! (p50, p99, max) but not asserted: on a shared 2-core machine they say how loaded the
//! machine was as much as how the pool behaves.
//!
//! `cargo test -p pgtusk-tests --test load -- --nocapture` prints the figures;
//! `-- --ignored` runs a two-minute variant.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pgtusk::{Connection, Pool};
use pgtusk_tests::{sessions, shared_options};

const TASKS: usize = 1_000;
const MAX_CONNECTIONS: usize = 10;
/// The load runs this long before the memory is first read: connections opened, statements
/// cached, every task's future allocated, the runtime's buffers grown.
const WARM_UP: Duration = Duration::from_secs(3);
/// How much the resident memory may grow between the end of the warm-up and the end.
const RSS_GROWTH_BOUND: u64 = 20 * 1024 * 1024;
const APP: &str = "load_test";

/// 1,000 tasks over a pool of 10 for 12 s (3 s warm-up, 9 s measured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_share_a_pool_of_ten() {
    run_load(Duration::from_secs(9)).await;
}

/// The same for two minutes, to see memory and waits over a longer run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for two minutes; run with --ignored --nocapture"]
async fn a_thousand_tasks_share_a_pool_of_ten_for_two_minutes() {
    run_load(Duration::from_secs(120)).await;
}

async fn run_load(measured: Duration) {
    let pool = Pool::builder(shared_options().application_name(APP))
        .max_connections(MAX_CONNECTIONS)
        // No request may fail: the wait is for the whole queue ahead, so allow plenty.
        .acquire_timeout(Duration::from_secs(120))
        .build()
        .await
        .unwrap();
    let waits = Arc::new(Histogram::new());
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (pool, waits) = (pool.clone(), waits.clone());
            let (recording, stop) = (recording.clone(), stop.clone());
            tokio::spawn(async move {
                let mut served = 0u64;
                let mut failed = 0u64;
                let mut first_error = None;
                let mut n: i32 = 0;
                while !stop.load(Ordering::Acquire) {
                    n = n.wrapping_add(1);
                    let asked = Instant::now();
                    let result = async {
                        let mut conn = pool.acquire().await?;
                        if recording.load(Ordering::Acquire) {
                            waits.record(asked.elapsed());
                        }
                        conn.fetch_value::<i32>("SELECT $1::int4", &[&n]).await
                    }
                    .await;
                    match result {
                        Ok(echoed) => {
                            assert_eq!(echoed, n, "task {task} got another request's answer");
                            served += 1;
                        }
                        Err(e) => {
                            failed += 1;
                            first_error.get_or_insert(e.to_string());
                        }
                    }
                }
                (served, failed, first_error)
            })
        })
        .collect();

    tokio::time::sleep(WARM_UP).await;
    recording.store(true, Ordering::Release);
    let rss_start = resident_bytes();
    let started = Instant::now();
    tokio::time::sleep(measured).await;
    let rss_end = resident_bytes();
    let elapsed = started.elapsed();
    let status = pool.status();
    let mut observer = Connection::connect_with(&shared_options()).await.unwrap();
    let sessions = sessions(&mut observer, APP).await;
    stop.store(true, Ordering::Release);

    let mut served = Vec::with_capacity(TASKS);
    let mut errors = Vec::new();
    for (task, handle) in tasks.into_iter().enumerate() {
        let (ok, failed, first_error) = handle.await.expect("a load task panicked");
        served.push(ok);
        if failed > 0 {
            errors.push(format!(
                "task {task}: {failed} failed, first: {first_error:?}"
            ));
        }
    }
    pool.close().await;

    let total: u64 = served.iter().sum();
    let (least, most) = (
        served.iter().min().copied().unwrap_or(0),
        served.iter().max().copied().unwrap_or(0),
    );
    println!(
        "{TASKS} tasks, pool of {MAX_CONNECTIONS}, {WARM_UP:?} warm-up then {elapsed:.1?} \
         measured: {total} requests served in all ({:.0}/s while measured), per task {least} \
         to {most}",
        waits.count() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "acquire wait over {} acquires: p50 {:?}, p99 {:?}, max {:?}",
        waits.count(),
        waits.percentile(0.50),
        waits.percentile(0.99),
        waits.max()
    );
    println!(
        "RSS after warm-up {:.1} MiB, at the end {:.1} MiB (growth {:+.1} MiB)",
        mib(rss_start),
        mib(rss_end),
        (mib(rss_end) - mib(rss_start))
    );
    println!("at the end: pool {status}; {sessions} sessions on the server");

    assert!(errors.is_empty(), "requests failed: {errors:#?}");
    assert!(
        least > 0,
        "{} task(s) were never served",
        served.iter().filter(|&&n| n == 0).count()
    );
    assert!(
        rss_end.saturating_sub(rss_start) < RSS_GROWTH_BOUND,
        "resident memory grew from {rss_start} to {rss_end} bytes under a steady load"
    );
    assert!(status.size <= MAX_CONNECTIONS, "{status}");
    assert!(
        sessions as usize <= MAX_CONNECTIONS,
        "{sessions} sessions on the server for a pool of {MAX_CONNECTIONS}"
    );
}

/// The process's resident memory (`VmRSS` in `/proc/self/status`), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a VmRSS line in /proc/self/status");
    kib * 1024
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Durations in microseconds, in log-linear buckets: exact below 1,024 µs, then 64 buckets
/// per power of two (within 1.6 %). Allocated once and recorded with atomics, so recording
/// adds no memory while the test watches it.
struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max_micros: AtomicU64,
}

/// Values below this have a bucket each.
const LINEAR: u64 = 1024;
/// log2(LINEAR).
const LINEAR_BITS: u32 = 10;
/// Buckets per power of two above `LINEAR`, as bits.
const SUB_BITS: u32 = 6;

impl Histogram {
    fn new() -> Histogram {
        let len = LINEAR as usize + ((64 - LINEAR_BITS as usize) << SUB_BITS);
        Histogram {
            buckets: (0..len).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }
    }

    fn record(&self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn max(&self) -> Duration {
        Duration::from_micros(self.max_micros.load(Ordering::Relaxed))
    }

    /// The smallest bucket bound at or below which a fraction `p` of the values lie
    /// (never above the largest value).
    fn percentile(&self, p: f64) -> Duration {
        let wanted = (p * self.count() as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n.load(Ordering::Relaxed);
            if seen >= wanted {
                let upper = lower_bound(index + 1).saturating_sub(1);
                return Duration::from_micros(upper).min(self.max());
            }
        }
        self.max()
    }
}

fn bucket(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros();
    let sub = (micros >> (exponent - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    LINEAR as usize + (((exponent - LINEAR_BITS) as usize) << SUB_BITS) + sub as usize
}

/// The smallest value of bucket `index`.
fn lower_bound(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let above = index - LINEAR as usize;
    let exponent = (above >> SUB_BITS) as u32 + LINEAR_BITS;
    let sub = (above & ((1 << SUB_BITS) - 1)) as u64;
    if exponent >= 64 {
        return u64::MAX;
    }
    (1u64 << exponent) + (sub << (exponent - SUB_BITS))
}

/// The histogram's buckets cover every value and their bounds are increasing.
#[test]
fn histogram_buckets_are_ordered_and_bounded() {
    for micros in [0, 1, 1023, 1024, 1025, 1_500, 65_535, 1 << 40, u64::MAX] {
        let index = bucket(micros);
        assert!(
            lower_bound(index) <= micros,
            "{micros} below bucket {index}"
        );
        assert!(
            micros < lower_bound(index + 1) || lower_bound(index + 1) == u64::MAX,
            "{micros} above bucket {index}"
        );
    }
    let h = Histogram::new();
    for micros in 1..=1000u64 {
        h.record(Duration::from_micros(micros * 10));
    }
    assert_eq!(h.count(), 1000);
    let p50 = h.percentile(0.5).as_micros() as f64;
    assert!((p50 - 5000.0).abs() / 5000.0 < 0.02, "{p50}");
    assert_eq!(h.percentile(1.0), Duration::from_micros(10_000));
    assert_eq!(h.max(), Duration::from_micros(10_000));
}
