//! The matrix runs hermetically: its cells see a private `/tmp` and
//! `/private` (tmpfs, see [`crate::apply::linux::namespace`]) where the
//! harness makes its fixtures, so a run never reads or writes the host's
//! files there, needs no `sudo mkdir`, and nothing an earlier run left
//! (as root or as another user) is in its way.
//!
//! Two ways in: [`enter`] for a single-threaded process (`sbcheck run`,
//! `sbcheck expect`, a benchmark's `main`), and [`reran`] for a test,
//! which re-runs itself in a child test process made inside a fresh
//! namespace (a test thread cannot enter one: the test binary is
//! multithreaded).

#[cfg(target_os = "linux")]
use std::path::{Path, PathBuf};

/// Names the test a re-run child runs: only that test does its work.
const TEST_ENV: &str = "SBCHECK_HERMETIC_TEST";

/// Why the private namespace cannot be had.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Whether this process is inside a private namespace ([`enter`] or
/// [`reran`] made it); fixtures are made only there.
pub fn is_private() -> bool {
    #[cfg(target_os = "linux")]
    return crate::apply::linux::namespace::is_private();
    #[cfg(not(target_os = "linux"))]
    return false;
}

/// Enters a private namespace in this single-threaded process. `keep`:
/// directories the process reads or writes (project, matrix, output); any
/// of them under `/tmp` or `/private` is bound back from the host. A kept
/// directory holding one of `fixtures` is refused: the fixture would be
/// made in the host's directory.
#[cfg(target_os = "linux")]
pub fn enter(keep: &[&Path], fixtures: &[&Path]) -> Result<(), Error> {
    use crate::apply::linux::namespace;
    let plan = plan(keep, fixtures)?;
    namespace::enter(&plan).map_err(|f| Error(f.to_string()))
}

/// The plan for `keep`, checked against `fixtures`.
#[cfg(target_os = "linux")]
fn plan(keep: &[&Path], fixtures: &[&Path]) -> Result<crate::apply::linux::namespace::Plan, Error> {
    use crate::apply::linux::namespace::{self, Plan};
    let mut plan = Plan::new().map_err(|e| Error(format!("reading the host's /: {e}")))?;
    // Checked as given before anything is created, then as bound (a link
    // may lead into the fixture tree).
    for dir in keep {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        if namespace::is_hidden(&dir) {
            overlap(&dir, fixtures)?;
        }
    }
    for dir in keep {
        plan.keep(dir)
            .map_err(|e| Error(format!("keeping {}: {e}", dir.display())))?;
    }
    for kept in plan.kept() {
        overlap(&kept, fixtures)?;
    }
    Ok(plan)
}

/// Refuses a directory kept from the host that holds one of `fixtures`.
#[cfg(target_os = "linux")]
fn overlap(kept: &Path, fixtures: &[&Path]) -> Result<(), Error> {
    match fixtures.iter().find(|f| f.starts_with(kept)) {
        Some(f) => Err(Error(format!(
            "{} is the host's and holds the fixture {}: the harness would make it there; \
             choose a directory outside the matrix's fixture tree",
            kept.display(),
            f.display()
        ))),
        None => Ok(()),
    }
}

/// In a test: `false` when this process is the re-run inside a private
/// namespace (the test goes on and does its work); otherwise re-runs
/// `test` (its libtest name, e.g. `v1_read::read_etc_hosts`) in a child
/// test process inside a fresh namespace, and returns `true` once that
/// passed (the caller returns). Panics with the child's output when the
/// re-run fails or does not run exactly that test. The child's `SKIPPED`
/// lines are repeated on stderr.
#[cfg(target_os = "linux")]
pub fn reran(test: &str) -> bool {
    if std::env::var(TEST_ENV).as_deref() == Ok(test) && is_private() {
        return false;
    }
    let out = rerun(test).unwrap_or_else(|e| panic!("{test}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        panic!(
            "{test} failed in its private namespace ({}):\n{stderr}",
            out.status
        );
    }
    if !stdout.contains("test result: ok. 1 passed") {
        panic!("{test}: the re-run in a private namespace ran no such test:\n{stdout}{stderr}");
    }
    for line in stderr.lines().filter(|l| l.starts_with("SKIPPED")) {
        // Straight to stderr: libtest captures eprintln! but a skip must show.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    true
}

/// Without namespaces (macOS) a test runs where it is.
#[cfg(not(target_os = "linux"))]
pub fn reran(_test: &str) -> bool {
    false
}

/// [`reran`] for the test running on this thread: libtest names each
/// test's thread after the test (`v1_read::read_etc_hosts`), with or
/// without `--test-threads=1`. Panics on a thread with no test's name.
pub fn reran_this_test() -> bool {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => reran(name),
        _ => panic!(
            "hermetic::reran_this_test: not on a test's thread (libtest names it after the test); \
             call hermetic::reran with the test's name"
        ),
    }
}

/// Runs `test` alone in this test binary, inside a fresh namespace.
#[cfg(target_os = "linux")]
fn rerun(test: &str) -> Result<std::process::Output, Error> {
    use crate::apply::linux::namespace;
    let exe = std::env::current_exe().map_err(|e| Error(format!("the test binary: {e}")))?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let exe_dir = exe.parent().unwrap_or(Path::new("/"));
    let plan = plan(&[&cwd, exe_dir], &[])?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args([
        test,
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(TEST_ENV, test)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = namespace::spawn_inside(&mut cmd, plan).map_err(|e| {
        Error(format!(
            "cannot make the private /tmp and /private the test runs in: {e}{}",
            namespace::hint()
        ))
    })?;
    child
        .wait_with_output()
        .map_err(|e| Error(format!("waiting for the re-run: {e}")))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// An output directory in the host's /tmp that would hold a fixture is
    /// refused, naming both: the fixture would be made in the host's tree.
    #[test]
    fn a_kept_directory_holding_a_fixture_is_refused() {
        let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        let fixture = dir.path().join("programs/true");
        let e = plan(&[dir.path()], &[&fixture]).err().expect("refused");
        assert!(e.0.contains("holds the fixture"), "{e}");
        assert!(e.0.contains(&fixture.display().to_string()), "{e}");
        // Refused before the directory is made on the host.
        let fresh = dir.path().join("not-made");
        assert!(plan(&[&fresh], &[&fresh.join("x")]).is_err());
        assert!(!fresh.exists());
        let elsewhere = Path::new("/tmp/sbcheck/programs/true");
        assert!(plan(&[dir.path()], &[elsewhere]).is_ok());
    }
}
