//! `sbcheck compile`: SBPL to a blob.

use super::{parse, Usage};
use crate::sbpl::compile_file;
use std::path::Path;
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["-o", "--param"], &[])?;
    let [input] = p.positional.as_slice() else {
        return Err(Usage("compile takes one PROFILE.sb".into()));
    };
    let blob = compile_file(Path::new(input), &p.params()?).map_err(|e| Usage(e.to_string()))?;
    let out = p.one("-o").unwrap_or_else(|| format!("{input}.bin"));
    std::fs::write(&out, &blob).map_err(|e| Usage(format!("{out}: {e}")))?;
    println!("{out}: {} bytes", blob.len());
    Ok(ExitCode::SUCCESS)
}
