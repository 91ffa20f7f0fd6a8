//! `sbcheck expect`: the decoder's prediction for every cell, without
//! running anything. Flags expectations the decoder disagrees with;
//! `--bless` records the predictions in the matrix files.

use super::{parse, project_root, Usage};
use crate::harness::{isolate, predict_matrix, static_check};
use crate::matrix::{bless, Matrix};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["--matrix"], &["--bless"])?;
    let root = project_root();
    let path = p
        .one("--matrix")
        .map_or_else(|| root.join("expected"), PathBuf::from);
    let matrix = Matrix::load(&path).map_err(|e| Usage(e.to_string()))?;
    // Predictions read the fixtures' file types: made in the private /tmp.
    let dir = super::run::matrix_dir(&path);
    isolate(&matrix, &[&root, &dir]).map_err(|e| Usage(e.to_string()))?;
    if p.has("--bless") {
        return bless_all(&matrix, &root);
    }
    let found = static_check(&matrix, &root).map_err(|e| Usage(e.to_string()))?;
    for d in &found {
        println!("DISAGREES {d}");
    }
    println!(
        "{} cells checked against the decoder: {} disagreement(s)",
        matrix.cells(),
        found.len()
    );
    Ok(if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes each cell's current prediction into its profile file, on purpose.
fn bless_all(matrix: &Matrix, root: &std::path::Path) -> Result<ExitCode, Usage> {
    let predictions = predict_matrix(matrix, root).map_err(|e| Usage(e.to_string()))?;
    for spec in &matrix.profiles {
        let text = std::fs::read_to_string(&spec.file)
            .map_err(|e| Usage(format!("{}: {e}", spec.file.display())))?;
        let mut value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Usage(format!("{}: {e}", spec.file.display())))?;
        let mine: Vec<(String, u64, String)> = predictions
            .iter()
            .filter(|(profile, ..)| *profile == spec.name)
            .map(|(_, probe, plain, _)| {
                let verdict = plain.verdict.map_or("undetermined", |v| v.as_str());
                (probe.clone(), u64::from(plain.bucket), verdict.to_owned())
            })
            .collect();
        bless(&mut value, &mine);
        let out = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
        crate::report::write_atomic(&spec.file, out.as_bytes())
            .map_err(|e| Usage(e.to_string()))?;
        println!("blessed {} ({} cells)", spec.file.display(), mine.len());
    }
    Ok(ExitCode::SUCCESS)
}
