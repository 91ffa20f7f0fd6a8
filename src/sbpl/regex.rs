//! SBPL regex literals (`#"^/private/var/[^/]+/x$"`) and their compiled form,
//! AppleMatch v3, the bytecode held in a blob's regex table.
//!
//! ```text
//! item   u32 BE version (3) | u16 LE code length | code
//! code   02 c          byte c
//!        09            any byte                        [reported; no blob uses it]
//!        19 / 29       ^ / $
//!        N·16+0x0b (lo hi)×N   class of N ranges; lo > hi wraps past 0xff
//!        2f u16        fork: go on at pc+3 and at the (absolute) target
//!        0a u16        jump
//!        15 00         match (accept; the rest of the input is ignored)
//! ```
//!
//! Matching is a search: the program may start at any position, and it
//! accepts as soon as it reaches `15`; only `$` ties a match to the end.
//!
//! Code generation follows the regexes of the iOS 17 and iOS 26 platform
//! profiles (`tests/compiler_regex.rs` rebuilds all nine byte for byte from
//! their sources as rendered by the decoder), which fix these rules [blob]:
//! - the regex is a graph (Thompson construction) written out depth first,
//!   a fork's first edge inline and its second edge later, pending second
//!   edges taken last-pushed first;
//! - `X*` = `L: fork E; X; jmp L; E:`, `X+` = `L: X; fork E; jmp L; E:`;
//! - `(A|B|C)` = `fork C'; fork B'; A; <rest of the regex>; B': B; jmp rest;
//!   C': C; jmp rest` (the branches meet at an empty node, which costs a
//!   jump when reached after the code that follows it is written);
//! - `(G)?` forks straight to what follows the group (`(com\.apple\.)?`),
//!   while `a?` on a single atom is `(a|)`: `/?$` is `fork F; 02 2f; 29;
//!   15 00; F: jmp 29` (two samples each; why they differ is unknown).
//! - a negated class is its complement, written as ranges with one range
//!   wrapping past 0xff: `[^/]` = `1b 30 2e`.
//!
//! [model], as no blob shows them: a positive class keeps its ranges in
//! source order, unmerged; `.` is `09`; `\n`, `\t`, `\r` are those bytes and
//! any other escaped punctuation is itself; `X{m,n}` is written out as m
//! copies of X and n-m of `X?` (`X{m,}`: then `X*`); `\d`, `\w`, `\s` (and
//! `\D`, `\W`, `\S`) are their ASCII classes; classes of more than 15
//! ranges, other letter escapes and back-references are rejected.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A parsed regex; equal sources are one regex.
#[derive(Debug, Clone)]
pub struct Regex {
    source: String,
    ast: Ast,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Regex {}

impl Hash for Regex {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

/// Why a regex did not parse, with the byte offset in its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "regex byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for RegexError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ast {
    Empty,
    Byte(u8),
    Any,
    /// Encoded ranges: `lo > hi` wraps past 0xff.
    Class(Vec<(u8, u8)>),
    Bol,
    Eol,
    Group(Box<Ast>),
    Concat(Vec<Ast>),
    Alt(Vec<Ast>),
    Star(Box<Ast>),
    Plus(Box<Ast>),
    Opt(Box<Ast>),
}

/// The AppleMatch format version this module writes.
pub const VERSION: u32 = 3;
/// Most ranges one class instruction holds (the count is a nibble).
const MAX_RANGES: usize = 15;
/// Largest repetition count: `{m,n}` is written out n times.
const MAX_COUNT: usize = 255;
/// Deeper group nesting than any real regex; bounds recursion.
const MAX_NESTING: usize = 64;

const OP_BYTE: u8 = 0x02;
const OP_ANY: u8 = 0x09;
const OP_JUMP: u8 = 0x0a;
const OP_CLASS: u8 = 0x0b;
const OP_MATCH: u8 = 0x15;
const OP_BOL: u8 = 0x19;
const OP_EOL: u8 = 0x29;
const OP_FORK: u8 = 0x2f;

impl Regex {
    pub fn parse(source: &str) -> Result<Regex, RegexError> {
        let mut p = Parser {
            src: source.as_bytes(),
            pos: 0,
        };
        let ast = p.alternation(0)?;
        if p.pos < p.src.len() {
            return Err(p.error("unmatched ')'"));
        }
        Ok(Regex {
            source: source.to_owned(),
            ast,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The AppleMatch v3 program.
    pub fn program(&self) -> Result<Vec<u8>, RegexError> {
        let mut g = Graph::default();
        let accept = g.push(N::Match);
        let start = g.build(&self.ast, accept);
        g.linearize(start)
    }

    /// The regex-table item: version, code length, code.
    pub fn item(&self) -> Result<Vec<u8>, RegexError> {
        let code = self.program()?;
        let mut out = Vec::with_capacity(6 + code.len());
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&(code.len() as u16).to_le_bytes());
        out.extend_from_slice(&code);
        Ok(out)
    }

    /// Whether the regex matches somewhere in `s` (search semantics), read
    /// from the parsed regex rather than from its program.
    pub fn is_match(&self, s: &[u8]) -> bool {
        let mut nfa = Thompson {
            states: vec![State::Accept],
        };
        let start = nfa.build(&self.ast, 0);
        nfa.search(start, s)
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#\"{}\"", self.source)
    }
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> RegexError {
        RegexError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn alternation(&mut self, depth: usize) -> Result<Ast, RegexError> {
        if depth > MAX_NESTING {
            return Err(self.error(format!("groups nested deeper than {MAX_NESTING}")));
        }
        let mut branches = vec![self.concatenation(depth)?];
        while self.peek() == Some(b'|') {
            self.pos += 1;
            branches.push(self.concatenation(depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Ast::Empty)
        } else {
            Ast::Alt(branches)
        })
    }

    fn concatenation(&mut self, depth: usize) -> Result<Ast, RegexError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            items.push(self.repetition(depth)?);
        }
        Ok(match items.len() {
            0 => Ast::Empty,
            1 => items.pop().unwrap_or(Ast::Empty),
            _ => Ast::Concat(items),
        })
    }

    fn repetition(&mut self, depth: usize) -> Result<Ast, RegexError> {
        let mut atom = self.atom(depth)?;
        while let Some(c @ (b'*' | b'+' | b'?')) = self.peek() {
            self.pos += 1;
            let inner = Box::new(atom);
            atom = match c {
                b'*' => Ast::Star(inner),
                b'+' => Ast::Plus(inner),
                _ => Ast::Opt(inner),
            };
        }
        if self.peek() == Some(b'{') {
            atom = self.counted(atom)?;
        }
        Ok(atom)
    }

    /// `X{m}`, `X{m,}`, `X{m,n}` (Apple's profiles write `[-A-Za-z0-9_]{16}`):
    /// written out as m copies of X, then X* or n-m copies of X? [model].
    fn counted(&mut self, atom: Ast) -> Result<Ast, RegexError> {
        let open = self.pos;
        self.pos += 1;
        let min = self.count()?;
        let max = if self.peek() == Some(b',') {
            self.pos += 1;
            if self.peek() == Some(b'}') {
                None
            } else {
                Some(self.count()?)
            }
        } else {
            Some(min)
        };
        if self.peek() != Some(b'}') {
            self.pos = open;
            return Err(self.error("a repetition count is {m}, {m,} or {m,n}"));
        }
        self.pos += 1;
        if max.is_some_and(|n| n < min) || max.unwrap_or(min) > MAX_COUNT {
            self.pos = open;
            return Err(self.error(format!("repetition counts go from m to n <= {MAX_COUNT}")));
        }
        let mut items = vec![atom.clone(); min];
        match max {
            None => items.push(Ast::Star(Box::new(atom))),
            Some(n) => items.extend((min..n).map(|_| Ast::Opt(Box::new(atom.clone())))),
        }
        Ok(match items.len() {
            0 => Ast::Empty,
            1 => items.pop().unwrap_or(Ast::Empty),
            _ => Ast::Group(Box::new(Ast::Concat(items))),
        })
    }

    fn count(&mut self) -> Result<usize, RegexError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.src[start..self.pos])
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.error("a repetition count is {m}, {m,} or {m,n}"))
    }

    fn atom(&mut self, depth: usize) -> Result<Ast, RegexError> {
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end of regex"));
        };
        let at = self.pos;
        self.pos += 1;
        Ok(match c {
            b'(' => {
                let inner = self.alternation(depth + 1)?;
                if self.peek() != Some(b')') {
                    self.pos = at;
                    return Err(self.error("unclosed '(' opened here"));
                }
                self.pos += 1;
                Ast::Group(Box::new(inner))
            }
            b'[' => self.class(at)?,
            b'.' => Ast::Any,
            b'^' => Ast::Bol,
            b'$' => Ast::Eol,
            b'\\' => match self.shorthand() {
                Some(ranges) => Ast::Class(ranges),
                None => Ast::Byte(self.escape()?),
            },
            b'*' | b'+' | b'?' => {
                self.pos = at;
                return Err(self.error(format!("'{}' has nothing to repeat", c as char)));
            }
            b'{' => {
                self.pos = at;
                return Err(self.error("repetition counts {m,n} are not supported"));
            }
            c => Ast::Byte(c),
        })
    }

    /// The byte after a backslash.
    fn escape(&mut self) -> Result<u8, RegexError> {
        let Some(c) = self.peek() else {
            return Err(self.error("regex ends with a lone '\\'"));
        };
        self.pos += 1;
        match c {
            b'n' => Ok(b'\n'),
            b't' => Ok(b'\t'),
            b'r' => Ok(b'\r'),
            c if c.is_ascii_alphanumeric() => {
                self.pos -= 2;
                Err(self.error(format!(
                    "\\{} is not supported; write the bytes or a [...] class",
                    c as char
                )))
            }
            c => Ok(c),
        }
    }

    fn class(&mut self, open: usize) -> Result<Ast, RegexError> {
        let negated = self.peek() == Some(b'^');
        if negated {
            self.pos += 1;
        }
        let mut ranges: Vec<(u8, u8)> = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                self.pos = open;
                return Err(self.error("unclosed '[' opened here"));
            };
            if c == b']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == b'[' && self.src.get(self.pos + 1) == Some(&b':') {
                return Err(self.error("[:name:] classes are not supported"));
            }
            if c == b'\\' {
                self.pos += 1;
                if let Some(more) = self.shorthand() {
                    ranges.extend(more);
                    continue;
                }
                self.pos -= 1;
            }
            let lo = self.class_byte()?;
            let is_range = self.peek() == Some(b'-') && self.src.get(self.pos + 1) != Some(&b']');
            let hi = if is_range {
                self.pos += 1;
                let hi = self.class_byte()?;
                if hi < lo {
                    return Err(self.error("range out of order"));
                }
                hi
            } else {
                lo
            };
            ranges.push((lo, hi));
        }
        if negated {
            ranges = complement(&ranges);
        }
        if ranges.is_empty() {
            self.pos = open;
            return Err(self.error("class matches no byte"));
        }
        if ranges.len() > MAX_RANGES {
            self.pos = open;
            return Err(self.error(format!(
                "class needs {} ranges; AppleMatch holds at most {MAX_RANGES}",
                ranges.len()
            )));
        }
        Ok(Ast::Class(ranges))
    }

    /// `\d`, `\w`, `\s` and their negations `\D`, `\W`, `\S` after a
    /// backslash, as the ranges they stand for (ASCII) [model]; the parser
    /// moves past the letter only when it is one of those.
    fn shorthand(&mut self) -> Option<Vec<(u8, u8)>> {
        let c = self.peek()?;
        let ranges: Vec<(u8, u8)> = match c.to_ascii_lowercase() {
            b'd' => vec![(b'0', b'9')],
            b'w' => vec![(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
            b's' => vec![(b'\t', b'\r'), (b' ', b' ')],
            _ => return None,
        };
        self.pos += 1;
        Some(if c.is_ascii_uppercase() {
            complement(&ranges)
        } else {
            ranges
        })
    }

    fn class_byte(&mut self) -> Result<u8, RegexError> {
        let c = self.peek().ok_or_else(|| self.error("unclosed '['"))?;
        self.pos += 1;
        if c == b'\\' {
            return self.escape();
        }
        Ok(c)
    }
}

/// The bytes not in `ranges`, as ranges in ascending order; a range that
/// runs to 0xff and one from 0x00 join into one wrapping range, as Apple's
/// compiler writes `[^/]` (`30 2e`).
fn complement(ranges: &[(u8, u8)]) -> Vec<(u8, u8)> {
    let mut member = [false; 256];
    for &(lo, hi) in ranges {
        for b in lo..=hi {
            member[usize::from(b)] = true;
        }
    }
    let mut out: Vec<(u8, u8)> = Vec::new();
    let mut b = 0usize;
    while b < 256 {
        if member[b] {
            b += 1;
            continue;
        }
        let start = b;
        while b < 256 && !member[b] {
            b += 1;
        }
        out.push((start as u8, (b - 1) as u8));
    }
    let wraps = out.len() > 1 && out[0].0 == 0 && out[out.len() - 1].1 == 0xff;
    if wraps {
        let first = out.remove(0);
        if let Some(last) = out.last_mut() {
            last.1 = first.1;
        }
    }
    out
}

fn in_ranges(ranges: &[(u8, u8)], c: u8) -> bool {
    ranges.iter().any(|&(lo, hi)| {
        if lo <= hi {
            (lo..=hi).contains(&c)
        } else {
            c >= lo || c <= hi
        }
    })
}

/// A Thompson NFA of the parsed regex, built here from the AST on its own
/// (not from the compiler's graph), so [`Regex::is_match`] stays a second
/// reading of the regex. (An earlier set-of-positions reading re-ran nested
/// repeats once per repeat of the enclosing one: `a*++++++++++++++++++++b`
/// took seconds. A thread set is O(input x states) whatever the nesting.)
struct Thompson<'a> {
    states: Vec<State<'a>>,
}

/// A state; the last field is the state that follows a successful test.
#[derive(Clone, Copy)]
enum State<'a> {
    Byte(u8, usize),
    Any(usize),
    Class(&'a [(u8, u8)], usize),
    Bol(usize),
    Eol(usize),
    Split(usize, usize),
    Accept,
}

impl<'a> Thompson<'a> {
    fn push(&mut self, state: State<'a>) -> usize {
        self.states.push(state);
        self.states.len() - 1
    }

    /// States that match `ast` and go on to `next`; returns the entry.
    fn build(&mut self, ast: &'a Ast, next: usize) -> usize {
        match ast {
            Ast::Empty => next,
            Ast::Byte(c) => self.push(State::Byte(*c, next)),
            Ast::Any => self.push(State::Any(next)),
            Ast::Class(ranges) => self.push(State::Class(ranges, next)),
            Ast::Bol => self.push(State::Bol(next)),
            Ast::Eol => self.push(State::Eol(next)),
            Ast::Group(inner) => self.build(inner, next),
            Ast::Concat(items) => items.iter().rev().fold(next, |n, item| self.build(item, n)),
            Ast::Alt(branches) => {
                let entries: Vec<usize> = branches.iter().map(|b| self.build(b, next)).collect();
                entries
                    .into_iter()
                    .reduce(|a, b| self.push(State::Split(a, b)))
                    .unwrap_or(next)
            }
            Ast::Opt(inner) => {
                let body = self.build(inner, next);
                self.push(State::Split(body, next))
            }
            Ast::Star(inner) | Ast::Plus(inner) => {
                // The loop head is patched once the body (which returns to
                // it) exists; a star enters at the head, a plus at the body.
                let head = self.push(State::Split(next, next));
                let body = self.build(inner, head);
                self.states[head] = State::Split(body, next);
                if matches!(ast, Ast::Star(_)) {
                    head
                } else {
                    body
                }
            }
        }
    }

    /// Search semantics: a thread starts at every position, and reaching
    /// `Accept` anywhere is a match (no end anchor needed).
    fn search(&self, start: usize, s: &[u8]) -> bool {
        let mut threads = Vec::new();
        let mut seen = vec![false; self.states.len()];
        for pos in 0..=s.len() {
            threads.push(start);
            seen.iter_mut().for_each(|x| *x = false);
            let mut stack = std::mem::take(&mut threads);
            while let Some(i) = stack.pop() {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                let byte = s.get(pos).copied();
                match self.states[i] {
                    State::Accept => return true,
                    State::Split(a, b) => stack.extend([a, b]),
                    State::Bol(x) if pos == 0 => stack.push(x),
                    State::Eol(x) if pos == s.len() => stack.push(x),
                    State::Byte(c, x) if byte == Some(c) => threads.push(x),
                    State::Any(x) if byte.is_some() => threads.push(x),
                    State::Class(r, x) if byte.is_some_and(|b| in_ranges(r, b)) => threads.push(x),
                    _ => {}
                }
            }
        }
        false
    }
}

/// A node of the program graph.
#[derive(Debug, Clone)]
enum N {
    Byte(u8, usize),
    Any(usize),
    Class(Vec<(u8, u8)>, usize),
    Bol(usize),
    Eol(usize),
    Match,
    /// Inline edge, later edge.
    Fork(usize, usize),
    /// Where alternatives meet: no code of its own.
    Empty(usize),
}

#[derive(Default)]
struct Graph {
    nodes: Vec<N>,
}

impl Graph {
    fn push(&mut self, n: N) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// The entry of `ast` followed by node `k`.
    fn build(&mut self, ast: &Ast, k: usize) -> usize {
        match ast {
            Ast::Empty => k,
            Ast::Byte(c) => self.push(N::Byte(*c, k)),
            Ast::Any => self.push(N::Any(k)),
            Ast::Class(r) => self.push(N::Class(r.clone(), k)),
            Ast::Bol => self.push(N::Bol(k)),
            Ast::Eol => self.push(N::Eol(k)),
            Ast::Group(inner) => self.build(inner, k),
            Ast::Concat(items) => items.iter().rev().fold(k, |next, a| self.build(a, next)),
            Ast::Alt(branches) => {
                let join = self.push(N::Empty(k));
                let starts: Vec<usize> = branches.iter().map(|b| self.build(b, join)).collect();
                let mut entry = starts[0];
                for &later in &starts[1..] {
                    entry = self.push(N::Fork(entry, later));
                }
                entry
            }
            Ast::Opt(inner) => match **inner {
                Ast::Group(_) => {
                    let body = self.build(inner, k);
                    self.push(N::Fork(body, k))
                }
                _ => self.build(&Ast::Alt(vec![(**inner).clone(), Ast::Empty]), k),
            },
            Ast::Star(inner) => {
                let fork = self.push(N::Fork(usize::MAX, k));
                let body = self.build(inner, fork);
                self.nodes[fork] = N::Fork(body, k);
                fork
            }
            Ast::Plus(inner) => {
                let fork = self.push(N::Fork(usize::MAX, k));
                let body = self.build(inner, fork);
                self.nodes[fork] = N::Fork(body, k);
                body
            }
        }
    }

    /// Writes the graph out depth first from `start`.
    fn linearize(&self, start: usize) -> Result<Vec<u8>, RegexError> {
        let mut w = Writer {
            code: Vec::new(),
            addr: vec![None; self.nodes.len()],
            pending: Vec::new(),
        };
        w.chain(self, start);
        while let Some((node, operand)) = w.pending.pop() {
            match w.addr[node] {
                // A later edge to code already written points straight at it.
                Some(a) => w.patch(operand, a),
                None => {
                    let here = w.code.len();
                    w.patch(operand, here);
                    w.chain(self, node);
                }
            }
        }
        if w.code.len() > usize::from(u16::MAX) {
            return Err(RegexError {
                offset: 0,
                message: format!("program of {} bytes exceeds 64 KiB", w.code.len()),
            });
        }
        Ok(w.code)
    }
}

struct Writer {
    code: Vec<u8>,
    addr: Vec<Option<usize>>,
    /// Later fork edges still to write: (node, offset of the fork operand).
    pending: Vec<(usize, usize)>,
}

impl Writer {
    fn patch(&mut self, operand: usize, target: usize) {
        let [lo, hi] = (target as u16).to_le_bytes();
        self.code[operand] = lo;
        self.code[operand + 1] = hi;
    }

    fn jump(&mut self, target: usize) {
        let [lo, hi] = (target as u16).to_le_bytes();
        self.code.extend_from_slice(&[OP_JUMP, lo, hi]);
    }

    /// Writes nodes from `n` on, each falling through to the next, until a
    /// match or a node already written (reached with a jump).
    fn chain(&mut self, g: &Graph, mut n: usize) {
        loop {
            if let N::Empty(next) = g.nodes[n] {
                n = next;
                continue;
            }
            if let Some(a) = self.addr[n] {
                self.jump(a);
                return;
            }
            self.addr[n] = Some(self.code.len());
            n = match &g.nodes[n] {
                N::Byte(c, next) => {
                    self.code.extend_from_slice(&[OP_BYTE, *c]);
                    *next
                }
                N::Any(next) => {
                    self.code.push(OP_ANY);
                    *next
                }
                N::Class(ranges, next) => {
                    self.code.push(((ranges.len() as u8) << 4) | OP_CLASS);
                    for &(lo, hi) in ranges {
                        self.code.extend_from_slice(&[lo, hi]);
                    }
                    *next
                }
                N::Bol(next) => {
                    self.code.push(OP_BOL);
                    *next
                }
                N::Eol(next) => {
                    self.code.push(OP_EOL);
                    *next
                }
                N::Match => {
                    self.code.extend_from_slice(&[OP_MATCH, 0]);
                    return;
                }
                N::Fork(inline, later) => {
                    self.code.extend_from_slice(&[OP_FORK, 0, 0]);
                    self.pending.push((*later, self.code.len() - 2));
                    *inline
                }
                N::Empty(next) => *next,
            };
        }
    }
}

/// Why a program could not be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramError {
    /// Byte offset in the code.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "regex code byte {}: {}", self.offset, self.message)
    }
}

#[derive(Debug, Clone)]
enum Ins {
    Byte(u8),
    Any,
    Class(Vec<(u8, u8)>),
    Bol,
    Eol,
    Fork(usize),
    Jump(usize),
    Match,
}

/// Decodes a program, checking that every jump lands on an instruction.
fn decode_program(code: &[u8]) -> Result<Vec<(usize, Ins, usize)>, ProgramError> {
    let err = |offset: usize, message: &str| ProgramError {
        offset,
        message: message.to_owned(),
    };
    let get = |i: usize| code.get(i).copied().ok_or_else(|| err(i, "truncated"));
    let u16_at = |i: usize| -> Result<usize, ProgramError> {
        Ok(usize::from(u16::from_le_bytes([get(i)?, get(i + 1)?])))
    };
    let mut out = Vec::new();
    let mut pc = 0;
    while pc < code.len() {
        let op = code[pc];
        let (ins, len) = match op {
            OP_BYTE => (Ins::Byte(get(pc + 1)?), 2),
            OP_ANY => (Ins::Any, 1),
            OP_BOL => (Ins::Bol, 1),
            OP_EOL => (Ins::Eol, 1),
            OP_FORK => (Ins::Fork(u16_at(pc + 1)?), 3),
            OP_JUMP => (Ins::Jump(u16_at(pc + 1)?), 3),
            OP_MATCH => (Ins::Match, 2),
            op if op & 0x0f == OP_CLASS && op >> 4 > 0 => {
                let n = usize::from(op >> 4);
                let ranges = (0..n)
                    .map(|k| Ok((get(pc + 1 + 2 * k)?, get(pc + 2 + 2 * k)?)))
                    .collect::<Result<Vec<_>, ProgramError>>()?;
                (Ins::Class(ranges), 1 + 2 * n)
            }
            _ => return Err(err(pc, &format!("unknown opcode {op:#04x}"))),
        };
        if pc + len > code.len() {
            return Err(err(pc, "truncated instruction"));
        }
        out.push((pc, ins, pc + len));
        pc += len;
    }
    let starts: std::collections::HashSet<usize> = out.iter().map(|(pc, _, _)| *pc).collect();
    for (pc, ins, _) in &out {
        if let Ins::Fork(t) | Ins::Jump(t) = ins {
            if !starts.contains(t) {
                return Err(err(*pc, &format!("target {t} is not an instruction")));
            }
        }
    }
    Ok(out)
}

/// Runs an AppleMatch v3 program on `input` with search semantics: a
/// thread-set simulation, so time is bounded by code size times input length.
pub fn run_program(code: &[u8], input: &[u8]) -> Result<bool, ProgramError> {
    let program = decode_program(code)?;
    let index: std::collections::HashMap<usize, usize> = program
        .iter()
        .enumerate()
        .map(|(i, (pc, _, _))| (*pc, i))
        .collect();
    let at = |pc: usize| index.get(&pc).copied();
    let n = input.len();
    let mut live: Vec<usize> = Vec::new();
    for pos in 0..=n {
        // Every position may start a match.
        if let Some(first) = at(0) {
            live.push(first);
        }
        // Epsilon closure through fork, jump, ^ and $.
        let mut seen = vec![false; program.len()];
        let mut stack = std::mem::take(&mut live);
        let mut consuming = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let (_, ins, next) = &program[i];
            let follow = |pc: usize, stack: &mut Vec<usize>| {
                if let Some(j) = at(pc) {
                    stack.push(j);
                }
            };
            match ins {
                Ins::Match => return Ok(true),
                Ins::Fork(t) => {
                    follow(*next, &mut stack);
                    follow(*t, &mut stack);
                }
                Ins::Jump(t) => follow(*t, &mut stack),
                Ins::Bol if pos == 0 => follow(*next, &mut stack),
                Ins::Eol if pos == n => follow(*next, &mut stack),
                Ins::Bol | Ins::Eol => {}
                _ => consuming.push(i),
            }
        }
        let Some(&c) = input.get(pos) else {
            break;
        };
        for i in consuming {
            let (_, ins, next) = &program[i];
            let ok = match ins {
                Ins::Byte(b) => *b == c,
                Ins::Any => true,
                Ins::Class(r) => in_ranges(r, c),
                _ => false,
            };
            if ok {
                if let Some(j) = at(*next) {
                    live.push(j);
                }
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(code: &[u8]) -> String {
        code.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn program(src: &str) -> String {
        hex(&Regex::parse(src).unwrap().program().unwrap())
    }

    #[test]
    fn format_doc_vector() {
        // docs/seatbelt-format.md: `^/a/b/c*`.
        assert_eq!(
            program("^/a/b/c*"),
            "19 02 2f 02 61 02 2f 02 62 02 2f 2f 13 00 02 63 0a 0b 00 15 00"
        );
    }

    #[test]
    fn counts_and_shorthand_classes() {
        let m = |re: &str, text: &str| Regex::parse(re).unwrap().is_match(text.as_bytes());
        assert!(m("^a{2}$", "aa") && !m("^a{2}$", "a") && !m("^a{2}$", "aaa"));
        assert!(m("^a{1,3}$", "aaa") && !m("^a{1,3}$", "aaaa"));
        assert!(m("^a{2,}$", "aaaaa") && !m("^a{2,}$", "a"));
        assert!(m("^[-\\w]*$", "ab-C_9") && !m("^[-\\w]*$", "a.b"));
        assert!(m("^\\d+$", "42") && !m("^\\D$", "4") && m("^\\S\\s$", "x "));
        assert!(Regex::parse("^~[-A-Za-z0-9_]{16}$")
            .unwrap()
            .program()
            .is_ok());
    }

    #[test]
    fn negated_class_wraps() {
        assert_eq!(program("[^/]"), "1b 30 2e 15 00");
        assert_eq!(program("[^a-c]"), "1b 64 60 15 00");
        assert_eq!(program("[^x]"), "1b 79 77 15 00");
    }

    #[test]
    fn errors_name_the_offset() {
        let e = Regex::parse("^/a(b").unwrap_err();
        assert_eq!(e.to_string(), "regex byte 3: unclosed '(' opened here");
        let e = Regex::parse("a{2").unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(Regex::parse("a{3,2}").is_err());
        assert!(Regex::parse("a{1000}").is_err());
        let e = Regex::parse("\\q+").unwrap_err();
        assert!(e.message.contains("\\q is not supported"), "{e}");
        assert!(Regex::parse("a)").is_err());
        assert!(Regex::parse("*a").is_err());
        assert!(Regex::parse(&"(".repeat(100)).is_err());
    }

    #[test]
    fn search_semantics() {
        let r = Regex::parse("/\\.CFUserTextEncoding$").unwrap();
        assert!(r.is_match(b"/Users/me/.CFUserTextEncoding"));
        assert!(!r.is_match(b"/Users/me/.CFUserTextEncoding2"));
        let code = r.program().unwrap();
        assert_eq!(run_program(&code, b"/x/.CFUserTextEncoding"), Ok(true));
        assert_eq!(run_program(&code, b"/x/.CFUserTextEncodin"), Ok(false));
    }

    #[test]
    fn bad_programs_are_errors() {
        assert!(run_program(&[0x2f, 0x07, 0x00, 0x15, 0x00], b"").is_err());
        assert!(run_program(&[0x02], b"").is_err());
        assert!(run_program(&[0x77], b"").is_err());
    }
}
