//! `sbcheck probe`: one cell from the command line, no matrix needed.

use super::{parse, project_root, Usage};
use crate::harness::{load_profile, run_cell, RunOptions};
use crate::matrix::{ProbeSpec, ProfileSpec};
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(
        args,
        &["--profile", "--param", "--timeout", "--backend"],
        &["--macos-paths"],
    )?;
    let [operation, target] = p.positional.as_slice() else {
        return Err(Usage(
            "probe takes --profile PROFILE OPERATION TARGET".into(),
        ));
    };
    let source = p
        .one("--profile")
        .ok_or_else(|| Usage("probe needs --profile PROFILE(.sb|.sb.bin)".into()))?;
    let params = p.params()?.params;
    let root = project_root();
    let loaded = load_profile(&root, &source, &params).map_err(|e| Usage(e.to_string()))?;
    let spec = ProfileSpec {
        name: "cli".into(),
        file: source.clone().into(),
        source: source.clone(),
        params,
        label: None,
        probes: Vec::new(),
    };
    // The decoder's verdict stands in for the expectation: the question is
    // whether enforcement agrees with it.
    let probe = ProbeSpec {
        name: "probe".into(),
        operation: operation.clone(),
        target: target.clone(),
        expected: "allow".into(),
        expected_macos: None,
        expectation_id: None,
        note: None,
        recorded: None,
    };
    let mut opts = RunOptions::new(&root);
    opts.macos_paths = p.has("--macos-paths");
    if let Some(b) = p.one("--backend") {
        opts.backend = crate::apply::Backend::parse(&b)
            .ok_or_else(|| Usage(format!("unknown backend {b:?}: linux or seatbelt")))?;
        super::run::check_backend(opts.backend)?;
    }
    if let Some(t) = p.one("--timeout") {
        opts.timeout = std::time::Duration::from_millis(
            t.parse()
                .map_err(|_| Usage(format!("bad --timeout {t:?}")))?,
        );
    }
    let r = run_cell(&spec, &probe, &loaded, false, &opts).map_err(|e| Usage(e.to_string()))?;
    let decoder = r.decoder.verdict.map_or("undetermined", |v| v.as_str());
    println!(
        "decoder:  {decoder} ({} -> bucket {}, node path {:?})",
        r.decoder.operation, r.decoder.bucket, r.decoder.node_path
    );
    println!("rule:     {}", r.decoder.rule);
    println!("observed: {}", r.observed.describe());
    if let crate::harness::Observed::Errno(e) = r.observed {
        println!("errno:    {e} ({})", crate::report::errno_name(e));
    }
    for i in &r.intercepts {
        let log = i.log.as_deref().unwrap_or("allow");
        println!("syscall:  {} {} -> {log}", i.syscall, i.resolved);
    }
    let agree = r.observed.verdict().is_some() && r.observed.verdict() == r.decoder.verdict;
    println!("agree:    {}", if agree { "yes" } else { "NO" });
    Ok(ExitCode::SUCCESS)
}
