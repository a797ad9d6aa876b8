//! asyncpg through bench/asyncpg_runner.py: one long-lived Python process on uvloop, one
//! connection, driven line by line (JSON) between phases.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::workloads::{R, Workload};

pub struct Runner {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub version: String,
}

impl Runner {
    /// Starts the runner, or says why asyncpg cannot be used.
    pub fn start(dsn: &str) -> Result<Runner, String> {
        let probe = Command::new("python3")
            .args([
                "-c",
                "import asyncpg, uvloop; print(asyncpg.__version__, uvloop.__version__)",
            ])
            .output()
            .map_err(|e| format!("python3 not runnable: {e}"))?;
        if !probe.status.success() {
            return Err(format!(
                "python3 cannot import asyncpg and uvloop (pip install asyncpg uvloop): {}",
                String::from_utf8_lossy(&probe.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        let out = String::from_utf8_lossy(&probe.stdout);
        let mut v = out.split_whitespace();
        let version = format!(
            "asyncpg {} on uvloop {}",
            v.next().unwrap_or("?"),
            v.next().unwrap_or("?")
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/asyncpg_runner.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dsn)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {script}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Runner {
            child,
            stdin,
            stdout,
            version,
        })
    }

    /// Runs one phase; returns (wall seconds, CPU seconds of the Python process, checksum).
    pub fn run(&mut self, w: Workload, ops: usize, seed: u64) -> R<(f64, (f64, f64), i64)> {
        let cmd = serde_json::json!({ "w": w.key(), "ops": ops, "seed": seed });
        writeln!(self.stdin, "{cmd}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("asyncpg runner exited".into());
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(e) = v.get("error") {
            return Err(format!("asyncpg on {}: {e}", w.key()).into());
        }
        let f = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_f64)
                .ok_or(k.to_owned())
        };
        let sum = v
            .get("checksum")
            .and_then(serde_json::Value::as_i64)
            .ok_or("checksum")?;
        Ok((f("secs")?, (f("cpu")?, f("user_cpu")?), sum))
    }

    pub fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}
