//! The expectation matrix: for each profile, its source and its probes
//! (operation, target, expected verdict).
//!
//! On disk it is a directory, `expected/`: one `<profile>.json` per profile
//! and `fixtures.json` naming the files and directories the harness creates.
//! A single file holding `{ "fixtures": [...], "profiles": { name: ... } }`
//! is accepted too (fixture matrices in tests).
//!
//! This file is also compiled into `build.rs` (via `#[path]`), so it uses
//! only `std` and `serde_json`. Every error names the file and the key.

use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matrix {
    pub profiles: Vec<ProfileSpec>,
    pub fixtures: Fixtures,
}

/// What the harness creates before a cell runs: it assumes nothing exists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fixtures {
    /// Regular files (parents created as needed).
    pub files: Vec<String>,
    /// Directories.
    pub dirs: Vec<String>,
    /// Executable scripts (`#!/bin/true`) for process-exec* probes.
    pub programs: Vec<String>,
    /// Symbolic links, `(link, what it points at)`: vnode-type SYMLINK cells.
    pub links: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// A Rust identifier: the generated test module's name.
    pub name: String,
    /// The file that defined it (for error messages).
    pub file: PathBuf,
    /// SBPL source (`.sb`) or compiled blob (`.sb.bin` / `.bin`), relative
    /// to the project root.
    pub source: String,
    /// Parameters for `(param "KEY")` when compiling the source.
    pub params: Vec<(String, String)>,
    /// The research project's label, e.g. `bucket4`.
    pub label: Option<String>,
    pub probes: Vec<ProbeSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// A Rust identifier: the generated test's name.
    pub name: String,
    pub operation: String,
    pub target: String,
    /// `allow`, `deny`, or `undetermined`: the decision needs an argument
    /// the harness cannot supply on this platform (an entitlement, a process
    /// attribute); such a cell is skipped with the decoder's reason.
    pub expected: String,
    /// The verdict expected when paths are matched in macOS's layout
    /// (`--macos-paths`), where it differs.
    pub expected_macos: Option<String>,
    pub expectation_id: Option<String>,
    /// Why the expectation is what it is, where that needs saying (e.g. it
    /// departs from the research matrix).
    pub note: Option<String>,
    /// The decoder's prediction recorded by `sbcheck expect --bless`.
    pub recorded: Option<Recorded>,
}

/// A decoder prediction as recorded in the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub bucket: u64,
    pub verdict: String,
}

/// A malformed matrix: the file, the key at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
    }
}

impl std::error::Error for MatrixError {}

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err<T>(&self, key: &str, message: impl Into<String>) -> Result<T, MatrixError> {
        Err(MatrixError {
            file: self.file.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        })
    }

    fn string(&self, obj: &Value, parent: &str, field: &str) -> Result<String, MatrixError> {
        let key = join(parent, field);
        match obj.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => self.err(&key, format!("expected a string, found {other}")),
            None => self.err(&key, "missing"),
        }
    }

    fn opt_string(
        &self,
        obj: &Value,
        parent: &str,
        field: &str,
    ) -> Result<Option<String>, MatrixError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.string(obj, parent, field).map(Some),
        }
    }

    fn verdict(
        &self,
        obj: &Value,
        parent: &str,
        field: &str,
    ) -> Result<Option<String>, MatrixError> {
        let v = self.opt_string(obj, parent, field)?;
        match v.as_deref() {
            None | Some("allow" | "deny") => Ok(v),
            Some(other) => self.err(
                &join(parent, field),
                format!("{other:?} is neither \"allow\" nor \"deny\""),
            ),
        }
    }

    /// A verdict or `undetermined` (a cell's `expected`, a recorded
    /// prediction).
    fn outcome(&self, obj: &Value, parent: &str, field: &str) -> Result<String, MatrixError> {
        let key = join(parent, field);
        match obj.get(field) {
            Some(Value::String(s)) if s == UNDETERMINED => Ok(s.clone()),
            None | Some(Value::Null) => self.err(&key, "missing"),
            Some(_) => Ok(self.verdict(obj, parent, field)?.unwrap_or_default()),
        }
    }

    fn ident(&self, s: &str, key: &str) -> Result<(), MatrixError> {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !s.as_bytes()[0].is_ascii_digit();
        if ok {
            Ok(())
        } else {
            self.err(
                key,
                format!("{s:?} must be lower-case letters, digits and '_' (it names a test)"),
            )
        }
    }

    fn paths(&self, v: Option<&Value>, key: &str) -> Result<Vec<String>, MatrixError> {
        match v {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) if s.starts_with('/') => Ok(s.clone()),
                    other => self.err(
                        &format!("{key}[{i}]"),
                        format!("expected an absolute path, found {other}"),
                    ),
                })
                .collect(),
            Some(other) => self.err(key, format!("expected an array of paths, found {other}")),
        }
    }

    /// `{ "/abs/link": "what it points at" }`.
    fn links(&self, v: Option<&Value>, key: &str) -> Result<Vec<(String, String)>, MatrixError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let Some(map) = v.as_object() else {
            return self.err(key, format!("expected {{link: target}}, found {v}"));
        };
        map.iter()
            .map(|(link, to)| match to {
                Value::String(to) if link.starts_with('/') => Ok((link.clone(), to.clone())),
                other => self.err(
                    &join(key, link),
                    format!("expected an absolute link path and a string target, found {other}"),
                ),
            })
            .collect()
    }

    fn fixtures(&self, v: &Value, key: &str) -> Result<Fixtures, MatrixError> {
        match v {
            // The short form: a list of files.
            Value::Array(_) => Ok(Fixtures {
                files: self.paths(Some(v), key)?,
                ..Fixtures::default()
            }),
            Value::Object(_) => Ok(Fixtures {
                files: self.paths(v.get("files"), &join(key, "files"))?,
                dirs: self.paths(v.get("dirs"), &join(key, "dirs"))?,
                programs: self.paths(v.get("programs"), &join(key, "programs"))?,
                links: self.links(v.get("links"), &join(key, "links"))?,
            }),
            other => self.err(
                key,
                format!("expected {{files, dirs, programs}}, found {other}"),
            ),
        }
    }

    fn profile(&self, name: &str, spec: &Value, key: &str) -> Result<ProfileSpec, MatrixError> {
        self.ident(name, if key.is_empty() { "(file name)" } else { key })?;
        if !spec.is_object() {
            return self.err(key, "expected an object with source and probes");
        }
        let params = match spec.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => self.err(
                        &join(key, &format!("params.{k}")),
                        format!("expected a string, found {other}"),
                    ),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return self.err(
                    &join(key, "params"),
                    format!("expected an object, found {other}"),
                )
            }
        };
        let Some(probes) = spec.get("probes").and_then(Value::as_array) else {
            return self.err(&join(key, "probes"), "missing, or not an array");
        };
        let mut parsed: Vec<ProbeSpec> = Vec::new();
        for (i, p) in probes.iter().enumerate() {
            let pkey = join(key, &format!("probes[{i}]"));
            let probe = self.probe(p, &pkey)?;
            if parsed.iter().any(|q| q.name == probe.name) {
                return self.err(
                    &join(&pkey, "name"),
                    format!("duplicate probe name {:?}", probe.name),
                );
            }
            parsed.push(probe);
        }
        Ok(ProfileSpec {
            name: name.to_owned(),
            file: self.file.to_owned(),
            source: self.string(spec, key, "source")?,
            params,
            label: self.opt_string(spec, key, "label")?,
            probes: parsed,
        })
    }

    fn probe(&self, p: &Value, pkey: &str) -> Result<ProbeSpec, MatrixError> {
        let recorded = match p.get("decoder") {
            None | Some(Value::Null) => None,
            Some(d) => {
                let dkey = join(pkey, "decoder");
                let Some(bucket) = d.get("bucket").and_then(Value::as_u64) else {
                    return self.err(&join(&dkey, "bucket"), "missing, or not a node index");
                };
                Some(Recorded {
                    bucket,
                    verdict: self.outcome(d, &dkey, "verdict")?,
                })
            }
        };
        let probe = ProbeSpec {
            name: self.string(p, pkey, "name")?,
            operation: self.string(p, pkey, "operation")?,
            target: self.string(p, pkey, "target")?,
            expected: self.outcome(p, pkey, "expected")?,
            expected_macos: self.verdict(p, pkey, "expected_macos")?,
            expectation_id: self.opt_string(p, pkey, "expectation_id")?,
            note: self.opt_string(p, pkey, "note")?,
            recorded,
        };
        self.ident(&probe.name, &join(pkey, "name"))?;
        Ok(probe)
    }
}

fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

fn parse_json(text: &str, file: &Path) -> Result<Value, MatrixError> {
    serde_json::from_str(text).map_err(|e| MatrixError {
        file: file.to_owned(),
        key: format!("line {} column {}", e.line(), e.column()),
        message: format!("invalid JSON: {e}"),
    })
}

fn read(file: &Path) -> Result<String, MatrixError> {
    std::fs::read_to_string(file).map_err(|e| MatrixError {
        file: file.to_owned(),
        key: "(file)".into(),
        message: e.to_string(),
    })
}

/// The expectation of a cell whose verdict needs an argument the harness
/// cannot supply.
pub const UNDETERMINED: &str = "undetermined";

/// The name of the fixture file inside a matrix directory.
pub const FIXTURES_FILE: &str = "fixtures.json";

/// A create expected to be denied in both layouts: it never makes the file,
/// and its scratch only removes what a wrong allow made, so such cells may
/// share a target (the two iOS platform profiles deny one same path).
fn denied_create(p: &ProbeSpec) -> bool {
    p.operation == "file-write-create" && p.expected == "deny" && p.expected_for(true) == "deny"
}

impl Matrix {
    /// Loads a matrix directory (one file per profile) or a single file.
    pub fn load(path: &Path) -> Result<Matrix, MatrixError> {
        if path.is_dir() {
            Matrix::load_dir(path)
        } else {
            Matrix::parse(&read(path)?, path)
        }
    }

    /// Every `*.json` in `dir` but `fixtures.json` is one profile, named by
    /// the file's stem; profiles come sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Matrix, MatrixError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| MatrixError {
                file: dir.to_owned(),
                key: "(directory)".into(),
                message: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut m = Matrix::default();
        for file in files {
            let cx = Ctx { file: &file };
            let value = parse_json(&read(&file)?, &file)?;
            if file.file_name().is_some_and(|n| n == FIXTURES_FILE) {
                m.fixtures = cx.fixtures(&value, "")?;
                continue;
            }
            let name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            m.profiles.push(cx.profile(name, &value, "")?);
        }
        m.validate()?;
        Ok(m)
    }

    /// A whole matrix in one JSON text.
    pub fn parse(text: &str, file: &Path) -> Result<Matrix, MatrixError> {
        let cx = Ctx { file };
        let root = parse_json(text, file)?;
        let Some(profiles) = root.get("profiles").and_then(Value::as_object) else {
            return cx.err(
                "profiles",
                "missing, or not an object of profile name -> profile",
            );
        };
        let fixtures = match root.get("fixtures") {
            None => Fixtures::default(),
            Some(v) => cx.fixtures(v, "fixtures")?,
        };
        let profiles = profiles
            .iter()
            .map(|(name, spec)| cx.profile(name, spec, &format!("profiles.{name}")))
            .collect::<Result<Vec<_>, _>>()?;
        let m = Matrix { profiles, fixtures };
        m.validate()?;
        Ok(m)
    }

    /// Probes that create or remove their target run concurrently with every
    /// other cell: their targets must be theirs alone.
    fn validate(&self) -> Result<(), MatrixError> {
        let destructive = |op: &str| matches!(op, "file-write-create" | "file-write-unlink");
        for p in &self.profiles {
            for (i, probe) in p.probes.iter().enumerate() {
                if !destructive(&probe.operation) {
                    continue;
                }
                let shared = self
                    .profiles
                    .iter()
                    .flat_map(|q| q.probes.iter().map(move |r| (q, r)))
                    .any(|(q, r)| {
                        r.target == probe.target
                            && !(q.name == p.name && r.name == probe.name)
                            && !(denied_create(probe) && denied_create(r))
                    });
                if shared || self.fixtures.files.contains(&probe.target) {
                    return Err(MatrixError {
                        file: p.file.clone(),
                        key: format!("probes[{i}].target"),
                        message: format!(
                            "{} creates or removes {}, which another cell or a fixture also uses; give it a target of its own",
                            probe.operation, probe.target
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn profile(&self, name: &str) -> Option<&ProfileSpec> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.profiles.iter().map(|p| p.probes.len()).sum()
    }
}

impl ProfileSpec {
    pub fn probe(&self, name: &str) -> Option<&ProbeSpec> {
        self.probes.iter().find(|p| p.name == name)
    }
}

impl ProbeSpec {
    /// The verdict expected in the given path layout.
    pub fn expected_for(&self, macos_paths: bool) -> &str {
        match (&self.expected_macos, macos_paths) {
            (Some(v), true) => v,
            _ => &self.expected,
        }
    }
}

/// Why a probe of `operation` cannot run on Linux, if it cannot: these
/// cells are skipped there, with this reason in the test output and trace.
pub fn skip_on_linux(operation: &str) -> Option<&'static str> {
    match operation {
        "mach-lookup" => Some("mach-lookup has no meaning on Linux: there are no Mach bootstrap services to look up"),
        "sysctl-read" => Some("sysctl-read has no Linux counterpart: Linux has no sysctl(2), and /proc/sys reads are file-read-data"),
        _ => None,
    }
}

/// Why a probe of `operation` does not run on macOS yet: the Seatbelt
/// backend has no probe for it (they need `bootstrap_look_up` and
/// `sysctlbyname`, which only a Mac can test). Skipped there, never passed.
pub fn skip_on_macos(operation: &str) -> Option<&'static str> {
    match operation {
        "mach-lookup" => {
            Some("no mach-lookup probe for macOS yet (bootstrap_look_up is not wired in src/apply)")
        }
        "sysctl-read" => {
            Some("no sysctl-read probe for macOS yet (sysctlbyname is not wired in src/apply)")
        }
        _ => None,
    }
}

/// Writes `decoder` predictions into a profile file's probes, keeping every
/// other key as it is (for `sbcheck expect --bless`).
pub fn bless(value: &mut Value, predictions: &[(String, u64, String)]) {
    let Some(probes) = value.get_mut("probes").and_then(Value::as_array_mut) else {
        return;
    };
    for p in probes {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some((_, bucket, verdict)) = predictions.iter().find(|(n, _, _)| *n == name) {
            let mut d = Map::new();
            d.insert("bucket".into(), Value::from(*bucket));
            d.insert("verdict".into(), Value::from(verdict.clone()));
            if let Some(obj) = p.as_object_mut() {
                obj.insert("decoder".into(), Value::Object(d));
            }
        }
    }
}
