//! Compiled Seatbelt profiles ("blobs"): decoding and encoding.
//!
//! Three layouts are read, told apart by the header ([`Format::detect`]):
//!
//! - `hdr14`: macOS 12-14 / iOS 15-17, a 14-byte header;
//! - `hdr16`: macOS 15.2+ / iOS 18-26, a 16-byte header;
//! - `legacy`: Mac OS X 10.6, a 4-byte header and AppleMatch v1 regexes.
//!
//! A modern blob is a header, tables (regexes, global variables, state
//! flags, policies), an operation table (one node index per operation: the
//! "bucket") or, in a bundle, one such table per profile, an array of 8-byte
//! nodes and a data area of path patterns, strings and bitmaps. Every read from
//! the input goes through [`Reader`], which names the field and checks the
//! bounds, and every cross-reference is validated before a [`Profile`] is
//! handed out, so a truncated or inconsistent blob becomes a [`DecodeError`]
//! carrying the byte offset, never a panic. Decoding also builds what
//! evaluation needs (decoded patterns, regexes, bitmaps per node), so a
//! decision never re-reads the data area.

pub mod chain;
pub mod encode;
pub mod filters;
pub mod forms;
mod legacy;
mod modern;
pub mod pattern;
pub mod profile_text;
pub mod program;
pub mod regex;
pub mod render;

pub use filters::{ArgKind, Bitmap, FilterArg, NamedItem, PatternItem, RegexEntry, StringItem};

use crate::vocab::Vocab;
use std::fmt;

/// Why a blob could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the blob where the problem was found.
    pub offset: usize,
    /// The field being read, e.g. `op_table[21]`.
    pub field: String,
    pub kind: DecodeErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The blob ends before the field does.
    Truncated { needed: usize, len: usize },
    /// A node index points past the node array.
    NodeOutOfRange { index: u16, node_count: u16 },
    /// A data-area reference points past the end of the blob.
    DataOutOfRange { arg: u16 },
    /// Following match/unmatch edges from `node` comes back to it.
    Cycle { node: u16 },
    /// A count the format cannot hold (no operations, a bundle of no
    /// profiles, ...).
    AbsurdCount { count: usize, why: &'static str },
    /// A value outside what the format allows.
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}: ", self.offset, self.field)?;
        match &self.kind {
            DecodeErrorKind::Truncated { needed, len } => {
                write!(f, "truncated: needs {needed} bytes, blob has {len}")
            }
            DecodeErrorKind::NodeOutOfRange { index, node_count } => {
                write!(
                    f,
                    "node index {index} out of range (node_count {node_count})"
                )
            }
            DecodeErrorKind::DataOutOfRange { arg } => {
                write!(f, "data reference {arg} points past the end of the blob")
            }
            DecodeErrorKind::Cycle { node } => {
                write!(f, "cycle in the node graph through node {node}")
            }
            DecodeErrorKind::AbsurdCount { count, why } => {
                write!(f, "absurd count {count}: {why}")
            }
            DecodeErrorKind::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    pub(crate) fn invalid(offset: usize, field: impl Into<String>, why: impl Into<String>) -> Self {
        DecodeError {
            offset,
            field: field.into(),
            kind: DecodeErrorKind::Invalid(why.into()),
        }
    }

    /// Prefixes the field with where it was reached from.
    pub(crate) fn within(mut self, context: impl fmt::Display) -> Self {
        self.field = format!("{context} {}", self.field);
        self
    }
}

/// Bounds-checked reads that name the field they read.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn slice(
        &self,
        offset: usize,
        len: usize,
        field: impl Fn() -> String,
    ) -> Result<&'a [u8], DecodeError> {
        let end = offset.checked_add(len);
        match end {
            Some(end) if end <= self.bytes.len() => Ok(&self.bytes[offset..end]),
            _ => Err(DecodeError {
                offset,
                field: field(),
                kind: DecodeErrorKind::Truncated {
                    needed: offset.saturating_add(len),
                    len: self.bytes.len(),
                },
            }),
        }
    }

    pub(crate) fn u8(&self, offset: usize, field: impl Fn() -> String) -> Result<u8, DecodeError> {
        Ok(self.slice(offset, 1, field)?[0])
    }

    pub(crate) fn u16(
        &self,
        offset: usize,
        field: impl Fn() -> String,
    ) -> Result<u16, DecodeError> {
        let b = self.slice(offset, 2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(
        &self,
        offset: usize,
        field: impl Fn() -> String,
    ) -> Result<u32, DecodeError> {
        let b = self.slice(offset, 4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u32_be(
        &self,
        offset: usize,
        field: impl Fn() -> String,
    ) -> Result<u32, DecodeError> {
        let b = self.slice(offset, 4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `count` little-endian u16s from `offset`, bounds-checked as a whole
    /// before anything is allocated; a short table names its first missing
    /// entry (`op_table[143]`).
    pub(crate) fn u16s(
        &self,
        offset: usize,
        count: usize,
        field: &str,
    ) -> Result<Vec<u16>, DecodeError> {
        let Ok(raw) = self.slice(offset, 2 * count, String::new) else {
            let k = (self.bytes.len().saturating_sub(offset) / 2).min(count);
            let at = offset + 2 * k;
            return Err(DecodeError {
                offset: at,
                field: format!("{field}[{k}]"),
                kind: DecodeErrorKind::Truncated {
                    needed: at + 2,
                    len: self.bytes.len(),
                },
            });
        };
        Ok(raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }
}

pub(crate) fn name(s: &str) -> impl Fn() -> String + '_ {
    move || s.to_owned()
}

/// Which layout the header announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// macOS 12-14 / iOS 15-17: 14-byte header.
    Hdr14,
    /// macOS 15.2+ / iOS 18-26: 16-byte header.
    Hdr16,
    /// Mac OS X 10.6: 4-byte header, absolute node offsets, AppleMatch v1.
    Legacy,
}

impl Format {
    /// The short name used in output and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hdr14 => "hdr14",
            Format::Hdr16 => "hdr16",
            Format::Legacy => "legacy",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Format::Hdr14 => "macOS 12-14 / iOS 15-17, 14-byte header",
            Format::Hdr16 => "macOS 15.2+ / iOS 18-26, 16-byte header",
            Format::Legacy => "Mac OS X 10.6, 4-byte header",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        [Format::Hdr14, Format::Hdr16, Format::Legacy]
            .into_iter()
            .find(|f| f.name() == s)
    }

    pub fn header_len(self) -> usize {
        match self {
            Format::Hdr14 => 14,
            Format::Hdr16 => 16,
            Format::Legacy => 4,
        }
    }

    /// Reads the format from the header. Modern blobs start with a type word
    /// using only bits 0x4000 / 0x8000; the op count then names the release
    /// (190: macOS 14 / iOS 17, 195: iOS 26). For other op counts the layout
    /// is chosen by which header length gives an op table that points inside
    /// the node array. A 10.6 blob starts with its regex-table offset / 8,
    /// which is never such a type word.
    pub fn detect(bytes: &[u8]) -> Result<Format, DecodeError> {
        let r = Reader::new(bytes);
        let kind = r.u16(0, name("header.type"))?;
        if kind & !(KIND_HAS_MESSAGE_FILTERS | KIND_BUNDLE) != 0 {
            return Ok(Format::Legacy);
        }
        match r.u8(4, name("header.op_count"))? {
            modern::OP_COUNT_HDR14 => Ok(Format::Hdr14),
            modern::OP_COUNT_HDR16 => Ok(Format::Hdr16),
            _ => Ok(modern::guess_layout(bytes)),
        }
    }
}

/// The header fields of every format (legacy blobs fill in what they have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: u16,
    pub node_count: u16,
    pub op_count: u8,
    pub global_var_count: u8,
    pub state_flag_count: u8,
    pub profile_count: u16,
    pub regex_count: u16,
    pub policy_count: u16,
    /// hdr16 bytes 7, 8 and 9 (the counts of two further tables and one
    /// unknown byte; all zero in iOS 26); hdr14 byte 7 (padding).
    pub extra: [u8; 3],
}

/// Header `kind` bit: the profile carries message filters (policies).
pub const KIND_HAS_MESSAGE_FILTERS: u16 = 0x4000;
/// Header `kind` bit: a bundle of several profiles.
pub const KIND_BUNDLE: u16 = 0x8000;

pub(crate) const HEADER_LEN: usize = 14;
pub(crate) const NODE_LEN: usize = 8;

/// Terminal action bits (the low bits of the 24-bit action word).
pub mod action {
    pub const DENY: u32 = 0x1;
    pub const GRANT: u32 = 0x2;
    pub const REPORT: u32 = 0x4;
    pub const NO_SANDBOX: u32 = 0x8;
    pub const SIP_OVERRIDE: u32 = 0x10;
    pub const NO_TIMES: u32 = 0x20;
    pub const AUTHORITY: u32 = 0x40;
    pub const TELEMETRY: u32 = 0x80;
    pub const NO_APPROVAL_PROMPT: u32 = 0x200;
    pub const NO_STORAGE_CLASS: u32 = 0x800;
    /// An inline modifier follows in bytes 4..7 of the node.
    pub const INLINE_MODIFIER: u32 = 0x80_0000;

    /// Flag names in bit order, for display.
    pub const NAMES: [(u32, &str); 9] = [
        (GRANT, "grant"),
        (REPORT, "report"),
        (NO_SANDBOX, "no-sandbox"),
        (SIP_OVERRIDE, "sip-override"),
        (NO_TIMES, "no-times"),
        (AUTHORITY, "authority"),
        (TELEMETRY, "telemetry"),
        (NO_APPROVAL_PROMPT, "no-approval-prompt"),
        (NO_STORAGE_CLASS, "no-storage-class"),
    ];

    /// Bits of the action word no name is known for.
    pub const KNOWN: u32 =
        0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x200 | 0x800 | INLINE_MODIFIER;
}

/// Modifier ids whose argument is a string in the data area.
pub mod modifier {
    pub const SEND_SIGNAL: u8 = 1;
    pub const ERRNO: u8 = 2;
    pub const MESSAGE: u8 = 10;
    pub const DEFAULT_SANDBOX: u8 = 11;
    pub const ASSIGN_STORAGE_CLASS: u8 = 12;
    pub const MESSAGE_FILTER: u8 = 19;

    /// Whether the modifier's argument names a data-area string.
    pub fn has_string(id: u8) -> bool {
        matches!(id, MESSAGE | DEFAULT_SANDBOX | ASSIGN_STORAGE_CLASS)
    }
}

/// An inline modifier carried by a terminal node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Modifier {
    pub id: u8,
    pub policy_op: u8,
    pub arg: u16,
}

impl Modifier {
    /// The modifier's SBPL name; `None` for an id no list knows.
    pub fn known_name(&self) -> Option<&'static str> {
        Some(match self.id {
            1 => "send-signal",
            2 => "errno",
            3 => "report",
            4 => "no-report",
            5 => "no-sandbox",
            6 => "grant",
            7 => "sip-override",
            8 => "no-times",
            9 => "user-approval",
            10 => "message",
            11 => "default-sandbox",
            12 => "assign-storage-class",
            13 => "authority",
            14 => "telemetry",
            15 => "telemetry-backtrace",
            16 => "no-approval-prompt",
            17 => "enable-state-flag",
            18 => "no-storage-class",
            19 => "message-filter",
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        self.known_name().unwrap_or("unknown-modifier")
    }
}

/// A terminal's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Action {
    /// The 24-bit action word (10.6: the terminal's result, 0 or 1).
    pub word: u32,
    pub modifier: Option<Modifier>,
}

impl Action {
    pub const ALLOW: Action = Action {
        word: 0,
        modifier: None,
    };
    /// A plain `(deny ...)`: report is implied for deny.
    pub const DENY: Action = Action {
        word: action::DENY | action::REPORT,
        modifier: None,
    };

    pub fn is_deny(&self) -> bool {
        self.word & action::DENY != 0
    }

    /// The errno an `(with errno N)` modifier asks for.
    pub fn errno(&self) -> Option<i32> {
        self.modifier
            .filter(|m| m.id == modifier::ERRNO)
            .map(|m| i32::from(m.arg))
    }

    /// Flag names set in the action word, besides deny.
    pub fn flag_names(&self) -> Vec<&'static str> {
        action::NAMES
            .iter()
            .filter(|(bit, _)| self.word & bit != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// Action-word bits no name is known for (shown as hex, not guessed).
    pub fn unknown_bits(&self) -> u32 {
        self.word & !action::KNOWN
    }
}

/// One 8-byte node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// `00 | filter+1 (| 0x80) | arg | match | unmatch`.
    Filter {
        /// Filter id in the release's vocabulary.
        filter: u8,
        /// The 0x80 bit: the regex variant of a string filter (arg indexes
        /// the regex table) or the mask variant of an integer filter.
        alt: bool,
        arg: u16,
        matched: u16,
        unmatched: u16,
    },
    Terminal(Action),
}

/// One profile of a bundle: its record header and op table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubProfile {
    /// Byte offset of the record.
    pub offset: usize,
    /// The record's header words before the op table (hdr14: name item and
    /// one unknown word; hdr16: four words) [reported, no bundle to check].
    pub header: Vec<u16>,
    /// The profile's name when the first word names a NUL-terminated string.
    pub name: Option<String>,
    pub op_table: Vec<u16>,
}

/// How to decode: the defaults read everything from the header.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Force a layout instead of detecting it.
    pub format: Option<Format>,
    /// Force a vocabulary instead of choosing it from the layout.
    pub vocab: Option<&'static Vocab>,
}

/// A decoded profile. Owns its bytes so data-area items can be borrowed.
#[derive(Debug, Clone)]
pub struct Profile {
    pub format: Format,
    /// The names of operations and filters of the release the blob is from.
    pub vocab: &'static Vocab,
    pub header: Header,
    /// The op table evaluation uses (a bundle's first profile).
    pub op_table: Vec<u16>,
    /// Byte offset of the op table (of the first record in a bundle).
    pub op_table_offset: usize,
    pub nodes: Vec<Node>,
    /// Byte offset of the node array.
    pub nodes_offset: usize,
    /// Byte offset of the data area (the end of the node array); data
    /// references are `data_base + arg * 8`.
    pub data_base: usize,
    pub bytes: Vec<u8>,
    /// The regex table, decoded.
    pub regexes: Vec<RegexEntry>,
    /// Global variables (`${HOME}` in patterns): pattern opcode 0x10 + k
    /// reads variable k.
    pub global_vars: Vec<NamedItem>,
    pub state_flags: Vec<NamedItem>,
    /// Node index of each message-filter policy graph.
    pub policies: Vec<u16>,
    /// hdr16: the two tables counted at bytes 7 and 8 (raw words).
    pub extra_tables: Vec<Vec<u16>>,
    /// Bundle records; empty for a single profile.
    pub profiles: Vec<SubProfile>,
    /// The decoded argument of every node (`FilterArg::None` for terminals).
    pub args: Vec<FilterArg>,
    /// Distinct pattern items, decoded.
    pub patterns: Vec<PatternItem>,
    /// Distinct string items.
    pub strings: Vec<StringItem>,
    /// Distinct bitmap items.
    pub bitmaps: Vec<Bitmap>,
    /// 10.6 only: the byte offset of each node (nodes are numbered densely
    /// in offset order; the blob addresses them by offset / 8).
    pub legacy_offsets: Vec<usize>,
    /// Oddities the kernel tolerates (it ignores the bytes), in blob order.
    pub warnings: Vec<DecodeWarning>,
}

/// Something in a blob that Apple's kernel reads past without complaint
/// (so the blob is accepted) but that no compiler would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeWarning {
    /// Byte offset of the odd bytes.
    pub offset: usize,
    /// The field, e.g. `node[806].modifier`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for DecodeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}: {}", self.offset, self.field, self.message)
    }
}

impl Profile {
    /// Decodes a blob, validating every cross-reference before returning.
    pub fn decode(bytes: &[u8]) -> Result<Profile, DecodeError> {
        Profile::decode_with(bytes, &DecodeOptions::default())
    }

    pub fn decode_with(bytes: &[u8], options: &DecodeOptions) -> Result<Profile, DecodeError> {
        let format = match options.format {
            Some(f) => f,
            None => Format::detect(bytes)?,
        };
        let mut profile = match format {
            Format::Legacy => legacy::decode(bytes, options.vocab)?,
            Format::Hdr14 | Format::Hdr16 => modern::decode(bytes, format, options.vocab)?,
        };
        check_acyclic(&profile)?;
        profile.bytes = bytes.to_vec();
        Ok(profile)
    }

    /// The data-area item at `base + arg * 8`: a u16 length, then the bytes.
    pub fn data_item(&self, arg: u16) -> Result<&[u8], DecodeError> {
        data_item(&Reader::new(&self.bytes), self.data_base, arg)
    }

    /// Byte offset of node `index` in the blob.
    pub fn node_offset(&self, index: u16) -> usize {
        match self.legacy_offsets.get(usize::from(index)) {
            Some(&off) => off,
            None => self.nodes_offset + NODE_LEN * usize::from(index),
        }
    }

    /// Operation ids grouped by the node their op-table entry points at.
    pub fn buckets(&self) -> Vec<(u16, Vec<u16>)> {
        buckets_of(&self.op_table)
    }

    /// Makes bundle profile `k` the one evaluation uses.
    pub fn select_profile(&mut self, k: usize) -> Option<()> {
        self.op_table = self.profiles.get(k)?.op_table.clone();
        Some(())
    }

    /// The name of global variable `k` (pattern opcode 0x10 + k).
    pub fn var_name(&self, k: u8) -> Option<&str> {
        self.global_vars
            .get(usize::from(k))
            .map(|v| v.name.as_str())
    }

    /// The string a string-valued modifier names, without its NUL.
    pub fn modifier_string(&self, m: &Modifier) -> Option<String> {
        if !modifier::has_string(m.id) {
            return None;
        }
        let item = self.data_item(m.arg).ok()?;
        Some(filters::c_string(item).to_owned())
    }
}

pub(crate) fn buckets_of(op_table: &[u16]) -> Vec<(u16, Vec<u16>)> {
    let mut groups: std::collections::BTreeMap<u16, Vec<u16>> = Default::default();
    for (op, &node) in op_table.iter().enumerate() {
        groups.entry(node).or_default().push(op as u16);
    }
    groups.into_iter().collect()
}

/// The item at `base + arg * 8`: u16 length, then that many bytes.
pub(crate) fn data_item<'a>(
    r: &Reader<'a>,
    base: usize,
    arg: u16,
) -> Result<&'a [u8], DecodeError> {
    let offset = base + usize::from(arg) * 8;
    if offset >= r.len() {
        return Err(DecodeError {
            offset,
            field: format!("data[{arg}]"),
            kind: DecodeErrorKind::DataOutOfRange { arg },
        });
    }
    let len = r.u16(offset, || format!("data[{arg}].len"))?;
    r.slice(offset + 2, usize::from(len), || format!("data[{arg}]"))
}

/// Filters whose argument the SBPL compiler places in the data area (path
/// patterns and literal strings), by macOS 14.4.1 id. Decoding uses the
/// fuller classification in [`filters::arg_kind`].
pub fn filter_has_data(filter: u8, alt: bool) -> bool {
    use crate::vocab::filter::*;
    // Integer filters (socket-domain, target, vnode-type, ...) carry the value
    // inline; the regex variant indexes the regex table instead.
    !alt && matches!(
        filter,
        PATH | 1 | 2 | 4 | 5 | 6 | CONTROL_NAME | 22 | 26 | 37 | 38
    )
}

/// Rejects a node graph with a cycle: evaluation and rendering may then
/// assume every walk ends. Iterative three-colour DFS over every node.
fn check_acyclic(p: &Profile) -> Result<(), DecodeError> {
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let n = p.nodes.len();
    let mut colour = vec![WHITE; n];
    let mut stack: Vec<(u16, u8)> = Vec::new();
    let succ = |i: u16, k: u8| match p.nodes[usize::from(i)] {
        Node::Filter {
            matched, unmatched, ..
        } => [Some(matched), Some(unmatched)][usize::from(k)],
        Node::Terminal(_) => None,
    };
    for start in 0..n {
        if colour[start] != WHITE {
            continue;
        }
        colour[start] = GREY;
        stack.push((start as u16, 0));
        while let Some(top) = stack.last_mut() {
            let (node, k) = *top;
            if k >= 2 {
                colour[usize::from(node)] = BLACK;
                stack.pop();
                continue;
            }
            top.1 += 1;
            let Some(next) = succ(node, k) else { continue };
            match colour[usize::from(next)] {
                WHITE => {
                    colour[usize::from(next)] = GREY;
                    stack.push((next, 0));
                }
                GREY => {
                    return Err(DecodeError {
                        offset: p.node_offset(node),
                        field: format!("node[{node}]"),
                        kind: DecodeErrorKind::Cycle { node: next },
                    })
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Checks a node index against the node count.
pub(crate) fn check_node(
    index: u16,
    node_count: usize,
    offset: usize,
    field: impl Fn() -> String,
) -> Result<(), DecodeError> {
    if usize::from(index) < node_count {
        Ok(())
    } else {
        Err(DecodeError {
            offset,
            field: field(),
            kind: DecodeErrorKind::NodeOutOfRange {
                index,
                node_count: node_count as u16,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(version 1) (allow default)` as Apple's libsandbox compiled it (macOS 14.4.1).
    const ALLOW_ALL: &[u8] =
        include_bytes!("../../profiles/apple/macos-14.4.1/baseline_allow_all.sb.bin");

    #[test]
    fn decodes_apple_allow_all() {
        let p = Profile::decode(ALLOW_ALL).unwrap();
        assert_eq!(p.format, Format::Hdr14);
        assert_eq!(p.vocab.release, "macos-14.4.1");
        assert_eq!(p.header.node_count, 2);
        assert_eq!(p.header.op_count, 190);
        assert_eq!(p.nodes_offset, 400);
        assert_eq!(p.nodes[0], Node::Terminal(Action::DENY));
        assert_eq!(p.nodes[1], Node::Terminal(Action::ALLOW));
        let buckets = p.buckets();
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].1, vec![37, 85, 165, 188]);
    }

    #[test]
    fn every_truncation_is_a_typed_error_with_an_offset() {
        for len in 0..ALLOW_ALL.len() {
            let err = Profile::decode(&ALLOW_ALL[..len]).unwrap_err();
            match err.kind {
                DecodeErrorKind::Truncated { needed, len: have } => {
                    assert_eq!(have, len);
                    assert!(needed > len && err.offset < needed, "{err}");
                }
                _ => panic!("{err}"),
            }
        }
    }

    #[test]
    fn out_of_range_op_entry_names_the_entry() {
        let mut bytes = ALLOW_ALL.to_vec();
        bytes[14 + 2 * 21] = 9;
        let err = Profile::decode(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "byte 56: op_table[21]: node index 9 out of range (node_count 2)"
        );
    }

    #[test]
    fn a_cycle_is_an_error_not_a_hang() {
        // golden_strict_1_file: node 3 is a path filter -> 6 / 4; point its
        // unmatch edge back at itself.
        let mut bytes =
            include_bytes!("../../profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin")
                .to_vec();
        let node3 = 400 + 8 * 3;
        bytes[node3 + 6] = 3;
        let err = Profile::decode(&bytes).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::Cycle { node: 3 }, "{err}");
        assert_eq!(err.offset, node3);
    }
}
