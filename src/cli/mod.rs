//! The command line: one module a subcommand, sharing the argument parser.

pub mod compile;
pub mod decode;
pub mod diff;
pub mod exec;
pub mod expect;
pub mod probe;
pub mod report;
pub mod run;

use crate::blob::Profile;
use crate::sbpl::{compile_file, Options};
use std::path::{Path, PathBuf};

/// A command-line error: the message for stderr (exit status 2).
#[derive(Debug)]
pub struct Usage(pub String);

/// Splits `--flag value` options from positional arguments.
pub struct Parsed {
    pub flags: Vec<(String, String)>,
    pub switches: Vec<String>,
    pub positional: Vec<String>,
}

pub fn parse(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Parsed, Usage> {
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
    pub fn all(&self, flag: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(f, _)| f == flag)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn one(&self, flag: &str) -> Option<String> {
        self.all(flag).pop()
    }

    pub fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }

    pub fn params(&self) -> Result<Options, Usage> {
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

pub fn project_root() -> PathBuf {
    // The matrix names files relative to the project; default to the
    // current directory, which `cargo run` sets to the package root.
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// A blob from a `.sb.bin` file, or compiled from a `.sb` source.
pub fn load_any(path: &str, options: &Options) -> Result<Profile, Usage> {
    let bytes = if path.ends_with(".sb") {
        compile_file(Path::new(path), options).map_err(|e| Usage(e.to_string()))?
    } else {
        std::fs::read(path).map_err(|e| Usage(format!("{path}: {e}")))?
    };
    Profile::decode(&bytes).map_err(|e| Usage(format!("{path}: {e}")))
}
