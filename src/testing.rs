//! What each generated cell test does (see [`crate::testgen`]): run the
//! cell, write its trace, then fail with the expectation and what happened.
//! The trace is written first, so a failing cell still leaves its record.

use crate::harness::{run_named, CellRecord, Observed, RunOptions};
use crate::matrix::Matrix;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The matrix at `path`, read once per test process: every cell test of a
/// `cargo test` run shares it.
fn matrix(path: &Path) -> Arc<Matrix> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Matrix>>>> = OnceLock::new();
    let cache = LOADED.get_or_init(Default::default);
    // A test that panicked holding the lock leaves the map intact.
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = map.get(path) {
        return Arc::clone(m);
    }
    let m = Arc::new(Matrix::load(path).unwrap_or_else(|e| panic!("{e}")));
    map.insert(path.to_owned(), Arc::clone(&m));
    m
}

/// Whether `path` is there; if not, says past libtest's capture that
/// `test` is skipped and why. For inputs the project does not ship (Apple's
/// corpora in `../shared` beside it, which CI has).
pub fn there_or_skip(test: &str, path: &Path) -> bool {
    let there = path.exists();
    if !there {
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test}: {} is not there (Apple's, in ../shared beside the project; CI has it)",
            path.display()
        );
    }
    there
}

/// The decoder's and the kernel's verdicts, or why there is none.
fn verdicts(r: &CellRecord) -> (String, String) {
    let decoder = r.decoder.verdict.map_or_else(
        || format!("undetermined: {}", r.decoder.rule),
        |v| v.as_str().to_owned(),
    );
    let observed = r
        .observed
        .verdict()
        .map_or_else(|| r.observed.describe(), |v| v.as_str().to_owned());
    (decoder, observed)
}

/// Runs `profile::probe` of the matrix at `matrix_path` (sources relative to
/// `root`), writes its trace under `out`, and panics unless the decoder and
/// the kernel both give the expected verdict. A skipped cell prints why; a
/// cell that cannot run on this platform ([`crate::matrix::skip_here`])
/// must come out skipped.
pub fn check_cell(matrix_path: &Path, root: &Path, out: &Path, profile: &str, probe: &str) {
    // The test re-runs alone in a private /tmp and /private (the test
    // binary is multithreaded: it cannot enter a namespace itself).
    if crate::hermetic::reran_this_test() {
        return;
    }
    let matrix = matrix(matrix_path);
    let record = run_named(&matrix, profile, probe, &RunOptions::new(root))
        .unwrap_or_else(|e| panic!("{profile}::{probe}: {e}"));
    let trace =
        crate::report::write_trace(out, &record).unwrap_or_else(|e| panic!("writing trace: {e}"));
    let must_skip = matrix
        .profile(profile)
        .and_then(|p| p.probe(probe))
        .and_then(crate::matrix::skip_here);
    match (&record.observed, must_skip) {
        (Observed::Skipped(why), _) => {
            // Straight to stderr: libtest captures print! but a skip must show.
            let _ = writeln!(std::io::stderr(), "SKIPPED {profile}::{probe}: {why}");
            return;
        }
        (ran, Some(why)) => panic!(
            "{profile}::{probe} cannot run here ({why}) but ran: {} (trace {})",
            ran.describe(),
            trace.display()
        ),
        _ => {}
    }
    let expected = record.expected_str();
    let (decoder, observed) = verdicts(&record);
    // The design card's check: a pretty_assertions diff of what was expected
    // against what the decoder predicted and the kernel did.
    pretty_assertions::assert_eq!(
        Verdicts {
            decoder: expected,
            observed: expected,
        },
        Verdicts {
            decoder: &decoder,
            observed: &observed,
        },
        "\n{profile}::{probe}: {} {} (bucket {}, rule {})\n  left: expected, right: what the decoder predicted and the kernel did\n  trace: {}",
        record.operation,
        record.target,
        record.decoder.bucket,
        record.decoder.rule,
        trace.display()
    );
}

/// The two verdicts a cell compares with its expectation.
#[derive(Debug, PartialEq)]
struct Verdicts<'a> {
    decoder: &'a str,
    observed: &'a str,
}
