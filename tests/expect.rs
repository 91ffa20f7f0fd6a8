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
        matrix.cells() >= 124,
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
            "v11_read_subpath::read_tmp_foo (matrix paths): recorded decoder prediction bucket 9 allow, now bucket 3 allow",
        ]
    );
}

/// Every expectation id names a cell of the research matrix
/// (`../shared/reference/expected_matrix.json`, beside the project in the
/// research tree) with the same operation and target; where our verdict
/// differs from the research's, the cell says why in a note.
#[test]
fn expectation_ids_are_the_research_matrix_cells() {
    let research = root().join("../shared/reference/expected_matrix.json");
    let Ok(text) = std::fs::read_to_string(&research) else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {} is not here (a clone outside the research tree)",
            research.display()
        );
        return;
    };
    let research: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cells: Vec<&serde_json::Value> = research["profiles"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|p| p["probes"].as_array().unwrap())
        .collect();
    let matrix = Matrix::load(&root().join("expected")).unwrap_or_else(|e| panic!("{e}"));
    let mut bad = Vec::new();
    let mut checked = 0;
    for spec in &matrix.profiles {
        for p in &spec.probes {
            let Some(id) = &p.expectation_id else {
                continue;
            };
            checked += 1;
            let at = format!("{}::{} ({id})", spec.name, p.name);
            match cells.iter().find(|c| c["expectation_id"] == id.as_str()) {
                None => bad.push(format!("{at}: no such research cell")),
                Some(c)
                    if c["operation"] != p.operation.as_str()
                        || c["target"] != p.target.as_str() =>
                {
                    bad.push(format!(
                        "{at}: the research cell is {} {}",
                        c["operation"], c["target"]
                    ))
                }
                Some(c) if c["expected"] != p.expected.as_str() && p.note.is_none() => {
                    bad.push(format!(
                        "{at}: research expects {}, we {}, and no note says why",
                        c["expected"], p.expected
                    ))
                }
                Some(_) => {}
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Ids dropped from expected/ would leave nothing to check.
    assert!(checked > 0, "no cell of expected/ has an expectation id");
}
