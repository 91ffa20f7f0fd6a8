//! The documented schemas against the types and the real output: the trace
//! table of out/README.md lists exactly the keys a trace has, a real run's
//! files read back into `sbcheck::report`'s types (unknown keys refused),
//! docs/matrix.md's examples read as matrix types, and docs/decode-json.md's
//! example has exactly the top-level keys `decode --json` prints.

use sbcheck::matrix::{from_json, Fixtures, ProfileFile};
use sbcheck::report::{Mismatches, Results, Trace};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// A run with a matched, a denied and a skipped cell (mach-lookup).
fn run(out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(["run", "--profile", "v12_read_subpath_mach", "--out"])
        .arg(out)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `[]` for a list of records (empty lists hold records: lists of numbers,
/// like `node_path`, are never empty).
fn records(v: &Value) -> &'static str {
    match v.as_array() {
        Some(items) if items.first().map_or(true, Value::is_object) => "[]",
        _ => "",
    }
}

/// `a`, `a.b`, and `a[]` for lists of records, two levels deep: how
/// out/README.md names a trace's keys.
fn key_paths(v: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (k, child) in v.as_object().unwrap() {
        match child {
            Value::Object(map) => {
                for (k2, grandchild) in map {
                    keys.insert(format!("{k}.{k2}{}", records(grandchild)));
                }
            }
            Value::Array(_) => {
                keys.insert(format!("{k}{}", records(child)));
            }
            _ => {
                keys.insert(k.clone());
            }
        }
    }
    keys
}

/// The keys named in the first column of the trace table: `` `a`, `b` ``.
fn documented_trace_keys(doc: &str) -> BTreeSet<String> {
    let table = doc
        .split("## Trace schema")
        .nth(1)
        .expect("out/README.md has a Trace schema section");
    let mut keys = BTreeSet::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap();
        for part in first.split(',') {
            keys.insert(part.trim().trim_matches('`').to_owned());
        }
    }
    keys
}

#[test]
fn out_readme_documents_every_trace_key_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path());
    let trace_file = dir
        .path()
        .join("traces/v12_read_subpath_mach/read_tmp_foo.json");
    let text = std::fs::read_to_string(&trace_file).unwrap();
    let trace: Trace = from_json(&text, &trace_file).unwrap_or_else(|e| panic!("{e}"));
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&trace).unwrap(), value, "round trip");
    let actual = key_paths(&value);
    let documented = documented_trace_keys(&read("out/README.md"));
    let undocumented: Vec<_> = actual.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&actual).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "out/README.md's trace table: undocumented {undocumented:?}, not in a trace {stale:?}"
    );
}

#[test]
fn a_runs_files_read_back_into_the_types() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path());
    let file = dir.path().join("runtime_results.json");
    let results: Results = from_json(&std::fs::read_to_string(&file).unwrap(), &file)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.summary.cells, results.cells.len());
    assert!(results.summary.skipped > 0, "the run has a skipped cell");
    assert!(results.cells.iter().any(|c| c.skip_reason.is_some()));
    // `runtime_results.json` = `{ schema, backend, ... }`: every key named.
    let doc = read("out/README.md");
    let shape = doc
        .split("`runtime_results.json` = `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("out/README.md gives runtime_results.json's shape");
    let words: BTreeSet<&str> = shape
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    let value = serde_json::to_value(&results).unwrap();
    for key in value.as_object().unwrap().keys() {
        assert!(
            words.contains(key.as_str()),
            "out/README.md: runtime_results.json's {key}"
        );
    }
    let file = dir.path().join("mismatches.json");
    let m: Mismatches = from_json(&std::fs::read_to_string(&file).unwrap(), &file)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.mismatches, 0);
    // An unknown key is refused, naming it.
    let mut v: Value = serde_json::to_value(&results).unwrap();
    v["cells"][0]["verdict"] = Value::from("allow");
    let e = from_json::<Results>(&v.to_string(), &file)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cells[0].verdict: unknown field `verdict`"),
        "{e}"
    );
}

/// The ```json blocks of a Markdown file.
fn json_blocks(doc: &str) -> Vec<String> {
    doc.split("```json\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap().to_owned())
        .collect()
}

#[test]
fn docs_matrix_examples_are_matrix_files_and_the_table_names_every_key() {
    let doc = read("docs/matrix.md");
    let blocks = json_blocks(&doc);
    assert_eq!(blocks.len(), 2, "a profile file and a fixtures file");
    let path = Path::new("docs/matrix.md");
    let profile: ProfileFile = from_json(&blocks[0], path).unwrap_or_else(|e| panic!("{e}"));
    let fixtures: Fixtures = from_json(&blocks[1], path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!fixtures.links.is_empty());
    // The example sets every field, so its keys are the type's.
    let value = serde_json::to_value(&profile).unwrap();
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "probes")
        .cloned()
        .collect();
    keys.extend(
        value["probes"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("probes[].{k}")),
    );
    for key in keys {
        assert!(
            doc.contains(&format!("| `{key}` |")),
            "docs/matrix.md's table lacks {key}"
        );
    }
}

/// The top-level keys of a JSON example: `  "name": ...`, two spaces in.
fn example_keys(example: &str) -> BTreeSet<String> {
    example
        .lines()
        .filter_map(|l| l.strip_prefix("  \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn output_keys(args: &[&str]) -> BTreeSet<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn decode_json_doc_shows_every_top_level_key() {
    let doc = read("docs/decode-json.md");
    let examples = json_blocks(&doc);
    let decode = output_keys(&["decode", "profiles/v11_read_subpath.sb", "--json"]);
    assert_eq!(
        decode,
        example_keys(&examples[0]),
        "docs/decode-json.md's decode example"
    );
    let eval = output_keys(&[
        "eval",
        "profiles/v11_read_subpath.sb",
        "file-read-data",
        "/tmp/foo",
        "--json",
    ]);
    let example = examples
        .iter()
        .find(|e| e.contains("\"node_path\""))
        .expect("an eval example");
    assert_eq!(
        eval,
        example_keys(example),
        "docs/decode-json.md's eval example"
    );
}
