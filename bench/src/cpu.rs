//! The process's CPU time from /proc (no `unsafe`, no libc).
//!
//! Preferred: the sum over this process's threads of /proc/self/task/*/schedstat's first field
//! (nanoseconds on CPU, user + system). Fallback: /proc/self/stat utime + stime, in 10 ms ticks,
//! too coarse for phases of a few hundred milliseconds, but right on average.
//!
//! The split between user space and the kernel comes from utime and stime, which the kernel
//! samples per tick: a phase's user share is utime / (utime + stime) over the phase.

use std::fs;
use std::io;

/// Linux reports utime/stime in USER_HZ ticks, which is 100 on every architecture Linux
/// exposes to user space.
const TICKS_PER_SEC: f64 = 100.0;

/// User + system CPU seconds of this process (all threads) so far.
pub fn process_cpu_secs() -> io::Result<f64> {
    schedstat_secs().or_else(|_| stat_secs())
}

/// CPU seconds of this process so far: the total, and the user/system ticks that split it.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    pub total_secs: f64,
    user_ticks: f64,
    system_ticks: f64,
}

impl CpuSample {
    pub fn now() -> io::Result<CpuSample> {
        let (user_ticks, system_ticks) = stat_ticks()?;
        Ok(CpuSample {
            total_secs: process_cpu_secs()?,
            user_ticks,
            system_ticks,
        })
    }

    /// CPU seconds since `earlier`, and how many of them were spent in user space.
    pub fn since(&self, earlier: &CpuSample) -> (f64, f64) {
        let total = self.total_secs - earlier.total_secs;
        let user = self.user_ticks - earlier.user_ticks;
        let system = self.system_ticks - earlier.system_ticks;
        let share = if user + system > 0.0 {
            user / (user + system)
        } else {
            0.5
        };
        (total, total * share)
    }
}

/// Which source `process_cpu_secs` uses on this machine.
pub fn source() -> &'static str {
    if schedstat_secs().is_ok() {
        "/proc/self/task/*/schedstat (ns)"
    } else {
        "/proc/self/stat utime+stime (10 ms ticks)"
    }
}

fn schedstat_secs() -> io::Result<f64> {
    let mut ns: u64 = 0;
    for task in fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("schedstat");
        // A thread may exit between read_dir and the read: its time is then lost, which only
        // happens to tokio's idle blocking-pool threads, never inside a phase.
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        ns += text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other("malformed schedstat"))?;
    }
    Ok(ns as f64 / 1e9)
}

fn stat_secs() -> io::Result<f64> {
    let (utime, stime) = stat_ticks()?;
    Ok((utime + stime) / TICKS_PER_SEC)
}

/// utime and stime of /proc/self/stat, in ticks.
fn stat_ticks() -> io::Result<(f64, f64)> {
    let [utime, stime, _, _] = stat_fields()?;
    Ok((utime, stime))
}

/// CPU seconds (total, user) of this process's children that have exited and been waited
/// for: /proc/self/stat cutime and cstime, what `getrusage(RUSAGE_CHILDREN)` reports, in
/// 10 ms ticks.
pub fn children_secs() -> io::Result<(f64, f64)> {
    let [_, _, cutime, cstime] = stat_fields()?;
    Ok(((cutime + cstime) / TICKS_PER_SEC, cutime / TICKS_PER_SEC))
}

/// utime, stime, cutime and cstime of /proc/self/stat, in ticks.
fn stat_fields() -> io::Result<[f64; 4]> {
    let stat = fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("malformed /proc/self/stat"))?;
    // rest starts at field 3 (state); utime is field 14, then stime, cutime, cstime.
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = || -> io::Result<f64> {
        fields
            .next()
            .and_then(|f| f.parse::<i64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| io::Error::other("malformed /proc/self/stat"))
    };
    Ok([next()?, next()?, next()?, next()?])
}
