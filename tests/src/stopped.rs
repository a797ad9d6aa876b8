//! A server process that stops answering: [`Stopped`] sends it SIGSTOP and, when dropped,
//! SIGCONT, so a failing test never leaves a frozen server behind. The process keeps its
//! sockets: the kernel still accepts connections on the postmaster's listening socket and
//! takes the bytes written to a backend, but nothing answers, which is what a hung host or
//! an overloaded server looks like to a client.

use std::fs;
use std::io;
use std::process::Command;

use pgtusk::cluster::TempCluster;

/// A process stopped with SIGSTOP until this guard is dropped (SIGCONT).
///
/// Declare it after the [`TempCluster`] it belongs to, so that it is dropped first and the
/// cluster can stop a running server.
#[derive(Debug)]
#[must_use = "the process continues as soon as the guard is dropped"]
pub struct Stopped {
    pid: u32,
    what: String,
}

impl Stopped {
    /// Stops the process `pid` (`what` names it in messages: "the postmaster", "backend 123").
    pub fn process(pid: u32, what: impl Into<String>) -> io::Result<Stopped> {
        let what = what.into();
        signal(pid, "STOP").map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))?;
        Ok(Stopped { pid, what })
    }

    /// Stops the cluster's postmaster: no new connection gets an answer (nor a cancel
    /// request); the backends already running carry on.
    pub fn postmaster(cluster: &TempCluster) -> io::Result<Stopped> {
        Stopped::process(postmaster_pid(cluster)?, "the postmaster")
    }

    /// Stops the backend serving one connection (its `backend_pid()`): that connection
    /// gets no answer, while the postmaster still accepts connections and cancel requests.
    pub fn backend(pid: i32) -> io::Result<Stopped> {
        let pid = u32::try_from(pid).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("backend pid {pid}"))
        })?;
        Stopped::process(pid, format!("backend {pid}"))
    }

    /// The stopped process's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Err(e) = signal(self.pid, "CONT") {
            // Nothing to return an error to; a process left stopped must at least be told.
            eprintln!("could not continue {} (pid {}): {e}", self.what, self.pid);
        }
    }
}

/// The postmaster's pid: the first line of `postmaster.pid` in the data directory.
pub fn postmaster_pid(cluster: &TempCluster) -> io::Result<u32> {
    let path = cluster.data_dir().join("postmaster.pid");
    let contents = fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    contents
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} does not start with a pid", path.display()),
            )
        })
}

/// Sends `SIG<name>` to `pid` with kill(1) (the tests crate has no libc binding).
fn signal(pid: u32, name: &str) -> io::Result<()> {
    let output = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running kill: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -{name} {pid} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
