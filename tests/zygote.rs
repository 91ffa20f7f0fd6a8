//! `sbcheck run`'s zygote (one sandboxed process forking every probe of a
//! profile, the filter installed once) against the per-cell path (one
//! fork and one filter per cell, as `cargo test` runs cells): the same
//! records for allowed, denied, timed-out and killed probes, the zygote's
//! own forks never judged as the probe's, and a probe's fork still judged.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod sandboxed;

use sbcheck::apply::process::{Ending, ExitStatus};
use sbcheck::harness::{load_profile, run_profile, CellRecord, Observed, RunOptions};
use sbcheck::matrix::Matrix;
use std::path::Path;
use std::time::Duration;

/// A matrix over three profiles written into `dir`: one allowing all but
/// one file, one killing (SIGKILL) the probe that reads that file, one
/// denying process-fork (which the zygote's forks must not be judged by);
/// and the project's v1_read with a probe that blocks.
fn matrix(dir: &Path) -> Matrix {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    for name in ["allowed", "denied"] {
        std::fs::write(file(name), b"x\n").unwrap();
    }
    let fifo = file("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let denied = file("denied");
    let sources = [
        ("deny_one", format!("(version 1)(allow default)(deny file-read* (literal \"{denied}\"))")),
        ("kill_one", format!("(version 1)(allow default)(deny file-read* (literal \"{denied}\") (with send-signal SIGKILL))")),
        ("no_fork", "(version 1)(allow default)(deny process-fork)".to_owned()),
    ];
    let cell = |name: &str, op: &str, target: String, expected: &str| serde_json::json!({ "name": name, "operation": op, "target": target, "expected": expected });
    let mut profiles = serde_json::Map::new();
    for (name, sbpl) in sources {
        let source = dir.join(format!("{name}.sb"));
        std::fs::write(&source, sbpl).unwrap();
        let denied_expectation = if name == "no_fork" { "allow" } else { "deny" };
        let probes = vec![
            cell("read_allowed", "file-read*", file("allowed"), "allow"),
            cell(
                "read_denied",
                "file-read*",
                file("denied"),
                denied_expectation,
            ),
            cell(
                "create",
                "file-write-create",
                file(&format!("new_{name}")),
                "allow",
            ),
            cell("read_allowed_again", "file-read*", file("allowed"), "allow"),
        ];
        profiles.insert(
            name.to_owned(),
            serde_json::json!({ "source": source, "probes": probes }),
        );
    }
    // A FIFO nobody writes blocks its reader (under this profile the
    // supervisor lets the open go ahead in the process): the timeout.
    let v1_read = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/v1_read.sb");
    let probes = vec![
        cell("read_fifo", "file-read*", fifo, "allow"),
        cell("read_allowed", "file-read*", file("allowed"), "allow"),
    ];
    profiles.insert(
        "v1_read".to_owned(),
        serde_json::json!({ "source": v1_read, "probes": probes }),
    );
    let text = serde_json::json!({ "profiles": profiles }).to_string();
    Matrix::parse(&text, Path::new("fixture.json")).unwrap()
}

/// Every cell of `m`, through [`run_profile`] with or without the zygote.
fn run_all(m: &Matrix, zygote: bool) -> Vec<CellRecord> {
    let mut opts = RunOptions::new("/");
    opts.timeout = Duration::from_millis(300);
    opts.zygote = zygote;
    let mut records = Vec::new();
    for spec in &m.profiles {
        let loaded = load_profile(Path::new("/"), &spec.source, &spec.params).unwrap();
        let cells: Vec<_> = spec.probes.iter().map(|p| (p, true)).collect();
        let mut done = |i: usize, r: Result<CellRecord, _>| {
            let r = r.unwrap_or_else(|e| panic!("cell {i} of {}: {e}", spec.name));
            records.push(r);
        };
        run_profile(spec, &cells, &loaded, &opts, &mut done);
    }
    records
}

/// A record as its trace shows it, but for the time it took.
fn comparable(r: &CellRecord) -> serde_json::Value {
    let mut v = sbcheck::report::record_json(r);
    v.as_object_mut().unwrap().remove("duration_us");
    v
}

#[test]
fn zygote_records_equal_per_cell_records() {
    let dir = tempfile::tempdir().unwrap();
    let m = matrix(dir.path());
    let per_cell = run_all(&m, false);
    let zygote = run_all(&m, true);
    assert_eq!(per_cell.len(), 14);
    assert_eq!(zygote.len(), 14);
    for (a, b) in per_cell.iter().zip(&zygote) {
        pretty_assertions::assert_eq!(comparable(a), comparable(b));
    }
    // Every kind of ending is covered, so the comparison means something.
    let observed = |profile: &str, probe: &str| {
        zygote
            .iter()
            .find(|r| r.profile == profile && r.probe == probe)
            .map(|r| r.observed.clone())
            .unwrap()
    };
    assert_eq!(observed("deny_one", "read_allowed"), Observed::Errno(0));
    assert_eq!(
        observed("deny_one", "read_denied"),
        Observed::Errno(libc::EPERM)
    );
    assert_eq!(
        observed("v1_read", "read_fifo"),
        Observed::TimedOut(Duration::from_millis(300))
    );
    assert_eq!(
        observed("kill_one", "read_denied"),
        Observed::Died("killed by signal 9".into())
    );
    // After a timeout and a killed probe, the zygote still serves.
    assert_eq!(
        observed("kill_one", "read_allowed_again"),
        Observed::Errno(0)
    );
    assert_eq!(observed("no_fork", "create"), Observed::Errno(0));
    // After the timeout the next cell runs as ever.
    assert_eq!(observed("v1_read", "read_allowed"), Observed::Errno(0));
    // The rest match their expectation (the killed probe has no verdict).
    let ours = zygote
        .iter()
        .filter(|r| r.profile != "v1_read" && !matches!(r.observed, Observed::Died(_)));
    assert!(
        ours.clone().all(|r| r.matches()),
        "{:?}",
        ours.map(|r| &r.observed).collect::<Vec<_>>()
    );
}

/// Straight through the zygote: its own clones pass under a profile that
/// denies process-fork and are in no cell's record; a probe's fork is
/// judged and denied; crashes, early exits and spinning probes end their
/// cell only.
#[test]
fn zygote_forks_pass_and_a_probes_fork_is_judged() {
    use sbcheck::apply::linux::calls;
    let profile = sandboxed::compile("(version 1)(allow default)(deny process-fork)");
    let config = sbcheck::apply::Config {
        record: true,
        ..Default::default()
    };
    let mut enforcement = sbcheck::apply::apply(&profile, &config).unwrap();
    // Raw calls only: this runs in the probe after clone().
    let body = |i: usize| match i {
        0 => 0,
        1 => match calls::fork() {
            Ok(0) => calls::exit_group(0),
            Ok(_) => 0,
            Err(e) => e,
        },
        2 => std::process::abort(),
        3 => calls::exit_group(3),
        _ => loop {
            std::hint::spin_loop();
        },
    };
    let mut zygote = enforcement.zygote(&body).unwrap().unwrap();
    let mut run = |i: usize| {
        let (ending, intercepts) = zygote.run(i, Duration::from_millis(300)).unwrap();
        (ending.unwrap(), intercepts)
    };
    let (ending, intercepts) = run(0);
    assert_eq!(ending, Ending::Reported { result: 0 });
    assert!(intercepts.is_empty(), "{intercepts:?}");
    let (ending, intercepts) = run(1);
    assert_eq!(
        ending,
        Ending::Reported {
            result: libc::EPERM
        }
    );
    assert_eq!(intercepts.len(), 1, "{intercepts:?}");
    assert_eq!(intercepts[0].syscall, "clone");
    assert_eq!(intercepts[0].errno, libc::EPERM);
    let (ending, _) = run(2);
    assert_eq!(
        ending,
        Ending::Died {
            status: ExitStatus::Signal(libc::SIGABRT)
        }
    );
    let (ending, _) = run(3);
    assert_eq!(
        ending,
        Ending::Died {
            status: ExitStatus::Code(3)
        }
    );
    let started = std::time::Instant::now();
    let (ending, _) = run(4);
    assert_eq!(ending, Ending::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(5));
    let (ending, intercepts) = run(0);
    assert_eq!(ending, Ending::Reported { result: 0 });
    assert!(intercepts.is_empty(), "{intercepts:?}");
}
