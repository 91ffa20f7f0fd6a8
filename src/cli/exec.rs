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
    /// Match paths as macOS's kernel does: /tmp/x as /private/tmp/x, and a
    /// /private/{tmp,var,etc} path also without /private (docs/matrix.md).
    #[arg(long)]
    pub macos_paths: bool,
    /// Enforce with Landlock what it can judge exactly (file allow-lists):
    /// no round trip for opens; EACCES, no denial line (docs/enforcement.md).
    #[arg(long)]
    pub kernel: bool,
    /// Let idle CPUs halt. By default, where it may (root), sbcheck asks
    /// idle CPUs to poll while the command runs (a CPU latency request
    /// through /dev/cpu_dma_latency, dropped when sbcheck exits), so a
    /// wake-up on another CPU is cheap (docs/performance.md).
    #[arg(long)]
    pub no_idle_poll: bool,
    /// The CPUs sbcheck, its supervisor and the command run on: 0,2-3.
    #[arg(long, value_name = "LIST", value_parser = cpu_list)]
    pub cpus: Option<CpuList>,
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
    if let Some(CpuList(cpus)) = &a.cpus {
        pin(cpus)?;
    }
    let command = Command::new(program, rest).map_err(|e| Usage(e.to_string()))?;
    let mut enforcement = apply(&profile, &config).map_err(|e| Usage(e.to_string()))?;
    enforcement.poll_idle_cpus(!a.no_idle_poll);
    if a.kernel {
        kernel_only(&mut enforcement, config.macos_paths, &a.profile)?;
    }
    let status = enforcement
        .exec(&command)
        .map_err(|e| Usage(format!("{}: {e}", command.display)))?;
    Ok(ExitCode::from(status.shell_code().clamp(0, 255) as u8))
}

/// The CPUs of `--cpus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// `--cpus 0,2-3`: CPU numbers and ranges.
fn cpu_list(list: &str) -> Result<CpuList, String> {
    let bad = || format!("{list:?}: expected CPU numbers and ranges, e.g. 0,2-3");
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b || b >= 1024 {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    Ok(CpuList(cpus))
}

/// Pins this process (and so the supervisor and everything the command
/// starts, which inherit it) to `cpus`.
#[cfg(target_os = "linux")]
fn pin(cpus: &[usize]) -> Result<(), Usage> {
    crate::apply::sys::pin_to_cpus(cpus).map_err(|e| {
        Usage(format!(
            "--cpus {cpus:?}: {}",
            std::io::Error::from_raw_os_error(e)
        ))
    })
}

#[cfg(not(target_os = "linux"))]
fn pin(_: &[usize]) -> Result<(), Usage> {
    Err(Usage("--cpus needs Linux".into()))
}

/// `--kernel`: Landlock enforcement, or why this profile cannot have it.
#[cfg(target_os = "linux")]
fn kernel_only(
    enforcement: &mut crate::apply::Enforcement<'_>,
    macos_paths: bool,
    source: &str,
) -> Result<(), Usage> {
    let plan = enforcement
        .kernel_only(macos_paths)
        .map_err(|e| Usage(format!("{source}: --kernel: {e}")))?;
    if std::env::var_os("SBCHECK_VERBOSE").is_some() {
        for why in &plan.dropped {
            eprintln!("sbcheck: --kernel: left out: {why}");
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn kernel_only(_: &mut crate::apply::Enforcement<'_>, _: bool, source: &str) -> Result<(), Usage> {
    Err(Usage(format!("{source}: --kernel needs Linux (Landlock)")))
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
    fn kernel_and_cpu_lists_parse() {
        let a = parse(&["--profile", "p.sb", "--kernel", "--cpus", "0,2-3", "true"]).unwrap();
        assert!(a.kernel);
        assert_eq!(a.cpus, Some(CpuList(vec![0, 2, 3])));
        assert_eq!(cpu_list("1").unwrap(), CpuList(vec![1]));
        for bad in ["", "a", "3-1", "0,", "5000"] {
            let e = cpu_list(bad).unwrap_err();
            assert!(e.contains("CPU numbers"), "{bad}: {e}");
        }
        let e = parse(&["--profile", "p.sb", "--cpus", "x", "true"]).unwrap_err();
        assert!(e.to_string().contains("--cpus"), "{e}");
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
