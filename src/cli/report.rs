//! `sbcheck report`: a saved run as HTML, or the difference between two.

use super::Usage;
use crate::html;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run's runtime_results.json, and optionally a second run to compare with.
    #[arg(value_name = "RESULTS.json", num_args = 1..=2, required = true)]
    pub runs: Vec<String>,
    /// Where to write the page.
    #[arg(short = 'o', long = "output", value_name = "OUT.html")]
    pub output: Option<PathBuf>,
}

pub fn main(a: &ReportArgs) -> Result<ExitCode, Usage> {
    let (page, default_out) = match a.runs.as_slice() {
        [a] => {
            let run = load(a)?;
            (html::render(&run), beside(a, "report.html"))
        }
        [a, b] => {
            let (before, after) = (load(a)?, load(b)?);
            (
                html::render_diff(&before, &after),
                beside(b, "report-diff.html"),
            )
        }
        _ => {
            return Err(Usage(
                "report takes A/runtime_results.json [B/runtime_results.json] [-o OUT.html]".into(),
            ))
        }
    };
    let out = a.output.clone().unwrap_or(default_out);
    crate::report::write_atomic(&out, page.as_bytes())
        .map_err(|e| Usage(format!("writing {}: {e}", out.display())))?;
    crate::outln!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn load(path: &str) -> Result<html::Run, Usage> {
    html::load(Path::new(path)).map_err(|e| Usage(e.to_string()))
}

/// `name` in the directory of `file`.
fn beside(file: &str, name: &str) -> PathBuf {
    Path::new(file)
        .parent()
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}
