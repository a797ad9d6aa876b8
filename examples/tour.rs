//! A tour of pgtusk. Grows with the driver.
//!
//! Runs against `DATABASE_URL` when it is set, otherwise against a throwaway
//! server that `TempCluster` starts (and removes again at the end). Until the
//! driver connects, it talks to the server through `psql`.
//!
//! ```text
//! cargo run --example tour
//! DATABASE_URL=postgres://user:password@localhost/db cargo run --example tour
//! ```

use std::error::Error;
use std::process::{Command, Stdio};
use std::time::Instant;

use pgtusk::cluster::TempCluster;

fn main() -> Result<(), Box<dyn Error>> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            println!("server: DATABASE_URL");
            println!("{}", psql_url(&url, "SELECT version()")?);
        }
        _ => {
            let started = Instant::now();
            let cluster = TempCluster::start()?;
            println!(
                "server: throwaway cluster at {} (started in {:.2?})",
                cluster.dsn(),
                started.elapsed()
            );
            println!("{}", cluster.psql("SELECT version()")?);
            cluster.stop()?;
        }
    }
    Ok(())
}

/// `psql -c sql` against a connection URL; its output without the newline.
fn psql_url(url: &str, sql: &str) -> Result<String, Box<dyn Error>> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
            "-d",
            url,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run psql: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("psql failed ({}): {}", out.status, stderr.trim_end()).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}
