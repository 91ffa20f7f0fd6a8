//! `sbcheck exec`: `sandbox-exec` for Linux (and a front end to the real
//! one's mechanism on macOS). Runs a command under a profile, the exec
//! itself checked as process-exec*, logs every denial, and exits with the
//! command's status (128 + N when a signal N ended it).

use super::{load_any, Usage};
use crate::apply::exec::Command;
use crate::apply::log::LogTarget;
use crate::apply::{apply, Backend, Config};
use std::process::ExitCode;

const WITH_VALUE: &[&str] = &["--profile", "--param", "--log", "--backend", "--cpus"];
const SWITCHES: &[&str] = &["--macos-paths", "--kernel"];

/// Splits `[OPTIONS] [--] CMD ARGS...` at the command: options before it
/// are ours, everything from it on is the command's, options included.
fn split(args: &[String]) -> Result<(&[String], &[String]), Usage> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            return Ok((&args[..i], &args[i + 1..]));
        }
        if WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if SWITCHES.contains(&a.as_str()) {
            i += 1;
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(Usage(format!("unknown option {a}")));
        } else {
            return Ok((&args[..i], &args[i..]));
        }
    }
    Ok((args, &[]))
}

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let (ours, command) = split(args)?;
    let p = super::parse(ours, WITH_VALUE, SWITCHES)?;
    let source = p
        .one("--profile")
        .ok_or_else(|| Usage("exec needs --profile PROFILE(.sb|.sb.bin)".into()))?;
    let Some((program, rest)) = command.split_first() else {
        return Err(Usage(
            "exec needs a command: exec --profile P -- CMD ARGS...".into(),
        ));
    };
    let profile = load_any(&source, &p.params()?)?;
    let backend = match p.one("--backend") {
        Some(b) => Some(
            Backend::parse(&b)
                .ok_or_else(|| Usage(format!("unknown backend {b:?}: linux or seatbelt")))?,
        ),
        None => None,
    };
    let config = Config {
        backend,
        macos_paths: p.has("--macos-paths"),
        log: p
            .one("--log")
            .map_or(LogTarget::Stderr, |f| LogTarget::File(f.into())),
        record: false,
        subreaper: true,
    };
    if let Some(list) = p.one("--cpus") {
        pin(&list)?;
    }
    let command = Command::new(program, rest).map_err(|e| Usage(e.to_string()))?;
    let mut enforcement = apply(&profile, &config).map_err(|e| Usage(e.to_string()))?;
    if p.has("--kernel") {
        kernel_only(&mut enforcement, config.macos_paths, &source)?;
    }
    let status = enforcement
        .exec(&command)
        .map_err(|e| Usage(format!("{}: {e}", command.display)))?;
    Ok(ExitCode::from(status.shell_code().clamp(0, 255) as u8))
}

/// `--cpus 0,2-3`: the CPUs sbcheck, its supervisor and the command run
/// on (inherited by everything it starts).
fn cpu_list(list: &str) -> Result<Vec<usize>, Usage> {
    let bad = || {
        Usage(format!(
            "--cpus {list:?}: expected CPU numbers and ranges, e.g. 0,2-3"
        ))
    };
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
    Ok(cpus)
}

#[cfg(target_os = "linux")]
fn pin(list: &str) -> Result<(), Usage> {
    let cpus = cpu_list(list)?;
    crate::apply::sys::pin_to_cpus(&cpus).map_err(|e| {
        Usage(format!(
            "--cpus {list}: {}",
            std::io::Error::from_raw_os_error(e)
        ))
    })
}

#[cfg(not(target_os = "linux"))]
fn pin(list: &str) -> Result<(), Usage> {
    cpu_list(list).map(drop)
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

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_command_starts_at_dashdash_or_the_first_word() {
        let a = strings(&["--profile", "p.sb", "--", "ls", "-l"]);
        let (ours, cmd) = split(&a).unwrap();
        assert_eq!((ours.len(), cmd), (2, &strings(&["ls", "-l"])[..]));
        let a = strings(&["--log", "f", "--macos-paths", "cat", "--help"]);
        let (ours, cmd) = split(&a).unwrap();
        assert_eq!((ours.len(), cmd), (3, &strings(&["cat", "--help"])[..]));
        let a = strings(&["--bogus", "cat"]);
        assert_eq!(split(&a).unwrap_err().0, "unknown option --bogus");
    }

    #[test]
    fn cpu_lists_are_numbers_and_ranges() {
        assert_eq!(cpu_list("0").unwrap(), vec![0]);
        assert_eq!(cpu_list("0,2-4").unwrap(), vec![0, 2, 3, 4]);
        for bad in ["", "a", "3-1", "0,", "5000"] {
            let e = cpu_list(bad).unwrap_err();
            assert!(e.0.starts_with("--cpus"), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn usage_errors_are_named() {
        let e = main(&strings(&["--", "true"])).unwrap_err();
        assert!(e.0.contains("needs --profile"), "{}", e.0);
        let e = main(&strings(&["--profile", "x.sb"])).unwrap_err();
        assert!(e.0.contains("needs a command"), "{}", e.0);
        let e = main(&strings(&["--profile", "/nonexistent.sb.bin", "true"])).unwrap_err();
        assert!(e.0.starts_with("/nonexistent.sb.bin: "), "{}", e.0);
    }
}
