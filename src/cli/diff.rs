//! `sbcheck diff A B`: cells whose verdict changed between two runs (two OS
//! releases, two machines, Linux vs macOS); `sbcheck merge`: one results file
//! from the shards of a partitioned run.

use super::Usage;
use crate::matrix::from_json;
use crate::report::{Results, Summary, Trace, SCHEMA};
use std::path::Path;
use std::process::ExitCode;

fn read(path: &Path) -> Result<String, Usage> {
    std::fs::read_to_string(path).map_err(|e| Usage(format!("{}: {e}", path.display())))
}

/// A `runtime_results.json`; an error names the file, line, column and key.
fn load(path: &str) -> Result<Results, Usage> {
    from_json(&read(Path::new(path))?, Path::new(path)).map_err(|e| Usage(e.to_string()))
}

fn key(cell: &Trace) -> String {
    format!("{}::{}", cell.profile, cell.probe)
}

/// The observed verdict, or the kind of outcome when there is none.
fn outcome(cell: &Trace) -> &str {
    cell.observed
        .verdict
        .as_deref()
        .unwrap_or(&cell.observed.kind)
}

fn decoder(cell: &Trace) -> &str {
    cell.decoder.verdict.as_deref().unwrap_or("undetermined")
}

/// Lines describing every cell whose outcome differs, or that only one run has.
pub fn differences(a: &Results, b: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for ca in &a.cells {
        let k = key(ca);
        match b.cells.iter().find(|cb| key(cb) == k) {
            None => out.push(format!("{k}: only in A ({})", outcome(ca))),
            Some(cb) if outcome(ca) != outcome(cb) => out.push(format!(
                "{k}: {} -> {} (decoder {} -> {})",
                outcome(ca),
                outcome(cb),
                decoder(ca),
                decoder(cb)
            )),
            Some(_) => {}
        }
    }
    for cb in &b.cells {
        let k = key(cb);
        if !a.cells.iter().any(|ca| key(ca) == k) {
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
    let lines = differences(&load(&args.a)?, &load(&args.b)?);
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
fn trace_cells(dir: &Path, out: &mut Vec<Trace>) -> Result<(), Usage> {
    let entries = std::fs::read_dir(dir).map_err(|e| Usage(format!("{}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            trace_cells(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(from_json(&read(&path)?, &path).map_err(|e| Usage(e.to_string()))?);
        }
    }
    Ok(())
}

/// `sbcheck merge -o OUT A B...`: the cells of several shards in one file.
/// Each input is a runtime_results.json or a directory of traces.
pub fn merge(args: &MergeArgs) -> Result<ExitCode, Usage> {
    let out = &args.output;
    let mut all: Vec<Trace> = Vec::new();
    let mut backend = None;
    for path in &args.shards {
        let mut shard = Vec::new();
        if Path::new(path).is_dir() {
            trace_cells(Path::new(path), &mut shard)?;
        } else {
            let results = load(path)?;
            backend = backend.or(results.backend);
            shard = results.cells;
        }
        for cell in shard {
            if all.iter().any(|c| key(c) == key(&cell)) {
                return Err(Usage(format!(
                    "{path}: {} appears in two shards",
                    key(&cell)
                )));
            }
            all.push(cell);
        }
    }
    all.sort_by_key(key);
    let matched = all.iter().filter(|c| c.matched).count();
    let skipped = all.iter().filter(|c| c.observed.kind == "skipped").count();
    let merged = Results {
        schema: SCHEMA,
        backend: backend.or_else(|| all.first().map(|c| c.backend.clone())),
        summary: Summary {
            cells: all.len(),
            matched,
            skipped,
            mismatch: all.len() - matched - skipped,
        },
        buckets: crate::report::trace_buckets(&all),
        cells: all,
    };
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    crate::report::write_atomic(Path::new(&out), text.as_bytes())
        .map_err(|e| Usage(format!("{out}: {e}")))?;
    crate::outln!(
        "{out}: {} cells from {} file(s)",
        merged.summary.cells,
        args.shards.len()
    );
    Ok(ExitCode::SUCCESS)
}
