//! A profile after evaluation and before layout: rules over concrete
//! operation ids, with the rules Apple's compiler adds implicitly, and the
//! SBPL-level meaning of those rules ([`decide`]), read from the rules
//! rather than from their encoding.
//!
//! **Precedence, as macOS applies it** (docs/compiler.md has the evidence):
//! for one operation, the rules with a filter are tried latest first and
//! the first whose filter holds decides; only when none holds does an
//! unfiltered rule decide, and then the one that names the operation most
//! closely ([`fallback`]: the operation itself before its family, a family
//! before `default`; the latest of equals). So `(allow default)` or
//! `(deny file-write*)` written last does not undo the filtered rules
//! before it, and `(allow default)` after `(deny file-write*)` leaves
//! writes denied.

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
    /// The operations as the rule names them, before a family stands for
    /// its members (`file-write*`, not its 11 operations): an unfiltered
    /// rule's precedence is how closely it names an operation. The rules
    /// `default` implies name `default`.
    pub named: Vec<OpId>,
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
            named: vec![op::DEFAULT],
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
        // Part of what `(deny default)` means: these operations' default is
        // allow, so they rank as the default does (a rule naming one of them,
        // as `(deny process-info*)`, overrides it) [model].
        self.rules.push(Rule {
            outcome: Outcome::ALLOW,
            ops,
            filter: None,
            named: vec![op::DEFAULT],
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
                named: ops.to_vec(),
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
                named: vec![op::NETWORK_OUTBOUND],
                span: None,
            });
        }
    }

    /// The outcome of the default rule (the last `(allow|deny default)`).
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

/// How closely `rule` names `operation`: 0 when it names the operation,
/// 1 its family, ... up to `default`; `None` when it does not cover it.
fn closeness(vocab: &Vocab, rule: &Rule, operation: OpId) -> Option<usize> {
    if rule.ops.binary_search(&operation).is_err() {
        return None;
    }
    vocab
        .lineage(operation)
        .position(|a| rule.named.contains(&a))
        // A rule built without its names still covers the operation: it
        // ranks as `default` does.
        .or_else(|| Some(vocab.lineage(operation).count().saturating_sub(1)))
}

/// The unfiltered rule that decides `operation` when no filtered rule does:
/// the one naming it most closely, the latest of those [blob/spec evidence in
/// docs/compiler.md]. `None` when no unfiltered rule covers it (the
/// operations only their own name covers, with no rule naming them): the
/// operation is denied.
pub fn fallback<'r>(rules: &'r Rules, vocab: &Vocab, operation: OpId) -> Option<&'r Rule> {
    rules
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.filter.is_none())
        .filter_map(|(i, r)| closeness(vocab, r, operation).map(|c| (c, i, r)))
        // Closest first, then latest.
        .min_by_key(|&(c, i, _)| (c, std::cmp::Reverse(i)))
        .map(|(_, _, r)| r)
}

/// What the rules decide for `operation`, at the SBPL level, with macOS's
/// precedence: the latest filtered rule that covers the operation and whose
/// filter holds, else the [`fallback`]; else deny.
pub fn decide(rules: &Rules, operation: OpId, request: &Request<'_>) -> Outcome {
    let vocab = Vocab::macos_14();
    rules
        .rules
        .iter()
        .rev()
        .filter(|r| r.ops.binary_search(&operation).is_ok())
        .find(|r| r.filter.as_ref().is_some_and(|f| holds(f, request)))
        .or_else(|| fallback(rules, vocab, operation))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbpl::{evaluate, Options, SearchPath};

    fn rules(src: &str) -> Rules {
        evaluate(src, None, &Options::default(), &SearchPath::default()).unwrap()
    }

    /// The fallback of each operation, by the line of its rule (0 for the
    /// rules the compiler adds, the default's among them).
    fn fallback_line(r: &Rules, op: &str) -> Option<usize> {
        let v = Vocab::macos_14();
        fallback(r, v, v.op_id(op).unwrap()).map(|rule| rule.span.map_or(0, |s| s.line as usize))
    }

    #[test]
    fn the_fallback_is_the_closest_unfiltered_rule_then_the_latest() {
        let r = rules(
            "(version 1)\n\
             (deny file-write-data)\n\
             (allow file-write* (subpath \"/a\"))\n\
             (allow file-write*)\n\
             (deny file*)\n\
             (allow default)\n\
             (deny file*)\n",
        );
        // The member's own rule, though written first.
        assert_eq!(fallback_line(&r, "file-write-data"), Some(2));
        // The family, not the later, broader file* or default.
        assert_eq!(fallback_line(&r, "file-write-create"), Some(4));
        // file*: the later of its two rules.
        assert_eq!(fallback_line(&r, "file-read-data"), Some(7));
        // Nothing names mach-lookup but the default (a rule without a
        // span: the default's rules are the compiler's).
        assert_eq!(fallback_line(&r, "mach-lookup"), Some(0));
        // Only its own name covers file-write-setugid: no fallback.
        assert_eq!(fallback_line(&r, "file-write-setugid"), None);
    }

    #[test]
    fn filtered_rules_decide_before_any_unfiltered_one() {
        let r = rules(
            "(version 1)\n\
             (allow file-read* (subpath \"/a\"))\n\
             (deny file-read*)\n\
             (deny file-read-data (literal \"/a/x\"))\n\
             (allow default)\n",
        );
        let op = Vocab::macos_14().op_id("file-read-data").unwrap();
        let at = |p: &'static str| Request {
            path: Some(p.as_bytes()),
            ..Request::default()
        };
        assert!(!decide(&r, op, &at("/a/y")).is_deny());
        assert!(decide(&r, op, &at("/a/x")).is_deny());
        assert!(decide(&r, op, &at("/b")).is_deny());
    }
}
