//! Finding the PostgreSQL server binaries and the user to run them as.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Environment variable that names the directory holding `initdb`, `postgres`
/// and `pg_ctl`; it wins over every other way of finding them.
pub const BINDIR_ENV: &str = "PGTUSK_PG_BINDIR";

/// The programs a bin dir must hold for a cluster to start.
const REQUIRED: [&str; 3] = ["initdb", "postgres", "pg_ctl"];

/// Resolves the bin dir: the explicit one if given, else [`BINDIR_ENV`],
/// `pg_config --bindir`, `initdb` on `PATH`, the newest
/// `/usr/lib/postgresql/*/bin`. The automatic lookup runs once per process.
pub(super) fn bin_dir(explicit: Option<&Path>) -> io::Result<PathBuf> {
    if let Some(dir) = explicit {
        return check_explicit(dir, "given with TempClusterBuilder::bin_dir");
    }
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(|| lookup().map_err(|e| e.to_string())) {
        Ok(dir) => Ok(dir.clone()),
        Err(msg) => Err(io::Error::new(io::ErrorKind::NotFound, msg.clone())),
    }
}

fn lookup() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|v| !v.is_empty()) {
        return check_explicit(Path::new(&dir), &format!("from {BINDIR_ENV}"));
    }
    let mut tried = vec![format!("{BINDIR_ENV} (not set)")];

    match pg_config_bindir() {
        Ok(dir) if missing(&dir).is_none() => return Ok(dir),
        Ok(dir) => tried.push(format!(
            "`pg_config --bindir` ({} has no {})",
            dir.display(),
            missing(&dir).unwrap_or_default()
        )),
        Err(why) => tried.push(format!("`pg_config --bindir` ({why})")),
    }

    match initdb_on_path() {
        Some(dir) if missing(&dir).is_none() => return Ok(dir),
        Some(dir) => tried.push(format!(
            "`initdb` on PATH (found in {}, which has no {})",
            dir.display(),
            missing(&dir).unwrap_or_default()
        )),
        None => tried.push("`initdb` on PATH (not found)".to_owned()),
    }

    match newest_debian_bin_dir() {
        Some(dir) => return Ok(dir),
        None => {
            tried.push("/usr/lib/postgresql/*/bin (none with initdb, postgres and pg_ctl)".into())
        }
    }

    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "no PostgreSQL server binaries (initdb, postgres, pg_ctl) found; looked at: {}. \
             Install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`) \
             or set {BINDIR_ENV} to the directory that holds initdb",
            tried.join("; ")
        ),
    ))
}

/// A bin dir the caller asked for: it must be complete, no fallback.
fn check_explicit(dir: &Path, origin: &str) -> io::Result<PathBuf> {
    match missing(dir) {
        None => Ok(dir.to_path_buf()),
        Some(what) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "PostgreSQL bin dir {} ({origin}) is not usable: {what} not found there \
                 (it must hold initdb, postgres and pg_ctl)",
                dir.display()
            ),
        )),
    }
}

/// The required programs that `dir` lacks, or `None` when it has them all.
fn missing(dir: &Path) -> Option<String> {
    let absent: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| !is_executable(&dir.join(name)))
        .collect();
    (!absent.is_empty()).then(|| absent.join(", "))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn pg_config_bindir() -> Result<PathBuf, String> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => "pg_config not found on PATH".to_owned(),
            _ => format!("could not run pg_config: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!("pg_config failed: {}", out.status));
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if dir.is_empty() {
        return Err("pg_config printed nothing".to_owned());
    }
    Ok(PathBuf::from(dir))
}

/// The directory of the real `initdb` found on `PATH` (symlinks resolved, so
/// `/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb` gives the
/// latter, where `postgres` and `pg_ctl` live too).
fn initdb_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("initdb"))
        .find(|p| is_executable(p))
        .and_then(|p| fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// The newest `/usr/lib/postgresql/<version>/bin` that is complete.
fn newest_debian_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().as_os_str())?;
            let bin = entry.path().join("bin");
            missing(&bin).is_none().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, dir)| dir)
}

/// "15" -> [15], "9.6" -> [9, 6]; anything else is not a version directory.
fn parse_version(name: &OsStr) -> Option<Vec<u32>> {
    name.to_str()?
        .split('.')
        .map(|part| part.parse().ok())
        .collect()
}

/// Whether this process runs with effective uid 0.
pub(super) fn is_root() -> bool {
    // /proc/<pid> belongs to the process's effective uid (Linux).
    if let Ok(meta) = fs::metadata("/proc/self") {
        return meta.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

/// uid and gid of the `postgres` system user, from /etc/passwd or `id`.
pub(super) fn postgres_user_ids() -> io::Result<(u32, u32)> {
    if let Some(ids) = fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| passwd_entry(&passwd, "postgres"))
    {
        return Ok(ids);
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status.success().then_some(())?;
        std::str::from_utf8(&out.stdout).ok()?.trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => Ok((uid, gid)),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "this process runs as root and PostgreSQL refuses to run as root, so the cluster \
             would run as the `postgres` system user, but there is none (not in /etc/passwd, \
             `id postgres` failed); create it (`useradd --system postgres`) or run as a \
             non-root user",
        )),
    }
}

/// `(uid, gid)` of `user` in passwd(5) text.
fn passwd_entry(passwd: &str, user: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        let v = |s: &str| parse_version(OsStr::new(s));
        assert_eq!(v("15"), Some(vec![15]));
        assert_eq!(v("9.6"), Some(vec![9, 6]));
        assert_eq!(v("common"), None);
        assert!(v("10") > v("9.6"));
    }

    #[test]
    fn passwd_lines_give_uid_and_gid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:101:104:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(passwd_entry(passwd, "postgres"), Some((101, 104)));
        assert_eq!(passwd_entry(passwd, "nobody"), None);
    }

    #[test]
    fn explicit_bin_dir_that_lacks_initdb_is_refused() {
        let err = bin_dir(Some(Path::new("/nonexistent/pg/bin"))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/pg/bin"), "{msg}");
        assert!(msg.contains("initdb"), "{msg}");
    }
}
