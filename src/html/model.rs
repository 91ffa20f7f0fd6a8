//! A run as the report reads it back from `runtime_results.json`.
//!
//! The page is rendered from the JSON, not from live records, so that
//! `sbcheck report` can render any saved run (and the difference between
//! two). Reading is lenient about fields older runs lack (`decoder.nodes`,
//! `intercepts`) and strict about types: a field of the wrong type is a
//! [`ReportError`] naming the file and the key, e.g. `cells[2].decoder.bucket`.

use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// A `runtime_results.json` that cannot be rendered: the file, the key at
/// fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
    }
}

impl std::error::Error for ReportError {}

/// One run: where it came from and its cells, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The file it was read from, as shown on the page.
    pub source: String,
    pub backend: Option<String>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub profile: String,
    pub probe: String,
    pub label: Option<String>,
    /// The node `default` points at: the research plan's profile bucket.
    pub profile_bucket: Option<u64>,
    pub expectation_id: Option<String>,
    /// The operation and target as the matrix names them.
    pub operation: String,
    pub target: String,
    pub expected: String,
    pub decoder: Decoder,
    pub observed: Observed,
    pub intercepts: Vec<Intercept>,
    pub matched: bool,
    pub skip_reason: Option<String>,
    pub backend: Option<String>,
    pub macos_paths: bool,
    pub duration_us: Option<u64>,
}

impl Cell {
    /// `profile/probe`: the cell's id on the page and in `#cell=`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.profile, self.probe)
    }

    pub fn skipped(&self) -> bool {
        self.skip_reason.is_some() || self.observed.kind == "skipped"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decoder {
    pub operation: String,
    pub bucket: Option<u64>,
    pub node_path: Vec<u64>,
    pub verdict: Option<String>,
    pub rule: String,
    /// The visited nodes with their edges; `None` in runs written before
    /// the schema had them (the graph then shows indices only).
    pub nodes: Option<Vec<GraphNode>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphNode {
    Filter {
        index: u64,
        sbpl: String,
        matched: u64,
        unmatched: u64,
        /// `Some(true)` when the walk took the match edge.
        took_match: Option<bool>,
    },
    Terminal {
        index: u64,
        verdict: Option<String>,
    },
}

impl GraphNode {
    pub fn index(&self) -> u64 {
        match self {
            GraphNode::Filter { index, .. } | GraphNode::Terminal { index, .. } => *index,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub kind: String,
    pub errno: Option<i64>,
    pub errno_name: Option<String>,
    pub verdict: Option<String>,
    pub detail: Option<String>,
}

/// A syscall the supervisor judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Intercept {
    pub syscall: String,
    pub requested: Option<String>,
    pub resolved: Option<String>,
    pub operations: Vec<InterceptOp>,
    pub verdict: Option<String>,
    pub errno: Option<i64>,
    /// The Seatbelt-style denial line.
    pub log: Option<String>,
    pub rule: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InterceptOp {
    pub operation: String,
    pub bucket: Option<u64>,
    pub node_path: Vec<u64>,
    pub verdict: Option<String>,
}

/// Reads and parses a `runtime_results.json`.
pub fn load(path: &Path) -> Result<Run, ReportError> {
    let err = |key: &str, message: String| ReportError {
        file: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err("(file)", e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        err(
            &format!("line {} column {}", e.line(), e.column()),
            format!("not JSON: {e}"),
        )
    })?;
    parse(&value, path)
}

/// Parses the JSON of a `runtime_results.json` read from `file`.
pub fn parse(value: &Value, file: &Path) -> Result<Run, ReportError> {
    let root = At {
        file,
        key: String::new(),
        value,
    };
    root.object()?;
    if let Some(schema) = root.opt_u64("schema")? {
        if schema != u64::from(crate::report::SCHEMA) {
            return root.field("schema").fail(format!(
                "schema {schema} is not supported (this sbcheck reads schema {})",
                crate::report::SCHEMA
            ));
        }
    }
    let cells = root
        .array("cells")?
        .iter()
        .map(cell)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Run {
        source: file.display().to_string(),
        backend: root.opt_str("backend")?,
        cells,
    })
}

fn cell(at: &At<'_>) -> Result<Cell, ReportError> {
    at.object()?;
    let observed = at.field("observed");
    Ok(Cell {
        profile: at.str("profile")?,
        probe: at.str("probe")?,
        label: at.opt_str("label")?,
        profile_bucket: at.opt_u64("profile_bucket")?,
        expectation_id: at.opt_str("expectation_id")?,
        operation: at.opt_str("operation")?.unwrap_or_default(),
        target: at.opt_str("target")?.unwrap_or_default(),
        expected: at.str("expected")?,
        decoder: decoder(&at.field("decoder"))?,
        observed: Observed {
            kind: observed.str("kind")?,
            errno: observed.opt_i64("errno")?,
            errno_name: observed.opt_str("errno_name")?,
            verdict: observed.opt_str("verdict")?,
            detail: observed.opt_str("detail")?,
        },
        intercepts: at
            .opt_array("intercepts")?
            .iter()
            .map(intercept)
            .collect::<Result<_, _>>()?,
        matched: at.bool("match")?,
        skip_reason: at.opt_str("skip_reason")?,
        backend: at.opt_str("backend")?,
        macos_paths: at.opt_bool("macos_paths")?.unwrap_or(false),
        duration_us: at.opt_u64("duration_us")?,
    })
}

fn decoder(at: &At<'_>) -> Result<Decoder, ReportError> {
    at.object()?;
    let nodes = match at.value.get("nodes") {
        None | Some(Value::Null) => None,
        Some(_) => Some(
            at.array("nodes")?
                .iter()
                .map(graph_node)
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(Decoder {
        operation: at.opt_str("operation")?.unwrap_or_default(),
        bucket: at.opt_u64("bucket")?,
        node_path: at.u64_list("node_path")?,
        verdict: at.opt_str("verdict")?,
        rule: at.opt_str("rule")?.unwrap_or_default(),
        nodes,
    })
}

fn graph_node(at: &At<'_>) -> Result<GraphNode, ReportError> {
    at.object()?;
    let index = at.u64("index")?;
    match at.str("kind")?.as_str() {
        "filter" => Ok(GraphNode::Filter {
            index,
            sbpl: at.opt_str("sbpl")?.unwrap_or_default(),
            matched: at.u64("match")?,
            unmatched: at.u64("unmatch")?,
            took_match: at.opt_str("taken")?.map(|t| t == "match"),
        }),
        "terminal" => Ok(GraphNode::Terminal {
            index,
            verdict: at.opt_str("verdict")?,
        }),
        other => at.field("kind").fail(format!(
            "expected \"filter\" or \"terminal\", found {other:?}"
        )),
    }
}

fn intercept(at: &At<'_>) -> Result<Intercept, ReportError> {
    at.object()?;
    Ok(Intercept {
        syscall: at.str("syscall")?,
        requested: at.opt_str("requested")?,
        resolved: at.opt_str("resolved")?,
        operations: at
            .opt_array("operations")?
            .iter()
            .map(|op| {
                op.object()?;
                Ok(InterceptOp {
                    operation: op.opt_str("operation")?.unwrap_or_default(),
                    bucket: op.opt_u64("bucket")?,
                    node_path: op.u64_list("node_path")?,
                    verdict: op.opt_str("verdict")?,
                })
            })
            .collect::<Result<_, ReportError>>()?,
        verdict: at.opt_str("verdict")?,
        errno: at.opt_i64("errno")?,
        log: at.opt_str("log")?,
        rule: at.opt_str("rule")?,
    })
}

/// A value and the key path that reached it, for error messages.
struct At<'a> {
    file: &'a Path,
    key: String,
    value: &'a Value,
}

static NULL: Value = Value::Null;

impl<'a> At<'a> {
    fn field(&self, name: &str) -> At<'a> {
        At {
            file: self.file,
            key: if self.key.is_empty() {
                name.to_owned()
            } else {
                format!("{}.{name}", self.key)
            },
            value: self.value.get(name).unwrap_or(&NULL),
        }
    }

    fn fail<T>(&self, message: String) -> Result<T, ReportError> {
        Err(ReportError {
            file: self.file.to_owned(),
            key: if self.key.is_empty() {
                "(top level)".into()
            } else {
                self.key.clone()
            },
            message,
        })
    }

    fn wrong<T>(&self, what: &str) -> Result<T, ReportError> {
        match self.value {
            Value::Null => self.fail("missing".into()),
            other => self.fail(format!("expected {what}, found {}", short(other))),
        }
    }

    fn object(&self) -> Result<(), ReportError> {
        match self.value {
            Value::Object(_) => Ok(()),
            _ => self.wrong("an object"),
        }
    }

    /// A required field, through `get`; missing or null is an error.
    fn required<T>(
        &self,
        name: &str,
        what: &str,
        get: impl Fn(&Value) -> Option<T>,
    ) -> Result<T, ReportError> {
        let f = self.field(name);
        match get(f.value) {
            Some(v) => Ok(v),
            None => f.wrong(what),
        }
    }

    /// An optional field: absent and null are `None`, a wrong type is an error.
    fn optional<T>(
        &self,
        name: &str,
        what: &str,
        get: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ReportError> {
        match self.value.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.required(name, what, get).map(Some),
        }
    }

    fn str(&self, name: &str) -> Result<String, ReportError> {
        self.required(name, "a string", |v| v.as_str().map(str::to_owned))
    }

    fn opt_str(&self, name: &str) -> Result<Option<String>, ReportError> {
        self.optional(name, "a string", |v| v.as_str().map(str::to_owned))
    }

    fn u64(&self, name: &str) -> Result<u64, ReportError> {
        self.required(name, "a non-negative integer", Value::as_u64)
    }

    fn opt_u64(&self, name: &str) -> Result<Option<u64>, ReportError> {
        self.optional(name, "a non-negative integer", Value::as_u64)
    }

    fn opt_i64(&self, name: &str) -> Result<Option<i64>, ReportError> {
        self.optional(name, "an integer", Value::as_i64)
    }

    fn bool(&self, name: &str) -> Result<bool, ReportError> {
        self.required(name, "true or false", Value::as_bool)
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, ReportError> {
        self.optional(name, "true or false", Value::as_bool)
    }

    /// The elements of a required array, each with its indexed key.
    fn array(&self, name: &str) -> Result<Vec<At<'a>>, ReportError> {
        let f = self.field(name);
        let Some(items) = f.value.as_array() else {
            return f.wrong("an array");
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| At {
                file: self.file,
                key: format!("{}[{i}]", f.key),
                value,
            })
            .collect())
    }

    fn opt_array(&self, name: &str) -> Result<Vec<At<'a>>, ReportError> {
        match self.value.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => self.array(name),
        }
    }

    fn u64_list(&self, name: &str) -> Result<Vec<u64>, ReportError> {
        self.opt_array(name)?
            .iter()
            .map(|item| match item.value.as_u64() {
                Some(n) => Ok(n),
                None => item.wrong("a node index"),
            })
            .collect()
    }
}

/// A value for an error message, cut short.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
