//! Shared by the report tests: real runs of `sbcheck run` (the real matrix,
//! or a fixture matrix written here), and readers for the page they leave.

#![allow(dead_code)] // each test crate uses its own subset

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `sbcheck` binary, run from the project root like `cargo run` does.
pub fn sbcheck() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sbcheck"));
    c.current_dir(root());
    c
}

fn checked(output: Output, what: &str) -> Output {
    // 0: every cell matched; 1: some did not. 2 would be a usage error.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `sbcheck run --out OUT` on the real matrix (`expected/`).
pub fn run_real(out: &Path) -> Output {
    let output = sbcheck().arg("run").arg("--out").arg(out).output().unwrap();
    checked(output, "sbcheck run")
}

/// A probe of a fixture matrix: name, operation, target, expected.
pub type FixtureProbe<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Writes a one-profile fixture matrix (v11_read_subpath: reads allowed
/// under /tmp/foo only) and runs it with `sbcheck run --matrix`.
pub fn run_fixture(dir: &Path, fixtures: &[&str], probes: &[FixtureProbe]) -> (PathBuf, Output) {
    let matrix = json!({
        "fixtures": { "files": fixtures },
        "profiles": { "v11_read_subpath": {
            "source": root().join("profiles/v11_read_subpath.sb"),
            "label": "fixture",
            "probes": probes.iter().map(|(name, op, target, expected)| json!({
                "name": name, "operation": op, "target": target, "expected": expected,
            })).collect::<Vec<_>>(),
        }},
    });
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("matrix.json");
    std::fs::write(&file, matrix.to_string()).unwrap();
    let out = dir.join("out");
    let output = sbcheck()
        .arg("run")
        .arg("--matrix")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    (out.clone(), checked(output, "sbcheck run --matrix"))
}

pub fn results(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("runtime_results.json")).unwrap()).unwrap()
}

pub fn page(out: &Path) -> String {
    std::fs::read_to_string(out.join("report.html")).unwrap()
}

/// `profile/probe` of a results cell.
pub fn cell_id(cell: &Value) -> String {
    format!(
        "{}/{}",
        cell["profile"].as_str().unwrap(),
        cell["probe"].as_str().unwrap()
    )
}

/// The outcome class a cell should carry, worked out from its JSON.
pub fn expected_class(cell: &Value) -> &'static str {
    if !cell["skip_reason"].is_null() {
        "o-skipped"
    } else if cell["match"] != true {
        "o-mismatch"
    } else if cell["expected"] == "deny" {
        "o-deny"
    } else {
        "o-allow"
    }
}

/// The text between the last `open` before `at` and the next `close`.
fn element<'a>(page: &'a str, needle: &str, open: &str, close: &str) -> Option<&'a str> {
    let at = page.find(needle)?;
    let start = page[..at].rfind(open)?;
    let end = at + page[at..].find(close)? + close.len();
    Some(&page[start..end])
}

/// The grid button of a cell.
pub fn button<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    element(page, &format!("data-cell=\"{id}\""), "<button", "</button>")
}

/// The detail panel of a cell.
pub fn detail<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    element(
        page,
        &format!("id=\"detail-{id}\""),
        "<section",
        "</section>",
    )
}
