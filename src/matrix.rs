//! The expectation matrix (`expected/matrix.json`): for each profile, its
//! source and its probes (operation, target, expected verdict).
//!
//! This file is also compiled into `build.rs` (via `#[path]`), so it uses
//! only `std` and `serde_json`. Every error names the file and the key.

use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub profiles: Vec<ProfileSpec>,
    /// Files the harness creates before running (it assumes nothing exists).
    pub fixtures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// A Rust identifier: the generated test module's name.
    pub name: String,
    /// SBPL source (`.sb`) or compiled blob (`.sb.bin`), relative to the
    /// project root.
    pub source: String,
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
    /// `allow` or `deny`.
    pub expected: String,
    pub expectation_id: Option<String>,
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
        let key = format!("{parent}.{field}");
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
}

impl Matrix {
    pub fn load(file: &Path) -> Result<Matrix, MatrixError> {
        let text = std::fs::read_to_string(file).map_err(|e| MatrixError {
            file: file.to_owned(),
            key: "(file)".into(),
            message: e.to_string(),
        })?;
        Matrix::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Path) -> Result<Matrix, MatrixError> {
        let cx = Ctx { file };
        let root: Value = serde_json::from_str(text).map_err(|e| MatrixError {
            file: file.to_owned(),
            key: format!("line {} column {}", e.line(), e.column()),
            message: format!("invalid JSON: {e}"),
        })?;
        let Some(profiles) = root.get("profiles").and_then(Value::as_object) else {
            return cx.err(
                "profiles",
                "missing, or not an object of profile name -> profile",
            );
        };
        let fixtures = match root.get("fixtures") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) if s.starts_with('/') => Ok(s.clone()),
                    other => cx.err(
                        &format!("fixtures[{i}]"),
                        format!("expected an absolute path, found {other}"),
                    ),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return cx.err(
                    "fixtures",
                    format!("expected an array of paths, found {other}"),
                )
            }
        };
        let mut out = Vec::new();
        for (name, spec) in profiles {
            let key = format!("profiles.{name}");
            cx.ident(name, &key)?;
            if !spec.is_object() {
                return cx.err(&key, "expected an object with source and probes");
            }
            let source = cx.string(spec, &key, "source")?;
            let label = cx.opt_string(spec, &key, "label")?;
            let Some(probes) = spec.get("probes").and_then(Value::as_array) else {
                return cx.err(&format!("{key}.probes"), "missing, or not an array");
            };
            let mut parsed: Vec<ProbeSpec> = Vec::new();
            for (i, p) in probes.iter().enumerate() {
                let pkey = format!("{key}.probes[{i}]");
                let probe = ProbeSpec {
                    name: cx.string(p, &pkey, "name")?,
                    operation: cx.string(p, &pkey, "operation")?,
                    target: cx.string(p, &pkey, "target")?,
                    expected: cx.string(p, &pkey, "expected")?,
                    expectation_id: cx.opt_string(p, &pkey, "expectation_id")?,
                };
                cx.ident(&probe.name, &format!("{pkey}.name"))?;
                if !matches!(probe.expected.as_str(), "allow" | "deny") {
                    return cx.err(
                        &format!("{pkey}.expected"),
                        format!("{:?} is neither \"allow\" nor \"deny\"", probe.expected),
                    );
                }
                if parsed.iter().any(|q| q.name == probe.name) {
                    return cx.err(
                        &format!("{pkey}.name"),
                        format!("duplicate probe name {:?}", probe.name),
                    );
                }
                parsed.push(probe);
            }
            out.push(ProfileSpec {
                name: name.clone(),
                source,
                label,
                probes: parsed,
            });
        }
        Ok(Matrix {
            profiles: out,
            fixtures,
        })
    }

    pub fn profile(&self, name: &str) -> Option<&ProfileSpec> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

impl ProfileSpec {
    pub fn probe(&self, name: &str) -> Option<&ProbeSpec> {
        self.probes.iter().find(|p| p.name == name)
    }
}
