//! `sbcheck compile`: SBPL to a blob.
//!
//! `sbcheck compile PROFILE.sb [-o OUT.sb.bin] [--param KEY=VALUE]... [-I DIR]...`
//! Imports are looked for beside the importing file, then in each `-I DIR`,
//! then on the standard search path. A compile error is printed as
//! `file:line:column: message` with the form and the source line at fault,
//! and the exit status is 1.

use super::{ProfileInput, Usage};
use crate::sbpl::compile_file_with;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// The SBPL source.
    #[arg(value_name = "PROFILE.sb")]
    pub input: PathBuf,
    /// Where to write the blob (default: PROFILE.sb.bin beside the source).
    #[arg(short = 'o', long = "output", value_name = "OUT.sb.bin")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub profile: ProfileInput,
}

pub fn main(a: &CompileArgs) -> Result<ExitCode, Usage> {
    let blob = match compile_file_with(
        Path::new(&a.input),
        &a.profile.options(),
        &a.profile.search(),
    ) {
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
    let out = a.output.clone().unwrap_or_else(|| {
        let mut name = a.input.clone().into_os_string();
        name.push(".bin");
        PathBuf::from(name)
    });
    std::fs::write(&out, &blob).map_err(|e| Usage(format!("{}: {e}", out.display())))?;
    crate::outln!("{}: {} bytes", out.display(), blob.len());
    Ok(ExitCode::SUCCESS)
}
