//! From SBPL forms to rules, and from rules to a blob as Apple's libsandbox
//! (macOS 14.4.1) lays it out.
//!
//! Rules: every `(allow|deny OPS... FILTERS...)` becomes one [`Rule`] whose
//! operations are resolved to concrete op-table ids at compile time
//! (`file-read*` stands for itself and every operation that inherits from
//! it). For each operation, its rules are chained with the latest first: a
//! filtered rule is a test whose match edge goes to the rule's action and
//! whose unmatch edge falls through to the earlier rules; the chain ends at
//! the latest unfiltered rule, which `(allow|deny default)` guarantees.
//!
//! Layout, as read off Apple's blobs (see `tests/apple_blobs.rs`): nodes are
//! created operation by operation in ascending id, each chain from its tail up,
//! identical subgraphs shared; they are numbered in reverse creation order,
//! with the terminals last and the default's terminal the very last. Data
//! items are placed walking the operations in ascending id, each graph from
//! its head.

use super::reader::{read, Datum, Sexp, Span};
use crate::blob::encode::{encode, DataArea, Layout};
use crate::blob::pattern::Pattern;
use crate::blob::{Action, Node};
use crate::vocab::{filter, op, OpId, Vocab};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A compile error with the place at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub file: Option<PathBuf>,
    pub span: Span,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}: {}", file.display(), self.span, self.message),
            None => write!(f, "<sbpl>:{}: {}", self.span, self.message),
        }
    }
}

impl std::error::Error for CompileError {}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, CompileError> {
    Err(CompileError {
        file: None,
        span,
        message: message.into(),
    })
}

/// Compile options: parameters for `(param "KEY")`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub params: Vec<(String, String)>,
}

/// A leaf test: one filter node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// A string filter (path, global-name, control-name, ...) with its pattern.
    Pattern { filter: u8, pattern: Vec<u8> },
    /// An integer filter (socket-domain, target, ...).
    Int { filter: u8, value: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    Leaf(Leaf),
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub ops: Vec<OpId>,
    pub filter: Option<Filter>,
    /// Where the rule was written; `None` for rules the compiler adds.
    pub span: Option<Span>,
}

/// A profile read and evaluated, before layout.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// Compiles SBPL source text to a blob.
pub fn compile(src: &str, options: &Options) -> Result<Vec<u8>, CompileError> {
    let rules = evaluate(src, options)?;
    Ok(layout(&rules))
}

/// Compiles an SBPL file; errors carry the file name.
pub fn compile_file(path: &Path, options: &Options) -> Result<Vec<u8>, CompileError> {
    let src = std::fs::read_to_string(path).map_err(|e| CompileError {
        file: Some(path.to_owned()),
        span: Span::default(),
        message: format!("cannot read: {e}"),
    })?;
    compile(&src, options).map_err(|mut e| {
        e.file = Some(path.to_owned());
        e
    })
}

/// Reads and evaluates the forms into rules, adding the implicit ones.
pub fn evaluate(src: &str, options: &Options) -> Result<Rules, CompileError> {
    let forms = read(src).map_err(|e| CompileError {
        file: None,
        span: e.span,
        message: e.message,
    })?;
    let mut ev = Evaluator {
        vocab: Vocab::macos_14(),
        options,
        rules: Vec::new(),
        default_seen: false,
    };
    for form in &forms {
        ev.top_level(form)?;
    }
    if !ev.default_seen {
        return err(
            Span { line: 1, column: 1 },
            "profile has no (allow default) or (deny default)",
        );
    }
    ev.add_flow_divert();
    Ok(Rules { rules: ev.rules })
}

struct Evaluator<'a> {
    vocab: &'static Vocab,
    options: &'a Options,
    rules: Vec<Rule>,
    default_seen: bool,
}

/// Operations Apple's compiler sends straight to allow under `(deny default)`
/// (macOS 14.4.1; read off golden_strict_1 and the other deny-default blobs).
const ALLOWED_UNDER_DENY_DEFAULT: [&str; 54] = [
    "darwin-notification-post",
    "dynamic-code-generation",
    "file-clone",
    "file-link",
    "file-lock",
    "file-map-executable",
    "file-test-existence",
    "fs-quota*",
    "fs-quota-get",
    "fs-quota-on",
    "fs-quota-off",
    "fs-quota-set*",
    "fs-quota-set-limits",
    "fs-quota-set-usage",
    "fs-quota-stat",
    "fs-quota-sync",
    "fs-snapshot-mount",
    "iokit-get-properties",
    "iokit-open-service",
    "mach-bootstrap",
    "mach-cross-domain-lookup",
    "mach-derive-port",
    "mach-kernel-endpoint",
    "mach-task-special-port*",
    "mach-task-special-port-get",
    "mach-task-special-port-set",
    "necp-client-open",
    "nvram*",
    "nvram-delete",
    "nvram-get",
    "nvram-set",
    "process-codesigning",
    "process-info*",
    "process-info-codesignature",
    "process-info-dirtycontrol",
    "process-info-ledger",
    "process-info-listpids",
    "process-info-rusage",
    "process-info-pidinfo",
    "process-info-pidfdinfo",
    "process-info-pidfileportinfo",
    "process-info-setcontrol",
    "socket-ioctl",
    "socket-option-get",
    "socket-option-set",
    "syscall-unix",
    "syscall-mach",
    "syscall-mig",
    "system-fcntl",
    "system-mac-syscall",
    "system-memorystatus-control",
    "system-necp-client-action",
    "system-privilege",
    "process-exec-update-label",
];

/// Under `(deny default)` a process may still inspect and signal itself: three
/// `(target self)` rules, kept as separate nodes as Apple's compiler keeps them.
const TARGET_SELF_OPS: [&[OpId]; 3] = [
    &[op::MACH_TASK_INSPECT],
    &[op::MACH_TASK_NAME],
    &[op::MACH_TASK_READ, op::SIGNAL],
];

impl Evaluator<'_> {
    fn top_level(&mut self, form: &Sexp) -> Result<(), CompileError> {
        let Some(items) = form.list() else {
            return err(form.span, format!("expected a form, found {form}"));
        };
        match form.head() {
            Some("version") => match items.get(1).map(|v| &v.datum) {
                Some(Datum::Int(1)) => Ok(()),
                _ => err(form.span, "only (version 1) is supported"),
            },
            Some("debug") => Ok(()),
            Some(verb @ ("allow" | "deny")) => self.rule(verb == "deny", form.span, &items[1..]),
            Some(other) => err(
                items[0].span,
                format!("unknown form ({other} ...); expected version, allow, deny or debug"),
            ),
            None => err(form.span, "a form must start with a symbol"),
        }
    }

    fn rule(&mut self, deny: bool, span: Span, items: &[Sexp]) -> Result<(), CompileError> {
        let action = if deny { Action::DENY } else { Action::ALLOW };
        let mut ops = Vec::new();
        let mut filters = Vec::new();
        for item in items {
            match &item.datum {
                Datum::Symbol(name) if name == "default" => {
                    if !filters.is_empty() || items.len() != 1 {
                        return err(item.span, "default takes no other operations or filters");
                    }
                    self.default_rule(action);
                    return Ok(());
                }
                Datum::Symbol(name) => ops.extend(self.operation(name, item.span)?),
                Datum::List(_) => filters.push(self.filter(item)?),
                _ => {
                    return err(
                        item.span,
                        format!("expected an operation or a filter, found {item}"),
                    )
                }
            }
        }
        if ops.is_empty() {
            return err(span, "rule names no operation");
        }
        ops.sort_unstable();
        ops.dedup();
        let filter = match filters.len() {
            0 => None,
            1 => filters.pop(),
            // Several filters in one rule: the rule applies when any holds.
            _ => Some(Filter::Any(filters)),
        };
        self.rules.push(Rule {
            action,
            ops,
            filter,
            span: Some(span),
        });
        Ok(())
    }

    /// `(allow|deny default)` plus what Apple's compiler adds with it.
    fn default_rule(&mut self, action: Action) {
        self.default_seen = true;
        let all: Vec<OpId> = (0..self.vocab.op_table_len as OpId)
            .filter(|&o| !self.vocab.named_only(o))
            .collect();
        self.rules.push(Rule {
            action,
            ops: all,
            filter: None,
            span: None,
        });
        if action.is_deny() {
            let ops = ALLOWED_UNDER_DENY_DEFAULT
                .iter()
                .filter_map(|n| self.vocab.op_id(n))
                .collect();
            self.rules.push(Rule {
                action: Action::ALLOW,
                ops,
                filter: None,
                span: None,
            });
            for ops in TARGET_SELF_OPS {
                self.rules.push(Rule {
                    action: Action::ALLOW,
                    ops: ops.to_vec(),
                    filter: Some(Filter::Leaf(Leaf::Int {
                        filter: filter::TARGET,
                        value: 1,
                    })),
                    span: None,
                });
            }
        }
    }

    /// Apple's compiler lets flow-divert sockets out whenever a rule of the
    /// profile touches network-outbound; the check is tested first.
    fn add_flow_divert(&mut self) {
        let touched = self
            .rules
            .iter()
            .any(|r| r.span.is_some() && r.ops.contains(&op::NETWORK_OUTBOUND));
        if touched {
            self.rules.push(Rule {
                action: Action::ALLOW,
                ops: vec![op::NETWORK_OUTBOUND],
                filter: Some(Filter::Leaf(Leaf::Pattern {
                    filter: filter::CONTROL_NAME,
                    pattern: Pattern::Literal(b"com.apple.flow-divert".to_vec()).encode(),
                })),
                span: None,
            });
        }
    }

    fn operation(&self, name: &str, span: Span) -> Result<Vec<OpId>, CompileError> {
        // `process-exec` is the historical spelling of `process-exec*`.
        let name = if name == "process-exec" {
            "process-exec*"
        } else {
            name
        };
        match self.vocab.expand(name) {
            Some(ops) if !ops.is_empty() => Ok(ops),
            _ => {
                let hint = self
                    .vocab
                    .closest_op(name)
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                err(span, format!("unknown operation {name}{hint}"))
            }
        }
    }

    fn string_arg(&self, form: &Sexp, what: &str) -> Result<String, CompileError> {
        let items = form.list().unwrap_or_default();
        match items {
            [_, arg] => self.string_value(arg, what),
            _ => err(form.span, format!("({what} ...) takes exactly one string")),
        }
    }

    fn string_value(&self, arg: &Sexp, what: &str) -> Result<String, CompileError> {
        match &arg.datum {
            Datum::Str(s) => Ok(s.clone()),
            Datum::List(items) if arg.head() == Some("param") => match items.get(1).map(|k| &k.datum) {
                Some(Datum::Str(key)) => match self.options.params.iter().find(|(k, _)| k == key) {
                    Some((_, v)) => Ok(v.clone()),
                    None => err(
                        arg.span,
                        format!("invalid data type of {what} filter; expected pattern, got boolean (parameter {key} is not set)"),
                    ),
                },
                _ => err(arg.span, "(param ...) takes a string key"),
            },
            Datum::List(items) if arg.head() == Some("string-append") => {
                let mut out = String::new();
                for part in &items[1..] {
                    out.push_str(&self.string_value(part, what)?);
                }
                Ok(out)
            }
            _ => err(arg.span, format!("invalid data type of {what} filter; expected a string, found {arg}")),
        }
    }

    fn int_arg(&self, form: &Sexp, what: &str) -> Result<u16, CompileError> {
        let items = form.list().unwrap_or_default();
        let [_, arg] = items else {
            return err(form.span, format!("({what} ...) takes exactly one value"));
        };
        let value = match &arg.datum {
            Datum::Int(n) => *n,
            Datum::Symbol(sym) => match symbolic_constant(sym) {
                Some(n) => n,
                None => return err(arg.span, format!("unknown constant {sym} for {what}")),
            },
            _ => {
                return err(
                    arg.span,
                    format!("({what} ...) takes an integer or a constant, found {arg}"),
                )
            }
        };
        u16::try_from(value).or_else(|_| {
            err(
                arg.span,
                format!("{value} does not fit the 16-bit argument of {what}"),
            )
        })
    }

    fn filter(&self, form: &Sexp) -> Result<Filter, CompileError> {
        let Some(head) = form.head() else {
            return err(form.span, format!("expected a filter, found {form}"));
        };
        let items = form.list().unwrap_or_default();
        let path = |pattern: Pattern| {
            Filter::Leaf(Leaf::Pattern {
                filter: filter::PATH,
                pattern: pattern.encode(),
            })
        };
        Ok(match head {
            "literal" => path(Pattern::Literal(
                self.string_arg(form, "path")?.into_bytes(),
            )),
            "subpath" => path(Pattern::Subpath(
                self.string_arg(form, "path")?.into_bytes(),
            )),
            "prefix" => path(Pattern::Prefix(self.string_arg(form, "path")?.into_bytes())),
            "require-all" | "require-any" => {
                let parts = items[1..]
                    .iter()
                    .map(|f| self.filter(f))
                    .collect::<Result<Vec<_>, _>>()?;
                if head == "require-all" {
                    Filter::All(parts)
                } else {
                    Filter::Any(parts)
                }
            }
            "require-not" => match items {
                [_, inner] => Filter::Not(Box::new(self.filter(inner)?)),
                _ => return err(form.span, "(require-not ...) takes exactly one filter"),
            },
            name => match self.vocab.filter_id(name) {
                Some(id) if int_filter(id) => Filter::Leaf(Leaf::Int {
                    filter: id,
                    value: self.int_arg(form, name)?,
                }),
                Some(id) if string_filter(id) => Filter::Leaf(Leaf::Pattern {
                    filter: id,
                    pattern: Pattern::Literal(self.string_arg(form, name)?.into_bytes()).encode(),
                }),
                Some(_) => {
                    return err(
                        form.span,
                        format!("filter {name} is not supported by this compiler yet"),
                    )
                }
                None => {
                    let hint = self
                        .vocab
                        .closest_filter(name)
                        .map(|n| format!("; did you mean {n}?"))
                        .unwrap_or_default();
                    return err(items[0].span, format!("unknown filter {name}{hint}"));
                }
            },
        })
    }
}

/// Integer filters: the value is the node's argument.
fn int_filter(id: u8) -> bool {
    matches!(id, 10..=13)
}

/// The symbolic constants SBPL accepts for integer filters (Darwin values).
fn symbolic_constant(sym: &str) -> Option<i64> {
    Some(match sym {
        "self" => 1,
        "AF_UNIX" | "AF_LOCAL" => 1,
        "AF_INET" => 2,
        "AF_ROUTE" => 17,
        "AF_INET6" => 30,
        "AF_SYSTEM" => 32,
        "SOCK_STREAM" => 1,
        "SOCK_DGRAM" => 2,
        "SOCK_RAW" => 3,
        "IPPROTO_IP" => 0,
        "IPPROTO_ICMP" => 1,
        "IPPROTO_TCP" => 6,
        "IPPROTO_UDP" => 17,
        "IPPROTO_ICMPV6" => 58,
        _ => return None,
    })
}

/// String filters whose argument compiles to a literal pattern.
fn string_filter(id: u8) -> bool {
    crate::blob::filter_has_data(id, false) && id != filter::PATH
}

/// A node of the graph under construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GNode {
    Terminal(Action),
    Test {
        leaf: Leaf,
        matched: usize,
        unmatched: usize,
        group: usize,
    },
}

#[derive(Default)]
struct Graph {
    nodes: Vec<GNode>,
    interned: HashMap<GNode, usize>,
}

impl Graph {
    fn intern(&mut self, node: GNode) -> usize {
        if let Some(&id) = self.interned.get(&node) {
            return id;
        }
        let id = self.nodes.len();
        self.nodes.push(node.clone());
        self.interned.insert(node, id);
        id
    }

    /// Builds `filter` so that it reaches `t` when it holds and `f` when not.
    fn test(&mut self, filter: &Filter, t: usize, f: usize, group: usize) -> usize {
        // A test whose edges meet decides nothing.
        if t == f {
            return t;
        }
        match filter {
            Filter::Leaf(leaf) => self.intern(GNode::Test {
                leaf: leaf.clone(),
                matched: t,
                unmatched: f,
                group,
            }),
            Filter::Not(inner) => self.test(inner, f, t, group),
            Filter::All(parts) => parts
                .iter()
                .rev()
                .fold(t, |next, part| self.test(part, next, f, group)),
            Filter::Any(parts) => parts
                .iter()
                .rev()
                .fold(f, |next, part| self.test(part, t, next, group)),
        }
    }
}

/// Lays the rules out as a blob.
pub fn layout(rules: &Rules) -> Vec<u8> {
    let vocab = Vocab::macos_14();
    let mut graph = Graph::default();
    // Terminals first: the default's action, then the other.
    let default_action = rules.rules.first().map_or(Action::DENY, |r| r.action);
    let other = if default_action.is_deny() {
        Action::ALLOW
    } else {
        Action::DENY
    };
    graph.intern(GNode::Terminal(default_action));
    graph.intern(GNode::Terminal(other));

    let mut roots = Vec::with_capacity(vocab.op_table_len);
    for operation in 0..vocab.op_table_len as OpId {
        roots.push(chain(&mut graph, rules, operation));
    }

    let order = reverse_post_order(&graph, &roots);
    let mut number = vec![0u16; graph.nodes.len()];
    for (n, &i) in order.iter().enumerate() {
        number[i] = n as u16;
    }

    let data_args = place_data(&graph, &roots);
    let nodes: Vec<Node> = order
        .iter()
        .map(|&i| match &graph.nodes[i] {
            GNode::Terminal(a) => Node::Terminal(*a),
            GNode::Test {
                leaf,
                matched,
                unmatched,
                ..
            } => {
                let (filter, arg) = match leaf {
                    Leaf::Pattern { filter, .. } => (*filter, data_args.arg_of(i)),
                    Leaf::Int { filter, value } => (*filter, *value),
                };
                Node::Filter {
                    filter,
                    alt: false,
                    arg,
                    matched: number[*matched],
                    unmatched: number[*unmatched],
                }
            }
        })
        .collect();
    let op_table: Vec<u16> = roots.iter().map(|&r| number[r]).collect();
    encode(&Layout {
        kind: 0,
        op_table: &op_table,
        nodes: &nodes,
        data: &data_args.area,
    })
}

/// Node numbering as Apple's: a post-order walk from each operation's root
/// in ascending id (the unmatch edge before the match edge), reversed. The
/// default's terminal, finished first, ends up last.
fn reverse_post_order(graph: &Graph, roots: &[usize]) -> Vec<usize> {
    let mut done = vec![false; graph.nodes.len()];
    let mut out = Vec::with_capacity(graph.nodes.len());
    // Iterative DFS: (node, children pushed?) so deep chains cannot overflow.
    let mut stack = Vec::new();
    for &root in roots {
        stack.push((root, false));
        while let Some((i, expanded)) = stack.pop() {
            if done[i] {
                continue;
            }
            if expanded {
                done[i] = true;
                out.push(i);
                continue;
            }
            stack.push((i, true));
            if let GNode::Test {
                matched, unmatched, ..
            } = graph.nodes[i]
            {
                // Pushed last, popped first: unmatch is walked before match.
                stack.push((matched, false));
                stack.push((unmatched, false));
            }
        }
    }
    out.reverse();
    out
}

/// The graph of one operation: its rules, latest first, down to the latest
/// unfiltered one.
fn chain(graph: &mut Graph, rules: &Rules, operation: OpId) -> usize {
    let mine: Vec<(usize, &Rule)> = rules
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.ops.binary_search(&operation).is_ok())
        .collect();
    // Operations no unfiltered rule covers (the named-only ones) fall to deny.
    let (mut next, filtered) = match mine.iter().rposition(|(_, r)| r.filter.is_none()) {
        Some(floor) => (
            graph.intern(GNode::Terminal(mine[floor].1.action)),
            &mine[floor + 1..],
        ),
        None => (graph.intern(GNode::Terminal(Action::DENY)), &mine[..]),
    };
    for (index, rule) in filtered {
        let Some(filter) = &rule.filter else { continue };
        let target = graph.intern(GNode::Terminal(rule.action));
        // Compiler-added rules keep their own nodes (Apple does not share them).
        let group = if rule.span.is_none() {
            *index
        } else {
            usize::MAX
        };
        next = graph.test(filter, target, next, group);
    }
    next
}

struct DataArgs {
    area: DataArea,
    args: HashMap<usize, u16>,
}

impl DataArgs {
    fn arg_of(&self, node: usize) -> u16 {
        self.args.get(&node).copied().unwrap_or(0)
    }
}

/// Places pattern data walking operations in ascending id, each graph from
/// its head; identical items are stored once.
fn place_data(graph: &Graph, roots: &[usize]) -> DataArgs {
    let mut area = DataArea::default();
    let mut args = HashMap::new();
    let mut by_bytes: HashMap<Vec<u8>, u16> = HashMap::new();
    let mut stack = Vec::new();
    for &root in roots {
        stack.push(root);
        while let Some(i) = stack.pop() {
            let GNode::Test {
                leaf,
                matched,
                unmatched,
                ..
            } = &graph.nodes[i]
            else {
                continue;
            };
            if args.contains_key(&i) {
                continue;
            }
            let arg = match leaf {
                Leaf::Pattern { pattern, .. } => *by_bytes
                    .entry(pattern.clone())
                    .or_insert_with(|| area.push(pattern)),
                Leaf::Int { .. } => 0,
            };
            args.insert(i, arg);
            stack.push(*unmatched);
            stack.push(*matched);
        }
    }
    DataArgs { area, args }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_str(src: &str) -> Result<Vec<u8>, CompileError> {
        compile(src, &Options::default())
    }

    #[test]
    fn unknown_operation_suggests_the_closest() {
        let e = compile_str("(version 1)\n(deny default)\n(allow file-reed* (literal \"/x\"))")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "<sbpl>:3:8: unknown operation file-reed*; did you mean file-read*?"
        );
    }

    #[test]
    fn unknown_form_and_filter_are_errors() {
        let e = compile_str("(version 1)\n(frobnicate)").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("<sbpl>:2:2: unknown form (frobnicate"),
            "{e}"
        );
        let e = compile_str("(version 1)(deny default)(allow file-read* (socket-domian 2))")
            .unwrap_err();
        assert!(e.to_string().contains("did you mean socket-domain?"), "{e}");
    }

    #[test]
    fn missing_param_fails_like_apple() {
        let src = "(version 1)(deny default)(allow file-read* (subpath (param \"ROOT\")))";
        let e = compile_str(src).unwrap_err();
        assert!(e.message.contains("expected pattern, got boolean"), "{e}");
        let ok = compile(
            src,
            &Options {
                params: vec![("ROOT".into(), "/tmp".into())],
            },
        );
        assert!(ok.is_ok());
    }
}
