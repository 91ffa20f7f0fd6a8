//! `sbcheck expect`: the decoder's prediction for every cell, without
//! running anything. Flags expectations the decoder disagrees with;
//! `--bless` records the predictions in the matrix files.

use super::{MatrixArgs, Usage};
use crate::harness::{predict_matrix, static_check};
use crate::matrix::{bless, Matrix};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ExpectArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Record the decoder's predictions in the matrix files (on purpose).
    #[arg(long)]
    pub bless: bool,
}

pub fn main(a: &ExpectArgs) -> Result<ExitCode, Usage> {
    let (root, _, matrix) = a.matrix.load()?;
    if a.bless {
        return bless_all(&matrix, &root);
    }
    let found = static_check(&matrix, &root).map_err(|e| Usage(e.to_string()))?;
    for d in &found {
        crate::outln!("DISAGREES {d}");
    }
    crate::outln!(
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
        crate::outln!("blessed {} ({} cells)", spec.file.display(), mine.len());
    }
    Ok(ExitCode::SUCCESS)
}
