//! `sbcheck decode` and `sbcheck eval`: read a blob, ask it a question.
//!
//! The JSON output of both is described in docs/decode-json.md; its
//! `schema` number changes whenever a field changes meaning or goes away.

use super::{ProfileInput, Usage};
use crate::blob::filters::{arg_kind, ArgKind};
use crate::blob::render::{self, Outcome, Rendering, Rule, Texts};
use crate::blob::{DecodeOptions, FilterArg, Format, Node, Profile};
use crate::decision::{evaluate_with, explain_with, Args, Branch, Decision};
use crate::macos_paths::PathModel;
use crate::vocab::{filter, OpId, Vocab};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;

/// Version of the `decode --json` and `eval --json` output.
pub const JSON_SCHEMA: u32 = 1;

/// How a blob is read and decoded (shared by decode and eval).
#[derive(Debug, clap::Args)]
pub struct BlobArgs {
    /// The blob (.sb.bin, or any other name) or SBPL source (.sb, compiled first).
    #[arg(value_name = "BLOB|PROFILE.sb")]
    pub input: String,
    #[command(flatten)]
    pub profile_input: ProfileInput,
    /// The blob's layout: hdr14, hdr16 or legacy (default: detected).
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// The operation and filter names of this release: macos-14.4.1,
    /// macos-15, ios-26, macos-10.6 or unknown (default: by format).
    #[arg(long, value_name = "R")]
    pub release: Option<String>,
    /// The profile of a bundle to decode, by name or index (`decode --list`
    /// lists them).
    #[arg(long = "profile", value_name = "NAME|K")]
    pub bundle_profile: Option<String>,
    /// JSON instead of text (see docs/decode-json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    pub blob: BlobArgs,
    /// List a bundle's profiles (index and name) and stop.
    #[arg(long)]
    pub list: bool,
    /// Print only the blob as SBPL that compiles back to its decisions.
    #[arg(long)]
    pub sbpl: bool,
    /// With --sbpl: leave out the operations that reach a filter or
    /// modifier with no compiler form, so the rest compiles.
    #[arg(long, requires = "sbpl")]
    pub expressible_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub blob: BlobArgs,
    /// The operation asked about, e.g. file-read-data.
    #[arg(required_unless_present = "batch")]
    pub operation: Option<String>,
    /// The path argument, for file operations.
    pub path: Option<String>,
    /// Another argument: a filter's name and its value (remote-port=443); repeatable.
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = super::key_value)]
    pub args: Vec<(String, String)>,
    /// A value for a ${NAME} variable in the profile; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::key_value)]
    pub vars: Vec<(String, String)>,
    /// Every node the decision visits, and which branch it took.
    #[arg(long)]
    pub explain: bool,
    /// Which paths a path filter is tested with: as-given, macos-resolved
    /// or macos-kernel (docs/matrix.md).
    #[arg(long, value_name = "MODEL")]
    pub path_model: Option<String>,
    /// Match paths as macOS's kernel does: --path-model macos-kernel.
    #[arg(long)]
    pub macos_paths: bool,
    /// Read JSON-lines queries on stdin, answer each as a JSON line
    /// (docs/decoder.md): one decode for them all.
    #[arg(long, conflicts_with_all = ["operation", "path", "args", "vars", "json"])]
    pub batch: bool,
}

/// A blob from a `.sb.bin` file (or compiled from `.sb`), decoded with the
/// layout, vocabulary and bundle profile the options ask for.
fn load(a: &BlobArgs) -> Result<(Profile, usize), Usage> {
    let path = &a.input;
    let bytes = a.profile_input.blob(path)?;
    let mut options = DecodeOptions::default();
    if let Some(f) = &a.format {
        options.format =
            Some(Format::parse(f).ok_or_else(|| {
                Usage(format!("--format takes hdr14, hdr16 or legacy, got {f:?}"))
            })?);
    }
    if let Some(r) = &a.release {
        options.vocab = Some(Vocab::by_release(r).ok_or_else(|| {
            Usage(format!(
                "--release takes macos-14.4.1, macos-15, ios-26, macos-10.6 or unknown, got {r:?}"
            ))
        })?);
    }
    let mut profile =
        Profile::decode_with(&bytes, &options).map_err(|e| Usage(format!("{path}: {e}")))?;
    if let Some(want) = &a.bundle_profile {
        let k = find_profile(&profile, want).ok_or_else(|| {
            Usage(format!(
                "{path}: no bundle profile named or numbered {want:?} ({} profiles; `sbcheck decode --list {path}` lists them)",
                profile.profiles.len()
            ))
        })?;
        profile.select_profile(k);
    }
    for w in &profile.warnings {
        eprintln!("sbcheck: warning: {path}: {w}");
    }
    Ok((profile, bytes.len()))
}

/// A bundle profile by name, or by index when no name is `want`.
fn find_profile(p: &Profile, want: &str) -> Option<usize> {
    p.profiles
        .iter()
        .position(|s| s.name.as_deref() == Some(want))
        .or_else(|| want.parse().ok().filter(|&k: &usize| k < p.profiles.len()))
}

/// `decode --list`: one line per bundle profile (a single profile is one
/// unnamed entry).
fn list_text(p: &Profile) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if p.profiles.is_empty() {
        let _ = writeln!(s, "0\t(single profile)");
    }
    for (k, prof) in p.profiles.iter().enumerate() {
        let _ = writeln!(s, "{k}\t{}", prof.name.as_deref().unwrap_or("?"));
    }
    s
}

fn list_json(p: &Profile, input: &str) -> Value {
    json!({
        "schema": JSON_SCHEMA,
        "file": input,
        "profiles": p.profiles.iter().enumerate().map(|(k, s)| json!({ "index": k, "name": s.name })).collect::<Vec<_>>(),
        "warnings": warnings_json(p),
    })
}

fn warnings_json(p: &Profile) -> Vec<Value> {
    p.warnings
        .iter()
        .map(|w| json!({ "offset": w.offset, "field": w.field, "message": w.message }))
        .collect()
}

/// Writes `text` to stdout; a closed pipe (`| head`) ends quietly.
fn emit(text: &str) -> ExitCode {
    super::out(text);
    ExitCode::SUCCESS
}

pub fn main(d: &DecodeArgs) -> Result<ExitCode, Usage> {
    let a = &d.blob;
    let input = &a.input;
    let (profile, len) = load(a)?;
    if d.list {
        return Ok(emit(&if a.json {
            list_json(&profile, input).to_string() + "\n"
        } else {
            list_text(&profile)
        }));
    }
    if d.sbpl {
        use crate::blob::profile_text::{profile_text_with, RenderOptions};
        let options = RenderOptions {
            skip_unexpressible: d.expressible_only,
            ..RenderOptions::default()
        };
        let rendered = profile_text_with(&profile, options);
        for what in &rendered.unexpressed {
            eprintln!("sbcheck: {input}: not expressible in SBPL the compiler accepts: {what}");
        }
        return Ok(emit(&rendered.text));
    }
    let text = if a.json {
        let rendering = render::rules(&profile);
        let mut v = decode_json(&profile, &rendering, input, len).to_string();
        v.push('\n');
        v
    } else {
        decode_text(&profile, input, len)
    };
    Ok(emit(&text))
}

fn op_names(p: &Profile, ops: &[OpId]) -> String {
    ops.iter()
        .map(|&o| p.vocab.op_label(o))
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_text(p: &Profile, input: &str, len: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let h = &p.header;
    let _ = writeln!(s, "blob: {input} ({len} bytes)");
    let _ = writeln!(
        s,
        "format: {} ({}); vocabulary: {}{}",
        p.format.name(),
        p.format.describe(),
        p.vocab.release,
        if p.vocab.provisional {
            " (partly known: unknown ids shown as op#N / filter#N)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "header: type {:#06x}  nodes {}  operations {}  global-vars {}  state-flags {}  profiles {}  regexes {}  policies {}",
        h.kind, h.node_count, h.op_count, h.global_var_count, h.state_flag_count, h.profile_count, h.regex_count, h.policy_count
    );
    if p.format == Format::Hdr16 {
        let _ = writeln!(s, "header bytes 7-9: {:?}", h.extra);
    }
    let _ = writeln!(
        s,
        "layout: op table @{}, nodes @{}, data @{} ({} bytes)",
        p.op_table_offset,
        p.nodes_offset,
        p.data_base,
        len.saturating_sub(p.data_base)
    );
    for w in &p.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(
        s,
        "\nregexes:{}",
        if p.regexes.is_empty() { " none" } else { "" }
    );
    for (k, e) in p.regexes.iter().enumerate() {
        let _ = writeln!(s, "  [{k}] data[{}]: {}", e.item, e.regex.render());
    }
    for (title, items) in [
        ("global variables", &p.global_vars),
        ("state flags", &p.state_flags),
    ] {
        let _ = writeln!(s, "{title}:{}", if items.is_empty() { " none" } else { "" });
        for (k, v) in items.iter().enumerate() {
            let _ = writeln!(s, "  [{k}] data[{}]: {}", v.item, v.name);
        }
    }
    let _ = writeln!(
        s,
        "policies:{}",
        if p.policies.is_empty() { " none" } else { "" }
    );
    for (k, n) in p.policies.iter().enumerate() {
        let _ = writeln!(s, "  [{k}] node {n}");
    }
    for (k, t) in p
        .extra_tables
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
    {
        let _ = writeln!(s, "table {}: {t:?}", ["A", "B"][k.min(1)]);
    }
    for (k, prof) in p.profiles.iter().enumerate() {
        let _ = writeln!(
            s,
            "bundle profile [{k}] @{} header {:?} name {}",
            prof.offset,
            prof.header,
            prof.name.as_deref().unwrap_or("?")
        );
    }
    let buckets = p.buckets();
    let _ = writeln!(s, "\nop table by bucket ({} buckets):", buckets.len());
    for (node, ops) in &buckets {
        let _ = writeln!(s, "  node {node} ({} ops): {}", ops.len(), op_names(p, ops));
    }
    let mut texts = Texts::new(p);
    let _ = writeln!(s, "\nnodes ({}):", p.nodes.len());
    for i in 0..p.nodes.len() as u16 {
        let _ = writeln!(
            s,
            "  [{i}] @{}: {}",
            p.node_offset(i),
            render::node_text(&mut texts, i)
        );
    }
    // The rules as one profile that compiles back to the blob's decisions.
    let _ = writeln!(
        s,
        "\nprofile as SBPL (later rules win; chain-N: the rules from node N on, for the operations `ops`; `decode --sbpl` prints only this):"
    );
    let rendered = crate::blob::profile_text::profile_text(p);
    for what in &rendered.unexpressed {
        let _ = writeln!(s, ";; not expressible in SBPL the compiler accepts: {what}");
    }
    s.push_str(&rendered.text);
    s
}

fn op_json(p: &Profile, op: OpId) -> Value {
    json!({ "id": op, "name": p.vocab.op_name(op) })
}

fn decode_json(p: &Profile, r: &Rendering, input: &str, len: usize) -> Value {
    let h = &p.header;
    let mut texts = Texts::new(p);
    let nodes: Vec<Value> = (0..p.nodes.len() as u16)
        .map(|i| node_json(p, &mut texts, i))
        .collect();
    let rules = |texts: &mut Texts<'_>, ops: &str, rules: &[Rule]| -> Vec<Value> {
        rules
            .iter()
            .map(|rule| {
                json!({
                    "sbpl": Rendering::rule_text(texts, ops, rule),
                    "conditions": rule.conditions,
                    "outcome": match rule.outcome {
                        Outcome::Terminal(n) => json!({ "terminal": n }),
                        Outcome::Block(n, stop) => json!({ "block": n, "until": stop }),
                    },
                })
            })
            .collect()
    };
    let buckets: Vec<Value> = r
        .buckets
        .iter()
        .map(|b| {
            let ops = op_names(p, &b.rule_operations);
            json!({
                "node": b.node,
                "operations": b.operations.iter().map(|&o| op_json(p, o)).collect::<Vec<_>>(),
                "rule_operations": b.rule_operations,
                "rules": rules(&mut texts, &ops, &b.rules),
            })
        })
        .collect();
    let blocks: Vec<Value> = r
        .blocks
        .iter()
        .map(|(node, stop, rs)| json!({ "node": node, "until": stop, "rules": rules(&mut texts, "", rs) }))
        .collect();
    let named = |items: &[crate::blob::NamedItem]| -> Vec<Value> {
        items
            .iter()
            .enumerate()
            .map(|(k, v)| json!({ "index": k, "item": v.item, "name": v.name }))
            .collect()
    };
    json!({
        "schema": JSON_SCHEMA,
        "file": input,
        "bytes": len,
        "format": p.format.name(),
        "format_description": p.format.describe(),
        "vocabulary": { "release": p.vocab.release, "provisional": p.vocab.provisional },
        "header": {
            "type": h.kind,
            "node_count": h.node_count,
            "op_count": h.op_count,
            "global_var_count": h.global_var_count,
            "state_flag_count": h.state_flag_count,
            "profile_count": h.profile_count,
            "regex_count": h.regex_count,
            "policy_count": h.policy_count,
            "extra": h.extra,
        },
        "layout": {
            "op_table_offset": p.op_table_offset,
            "nodes_offset": p.nodes_offset,
            "data_base": p.data_base,
            "data_bytes": len.saturating_sub(p.data_base),
        },
        "tables": {
            "regexes": p.regexes.iter().enumerate().map(|(k, e)| json!({
                "index": k, "item": e.item, "regex": e.regex.render(),
            })).collect::<Vec<_>>(),
            "global_vars": named(&p.global_vars),
            "state_flags": named(&p.state_flags),
            "policies": p.policies.iter().enumerate().map(|(k, n)| json!({ "index": k, "node": n })).collect::<Vec<_>>(),
            "extra_tables": p.extra_tables,
        },
        "profiles": p.profiles.iter().enumerate().map(|(k, prof)| json!({
            "index": k, "offset": prof.offset, "header": prof.header, "name": prof.name, "op_table": prof.op_table,
        })).collect::<Vec<_>>(),
        "op_table": p.op_table,
        "buckets": buckets,
        "blocks": blocks,
        "nodes": nodes,
        "warnings": warnings_json(p),
    })
}

fn node_json(p: &Profile, texts: &mut Texts<'_>, i: u16) -> Value {
    let offset = p.node_offset(i);
    match p.nodes[usize::from(i)] {
        Node::Terminal(a) => json!({
            "index": i,
            "offset": offset,
            "kind": "terminal",
            "action": render::verb(&a),
            "word": a.word,
            "flags": a.flag_names(),
            "unknown_bits": a.unknown_bits(),
            "modifier": a.modifier.map(|m| json!({
                "id": m.id,
                "name": m.known_name(),
                "policy_op": m.policy_op,
                "arg": m.arg,
                "string": p.modifier_string(&m),
            })),
            "sbpl": render::action_modifiers(p, &a),
        }),
        Node::Filter {
            filter,
            alt,
            arg,
            matched,
            unmatched,
        } => {
            let (kind, value) = arg_json(p, texts, p.args[usize::from(i)]);
            json!({
                "index": i,
                "offset": offset,
                "kind": "filter",
                "filter": { "id": filter, "name": p.vocab.filter_name(filter) },
                "alt": alt,
                "arg": arg,
                "arg_kind": kind,
                "value": value,
                "sbpl": texts.filter_forms(i),
                "match": matched,
                "unmatch": unmatched,
            })
        }
    }
}

fn arg_json(p: &Profile, texts: &mut Texts<'_>, arg: FilterArg) -> (&'static str, Value) {
    match arg {
        FilterArg::None => ("none", Value::Null),
        FilterArg::Int(v) => ("int", json!(v)),
        FilterArg::Unknown(v) => ("unknown", json!(v)),
        FilterArg::Str(k) => {
            let s = &p.strings[k as usize];
            (
                "string",
                json!({ "item": s.item, "text": String::from_utf8_lossy(&s.bytes) }),
            )
        }
        FilterArg::Regex(k) => (
            "regex",
            json!({ "index": k, "regex": p.regexes[usize::from(k)].regex.render() }),
        ),
        FilterArg::Bitmap(k) => {
            let b = &p.bitmaps[k as usize];
            (
                "bitmap",
                json!({ "item": b.item, "word0": b.word0, "ranges": b.ranges() }),
            )
        }
        FilterArg::Pattern(k) => {
            let item = p.patterns[k as usize].item;
            let listed = texts.pattern_forms(k).clone();
            let vars = |v: u8| texts.var_name(v);
            let forms: Value = match listed {
                Ok(forms) => forms
                    .iter()
                    .map(|f| json!({ "kind": f.kind.name(), "text": f.text(&vars) }))
                    .collect::<Vec<_>>()
                    .into(),
                Err(why) => json!({ "error": why }),
            };
            ("pattern", json!({ "item": item, "forms": forms }))
        }
    }
}

use crate::batch::int_value;

/// `--arg` values by filter id: integers and strings.
type ArgLists = (Vec<(u8, u16)>, Vec<(u8, Vec<u8>)>);

fn parse_args(args: &[(String, String)], v: &Vocab) -> Result<ArgLists, Usage> {
    let mut ints = Vec::new();
    let mut strings = Vec::new();
    for (name, value) in args {
        let (name, value) = (name.as_str(), value.as_str());
        let id = v.parse_filter(name).ok_or_else(|| {
            let hint = v
                .closest_filter(name)
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            Usage(format!("unknown filter {name}{hint}"))
        })?;
        let kind = v.filter_name(id).and_then(arg_kind);
        if matches!(v.filter_name(id), Some("local" | "remote")) {
            crate::blob::filters::Endpoint::parse(value.as_bytes())
                .map_err(|e| Usage(format!("--arg {name}: {e}")))?;
            strings.push((id, value.as_bytes().to_vec()));
            continue;
        }
        match (kind, int_value(name, value)) {
            (Some(ArgKind::Int), Some(n)) | (None, Some(n)) => ints.push((id, n)),
            (Some(ArgKind::Int), None) => {
                return Err(Usage(format!("--arg {name} takes a number, got {value:?}")))
            }
            _ => strings.push((id, value.as_bytes().to_vec())),
        }
    }
    Ok((ints, strings))
}

/// Whether a `local` or `remote` argument names an IP endpoint.
fn names_ip_endpoint(strings: &[(u8, Vec<u8>)], v: &Vocab) -> bool {
    strings.iter().any(|(id, value)| {
        matches!(v.filter_name(*id), Some("local" | "remote"))
            && matches!(crate::blob::filters::Endpoint::parse(value), Ok(Some(_)))
    })
}

pub fn eval(a: &EvalArgs) -> Result<ExitCode, Usage> {
    let model = path_model(a)?;
    if a.batch {
        return batch(a, model);
    }
    let (Some(operation), path) = (&a.operation, a.path.as_ref()) else {
        return Err(Usage("eval takes an OPERATION (or --batch)".into()));
    };
    let (profile, _) = load(&a.blob)?;
    let v = profile.vocab;
    let op = v.parse_op(operation).ok_or_else(|| {
        let hint = v
            .closest_op(operation)
            .map(|n| format!("; did you mean {n}?"))
            .unwrap_or_default();
        Usage(format!("unknown operation {operation}{hint}"))
    })?;
    let (ints, strings_owned) = parse_args(&a.args, v)?;
    // The path filter is tested with every path the model names (macOS's
    // kernel: the resolved path and its form without /private).
    let mut tested: Vec<Vec<u8>> = path.map_or_else(Vec::new, |p| {
        model
            .tested(Path::new(p))
            .into_iter()
            .map(|p| p.into_os_string().into_encoded_bytes())
            .collect()
    });
    // An IP socket's call names no path: the engine gives an empty one,
    // which no path filter matches, so (literal "/var/run/x") beside a
    // (remote tcp ...) is decided rather than undetermined.
    if tested.is_empty() && names_ip_endpoint(&strings_owned, v) {
        tested.push(Vec::new());
    }
    let strings: Vec<(u8, &[u8])> = strings_owned
        .iter()
        .map(|(f, s)| (*f, s.as_slice()))
        .chain(tested.iter().skip(1).map(|p| (filter::PATH, p.as_slice())))
        .collect();
    let var_pairs: Vec<(String, String)> = a
        .vars
        .iter()
        .map(|(k, v)| {
            (
                k.trim_start_matches("${").trim_end_matches('}').to_owned(),
                v.clone(),
            )
        })
        .collect();
    let vars: Vec<(&str, &[u8])> = var_pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let call = Args {
        path: tested.first().map(Vec::as_slice),
        ints: &ints,
        strings: &strings,
    };
    let d = evaluate_with(&profile, op, &call, &vars);
    let rule = explain_with(&profile, &d, Some(&call), &vars);
    let model_line = path.map(|p| model.describe(Path::new(p)));
    let shown: Vec<String> = tested
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let text = if a.blob.json {
        let mut j = eval_json(&profile, &d, &rule);
        j["path_model"] = json!(model.name());
        j["paths_tested"] = json!(shown);
        format!("{j}\n")
    } else {
        let mut t = eval_text(&profile, &d, &rule, a.explain);
        if let Some(line) = model_line {
            t.push_str(&format!("path model: {line}\n"));
        }
        t
    };
    Ok(emit(&text))
}

/// `eval BLOB --batch`: JSON-lines queries on stdin, answers on stdout.
fn batch(a: &EvalArgs, model: PathModel) -> Result<ExitCode, Usage> {
    let (profile, _) = load(&a.blob)?;
    let stdin = std::io::stdin().lock();
    let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let batch = crate::batch::Batch::new(&profile, a.explain).with_path_model(model);
    match batch.run(stdin, stdout) {
        Ok(stats) if stats.errors > 0 => {
            eprintln!(
                "sbcheck: {} of {} queries were invalid (their answers say why)",
                stats.errors, stats.queries
            );
            Ok(ExitCode::FAILURE)
        }
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("sbcheck: eval --batch: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `--macos-paths` (the decision a Mac's kernel makes for the path as a
/// program names it) or `--path-model as-given|macos-resolved|macos-kernel`.
fn path_model(a: &EvalArgs) -> Result<PathModel, Usage> {
    let named = a
        .path_model
        .as_ref()
        .map(|m| {
            PathModel::parse(m).ok_or_else(|| {
                Usage(format!(
                    "--path-model takes as-given, macos-resolved or macos-kernel, got {m:?}"
                ))
            })
        })
        .transpose()?;
    match (named, a.macos_paths) {
        (Some(m), true) if m != PathModel::MacosKernel => Err(Usage(
            "--macos-paths is --path-model macos-kernel; give one or the other".into(),
        )),
        (_, true) => Ok(PathModel::MacosKernel),
        (m, false) => Ok(m.unwrap_or_default()),
    }
}

fn branch_name(b: Branch) -> &'static str {
    match b {
        Branch::Match => "match",
        Branch::Unmatch => "unmatch",
        Branch::Terminal => "terminal",
    }
}

fn eval_text(p: &Profile, d: &Decision, rule: &str, explain: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let verdict = d.verdict().map_or("undetermined", |v| v.as_str());
    let _ = writeln!(s, "{verdict}");
    if let Err(why) = &d.outcome {
        let _ = writeln!(s, "why: {}", why.describe(p));
    }
    let _ = writeln!(s, "bucket: {}", d.bucket);
    let path: Vec<String> = d.node_path().iter().map(u16::to_string).collect();
    let _ = writeln!(s, "node path: {}", path.join(" -> "));
    let mods = d.modifiers(p);
    if !mods.is_empty() {
        let _ = writeln!(s, "modifiers: {}", mods.join(" "));
    }
    let _ = writeln!(s, "rule: {rule}");
    if explain {
        let mut texts = Texts::new(p);
        let _ = writeln!(s, "walk:");
        for step in &d.steps {
            let _ = writeln!(
                s,
                "  [{}] {} -> {}",
                step.node,
                render::node_text(&mut texts, step.node),
                branch_name(step.branch)
            );
        }
    }
    s
}

fn eval_json(p: &Profile, d: &Decision, rule: &str) -> Value {
    let mut texts = Texts::new(p);
    json!({
        "schema": JSON_SCHEMA,
        "operation": op_json(p, d.operation),
        "verdict": d.verdict().map(|v| v.as_str()),
        "undetermined": d.outcome.as_ref().err().map(|why| why.describe(p)),
        "bucket": d.bucket,
        "node_path": d.node_path(),
        "steps": d.steps.iter().map(|s| json!({
            "node": s.node,
            "branch": branch_name(s.branch),
            "sbpl": render::node_text(&mut texts, s.node),
        })).collect::<Vec<_>>(),
        "action": d.outcome.as_ref().ok().map(|a| json!({
            "word": a.word,
            "flags": a.flag_names(),
        })),
        "modifiers": d.modifiers(p),
        "rule": rule,
    })
}
