//! A bucket's graph read back as the rule chain a compiler builds.
//!
//! A compiler lays an operation's rules out latest first: the filter of
//! rule k is a small subgraph whose paths end either at the rule's terminal
//! or at the first node of rule k-1 (the *continuation*), and so on down to
//! the unfiltered rule. Reading the chain back: from a node `r`, the rule
//! that starts there ends where a candidate continuation `c` (in
//! breadth-first order from `r`) closes a region: every path from `r` that
//! does not pass `c` stays within a few nodes and ends at one terminal.
//! The rule is then "that terminal where the region's paths reach it
//! before `c`", a formula over the region (require-all / require-any /
//! require-not, as the edges say), and the chain goes on at `c`.
//!
//! Any closing `c` gives a correct rule (the region decides its terminal or
//! hands over to `c`); the first is the smallest. A region never needs
//! more than [`REGION_LIMIT`] nodes in Apple's blobs; a graph that has no
//! closing node within it is reported, not guessed.

use super::{Node, Profile};
use std::collections::{HashMap, HashSet, VecDeque};

/// The most nodes one rule's filter may span.
pub const REGION_LIMIT: usize = 512;

/// A rule's condition over filter nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    True,
    False,
    /// The filter at this node holds.
    Leaf(u16),
    Not(Box<Expr>),
    All(Vec<Expr>),
    Any(Vec<Expr>),
}

impl Expr {
    fn not(e: Expr) -> Expr {
        match e {
            Expr::True => Expr::False,
            Expr::False => Expr::True,
            Expr::Not(inner) => *inner,
            e => Expr::Not(Box::new(e)),
        }
    }

    fn all(a: Expr, b: Expr) -> Expr {
        match (a, b) {
            (Expr::False, _) | (_, Expr::False) => Expr::False,
            (Expr::True, e) | (e, Expr::True) => e,
            (Expr::All(mut x), Expr::All(y)) => {
                x.extend(y);
                Expr::All(x)
            }
            (Expr::All(mut x), e) => {
                x.push(e);
                Expr::All(x)
            }
            (e, Expr::All(mut y)) => {
                y.insert(0, e);
                Expr::All(y)
            }
            (a, b) => Expr::All(vec![a, b]),
        }
    }

    fn any(a: Expr, b: Expr) -> Expr {
        match (a, b) {
            (Expr::True, _) | (_, Expr::True) => Expr::True,
            (Expr::False, e) | (e, Expr::False) => e,
            (Expr::Any(mut x), Expr::Any(y)) => {
                x.extend(y);
                Expr::Any(x)
            }
            (Expr::Any(mut x), e) => {
                x.push(e);
                Expr::Any(x)
            }
            (e, Expr::Any(mut y)) => {
                y.insert(0, e);
                Expr::Any(y)
            }
            (a, b) => Expr::Any(vec![a, b]),
        }
    }

    /// How many parts the condition has.
    pub fn size(&self) -> usize {
        match self {
            Expr::Not(e) => 1 + e.size(),
            Expr::All(v) | Expr::Any(v) => 1 + v.iter().map(Expr::size).sum::<usize>(),
            _ => 1,
        }
    }

    /// The filter nodes the condition tests.
    pub fn leaves(&self, out: &mut Vec<u16>) {
        match self {
            Expr::Leaf(n) => out.push(*n),
            Expr::Not(e) => e.leaves(out),
            Expr::All(v) | Expr::Any(v) => v.iter().for_each(|e| e.leaves(out)),
            Expr::True | Expr::False => {}
        }
    }
}

/// One step of a chain: where a branch's condition holds, its terminal
/// decides (the conditions exclude each other: a walk ends at one
/// terminal); elsewhere the chain goes on at `next` (none at its end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRule {
    /// The node the step starts at.
    pub start: u16,
    /// (condition, terminal node), in the order the terminals were met.
    pub branches: Vec<(Expr, u16)>,
    pub next: Option<u16>,
}

/// The most parts the formulas of one step may have.
const FORMULA_BUDGET: usize = 4096;

/// The most terminals one step may decide between.
const TERMINAL_LIMIT: usize = 8;

/// The rules starting at each node, computed once.
pub struct Chains<'p> {
    p: &'p Profile,
    rules: HashMap<u16, Result<ChainRule, String>>,
}

impl<'p> Chains<'p> {
    pub fn new(p: &'p Profile) -> Self {
        Chains {
            p,
            rules: HashMap::new(),
        }
    }

    fn edges(&self, n: u16) -> Option<(u16, u16)> {
        match self.p.nodes.get(usize::from(n))? {
            Node::Filter {
                matched, unmatched, ..
            } => Some((*matched, *unmatched)),
            Node::Terminal(_) => None,
        }
    }

    /// The rule that starts at `r`, or why none could be read.
    pub fn rule_at(&mut self, r: u16) -> Result<ChainRule, String> {
        if let Some(done) = self.rules.get(&r) {
            return done.clone();
        }
        let rule = self.read_rule(r);
        self.rules.insert(r, rule.clone());
        rule
    }

    fn read_rule(&self, r: u16) -> Result<ChainRule, String> {
        if self.edges(r).is_none() {
            return Ok(ChainRule {
                start: r,
                branches: vec![(Expr::True, r)],
                next: None,
            });
        }
        // Candidates in breadth-first order from r.
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([r]);
        seen.insert(r);
        while let Some(n) = queue.pop_front() {
            if n != r {
                order.push(n);
            }
            if order.len() > REGION_LIMIT {
                break;
            }
            if let Some((m, u)) = self.edges(n) {
                for s in [m, u] {
                    if seen.insert(s) {
                        queue.push_back(s);
                    }
                }
            }
        }
        // Filter nodes first (in breadth-first order), then terminals, the
        // farthest first: at a chain's end `A -> T / D` reads "T where A,
        // then D", not "D where not A, then T".
        let is_filter = |n: &u16| self.edges(*n).is_some();
        let terminals: Vec<u16> = order
            .iter()
            .rev()
            .copied()
            .filter(|n| !is_filter(n))
            .collect();
        order.retain(is_filter);
        order.extend(terminals);
        // Before those, the nodes down r's unmatch chain, the farthest
        // first: where a compiler's rule hands over (its filters' unmatch
        // edges), so the rule reads whole, `(require-all A B C)` rather
        // than "deny unless A" three times.
        let mut down = Vec::new();
        let mut at = r;
        while let Some((_, u)) = self.edges(at) {
            if down.len() >= 16 || down.contains(&u) {
                break;
            }
            down.push(u);
            at = u;
        }
        down.reverse();
        order.retain(|n| !down.contains(n));
        down.extend(order);
        let order = down;
        // A continuation that is a terminal is the unfiltered rule after
        // this one; with none, the region is the rest of the graph.
        let candidates = order.iter().map(|&c| Some(c)).chain([None]);
        for c in candidates {
            if let Some(terminals) = self.closes(r, c) {
                // A region whose formulas grow past the budget (sharing
                // inside it written out) is passed over for a larger one.
                let mut budget = FORMULA_BUDGET;
                let branches: Option<Vec<(Expr, u16)>> = terminals
                    .into_iter()
                    .map(|t| {
                        let mut memo = HashMap::new();
                        Some((self.formula(r, t, c, &mut memo, &mut budget)?, t))
                    })
                    .collect();
                let Some(branches) = branches else { continue };
                return Ok(ChainRule {
                    start: r,
                    branches,
                    next: c,
                });
            }
        }
        Err(format!(
            "node {r}: no rule region of at most {REGION_LIMIT} nodes"
        ))
    }

    /// The terminals the paths from `r` reach when they do not pass `c`,
    /// if those paths stay within the limits (and, given a `c`, some of
    /// them reach it).
    fn closes(&self, r: u16, c: Option<u16>) -> Option<Vec<u16>> {
        let mut terminals: Vec<u16> = Vec::new();
        let mut seen = HashSet::from([r]);
        let mut stack = vec![r];
        let mut reaches_c = c.is_none();
        while let Some(n) = stack.pop() {
            let Some((m, u)) = self.edges(n) else {
                if !terminals.contains(&n) {
                    terminals.push(n);
                    if terminals.len() > TERMINAL_LIMIT {
                        return None;
                    }
                }
                continue;
            };
            for s in [m, u] {
                if Some(s) == c {
                    reaches_c = true;
                } else if seen.insert(s) {
                    if seen.len() > REGION_LIMIT {
                        return None;
                    }
                    stack.push(s);
                }
            }
        }
        terminals.sort_unstable();
        reaches_c.then_some(terminals)
    }

    /// "Reaches `t` before `c`" from `n`, as a formula.
    fn formula(
        &self,
        n: u16,
        t: u16,
        c: Option<u16>,
        memo: &mut HashMap<u16, (Expr, usize)>,
        budget: &mut usize,
    ) -> Option<Expr> {
        if n == t {
            return Some(Expr::True);
        }
        if Some(n) == c {
            return Some(Expr::False);
        }
        if let Some((e, size)) = memo.get(&n) {
            *budget = budget.checked_sub(*size)?;
            return Some(e.clone());
        }
        let Some((m, u)) = self.edges(n) else {
            return Some(Expr::False);
        };
        *budget = budget.checked_sub(1)?;
        let em = self.formula(m, t, c, memo, budget)?;
        let eu = self.formula(u, t, c, memo, budget)?;
        let a = Expr::Leaf(n);
        let e = if em == eu {
            em
        } else {
            match (&em, &eu) {
                (_, Expr::False) => Expr::all(a, em),
                (Expr::True, _) => Expr::any(a, eu),
                (Expr::False, _) => Expr::all(Expr::not(a), eu),
                (_, Expr::True) => Expr::any(Expr::not(a), em),
                _ => Expr::any(Expr::all(a.clone(), em), Expr::all(Expr::not(a), eu)),
            }
        };
        memo.insert(n, (e.clone(), e.size()));
        Some(e)
    }

    /// The chain from `r`: its rules in first-match order.
    pub fn chain(&mut self, r: u16) -> Result<Vec<ChainRule>, String> {
        let mut out = Vec::new();
        let mut at = Some(r);
        while let Some(n) = at {
            let rule = self.rule_at(n)?;
            at = rule.next;
            out.push(rule);
            if out.len() > self.p.nodes.len() + 1 {
                return Err(format!("node {r}: the chain does not end"));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &[u8] =
        include_bytes!("../../profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin");
    const TRIPLE: &[u8] =
        include_bytes!("../../profiles/apple/macos-14.4.1/triple_all_inet_dgram_tcp.sb.bin");

    #[test]
    fn a_bucket_reads_as_its_rules_and_hands_over_to_the_default() {
        // Node 3: /etc/hosts -> 6 (deny) / 4; 4: the subpath -> allow / 6.
        let p = Profile::decode(GOLDEN).unwrap();
        let mut c = Chains::new(&p);
        let chain = c.chain(3).unwrap();
        assert_eq!(chain.len(), 2, "{chain:?}");
        let first = &chain[0];
        assert_eq!(first.next, Some(6));
        assert_eq!(first.branches.len(), 1);
        let (cond, terminal) = &first.branches[0];
        assert!(matches!(p.nodes[usize::from(*terminal)], Node::Terminal(a) if !a.is_deny()));
        assert_eq!(
            *cond,
            Expr::All(vec![Expr::Not(Box::new(Expr::Leaf(3))), Expr::Leaf(4)])
        );
        assert_eq!(chain[1].branches, vec![(Expr::True, 6)]);
    }

    #[test]
    fn three_conditions_in_a_row_are_one_require_all() {
        let p = Profile::decode(TRIPLE).unwrap();
        let root = p.op_table[usize::from(crate::vocab::op::NETWORK_OUTBOUND)];
        let rule = Chains::new(&p).rule_at(root).unwrap();
        let mut all = None;
        for (cond, _) in &rule.branches {
            let mut stack = vec![cond];
            while let Some(e) = stack.pop() {
                match e {
                    Expr::All(parts) if parts.len() == 3 => all = Some(parts.clone()),
                    Expr::All(v) | Expr::Any(v) => stack.extend(v),
                    Expr::Not(x) => stack.push(x),
                    _ => {}
                }
            }
        }
        let parts = all.expect("a require-all of the three socket filters");
        assert!(parts.iter().all(|e| matches!(e, Expr::Leaf(_))));
    }
}
