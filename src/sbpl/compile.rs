//! From rules to a blob as Apple's libsandbox (macOS 14.4.1) lays it out.
//!
//! Rules: every `(allow|deny OPS... FILTERS...)` is one [`super::rules::Rule`] whose
//! operations are resolved to op-table ids when evaluated (`file-read*` stands
//! for itself and every operation that inherits from it). For each
//! operation, its filtered rules are chained with the latest first: a test
//! whose match edge goes to the rule's terminal and whose unmatch edge falls
//! through to the earlier rules; the chain ends at the terminal of the
//! unfiltered rule that names the operation most closely
//! ([`super::rules::fallback`]: macOS's precedence, docs/compiler.md). `require-all` is
//! a chain of match edges, `require-any` a chain of unmatch edges (so nested
//! `require-all`s flatten), `require-not` swaps the edges.
//!
//! Layout, as read off Apple's blobs (`tests/apple_blobs.rs` holds all 38
//! that have SBPL to it, byte for byte):
//! - identical subgraphs are one (nodes are hash-consed), except the nodes
//!   of compiler-added rules, which Apple keeps apart; a test whose edges
//!   meet is dropped [blob];
//! - nodes are numbered in reverse post-order of a walk over the operations
//!   in ascending id, match edge before unmatch edge, so the default's
//!   terminal is the last node [blob: the 38 macOS blobs fit either edge
//!   order; the iOS 17 and iOS 26 profiles, 9957 and 9652 nodes, are
//!   numbered exactly so, and not with the unmatch edge first];
//! - data items are placed walking the operations in ascending id, each
//!   graph in pre-order, match edge first; equal items are stored once; each
//!   item starts on an 8-byte boundary and the blob ends with the last item
//!   [blob];
//! - regexes are numbered in the order the node-numbering walk finishes
//!   their first node (post-order, before the reversal: the order nodes are
//!   created in), and their items are placed like any other item, when the
//!   data walk first meets a node that uses them [blob: iOS 17 and iOS 26,
//!   whose eight regexes each are numbered and placed exactly so].
//! - terminals with a modifier are nodes of their own; a string argument
//!   (`(with message "...")`) is a NUL-terminated item placed when the data
//!   walk reaches the terminal [blob: iOS 17 and iOS 26, where all 1014 and
//!   1038 items (patterns, strings, regexes, modifier strings) lie exactly
//!   in the data walk's order].

pub use super::error::CompileError;
use super::eval::evaluate;
pub use super::eval::{Options, SearchPath};
use super::reader::Span;
use super::regex::Regex;
use super::rules::{fallback, Filter, Leaf, ModifierArg, Outcome, PathKind, Rules};
use crate::blob::encode::encode_node;
use crate::blob::{action, Action, Modifier, Node};
use crate::vocab::{OpId, Vocab};
use std::collections::HashMap;
use std::path::Path;

/// Compiles SBPL source text to a blob. Imports are looked for on the
/// standard search path ([`SearchPath::standard`]).
pub fn compile(src: &str, options: &Options) -> Result<Vec<u8>, CompileError> {
    compile_source(src, None, options, &SearchPath::standard())
}

/// Compiles an SBPL file; errors carry the file name, and imports are looked
/// for beside it first.
pub fn compile_file(path: &Path, options: &Options) -> Result<Vec<u8>, CompileError> {
    compile_file_with(path, options, &SearchPath::standard())
}

/// [`compile_file`] with an explicit import search path.
pub fn compile_file_with(
    path: &Path,
    options: &Options,
    search: &SearchPath,
) -> Result<Vec<u8>, CompileError> {
    let src = std::fs::read_to_string(path).map_err(|e| CompileError {
        file: Some(path.to_owned()),
        ..CompileError::new(Span::default(), format!("cannot read: {e}"))
    })?;
    compile_source(&src, Some(path), options, search)
}

/// Compiles `src`, read from `file` if given.
pub fn compile_source(
    src: &str,
    file: Option<&Path>,
    options: &Options,
    search: &SearchPath,
) -> Result<Vec<u8>, CompileError> {
    let rules = evaluate(src, file, options, search)?;
    layout(&rules).map_err(|message| CompileError {
        file: file.map(Path::to_path_buf),
        ..CompileError::new(Span { line: 1, column: 1 }, message)
    })
}

/// A node of the graph under construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GNode {
    Terminal(Outcome),
    Test {
        leaf: Leaf,
        matched: usize,
        unmatched: usize,
        /// Nodes of different groups are never merged: `usize::MAX` for user
        /// rules, the rule's index for compiler-added ones.
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

    fn edges(&self, i: usize) -> Option<(usize, usize)> {
        match self.nodes[i] {
            GNode::Test {
                matched, unmatched, ..
            } => Some((matched, unmatched)),
            GNode::Terminal(_) => None,
        }
    }
}

/// Lays the rules out as a blob; the error says which limit of the format
/// the profile exceeds.
pub fn layout(rules: &Rules) -> Result<Vec<u8>, String> {
    let vocab = Vocab::macos_14();
    let mut graph = Graph::default();
    let roots: Vec<usize> = (0..vocab.op_table_len as OpId)
        .map(|operation| chain(&mut graph, rules, vocab, operation))
        .collect();

    let order = reverse_post_order(&graph, &roots);
    if order.len() > usize::from(u16::MAX) {
        return Err(format!(
            "profile needs {} nodes; the format holds at most {}",
            order.len(),
            u16::MAX
        ));
    }
    let mut number = vec![0u16; graph.nodes.len()];
    for (n, &i) in order.iter().enumerate() {
        number[i] = n as u16;
    }

    let regexes = number_regexes(&graph, &order);
    let data = place_data(&graph, &roots, &regexes)?;
    let nodes: Vec<Node> = order
        .iter()
        .map(|&i| match &graph.nodes[i] {
            GNode::Terminal(outcome) => Node::Terminal(terminal(outcome, data.arg_of(i))),
            GNode::Test {
                leaf,
                matched,
                unmatched,
                ..
            } => {
                let (alt, arg) = match leaf {
                    Leaf::Int { value, .. } => (false, *value),
                    Leaf::Regex { regex, .. } => (true, regexes.index[regex]),
                    Leaf::Mask { .. } => (true, data.arg_of(i)),
                    _ => (false, data.arg_of(i)),
                };
                Node::Filter {
                    filter: leaf.filter_id(),
                    alt,
                    arg,
                    matched: number[*matched],
                    unmatched: number[*unmatched],
                }
            }
        })
        .collect();
    let op_table: Vec<u16> = roots.iter().map(|&r| number[r]).collect();
    let regex_table: Vec<u16> = regexes.order.iter().map(|r| data.regex_items[r]).collect();
    Ok(serialize(&op_table, &regex_table, &nodes, &data.bytes))
}

fn terminal(outcome: &Outcome, data_arg: u16) -> Action {
    let modifier = outcome.modifier.as_ref().map(|m| Modifier {
        id: m.id,
        policy_op: 0,
        arg: match m.arg {
            ModifierArg::Int(n) => n,
            ModifierArg::Str(_) => data_arg,
        },
    });
    let flag = if modifier.is_some() {
        action::INLINE_MODIFIER
    } else {
        0
    };
    Action {
        word: outcome.word | flag,
        modifier,
    }
}

/// Node numbering as Apple's: a post-order walk from each operation's root
/// in ascending id (the match edge before the unmatch edge), reversed. The
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
            if let Some((matched, unmatched)) = graph.edges(i) {
                // Pushed last, popped first: match is walked before unmatch.
                stack.push((unmatched, false));
                stack.push((matched, false));
            }
        }
    }
    out.reverse();
    out
}

/// The graph of one operation, with macOS's precedence: its filtered rules,
/// latest first, each falling through to the earlier ones, down to the
/// terminal of its [`fallback`] rule (the unfiltered rule naming the
/// operation most closely), wherever that rule stands in the source.
fn chain(graph: &mut Graph, rules: &Rules, vocab: &Vocab, operation: OpId) -> usize {
    // Operations no unfiltered rule covers (the named-only ones) fall to a
    // plain deny [blob: baseline_allow_all], whatever modifiers the default
    // has [model].
    let floor = fallback(rules, vocab, operation).map_or(Outcome::DENY, |r| r.outcome.clone());
    let mut next = graph.intern(GNode::Terminal(floor));
    let filtered = rules
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.ops.binary_search(&operation).is_ok());
    for (index, rule) in filtered {
        let Some(filter) = &rule.filter else { continue };
        let target = graph.intern(GNode::Terminal(rule.outcome.clone()));
        // Compiler-added rules keep their own nodes (Apple does not share them).
        let group = if rule.span.is_none() {
            index
        } else {
            usize::MAX
        };
        next = graph.test(filter, target, next, group);
    }
    next
}

/// Regex-table indices: the regexes the graph uses, in the order their first
/// node is finished by the numbering walk (`order` reversed is that walk's
/// post-order).
struct RegexNumbers {
    order: Vec<Regex>,
    index: HashMap<Regex, u16>,
}

fn number_regexes(graph: &Graph, order: &[usize]) -> RegexNumbers {
    let mut used: Vec<Regex> = Vec::new();
    let mut index = HashMap::new();
    for &i in order.iter().rev() {
        if let GNode::Test {
            leaf: Leaf::Regex { regex, .. },
            ..
        } = &graph.nodes[i]
        {
            if !index.contains_key(regex) {
                index.insert(regex.clone(), used.len() as u16);
                used.push(regex.clone());
            }
        }
    }
    RegexNumbers { order: used, index }
}

/// The data area: items on 8-byte boundaries, referenced in 8-byte units.
struct Data {
    bytes: Vec<u8>,
    /// Each item once: its bytes (with any length prefix) to its reference.
    placed: HashMap<Vec<u8>, u16>,
    args: HashMap<usize, u16>,
    regex_items: HashMap<Regex, u16>,
}

impl Data {
    fn arg_of(&self, node: usize) -> u16 {
        self.args.get(&node).copied().unwrap_or(0)
    }

    /// Places `item` (already carrying its length prefix, if it has one)
    /// unless an equal item is there.
    fn place(&mut self, item: Vec<u8>) -> Result<u16, String> {
        if let Some(&at) = self.placed.get(&item) {
            return Ok(at);
        }
        let start = self.bytes.len().next_multiple_of(8);
        let at = u16::try_from(start / 8).map_err(|_| {
            format!(
                "data area of more than {} bytes is beyond the format's 16-bit references",
                8 * usize::from(u16::MAX)
            )
        })?;
        self.bytes.resize(start, 0);
        self.bytes.extend_from_slice(&item);
        self.placed.insert(item, at);
        Ok(at)
    }
}

/// `u16 length` then the bytes.
fn with_length(body: &[u8]) -> Result<Vec<u8>, String> {
    let len = u16::try_from(body.len())
        .map_err(|_| format!("data item of {} bytes exceeds 65535", body.len()))?;
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// The data item a node refers to, if any.
fn item_of(node: &GNode) -> Result<Option<Vec<u8>>, String> {
    let body = match node {
        GNode::Test { leaf, .. } => match leaf {
            Leaf::Pattern { kind, text, .. } => encode_pattern(*kind, text),
            Leaf::Str { text, .. } => nul_terminated(text),
            // The address item has no length prefix [reported].
            Leaf::Network { host, port, .. } => {
                let mut raw = host.to_le_bytes().to_vec();
                raw.extend_from_slice(&port.to_le_bytes());
                return Ok(Some(raw));
            }
            // `u16 1, u16 nbytes, bits`, no length prefix [blob]: iOS 17's
            // syscall-number mask (the first word is 1 in every blob).
            Leaf::Mask { bits, .. } => {
                let n = u16::try_from(bits.len())
                    .map_err(|_| format!("mask of {} bytes exceeds 65535", bits.len()))?;
                let mut raw = 1u16.to_le_bytes().to_vec();
                raw.extend_from_slice(&n.to_le_bytes());
                raw.extend_from_slice(bits);
                return Ok(Some(raw));
            }
            Leaf::Int { .. } | Leaf::Regex { .. } => return Ok(None),
        },
        GNode::Terminal(outcome) => match &outcome.modifier {
            Some(m) => match &m.arg {
                ModifierArg::Str(s) => nul_terminated(s),
                ModifierArg::Int(_) => return Ok(None),
            },
            None => return Ok(None),
        },
    };
    with_length(&body).map(Some)
}

fn nul_terminated(text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    out.push(0);
    out
}

/// Places data walking operations in ascending id, each graph in pre-order
/// from its head, match edge first.
fn place_data(graph: &Graph, roots: &[usize], regexes: &RegexNumbers) -> Result<Data, String> {
    let mut data = Data {
        bytes: Vec::new(),
        placed: HashMap::new(),
        args: HashMap::new(),
        regex_items: HashMap::new(),
    };
    let mut seen = vec![false; graph.nodes.len()];
    let mut stack = Vec::new();
    for &root in roots {
        stack.push(root);
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if let GNode::Test {
                leaf: Leaf::Regex { regex, .. },
                ..
            } = &graph.nodes[i]
            {
                if regexes.index.contains_key(regex) && !data.regex_items.contains_key(regex) {
                    let item = regex.item().map_err(|e| e.to_string())?;
                    let at = data.place(with_length(&item)?)?;
                    data.regex_items.insert(regex.clone(), at);
                }
            }
            if let Some(item) = item_of(&graph.nodes[i])? {
                let at = data.place(item)?;
                data.args.insert(i, at);
            }
            if let Some((matched, unmatched)) = graph.edges(i) {
                stack.push(unmatched);
                stack.push(matched);
            }
        }
    }
    Ok(data)
}

/// Most bytes one literal-run instruction holds (`04 k`: k + 0x41 bytes).
const LONG_LITERAL_MAX: usize = 0xff + 0x41;
/// Most bytes of a short literal (`0x40 + n - 1`).
const SHORT_LITERAL_MAX: usize = 64;

/// The path-pattern bytecode of `(literal|subpath|prefix TEXT)`:
///
/// ```text
/// literal  <lit TEXT> 0f 00 0f 0a                 must reach the end
/// subpath  <lit TEXT> 0f 40 2f 80 0a 00 0f 0a     then "/" or the end
/// prefix   <lit TEXT> 0f 0a                        nothing more
/// ```
///
/// `<lit s>` is `40+n-1 s` for 1..=64 bytes [blob] and `04 n-0x41 s` for
/// 65..=320 [blob: iOS 17]; longer text is split into 320-byte runs, each
/// with its own `0f` [model].
pub fn encode_pattern(kind: PathKind, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 12);
    for run in text.chunks(LONG_LITERAL_MAX) {
        if run.len() <= SHORT_LITERAL_MAX {
            out.push(0x40 + (run.len() - 1) as u8);
        } else {
            out.extend_from_slice(&[0x04, (run.len() - 0x41) as u8]);
        }
        out.extend_from_slice(run);
        out.push(0x0f);
    }
    out.extend_from_slice(match kind {
        PathKind::Literal => &[0x00, 0x0f, 0x0a],
        PathKind::Subpath => &[0x40, b'/', 0x80, 0x0a, 0x00, 0x0f, 0x0a],
        PathKind::Prefix => &[0x0a],
    });
    out
}

/// The 14-byte header, regex table, op table, padding, nodes, data.
fn serialize(op_table: &[u16], regex_table: &[u16], nodes: &[Node], data: &[u8]) -> Vec<u8> {
    const HEADER_LEN: usize = 14;
    let tables_end = HEADER_LEN + 2 * (regex_table.len() + op_table.len());
    let nodes_offset = tables_end.next_multiple_of(8);
    let mut out = Vec::with_capacity(nodes_offset + 8 * nodes.len() + data.len());
    out.extend_from_slice(&0u16.to_le_bytes()); // type: a single profile
    out.extend_from_slice(&(nodes.len() as u16).to_le_bytes());
    out.push(op_table.len() as u8);
    out.extend_from_slice(&[0, 0, 0]); // global vars, state flags, pad
    out.extend_from_slice(&0u16.to_le_bytes()); // profiles
    out.extend_from_slice(&(regex_table.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // policies
    for entry in regex_table.iter().chain(op_table) {
        out.extend_from_slice(&entry.to_le_bytes());
    }
    out.resize(nodes_offset, 0);
    for node in nodes {
        out.extend_from_slice(&encode_node(node));
    }
    out.extend_from_slice(data);
    out
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
            "<sbpl>:3:8: unknown operation file-reed*; did you mean file-read*?\n    \
             in (allow file-reed* (literal \"/x\"))"
        );
    }

    #[test]
    fn unknown_form_and_filter_are_errors() {
        let e = compile_str("(version 1)\n(frobnicate)").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("<sbpl>:2:1: unknown form (frobnicate ...)"),
            "{e}"
        );
        let e = compile_str("(version 1)(deny default)(allow file-read* (socket-domian 2))")
            .unwrap_err();
        assert!(
            e.message
                .contains("unknown filter socket-domian; did you mean socket-domain?"),
            "{e}"
        );
    }

    #[test]
    fn missing_param_fails_like_apple() {
        let src = "(version 1)(deny default)(allow file-read* (subpath (param \"ROOT\")))";
        let e = compile_str(src).unwrap_err();
        assert!(
            e.message
                .contains("invalid data type of path filter; expected pattern, got boolean"),
            "{e}"
        );
        assert!(e.message.contains("--param ROOT=VALUE"), "{e}");
        let ok = compile(
            src,
            &Options {
                params: vec![("ROOT".into(), "/tmp".into())],
            },
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn pattern_encodings() {
        let lit = encode_pattern(PathKind::Literal, b"/etc/hosts");
        assert_eq!(lit[0], 0x49);
        assert_eq!(&lit[11..], [0x0f, 0x00, 0x0f, 0x0a]);
        // 83 bytes: the long form, as in the iOS 17 profile.
        let long = encode_pattern(PathKind::Subpath, &[b'a'; 83]);
        assert_eq!(&long[..2], [0x04, 0x12]);
        assert_eq!(long.len(), 2 + 83 + 8);
        let huge = encode_pattern(PathKind::Prefix, &[b'a'; 330]);
        assert_eq!(&huge[..2], [0x04, 0xff]);
        assert_eq!(&huge[322..325], [0x0f, 0x49, b'a']);
        assert_eq!(encode_pattern(PathKind::Prefix, b""), [0x0a]);
    }
}
