//! Decisions: walk an operation's graph from its op-table entry (its bucket)
//! to a terminal, recording every node on the way so a decision can say which
//! rule decided it.
//!
//! Everything a filter needs was decoded with the profile (pattern programs,
//! regexes, bitmaps, strings), so a decision reads no bytes and allocates
//! only its step list. A filter whose argument the caller did not give, or a
//! pattern that needs a global variable with no value, stops the walk:
//! the decision is *undetermined at that node*, never guessed.

use crate::blob::filters::{Endpoint, NetAddress};
use crate::blob::pattern::{Match, Program};
use crate::blob::render::{self, Texts};
use crate::blob::{Action, FilterArg, Node, Profile};
use crate::vocab::{filter, OpId};
use std::fmt;

/// The arguments an operation is checked with. Filters whose argument is not
/// given are reported as undetermined, never guessed.
///
/// A filter may be given several values (a process with several
/// attributes): it matches when any of them does.
#[derive(Debug, Default, Clone, Copy)]
pub struct Args<'a> {
    pub path: Option<&'a [u8]>,
    /// Integer arguments by filter id: socket-domain, socket-type,
    /// socket-protocol, target (1 = self), vnode-type, syscall-number, ...
    pub ints: &'a [(u8, u16)],
    /// String arguments by filter id: global-name, control-name, ...
    /// (an empty string stands for "none": it matches no name; a missing
    /// control name means the socket has none). `local` / `remote` take a
    /// socket's end as `tcp:127.0.0.1:80` (see `blob::filters::Endpoint`).
    pub strings: &'a [(u8, &'a [u8])],
}

impl<'a> Args<'a> {
    pub fn path(path: &'a [u8]) -> Self {
        Args {
            path: Some(path),
            ..Args::default()
        }
    }

    /// The string inputs of filter `f`: the path for the path filter, then
    /// any string given for it.
    fn strings_for(&self, f: u8) -> impl Iterator<Item = &'a [u8]> + '_ {
        let path = self.path.filter(|_| f == filter::PATH);
        path.into_iter().chain(
            self.strings
                .iter()
                .filter(move |(id, _)| *id == f)
                .map(|(_, v)| *v),
        )
    }

    fn ints_for(&self, f: u8) -> impl Iterator<Item = u16> + '_ {
        self.ints
            .iter()
            .filter(move |(id, _)| *id == f)
            .map(|(_, v)| *v)
    }
}

/// Values of global variables by name (`("HOME", b"/Users/me")`); a name
/// may repeat for a variable with several values.
pub type Vars<'a> = [(&'a str, &'a [u8])];

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
    /// The pattern at `node` needs global variable `var` (its index in the
    /// blob's table), whose value was not given.
    MissingVariable { node: u16, var: u8 },
    /// The node's filter is one whose argument this decoder cannot read.
    Uninterpreted { node: u16, filter: u8 },
    /// The walk came back to `node`: the graph has a cycle.
    Cycle { node: u16 },
}

impl Undetermined {
    /// The reason with the profile's own names for filters and variables.
    pub fn describe(&self, profile: &Profile) -> String {
        let v = profile.vocab;
        match self {
            Undetermined::UnknownOperation(op) => {
                format!("operation {} has no op-table entry", v.op_label(*op))
            }
            Undetermined::MissingArgument { node, filter } => format!(
                "undetermined at node {node}: no {} argument given",
                v.filter_label(*filter)
            ),
            Undetermined::MissingVariable { node, var } => format!(
                "undetermined at node {node}: no value given for ${{{}}}",
                profile
                    .var_name(*var)
                    .map_or_else(|| format!("var#{var}"), str::to_owned)
            ),
            Undetermined::Uninterpreted { node, filter } => format!(
                "undetermined at node {node}: the {} filter's argument is not interpreted",
                v.filter_label(*filter)
            ),
            Undetermined::Cycle { node } => format!("cycle in the node graph at node {node}"),
        }
    }
}

impl fmt::Display for Undetermined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without the profile only ids can be named.
        match self {
            Undetermined::UnknownOperation(op) => write!(f, "operation {op} has no op-table entry"),
            Undetermined::MissingArgument { node, filter } => {
                write!(
                    f,
                    "undetermined at node {node}: no filter#{filter} argument given"
                )
            }
            Undetermined::MissingVariable { node, var } => {
                write!(
                    f,
                    "undetermined at node {node}: no value given for variable {var}"
                )
            }
            Undetermined::Uninterpreted { node, filter } => {
                write!(
                    f,
                    "undetermined at node {node}: filter#{filter} not interpreted"
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

    /// The terminal's modifiers and flags as SBPL `(with ...)` forms.
    pub fn modifiers(&self, profile: &Profile) -> Vec<String> {
        self.outcome
            .as_ref()
            .map(|a| render::action_modifiers(profile, a))
            .unwrap_or_default()
    }
}

/// Decides `operation` with `args` (no global variable values).
pub fn evaluate(profile: &Profile, operation: OpId, args: &Args<'_>) -> Decision {
    evaluate_with(profile, operation, args, &[])
}

/// Decides `operation` with `args` and values for global variables.
pub fn evaluate_with(
    profile: &Profile,
    operation: OpId,
    args: &Args<'_>,
    vars: &Vars<'_>,
) -> Decision {
    let Some(&bucket) = profile.op_table.get(usize::from(operation)) else {
        return Decision {
            operation,
            bucket: u16::MAX,
            steps: Vec::new(),
            outcome: Err(Undetermined::UnknownOperation(operation)),
        };
    };
    let indexed = VarIndex::new(profile, vars);
    let vars = indexed.as_slice();
    let mut steps = Vec::with_capacity(128);
    let mut node = bucket;
    // Decode rejected cycles; the bound only keeps a bug from hanging. (A
    // half-open range: an inclusive one costs a check per node.)
    for _ in 0..profile.nodes.len() + 1 {
        let Some(current) = profile.nodes.get(usize::from(node)) else {
            break;
        };
        let (matched, unmatched, id) = match *current {
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
                matched,
                unmatched,
                ..
            } => (matched, unmatched, filter),
        };
        match test(profile, node, id, args, vars) {
            Ok(hit) => {
                steps.push(Step {
                    node,
                    branch: if hit { Branch::Match } else { Branch::Unmatch },
                });
                node = if hit { matched } else { unmatched };
            }
            Err(why) => {
                return Decision {
                    operation,
                    bucket,
                    steps,
                    outcome: Err(why),
                }
            }
        }
    }
    Decision {
        operation,
        bucket,
        steps,
        outcome: Err(Undetermined::Cycle { node }),
    }
}

/// Variable values by index in the blob's table; the usual handful stays on
/// the stack, so a decision allocates nothing but its steps.
enum VarIndex<'a> {
    Inline([(u8, &'a [u8]); 8], usize),
    Heap(Vec<(u8, &'a [u8])>),
}

impl<'a> VarIndex<'a> {
    fn new(profile: &Profile, vars: &Vars<'a>) -> Self {
        let indexed = vars.iter().filter_map(|(name, v)| {
            let k = profile.global_vars.iter().position(|g| g.name == *name)?;
            Some((k as u8, *v))
        });
        if vars.len() > 8 {
            return VarIndex::Heap(indexed.collect());
        }
        let mut buf: [(u8, &[u8]); 8] = [(0, &[]); 8];
        let mut n = 0;
        for pair in indexed {
            buf[n] = pair;
            n += 1;
        }
        VarIndex::Inline(buf, n)
    }

    fn as_slice(&self) -> &[(u8, &'a [u8])] {
        match self {
            VarIndex::Inline(buf, n) => &buf[..*n],
            VarIndex::Heap(v) => v,
        }
    }
}

/// Whether filter node `node` (filter `f`) matches the arguments.
fn test(
    profile: &Profile,
    node: u16,
    f: u8,
    args: &Args<'_>,
    vars: &[(u8, &[u8])],
) -> Result<bool, Undetermined> {
    let missing = Undetermined::MissingArgument { node, filter: f };
    // A socket has a control name only when it is a kernel-control socket:
    // a caller that gives none describes a socket without one, so the
    // flow-divert test of network-outbound does not match.
    if f == filter::CONTROL_NAME && args.strings_for(f).next().is_none() {
        return Ok(false);
    }
    match profile.args[usize::from(node)] {
        FilterArg::Int(v) => any_int(args.ints_for(f), missing, |x| x == v),
        FilterArg::Bitmap(k) => {
            let bitmap = &profile.bitmaps[k as usize];
            any_int(args.ints_for(f), missing, |x| bitmap.contains(x))
        }
        FilterArg::Str(k) => {
            let want = profile.strings[k as usize].bytes.as_slice();
            let mut given = false;
            for s in args.strings_for(f) {
                given = true;
                if s == want {
                    return Ok(true);
                }
            }
            if given {
                Ok(false)
            } else {
                Err(missing)
            }
        }
        FilterArg::Regex(k) => {
            let regex = &profile.regexes[usize::from(k)].regex;
            let mut given = false;
            for s in args.strings_for(f) {
                given = true;
                if regex.matches(s) {
                    return Ok(true);
                }
            }
            if given {
                Ok(false)
            } else {
                Err(missing)
            }
        }
        FilterArg::Pattern(k) => {
            let program = &profile.patterns[k as usize].program;
            match (args.path, f == filter::PATH && args.strings.is_empty()) {
                // The usual case, a path and nothing else: no iterator (a
                // long walk tests dozens of path patterns in a row).
                (Some(path), true) => {
                    pattern_test(program, std::iter::once(path), vars, node, missing)
                }
                _ => pattern_test(program, args.strings_for(f), vars, node, missing),
            }
        }
        FilterArg::Unknown(raw)
            if matches!(profile.vocab.filter_name(f), Some("local" | "remote")) =>
        {
            let uninterpreted = Undetermined::Uninterpreted { node, filter: f };
            let address = NetAddress::read(&profile.bytes, profile.data_base, raw)
                .ok_or(uninterpreted.clone())?;
            network_test(address, args.strings_for(f), missing, uninterpreted)
        }
        FilterArg::Unknown(_) | FilterArg::None => {
            Err(Undetermined::Uninterpreted { node, filter: f })
        }
    }
}

/// Whether any of the endpoints given for a `local` / `remote` filter
/// matches its address; an endpoint that is not IP (a Unix socket) matches
/// none.
fn network_test<'a>(
    address: NetAddress,
    given: impl Iterator<Item = &'a [u8]>,
    missing: Undetermined,
    unreadable: Undetermined,
) -> Result<bool, Undetermined> {
    let mut any = false;
    for text in given {
        any = true;
        match Endpoint::parse(text) {
            Ok(Some(e)) if address.matches(&e) => return Ok(true),
            Ok(_) => {}
            Err(_) => return Err(unreadable),
        }
    }
    if any {
        Ok(false)
    } else {
        Err(missing)
    }
}

fn any_int(
    mut given: impl Iterator<Item = u16>,
    missing: Undetermined,
    hit: impl Fn(u16) -> bool,
) -> Result<bool, Undetermined> {
    let first = given.next().ok_or(missing)?;
    Ok(hit(first) || given.any(hit))
}

fn pattern_test<'a>(
    program: &Program,
    inputs: impl Iterator<Item = &'a [u8]>,
    vars: &[(u8, &[u8])],
    node: u16,
    missing: Undetermined,
) -> Result<bool, Undetermined> {
    let mut given = false;
    let mut unknown = None;
    for s in inputs {
        given = true;
        match program.matches(s, vars) {
            Match::Yes => return Ok(true),
            Match::No => {}
            Match::UnknownVar(var) => unknown = Some(var),
        }
    }
    match (given, unknown) {
        (false, _) => Err(missing),
        (true, Some(var)) => Err(Undetermined::MissingVariable { node, var }),
        (true, None) => Ok(false),
    }
}

/// Renders one filter node as its SBPL form.
pub fn filter_sbpl(profile: &Profile, node: u16) -> String {
    Texts::new(profile).filter_sbpl(node)
}

/// The operation a decision's rule names: the most general operation that
/// shares the bucket (`file-read-data` decided by a `file-read*` rule reads
/// `file-read*`).
pub fn rule_operation(profile: &Profile, operation: OpId, bucket: u16) -> OpId {
    let mut best = operation;
    for ancestor in profile.vocab.lineage(operation).skip(1) {
        if profile.op_table.get(usize::from(ancestor)) != Some(&bucket) {
            break;
        }
        best = ancestor;
    }
    best
}

/// The rule that produced a decision, as SBPL: the terminal's action on the
/// operation, with the filters that matched on the way and the modifiers.
/// A walk that matched nothing and ended at the default's terminal is the
/// default rule.
pub fn explain(profile: &Profile, decision: &Decision) -> String {
    explain_with(profile, decision, None, &[])
}

/// As [`explain`]; given the arguments, a pattern filter with several forms
/// is shown by the form the input matched.
pub fn explain_with(
    profile: &Profile,
    decision: &Decision,
    args: Option<&Args<'_>>,
    vars: &Vars<'_>,
) -> String {
    let action = match &decision.outcome {
        Ok(action) => action,
        Err(why) => return format!(";; {}", why.describe(profile)),
    };
    let mut texts = Texts::new(profile);
    let filters: Vec<String> = decision
        .steps
        .iter()
        .filter(|s| s.branch == Branch::Match)
        .map(|s| matched_form(&mut texts, profile, s.node, args, vars))
        .collect();
    let terminal = decision.steps.last().map(|s| s.node);
    let op = if filters.is_empty() && terminal == profile.op_table.first().copied() {
        "default".to_owned()
    } else {
        let op = rule_operation(profile, decision.operation, decision.bucket);
        if op == crate::vocab::op::DEFAULT {
            "default".to_owned()
        } else {
            profile.vocab.op_label(op)
        }
    };
    // Every filter matched on the way had to: together, one require-all
    // (side by side in a rule they would mean any of them).
    let mut parts = match filters.len() {
        0 | 1 => filters,
        _ => vec![format!("(require-all {})", filters.join(" "))],
    };
    parts.extend(render::action_modifiers(profile, action));
    let verb = render::verb(action);
    if parts.is_empty() {
        format!("({verb} {op})")
    } else {
        format!("({verb} {op} {})", parts.join(" "))
    }
}

/// A matched filter node as SBPL: the one form the input matched when the
/// pattern has several and the arguments are known.
fn matched_form(
    texts: &mut Texts<'_>,
    profile: &Profile,
    node: u16,
    args: Option<&Args<'_>>,
    vars: &Vars<'_>,
) -> String {
    let (Some(args), FilterArg::Pattern(k), Some(Node::Filter { filter: f, .. })) = (
        args,
        profile.args[usize::from(node)],
        profile.nodes.get(usize::from(node)),
    ) else {
        return texts.filter_sbpl(node);
    };
    let indexed = VarIndex::new(profile, vars);
    let indexed = indexed.as_slice();
    let inputs: Vec<&[u8]> = args.strings_for(*f).collect();
    let name = profile.vocab.filter_label(*f);
    let hit = match texts.pattern_forms(k) {
        Ok(forms) => forms
            .iter()
            .find(|form| {
                inputs
                    .iter()
                    .any(|s| form.matches(s, indexed) == Match::Yes)
            })
            .cloned(),
        Err(_) => None,
    };
    match hit {
        Some(form) => texts.form_sbpl(&name, &form),
        None => texts.filter_sbpl(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;

    const GOLDEN: &[u8] =
        include_bytes!("../profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin");

    #[test]
    fn explains_the_deciding_rule_with_the_rule_operation() {
        let p = Profile::decode(GOLDEN).unwrap();
        let v = Vocab::macos_14();
        let read = v.op_id("file-read-data").unwrap();
        let d = evaluate(&p, read, &Args::path(b"/etc/hosts"));
        assert_eq!(d.verdict(), Some(Verdict::Deny));
        assert_eq!(
            explain(&p, &d),
            "(deny file-read* (literal \"/etc/hosts\"))"
        );
        let d = evaluate(&p, read, &Args::path(b"/private/tmp/strict_ok/x"));
        assert_eq!(
            explain(&p, &d),
            "(allow file-read* (subpath \"/private/tmp/strict_ok\"))"
        );
        let d = evaluate(&p, read, &Args::path(b"/private/tmp/other"));
        assert_eq!(explain(&p, &d), "(deny default)");
    }

    #[test]
    fn a_missing_argument_is_undetermined_at_its_node() {
        let p = Profile::decode(GOLDEN).unwrap();
        let read = Vocab::macos_14().op_id("file-read-data").unwrap();
        let d = evaluate(&p, read, &Args::default());
        assert_eq!(d.verdict(), None);
        let Err(why) = &d.outcome else { panic!() };
        assert_eq!(
            why.describe(&p),
            format!("undetermined at node {}: no path argument given", d.bucket)
        );
        assert_eq!(d.steps, []);
    }

    #[test]
    fn unknown_operation_is_undetermined() {
        let p = Profile::decode(GOLDEN).unwrap();
        let d = evaluate(&p, 400, &Args::default());
        assert_eq!(d.outcome, Err(Undetermined::UnknownOperation(400)));
    }
}
