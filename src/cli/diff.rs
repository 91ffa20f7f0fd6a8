//! `sbcheck diff A B`: cells whose verdict changed between two runs (two OS
//! releases, two machines, Linux vs macOS); `sbcheck merge`: one results file
//! from the shards of a partitioned run.

use super::Usage;
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

fn load(path: &str) -> Result<Value, Usage> {
    let text = std::fs::read_to_string(path).map_err(|e| Usage(format!("{path}: {e}")))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Usage(format!("{path}: line {}: {e}", e.line())))?;
    if v.get("cells").and_then(Value::as_array).is_none() {
        return Err(Usage(format!(
            "{path}: cells: missing; not a runtime_results.json"
        )));
    }
    Ok(v)
}

fn cells(v: &Value) -> &[Value] {
    v.get("cells")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn key(cell: &Value) -> String {
    let s = |k| cell.get(k).and_then(Value::as_str).unwrap_or("?");
    format!("{}::{}", s("profile"), s("probe"))
}

/// The observed verdict, or the kind of outcome when there is none.
fn outcome(cell: &Value) -> String {
    let o = &cell["observed"];
    o["verdict"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| o["kind"].as_str().unwrap_or("?").to_owned())
}

/// Lines describing every cell whose outcome differs, or that only one run has.
pub fn differences(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for ca in cells(a) {
        let k = key(ca);
        match cells(b).iter().find(|cb| key(cb) == k) {
            None => out.push(format!("{k}: only in A ({})", outcome(ca))),
            Some(cb) if outcome(ca) != outcome(cb) => out.push(format!(
                "{k}: {} -> {} (decoder {} -> {})",
                outcome(ca),
                outcome(cb),
                ca["decoder"]["verdict"],
                cb["decoder"]["verdict"]
            )),
            Some(_) => {}
        }
    }
    for cb in cells(b) {
        let k = key(cb);
        if !cells(a).iter().any(|ca| key(ca) == k) {
            out.push(format!("{k}: only in B ({})", outcome(cb)));
        }
    }
    out
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The first run's runtime_results.json.
    #[arg(value_name = "A.json")]
    pub a: String,
    /// The second run's runtime_results.json.
    #[arg(value_name = "B.json")]
    pub b: String,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The merged results file.
    #[arg(short = 'o', long = "output", value_name = "OUT.json", required = true)]
    pub output: String,
    /// Shards: runtime_results.json files or directories of traces.
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<String>,
}

pub fn main(args: &DiffArgs) -> Result<ExitCode, Usage> {
    let (a, b) = (&args.a, &args.b);
    let lines = differences(&load(a)?, &load(b)?);
    for l in &lines {
        crate::outln!("{l}");
    }
    crate::outln!("{} cell(s) differ", lines.len());
    Ok(if lines.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every trace under a `traces/` directory (a `cargo test` shard's output).
fn trace_cells(dir: &Path, out: &mut Vec<Value>) -> Result<(), Usage> {
    let entries = std::fs::read_dir(dir).map_err(|e| Usage(format!("{}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            trace_cells(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Usage(format!("{}: {e}", path.display())))?;
            let cell: Value = serde_json::from_str(&text)
                .map_err(|e| Usage(format!("{}: line {}: {e}", path.display(), e.line())))?;
            out.push(cell);
        }
    }
    Ok(())
}

/// `sbcheck merge -o OUT A B...`: the cells of several shards in one file.
/// Each input is a runtime_results.json or a directory of traces.
pub fn merge(args: &MergeArgs) -> Result<ExitCode, Usage> {
    let out = &args.output;
    let mut all: Vec<Value> = Vec::new();
    for path in &args.shards {
        let mut shard = Vec::new();
        if Path::new(path).is_dir() {
            trace_cells(Path::new(path), &mut shard)?;
        } else {
            shard.extend_from_slice(cells(&load(path)?));
        }
        for cell in &shard {
            if all.iter().any(|c| key(c) == key(cell)) {
                return Err(Usage(format!(
                    "{path}: {} appears in two shards",
                    key(cell)
                )));
            }
            all.push(cell.clone());
        }
    }
    all.sort_by_key(key);
    let matched = all.iter().filter(|c| c["match"] == true).count();
    let skipped = all
        .iter()
        .filter(|c| c["observed"]["kind"] == "skipped")
        .count();
    let merged = serde_json::json!({
        "schema": crate::report::SCHEMA,
        "summary": { "cells": all.len(), "match": matched, "skipped": skipped, "mismatch": all.len() - matched - skipped },
        "cells": all,
    });
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    crate::report::write_atomic(Path::new(&out), text.as_bytes())
        .map_err(|e| Usage(format!("{out}: {e}")))?;
    crate::outln!(
        "{out}: {} cells from {} file(s)",
        merged["summary"]["cells"],
        args.shards.len()
    );
    Ok(ExitCode::SUCCESS)
}
