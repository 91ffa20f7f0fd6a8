//! A whole blob as an SBPL profile that sbcheck's compiler accepts and that
//! decides every operation as the blob does.
//!
//! The rules of [`super::render::rules`] form a decision list per bucket
//! (later rules win), where a rule may hand the decision to a shared
//! subgraph. Each bucket and each shared subgraph becomes one named
//! procedure `(define (node-N ops req) RULES)`: its rules are emitted for the
//! operations `ops`, each one guarded by `(require-all req CONDITIONS...)`,
//! and a rule that hands over calls `(node-M ops (list req CONDITIONS...))`.
//! A call therefore reads "where `req` holds, node M decides", which is what
//! the graph says; every node is written once however often it is reached.
//!
//! Operations: naming `file-read*` in SBPL also names every operation that
//! inherits from it, so each operation is called on its own bucket's
//! procedure, ancestors before descendants; every bucket's rules begin with
//! an unconditional one, so a descendant's call overrides what it inherited.
//!
//! Filters are written in the forms the compiler's table
//! ([`crate::sbpl::filters::forms`]) has for the filter: the literal,
//! prefix and regex forms of each name filter, `subpath` where the filter
//! has one (else a literal or a prefix ending in `/`), integer sets (the
//! mask variant) as `require-any` over their values. What has no form in
//! that table is written as a `filter#N` form and listed in
//! [`ProfileText::unexpressed`], so a caller knows the text will not compile.

use super::chain::{ChainRule, Chains, Expr};
use super::forms::{Form, FormKind};
use super::render::{self, Texts};
use super::{FilterArg, Node, Profile};
use crate::sbpl::filters::{self as sbpl_filters, ArgKind};
use crate::sbpl::rules::PathKind;
use crate::vocab::{OpId, Vocab};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// The rendered profile and what it could not say.
#[derive(Debug, Clone)]
pub struct ProfileText {
    pub text: String,
    /// Filters, operations and actions with no form the compiler accepts,
    /// one line each (`filter#93 (no form)`); empty when the text compiles
    /// to the blob's decisions.
    pub unexpressed: BTreeSet<String>,
    /// The blob's operations the text decides (by the blob's ids): every
    /// named one the compiler knows, less those skipped by
    /// [`RenderOptions::skip_unexpressible`].
    pub operations: Vec<OpId>,
}

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Render only these operations (the blob's ids); all when `None`. A
    /// profile too large for one blob is checked a part at a time.
    pub only: Option<BTreeSet<OpId>>,
    /// Leave out the operations whose graph reaches a filter with no
    /// compiler form, so that the rest compiles (a round-trip check of
    /// what can be checked).
    pub skip_unexpressible: bool,
}

/// Renders `p` (its current bundle profile) as one SBPL profile.
pub fn profile_text(p: &Profile) -> ProfileText {
    profile_text_with(p, RenderOptions::default())
}

pub fn profile_text_with(p: &Profile, options: RenderOptions) -> ProfileText {
    let mut w = Writer {
        p,
        texts: Texts::new(p),
        compiler: Vocab::macos_14(),
        unexpressed: BTreeSet::new(),
        bad: vec![false; p.nodes.len()],
        options,
        operations: Vec::new(),
    };
    let text = w.profile();
    ProfileText {
        text,
        unexpressed: w.unexpressed,
        operations: w.operations,
    }
}

/// Whether a node marked in `bad` is reachable from `root`.
fn reaches(p: &Profile, root: u16, bad: &[bool]) -> bool {
    let mut seen = vec![false; p.nodes.len()];
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let i = usize::from(n);
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        if bad[i] {
            return true;
        }
        if let Node::Filter {
            matched, unmatched, ..
        } = p.nodes[i]
        {
            stack.extend([matched, unmatched]);
        }
    }
    false
}

struct Writer<'p> {
    p: &'p Profile,
    texts: Texts<'p>,
    /// The vocabulary the compiler names operations in.
    compiler: &'static Vocab,
    unexpressed: BTreeSet<String>,
    /// Filter nodes with no compiler form.
    bad: Vec<bool>,
    options: RenderOptions,
    operations: Vec<OpId>,
}

impl Writer<'_> {
    fn profile(&mut self) -> String {
        let p = self.p;
        let mut s = String::from("(version 1)\n");
        let _ = writeln!(
            s,
            ";; rendered by sbcheck from a {} blob ({}); chain-N: the rules from node N on",
            p.format.name(),
            p.vocab.release
        );
        s.push_str(&self.default_rule());
        let mut chains = Chains::new(p);
        // Every rule start reachable from a bucket, and how many ways in.
        let mut roots: Vec<u16> = p.op_table.iter().skip(1).copied().collect();
        roots.sort_unstable();
        roots.dedup();
        let mut ways_in: HashMap<u16, usize> = HashMap::new();
        let mut rules: BTreeMap<u16, ChainRule> = BTreeMap::new();
        for &root in &roots {
            *ways_in.entry(root).or_default() += 1;
            let mut at = Some(root);
            while let Some(n) = at {
                if rules.contains_key(&n) {
                    break;
                }
                match chains.rule_at(n) {
                    Ok(rule) => {
                        at = rule.next;
                        if let Some(next) = rule.next {
                            *ways_in.entry(next).or_default() += 1;
                        }
                        rules.insert(n, rule);
                    }
                    Err(why) => {
                        self.bad[usize::from(n)] = true;
                        self.unexpressed.insert(format!("graph shape: {why}"));
                        at = None;
                    }
                }
            }
        }
        let shared = |n: u16| ways_in.get(&n).copied().unwrap_or(0) >= 2;
        // Each procedure's body, in SBPL order; rendering marks what has no
        // compiler form, which decides which operations are called.
        let mut bodies: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for (&start, rule) in &rules {
            if shared(start) {
                let body = self.chain_text(&rules, start, "ops", &shared);
                bodies.insert(start, body);
            } else {
                // Written in place later, but marked now.
                self.rule(rule, "ops");
            }
        }
        let calls = self.calls();
        for (start, body) in &bodies {
            let _ = writeln!(s, "(define (chain-{start} ops)");
            for line in body.iter().flat_map(|l| l.lines()) {
                let _ = writeln!(s, "  {line}");
            }
            s.push_str(")\n");
        }
        // Procedures are defined before any call, so a call can reach any.
        for (ops, node) in &calls {
            let names = ops.join(" ");
            if shared(*node) {
                let _ = writeln!(s, "(chain-{node} '({names}))");
            } else {
                for line in self.chain_text(&rules, *node, &names, &shared) {
                    let _ = writeln!(s, "{line}");
                }
            }
        }
        s
    }

    /// The rules from `start` in SBPL order for `ops`, up to the next
    /// shared chain, which is called first (earlier rules lose).
    fn chain_text(
        &mut self,
        rules: &BTreeMap<u16, ChainRule>,
        start: u16,
        ops: &str,
        shared: &dyn Fn(u16) -> bool,
    ) -> Vec<String> {
        let quoted = if ops == "ops" {
            ops.to_owned()
        } else {
            format!("'({ops})")
        };
        let mut lines = Vec::new();
        let mut at = Some(start);
        while let Some(n) = at {
            if n != start && shared(n) {
                lines.push(format!("(chain-{n} {quoted})"));
                break;
            }
            let Some(rule) = rules.get(&n) else { break };
            lines.push(self.rule(rule, ops));
            at = rule.next;
        }
        lines.reverse();
        lines
    }

    /// `(deny default)` from op 0's terminal.
    fn default_rule(&mut self) -> String {
        let p = self.p;
        let Some(&root) = p.op_table.first() else {
            return String::new();
        };
        match p.nodes.get(usize::from(root)) {
            Some(Node::Terminal(a)) => {
                let mods = self.modifiers(a);
                format!("({} default{})\n", render::verb(a), mods.0)
            }
            _ => {
                self.unexpressed
                    .insert("the default operation has filters".into());
                "(deny default)\n".into()
            }
        }
    }

    /// The calls that give each operation its bucket's rules, in order.
    /// Naming an operation in SBPL also names those that inherit from it,
    /// so an operation is named only where its parent's bucket differs
    /// (or no wildcard covers it), and it is named after every call that
    /// names one of its ancestors, so that its own rules come later and win.
    fn calls(&mut self) -> Vec<(Vec<String>, u16)> {
        let p = self.p;
        let c = self.compiler;
        // Compiler id -> the blob's bucket, for every operation rendered.
        let mut bucket_of: std::collections::HashMap<OpId, u16> = Default::default();
        let mut items: Vec<(usize, OpId, &'static str, u16)> = Vec::new();
        for (op, &node) in p.op_table.iter().enumerate().skip(1) {
            let op = op as OpId;
            let Some(name) = p.vocab.op_name(op) else {
                self.unexpressed.insert(format!(
                    "{} (no name in {})",
                    p.vocab.op_label(op),
                    p.vocab.release
                ));
                continue;
            };
            let Some(id) = c.op_id(name) else {
                self.unexpressed
                    .insert(format!("operation {name} (not in {})", c.release));
                continue;
            };
            if self.options.skip_unexpressible && reaches(p, node, &self.bad) {
                continue;
            }
            if self
                .options
                .only
                .as_ref()
                .is_some_and(|only| !only.contains(&op))
            {
                continue;
            }
            self.operations.push(op);
            bucket_of.insert(id, node);
            items.push((c.lineage(id).count(), id, name, node));
        }
        items.sort();
        let mut calls: Vec<(Vec<String>, u16)> = Vec::new();
        let mut placed: std::collections::HashMap<OpId, usize> = Default::default();
        for (_, id, name, node) in items {
            let parent = c.parent(id).filter(|&a| a != crate::vocab::op::DEFAULT);
            // Top-level operations are always named: `(deny default)` brings
            // compiler-added rules with it.
            let covered =
                parent.is_some_and(|a| bucket_of.get(&a) == Some(&node)) && !c.named_only(id);
            if covered {
                continue;
            }
            let after = c
                .lineage(id)
                .skip(1)
                .filter_map(|a| placed.get(&a))
                .map(|&k| k + 1)
                .max()
                .unwrap_or(0);
            let at = match (after..calls.len()).find(|&k| calls[k].1 == node) {
                Some(k) => {
                    calls[k].0.push(name.to_owned());
                    k
                }
                None => {
                    calls.push((vec![name.to_owned()], node));
                    calls.len() - 1
                }
            };
            placed.insert(id, at);
        }
        calls
    }

    /// One chain step for `ops` (`ops` inside a procedure): a rule per
    /// terminal it decides (their conditions exclude each other).
    fn rule(&mut self, rule: &ChainRule, ops: &str) -> String {
        let mut lines = Vec::new();
        for (condition, terminal) in &rule.branches {
            let Node::Terminal(a) = self.p.nodes[usize::from(*terminal)] else {
                continue;
            };
            let mods = self.modifiers(&a);
            if mods.1 {
                self.bad[usize::from(*terminal)] = true;
            }
            // An empty require-all: a filter that always holds. An
            // unfiltered rule would only be a fallback (the compiler's
            // precedence, docs/compiler.md): tried after every filtered
            // rule of the operation's families, wherever it stands, where
            // the graph says this rule decides here, in its place.
            let cond = match condition {
                Expr::True => " (require-all)".to_owned(),
                e => format!(" {}", self.expr(e)),
            };
            lines.push(format!("({} {ops}{cond}{})", render::verb(&a), mods.0));
        }
        lines.join("\n")
    }

    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::True => "(require-all)".to_owned(),
            Expr::False => "(require-any)".to_owned(),
            Expr::Leaf(n) => self.filter(*n),
            Expr::Not(inner) => format!("(require-not {})", self.expr(inner)),
            Expr::All(parts) => {
                let parts: Vec<String> = parts.iter().map(|x| self.expr(x)).collect();
                format!("(require-all {})", parts.join(" "))
            }
            Expr::Any(parts) => {
                let parts: Vec<String> = parts.iter().map(|x| self.expr(x)).collect();
                format!("(require-any {})", parts.join(" "))
            }
        }
    }

    /// The action's `(with ...)` forms, each led by a space, and whether
    /// one of them has no compiler form.
    fn modifiers(&mut self, a: &super::Action) -> (String, bool) {
        let mut out = String::new();
        let mut bad = false;
        for m in render::action_modifiers(self.p, a) {
            let name = m
                .trim_start_matches("(with ")
                .split([' ', ')'])
                .next()
                .unwrap_or("");
            if sbpl_filters::with_option(name).is_none() {
                self.unexpressed
                    .insert(format!("modifier {name}: no compiler form"));
                bad = true;
            }
            out.push(' ');
            out.push_str(&m);
        }
        (out, bad)
    }

    /// Filter node `node` in a form the compiler accepts; without one, as
    /// the decoder reads it, and the node is marked.
    fn filter(&mut self, node: u16) -> String {
        if let Some(text) = compilable_filter(&mut self.texts, node) {
            return text;
        }
        let p = self.p;
        self.bad[usize::from(node)] = true;
        let (label, kind) = match p.nodes.get(usize::from(node)) {
            Some(Node::Filter { filter, .. }) => (
                p.vocab.filter_label(*filter),
                match p.args[usize::from(node)] {
                    FilterArg::Pattern(_) => "pattern",
                    FilterArg::Regex(_) => "regex",
                    FilterArg::Int(_) => "integer",
                    FilterArg::Bitmap(_) => "integer set",
                    FilterArg::Str(_) => "string",
                    FilterArg::Unknown(_) | FilterArg::None => "unread",
                },
            ),
            _ => (String::new(), "no"),
        };
        self.unexpressed.insert(format!(
            "filter {label} ({kind} argument): no compiler form"
        ));
        self.texts.raw_filter_sbpl(node)
    }
}

/// Filter node `node` in a form the compiler's table has for its filter,
/// or `None` when it has none.
pub fn compilable_filter(texts: &mut Texts<'_>, node: u16) -> Option<String> {
    let p = texts.profile();
    let Some(Node::Filter { filter, .. }) = p.nodes.get(usize::from(node)).copied() else {
        return None;
    };
    let label = p.vocab.filter_name(filter)?;
    match p.args[usize::from(node)] {
        FilterArg::Pattern(k) => pattern(texts, label, k),
        FilterArg::Regex(k) => {
            let text = regex_source(&p.regexes[usize::from(k)].regex.render())?;
            Some(format!("({} #\"{text}\")", regex_form(label)?))
        }
        FilterArg::Int(v) => int_form(label).map(|(f, consts)| int_text(f, consts, label, v)),
        FilterArg::Bitmap(k) => int_form(label).map(|(f, consts)| {
            let values: Vec<String> = p.bitmaps[k as usize]
                .ranges()
                .iter()
                .flat_map(|&(lo, hi)| lo..=hi)
                .map(|v| int_text(f, consts, label, v as u16))
                .collect();
            format!("(require-any {})", values.join(" "))
        }),
        FilterArg::Str(k) => form_for(label, |a| a == ArgKind::Str).map(|f| {
            format!(
                "({f} {})",
                super::pattern::quote(&p.strings[k as usize].bytes)
            )
        }),
        FilterArg::Unknown(_) | FilterArg::None => None,
    }
}

/// A pattern item as the union of its forms.
fn pattern(texts: &mut Texts<'_>, label: &str, k: u32) -> Option<String> {
    let forms = texts.pattern_forms(k).clone().ok()?;
    let vars = |v: u8| texts.var_name(v);
    let mut parts = Vec::new();
    for form in &forms {
        parts.push(pattern_form(label, form, &vars)?);
    }
    Some(match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("(require-any {})", parts.join(" ")),
    })
}
/// The compiler's form for `filter` whose argument is `want`.
fn form_for(filter: &str, want: impl Fn(ArgKind) -> bool) -> Option<&'static str> {
    sbpl_filters::forms()
        .find(|f| f.filter == filter && want(f.arg))
        .map(|f| f.name)
}

fn regex_form(filter: &str) -> Option<&'static str> {
    form_for(filter, |a| a == ArgKind::Regex)
}

fn int_form(filter: &str) -> Option<(&'static str, &'static [(&'static str, i64)])> {
    let f =
        sbpl_filters::forms().find(|f| f.filter == filter && matches!(f.arg, ArgKind::Int(_)))?;
    match f.arg {
        ArgKind::Int(consts) => Some((f.name, consts)),
        _ => None,
    }
}

/// `(socket-domain AF_INET)`: the symbol where exactly one of the
/// compiler's constants has the value, else the number.
fn int_text(form: &str, consts: &[(&str, i64)], filter: &str, v: u16) -> String {
    let sym = render::int_symbol(filter, v)
        .filter(|s| sbpl_filters::constant(consts, s) == Some(i64::from(v)))
        .filter(|_| consts.iter().filter(|(_, x)| *x == i64::from(v)).count() == 1);
    match sym {
        Some(sym) => format!("({form} {sym})"),
        None => format!("({form} {v})"),
    }
}

/// One pattern form in the compiler's vocabulary for `filter`.
fn pattern_form(filter: &str, form: &Form, vars: &dyn Fn(u8) -> String) -> Option<String> {
    let with = |kind: PathKind| form_for(filter, |a| a == ArgKind::Pattern(kind));
    let quoted = form.text(vars);
    match form.kind {
        FormKind::Literal => Some(format!("({} {quoted})", with(PathKind::Literal)?)),
        FormKind::Prefix => Some(format!("({} {quoted})", with(PathKind::Prefix)?)),
        FormKind::Subpath => match with(PathKind::Subpath) {
            Some(f) => Some(format!("({f} {quoted})")),
            None => {
                // {X, X/...}: the literal and the prefix with the slash.
                let lit = with(PathKind::Literal)?;
                let prefix = with(PathKind::Prefix)?;
                let slash = format!("{}/\"", quoted.strip_suffix('"')?);
                Some(format!("(require-any ({lit} {quoted}) ({prefix} {slash}))"))
            }
        },
        FormKind::Regex => Some(format!(
            "({} #\"{}\")",
            regex_form(filter)?,
            regex_source(&quoted)?
        )),
    }
}

/// Regex text as the compiler reads it: the compiler takes bytes as they
/// are, not `\xHH`, so escaped bytes are written out (a run of them as the
/// UTF-8 text it spells). `None` when the bytes are not UTF-8 (the source
/// is text) or the text holds a `"`, which would end `#"..."`.
pub fn regex_source(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let raw = text.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1)) {
            (b'\\', Some(b'x')) => {
                let hex = std::str::from_utf8(raw.get(i + 2..i + 4)?).ok()?;
                let b = u8::from_str_radix(hex, 16).ok()?;
                // Only bytes outside printable ASCII are escaped this way,
                // none of them special to a regex.
                bytes.push(b);
                i += 4;
            }
            (b'\\', Some(&c)) => {
                bytes.extend_from_slice(&[b'\\', c]);
                i += 2;
            }
            (b'"', _) => return None,
            (c, _) => {
                bytes.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(bytes).ok()
}
