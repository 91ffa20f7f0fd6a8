//! The command line: the clap definition of every subcommand (its flags,
//! its `--help` text with an example), the pieces they share (reading a
//! profile with `-I` and `--param`, finding the matrix, writing to a pipe
//! that may close), and one module a subcommand that does the work.
//!
//! Exit status, for every command: 0 ok, 1 a disagreement or mismatch
//! (or a compile error, or the status of the command `exec` ran), 2 a
//! usage or input error.

pub mod compile;
pub mod decode;
pub mod diff;
pub mod exec;
pub mod expect;
pub mod probe;
pub mod report;
pub mod run;

use crate::blob::Profile;
use crate::sbpl::{compile_file_with, Options, SearchPath};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// A command-line error: the message for stderr (exit status 2).
#[derive(Debug)]
pub struct Usage(pub String);

const EXIT_CODES: &str = "\
Exit status: 0 ok; 1 a verdict disagrees with the expectation or the decoder
(run, probe, expect, diff), or a compile error; 2 a usage or input error.
`exec` exits with its command's status.";

/// sbcheck: checks at runtime that compiled Apple Seatbelt profiles allow
/// and deny what their decoded form says.
#[derive(Debug, Parser)]
#[command(
    name = "sbcheck",
    version,
    about,
    after_help = EXIT_CODES,
    propagate_version = true,
)]
pub struct Cli {
    /// Colour the output: auto (a terminal, and NO_COLOR unset), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the runtime-check matrix: a table on screen, traces in out/.
    #[command(after_help = "\
Example:
  sbcheck run --profile v11_read_subpath --jobs=2
  sbcheck run --matrix my-profiles/expected --out /tmp/my-run

Without --matrix the matrix is expected/ in the project: the nearest
directory, from here upwards, holding Cargo.toml or expected/. A profile's
`source` is relative to that project directory (--root changes it).
Exit status: 0 every cell matches, 1 a mismatch or a cell that could not
run, 2 a usage or input error.")]
    Run(run::RunArgs),
    /// Compile SBPL to a blob in Apple's macOS 14 format.
    #[command(after_help = "\
Example:
  sbcheck compile profiles/v11_read_subpath.sb -o /tmp/v11.sb.bin
  sbcheck compile app.sb -I ./sbpl --param HOME=/Users/me

Imports are looked for beside the importing file, then in each -I DIR, then
in $SBCHECK_SBPL_PATH and /System/Library/Sandbox/Profiles. A compile error
is printed as file:line:column: message, and the exit status is 1.")]
    Compile(compile::CompileArgs),
    /// One cell from the command line: decoder, observed verdict, errno, rule.
    #[command(after_help = probe::TARGET_HELP)]
    Probe(probe::ProbeArgs),
    /// Cells whose verdict changed between two runs.
    #[command(after_help = "\
Example:
  sbcheck diff out-linux/runtime_results.json out-macos/runtime_results.json

Exit status: 0 no cell differs, 1 some do, 2 a file cannot be read.")]
    Diff(diff::DiffArgs),
    /// One results file from the shards of a partitioned run.
    #[command(after_help = "\
Example:
  sbcheck run --partition 1/2 --out a; sbcheck run --partition 2/2 --out b
  sbcheck merge -o all.json a/runtime_results.json b/runtime_results.json

An input may also be a directory of traces (a `cargo test` run's out/traces).")]
    Merge(diff::MergeArgs),
    /// Check every expectation against the decoder without running anything.
    #[command(after_help = "\
Example:
  sbcheck expect
  sbcheck expect --matrix my-profiles/expected --bless

Exit status: 0 the decoder agrees with every expectation, 1 it does not.")]
    Expect(expect::ExpectArgs),
    /// Run a command under a profile (sandbox-exec for Linux); denials logged.
    #[command(after_help = "\
Example:
  sbcheck exec --profile profiles/v11_read_subpath.sb -- cat /tmp/foo
  sbcheck exec --profile app.sb -I ./sbpl --param HOME=$HOME --log=denials.log -- ./app

Options go before the command; everything from the command on is its own.
Exit status: the command's (128 + N when signal N ended it), 2 a usage error.")]
    Exec(exec::ExecArgs),
    /// Header, tables, op table grouped by bucket, nodes, rules as SBPL.
    #[command(after_help = "\
Example:
  sbcheck decode profiles/apple/macos-14.4.1/baseline_deny_all.sb.bin
  sbcheck decode profiles/v11_read_subpath.sb --json | jq .op_table

A bucket is an entry of the op table: the node an operation's decision
starts at; operations that share that node share a bucket.
--json's output is described in docs/decode-json.md.")]
    Decode(decode::DecodeArgs),
    /// The decision for one operation and its arguments, and the rule behind it.
    #[command(after_help = "\
Example:
  sbcheck eval profiles/v11_read_subpath.sb file-read-data /tmp/foo --explain
  sbcheck eval app.sb.bin network-outbound --arg remote-port=443 --json

Exit status: 0 whatever the verdict; 2 a usage or input error.")]
    Eval(decode::EvalArgs),
    /// Render a run as HTML, or the difference between two runs.
    #[command(after_help = "\
Example:
  sbcheck report out/runtime_results.json
  sbcheck report before/runtime_results.json after/runtime_results.json -o diff.html

One run: report.html beside it. Two runs: report-diff.html beside the second.")]
    Report(report::ReportArgs),
    /// Print a completion script for a shell.
    #[command(after_help = "\
Example:
  sbcheck completions bash > ~/.local/share/bash-completion/completions/sbcheck
  sbcheck completions zsh > ~/.zfunc/_sbcheck
  sbcheck completions fish > ~/.config/fish/completions/sbcheck.fish")]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How a profile is read, wherever one is: its `(param ...)` values and
/// where its `(import ...)`s are found.
#[derive(Debug, Clone, Default, Args)]
pub struct ProfileInput {
    /// A value for (param "KEY") when compiling SBPL; repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = key_value)]
    pub params: Vec<(String, String)>,
    /// A directory to look for (import ...)ed files in; repeatable.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    pub include: Vec<PathBuf>,
}

impl ProfileInput {
    pub fn options(&self) -> Options {
        Options {
            params: self.params.clone(),
        }
    }

    /// `-I` directories first, then the standard search path.
    pub fn search(&self) -> SearchPath {
        let mut search = SearchPath(self.include.clone());
        search.0.extend(SearchPath::standard().0);
        search
    }

    /// A blob: read from a `.sb.bin` file, or compiled from a `.sb` source.
    pub fn blob(&self, path: &str) -> Result<Vec<u8>, Usage> {
        if path.ends_with(".sb") {
            compile_file_with(Path::new(path), &self.options(), &self.search())
                .map_err(|e| Usage(e.to_string()))
        } else {
            std::fs::read(path).map_err(|e| Usage(format!("{path}: {e}")))
        }
    }
}

/// `KEY=VALUE` (for `--param`, `--arg`, `--var`).
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// `--backend linux|seatbelt`.
pub fn backend(s: &str) -> Result<crate::apply::Backend, String> {
    crate::apply::Backend::parse(s)
        .ok_or_else(|| format!("unknown backend {s:?}: linux or seatbelt"))
}

/// A blob from a `.sb.bin` file, or compiled from a `.sb` source.
pub fn load_any(path: &str, input: &ProfileInput) -> Result<Profile, Usage> {
    let bytes = input.blob(path)?;
    Profile::decode(&bytes).map_err(|e| Usage(format!("{path}: {e}")))
}

/// Where the matrix is and what its `source` paths are relative to.
#[derive(Debug, Args, Clone, Default)]
pub struct MatrixArgs {
    /// The matrix: a directory of profile files (expected/) or one JSON file.
    /// Default: expected/ in the project (see --root).
    #[arg(long, value_name = "DIR|FILE")]
    pub matrix: Option<PathBuf>,
    /// The directory a profile's `source` is relative to. Default: the
    /// nearest directory, from here upwards, holding Cargo.toml or expected/.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

impl MatrixArgs {
    /// `(project root, matrix path)`.
    pub fn locate(&self) -> (PathBuf, PathBuf) {
        let root = self.root.clone().unwrap_or_else(project_root);
        let matrix = self.matrix.clone().unwrap_or_else(|| root.join("expected"));
        (root, matrix)
    }

    /// The matrix, read: `(project root, matrix path, matrix)`. A default
    /// matrix that is not there says how to name one.
    pub fn load(&self) -> Result<(PathBuf, PathBuf, crate::matrix::Matrix), Usage> {
        let (root, path) = self.locate();
        if self.matrix.is_none() && !path.exists() {
            return Err(Usage(format!(
                "no matrix at {}: run inside a project with expected/, or give --matrix DIR",
                path.display()
            )));
        }
        let matrix = crate::matrix::Matrix::load(&path).map_err(|e| Usage(e.to_string()))?;
        Ok((root, path, matrix))
    }
}

/// The project directory: from the current directory upwards, the first
/// one holding `Cargo.toml` or `expected/` (as cargo finds its manifest);
/// the current directory when none does.
pub fn project_root() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    find_project(&here).unwrap_or(here)
}

pub fn find_project(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file() || d.join("expected").is_dir())
        .map(Path::to_path_buf)
}

/// Whether stdout gets colour, set once from `--color` and NO_COLOR.
static COLOUR: AtomicBool = AtomicBool::new(false);
/// Set when stdout's reader went away: later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

pub fn set_colour(choice: ColorChoice) {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
    };
    COLOUR.store(on, Ordering::Relaxed);
}

/// Whether to colour what goes to stdout.
pub fn colour() -> bool {
    COLOUR.load(Ordering::Relaxed)
}

/// Writes `text` to stdout. A closed pipe (`sbcheck run | head -1`) ends
/// the output quietly: the command still finishes its work (a run still
/// writes its results) and its exit status is unchanged. Every command
/// prints through this (or [`outln!`]), never `print!`, which panics there.
pub fn out(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            CLOSED.store(true, Ordering::Relaxed);
            eprintln!("sbcheck: writing output: {e}");
        }
    }
}

/// `println!` through [`out`].
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::out(&format!("{}\n", format_args!($($t)*)))
    };
}

/// Parses the command line and runs the command: the whole of `main`.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // clap's own help and errors follow --color too (it reads NO_COLOR
    // itself); the flag is looked for before clap has parsed anything.
    let command = Cli::command().color(clap_colour(&args));
    let parsed = command
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; clap knows which.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    set_colour(cli.color);
    let result = match cli.command {
        Command::Run(a) => run::main(&a),
        Command::Compile(a) => compile::main(&a),
        Command::Decode(a) => decode::main(&a),
        Command::Eval(a) => decode::eval(&a),
        Command::Expect(a) => expect::main(&a),
        Command::Probe(a) => probe::main(&a),
        Command::Exec(a) => exec::main(&a),
        Command::Diff(a) => diff::main(&a),
        Command::Merge(a) => diff::merge(&a),
        Command::Report(a) => report::main(&a),
        Command::Completions(a) => Ok(completions(a.shell)),
    };
    match result {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("sbcheck: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `--color WHEN` or `--color=WHEN` among the arguments, for clap's output.
fn clap_colour(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let words: Vec<&str> = args
        .iter()
        .map(|a| a.to_str().unwrap_or_default())
        .take_while(|a| *a != "--")
        .collect();
    let when = words.iter().enumerate().find_map(|(i, w)| match *w {
        "--color" => words.get(i + 1).copied(),
        _ => w.strip_prefix("--color="),
    });
    match when {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    }
}

fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sbcheck", &mut script);
    out(&String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        for sub in Cli::command().get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(help.contains("Example"), "{} --help", sub.get_name());
        }
    }

    #[test]
    fn the_project_is_found_from_a_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proj/src/deep")).unwrap();
        std::fs::write(dir.path().join("proj/Cargo.toml"), "").unwrap();
        let found = find_project(&dir.path().join("proj/src/deep")).unwrap();
        assert_eq!(found, dir.path().join("proj"));
        assert_eq!(key_value("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(key_value("A").is_err());
    }

    #[test]
    fn clap_is_told_the_colour_before_parsing() {
        let words = |a: &[&str]| a.iter().map(Into::into).collect::<Vec<_>>();
        let c = |a: &[&str]| clap_colour(&words(a));
        assert_eq!(
            c(&["sbcheck", "--color=never", "run"]),
            clap::ColorChoice::Never
        );
        assert_eq!(
            c(&["sbcheck", "run", "--color", "always"]),
            clap::ColorChoice::Always
        );
        assert_eq!(
            c(&["sbcheck", "exec", "--", "x", "--color=never"]),
            clap::ColorChoice::Auto
        );
    }
}
