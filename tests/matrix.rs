//! The runtime-check matrix: one generated test per profile x probe cell
//! (see build.rs). Each forks a child that enters the sandbox and runs the
//! probe on the real kernel.

mod common;

use std::path::Path;

fn cell(profile: &str, probe: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    common::check_cell(
        // expected/, or the matrix build.rs was pointed at (SBCHECK_MATRIX).
        Path::new(env!("SBCHECK_MATRIX_DIR")),
        root,
        &root.join("out"),
        profile,
        probe,
    );
}

include!(concat!(env!("OUT_DIR"), "/cells.rs"));
