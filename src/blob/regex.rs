//! AppleMatch regexes: the NFA bytecode of the regex table.
//!
//! **v3** (macOS 12+ / iOS 15+), item = `u32 BE 3 | u16 code_len | code`,
//! addresses absolute offsets into `code`:
//!
//! ```text
//! 02 c        the byte c            19  ^ (pos == 0)        29  $ (pos == len)
//! 2f lo hi    fork: pc + 3 and target                        0a lo hi  jump
//! Nb pairs    class of N (high nibble) lo-hi pairs; lo > hi wraps ([^/] = 1b 30 2e)
//! 09          any byte              15 00  match
//! ```
//!
//! **v1** (Mac OS X 10.6), item = `u32 LE length | BE u32 words`: version 1,
//! node count, start, end, class count, submatch count, then nodes `{type,
//! next, arg}` and classes `{n, lo/hi x n/2}`.
//!
//! Matching is a Pike VM (a set of program counters advanced in lock step
//! over the input) with search semantics, as the kernel applies a regex:
//! a thread starts at every position and accepting needs no end anchor. Work
//! is O(len x program), whatever the regex.

use super::program::{regex_char, ByteSet};
use super::{DecodeError, Reader};

/// A decoded regex of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regex {
    V3(V3),
    V1(V1),
}

impl Regex {
    pub fn matches(&self, input: &[u8]) -> bool {
        match self {
            Regex::V3(r) => r.matches(input),
            Regex::V1(r) => r.matches(input),
        }
    }

    /// The regex as text (`^/private/var/(mobile|...)`).
    pub fn render(&self) -> String {
        match self {
            Regex::V3(r) => r.render(),
            Regex::V1(r) => r.render(),
        }
    }
}

/// One v3 instruction; targets are instruction indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Char(u8),
    Any,
    Bol,
    Eol,
    Class(u16),
    Fork(u32),
    Jump(u32),
    Match,
}

/// A decoded AppleMatch v3 program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3 {
    pub ops: Vec<Op>,
    /// Byte offset of each instruction in the code.
    pub pcs: Vec<u16>,
    pub sets: Vec<ByteSet>,
}

/// Marks "past the last instruction" (no thread survives there).
const PAST_END: u32 = u32::MAX;

impl V3 {
    /// Decodes an item (its bytes after the u16 length).
    pub fn decode(item: &[u8]) -> Result<V3, DecodeError> {
        let r = Reader::new(item);
        let version = r.u32_be(0, || "regex version".into())?;
        if version != 3 {
            return Err(DecodeError::invalid(
                0,
                "regex version",
                format!("expected 3, found {version}"),
            ));
        }
        let len = usize::from(r.u16(4, || "regex code length".into())?);
        let code = r.slice(6, len, || "regex code".into())?;
        if 6 + len != item.len() {
            return Err(DecodeError::invalid(
                6 + len,
                "regex",
                format!("{} bytes after the code", item.len() - 6 - len),
            ));
        }
        let mut v = V3 {
            ops: Vec::new(),
            pcs: Vec::new(),
            sets: Vec::new(),
        };
        let cr = Reader::new(code);
        let at = |pc: usize| move || format!("regex code byte {pc}");
        let mut raw_targets = Vec::new();
        let mut pc = 0;
        while pc < code.len() {
            let op = code[pc];
            let (decoded, size, target) = match op {
                0x02 => (Op::Char(cr.u8(pc + 1, at(pc))?), 2, None),
                0x09 => (Op::Any, 1, None),
                0x19 => (Op::Bol, 1, None),
                0x29 => (Op::Eol, 1, None),
                0x2f => (Op::Fork(0), 3, Some(cr.u16(pc + 1, at(pc))?)),
                0x0a => (Op::Jump(0), 3, Some(cr.u16(pc + 1, at(pc))?)),
                0x15 => {
                    cr.u8(pc + 1, at(pc))?;
                    (Op::Match, 2, None)
                }
                _ if op & 0x0f == 0x0b => {
                    let n = usize::from(op >> 4);
                    let pairs = cr.slice(pc + 1, 2 * n, at(pc))?;
                    v.sets.push(ByteSet::from_pairs(pairs));
                    (Op::Class(v.sets.len() as u16 - 1), 1 + 2 * n, None)
                }
                _ => {
                    return Err(DecodeError::invalid(
                        6 + pc,
                        "regex",
                        format!("unknown opcode {op:#04x}"),
                    ))
                }
            };
            v.ops.push(decoded);
            v.pcs.push(pc as u16);
            raw_targets.push(target);
            pc += size;
        }
        for (k, target) in raw_targets.into_iter().enumerate() {
            let Some(t) = target else { continue };
            let Ok(index) = v.pcs.binary_search(&t) else {
                return Err(DecodeError::invalid(
                    6 + usize::from(v.pcs[k]),
                    "regex",
                    format!("branch target {t} is not an instruction"),
                ));
            };
            v.ops[k] = match v.ops[k] {
                Op::Fork(_) => Op::Fork(index as u32),
                _ => Op::Jump(index as u32),
            };
        }
        Ok(v)
    }

    fn next(&self, i: usize) -> u32 {
        if i + 1 < self.ops.len() {
            (i + 1) as u32
        } else {
            PAST_END
        }
    }

    /// Whether the regex matches somewhere in `input`.
    pub fn matches(&self, input: &[u8]) -> bool {
        let n = self.ops.len();
        let mut cur: Vec<u32> = Vec::with_capacity(n);
        let mut next: Vec<u32> = Vec::with_capacity(n);
        let mut mark = vec![u32::MAX; n];
        let mut stack: Vec<u32> = Vec::with_capacity(n);
        for pos in 0..=input.len() {
            // Add a thread at the start (search), then close over epsilons.
            stack.clear();
            stack.extend(cur.iter().rev());
            stack.push(0);
            cur.clear();
            let stamp = pos as u32;
            while let Some(i) = stack.pop() {
                let Some(&op) = self.ops.get(i as usize) else {
                    continue;
                };
                if mark[i as usize] == stamp {
                    continue;
                }
                mark[i as usize] = stamp;
                match op {
                    Op::Match => return true,
                    Op::Fork(t) => {
                        stack.push(t);
                        stack.push(self.next(i as usize));
                    }
                    Op::Jump(t) => stack.push(t),
                    Op::Bol if pos == 0 => stack.push(self.next(i as usize)),
                    Op::Eol if pos == input.len() => stack.push(self.next(i as usize)),
                    Op::Bol | Op::Eol => {}
                    Op::Char(_) | Op::Any | Op::Class(_) => cur.push(i),
                }
            }
            let Some(&c) = input.get(pos) else { break };
            next.clear();
            for &i in &cur {
                let hit = match self.ops[i as usize] {
                    Op::Char(x) => x == c,
                    Op::Any => true,
                    Op::Class(k) => self.sets[usize::from(k)].contains(c),
                    _ => false,
                };
                if hit {
                    next.push(self.next(i as usize));
                }
            }
            std::mem::swap(&mut cur, &mut next);
        }
        false
    }

    fn successors(&self, i: usize) -> Vec<u32> {
        match self.ops[i] {
            Op::Match => vec![],
            Op::Fork(t) => vec![self.next(i), t],
            Op::Jump(t) => vec![t],
            _ => vec![self.next(i)],
        }
    }

    /// The regex as text. Loops are recognised by their shape (a fork whose
    /// target follows a jump back to it is `(...)*`; a fork followed by a jump
    /// back to earlier code is `(...)+`); other forks are alternations that
    /// end at the fork's immediate post-dominator.
    pub fn render(&self) -> String {
        if self.ops.len() > RENDER_LIMIT {
            return format!("(?#{} instructions: not rendered)", self.ops.len());
        }
        let ipdom = self.post_dominators();
        let mut r = Renderer {
            rx: self,
            ipdom,
            depth: 0,
            budget: 100_000,
        };
        r.seq(0, PAST_END)
            .or_else(|| eliminate(self))
            .unwrap_or_else(|| "(?#too complex to render)".to_owned())
    }

    /// Immediate post-dominator of each instruction (`PAST_END` = exit).
    fn post_dominators(&self) -> Vec<u32> {
        let n = self.ops.len();
        let exit = n; // virtual node
                      // Dominators of the reversed graph, rooted at the exit: its edges
                      // run from each instruction to its predecessors.
        let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n + 1];
        for i in 0..n {
            let succ = self.successors(i);
            if succ.is_empty() {
                preds[exit].push(i as u32);
            }
            for s in succ {
                let s = if s == PAST_END { exit } else { s as usize };
                preds[s].push(i as u32);
            }
        }
        let idom = super::render::dominators(n + 1, exit, &preds);
        (0..n)
            .map(|i| match idom[i] {
                Some(d) if d as usize != exit => d,
                _ => PAST_END,
            })
            .collect()
    }
}

/// A regex text under construction: whether it is an alternation at top
/// level decides whether it needs parentheses inside a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Re {
    text: String,
    alt: bool,
}

impl Re {
    fn atom(text: String) -> Re {
        Re { text, alt: false }
    }

    fn empty() -> Re {
        Re::atom(String::new())
    }

    /// The text as one unit of a sequence.
    fn unit(&self) -> String {
        if self.alt {
            format!("({})", self.text)
        } else {
            group(&self.text)
        }
    }

    fn seq_text(&self) -> String {
        if self.alt {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }

    fn concat(&self, other: &Re) -> Re {
        Re::atom(self.seq_text() + &other.seq_text())
    }

    fn union(&self, other: &Re) -> Re {
        if self == other {
            self.clone()
        } else if self.text.is_empty() {
            Re::atom(other.unit() + "?")
        } else if other.text.is_empty() {
            Re::atom(self.unit() + "?")
        } else {
            Re {
                text: format!("{}|{}", self.text, other.text),
                alt: true,
            }
        }
    }

    fn star(&self) -> Re {
        if self.text.is_empty() {
            Re::empty()
        } else {
            Re::atom(self.unit() + "*")
        }
    }
}

/// The longest text [`eliminate`] builds before giving up.
const ELIMINATION_LIMIT: usize = 1 << 20;

/// Any program as text, by state elimination: instructions are states,
/// consuming instructions and anchors label the edge to their successor,
/// and each state in turn is removed by joining every predecessor to every
/// successor through it (`in loop* out`). Used when a program has no shape
/// the structural renderer knows (macOS 15's regexes); the text is longer
/// but means the same.
fn eliminate(rx: &V3) -> Option<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let n = rx.ops.len();
    let (start, fin) = (n, n + 1);
    let mut out: Vec<BTreeMap<usize, Re>> = vec![BTreeMap::new(); n + 2];
    let mut inc: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n + 2];
    let mut add = |out: &mut Vec<BTreeMap<usize, Re>>, a: usize, b: u32, re: Re| {
        let b = if b == PAST_END { return } else { b as usize };
        let merged = match out[a].get(&b) {
            Some(old) => old.union(&re),
            None => re,
        };
        out[a].insert(b, merged);
        inc[b].insert(a);
    };
    add(&mut out, start, 0, Re::empty());
    for (i, op) in rx.ops.iter().enumerate() {
        let next = rx.next(i);
        let label = |t: String| Re::atom(t);
        match *op {
            Op::Char(c) => add(&mut out, i, next, label(regex_char(c))),
            Op::Any => add(&mut out, i, next, label(".".into())),
            Op::Bol => add(&mut out, i, next, label("^".into())),
            Op::Eol => add(&mut out, i, next, label("$".into())),
            Op::Class(k) => add(
                &mut out,
                i,
                next,
                label(rx.sets[usize::from(k)].class_text()),
            ),
            Op::Fork(t) => {
                add(&mut out, i, next, Re::empty());
                add(&mut out, i, t, Re::empty());
            }
            Op::Jump(t) => add(&mut out, i, t, Re::empty()),
            Op::Match => add(&mut out, i, fin as u32, Re::empty()),
        }
    }
    let mut alive: BTreeSet<usize> = (0..n).collect();
    let mut size = 0usize;
    while !alive.is_empty() {
        // The state whose removal makes the fewest new edges goes first.
        let &q = alive.iter().min_by_key(|&&q| inc[q].len() * out[q].len())?;
        alive.remove(&q);
        let looped = out[q]
            .remove(&q)
            .map(|r| r.star())
            .unwrap_or_else(Re::empty);
        inc[q].remove(&q);
        let succs: Vec<(usize, Re)> = std::mem::take(&mut out[q]).into_iter().collect();
        let preds: Vec<usize> = std::mem::take(&mut inc[q]).into_iter().collect();
        for &(s, _) in &succs {
            inc[s].remove(&q);
        }
        for &p in &preds {
            let Some(into) = out[p].remove(&q) else {
                continue;
            };
            let via = into.concat(&looped);
            for (s, re) in &succs {
                let path = via.concat(re);
                size += path.text.len();
                if size > ELIMINATION_LIMIT {
                    return None;
                }
                let merged = match out[p].get(s) {
                    Some(old) => old.union(&path),
                    None => path,
                };
                out[p].insert(*s, merged);
                inc[*s].insert(p);
            }
        }
    }
    Some(
        out[start]
            .get(&fin)
            .map_or_else(String::new, |r| r.text.clone()),
    )
}

/// Regexes longer than this are shown by size, not rendered.
const RENDER_LIMIT: usize = 4096;

struct Renderer<'a> {
    rx: &'a V3,
    ipdom: Vec<u32>,
    depth: usize,
    budget: usize,
}

impl Renderer<'_> {
    fn ipdom(&self, i: u32) -> u32 {
        self.ipdom.get(i as usize).copied().unwrap_or(PAST_END)
    }

    fn op(&self, i: u32) -> Option<Op> {
        self.rx.ops.get(i as usize).copied()
    }

    /// Whether fork `i` is a star or plus loop head.
    fn is_loop(&self, i: u32) -> bool {
        let Some(Op::Fork(t)) = self.op(i) else {
            return false;
        };
        let star = t > 0 && self.op(t - 1) == Some(Op::Jump(i));
        let plus = matches!(self.op(i + 1), Some(Op::Jump(b)) if b < i);
        star || plus
    }

    /// Text from `i` up to (not including) `stop`.
    fn seq(&mut self, mut i: u32, stop: u32) -> Option<String> {
        self.depth += 1;
        if self.depth > 200 {
            return None;
        }
        let mut items: Vec<(u32, String)> = Vec::new();
        // Without a cycle, a sequence visits each instruction at most once;
        // more steps mean a jump back that is no loop shape we render, which
        // would otherwise spin (re-emitting text) until the budget runs out.
        let mut steps = 0usize;
        while i != stop {
            self.budget = self.budget.checked_sub(1)?;
            steps += 1;
            if steps > self.rx.ops.len() {
                return None;
            }
            let Some(op) = self.op(i) else { break };
            let next = self.rx.next(i as usize);
            match op {
                Op::Match => break,
                Op::Jump(t) => {
                    i = t;
                    continue;
                }
                Op::Fork(t) => {
                    // Star: the body runs from i + 1 to a jump back to i.
                    if t > 0 && self.op(t - 1) == Some(Op::Jump(i)) {
                        let body = self.seq(next, i)?;
                        items.push((i, group(&body) + "*"));
                        i = t;
                        continue;
                    }
                    // Plus: already emitted code from b, then fork back.
                    if let Some(Op::Jump(b)) = self.op(next) {
                        if b < i {
                            if let Some(k) = items.iter().position(|(p, _)| *p == b) {
                                let body: String = items.drain(k..).map(|(_, t)| t).collect();
                                items.push((b, group(&body) + "+"));
                                i = t;
                                continue;
                            }
                        }
                    }
                    let join = self.ipdom(i);
                    let alts = self.alternatives(i, join)?;
                    let text = match alts.as_slice() {
                        [a, b] if a.is_empty() || b.is_empty() => {
                            group(if a.is_empty() { b } else { a }) + "?"
                        }
                        _ => format!("({})", alts.join("|")),
                    };
                    items.push((i, text));
                    if join == PAST_END {
                        break;
                    }
                    i = join;
                    continue;
                }
                Op::Char(c) => items.push((i, regex_char(c))),
                Op::Any => items.push((i, ".".into())),
                Op::Bol => items.push((i, "^".into())),
                Op::Eol => items.push((i, "$".into())),
                Op::Class(k) => items.push((i, self.rx.sets[usize::from(k)].class_text())),
            }
            i = next;
        }
        self.depth -= 1;
        Some(items.into_iter().map(|(_, t)| t).collect())
    }

    /// The branches of the fork chain at `i` that all join at `join`.
    fn alternatives(&mut self, i: u32, join: u32) -> Option<Vec<String>> {
        let Some(Op::Fork(t)) = self.op(i) else {
            return Some(Vec::new());
        };
        let mut alts = Vec::new();
        let mut queue = std::collections::VecDeque::from([self.rx.next(i as usize), t]);
        while let Some(p) = queue.pop_front() {
            self.budget = self.budget.checked_sub(1)?;
            if let Some(Op::Fork(pt)) = self.op(p) {
                if self.ipdom(p) == join && !self.is_loop(p) {
                    queue.push_front(pt);
                    queue.push_front(self.rx.next(p as usize));
                    continue;
                }
            }
            alts.push(self.seq(p, join)?);
        }
        Some(alts)
    }
}

/// Parenthesises `t` unless it is one atom.
fn group(t: &str) -> String {
    let one_char = t.chars().count() == 1;
    let escaped = t.len() == 2 && t.starts_with('\\');
    let class = t.starts_with('[') && t.ends_with(']') && !t[1..].contains('[');
    if one_char || escaped || class {
        t.to_owned()
    } else {
        format!("({t})")
    }
}

/// A v1 node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Node {
    Char(u8),
    Accept,
    GroupOpen,
    GroupClose,
    Split(u32),
    Any,
    Jump,
    Bol,
    Eol,
    Class(u32),
    NotClass(u32),
}

/// A decoded AppleMatch v1 program (Mac OS X 10.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1 {
    pub start: u32,
    pub end: u32,
    pub submatch: u32,
    /// Nodes with their `next` index.
    pub nodes: Vec<(V1Node, u32)>,
    pub classes: Vec<ByteSet>,
}

impl V1 {
    /// Decodes the bytes after the u32 length.
    pub fn decode(item: &[u8]) -> Result<V1, DecodeError> {
        let r = Reader::new(item);
        let word = |k: usize| r.u32_be(4 * k, move || format!("v1 regex word {k}"));
        if word(0)? != 1 {
            return Err(DecodeError::invalid(0, "v1 regex version", "expected 1"));
        }
        let count = word(1)? as usize;
        let (start, end, class_count, submatch) = (word(2)?, word(3)?, word(4)? as usize, word(5)?);
        // Bound the counts by the bytes they need before allocating.
        r.slice(24, count.saturating_mul(12), || {
            format!("v1 regex nodes ({count})")
        })?;
        let mut nodes = Vec::with_capacity(count);
        for k in 0..count {
            let at = 24 + 12 * k;
            let t = r.u32_be(at, || format!("v1 node {k}"))?;
            let next = r.u32_be(at + 4, || format!("v1 node {k}"))?;
            let arg = r.u32_be(at + 8, || format!("v1 node {k}"))?;
            let node = match t {
                0x10 => V1Node::Char(arg as u8),
                0x22 => V1Node::Accept,
                0x23 => V1Node::GroupClose,
                0x24 => V1Node::GroupOpen,
                0x25 => V1Node::Split(arg),
                0x30 => V1Node::Any,
                0x31 => V1Node::Jump,
                0x32 => V1Node::Bol,
                0x33 => V1Node::Eol,
                0x34 => V1Node::Class(arg),
                0x35 => V1Node::NotClass(arg),
                _ => {
                    return Err(DecodeError::invalid(
                        at,
                        format!("v1 node {k}"),
                        format!("unknown type {t:#x}"),
                    ))
                }
            };
            nodes.push((node, next));
        }
        let mut off = 24 + 12 * count;
        r.slice(off, class_count.saturating_mul(4), || {
            format!("v1 classes ({class_count})")
        })?;
        let mut classes = Vec::with_capacity(class_count);
        for k in 0..class_count {
            let n = r.u32_be(off, || format!("v1 class {k} size"))? as usize;
            let raw = r.slice(off + 4, n.saturating_mul(4), || format!("v1 class {k}"))?;
            let mut pairs = Vec::with_capacity(n);
            for w in raw.chunks_exact(4) {
                pairs.push(w[3]);
            }
            if pairs.len() % 2 == 1 {
                pairs.pop();
            }
            classes.push(ByteSet::from_pairs(&pairs));
            off += 4 + 4 * n;
        }
        if off != item.len() {
            return Err(DecodeError::invalid(
                off,
                "v1 regex",
                format!("{} trailing bytes", item.len() - off),
            ));
        }
        let v = V1 {
            start,
            end,
            submatch,
            nodes,
            classes,
        };
        v.validate()?;
        Ok(v)
    }

    /// Every edge and class reference in range (an accept's next is free).
    fn validate(&self) -> Result<(), DecodeError> {
        let n = self.nodes.len() as u32;
        let bad = |k: usize, what: &str| {
            Err(DecodeError::invalid(
                24 + 12 * k,
                format!("v1 node {k}"),
                format!("{what} out of range"),
            ))
        };
        if self.start >= n {
            return Err(DecodeError::invalid(
                8,
                "v1 start",
                format!("{} out of range", self.start),
            ));
        }
        for (k, &(node, next)) in self.nodes.iter().enumerate() {
            if node != V1Node::Accept && next >= n {
                return bad(k, "next");
            }
            match node {
                V1Node::Split(t) if t >= n => return bad(k, "split target"),
                V1Node::Class(c) | V1Node::NotClass(c) if c as usize >= self.classes.len() => {
                    return bad(k, "class")
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn matches(&self, input: &[u8]) -> bool {
        let n = self.nodes.len();
        let mut cur: Vec<u32> = Vec::new();
        let mut mark = vec![u32::MAX; n];
        for pos in 0..=input.len() {
            let mut stack: Vec<u32> = std::mem::take(&mut cur);
            stack.push(self.start);
            while let Some(i) = stack.pop() {
                let Some(&(node, next)) = self.nodes.get(i as usize) else {
                    continue;
                };
                if mark[i as usize] == pos as u32 {
                    continue;
                }
                mark[i as usize] = pos as u32;
                match node {
                    V1Node::Accept => return true,
                    V1Node::GroupOpen | V1Node::GroupClose | V1Node::Jump => stack.push(next),
                    V1Node::Split(t) => {
                        stack.push(t);
                        stack.push(next);
                    }
                    V1Node::Bol if pos == 0 => stack.push(next),
                    V1Node::Eol if pos == input.len() => stack.push(next),
                    V1Node::Bol | V1Node::Eol => {}
                    _ => cur.push(i),
                }
            }
            let Some(&c) = input.get(pos) else { break };
            cur = cur
                .iter()
                .filter_map(|&i| {
                    let (node, next) = self.nodes[i as usize];
                    let hit = match node {
                        V1Node::Char(x) => x == c,
                        V1Node::Any => true,
                        V1Node::Class(k) => self.classes[k as usize].contains(c),
                        V1Node::NotClass(k) => !self.classes[k as usize].contains(c),
                        _ => false,
                    };
                    hit.then_some(next)
                })
                .collect();
        }
        false
    }

    /// Linear programs render exactly; a split is marked, not guessed at.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut i = self.start;
        let mut seen = vec![false; self.nodes.len()];
        while let Some(&(node, next)) = self.nodes.get(i as usize) {
            if std::mem::replace(&mut seen[i as usize], true) {
                return out + "(?#loop)";
            }
            match node {
                V1Node::Accept => return out,
                V1Node::Char(c) => out.push_str(&regex_char(c)),
                V1Node::Any => out.push('.'),
                V1Node::Bol => out.push('^'),
                V1Node::Eol => out.push('$'),
                V1Node::Class(k) => out.push_str(&self.classes[k as usize].class_text()),
                V1Node::NotClass(k) => {
                    let t = self.classes[k as usize].class_text();
                    out.push_str(&format!("[^{}", t.trim_start_matches('[')));
                }
                V1Node::Split(_) => return out + "(?#split: not rendered)",
                V1Node::GroupOpen | V1Node::GroupClose | V1Node::Jump => {}
            }
            i = next;
        }
        out + "(?#unterminated)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn format_doc_vector() {
        // ^/a/b/c* from the format doc.
        let item = hex("00000003 1500 19 022f 0261 022f 0262 022f 2f1300 0263 0a0b00 1500");
        let rx = V3::decode(&item).unwrap();
        assert_eq!(rx.render(), "^/a/b/c*");
        assert!(rx.matches(b"/a/b/"));
        assert!(rx.matches(b"/a/b/ccc"));
        assert!(
            rx.matches(b"/a/b/x"),
            "no end anchor: a match may stop early"
        );
        assert!(!rx.matches(b"/a/c"));
        assert!(!rx.matches(b"x/a/b/"), "^ anchors at the start");
    }

    #[test]
    fn alternation_optional_and_class() {
        // ^/x(/|$)  : 19 02'/' 02'x' 2f->B 02'/' 0a->E  B: 29  E: 15 00
        let code = hex("19 022f 0278 2f0d00 022f 0a0e00 29 1500");
        let mut item = hex("00000003");
        item.extend_from_slice(&(code.len() as u16).to_le_bytes());
        item.extend_from_slice(&code);
        let rx = V3::decode(&item).unwrap();
        assert_eq!(rx.render(), "^/x(/|$)");
        assert!(rx.matches(b"/x") && rx.matches(b"/x/y"));
        assert!(!rx.matches(b"/xy"));
    }

    #[test]
    fn bad_items_are_typed_errors() {
        assert!(V3::decode(&hex("00000002 0000")).is_err());
        assert!(V3::decode(&hex("00000003 0500 19")).is_err()); // code truncated
        assert!(V3::decode(&hex("00000003 0300 2f0900")).is_err()); // target not an instruction
        assert!(V3::decode(&hex("00000003 0100 ff")).is_err()); // unknown opcode
        assert!(V3::decode(&hex("00000003 0100 19 00")).is_err()); // trailing byte
    }

    #[test]
    fn no_blow_up_on_nested_stars() {
        // (a*)*b against a long run of 'a': exponential for a backtracker.
        // 0: 2f->E  3: 2f->D 6: 02'a' 8: 0a->3  D=11: 0a->0  E=14: 02'b' 16: 1500
        let code = hex("2f0e00 2f0b00 0261 0a0300 0a0000 0262 1500");
        let mut item = hex("00000003");
        item.extend_from_slice(&(code.len() as u16).to_le_bytes());
        item.extend_from_slice(&code);
        let rx = V3::decode(&item).unwrap();
        let input = vec![b'a'; 20_000];
        assert!(!rx.matches(&input));
        assert!(rx.matches(b"aaab"));
    }
}
