//! `sbcheck exec`: `sandbox-exec` for Linux (and a front end to the real
//! one's mechanism on macOS). Runs a command under a profile, the exec
//! itself checked as process-exec*, logs every denial, and exits with the
//! command's status (128 + N when a signal N ended it).

use super::{load_any, ProfileInput, Usage};
use crate::apply::exec::Command;
use crate::apply::log::LogTarget;
use crate::apply::{apply, Backend, Config};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The profile: SBPL (.sb, compiled first) or a blob (.sb.bin).
    #[arg(long, value_name = "PROFILE")]
    pub profile: String,
    #[command(flatten)]
    pub input: ProfileInput,
    /// Where denials are logged (default: stderr).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// linux (seccomp engine) or seatbelt (macOS's kernel); default: this platform's.
    #[arg(long, value_name = "B", value_parser = super::backend)]
    pub backend: Option<Backend>,
    /// Match paths in macOS's layout (/private/tmp for /tmp, ...).
    #[arg(long)]
    pub macos_paths: bool,
    /// The command and its arguments (after `--`, or from the first word
    /// that is not an option: its own options are its own).
    #[arg(value_name = "CMD", required = true, trailing_var_arg = true)]
    pub command: Vec<String>,
}

pub fn main(a: &ExecArgs) -> Result<ExitCode, Usage> {
    let Some((program, rest)) = a.command.split_first() else {
        return Err(Usage(
            "exec needs a command: exec --profile P -- CMD ARGS...".into(),
        ));
    };
    let profile = load_any(&a.profile, &a.input)?;
    let config = Config {
        backend: a.backend,
        macos_paths: a.macos_paths,
        log: a.log.clone().map_or(LogTarget::Stderr, LogTarget::File),
        record: false,
        subreaper: true,
    };
    let command = Command::new(program, rest).map_err(|e| Usage(e.to_string()))?;
    let mut enforcement = apply(&profile, &config).map_err(|e| Usage(e.to_string()))?;
    let status = enforcement
        .exec(&command)
        .map_err(|e| Usage(format!("{}: {e}", command.display)))?;
    Ok(ExitCode::from(status.shell_code().clamp(0, 255) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(a: &[&str]) -> Result<ExecArgs, clap::Error> {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: ExecArgs,
        }
        T::try_parse_from(std::iter::once("exec").chain(a.iter().copied())).map(|t| t.a)
    }

    #[test]
    fn the_command_starts_at_dashdash_or_the_first_word() {
        let a = parse(&["--profile", "p.sb", "--", "ls", "-l"]).unwrap();
        assert_eq!(a.command, ["ls", "-l"]);
        let a = parse(&[
            "--profile=p.sb",
            "--log",
            "f",
            "--macos-paths",
            "cat",
            "--help",
        ])
        .unwrap();
        assert_eq!(a.command, ["cat", "--help"]);
        assert!(a.macos_paths);
        let a = parse(&["--profile", "p.sb", "-I", "inc", "--param", "K=V", "true"]).unwrap();
        assert_eq!(a.input.include, [PathBuf::from("inc")]);
        assert_eq!(a.input.params, [("K".to_owned(), "V".to_owned())]);
        let e = parse(&["--profile", "p.sb", "--bogus", "cat"]).unwrap_err();
        assert!(e.to_string().contains("--bogus"), "{e}");
    }

    #[test]
    fn usage_errors_are_named() {
        let e = parse(&["--", "true"]).unwrap_err();
        assert!(e.to_string().contains("--profile"), "{e}");
        let e = parse(&["--profile", "x.sb"]).unwrap_err();
        assert!(e.to_string().contains("<CMD>"), "{e}");
        let a = parse(&["--profile", "/nonexistent.sb.bin", "true"]).unwrap();
        let e = main(&a).unwrap_err();
        assert!(e.0.starts_with("/nonexistent.sb.bin: "), "{}", e.0);
    }
}
