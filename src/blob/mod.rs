//! Compiled Seatbelt profiles ("blobs"): decoding and encoding.
//!
//! A blob is a header, an operation table (one node index per operation: the
//! "bucket"), an array of 8-byte nodes and a data area of patterns and
//! strings. Every read from the input goes through [`Reader`], which names the
//! field and checks the bounds, so a truncated or inconsistent blob becomes a
//! [`DecodeError`] carrying the byte offset, never a panic.

pub mod encode;
pub mod pattern;

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
            DecodeErrorKind::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bounds-checked little-endian reads that name the field they read.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
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
}

fn name(s: &str) -> impl Fn() -> String + '_ {
    move || s.to_owned()
}

/// Which layout the header announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// macOS 12-14 / iOS 15-17, a single profile: 14-byte header.
    Macos14Single,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Macos14Single => "macos-14 single profile",
        }
    }
}

/// The header of a macOS 12-14 blob.
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
}

/// Header `kind` bit: the profile carries message filters (policies).
pub const KIND_HAS_MESSAGE_FILTERS: u16 = 0x4000;
/// Header `kind` bit: a bundle of several profiles.
pub const KIND_BUNDLE: u16 = 0x8000;

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
}

/// An inline modifier carried by a terminal node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Modifier {
    pub id: u8,
    pub policy_op: u8,
    pub arg: u16,
}

impl Modifier {
    pub fn name(&self) -> &'static str {
        match self.id {
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
            _ => "unknown-modifier",
        }
    }
}

/// A terminal's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Action {
    /// The 24-bit action word.
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
            .filter(|m| m.id == 2)
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

/// A decoded profile. Owns its bytes so data-area items can be borrowed.
#[derive(Debug, Clone)]
pub struct Profile {
    pub format: Format,
    pub header: Header,
    pub op_table: Vec<u16>,
    pub nodes: Vec<Node>,
    /// Byte offset of the node array.
    pub nodes_offset: usize,
    /// Byte offset of the data area (the end of the node array); data
    /// references are `data_base + arg * 8`.
    pub data_base: usize,
    pub bytes: Vec<u8>,
}

const HEADER_LEN: usize = 14;
const NODE_LEN: usize = 8;

impl Profile {
    /// Decodes a blob, validating every cross-reference before returning.
    pub fn decode(bytes: &[u8]) -> Result<Profile, DecodeError> {
        let r = Reader::new(bytes);
        let header = Header {
            kind: r.u16(0, name("header.type"))?,
            node_count: r.u16(2, name("header.node_count"))?,
            op_count: r.u8(4, name("header.op_count"))?,
            global_var_count: r.u8(5, name("header.global_var_count"))?,
            state_flag_count: r.u8(6, name("header.state_flag_count"))?,
            profile_count: r.u16(8, name("header.profile_count"))?,
            regex_count: r.u16(10, name("header.regex_count"))?,
            policy_count: r.u16(12, name("header.policy_count"))?,
        };
        if header.kind & KIND_BUNDLE != 0 {
            return Err(DecodeError {
                offset: 0,
                field: "header.type".into(),
                kind: DecodeErrorKind::Invalid(format!(
                    "bundle (type {:#06x}) is not supported by this decoder yet",
                    header.kind
                )),
            });
        }
        let tables = usize::from(header.regex_count)
            + usize::from(header.global_var_count)
            + usize::from(header.state_flag_count)
            + usize::from(header.policy_count);
        let op_table_offset = HEADER_LEN + 2 * tables;
        let op_count = usize::from(header.op_count);
        let op_table = (0..op_count)
            .map(|i| r.u16(op_table_offset + 2 * i, || format!("op_table[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let nodes_offset = (op_table_offset + 2 * op_count).next_multiple_of(NODE_LEN);
        let nodes = (0..usize::from(header.node_count))
            .map(|i| decode_node(&r, nodes_offset + NODE_LEN * i, i))
            .collect::<Result<Vec<_>, _>>()?;
        let data_base = nodes_offset + NODE_LEN * nodes.len();
        let profile = Profile {
            format: Format::Macos14Single,
            header,
            op_table,
            nodes,
            nodes_offset,
            data_base,
            bytes: bytes.to_vec(),
        };
        profile.validate(op_table_offset)?;
        Ok(profile)
    }

    /// Every node index in range, every path pattern readable.
    fn validate(&self, op_table_offset: usize) -> Result<(), DecodeError> {
        let node_count = self.header.node_count;
        let check = |index: u16, offset: usize, field: String| {
            if index < node_count {
                Ok(())
            } else {
                Err(DecodeError {
                    offset,
                    field,
                    kind: DecodeErrorKind::NodeOutOfRange { index, node_count },
                })
            }
        };
        for (i, &entry) in self.op_table.iter().enumerate() {
            check(entry, op_table_offset + 2 * i, format!("op_table[{i}]"))?;
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let offset = self.nodes_offset + NODE_LEN * i;
            if let Node::Filter {
                filter,
                alt,
                arg,
                matched,
                unmatched,
            } = *node
            {
                check(matched, offset + 4, format!("node[{i}].match"))?;
                check(unmatched, offset + 6, format!("node[{i}].unmatch"))?;
                if filter_has_data(filter, alt) {
                    self.data_item(arg).map_err(|mut e| {
                        e.field = format!("node[{i}] data {}", e.field);
                        e
                    })?;
                }
            }
        }
        Ok(())
    }

    /// The data-area item at `base + arg * 8`: a u16 length, then the bytes.
    pub fn data_item(&self, arg: u16) -> Result<&[u8], DecodeError> {
        let r = Reader::new(&self.bytes);
        let offset = self.data_base + usize::from(arg) * 8;
        if offset >= self.bytes.len() {
            return Err(DecodeError {
                offset,
                field: format!("data[{arg}]"),
                kind: DecodeErrorKind::DataOutOfRange { arg },
            });
        }
        let len = r.u16(offset, || format!("data[{arg}].len"))?;
        r.slice(offset + 2, usize::from(len), || format!("data[{arg}]"))
    }

    /// Operation ids grouped by the node their op-table entry points at.
    pub fn buckets(&self) -> Vec<(u16, Vec<u16>)> {
        let mut groups: std::collections::BTreeMap<u16, Vec<u16>> = Default::default();
        for (op, &node) in self.op_table.iter().enumerate() {
            groups.entry(node).or_default().push(op as u16);
        }
        groups.into_iter().collect()
    }
}

/// Filters whose argument is a data-area pattern or string (not an integer).
pub fn filter_has_data(filter: u8, alt: bool) -> bool {
    use crate::vocab::filter::*;
    // Integer filters (socket-domain, target, vnode-type, ...) carry the value
    // inline; the regex variant indexes the regex table instead.
    !alt && matches!(
        filter,
        PATH | 1 | 2 | 4 | 5 | 6 | CONTROL_NAME | 22 | 26 | 37 | 38
    )
}

fn decode_node(r: &Reader<'_>, offset: usize, i: usize) -> Result<Node, DecodeError> {
    let b = r.slice(offset, NODE_LEN, || format!("node[{i}]"))?;
    let u16_at = |k: usize| u16::from_le_bytes([b[k], b[k + 1]]);
    match b[0] {
        0 => {
            if b[1] & 0x7f == 0 {
                return Err(DecodeError {
                    offset: offset + 1,
                    field: format!("node[{i}].filter"),
                    kind: DecodeErrorKind::Invalid("filter byte 0 names no filter".into()),
                });
            }
            Ok(Node::Filter {
                filter: (b[1] & 0x7f) - 1,
                alt: b[1] & 0x80 != 0,
                arg: u16_at(2),
                matched: u16_at(4),
                unmatched: u16_at(6),
            })
        }
        1 => {
            let word = u32::from(b[1]) | u32::from(b[2]) << 8 | u32::from(b[3]) << 16;
            let modifier = (word & action::INLINE_MODIFIER != 0).then(|| Modifier {
                id: b[4],
                policy_op: b[5],
                arg: u16_at(6),
            });
            Ok(Node::Terminal(Action { word, modifier }))
        }
        tag => Err(DecodeError {
            offset,
            field: format!("node[{i}].tag"),
            kind: DecodeErrorKind::Invalid(format!(
                "node tag {tag:#04x} is neither filter (0) nor terminal (1)"
            )),
        }),
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
}
