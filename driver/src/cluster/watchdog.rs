//! The watchdog: a small `sh` process that cleans up a cluster whose owner
//! died without dropping it.
//!
//! Its stdin is a pipe whose only write end lives in this process (std
//! creates pipes close-on-exec, so no other child inherits it). The script
//! blocks in `read`:
//! - a normal Drop writes `done`: the watchdog exits and does nothing;
//! - when this process ends in any way — `std::process::exit`, a static that
//!   is never dropped, a crash, SIGKILL — the kernel closes the write end,
//!   `read` sees end of file, and the watchdog stops the server
//!   (`pg_ctl stop -m immediate`, then SIGKILL if the pid file is still
//!   there) and removes the directory.
//!
//! It runs in its own process group with SIGINT/SIGHUP/SIGQUIT ignored, so a
//! Ctrl-C that kills the test run does not kill the watchdog first. When this
//! process is root, the watchdog runs as the cluster's user (so `pg_ctl` is
//! allowed to run); that user owns the cluster's directory and may remove it.

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// `$1` = directory to remove, `$2` = data directory, `$3` = pg_ctl.
const SCRIPT: &str = r#"trap '' INT HUP QUIT
IFS= read -r line
[ "$line" = done ] && exit 0
if [ -f "$2/postmaster.pid" ]; then
    "$3" -D "$2" stop -m immediate -w -t 30 >/dev/null 2>&1
    if [ -f "$2/postmaster.pid" ]; then
        pid=$(head -n 1 "$2/postmaster.pid")
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    fi
fi
rm -rf "$1"
"#;

#[derive(Debug)]
pub(super) struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    pub(super) fn spawn(
        dir: &Path,
        data_dir: &Path,
        pg_ctl: &Path,
        run_as: Option<(u32, u32)>,
    ) -> io::Result<Watchdog> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("pgtusk-cluster-watchdog")
            .arg(dir)
            .arg(data_dir)
            .arg(pg_ctl)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some((uid, gid)) = run_as {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("could not start the cluster's watchdog (/bin/sh): {e}"),
            )
        })?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// Tells the watchdog that the cluster was cleaned up, and reaps it.
    pub(super) fn dismiss(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // If the watchdog is gone already the write fails; nothing to do.
            let _ = stdin.write_all(b"done\n");
        }
        let _ = self.child.wait();
    }
}
