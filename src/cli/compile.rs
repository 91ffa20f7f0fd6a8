//! `sbcheck compile`: SBPL to a blob.
//!
//! `sbcheck compile PROFILE.sb [-o OUT.sb.bin] [--param KEY=VALUE]... [-I DIR]...`
//! Imports are looked for beside the importing file, then in each `-I DIR`,
//! then on the standard search path. A compile error is printed as
//! `file:line:column: message` with the form and the source line at fault,
//! and the exit status is 1.

use super::{parse, Usage};
use crate::sbpl::{compile_file_with, SearchPath};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["-o", "--param", "-I"], &[])?;
    let [input] = p.positional.as_slice() else {
        return Err(Usage("compile takes one PROFILE.sb".into()));
    };
    let options = p.params()?;
    let mut search = SearchPath(p.all("-I").into_iter().map(PathBuf::from).collect());
    search.0.extend(SearchPath::standard().0);
    let blob = match compile_file_with(Path::new(input), &options, &search) {
        Ok(blob) => blob,
        Err(e) => {
            let source = e
                .file
                .as_deref()
                .and_then(|f| std::fs::read_to_string(f).ok());
            eprintln!("{}", e.render(source.as_deref()));
            return Ok(ExitCode::FAILURE);
        }
    };
    let out = p.one("-o").unwrap_or_else(|| format!("{input}.bin"));
    std::fs::write(&out, &blob).map_err(|e| Usage(format!("{out}: {e}")))?;
    println!("{out}: {} bytes", blob.len());
    Ok(ExitCode::SUCCESS)
}
