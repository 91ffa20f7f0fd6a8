//! Decisions: walk an operation's graph from its op-table entry (its bucket)
//! to a terminal, recording every node on the way so a decision can say which
//! rule decided it.

use crate::blob::pattern::Pattern;
use crate::blob::{Action, Node, Profile};
use crate::vocab::{filter, OpId, Vocab};
use std::fmt;

/// The arguments an operation is checked with. Filters whose argument is not
/// given are reported as undetermined, never guessed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Args<'a> {
    pub path: Option<&'a [u8]>,
    /// Integer arguments by filter id: socket-domain, socket-type,
    /// socket-protocol, target (1 = self), vnode-type.
    pub ints: &'a [(u8, u16)],
    /// String arguments by filter id: global-name, control-name, ...
    pub strings: &'a [(u8, &'a [u8])],
}

impl<'a> Args<'a> {
    pub fn path(path: &'a [u8]) -> Self {
        Args {
            path: Some(path),
            ..Args::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "allow" => Some(Verdict::Allow),
            "deny" => Some(Verdict::Deny),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which edge a filter node took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    Match,
    Unmatch,
    Terminal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub node: u16,
    pub branch: Branch,
}

/// Why a walk stopped before reaching a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undetermined {
    /// The operation id has no op-table entry.
    UnknownOperation(OpId),
    /// The filter at `node` needs an argument the caller did not give.
    MissingArgument { node: u16, filter: u8 },
    /// The node's pattern or filter is not interpreted by this evaluator.
    Uninterpreted { node: u16, filter: u8 },
    /// The walk came back to `node`: the graph has a cycle.
    Cycle { node: u16 },
}

impl fmt::Display for Undetermined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = Vocab::macos_14();
        let fname = |id: u8| v.filter_name(id).unwrap_or("?");
        match self {
            Undetermined::UnknownOperation(op) => write!(f, "operation {op} has no op-table entry"),
            Undetermined::MissingArgument { node, filter } => {
                write!(
                    f,
                    "undetermined at node {node}: no {} argument given",
                    fname(*filter)
                )
            }
            Undetermined::Uninterpreted { node, filter } => {
                write!(
                    f,
                    "undetermined at node {node}: {} filter not interpreted",
                    fname(*filter)
                )
            }
            Undetermined::Cycle { node } => write!(f, "cycle in the node graph at node {node}"),
        }
    }
}

/// What a profile decides for one operation and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub operation: OpId,
    /// The op-table entry the walk started from.
    pub bucket: u16,
    pub steps: Vec<Step>,
    pub outcome: Result<Action, Undetermined>,
}

impl Decision {
    pub fn verdict(&self) -> Option<Verdict> {
        self.outcome.as_ref().ok().map(|a| {
            if a.is_deny() {
                Verdict::Deny
            } else {
                Verdict::Allow
            }
        })
    }

    /// Node indices visited, in order.
    pub fn node_path(&self) -> Vec<u16> {
        self.steps.iter().map(|s| s.node).collect()
    }
}

/// Decides `operation` with `args`.
pub fn evaluate(profile: &Profile, operation: OpId, args: &Args<'_>) -> Decision {
    let Some(&bucket) = profile.op_table.get(usize::from(operation)) else {
        return Decision {
            operation,
            bucket: u16::MAX,
            steps: Vec::new(),
            outcome: Err(Undetermined::UnknownOperation(operation)),
        };
    };
    let mut steps = Vec::new();
    let mut node = bucket;
    // A well-formed graph reaches a terminal in fewer steps than it has nodes.
    for _ in 0..=profile.nodes.len() {
        // Decode validated every index, so this lookup cannot fail.
        let Some(current) = profile.nodes.get(usize::from(node)) else {
            break;
        };
        match *current {
            Node::Terminal(action) => {
                steps.push(Step {
                    node,
                    branch: Branch::Terminal,
                });
                return Decision {
                    operation,
                    bucket,
                    steps,
                    outcome: Ok(action),
                };
            }
            Node::Filter {
                filter,
                alt,
                arg,
                matched,
                unmatched,
            } => match test_filter(profile, filter, alt, arg, args) {
                Ok(hit) => {
                    steps.push(Step {
                        node,
                        branch: if hit { Branch::Match } else { Branch::Unmatch },
                    });
                    node = if hit { matched } else { unmatched };
                }
                Err(missing) => {
                    return Decision {
                        operation,
                        bucket,
                        steps,
                        outcome: Err(if missing {
                            Undetermined::MissingArgument { node, filter }
                        } else {
                            Undetermined::Uninterpreted { node, filter }
                        }),
                    }
                }
            },
        }
    }
    Decision {
        operation,
        bucket,
        steps,
        outcome: Err(Undetermined::Cycle { node }),
    }
}

/// `Ok(matched)`, or `Err(true)` for a missing argument, `Err(false)` for a
/// filter this evaluator cannot interpret.
fn test_filter(
    profile: &Profile,
    filter: u8,
    alt: bool,
    arg: u16,
    args: &Args<'_>,
) -> Result<bool, bool> {
    if crate::blob::filter_has_data(filter, alt) {
        let value = if filter == filter::PATH {
            args.path
        } else {
            args.strings
                .iter()
                .find(|(f, _)| *f == filter)
                .map(|(_, v)| *v)
        };
        let value = value.ok_or(true)?;
        let code = profile.data_item(arg).map_err(|_| false)?;
        return Pattern::decode(code).matches(value).ok_or(false);
    }
    if alt {
        return Err(false);
    }
    let value = args
        .ints
        .iter()
        .find(|(f, _)| *f == filter)
        .map(|(_, v)| *v)
        .ok_or(true)?;
    Ok(value == arg)
}

/// Renders one filter node as its SBPL form.
pub fn filter_sbpl(profile: &Profile, node: u16) -> String {
    let v = Vocab::macos_14();
    let Some(Node::Filter {
        filter, alt, arg, ..
    }) = profile.nodes.get(usize::from(node)).copied()
    else {
        return String::new();
    };
    let name = v.filter_name(filter).unwrap_or("unknown-filter");
    if crate::blob::filter_has_data(filter, alt) {
        let item = profile.data_item(arg).map(Pattern::decode);
        return match (filter, item) {
            (filter::PATH, Ok(p)) => p.sbpl(),
            (_, Ok(Pattern::Literal(s))) => format!("({name} {})", crate::blob::pattern::quote(&s)),
            (_, Ok(p)) => format!("({name} {})", p.sbpl()),
            (_, Err(e)) => format!("({name} <{e}>)"),
        };
    }
    match (filter, arg) {
        (filter::TARGET, 1) => "(target self)".to_owned(),
        _ if alt => format!("({name} #regex{arg})"),
        _ => format!("({name} {arg})"),
    }
}

/// The rule that produced a decision, as SBPL: the terminal's action on the
/// operation, with the filters that matched on the way. A walk that matched
/// nothing and ended at the default's terminal is the default rule.
pub fn explain(profile: &Profile, decision: &Decision) -> String {
    let v = Vocab::macos_14();
    let action = match &decision.outcome {
        Ok(action) => action,
        Err(why) => return format!(";; {why}"),
    };
    let verb = if action.is_deny() { "deny" } else { "allow" };
    let filters: Vec<String> = decision
        .steps
        .iter()
        .filter(|s| s.branch == Branch::Match)
        .map(|s| filter_sbpl(profile, s.node))
        .collect();
    let terminal = decision.steps.last().map(|s| s.node);
    if filters.is_empty() && terminal == profile.op_table.first().copied() {
        return format!("({verb} default)");
    }
    let op = v.op_name(decision.operation).unwrap_or("unknown-operation");
    let body = match filters.len() {
        0 => String::new(),
        1 => format!(" {}", filters[0]),
        _ => format!(" (require-all {})", filters.join(" ")),
    };
    format!("({verb} {op}{body})")
}
