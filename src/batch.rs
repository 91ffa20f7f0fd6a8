//! `sbcheck eval --batch`: many decisions on one decoded blob. Queries come
//! as JSON lines, answers go out as JSON lines, one per query and in order,
//! so a study of thousands of queries pays for one process start and one
//! decode (docs/decode-json.md describes both).
//!
//! A query: `{"operation": "file-read-data", "path": "/etc/hosts",
//! "args": {"socket-domain": "AF_INET", "control-name": ""},
//! "vars": {"HOME": "/Users/me"}, "id": 7}`; every field but `operation` is
//! optional, an argument or variable may be a list of values, and `id` (any
//! JSON) is echoed. A line that is not a valid query gets an answer with
//! `error` (naming the line) and the batch goes on.

use crate::blob::filters::{arg_kind, ArgKind};
use crate::blob::render;
use crate::blob::Profile;
use crate::decision::{evaluate_with, explain_with, Args};
use crate::macos_paths::PathModel;
use crate::vocab::OpId;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// The value of an integer argument: a number (decimal or 0x hex) or the
/// symbol SBPL uses (`AF_INET`, `self`, `REGULAR-FILE`).
pub fn int_value(filter: &str, text: &str) -> Option<u16> {
    render::symbol_value(filter, text)
        .or_else(|| text.parse().ok())
        .or_else(|| u16::from_str_radix(text.strip_prefix("0x")?, 16).ok())
}

/// Answers queries against one profile; names are looked up once.
pub struct Batch<'p> {
    profile: &'p Profile,
    ops: HashMap<&'static str, OpId>,
    /// Filter name -> (id, whether its argument is an integer).
    filters: HashMap<&'static str, (u8, bool)>,
    explain: bool,
    /// How a query's path is turned into the paths the filters test.
    model: PathModel,
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    pub queries: usize,
    pub errors: usize,
}

/// One query, parsed.
struct Query {
    op: OpId,
    path: Option<Vec<u8>>,
    ints: Vec<(u8, u16)>,
    strings: Vec<(u8, Vec<u8>)>,
    vars: Vec<(String, Vec<u8>)>,
    id: Option<Value>,
}

impl<'p> Batch<'p> {
    /// `explain`: each answer carries the deciding rule as SBPL.
    pub fn new(profile: &'p Profile, explain: bool) -> Self {
        let v = profile.vocab;
        let ops = (0..v.operations.len() as OpId)
            .filter_map(|id| Some((v.op_name(id)?, id)))
            .collect();
        let filters = (0..v.filters.len())
            .filter_map(|id| {
                let name = v.filter_name(id as u8)?;
                Some((name, (id as u8, arg_kind(name) == Some(ArgKind::Int))))
            })
            .collect();
        Batch {
            profile,
            ops,
            filters,
            explain,
            model: PathModel::default(),
        }
    }

    /// Tests each query's path as `model` says (eval's `--path-model`).
    pub fn with_path_model(mut self, model: PathModel) -> Self {
        self.model = model;
        self
    }

    /// Reads queries from `input` until it ends, writing one answer each.
    pub fn run(&self, input: impl BufRead, mut output: impl Write) -> std::io::Result<BatchStats> {
        let mut stats = BatchStats::default();
        let mut out = String::with_capacity(256);
        for (k, line) in input.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            out.clear();
            if !self.answer(&line, k + 1, &mut out) {
                stats.errors += 1;
            }
            stats.queries += 1;
            output.write_all(out.as_bytes())?;
        }
        output.flush()?;
        Ok(stats)
    }

    /// Appends the answer to the query on line `line_no` (1-based) and a
    /// newline; false when the query was invalid.
    pub fn answer(&self, line: &str, line_no: usize, out: &mut String) -> bool {
        match self.parse(line) {
            Ok(q) => self.decide(&q, out),
            Err(why) => {
                let id = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v.get("id").cloned());
                let mut v = json!({ "line": line_no, "error": format!("line {line_no}: {why}") });
                if let Some(id) = id {
                    v["id"] = id;
                }
                out.push_str(&v.to_string());
                out.push('\n');
                return false;
            }
        }
        out.push('\n');
        true
    }

    /// Decides `q` and writes its answer, by hand: building a JSON value
    /// per answer cost more than the decision.
    fn decide(&self, q: &Query, out: &mut String) {
        use std::fmt::Write as _;
        let p = self.profile;
        let strings: Vec<(u8, &[u8])> = q.strings.iter().map(|(f, s)| (*f, s.as_slice())).collect();
        let args = Args {
            path: q.path.as_deref(),
            ints: &q.ints,
            strings: &strings,
        };
        let vars: Vec<(&str, &[u8])> = q
            .vars
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let d = evaluate_with(p, q.op, &args, &vars);
        out.push('{');
        if let Some(id) = &q.id {
            out.push_str("\"id\":");
            out.push_str(&id.to_string());
            out.push(',');
        }
        out.push_str("\"operation\":");
        match p.vocab.op_name(q.op) {
            Some(name) => json_str(out, name),
            None => json_str(out, &p.vocab.op_label(q.op)),
        }
        match &d.outcome {
            Ok(a) => {
                out.push_str(",\"verdict\":");
                json_str(out, render::verb(a));
                out.push_str(",\"flags\":");
                json_list(out, a.flag_names().iter().copied());
                out.push_str(",\"modifiers\":");
                let mods = d.modifiers(p);
                json_list(out, mods.iter().map(String::as_str));
            }
            Err(why) => {
                out.push_str(",\"verdict\":null,\"undetermined\":");
                json_str(out, &why.describe(p));
            }
        }
        let _ = write!(out, ",\"bucket\":{}", d.bucket);
        match d.steps.last() {
            Some(s) => {
                let _ = write!(out, ",\"node\":{}", s.node);
            }
            None => out.push_str(",\"node\":null"),
        }
        if self.explain {
            out.push_str(",\"rule\":");
            json_str(out, &explain_with(p, &d, Some(&args), &vars));
        }
        out.push('}');
    }

    fn parse(&self, line: &str) -> Result<Query, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let obj = v.as_object().ok_or("a query is a JSON object")?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "operation" | "path" | "args" | "vars" | "id") {
                return Err(format!(
                    "unknown field {key:?} (fields: operation, path, args, vars, id)"
                ));
            }
        }
        let name = obj
            .get("operation")
            .and_then(Value::as_str)
            .ok_or("\"operation\" (a string) is required")?;
        let op = match self.ops.get(name) {
            Some(&op) => op,
            None => self.profile.vocab.parse_op(name).ok_or_else(|| {
                let hint = self
                    .profile
                    .vocab
                    .closest_op(name)
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                format!("unknown operation {name}{hint}")
            })?,
        };
        let given = match obj.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => return Err(format!("\"path\" is a string, got {other}")),
        };
        // The first tested path is the path; more (the macOS models) are
        // further values of the path filter.
        let mut tested = match given {
            Some(s) if self.model != PathModel::default() => self
                .model
                .tested(Path::new(s))
                .into_iter()
                .map(|p| p.into_os_string().into_encoded_bytes())
                .collect(),
            Some(s) => vec![s.as_bytes().to_vec()],
            None => Vec::new(),
        };
        let more: Vec<Vec<u8>> = tested.drain(1.min(tested.len())..).collect();
        let path = tested.pop();
        let mut q = Query {
            op,
            path,
            ints: Vec::new(),
            strings: Vec::new(),
            vars: Vec::new(),
            id: obj.get("id").cloned(),
        };
        q.strings
            .extend(more.into_iter().map(|p| (crate::vocab::filter::PATH, p)));
        if let Some(args) = obj.get("args") {
            let args = args.as_object().ok_or("\"args\" is an object")?;
            for (name, value) in args {
                self.arg(&mut q, name, value)?;
            }
        }
        if let Some(vars) = obj.get("vars") {
            let vars = vars.as_object().ok_or("\"vars\" is an object")?;
            for (name, value) in vars {
                let name = name.trim_start_matches("${").trim_end_matches('}');
                for one in values(value) {
                    let text = one
                        .as_str()
                        .ok_or_else(|| format!("variable {name} takes strings, got {one}"))?;
                    q.vars.push((name.to_owned(), text.as_bytes().to_vec()));
                }
            }
        }
        Ok(q)
    }

    fn arg(&self, q: &mut Query, name: &str, value: &Value) -> Result<(), String> {
        let v = self.profile.vocab;
        let (id, int) = match self.filters.get(name) {
            Some(&f) => f,
            None => {
                let id = v.parse_filter(name).ok_or_else(|| {
                    let hint = v
                        .closest_filter(name)
                        .map(|n| format!("; did you mean {n}?"))
                        .unwrap_or_default();
                    format!("unknown filter {name}{hint}")
                })?;
                (id, false)
            }
        };
        for one in values(value) {
            match (one, int) {
                (Value::Number(n), _) => {
                    let n = n
                        .as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| format!("{name}: {n} is not a 16-bit value"))?;
                    q.ints.push((id, n));
                }
                (Value::String(s), true) => {
                    let n = int_value(name, s)
                        .ok_or_else(|| format!("{name} takes a number, got {s:?}"))?;
                    q.ints.push((id, n));
                }
                (Value::String(s), false) => q.strings.push((id, s.as_bytes().to_vec())),
                (other, _) => return Err(format!("{name}: a string or number, got {other}")),
            }
        }
        Ok(())
    }
}

/// `s` as a JSON string.
fn json_str(out: &mut String, s: &str) {
    let needs_escape = s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if needs_escape {
        out.push_str(&Value::from(s).to_string());
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

fn json_list<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (k, item) in items.enumerate() {
        if k > 0 {
            out.push(',');
        }
        json_str(out, item);
    }
    out.push(']');
}

/// A value or each value of a list.
fn values(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &[u8] =
        include_bytes!("../profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin");

    fn run(input: &str, explain: bool) -> (Vec<Value>, BatchStats) {
        let p = Profile::decode(GOLDEN).unwrap();
        let mut out = Vec::new();
        let stats = Batch::new(&p, explain)
            .run(input.as_bytes(), &mut out)
            .unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, stats)
    }

    #[test]
    fn answers_each_line_in_order_and_echoes_ids() {
        let (out, stats) = run(
            concat!(
                r#"{"operation":"file-read-data","path":"/etc/hosts","id":1}"#,
                "\n\n",
                r#"{"operation":"file-read-data","path":"/private/tmp/strict_ok/a","id":"b"}"#,
                "\n",
                r#"{"operation":"mach-task-name","args":{"target":"self"}}"#,
                "\n",
                r#"{"operation":"file-read-data"}"#,
                "\n"
            ),
            true,
        );
        assert_eq!(
            stats,
            BatchStats {
                queries: 4,
                errors: 0
            }
        );
        assert_eq!(out[0]["verdict"], "deny");
        assert_eq!(out[0]["id"], 1);
        assert_eq!(out[0]["rule"], "(deny file-read* (literal \"/etc/hosts\"))");
        assert_eq!(out[1]["verdict"], "allow");
        assert_eq!(out[1]["id"], "b");
        assert_eq!(out[2]["verdict"], "allow");
        assert_eq!(out[3]["verdict"], Value::Null);
        assert!(out[3]["undetermined"].as_str().unwrap().contains("no path"));
    }

    #[test]
    fn a_bad_line_is_an_error_answer_naming_the_line_and_the_batch_goes_on() {
        let (out, stats) = run(
            concat!(
                "{not json\n",
                r#"{"operation":"file-reed-data","id":9}"#,
                "\n",
                r#"{"operation":"network-outbound","args":{"socket-domain":"AF_NOPE"}}"#,
                "\n",
                r#"{"operation":"file-read-data","path":"/etc/hosts"}"#,
                "\n"
            ),
            false,
        );
        assert_eq!(
            stats,
            BatchStats {
                queries: 4,
                errors: 3
            }
        );
        assert!(out[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 1: not JSON"));
        assert_eq!(out[1]["id"], 9);
        assert!(
            out[1]["error"]
                .as_str()
                .unwrap()
                .contains("did you mean file-read-data?"),
            "{}",
            out[1]
        );
        assert!(out[2]["error"]
            .as_str()
            .unwrap()
            .contains("line 3: socket-domain takes a number"));
        assert_eq!(out[3]["verdict"], "deny");
        assert!(out[3].get("rule").is_none());
    }
}
