//! `sbcheck run`: the main job.

use super::{parse, project_root, Usage};
use crate::harness::{ensure_fixtures, load_profile, run_cell, CellRecord, RunOptions};
use crate::matrix::Matrix;
use crate::report;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(
        args,
        &["--profile", "--matrix", "--out"],
        &["--macos-paths"],
    )?;
    let root = project_root();
    let matrix_file = p
        .one("--matrix")
        .map_or_else(|| root.join("expected/matrix.json"), PathBuf::from);
    let out = p
        .one("--out")
        .map_or_else(|| root.join("out"), PathBuf::from);
    let matrix = Matrix::load(&matrix_file).map_err(|e| Usage(e.to_string()))?;
    let only = p.all("--profile");
    for name in &only {
        if matrix.profile(name).is_none() {
            return Err(Usage(format!(
                "no profile {name} in {}",
                matrix_file.display()
            )));
        }
    }
    ensure_fixtures(&matrix).map_err(|e| Usage(format!("creating fixtures: {e}")))?;
    let mut opts = RunOptions::new(&root);
    opts.macos_paths = p.has("--macos-paths");
    let mut records: Vec<CellRecord> = Vec::new();
    let mut failed = false;
    for spec in matrix
        .profiles
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
    {
        let loaded = match load_profile(&root, &spec.source) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sbcheck: {}: {e}", spec.name);
                failed = true;
                continue;
            }
        };
        for probe in &spec.probes {
            let owned = matrix.fixtures.contains(&probe.target);
            match run_cell(spec, probe, &loaded, owned, &opts) {
                Ok(record) => {
                    if let Err(e) = report::write_trace(&out, &record) {
                        eprintln!("sbcheck: writing trace: {e}");
                        failed = true;
                    }
                    records.push(record);
                }
                Err(e) => {
                    eprintln!("sbcheck: {}::{}: {e}", spec.name, probe.name);
                    failed = true;
                }
            }
        }
    }
    let results = serde_json::to_string_pretty(&report::results_json(&records)).unwrap_or_default();
    report::write_atomic(&out.join("runtime_results.json"), results.as_bytes())
        .map_err(|e| Usage(format!("writing runtime_results.json: {e}")))?;
    print!(
        "{}",
        report::table(&records, std::io::stdout().is_terminal())
    );
    let mismatches = records
        .iter()
        .filter(|r| !r.matches() && !r.skipped())
        .count();
    let skipped = records.iter().filter(|r| r.skipped()).count();
    println!(
        "{} cells: {} match, {} mismatch, {} skipped (backend {}); traces in {}",
        records.len(),
        records.len() - mismatches - skipped,
        mismatches,
        skipped,
        crate::apply::Backend::Linux.name(),
        out.join("traces").display()
    );
    Ok(if mismatches > 0 || failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
