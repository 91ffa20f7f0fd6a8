//! A profile after evaluation and before layout: rules over concrete
//! operation ids, with the rules Apple's compiler adds implicitly, and the
//! SBPL-level meaning of those rules ([`decide`]: the last matching rule
//! wins), read from the rules rather than from their encoding.

use super::reader::Span;
use super::regex::Regex;
use crate::blob::action;
use crate::vocab::{filter, op, OpId, Vocab};

/// How a path-like string filter matches, before it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// The whole string.
    Literal,
    /// The string, or the string followed by `/` and anything.
    Subpath,
    /// Anything that starts with the string.
    Prefix,
}

/// A leaf test: one filter node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// A string filter (path, global-name, control-name, ...) whose argument
    /// is a pattern item in the data area.
    Pattern {
        filter: u8,
        kind: PathKind,
        text: Vec<u8>,
    },
    /// The regex variant of a string filter: the node's argument indexes the
    /// regex table.
    Regex { filter: u8, regex: Regex },
    /// An integer filter (socket-domain, target, vnode-type, ...): the value
    /// is the node's argument.
    Int { filter: u8, value: u16 },
    /// A filter whose argument is a NUL-terminated string item (extension).
    Str { filter: u8, text: Vec<u8> },
    /// `local` / `remote`: a 4-byte address item (host kind, port).
    Network { filter: u8, host: u16, port: u16 },
    /// The mask variant of an integer filter: any of a set of values, as a
    /// bitmap item (bit n = byte n / 8, least significant bit first).
    Mask { filter: u8, bits: Vec<u8> },
}

impl Leaf {
    pub fn filter_id(&self) -> u8 {
        match self {
            Leaf::Pattern { filter, .. }
            | Leaf::Regex { filter, .. }
            | Leaf::Int { filter, .. }
            | Leaf::Str { filter, .. }
            | Leaf::Network { filter, .. }
            | Leaf::Mask { filter, .. } => *filter,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    Leaf(Leaf),
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
}

/// The argument of an inline modifier: a number, or a string placed in the
/// data area (the node then holds its offset).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModifierArg {
    Int(u16),
    Str(Vec<u8>),
}

/// A modifier carried in bytes 4..7 of a terminal node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InlineModifier {
    pub id: u8,
    pub arg: ModifierArg,
}

/// What a rule decides: the terminal node's action word and modifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// The 24-bit action word without the inline-modifier bit.
    pub word: u32,
    pub modifier: Option<InlineModifier>,
}

impl Outcome {
    pub const ALLOW: Outcome = Outcome {
        word: 0,
        modifier: None,
    };
    /// A plain `deny`: report is implied.
    pub const DENY: Outcome = Outcome {
        word: action::DENY | action::REPORT,
        modifier: None,
    };

    pub fn is_deny(&self) -> bool {
        self.word & action::DENY != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub outcome: Outcome,
    /// Op-table ids the rule applies to, sorted.
    pub ops: Vec<OpId>,
    pub filter: Option<Filter>,
    /// Where the rule was written; `None` for rules the compiler adds.
    pub span: Option<Span>,
}

/// A profile read and evaluated, before layout, in source order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// Operations Apple's compiler sends straight to allow under `(deny default)`
/// (macOS 14.4.1; read off golden_strict_1 and the other deny-default blobs).
pub const ALLOWED_UNDER_DENY_DEFAULT: [&str; 54] = [
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

/// The value of `(target self)`.
pub const TARGET_SELF: u16 = 1;

/// The control name Apple's compiler lets out on network-outbound.
pub const FLOW_DIVERT: &[u8] = b"com.apple.flow-divert";

impl Rules {
    /// `(allow|deny default)`, and what Apple's compiler adds with it.
    pub fn push_default(&mut self, vocab: &Vocab, outcome: Outcome) {
        let all: Vec<OpId> = (0..vocab.op_table_len as OpId)
            .filter(|&o| !vocab.named_only(o))
            .collect();
        let deny = outcome.is_deny();
        self.rules.push(Rule {
            outcome,
            ops: all,
            filter: None,
            // Not a user rule for the flow-divert check: the default alone
            // does not make Apple's compiler add it.
            span: None,
        });
        if deny {
            self.push_deny_default_implicits(vocab);
        }
    }

    fn push_deny_default_implicits(&mut self, vocab: &Vocab) {
        let mut ops: Vec<OpId> = ALLOWED_UNDER_DENY_DEFAULT
            .iter()
            .filter_map(|n| vocab.op_id(n))
            .collect();
        ops.sort_unstable();
        self.rules.push(Rule {
            outcome: Outcome::ALLOW,
            ops,
            filter: None,
            span: None,
        });
        for ops in TARGET_SELF_OPS {
            self.rules.push(Rule {
                outcome: Outcome::ALLOW,
                ops: ops.to_vec(),
                filter: Some(Filter::Leaf(Leaf::Int {
                    filter: filter::TARGET,
                    value: TARGET_SELF,
                })),
                span: None,
            });
        }
    }

    /// Apple's compiler lets flow-divert sockets out whenever a rule of the
    /// profile touches network-outbound; added last, it is tested first.
    /// Whether Apple also adds it in other cases (only `deny` rules, only
    /// `network*`) no blob shows; this adds it for any user rule on the
    /// operation.
    pub fn push_flow_divert(&mut self) {
        let touched = self
            .rules
            .iter()
            .any(|r| r.span.is_some() && r.ops.binary_search(&op::NETWORK_OUTBOUND).is_ok());
        if touched {
            self.rules.push(Rule {
                outcome: Outcome::ALLOW,
                ops: vec![op::NETWORK_OUTBOUND],
                filter: Some(Filter::Leaf(Leaf::Pattern {
                    filter: filter::CONTROL_NAME,
                    kind: PathKind::Literal,
                    text: FLOW_DIVERT.to_vec(),
                })),
                span: None,
            });
        }
    }

    /// The outcome of the default rule (the last unfiltered rule on op 0).
    pub fn default_outcome(&self) -> Outcome {
        self.rules
            .iter()
            .rev()
            .find(|r| r.filter.is_none() && r.ops.binary_search(&op::DEFAULT).is_ok())
            .map_or(Outcome::DENY, |r| r.outcome.clone())
    }
}

/// The arguments of one operation, for [`decide`]. A filter whose argument
/// is missing does not match.
#[derive(Debug, Default, Clone)]
pub struct Request<'a> {
    pub path: Option<&'a [u8]>,
    /// String arguments by filter id (global-name, control-name, ...).
    pub strings: Vec<(u8, &'a [u8])>,
    /// Integer arguments by filter id.
    pub ints: Vec<(u8, u16)>,
}

impl Request<'_> {
    fn string(&self, filter: u8) -> Option<&[u8]> {
        if filter == filter::PATH {
            return self.path;
        }
        self.strings
            .iter()
            .find(|(f, _)| *f == filter)
            .map(|(_, v)| *v)
    }
}

/// What the rules decide for `operation`, at the SBPL level: the last rule
/// that names the operation (or an ancestor of it) and whose filter holds
/// wins; an operation no rule covers is denied.
pub fn decide(rules: &Rules, operation: OpId, request: &Request<'_>) -> Outcome {
    rules
        .rules
        .iter()
        .rev()
        .filter(|r| r.ops.binary_search(&operation).is_ok())
        .find(|r| r.filter.as_ref().map_or(true, |f| holds(f, request)))
        .map_or(Outcome::DENY, |r| r.outcome.clone())
}

/// Whether a filter holds for the request, read from the filter's SBPL
/// meaning (not from its encoding).
pub fn holds(filter: &Filter, request: &Request<'_>) -> bool {
    match filter {
        Filter::Leaf(leaf) => leaf_holds(leaf, request),
        Filter::All(parts) => parts.iter().all(|p| holds(p, request)),
        Filter::Any(parts) => parts.iter().any(|p| holds(p, request)),
        Filter::Not(inner) => !holds(inner, request),
    }
}

fn leaf_holds(leaf: &Leaf, request: &Request<'_>) -> bool {
    match leaf {
        Leaf::Pattern { filter, kind, text } => request
            .string(*filter)
            .is_some_and(|s| path_matches(*kind, text, s)),
        Leaf::Regex { filter, regex } => request.string(*filter).is_some_and(|s| regex.is_match(s)),
        Leaf::Int { filter, value } => request.ints.iter().any(|(f, v)| f == filter && v == value),
        Leaf::Str { filter, text } => request.string(*filter) == Some(text.as_slice()),
        Leaf::Mask { filter, bits } => request.ints.iter().any(|(f, v)| {
            f == filter
                && bits
                    .get(usize::from(*v) / 8)
                    .is_some_and(|b| b >> (v % 8) & 1 == 1)
        }),
        // The endpoint is given as a string of the filter (`tcp:127.0.0.1:80`,
        // see blob::filters::Endpoint), as `eval --arg remote=` gives it.
        Leaf::Network { filter, host, port } => request
            .string(*filter)
            .and_then(|s| crate::blob::filters::Endpoint::parse(s).ok().flatten())
            .is_some_and(|e| {
                crate::blob::filters::NetAddress {
                    host: *host,
                    port: *port,
                }
                .matches(&e)
            }),
    }
}

/// The meaning of `(literal T)`, `(subpath T)` and `(prefix T)`.
pub fn path_matches(kind: PathKind, text: &[u8], s: &[u8]) -> bool {
    match kind {
        PathKind::Literal => s == text,
        PathKind::Prefix => s.starts_with(text),
        PathKind::Subpath => s
            .strip_prefix(text)
            .is_some_and(|rest| rest.is_empty() || rest[0] == b'/'),
    }
}
