//! The expectation matrix: for each profile, its source and its probes
//! (operation, target, expected verdict).
//!
//! On disk it is a directory, `expected/`: one `<profile>.json` per profile
//! and `fixtures.json` naming the files and directories the harness creates.
//! A single file holding `{ "fixtures": [...], "profiles": { name: ... } }`
//! is accepted too (fixture matrices in tests).
//!
//! This file is also compiled into `build.rs` (via `#[path]`), so it uses
//! only `std`, `serde`, `serde_json` and `serde_path_to_error`. Every error
//! names the file, the line and column, and the key.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matrix {
    pub profiles: Vec<ProfileSpec>,
    pub fixtures: Fixtures,
}

/// What the harness creates before a cell runs: it assumes nothing exists.
/// On disk, `fixtures.json`: `{"files": [...], "dirs": [...], "programs":
/// [...], "links": {"/link": "target"}}`, or just the list of files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Fixtures {
    /// Regular files (parents created as needed).
    pub files: Vec<String>,
    /// Directories.
    pub dirs: Vec<String>,
    /// Executable scripts (`#!/bin/true`) for process-exec* probes.
    pub programs: Vec<String>,
    /// Symbolic links, `(link, what it points at)`: vnode-type SYMLINK cells.
    #[serde(serialize_with = "links_as_map")]
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

/// One profile file (`expected/NAME.json`) as it is on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// SBPL source (`.sb`) or blob, relative to the project root.
    pub source: String,
    /// Values for `(param "KEY")`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub probes: Vec<ProbeSpec>,
}

/// A whole matrix in one file: `{"fixtures": ..., "profiles": {name: ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    #[serde(default)]
    pub fixtures: Fixtures,
    pub profiles: BTreeMap<String, ProfileFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// A Rust identifier: the generated test's name.
    #[serde(deserialize_with = "ident")]
    pub name: String,
    pub operation: String,
    pub target: String,
    /// `allow`, `deny`, or `undetermined`: the decision needs an argument
    /// the harness cannot supply on this platform (an entitlement, a process
    /// attribute); such a cell is skipped with the decoder's reason.
    #[serde(deserialize_with = "outcome")]
    pub expected: String,
    /// The verdict expected when paths are matched in macOS's layout
    /// (`--macos-paths`), where it differs.
    #[serde(
        default,
        deserialize_with = "opt_verdict",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_macos: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation_id: Option<String>,
    /// Why the expectation is what it is, where that needs saying (e.g. it
    /// departs from the research matrix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The decoder's prediction recorded by `sbcheck expect --bless`.
    #[serde(rename = "decoder", default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
}

/// A decoder prediction as recorded in the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// The operation's bucket: its op-table entry, the node its decision
    /// starts at.
    pub bucket: u64,
    #[serde(deserialize_with = "outcome")]
    pub verdict: String,
}

fn links_as_map<S: serde::Serializer>(links: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(links.iter().map(|(k, v)| (k, v)))
}

/// The long form of [`Fixtures`] on disk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixturesFile {
    #[serde(default)]
    files: Vec<AbsPath>,
    #[serde(default)]
    dirs: Vec<AbsPath>,
    #[serde(default)]
    programs: Vec<AbsPath>,
    #[serde(default)]
    links: BTreeMap<AbsPath, String>,
}

impl<'de> Deserialize<'de> for Fixtures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fixtures;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("{files, dirs, programs, links} or a list of files")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Fixtures, A::Error> {
                let files: Vec<AbsPath> =
                    Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Fixtures {
                    files: files.into_iter().map(|p| p.0).collect(),
                    ..Fixtures::default()
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Fixtures, A::Error> {
                let f: FixturesFile =
                    Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let paths = |v: Vec<AbsPath>| v.into_iter().map(|p| p.0).collect();
                Ok(Fixtures {
                    files: paths(f.files),
                    dirs: paths(f.dirs),
                    programs: paths(f.programs),
                    links: f.links.into_iter().map(|(k, v)| (k.0, v)).collect(),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// An absolute path (a fixture).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct AbsPath(String);

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.starts_with('/') {
            Ok(AbsPath(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "expected an absolute path, found {s:?}"
            )))
        }
    }
}

/// A probe's name: it names a test, so it must be a Rust identifier.
fn ident<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_ident(&s).map_err(serde::de::Error::custom)?;
    Ok(s)
}

fn check_ident(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} must be lower-case letters, digits and '_' (it names a test)"
        ))
    }
}

/// `allow`, `deny` or `undetermined`.
fn outcome<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "allow" | "deny" | UNDETERMINED => Ok(s),
        other => Err(serde::de::Error::custom(format!(
            "{other:?} is neither \"allow\" nor \"deny\" (nor \"{UNDETERMINED}\")"
        ))),
    }
}

fn opt_verdict<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s == "allow" || s == "deny" => Ok(Some(s)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "{other:?} is neither \"allow\" nor \"deny\""
        ))),
    }
}

/// A malformed matrix: the file, where in it (line and column when the
/// JSON reader knows them), the key at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    pub file: PathBuf,
    /// 1-based line and column, where known.
    pub line: Option<(usize, usize)>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.line {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}: {}", self.key, self.message)
    }
}

impl std::error::Error for MatrixError {}

impl MatrixError {
    fn new(file: &Path, key: impl Into<String>, message: impl Into<String>) -> MatrixError {
        MatrixError {
            file: file.to_owned(),
            line: None,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Reads `text` as a `T`, an error naming the file, line, column and key
/// path (`profiles.p.probes[0].target`).
pub fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &Path,
) -> Result<T, MatrixError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut key = e.path().to_string();
        let inner = e.into_inner();
        let line = (inner.line() > 0).then(|| (inner.line(), inner.column()));
        let mut message = inner.to_string();
        // serde_json appends " at line L column C": it is in front already.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        if inner.is_syntax() || inner.is_eof() {
            key = "(JSON)".into();
            message = format!("invalid JSON: {message}");
        } else if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            // Name the missing key itself, not the object that lacks it.
            key = join(if key == "." { "" } else { &key }, field);
            message = "missing".into();
        }
        MatrixError {
            file: file.to_owned(),
            line,
            key: if key == "." { "(top)".into() } else { key },
            message,
        }
    })?;
    de.end().map_err(|e| MatrixError {
        file: file.to_owned(),
        line: Some((e.line(), e.column())),
        key: "(JSON)".into(),
        message: "trailing characters after the JSON value".into(),
    })?;
    Ok(value)
}

impl ProfileSpec {
    /// A profile file's contents under its name.
    fn from_file(
        name: &str,
        spec: ProfileFile,
        file: &Path,
        key: &str,
    ) -> Result<ProfileSpec, MatrixError> {
        check_ident(name).map_err(|m| {
            MatrixError::new(file, if key.is_empty() { "(file name)" } else { key }, m)
        })?;
        for (i, probe) in spec.probes.iter().enumerate() {
            if spec.probes[..i].iter().any(|q| q.name == probe.name) {
                return Err(MatrixError::new(
                    file,
                    join(key, &format!("probes[{i}].name")),
                    format!("duplicate probe name {:?}", probe.name),
                ));
            }
        }
        Ok(ProfileSpec {
            name: name.to_owned(),
            file: file.to_owned(),
            source: spec.source,
            params: spec.params.into_iter().collect(),
            label: spec.label,
            probes: spec.probes,
        })
    }
}

fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

fn read(file: &Path) -> Result<String, MatrixError> {
    std::fs::read_to_string(file).map_err(|e| MatrixError::new(file, "(file)", e.to_string()))
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
            .map_err(|e| MatrixError::new(dir, "(directory)", e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut m = Matrix::default();
        for file in files {
            let text = read(&file)?;
            if file.file_name().is_some_and(|n| n == FIXTURES_FILE) {
                m.fixtures = from_json(&text, &file)?;
                continue;
            }
            let name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let spec: ProfileFile = from_json(&text, &file)?;
            m.profiles
                .push(ProfileSpec::from_file(name, spec, &file, "")?);
        }
        m.validate()?;
        Ok(m)
    }

    /// A whole matrix in one JSON text.
    pub fn parse(text: &str, file: &Path) -> Result<Matrix, MatrixError> {
        let whole: MatrixFile = from_json(text, file)?;
        let profiles = whole
            .profiles
            .into_iter()
            .map(|(name, spec)| {
                let key = format!("profiles.{name}");
                ProfileSpec::from_file(&name, spec, file, &key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let m = Matrix {
            profiles,
            fixtures: whole.fixtures,
        };
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
                        line: None,
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

/// [`skip_on_macos`] or [`skip_on_linux`], whichever this is.
pub fn skip_on_this_platform(operation: &str) -> Option<&'static str> {
    if cfg!(target_os = "macos") {
        skip_on_macos(operation)
    } else {
        skip_on_linux(operation)
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

/// Why `probe` cannot run on this platform, if it cannot: no meaning here
/// (no probe for its operation), or an expected verdict of `undetermined`
/// (everywhere). Such a cell must come out skipped, with its trace.
pub fn skip_here(probe: &ProbeSpec) -> Option<&'static str> {
    // The full reason (the filter and node) is in the trace and in
    // `sbcheck run`'s output.
    skip_on_this_platform(&probe.operation).or_else(|| {
        (probe.expected == UNDETERMINED).then_some(
            "the verdict depends on an argument the harness cannot supply (see the trace)",
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_cannot_run_here_say_why() {
        let m = Matrix::parse(
            r#"{"profiles": {"app": {"source": "app.sb", "probes": [
                {"name": "reads", "operation": "file-read*", "target": "/x", "expected": "allow"},
                {"name": "looks_up", "operation": "mach-lookup", "target": "com.x", "expected": "deny"},
                {"name": "needs_arg", "operation": "file-read*", "target": "/y", "expected": "undetermined"}
            ]}}}"#,
            Path::new("m.json"),
        )
        .unwrap();
        let app = m.profile("app").unwrap();
        let why = |probe| skip_here(app.probe(probe).unwrap());
        assert_eq!(why("reads"), None);
        assert!(why("needs_arg")
            .unwrap()
            .starts_with("the verdict depends on an argument"));
        let looks_up = why("looks_up").unwrap();
        if cfg!(target_os = "macos") {
            assert!(looks_up.starts_with("no mach-lookup probe for macOS"));
        } else {
            assert!(looks_up.starts_with("mach-lookup has no meaning on Linux"));
        }
    }
}
