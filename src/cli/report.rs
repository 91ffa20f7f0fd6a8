//! `sbcheck report`: a saved run as HTML, or the difference between two.

use super::{parse, Usage};
use crate::html;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["-o"], &[])?;
    let (page, default_out) = match p.positional.as_slice() {
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
    let out = p.one("-o").map_or(default_out, PathBuf::from);
    crate::report::write_atomic(&out, page.as_bytes())
        .map_err(|e| Usage(format!("writing {}: {e}", out.display())))?;
    println!("{}", out.display());
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
