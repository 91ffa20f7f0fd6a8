//! What every generated cell test does: run the cell, write its trace, then
//! assert with a readable diff. The trace is written first, so a failing cell
//! still leaves its record in `out/`.

use sbcheck::harness::{run_named, CellRecord, RunOptions};
use sbcheck::matrix::Matrix;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The verdicts a cell compares: the decoder's prediction and the kernel's
/// observation, each against the matrix's expectation.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdicts {
    pub decoder: String,
    pub observed: String,
}

impl Verdicts {
    pub fn expected(r: &CellRecord) -> Verdicts {
        let v = r.expected_str().to_owned();
        Verdicts {
            decoder: v.clone(),
            observed: v,
        }
    }

    pub fn actual(r: &CellRecord) -> Verdicts {
        Verdicts {
            decoder: r.decoder.verdict.map_or_else(
                || format!("undetermined: {}", r.decoder.rule),
                |v| v.as_str().to_owned(),
            ),
            observed: r
                .observed
                .verdict()
                .map_or_else(|| r.observed.describe(), |v| v.as_str().to_owned()),
        }
    }
}

/// The matrix at `path`, read once per test process: every cell test of a
/// `cargo test` run shares it (reading and checking every `expected/*.json`
/// is most of what a cell costs beyond its fork).
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

pub fn check_cell(matrix_file: &Path, root: &Path, out: &Path, profile: &str, probe: &str) {
    // The test re-runs alone in a private /tmp and /private (the test
    // binary is multithreaded: it cannot enter a namespace itself).
    if sbcheck::hermetic::reran_this_test() {
        return;
    }
    let matrix = matrix(matrix_file);
    let record = run_named(&matrix, profile, probe, &RunOptions::new(root))
        .unwrap_or_else(|e| panic!("{profile}::{probe}: {e}"));
    let trace =
        sbcheck::report::write_trace(out, &record).unwrap_or_else(|e| panic!("writing trace: {e}"));
    if let sbcheck::harness::Observed::Skipped(why) = &record.observed {
        // Straight to stderr: libtest captures print! but a skip must show.
        let _ = writeln!(std::io::stderr(), "SKIPPED {profile}::{probe}: {why}");
        return;
    }
    pretty_assertions::assert_eq!(
        Verdicts::expected(&record),
        Verdicts::actual(&record),
        "\n{profile}::{probe}: {} {} (bucket {}, rule {}, trace {})",
        record.operation,
        record.target,
        record.decoder.bucket,
        record.decoder.rule,
        trace.display()
    );
}
