//! The `sbcheck` command line.

use sbcheck::blob::{Node, Profile};
use sbcheck::eval::{evaluate, explain, Args};
use sbcheck::harness::{ensure_fixtures, load_profile, run_cell, CellRecord, RunOptions};
use sbcheck::matrix::Matrix;
use sbcheck::report;
use sbcheck::sbpl::{compile_file, Options};
use sbcheck::vocab::Vocab;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: sbcheck <command> [options]

commands:
  run [--profile NAME]... [--macos-paths] [--matrix FILE] [--out DIR]
        run the runtime-check matrix: a table on screen, traces in out/
  compile PROFILE.sb [-o OUT.sb.bin] [--param KEY=VALUE]...
        compile SBPL to a blob in Apple's macOS 14 format
  decode BLOB
        header, op table grouped by bucket, nodes
  eval BLOB|PROFILE.sb OPERATION PATH
        the decision for one operation on one path, and the rule behind it
";

/// A command-line error: message for stderr, exit status 2.
struct Usage(String);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("compile") => cmd_compile(&args[1..]),
        Some("decode") => cmd_decode(&args[1..]),
        Some("eval") => cmd_eval(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(Usage(format!("unknown command {other:?}\n\n{USAGE}"))),
        None => Err(Usage(USAGE.to_owned())),
    };
    match result {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("sbcheck: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Splits `--flag value` options from positional arguments.
struct Parsed {
    flags: Vec<(String, String)>,
    switches: Vec<String>,
    positional: Vec<String>,
}

fn parse(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Parsed, Usage> {
    let mut p = Parsed {
        flags: Vec::new(),
        switches: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if with_value.contains(&a.as_str()) {
            let v = it
                .next()
                .ok_or_else(|| Usage(format!("{a} needs a value")))?;
            p.flags.push((a.clone(), v.clone()));
        } else if switches.contains(&a.as_str()) {
            p.switches.push(a.clone());
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(Usage(format!("unknown option {a}")));
        } else {
            p.positional.push(a.clone());
        }
    }
    Ok(p)
}

impl Parsed {
    fn all(&self, flag: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(f, _)| f == flag)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, flag: &str) -> Option<String> {
        self.all(flag).pop()
    }

    fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }

    fn params(&self) -> Result<Options, Usage> {
        let params = self
            .all("--param")
            .into_iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| Usage(format!("--param takes KEY=VALUE, got {kv:?}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Options { params })
    }
}

fn project_root() -> PathBuf {
    // The matrix names files relative to the project; default to the
    // current directory, which `cargo run` sets to the package root.
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn cmd_run(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(
        args,
        &["--profile", "--matrix", "--out"],
        &["--macos-paths"],
    )?;
    let root = project_root();
    let matrix_file = p
        .one("--matrix")
        .map_or_else(|| root.join("expected/matrix.json"), PathBuf::from);
    let out = p
        .one("--out")
        .map_or_else(|| root.join("out"), PathBuf::from);
    let matrix = Matrix::load(&matrix_file).map_err(|e| Usage(e.to_string()))?;
    let only = p.all("--profile");
    for name in &only {
        if matrix.profile(name).is_none() {
            return Err(Usage(format!(
                "no profile {name} in {}",
                matrix_file.display()
            )));
        }
    }
    ensure_fixtures(&matrix).map_err(|e| Usage(format!("creating fixtures: {e}")))?;
    let mut opts = RunOptions::new(&root);
    opts.macos_paths = p.has("--macos-paths");
    let mut records: Vec<CellRecord> = Vec::new();
    let mut failed = false;
    for spec in matrix
        .profiles
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
    {
        let loaded = match load_profile(&root, &spec.source) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sbcheck: {}: {e}", spec.name);
                failed = true;
                continue;
            }
        };
        for probe in &spec.probes {
            let owned = matrix.fixtures.contains(&probe.target);
            match run_cell(spec, probe, &loaded, owned, &opts) {
                Ok(record) => {
                    if let Err(e) = report::write_trace(&out, &record) {
                        eprintln!("sbcheck: writing trace: {e}");
                        failed = true;
                    }
                    records.push(record);
                }
                Err(e) => {
                    eprintln!("sbcheck: {}::{}: {e}", spec.name, probe.name);
                    failed = true;
                }
            }
        }
    }
    let results = serde_json::to_string_pretty(&report::results_json(&records)).unwrap_or_default();
    report::write_atomic(&out.join("runtime_results.json"), results.as_bytes())
        .map_err(|e| Usage(format!("writing runtime_results.json: {e}")))?;
    print!(
        "{}",
        report::table(&records, std::io::stdout().is_terminal())
    );
    let mismatches = records
        .iter()
        .filter(|r| !r.matches() && !r.skipped())
        .count();
    let skipped = records.iter().filter(|r| r.skipped()).count();
    println!(
        "{} cells: {} match, {} mismatch, {} skipped (backend {}); traces in {}",
        records.len(),
        records.len() - mismatches - skipped,
        mismatches,
        skipped,
        sbcheck::apply::Backend::Linux.name(),
        out.join("traces").display()
    );
    Ok(if mismatches > 0 || failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_compile(args: &[String]) -> Result<ExitCode, Usage> {
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

/// A blob from a `.sb.bin` file, or compiled from a `.sb` source.
fn load_any(path: &str, options: &Options) -> Result<Profile, Usage> {
    let bytes = if path.ends_with(".sb") {
        compile_file(Path::new(path), options).map_err(|e| Usage(e.to_string()))?
    } else {
        std::fs::read(path).map_err(|e| Usage(format!("{path}: {e}")))?
    };
    Profile::decode(&bytes).map_err(|e| Usage(format!("{path}: {e}")))
}

fn cmd_decode(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["--param"], &[])?;
    let [input] = p.positional.as_slice() else {
        return Err(Usage("decode takes one BLOB".into()));
    };
    let profile = load_any(input, &p.params()?)?;
    let v = Vocab::macos_14();
    let h = &profile.header;
    println!(
        "format: {}\ntype: {:#06x}  nodes: {}  operations: {}  regexes: {}  policies: {}",
        profile.format.name(),
        h.kind,
        h.node_count,
        h.op_count,
        h.regex_count,
        h.policy_count
    );
    println!("\nop table by bucket:");
    for (node, ops) in profile.buckets() {
        let names: Vec<&str> = ops.iter().map(|&o| v.op_name(o).unwrap_or("?")).collect();
        println!("  bucket {node} ({} ops): {}", ops.len(), names.join(" "));
    }
    println!("\nnodes:");
    for (i, node) in profile.nodes.iter().enumerate() {
        match node {
            Node::Terminal(a) => {
                let verb = if a.is_deny() { "deny" } else { "allow" };
                let flags = a.flag_names();
                println!(
                    "  [{i}] terminal {verb}{}",
                    if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flags.join(" "))
                    }
                );
            }
            Node::Filter {
                matched, unmatched, ..
            } => {
                let f = sbcheck::eval::filter_sbpl(&profile, i as u16);
                println!("  [{i}] {f} -> match {matched}, unmatch {unmatched}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_eval(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["--param"], &[])?;
    let [input, operation, path] = p.positional.as_slice() else {
        return Err(Usage("eval takes BLOB OPERATION PATH".into()));
    };
    let profile = load_any(input, &p.params()?)?;
    let v = Vocab::macos_14();
    let op = v.op_id(operation).ok_or_else(|| {
        let hint = v
            .closest_op(operation)
            .map(|n| format!("; did you mean {n}?"))
            .unwrap_or_default();
        Usage(format!("unknown operation {operation}{hint}"))
    })?;
    let d = evaluate(&profile, op, &Args::path(path.as_bytes()));
    let verdict = d.verdict().map_or("undetermined", |v| v.as_str());
    println!("{verdict}");
    println!("bucket: {}", d.bucket);
    println!("node path: {:?}", d.node_path());
    println!("rule: {}", explain(&profile, &d));
    Ok(ExitCode::SUCCESS)
}
