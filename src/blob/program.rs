//! The path-pattern bytecode of the data area, decoded to a program and run
//! without backtracking blow-up.
//!
//! A program is a straight line of *tests*, each followed by exactly one
//! *connector*, and a few non-test instructions:
//!
//! ```text
//! tests      40+n-1 s[n]     literal of n = 1..64 bytes      input at pos starts with s; pos += n
//!            04 k s[k+0x41]  literal of 65..320 bytes
//!            00              end                             pos == len(input)
//!            10+k            global variable k (${HOME})     input at pos starts with its value
//!            0b f ranges     one byte in a class (f < 0x80)  (f & 0x7f) + 1 pairs lo hi; lo > hi wraps
//!            02 c            skip to: [^c]*c                 pos = after the first c at/after pos
//!            03 c            search: .*c                     pos = after any c at/after pos
//! connectors 0f              if the test fails, this thread fails
//!            80+j            if it fails, go to pc_after + j + 1
//!            08 lo hi        if it fails, go to pc_after + u16 + 0x81
//! others     0b f ranges     (f >= 0x80) star: any number of bytes in the class
//!            0a success (accept; the rest of the input is ignored)   09 fail
//!            06 push pos as a mark   05 pos = the top mark   07 pop the top mark (a test)
//!            (iOS and macOS 14 save only at pc 0; macOS 15 nests a save inside a
//!            branch and pops it with `07 0f` when the branch's alternatives fail)
//! ```
//!
//! On success execution continues after the connector. Every jump goes
//! forward, so a thread's pc strictly increases: matching is a walk over at
//! most `steps x (len + 1)` states. Programs without a forking instruction
//! (search, star, variable) run as one thread with no allocation; the others
//! run a thread set with a visited bitmap, so `03` and star never blow up.
//!
//! Before either runs, a guard computed at decode time (the length and last
//! literal bytes the leading tests demand, per way through them) rejects
//! most inputs the program cannot match in a few instructions; it never
//! rejects one it can (`tests/pattern_guard.rs`).

use std::cell::RefCell;
use std::fmt;

/// A set of bytes (one bit per value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteSet(pub [u64; 4]);

impl ByteSet {
    /// From `lo hi` pairs; a pair with lo > hi wraps around (`30 2e` is
    /// everything but `/`).
    pub fn from_pairs(pairs: &[u8]) -> ByteSet {
        let mut set = ByteSet([0; 4]);
        for p in pairs.chunks_exact(2) {
            let (lo, hi) = (p[0], p[1]);
            for b in 0..=255u8 {
                let inside = if lo <= hi {
                    lo <= b && b <= hi
                } else {
                    b >= lo || b <= hi
                };
                if inside {
                    set.insert(b);
                }
            }
        }
        set
    }

    pub fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }

    pub fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Regex class text: `.` for every byte, `[^/]`, `[0-9]`, ...
    pub fn class_text(&self) -> String {
        let count = self.len();
        if count == 256 {
            return ".".to_owned();
        }
        let negate = count > 128;
        let selected = |b: u8| self.contains(b) != negate;
        let mut out = String::from(if negate { "[^" } else { "[" });
        let mut b = 0u16;
        while b < 256 {
            if !selected(b as u8) {
                b += 1;
                continue;
            }
            let start = b;
            while b + 1 < 256 && selected((b + 1) as u8) {
                b += 1;
            }
            out.push_str(&class_char(start as u8));
            if b > start {
                out.push('-');
                out.push_str(&class_char(b as u8));
            }
            b += 1;
        }
        out.push(']');
        out
    }
}

fn class_char(b: u8) -> String {
    match b {
        b'^' | b']' | b'-' | b'\\' => format!("\\{}", b as char),
        0x20..=0x7e => (b as char).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

/// A byte as regex text, escaped where it is a metacharacter.
pub fn regex_char(b: u8) -> String {
    match b {
        b'.' | b'*' | b'+' | b'?' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'|' | b'^'
        | b'$' | b'\\' => format!("\\{}", b as char),
        0x20..=0x7e => (b as char).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    /// `code[at..at + len]`.
    Lit {
        at: u16,
        len: u16,
    },
    End,
    Var(u8),
    /// One byte in `sets[k]`.
    Class(u16),
    SkipTo(u8),
    Search(u8),
    /// Any number of bytes in `sets[k]`.
    Star(u16),
    Save,
    Restore,
    /// `07`: drops the top mark; a test (a connector follows), failing only
    /// when no mark is left.
    Pop,
    Fail,
    Success,
}

impl Insn {
    pub fn is_test(&self) -> bool {
        matches!(
            self,
            Insn::Lit { .. }
                | Insn::End
                | Insn::Var(_)
                | Insn::Class(_)
                | Insn::SkipTo(_)
                | Insn::Search(_)
                | Insn::Pop
        )
    }
}

/// How a test's connector was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// Not a test.
    None,
    /// `0f`: failing fails the thread.
    Hard,
    /// `80+j`.
    Short,
    /// `08 lo hi`.
    Long,
}

/// Marks "no failure edge" in [`Step::on_fail`].
pub const HARD: u32 = u32::MAX;

/// An instruction with its place and edges (as step indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub insn: Insn,
    /// Byte offset in the item.
    pub pc: u16,
    /// The step run after success (`steps.len()` = past the end: no match).
    pub next: u32,
    /// The step a failing test jumps to, or [`HARD`].
    pub on_fail: u32,
    pub connector: Connector,
}

/// Why a pattern item does not decode: the byte offset inside the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub pc: usize,
    pub why: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pattern byte {}: {}", self.pc, self.why)
    }
}

/// The outcome of matching: an unknown variable makes a "no" unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Yes,
    No,
    /// No thread accepted, and one needed global variable `k`, whose value
    /// was not given.
    UnknownVar(u8),
}

/// A decoded path-pattern item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    code: Vec<u8>,
    steps: Vec<Step>,
    sets: Vec<ByteSet>,
    /// Contains search or star: matching may fork.
    forks: bool,
    /// Reads a global variable (forks only if one has several values).
    has_vars: bool,
    /// Saves after pc 0 or pops: the mark is not always position 0, so the
    /// program runs with a mark stack per thread ([`Program::run_marked`]).
    nested: bool,
    /// Checked before the program runs.
    guard: Guard,
}

/// A necessary condition for a match, read at decode time off the first
/// tests of the program and checked in a few instructions before it runs,
/// so that most patterns of a long walk (77 `${HOME}/Library/...` items for
/// storage-class-map) are rejected without running.
///
/// It is a disjunction: one [`Alt`] per way a thread can take through the
/// leading tests (success or failure of each test with a failure edge, up
/// to [`MAX_ALTS`] ways; a way is cut short where the budget runs out or a
/// test of no fixed length comes). A match passes one of them, so when no
/// alternative admits the input, no thread can match. It only ever rejects:
/// a way that reads a variable with no value admits, so the program runs
/// and says `UnknownVar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Guard {
    /// Kept inline: a long walk reads one guard per node, and one load
    /// fewer per guard shows.
    alts: [Alt; MAX_ALTS],
    /// How many of `alts` are in use; 0: nothing to check (some way
    /// constrains nothing, or ways read different variables).
    count: u8,
    /// The variable the alternatives with `after_var` follow (one per
    /// guard, so its values are looked up once).
    var: u8,
}

/// The most ways a guard follows; past it a way stops where it is.
const MAX_ALTS: usize = 4;

/// One way through the leading tests: an optional variable at position 0,
/// then a region of fixed length from the variable's end (literal bytes and
/// one-byte classes), then perhaps `end`. Checked as the region's length and
/// its last (up to) 8 literal bytes, one load and compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Alt {
    /// The region starts after the guard's variable, not at 0.
    after_var: bool,
    /// The region's length in bytes.
    len: u16,
    /// An `end` follows the region: the input ends there.
    exact: bool,
    /// Where the checked window starts in the region (`len - min(8, len)`).
    word_at: u16,
    /// Which window bytes are literal (class bytes are not checked).
    mask: u64,
    /// The literal bytes of the window, little-endian, masked.
    word: u64,
}

/// How many of a region's first bytes a way keeps, to tell whether one
/// region starts another (longer regions are followed all the same; their
/// last 8 bytes are kept apart). Fixed, so following ways allocates
/// nothing: decoding builds a guard per pattern item.
const MAX_REGION: usize = 64;

/// A way being followed: the step, and what it has read since position 0
/// (or since the variable).
#[derive(Clone, Copy)]
struct Way {
    step: usize,
    var: Option<u8>,
    /// The region's first bytes; a class byte is 0 and not `known`.
    bytes: [u8; MAX_REGION],
    /// Bit j: `bytes[j]` is a literal byte.
    known: u64,
    /// The region's last 8 bytes (the last in the high byte) and which of
    /// them are literal (0xff each).
    last: u64,
    last_known: u64,
    len: usize,
    exact: bool,
}

/// The low `n` bits (n <= 64).
fn low_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

impl Way {
    /// Whether this way's region starts `other`'s (same variable).
    fn starts(&self, other: &Way) -> bool {
        let n = self.len;
        self.var == other.var
            && n <= other.len
            && n <= MAX_REGION
            && self.bytes[..n] == other.bytes[..n]
            && self.known & low_bits(n) == other.known & low_bits(n)
    }

    /// Appends a byte to the region (`None`: a class byte).
    fn push(&mut self, b: Option<u8>) {
        if self.len < MAX_REGION {
            self.bytes[self.len] = b.unwrap_or(0);
            self.known |= u64::from(b.is_some()) << self.len;
        }
        self.shift_last(b);
        self.len += 1;
    }

    /// Shifts a byte into the last 8.
    fn shift_last(&mut self, b: Option<u8>) {
        self.last = self.last >> 8 | u64::from(b.unwrap_or(0)) << 56;
        self.last_known = self.last_known >> 8 | if b.is_some() { 0xff << 56 } else { 0 };
    }

    /// Appends a literal: what the first bytes keep in one copy, the last
    /// 8 byte by byte (a literal may be 320 bytes long).
    fn push_literal(&mut self, bytes: &[u8]) {
        if self.len < MAX_REGION {
            let n = bytes.len().min(MAX_REGION - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.known |= low_bits(self.len + n) & !low_bits(self.len);
        }
        for &b in &bytes[bytes.len().saturating_sub(8)..] {
            self.shift_last(Some(b));
        }
        self.len += bytes.len();
    }

    /// The way's condition, or `None` when it constrains nothing.
    fn alt(&self) -> Option<Alt> {
        let len = u16::try_from(self.len).ok()?;
        let w = self.len.min(8);
        let word_at = self.len - w;
        // The last w bytes sit in the high end of `last`.
        let shift = 8 * (8 - w as u32);
        let mask = self.last_known.checked_shr(shift).unwrap_or(0);
        let word = self.last.checked_shr(shift).unwrap_or(0) & mask;
        (mask != 0 || self.exact).then_some(Alt {
            after_var: self.var.is_some(),
            len,
            exact: self.exact,
            word_at: word_at as u16,
            mask,
            word,
        })
    }
}

/// Where a way goes from a test.
enum Next {
    /// The test passed or failed: go on at this step.
    Go(usize),
    /// Stop here: what was read so far is the condition.
    Stop,
    /// No thread goes on: a match cannot take this way.
    Dead,
}

impl Guard {
    fn of(steps: &[Step], code: &[u8]) -> Guard {
        let mut done: Vec<Way> = Vec::with_capacity(MAX_ALTS);
        let mut open = vec![Way {
            step: 0,
            var: None,
            bytes: [0; MAX_REGION],
            known: 0,
            last: 0,
            last_known: 0,
            len: 0,
            exact: false,
        }];
        while let Some(mut way) = open.pop() {
            let stopped = loop {
                let Some(s) = steps.get(way.step) else {
                    break Next::Dead; // past the end: no match
                };
                // Ways finished, waiting, and this one: each gives at most
                // one alternative, so forking below the budget keeps to it.
                let fork = done.len() + open.len() + 1 < MAX_ALTS;
                let next = Guard::follow(s, code, &mut way, fork, &mut open);
                match next {
                    Next::Go(i) => way.step = i,
                    other => break other,
                }
            };
            match stopped {
                // A dead way that read a variable may be where the program
                // says UnknownVar: keep it so the guard admits then.
                Next::Dead if way.var.is_none() => {}
                _ => done.push(way),
            }
        }
        Guard::merge(&mut done);
        let mut var = None;
        for k in done.iter().filter_map(|w| w.var) {
            if var.is_some_and(|v| v != k) {
                return Guard::default(); // two variables: not worth it
            }
            var = Some(k);
        }
        let mut alts = Vec::with_capacity(done.len());
        for way in &done {
            match way.alt() {
                Some(alt) => alts.push(alt),
                None => return Guard::default(),
            }
        }
        alts.sort_by_key(|a| (a.after_var, a.len, a.exact, a.word_at, a.mask, a.word));
        alts.dedup();
        if alts.len() > MAX_ALTS {
            // Cannot happen (see `fork`); dropping one would be wrong.
            return Guard::default();
        }
        let mut guard = Guard::default();
        for (slot, alt) in guard.alts.iter_mut().zip(&alts) {
            *slot = *alt;
        }
        guard.count = alts.len() as u8;
        guard.var = var.unwrap_or(0);
        guard
    }

    /// Replaces two ways of which one's region starts the other's (the
    /// usual `${HOME}/x` + `/` or end) by the shorter region alone: it
    /// holds whenever either does, and one check costs half of two.
    fn merge(done: &mut Vec<Way>) {
        while let Some((i, j)) = (0..done.len())
            .flat_map(|i| (0..done.len()).map(move |j| (i, j)))
            .find(|&(i, j)| i != j && done[i].starts(&done[j]))
        {
            done[i].exact = false;
            done.swap_remove(j);
        }
    }

    /// One step of `way`. A test with a failure edge forks the way when
    /// `fork` allows (the failing way goes on `open`), else stops it.
    fn follow(s: &Step, code: &[u8], way: &mut Way, fork: bool, open: &mut Vec<Way>) -> Next {
        let after = s.next as usize;
        match s.insn {
            Insn::Save => return Next::Go(after),
            // After a variable, stop: a thread whose variable has no value
            // never gets past it, so the way must keep it to admit then.
            Insn::Restore if way.var.is_some() => return Next::Stop,
            Insn::Restore => {
                // Back to position 0: start over (what was read still held,
                // but one region per way keeps the check simple).
                way.len = 0;
                way.known = 0;
                way.last = 0;
                way.last_known = 0;
                way.exact = false;
                return Next::Go(after);
            }
            Insn::Success | Insn::Pop => return Next::Stop,
            Insn::Fail => return Next::Dead,
            Insn::Var(_) if way.var.is_some() || way.len > 0 => return Next::Stop,
            Insn::SkipTo(_) | Insn::Search(_) | Insn::Star(_) => return Next::Stop,
            Insn::Lit { .. } | Insn::Class(_) | Insn::Var(_) | Insn::End => {}
        }
        if s.on_fail != HARD {
            // A way with a long region tells paths apart well enough: the
            // budget goes to ways that have read little.
            if !fork || way.len >= 16 {
                return Next::Stop;
            }
            open.push(Way {
                step: s.on_fail as usize,
                ..*way
            });
        }
        match s.insn {
            Insn::Lit { at, len } => {
                let at = usize::from(at);
                let bytes = &code[at..at + usize::from(len)];
                way.push_literal(bytes);
            }
            Insn::Class(_) => way.push(None),
            Insn::Var(k) => way.var = Some(k),
            _ => {
                way.exact = true; // end: nothing can follow
                return Next::Stop;
            }
        }
        Next::Go(after)
    }

    /// Whether no thread can match: false when unsure.
    #[inline]
    fn rejects(&self, input: &[u8], vars: &[(u8, &[u8])]) -> bool {
        let alts = &self.alts[..usize::from(self.count)];
        if alts.is_empty() || alts.iter().any(|a| !a.after_var && a.admits_at(input, 0)) {
            return false;
        }
        if !alts.iter().any(|a| a.after_var) {
            return true;
        }
        // A way through a variable with no value admits: the program
        // would say UnknownVar, not No.
        let mut given = false;
        for &(k, v) in vars {
            if k == self.var {
                given = true;
                if alts
                    .iter()
                    .any(|a| a.after_var && a.admits_at(input, v.len()))
                {
                    return false;
                }
            }
        }
        given
    }
}

impl Alt {
    /// Whether the region can sit at `base`.
    fn admits_at(&self, input: &[u8], base: usize) -> bool {
        let end = base + usize::from(self.len);
        if input.len() < end || (self.exact && input.len() != end) {
            return false;
        }
        let at = base + usize::from(self.word_at);
        // One 8-byte load when the input has them (bytes past the region
        // are masked off), else a copy of the window.
        let window = match input.get(at..at + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap_or_default()),
            None => {
                let mut buf = [0u8; 8];
                buf[..end - at].copy_from_slice(&input[at..end]);
                u64::from_le_bytes(buf)
            }
        };
        window & self.mask == self.word
    }
}

fn err<T>(pc: usize, why: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError {
        pc,
        why: why.into(),
    })
}

fn byte(code: &[u8], at: usize, what: &str) -> Result<u8, PatternError> {
    match code.get(at) {
        Some(&b) => Ok(b),
        None => err(at, format!("{what} runs past the end of the item")),
    }
}

fn bytes<'c>(code: &'c [u8], at: usize, n: usize, what: &str) -> Result<&'c [u8], PatternError> {
    match code.get(at..at.saturating_add(n)) {
        Some(b) if at.checked_add(n).is_some() => Ok(b),
        _ => err(
            at,
            format!("{what} of {n} bytes runs past the end of the item"),
        ),
    }
}

impl Program {
    /// Decodes an item. `var_count` bounds the variable opcodes (the blob's
    /// global-variable count).
    pub fn decode(code: &[u8], var_count: usize) -> Result<Program, PatternError> {
        let mut p = Program {
            code: code.to_vec(),
            steps: Vec::new(),
            sets: Vec::new(),
            forks: false,
            has_vars: false,
            nested: false,
            guard: Guard::default(),
        };
        // Targets are byte offsets until every instruction start is known.
        let mut targets: Vec<(usize, usize)> = Vec::new(); // (next pc, fail pc or MAX)
        let mut i = 0;
        while i < code.len() {
            let start = i;
            let (insn, len) = p.read_insn(code, i, var_count)?;
            i += len;
            let mut fail = usize::MAX;
            let mut connector = Connector::None;
            if insn.is_test() {
                let c = byte(code, i, "the connector after a test")?;
                match c {
                    0x0f => {
                        connector = Connector::Hard;
                        i += 1;
                    }
                    0x08 => {
                        let w = bytes(code, i + 1, 2, "a long connector")?;
                        i += 3;
                        fail = i + usize::from(u16::from_le_bytes([w[0], w[1]])) + 0x81;
                        connector = Connector::Long;
                    }
                    0x80..=0xff => {
                        i += 1;
                        fail = i + usize::from(c & 0x7f) + 1;
                        connector = Connector::Short;
                    }
                    _ => {
                        return err(
                            i,
                            format!("test at byte {start} needs a connector, found {c:#04x}"),
                        )
                    }
                }
            }
            p.forks |= matches!(insn, Insn::Search(_) | Insn::Star(_));
            p.has_vars |= matches!(insn, Insn::Var(_));
            // A save after the start (macOS 15) makes the mark depend on
            // the way taken: such programs keep a mark stack per thread.
            p.nested |= (insn == Insn::Save && start != 0) || insn == Insn::Pop;
            p.steps.push(Step {
                insn,
                pc: start as u16,
                next: 0,
                on_fail: HARD,
                connector,
            });
            targets.push((i, fail));
        }
        p.link(&targets)?;
        // The guard reads a restore as "back to position 0": not so here.
        if !p.nested {
            p.guard = Guard::of(&p.steps, &p.code);
        }
        Ok(p)
    }

    /// Reads the instruction at `i`: the instruction and its length.
    fn read_insn(
        &mut self,
        code: &[u8],
        i: usize,
        var_count: usize,
    ) -> Result<(Insn, usize), PatternError> {
        let op = code[i];
        Ok(match op {
            0x40..=0x7f => {
                let n = usize::from(op - 0x3f);
                bytes(code, i + 1, n, "a literal")?;
                (
                    Insn::Lit {
                        at: (i + 1) as u16,
                        len: n as u16,
                    },
                    1 + n,
                )
            }
            0x04 => {
                let n = usize::from(byte(code, i + 1, "a long literal's length")?) + 0x41;
                bytes(code, i + 2, n, "a long literal")?;
                (
                    Insn::Lit {
                        at: (i + 2) as u16,
                        len: n as u16,
                    },
                    2 + n,
                )
            }
            0x00 => (Insn::End, 1),
            0x02 => (Insn::SkipTo(byte(code, i + 1, "02's byte")?), 2),
            0x03 => (Insn::Search(byte(code, i + 1, "03's byte")?), 2),
            0x0b => {
                let f = byte(code, i + 1, "a class's count")?;
                let n = 2 * (usize::from(f & 0x7f) + 1);
                let pairs = bytes(code, i + 2, n, "a class's ranges")?;
                let k = self.sets.len() as u16;
                self.sets.push(ByteSet::from_pairs(pairs));
                let insn = if f & 0x80 != 0 {
                    Insn::Star(k)
                } else {
                    Insn::Class(k)
                };
                (insn, 2 + n)
            }
            0x10..=0x3f => {
                let k = op - 0x10;
                if usize::from(k) >= var_count {
                    return err(
                        i,
                        format!("variable {k} but the blob has {var_count} global variables"),
                    );
                }
                (Insn::Var(k), 1)
            }
            0x05 => (Insn::Restore, 1),
            0x06 => (Insn::Save, 1),
            0x07 => (Insn::Pop, 1),
            0x09 => (Insn::Fail, 1),
            0x0a => (Insn::Success, 1),
            _ => return err(i, format!("unknown opcode {op:#04x}")),
        })
    }

    /// Turns byte targets into step indices; every target must be a later
    /// instruction start (or, for `next`, the end of the item).
    fn link(&mut self, targets: &[(usize, usize)]) -> Result<(), PatternError> {
        let index_of = |pc: usize| {
            self.steps
                .binary_search_by_key(&pc, |s| usize::from(s.pc))
                .ok()
        };
        let end = self.steps.len() as u32;
        let mut linked = Vec::with_capacity(self.steps.len());
        for (k, &(next, fail)) in targets.iter().enumerate() {
            let step = self.steps[k];
            let next = if next == self.code.len() {
                end
            } else {
                index_of(next).map(|i| i as u32).unwrap_or(end)
            };
            let on_fail = if fail == usize::MAX {
                HARD
            } else {
                match index_of(fail) {
                    Some(t) if t > k => t as u32,
                    _ => {
                        return err(
                            usize::from(step.pc),
                            format!("branch target {fail} is not a later instruction"),
                        )
                    }
                }
            };
            linked.push((next, on_fail));
        }
        for (s, (next, on_fail)) in self.steps.iter_mut().zip(linked) {
            s.next = next;
            s.on_fail = on_fail;
        }
        Ok(())
    }

    pub fn code(&self) -> &[u8] {
        &self.code
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn set(&self, k: u16) -> &ByteSet {
        &self.sets[usize::from(k)]
    }

    /// The bytes of a literal instruction.
    pub fn lit(&self, at: u16, len: u16) -> &[u8] {
        &self.code[usize::from(at)..usize::from(at) + usize::from(len)]
    }

    /// The global variables the program reads.
    pub fn vars(&self) -> impl Iterator<Item = u8> + '_ {
        self.steps.iter().filter_map(|s| match s.insn {
            Insn::Var(k) => Some(k),
            _ => None,
        })
    }

    /// Whether `input` matches. `vars` gives values of global variables as
    /// `(k, value)` pairs (a variable may have several).
    pub fn matches(&self, input: &[u8], vars: &[(u8, &[u8])]) -> Match {
        if self.guard.rejects(input, vars) {
            return Match::No;
        }
        self.matches_unguarded(input, vars)
    }

    /// Whether the decode-time guard alone rules `input` out (then
    /// [`Program::matches_unguarded`] says `No` too; tests check it).
    pub fn guard_rejects(&self, input: &[u8], vars: &[(u8, &[u8])]) -> bool {
        self.guard.rejects(input, vars)
    }

    /// [`Program::matches`] without the guard: the program alone.
    pub fn matches_unguarded(&self, input: &[u8], vars: &[(u8, &[u8])]) -> Match {
        let several_values = || {
            vars.iter()
                .enumerate()
                .any(|(i, (k, _))| vars[..i].iter().any(|(k2, _)| k2 == k))
        };
        if self.nested {
            self.run_marked(input, vars)
        } else if self.forks || (self.has_vars && several_values()) {
            self.run_threads(input, vars)
        } else {
            self.run_linear(input, vars)
        }
    }

    /// The end position of a deterministic test at `pos`, if it succeeds.
    fn test_once(&self, insn: Insn, input: &[u8], pos: usize) -> Option<usize> {
        match insn {
            Insn::Lit { at, len } => input[pos..]
                .starts_with(self.lit(at, len))
                .then_some(pos + usize::from(len)),
            Insn::End => (pos == input.len()).then_some(pos),
            Insn::Class(k) => input
                .get(pos)
                .filter(|&&b| self.set(k).contains(b))
                .map(|_| pos + 1),
            Insn::SkipTo(c) => input[pos..]
                .iter()
                .position(|&b| b == c)
                .map(|q| pos + q + 1),
            _ => None,
        }
    }

    /// One thread, no allocation: programs without forking instructions
    /// (variables have at most one value each). A variable without a value
    /// ends the only thread: the match is unknown.
    fn run_linear(&self, input: &[u8], vars: &[(u8, &[u8])]) -> Match {
        let (mut i, mut pos) = (0usize, 0usize);
        while let Some(s) = self.steps.get(i) {
            let end = match s.insn {
                Insn::Success => return Match::Yes,
                Insn::Fail => return Match::No,
                Insn::Save => {
                    i = s.next as usize;
                    continue;
                }
                Insn::Restore => {
                    pos = 0;
                    i = s.next as usize;
                    continue;
                }
                Insn::Var(k) => match vars.iter().find(|(vk, _)| *vk == k) {
                    None => return Match::UnknownVar(k),
                    Some((_, v)) => input[pos..].starts_with(v).then_some(pos + v.len()),
                },
                insn => self.test_once(insn, input, pos),
            };
            match end {
                Some(end) => {
                    pos = end;
                    i = s.next as usize;
                }
                None if s.on_fail == HARD => return Match::No,
                None => i = s.on_fail as usize,
            }
        }
        Match::No
    }

    /// A thread set over (step, pos, marks) for programs that nest saves:
    /// each state is run once. Jumps go forward and the stack grows only at
    /// saves, so the states are bounded by steps x (len + 1) x the marks
    /// each save can leave (paths are short; macOS 15 nests one level).
    fn run_marked(&self, input: &[u8], vars: &[(u8, &[u8])]) -> Match {
        use std::collections::HashSet;
        let mut seen: HashSet<(u32, usize, Vec<usize>)> = HashSet::new();
        let mut stack: Vec<(u32, usize, Vec<usize>)> = vec![(0, 0, Vec::new())];
        let mut unknown = None;
        while let Some((i, pos, marks)) = stack.pop() {
            let Some(s) = self.steps.get(i as usize) else {
                continue; // past the end: no match
            };
            if !seen.insert((i, pos, marks.clone())) {
                continue;
            }
            let mut ends: Vec<(usize, Vec<usize>)> = Vec::new();
            match s.insn {
                Insn::Success => return Match::Yes,
                Insn::Fail => continue,
                Insn::Save => {
                    let mut m = marks;
                    m.push(pos);
                    stack.push((s.next, pos, m));
                    continue;
                }
                Insn::Restore => {
                    // No mark left: the program is malformed here; the
                    // thread cannot go on.
                    if let Some(&mark) = marks.last() {
                        stack.push((s.next, mark, marks));
                    }
                    continue;
                }
                Insn::Pop => {
                    let mut m = marks.clone();
                    if m.pop().is_some() {
                        ends.push((pos, m));
                    }
                }
                Insn::Star(k) => {
                    let set = self.set(k);
                    stack.push((s.next, pos, marks.clone()));
                    for (q, &b) in input.iter().enumerate().skip(pos) {
                        if !set.contains(b) {
                            break;
                        }
                        stack.push((s.next, q + 1, marks.clone()));
                    }
                    continue;
                }
                Insn::Search(c) => {
                    for (q, &b) in input.iter().enumerate().skip(pos) {
                        if b == c {
                            ends.push((q + 1, marks.clone()));
                        }
                    }
                }
                Insn::Var(k) => {
                    let mut given = false;
                    for &(_, v) in vars.iter().filter(|(vk, _)| *vk == k) {
                        given = true;
                        if input[pos..].starts_with(v) {
                            ends.push((pos + v.len(), marks.clone()));
                        }
                    }
                    if !given {
                        unknown = Some(k);
                        continue;
                    }
                }
                insn => {
                    if let Some(end) = self.test_once(insn, input, pos) {
                        ends.push((end, marks.clone()));
                    }
                }
            }
            if ends.is_empty() && s.on_fail != HARD {
                stack.push((s.on_fail, pos, marks));
            }
            stack.extend(ends.into_iter().map(|(end, m)| (s.next, end, m)));
        }
        unknown.map_or(Match::No, Match::UnknownVar)
    }

    /// A thread set over (step, pos) with a visited bitmap: each state is
    /// run once, so the work is bounded by `steps x (len + 1)`.
    fn run_threads(&self, input: &[u8], vars: &[(u8, &[u8])]) -> Match {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch { stack, seen } = &mut *scratch;
            let width = input.len() + 1;
            let states = self.steps.len() * width;
            seen.clear();
            seen.resize(states.div_ceil(64), 0);
            stack.clear();
            stack.push((0, 0));
            let mut unknown = None;
            while let Some((i, pos)) = stack.pop() {
                let (i, pos) = (i as usize, pos as usize);
                let Some(s) = self.steps.get(i) else { continue };
                let bit = i * width + pos;
                if seen[bit / 64] >> (bit % 64) & 1 == 1 {
                    continue;
                }
                seen[bit / 64] |= 1 << (bit % 64);
                let mut any = false;
                let mut push = |end: usize| {
                    any = true;
                    stack.push((s.next, end as u32));
                };
                match s.insn {
                    Insn::Success => return Match::Yes,
                    Insn::Fail => continue,
                    Insn::Save => {
                        push(pos);
                        continue;
                    }
                    Insn::Restore => {
                        push(0);
                        continue;
                    }
                    Insn::Star(k) => {
                        let set = self.set(k);
                        push(pos);
                        for (q, &b) in input.iter().enumerate().skip(pos) {
                            if !set.contains(b) {
                                break;
                            }
                            push(q + 1);
                        }
                        continue;
                    }
                    Insn::Search(c) => {
                        for (q, &b) in input.iter().enumerate().skip(pos) {
                            if b == c {
                                push(q + 1);
                            }
                        }
                    }
                    Insn::Var(k) => {
                        let mut given = false;
                        for &(_, v) in vars.iter().filter(|(vk, _)| *vk == k) {
                            given = true;
                            if input[pos..].starts_with(v) {
                                push(pos + v.len());
                            }
                        }
                        if !given {
                            // Neither edge can be taken without the value.
                            unknown = Some(k);
                            continue;
                        }
                    }
                    insn => {
                        if let Some(end) = self.test_once(insn, input, pos) {
                            push(end);
                        }
                    }
                }
                if !any && s.on_fail != HARD {
                    stack.push((s.on_fail, pos as u32));
                }
            }
            unknown.map_or(Match::No, Match::UnknownVar)
        })
    }

    /// One line per instruction: `pc  kind  argument  ; else ...`.
    pub fn disassemble(&self, var_name: &dyn Fn(u8) -> String) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| {
                let (kind, arg) = match s.insn {
                    Insn::Lit { at, len } => ("literal", super::pattern::quote(self.lit(at, len))),
                    Insn::End => ("end", String::new()),
                    Insn::Var(k) => ("variable", format!("${{{}}}", var_name(k))),
                    Insn::Class(k) => ("class", self.set(k).class_text()),
                    Insn::SkipTo(c) => ("skip-to", regex_char(c)),
                    Insn::Search(c) => ("search", regex_char(c)),
                    Insn::Star(k) => ("star", self.set(k).class_text()),
                    Insn::Save => ("save", String::new()),
                    Insn::Restore => ("restore", String::new()),
                    Insn::Fail => ("fail", String::new()),
                    Insn::Pop => ("pop", String::new()),
                    Insn::Success => ("success", String::new()),
                };
                let conn = match s.connector {
                    Connector::None => String::new(),
                    Connector::Hard => " ; else fail".to_owned(),
                    _ => {
                        let target = self
                            .steps
                            .get(s.on_fail as usize)
                            .map_or(self.code.len(), |t| usize::from(t.pc));
                        format!(" ; else goto {target}")
                    }
                };
                format!("{:5}  {kind:8} {arg}{conn}", s.pc)
            })
            .collect()
    }
}

/// Reused buffers of the thread-set matcher, so matching does not allocate
/// once warm.
#[derive(Default)]
struct Scratch {
    stack: Vec<(u32, u32)>,
    seen: Vec<u64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Vec<u8> {
        let mut v = vec![0x40 + s.len() as u8 - 1];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn prog(parts: &[&[u8]]) -> Program {
        Program::decode(&parts.concat(), 4).unwrap()
    }

    #[test]
    fn literal_subpath_prefix() {
        let literal = prog(&[&lit("/tmp/foo"), &[0x0f, 0x00, 0x0f, 0x0a]]);
        let subpath = prog(&[
            &lit("/tmp/foo"),
            &[0x0f, 0x40, b'/', 0x80, 0x0a, 0x00, 0x0f, 0x0a],
        ]);
        let prefix = prog(&[&lit("/tmp/foo"), &[0x0f, 0x0a]]);
        for (p, input, want) in [
            (&literal, "/tmp/foo", Match::Yes),
            (&literal, "/tmp/foo/x", Match::No),
            (&literal, "/tmp/foobar", Match::No),
            (&subpath, "/tmp/foo", Match::Yes),
            (&subpath, "/tmp/foo/", Match::Yes),
            (&subpath, "/tmp/foo/x", Match::Yes),
            (&subpath, "/tmp/foobar", Match::No),
            (&subpath, "/tmp/fo", Match::No),
            (&prefix, "/tmp/foobar", Match::Yes),
            (&prefix, "/tmp/fo", Match::No),
        ] {
            assert_eq!(p.matches(input.as_bytes(), &[]), want, "{input}");
        }
    }

    #[test]
    fn search_tries_every_occurrence() {
        // `.*/[^/]+/SC_Info/` (ipsw's example): 03 '/' then [^/] then
        // [^/]*/ then "SC_Info/".
        let p = prog(&[
            &[0x03, b'/', 0x0f],
            &[0x0b, 0x01, 0x30, 0xff, 0x00, 0x2e, 0x0f],
            &[0x02, b'/', 0x0f],
            &lit("SC_Info/"),
            &[0x0f, 0x0a],
        ]);
        assert_eq!(p.matches(b"/var/app/X.app/SC_Info/x", &[]), Match::Yes);
        assert_eq!(p.matches(b"/SC_Info/", &[]), Match::No);
        // Adversarial input: many '/' and no match stays linear.
        let long = "/a".repeat(5000);
        assert_eq!(p.matches(long.as_bytes(), &[]), Match::No);
    }

    #[test]
    fn star_then_end_is_one_or_more() {
        // [^/] [^/]* $ = `[^/]+$`
        let p = prog(&[
            &lit("/x/"),
            &[0x0f, 0x0b, 0x01, 0x30, 0xff, 0x00, 0x2e, 0x0f],
            &[0x0b, 0x81, 0x30, 0xff, 0x00, 0x2e],
            &[0x00, 0x0f, 0x0a],
        ]);
        assert_eq!(p.matches(b"/x/abc", &[]), Match::Yes);
        assert_eq!(p.matches(b"/x/", &[]), Match::No);
        assert_eq!(p.matches(b"/x/a/b", &[]), Match::No);
    }

    #[test]
    fn a_variable_without_a_value_is_unknown_unless_another_thread_accepts() {
        // `06 | "/" 82 00 80 0a | 05 | ${0} 0f "/tmp" 0f 0a`: two sections;
        // the first section's failure edges lead to the 05.
        let first = [lit("/"), vec![0x82, 0x00, 0x80, 0x0a]].concat();
        let p = prog(&[
            &[0x06],
            &first,
            &[0x05, 0x10, 0x0f],
            &lit("/tmp"),
            &[0x0f, 0x0a],
        ]);
        assert_eq!(p.matches(b"/", &[]), Match::Yes);
        assert_eq!(p.matches(b"/Users/me/tmp", &[]), Match::UnknownVar(0));
        let home: &[u8] = b"/Users/me";
        assert_eq!(p.matches(b"/Users/me/tmp", &[(0, home)]), Match::Yes);
        assert_eq!(p.matches(b"/Users/you/tmp", &[(0, home)]), Match::No);
    }

    /// The guard rejects what no thread can match, and never a string a
    /// thread matches or a "no" that an unknown variable makes unknown.
    #[test]
    fn the_guard_rejects_only_what_cannot_match() {
        let home: &[u8] = b"/Users/me";
        // ${0}/Library/Trial then "/" or the end.
        let subpath = prog(&[
            &[0x10, 0x0f],
            &lit("/Library/Trial"),
            &[0x0f, 0x40, b'/', 0x80, 0x0a, 0x00, 0x0f, 0x0a],
        ]);
        for (input, vars, want, rejects) in [
            (
                "/Users/me/Library/Trial/x",
                &[(0, home)][..],
                Match::Yes,
                false,
            ),
            (
                "/Users/me/Library/Mail/x",
                &[(0, home)][..],
                Match::No,
                true,
            ),
            ("/Users/me/Library/Tria", &[(0, home)][..], Match::No, true),
            (
                "/Users/me/Library/Mail/x",
                &[][..],
                Match::UnknownVar(0),
                false,
            ),
            // A second value of the variable moves the region.
            (
                "/v/Library/Trial",
                &[(0, home), (0, b"/v")][..],
                Match::Yes,
                false,
            ),
        ] {
            assert_eq!(subpath.matches(input.as_bytes(), vars), want, "{input}");
            assert_eq!(
                subpath.guard_rejects(input.as_bytes(), vars),
                rejects,
                "{input}"
            );
        }
        // `06 | "/a" 82 00 80 0a | 05 | ${0} 0f 09`: the second section
        // reads a variable, then fails; without its value the program
        // cannot say "no", so the guard must not either.
        let first = [lit("/a"), vec![0x82, 0x00, 0x80, 0x0a]].concat();
        let dead = prog(&[&[0x06], &first, &[0x05, 0x10, 0x0f, 0x09]]);
        assert_eq!(dead.matches(b"/b", &[]), Match::UnknownVar(0));
        assert!(!dead.guard_rejects(b"/b", &[]));
        assert_eq!(dead.matches(b"/a", &[]), Match::Yes);
        assert_eq!(dead.matches(b"/b", &[(0, home)]), Match::No);
        // The same with a literal after the variable: the way that read
        // ${0} is kept past the restore.
        let tail = prog(&[
            &[0x06],
            &first,
            &[0x05, 0x10, 0x0f],
            &lit("/t"),
            &[0x0f, 0x0a],
        ]);
        assert_eq!(tail.matches(b"/b", &[]), Match::UnknownVar(0));
        assert_eq!(tail.matches(b"/Users/me/t", &[(0, home)]), Match::Yes);
        assert!(tail.guard_rejects(b"/Users/me/x", &[(0, home)]));
    }

    #[test]
    fn a_nested_save_restores_to_its_own_mark() {
        // macOS 15's shape: `06 | "/a/" 0f | 06 | "x" 83 "1" 80 0a | 05 |
        // "y" 83 "2" 80 0a | 05 07 0f`: the inner alternatives restart at
        // the inner mark (after "/a/"), not at 0; when both fail, `07`
        // pops the mark and the item ends without a match.
        let alt = |a: u8, b: u8| vec![0x40, a, 0x83, 0x40, b, 0x80, 0x0a];
        let p = prog(&[
            &[0x06],
            &lit("/a/"),
            &[0x0f, 0x06],
            &alt(b'x', b'1'),
            &[0x05],
            &alt(b'y', b'2'),
            &[0x05, 0x07, 0x0f],
        ]);
        for (input, want) in [
            ("/a/x1", Match::Yes),
            ("/a/y2", Match::Yes),
            ("/a/y2/more", Match::Yes),
            ("/a/x2", Match::No),
            ("/a/", Match::No),
            ("y2", Match::No),
            ("/b/x1", Match::No),
        ] {
            assert_eq!(p.matches(input.as_bytes(), &[]), want, "{input}");
        }
        // The forms see the same two paths.
        use crate::blob::forms::{paths, Atom};
        assert_eq!(
            paths(&p).unwrap(),
            [
                vec![Atom::Lit(b"/a/x1".to_vec())],
                vec![Atom::Lit(b"/a/y2".to_vec())]
            ]
        );
    }

    #[test]
    fn malformed_items_are_errors_with_the_byte() {
        for (code, pc) in [
            (&[0x47, b'/', b't'][..], 1),       // literal past the end
            (&[0x40, b'/', 0x0a][..], 2),       // test without connector
            (&[0x40, b'/', 0x85, 0x0a][..], 0), // branch past the end
            (&[0x01][..], 0),                   // unknown opcode
            (&[0x07][..], 1),                   // pop without connector
            (&[0x15, 0x0f, 0x0a][..], 0),       // variable 5 of 4
        ] {
            let e = Program::decode(code, 4).unwrap_err();
            assert_eq!(e.pc, pc, "{code:02x?}: {e}");
        }
    }

    #[test]
    fn class_text() {
        assert_eq!(
            ByteSet::from_pairs(&[0x30, 0xff, 0x00, 0x2e]).class_text(),
            "[^/]"
        );
        assert_eq!(ByteSet::from_pairs(&[0x00, 0xff]).class_text(), ".");
        assert_eq!(ByteSet::from_pairs(b"09").class_text(), "[0-9]");
        assert_eq!(ByteSet::from_pairs(b"--09AF").class_text(), "[\\-0-9A-F]");
    }
}
