//! `sbcheck probe`: one cell from the command line, no matrix needed.

use super::{project_root, ProfileInput, Usage};
use crate::apply::Backend;
use crate::harness::{load_profile_with, run_cell, Observed, RunOptions};
use crate::matrix::{ProbeSpec, ProfileSpec};
use std::process::ExitCode;

/// `probe --help`'s text after the options: what a target is.
pub const TARGET_HELP: &str = "\
Targets:
  a file operation (file-read*, file-read-data, file-read-metadata,
  file-write*, file-write-data, file-write-create, file-write-unlink,
  process-exec*)       an absolute path: /tmp/foo
  network-outbound     tcp:ADDRESS or udp:ADDRESS, e.g. tcp:127.0.0.1; the
                       probe connects to sbcheck's own loopback listener,
                       so the address says the protocol, not where to go.
                       A bare 127.0.0.1:9 is taken as tcp:127.0.0.1:9.
  network-bind         tcp:127.0.0.1 (binds a free loopback port)
  sysctl-read, mach-lookup   a name (skipped on Linux: no counterpart)

Example:
  sbcheck probe --profile profiles/v11_read_subpath.sb file-read-data /tmp/bar
  sbcheck probe --profile=app.sb -I ./sbpl network-outbound tcp:127.0.0.1

Exit status: 0 the observed verdict agrees with the decoder's (or the cell
was skipped, with its reason), 1 they disagree, 2 a usage or input error.";

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The profile: SBPL (.sb, compiled first) or a blob (.sb.bin).
    #[arg(long, value_name = "PROFILE")]
    pub profile: String,
    #[command(flatten)]
    pub input: ProfileInput,
    /// Match paths as macOS's kernel does: /tmp/x as /private/tmp/x, and a
    /// /private/{tmp,var,etc} path also without /private (docs/matrix.md).
    #[arg(long)]
    pub macos_paths: bool,
    /// linux (seccomp engine) or seatbelt (macOS's kernel).
    #[arg(long, value_name = "B", value_parser = super::backend)]
    pub backend: Option<Backend>,
    /// Kill the probe after this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,
    /// The operation, as the matrix names it: file-read*, network-outbound, ...
    pub operation: String,
    /// What the operation acts on (see Targets below).
    pub target: String,
}

/// The target as the harness wants it: a network address without its
/// protocol is TCP.
pub fn normalise_target(operation: &str, target: &str) -> Result<String, Usage> {
    let network = operation.starts_with("network-");
    if network {
        return Ok(
            if target.starts_with("tcp:") || target.starts_with("udp:") {
                target.to_owned()
            } else {
                format!("tcp:{target}")
            },
        );
    }
    let takes_a_path = operation.starts_with("file-") || operation.starts_with("process-exec");
    if takes_a_path && !target.starts_with('/') {
        return Err(Usage(format!(
            "{operation} takes an absolute path, got {target:?} (see sbcheck probe --help)"
        )));
    }
    Ok(target.to_owned())
}

pub fn main(a: &ProbeArgs) -> Result<ExitCode, Usage> {
    let target = normalise_target(&a.operation, &a.target)?;
    let params = a.input.params.clone();
    let root = project_root();
    let loaded = load_profile_with(&root, &a.profile, &params, &a.input.search())
        .map_err(|e| Usage(e.to_string()))?;
    let spec = ProfileSpec {
        name: "cli".into(),
        file: a.profile.clone().into(),
        source: a.profile.clone(),
        params,
        label: None,
        probes: Vec::new(),
    };
    // The decoder's verdict stands in for the expectation: the question is
    // whether enforcement agrees with it.
    let probe = ProbeSpec {
        name: "probe".into(),
        operation: a.operation.clone(),
        target,
        expected: "allow".into(),
        expected_macos: None,
        expectation_id: None,
        note: None,
        recorded: None,
    };
    let mut opts = RunOptions::new(&root);
    opts.macos_paths = a.macos_paths;
    if let Some(b) = a.backend {
        super::run::check_backend(b)?;
        opts.backend = b;
    }
    if let Some(ms) = a.timeout {
        opts.timeout = std::time::Duration::from_millis(ms);
    }
    let r = run_cell(&spec, &probe, &loaded, false, &opts).map_err(|e| Usage(e.to_string()))?;
    let decoder = r.decoder.verdict.map_or("undetermined", |v| v.as_str());
    crate::outln!(
        "decoder:  {decoder} ({} -> bucket {}, node path {:?})",
        r.decoder.operation,
        r.decoder.bucket,
        r.decoder.node_path
    );
    crate::outln!("rule:     {}", r.decoder.rule);
    crate::outln!("observed: {}", r.observed.describe());
    if let Observed::Errno(e) = r.observed {
        crate::outln!("errno:    {e} ({})", crate::report::errno_name(e));
    }
    for i in &r.intercepts {
        let log = i.log.as_deref().unwrap_or("allow");
        crate::outln!("syscall:  {} {} -> {log}", i.syscall, i.resolved);
    }
    if let Observed::Skipped(why) = &r.observed {
        crate::outln!("agree:    skipped ({why})");
        return Ok(ExitCode::SUCCESS);
    }
    let agree = r.observed.verdict().is_some() && r.observed.verdict() == r.decoder.verdict;
    crate::outln!("agree:    {}", if agree { "yes" } else { "NO" });
    Ok(if agree {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_normalised_or_refused() {
        let n = |op, t| normalise_target(op, t).map_err(|e| e.0);
        assert_eq!(
            n("network-outbound", "127.0.0.1:9").unwrap(),
            "tcp:127.0.0.1:9"
        );
        assert_eq!(
            n("network-outbound", "udp:127.0.0.1").unwrap(),
            "udp:127.0.0.1"
        );
        assert_eq!(n("file-read*", "/tmp/x").unwrap(), "/tmp/x");
        let e = n("file-read-data", "tmp/x").unwrap_err();
        assert!(e.contains("absolute path"), "{e}");
        assert_eq!(n("mach-lookup", "com.apple.x").unwrap(), "com.apple.x");
    }
}
