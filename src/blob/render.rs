//! Blobs rendered as SBPL-like text: one filter node, one terminal's action,
//! and each bucket's graph as a list of rules.
//!
//! **Rules.** A bucket's graph is a decision DAG: a walk takes each filter's
//! match or unmatch edge until a terminal. Listed in walk order (match edge
//! first), the root-to-terminal paths form a decision list in which the
//! first path whose *matched* filters all hold decides: the walk an input
//! really takes is that path (any earlier path it satisfies would have been
//! taken at the first node where the two differ). Reversed, the list reads
//! as SBPL, where later rules win. Three things keep it small:
//!
//! - unmatch chains that share a match target become one `(require-any ...)`;
//! - under a filter whose unmatch target is `Y`, reaching `Y` again inside
//!   the match side means "this rule does not apply", so it is cut: the rules
//!   from `Y` follow once, not once per way to reach it;
//! - a node shared beyond that (its immediate dominator is not the node
//!   being rendered) is rendered once as a *block*, and a rule that reaches
//!   it reads `(use-block N filters...)`: "if the filters hold, block N
//!   decides". Buckets are blocks too (`N` is then the bucket's node).
//!
//! Every node is thus rendered once, and large graphs stay linear in size.

use super::forms::{forms, Form, FormKind};
use super::{action, modifier, Action, FilterArg, Format, Node, Profile};
use crate::vocab::OpId;
use std::collections::HashMap;

/// Dominator tree (Cooper, Harvey, Kennedy): `idom[v]` of every vertex
/// reachable from `root` (`None` for the unreachable and for the root).
pub(crate) fn dominators(n: usize, root: usize, succ: &[Vec<u32>]) -> Vec<Option<u32>> {
    // Reverse postorder from the root, iteratively.
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n]; // 0 new, 1 open, 2 done
    let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
    state[root] = 1;
    while let Some(top) = stack.last_mut() {
        let (v, k) = *top;
        if let Some(&w) = succ[v].get(k) {
            top.1 += 1;
            let w = w as usize;
            if state[w] == 0 {
                state[w] = 1;
                stack.push((w, 0));
            }
        } else {
            state[v] = 2;
            order.push(v);
            stack.pop();
        }
    }
    order.reverse();
    let mut rpo = vec![usize::MAX; n];
    for (i, &v) in order.iter().enumerate() {
        rpo[v] = i;
    }
    let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &v in &order {
        for &w in &succ[v] {
            preds[w as usize].push(v as u32);
        }
    }
    let mut idom: Vec<Option<u32>> = vec![None; n];
    idom[root] = Some(root as u32);
    let intersect = |idom: &[Option<u32>], mut a: usize, mut b: usize| {
        while a != b {
            while rpo[a] > rpo[b] {
                a = idom[a].map_or(root, |d| d as usize);
            }
            while rpo[b] > rpo[a] {
                b = idom[b].map_or(root, |d| d as usize);
            }
        }
        a
    };
    let mut changed = true;
    while changed {
        changed = false;
        for &v in order.iter().skip(1) {
            let mut new: Option<usize> = None;
            for &p in &preds[v] {
                let p = p as usize;
                if idom[p].is_none() {
                    continue;
                }
                new = Some(match new {
                    None => p,
                    Some(q) => intersect(&idom, p, q),
                });
            }
            let new = new.map(|d| d as u32);
            if idom[v] != new {
                idom[v] = new;
                changed = true;
            }
        }
    }
    idom[root] = None;
    idom
}

/// The symbolic name of an integer argument (`AF_INET`), if it has one
/// (the compiler's table, [`crate::vocab::filter_constants`]).
pub fn int_symbol(filter: &str, value: u16) -> Option<&'static str> {
    crate::vocab::filter_constants(filter)
        .iter()
        .find(|(_, v)| *v == i64::from(value))
        .map(|(name, _)| *name)
}

/// The value of a symbolic integer argument of `filter` (`AF_INET` -> 2).
pub fn symbol_value(filter: &str, symbol: &str) -> Option<u16> {
    crate::vocab::filter_constants(filter)
        .iter()
        .find(|(name, _)| *name == symbol)
        .and_then(|(_, v)| u16::try_from(*v).ok())
}

/// Text of filters, with decoded pattern forms cached per item.
pub struct Texts<'p> {
    p: &'p Profile,
    forms: HashMap<u32, Result<Vec<Form>, String>>,
}

impl<'p> Texts<'p> {
    pub fn new(p: &'p Profile) -> Self {
        Texts {
            p,
            forms: HashMap::new(),
        }
    }

    pub fn var_name(&self, k: u8) -> String {
        self.p
            .var_name(k)
            .map_or_else(|| format!("var#{k}"), str::to_owned)
    }

    /// The forms of pattern item `k` (an error text when there are too many).
    pub fn pattern_forms(&mut self, k: u32) -> &Result<Vec<Form>, String> {
        let p = self.p;
        self.forms.entry(k).or_insert_with(|| {
            forms(&p.patterns[k as usize].program)
                .map_err(|e| format!("more than {} paths", e.limit))
        })
    }

    /// A pattern form as SBPL for filter `name`.
    pub fn form_sbpl(&self, name: &str, form: &Form) -> String {
        let vars = |k: u8| self.var_name(k);
        if name == "path" {
            form.sbpl(&vars)
        } else if form.kind == FormKind::Literal {
            format!("({name} {})", form.text(&vars))
        } else {
            format!("({name} {})", form.sbpl(&vars))
        }
    }

    /// Each alternative SBPL form of filter node `node` (one for most).
    pub fn filter_forms(&mut self, node: u16) -> Vec<String> {
        let p = self.p;
        let Some(Node::Filter { filter, .. }) = p.nodes.get(usize::from(node)).copied() else {
            return Vec::new();
        };
        let name = p.vocab.filter_label(filter);
        let arg = p.args[usize::from(node)];
        match arg {
            FilterArg::Pattern(k) => match self.pattern_forms(k).clone() {
                Ok(forms) => forms.iter().map(|f| self.form_sbpl(&name, f)).collect(),
                Err(why) => vec![format!(
                    "({name} (pattern data[{}]: {why}))",
                    p.patterns[k as usize].item
                )],
            },
            _ => vec![self.plain_arg(&name, arg)],
        }
    }

    /// A non-pattern argument as SBPL.
    fn plain_arg(&self, name: &str, arg: FilterArg) -> String {
        let p = self.p;
        match arg {
            FilterArg::Int(v) => match int_symbol(name, v) {
                Some(sym) => format!("({name} {sym})"),
                None => format!("({name} {v})"),
            },
            FilterArg::Str(k) => format!(
                "({name} {})",
                super::pattern::quote(&p.strings[k as usize].bytes)
            ),
            FilterArg::Regex(k) => {
                let text = p.regexes[usize::from(k)].regex.render();
                if name == "path" {
                    format!("(regex #\"{text}\")")
                } else {
                    format!("({name} (regex #\"{text}\"))")
                }
            }
            FilterArg::Bitmap(k) => {
                let ranges: Vec<String> = p.bitmaps[k as usize]
                    .ranges()
                    .iter()
                    .map(|&(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}-{hi}")
                        }
                    })
                    .collect();
                format!("({name} (bitmap {}))", ranges.join(" "))
            }
            FilterArg::Unknown(v) if name == "local" || name == "remote" => {
                match super::filters::NetAddress::read(&p.bytes, p.data_base, v) {
                    Some(a) => a.sbpl(name),
                    None => format!("({name} {v})"),
                }
            }
            FilterArg::Unknown(v) => format!("({name} {v})"),
            FilterArg::None | FilterArg::Pattern(_) => String::new(),
        }
    }

    /// Filter node `node` as one SBPL filter in a form the compiler accepts
    /// where it has one ([`super::profile_text::compilable_filter`]), else
    /// as the decoder reads it ([`Texts::raw_filter_sbpl`]).
    pub fn filter_sbpl(&mut self, node: u16) -> String {
        super::profile_text::compilable_filter(self, node)
            .unwrap_or_else(|| self.raw_filter_sbpl(node))
    }

    /// The profile the texts are of.
    pub fn profile(&self) -> &'p Profile {
        self.p
    }

    /// Filter node `node` with the filter's own name and its argument as
    /// the decoder reads it (several forms: require-any).
    pub fn raw_filter_sbpl(&mut self, node: u16) -> String {
        let forms = self.filter_forms(node);
        match forms.len() {
            1 => forms.into_iter().next().unwrap_or_default(),
            _ => format!("(require-any {})", forms.join(" ")),
        }
    }

    /// A condition: one filter, or a require-any over several.
    pub fn condition(&mut self, group: &[u16]) -> String {
        match group {
            [one] => self.filter_sbpl(*one),
            _ => {
                let parts: Vec<String> = group.iter().map(|&n| self.filter_sbpl(n)).collect();
                format!("(require-any {})", parts.join(" "))
            }
        }
    }
}

/// `allow` or `deny`.
pub fn verb(a: &Action) -> &'static str {
    if a.is_deny() {
        "deny"
    } else {
        "allow"
    }
}

/// The action's modifiers as SBPL `(with ...)` forms. Report is implied for
/// deny, so a deny without it reads `(with no-report)`.
pub fn action_modifiers(p: &Profile, a: &Action) -> Vec<String> {
    if p.format == Format::Legacy {
        // 10.6 terminals carry a result, not an action word.
        return match a.word {
            0 => Vec::new(),
            w if w == action::DENY | action::REPORT => Vec::new(),
            w => vec![format!("(with result {w})")],
        };
    }
    let mut out = Vec::new();
    match (a.is_deny(), a.word & action::REPORT != 0) {
        (true, false) => out.push("(with no-report)".to_owned()),
        (false, true) => out.push("(with report)".to_owned()),
        _ => {}
    }
    for (bit, name) in action::NAMES {
        if bit != action::REPORT && a.word & bit != 0 {
            out.push(format!("(with {name})"));
        }
    }
    if a.unknown_bits() != 0 {
        out.push(format!("(with action-bits #x{:x})", a.unknown_bits()));
    }
    if let Some(m) = a.modifier {
        out.push(modifier_sbpl(p, &m));
    }
    out
}

fn modifier_sbpl(p: &Profile, m: &super::Modifier) -> String {
    let name = m
        .known_name()
        .map_or_else(|| format!("modifier#{}", m.id), str::to_owned);
    if let Some(s) = p.modifier_string(m) {
        return format!("(with {name} {})", super::pattern::quote(s.as_bytes()));
    }
    if m.id == modifier::MESSAGE_FILTER {
        let node = p.policies.get(usize::from(m.arg)).copied().unwrap_or(0);
        return format!(
            "(with {name} {} (policy {}) (node {node}))",
            p.vocab.op_label(OpId::from(m.policy_op)),
            m.arg
        );
    }
    let op = if m.policy_op != 0 {
        format!(" (op {})", m.policy_op)
    } else {
        String::new()
    };
    format!("(with {name} {}{op})", m.arg)
}

/// A terminal as text: `deny (with no-report)`.
pub fn action_text(p: &Profile, a: &Action) -> String {
    let mods = action_modifiers(p, a);
    if mods.is_empty() {
        verb(a).to_owned()
    } else {
        format!("{} {}", verb(a), mods.join(" "))
    }
}

/// One node as a line of the node listing.
pub fn node_text(t: &mut Texts<'_>, i: u16) -> String {
    let p = t.p;
    match p.nodes[usize::from(i)] {
        Node::Terminal(a) => action_text(p, &a),
        Node::Filter {
            matched, unmatched, ..
        } => format!("{} -> {matched} / {unmatched}", t.filter_sbpl(i)),
    }
}

/// Where a rule leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A terminal node: the rule's action.
    Terminal(u16),
    /// The rules of the block (or bucket) at this node decide; with a stop
    /// node, reaching it decides nothing there (the rules after the use
    /// do): the block is the part of the subgraph before the stop.
    Block(u16, Option<u16>),
}

/// One rule: every condition holds (each a require-any over filter nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub conditions: Vec<Vec<u16>>,
    pub outcome: Outcome,
}

/// A bucket: its node, its operations, its rules in SBPL order (later
/// rules win).
#[derive(Debug, Clone)]
pub struct BucketRules {
    pub node: u16,
    pub operations: Vec<OpId>,
    /// The operations rules name: those whose parent is in another bucket.
    pub rule_operations: Vec<OpId>,
    pub rules: Vec<Rule>,
}

/// Every bucket's rules and the shared blocks they use.
#[derive(Debug, Clone)]
pub struct Rendering {
    pub buckets: Vec<BucketRules>,
    /// Shared subgraphs, by node and stop, rules in SBPL order.
    pub blocks: Vec<(u16, Option<u16>, Vec<Rule>)>,
}

/// How deep rules nest before a subgraph becomes a block (bounds the stack).
const MAX_DEPTH: usize = 48;

struct RuleBuilder<'p> {
    p: &'p Profile,
    idom: Vec<Option<u32>>,
    /// Nodes rendered as blocks (never inlined).
    block: Vec<bool>,
    /// Bucket roots.
    bucket: Vec<bool>,
    /// Blocks (node, stop) some rule used in this pass.
    used: std::collections::BTreeSet<(u16, Option<u16>)>,
}

impl RuleBuilder<'_> {
    fn filter(&self, n: u16) -> Option<(u16, u16)> {
        match self.p.nodes[usize::from(n)] {
            Node::Filter {
                matched, unmatched, ..
            } => Some((matched, unmatched)),
            Node::Terminal(_) => None,
        }
    }

    fn inline(&self, c: u16, head: u16) -> bool {
        !self.block[usize::from(c)] && self.idom[usize::from(c)] == Some(u32::from(head))
    }

    /// A use of the subgraph at `c` up to `stop`. A bucket is only ever
    /// used whole (its rules are listed with no stop).
    fn use_block(&mut self, c: u16, stop: Option<u16>) -> Rule {
        let stop = if self.bucket[usize::from(c)] {
            None
        } else {
            stop
        };
        self.used.insert((c, stop));
        Rule {
            conditions: Vec::new(),
            outcome: Outcome::Block(c, stop),
        }
    }

    /// The rules of the subgraph at `c` entered from `head` (first-match
    /// order); reaching `stop` falls through.
    fn child(&mut self, c: u16, stop: Option<u16>, head: u16, depth: usize) -> Vec<Rule> {
        if Some(c) == stop {
            return Vec::new();
        }
        if self.filter(c).is_none() {
            return vec![Rule {
                conditions: Vec::new(),
                outcome: Outcome::Terminal(c),
            }];
        }
        if self.inline(c, head) && depth < MAX_DEPTH {
            self.rules_from(c, stop, depth)
        } else {
            vec![self.use_block(c, stop)]
        }
    }

    /// Rules from `n` in first-match order.
    fn rules_from(&mut self, n: u16, stop: Option<u16>, depth: usize) -> Vec<Rule> {
        let mut out = Vec::new();
        let mut cur = n;
        loop {
            if Some(cur) == stop {
                break;
            }
            let Some((x, _)) = self.filter(cur) else {
                out.push(Rule {
                    conditions: Vec::new(),
                    outcome: Outcome::Terminal(cur),
                });
                break;
            };
            // The unmatch chain sharing the match target: one require-any.
            let mut group = vec![cur];
            let mut last = cur;
            while let Some((_, u)) = self.filter(last) {
                let joins = Some(u) != stop
                    && !self.block[usize::from(u)]
                    && self.filter(u).is_some_and(|(m, _)| m == x);
                if !joins {
                    break;
                }
                group.push(u);
                last = u;
            }
            let y = self.filter(last).map_or(last, |(_, u)| u);
            for mut r in self.child(x, Some(y), cur, depth + 1) {
                r.conditions.insert(0, group.clone());
                out.push(r);
            }
            if Some(y) == stop {
                break;
            }
            if self.filter(y).is_none() {
                out.push(Rule {
                    conditions: Vec::new(),
                    outcome: Outcome::Terminal(y),
                });
                break;
            }
            if !self.inline(y, cur) {
                out.push(self.use_block(y, stop));
                break;
            }
            cur = y;
        }
        out
    }
}

/// Every bucket's graph as rules, with shared subgraphs as blocks.
pub fn rules(p: &Profile) -> Rendering {
    let n = p.nodes.len();
    let root = n;
    let buckets = p.buckets();
    let mut succ: Vec<Vec<u32>> = p
        .nodes
        .iter()
        .map(|node| match *node {
            Node::Filter {
                matched, unmatched, ..
            } => vec![u32::from(matched), u32::from(unmatched)],
            Node::Terminal(_) => Vec::new(),
        })
        .collect();
    let mut roots: Vec<u32> = buckets.iter().map(|(b, _)| u32::from(*b)).collect();
    roots.extend(p.policies.iter().map(|&x| u32::from(x)));
    succ.push(roots);
    let idom = dominators(n + 1, root, &succ);
    let mut b = RuleBuilder {
        p,
        idom,
        block: vec![false; n],
        bucket: vec![false; n],
        used: Default::default(),
    };
    // Bucket roots are always rendered on their own.
    for (node, _) in &buckets {
        b.block[usize::from(*node)] = true;
        b.bucket[usize::from(*node)] = true;
    }
    for &node in &p.policies {
        b.block[usize::from(node)] = true;
    }
    // Render until no new block is needed (each pass adds at least one).
    loop {
        b.used.clear();
        let mut bucket_rules = Vec::new();
        for (node, ops) in &buckets {
            let mut rules = b.rules_from(*node, None, 0);
            rules.reverse();
            bucket_rules.push((*node, ops.clone(), rules));
        }
        // Blocks render and may use further blocks: to a fixed point.
        let mut blocks: Vec<(u16, Option<u16>, Vec<Rule>)> = Vec::new();
        let mut done: std::collections::BTreeSet<(u16, Option<u16>)> = Default::default();
        for &policy in &p.policies {
            b.used.insert((policy, None));
        }
        loop {
            let todo: Vec<(u16, Option<u16>)> = b
                .used
                .iter()
                .copied()
                .filter(|k| !done.contains(k) && !b.bucket[usize::from(k.0)])
                .collect();
            if todo.is_empty() {
                break;
            }
            for (c, stop) in todo {
                done.insert((c, stop));
                if b.filter(c).is_none() {
                    continue;
                }
                let mut rules = b.rules_from(c, stop, 0);
                rules.reverse();
                blocks.push((c, stop, rules));
            }
        }
        blocks.sort_by_key(|(c, stop, _)| (*c, *stop));
        let new: Vec<usize> = b
            .used
            .iter()
            .map(|&(c, _)| usize::from(c))
            .filter(|&i| !b.block[i])
            .collect();
        if new.is_empty() {
            let buckets = bucket_rules
                .into_iter()
                .map(|(node, operations, rules)| BucketRules {
                    node,
                    rule_operations: rule_operations(p, node, &operations),
                    operations,
                    rules,
                })
                .collect();
            return Rendering { buckets, blocks };
        }
        for i in new {
            b.block[i] = true;
        }
    }
}

/// The operations of a bucket that its rules name: an operation whose parent
/// shares its bucket inherits the rule, so only the others are named.
pub fn rule_operations(p: &Profile, node: u16, ops: &[OpId]) -> Vec<OpId> {
    ops.iter()
        .copied()
        .filter(|&o| {
            p.vocab
                .parent(o)
                .and_then(|parent| p.op_table.get(usize::from(parent)))
                != Some(&node)
        })
        .collect()
}

impl Rendering {
    /// The SBPL text of a rule in a bucket naming `ops` (in a block, `ops`
    /// is empty and the rule reads as in the block's procedure of
    /// `decode --sbpl`: for its caller's `ops`, under its caller's `req`).
    /// Several conditions are a `require-all`: they must all hold.
    pub fn rule_text(t: &mut Texts<'_>, ops: &str, rule: &Rule) -> String {
        let p = t.p;
        let conds: Vec<String> = rule.conditions.iter().map(|g| t.condition(g)).collect();
        let in_block = ops.is_empty();
        let cond = match (conds.len(), in_block) {
            (0, false) => None,
            (1, false) => Some(conds[0].clone()),
            (_, false) => Some(format!("(require-all {})", conds.join(" "))),
            (0, true) => Some("(require-all req)".to_owned()),
            (_, true) => Some(format!("(require-all req {})", conds.join(" "))),
        };
        match rule.outcome {
            Outcome::Terminal(n) => {
                let Node::Terminal(a) = p.nodes[usize::from(n)] else {
                    return String::new();
                };
                // The default op's own terminal, unconditionally: the default rule.
                let ops = if in_block {
                    "ops"
                } else if rule.conditions.is_empty() && p.op_table.first() == Some(&n) {
                    "default"
                } else {
                    ops
                };
                let mut parts: Vec<String> = cond.into_iter().collect();
                parts.extend(action_modifiers(p, &a));
                let mut text = format!("({} {ops}", verb(&a));
                for part in parts {
                    text.push(' ');
                    text.push_str(&part);
                }
                text.push(')');
                text
            }
            Outcome::Block(n, stop) => {
                let n = block_name(n, stop);
                let ops = if in_block {
                    "ops".to_owned()
                } else {
                    format!("'({ops})")
                };
                let req = match (in_block, conds.is_empty()) {
                    (true, true) => "req".to_owned(),
                    (true, false) => format!("(list req {})", conds.join(" ")),
                    (false, true) => "'()".to_owned(),
                    (false, false) => format!("(list {})", conds.join(" ")),
                };
                format!("({n} {ops} {req})")
            }
        }
    }
}

/// The SBPL name of the block at `node` up to `stop`: `node-N` or
/// `node-N-until-S`.
pub fn block_name(node: u16, stop: Option<u16>) -> String {
    match stop {
        None => format!("node-{node}"),
        Some(s) => format!("node-{node}-until-{s}"),
    }
}
