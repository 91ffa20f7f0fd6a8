//! The static check: every hand-written expectation in expected/ agrees
//! with the decoder's prediction (in both path layouts), and every recorded
//! prediction is still what the decoder says. Nothing runs.

use sbcheck::harness::static_check;
use sbcheck::matrix::Matrix;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_expectation_agrees_with_the_decoder() {
    let matrix = Matrix::load(&root().join("expected")).unwrap_or_else(|e| panic!("{e}"));
    let found = static_check(&matrix, root()).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "{} disagreement(s):\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(
        matrix.cells() >= 60,
        "the matrix shrank to {} cells",
        matrix.cells()
    );
}

#[test]
fn a_wrong_expectation_is_flagged_with_the_rule() {
    let text = serde_json::json!({ "profiles": { "v11_read_subpath": {
        "source": "profiles/v11_read_subpath.sb",
        "probes": [
            { "name": "read_tmp_bar", "operation": "file-read*", "target": "/tmp/bar", "expected": "allow" },
            { "name": "read_tmp_foo", "operation": "file-read*", "target": "/tmp/foo", "expected": "allow",
              "decoder": { "bucket": 9, "verdict": "allow" } }
        ]
    }}})
    .to_string();
    let matrix = Matrix::parse(&text, Path::new("fixture.json")).unwrap();
    let found: Vec<String> = static_check(&matrix, root())
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "v11_read_subpath::read_tmp_bar (matrix paths): expected allow, decoder predicts deny by (deny default)",
            "v11_read_subpath::read_tmp_bar (macOS paths): expected allow, decoder predicts deny by (deny default)",
            "v11_read_subpath::read_tmp_foo (macOS paths): expected allow, decoder predicts deny by (deny default)",
            "v11_read_subpath::read_tmp_foo (matrix paths): recorded decoder prediction bucket 9 allow, now bucket 3 allow",
        ]
    );
}
