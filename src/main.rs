//! The `sbcheck` command line; each subcommand lives in `sbcheck::cli`.

use sbcheck::cli::{self, Usage};
use std::process::ExitCode;

const USAGE: &str = "\
usage: sbcheck <command> [options]

commands:
  run [--profile NAME]... [--macos-paths] [--matrix DIR] [--out DIR] [--backend B] [--jobs N]
      [--timeout MS] [--partition K/N] [--no-zygote]
        run the runtime-check matrix: a table on screen, traces in out/
  compile PROFILE.sb [-o OUT.sb.bin] [--param KEY=VALUE]... [-I DIR]...
        compile SBPL to a blob in Apple's macOS 14 format
  probe --profile PROFILE(.sb|.sb.bin) [--param K=V] [--macos-paths] [--backend B] OPERATION TARGET
        one cell from the command line: decoder, observed verdict, errno, rule
  diff A/runtime_results.json B/runtime_results.json
        cells whose verdict changed between two runs
  merge -o OUT.json A.json B.json...
        one results file from the shards of a partitioned run
  expect [--matrix DIR] [--bless]
        check every expectation against the decoder without running anything
  exec --profile PROFILE(.sb|.sb.bin) [--param K=V] [--log FILE] [--backend B] -- CMD ARGS...
        run a command under a profile (sandbox-exec for Linux); denials logged
  decode BLOB|PROFILE.sb [--json] [--list] [--sbpl] [--format F] [--release R] [--profile NAME|N]
        header, tables, op table grouped by bucket, nodes, the profile as SBPL;
        --list: a bundle's profiles; --sbpl: only the SBPL (it compiles back)
  eval BLOB|PROFILE.sb OPERATION [PATH] [--arg NAME=VALUE]... [--var NAME=VALUE]... [--explain] [--json]
        the decision for one operation and its arguments, and the rule behind it
  eval BLOB [--profile NAME|N] --batch [--explain] < QUERIES.jsonl
        one JSON-lines answer per JSON-lines query, one decode
  report A/runtime_results.json [B/runtime_results.json] [-o OUT.html]
        render a run as HTML (report.html beside A), or the difference
        from run A to run B (report-diff.html beside B)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    // `sbcheck CMD --help`: the usage, whatever the command (options after
    // `--` belong to the command `exec` runs).
    let mut before_dashes = rest.iter().take_while(|a| a.as_str() != "--");
    if before_dashes.any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match args.first().map(String::as_str) {
        Some("run") => cli::run::main(rest),
        Some("compile") => cli::compile::main(rest),
        Some("decode") => cli::decode::main(rest),
        Some("eval") => cli::decode::eval(rest),
        Some("expect") => cli::expect::main(rest),
        Some("probe") => cli::probe::main(rest),
        Some("exec") => cli::exec::main(rest),
        Some("diff") => cli::diff::main(rest),
        Some("merge") => cli::diff::merge(rest),
        Some("report") => cli::report::main(rest),
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
