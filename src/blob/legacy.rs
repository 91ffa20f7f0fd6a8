//! The Mac OS X 10.6 layout.
//!
//! ```text
//! 0   u16 regex table offset / 8
//! 2   u8  regex count
//! 3   u8  padding
//! 4   u16 op table: node offset / 8 per operation, up to the first node
//!     (zero-padded to 8); its length is not stored
//!     nodes, 8 bytes, addressed by offset / 8:
//!       filter   00 | u8 filter | u16 arg | u16 match | u16 unmatch
//!       terminal 01 | 00 | u16 result (0 allow, 1 deny)
//!     regex table: u16 item offset / 8 per regex; each item is a u32 LE
//!     length, then an AppleMatch v1 program
//! ```
//!
//! Only nodes reachable from the op table are read (nothing else says where
//! the node array ends). They are numbered densely in offset order, and
//! `Profile::legacy_offsets` keeps each one's byte offset.

use super::filters::{FilterArg, RegexEntry};
use super::regex::{Regex, V1};
use super::{
    name, Action, DecodeError, DecodeErrorKind, Format, Header, Node, Profile, Reader, NODE_LEN,
};
use crate::vocab::Vocab;
use std::collections::BTreeMap;

/// Filter byte of the path filter (its argument is a regex index).
const PATH_FILTER_BYTE: u8 = 1;

pub(crate) fn decode(bytes: &[u8], vocab: Option<&'static Vocab>) -> Result<Profile, DecodeError> {
    let r = Reader::new(bytes);
    let regex_table = 8 * usize::from(r.u16(0, name("header.regex_table_offset"))?);
    let regex_count = r.u8(2, name("header.regex_count"))?;
    let raw_ops = read_op_table(&r)?;
    let ops_end = 4 + 2 * raw_ops.len();
    let nodes_start = ops_end.next_multiple_of(NODE_LEN);
    let raw_nodes = read_reachable(&r, &raw_ops, nodes_start)?;
    // Dense numbering in offset order.
    let index: BTreeMap<u16, u16> = raw_nodes
        .keys()
        .enumerate()
        .map(|(i, &raw)| (raw, i as u16))
        .collect();
    let dense = |raw: u16| index[&raw];
    let mut nodes = Vec::with_capacity(raw_nodes.len());
    for node in raw_nodes.values() {
        nodes.push(match *node {
            Node::Filter {
                filter,
                alt,
                arg,
                matched,
                unmatched,
            } => Node::Filter {
                filter,
                alt,
                arg,
                matched: dense(matched),
                unmatched: dense(unmatched),
            },
            terminal => terminal,
        });
    }
    let regexes = read_regexes(&r, regex_table, usize::from(regex_count))?;
    let mut args = Vec::with_capacity(nodes.len());
    for (&raw, node) in raw_nodes.iter() {
        args.push(match *node {
            Node::Terminal(_) => FilterArg::None,
            Node::Filter { filter, arg, .. } if filter + 1 == PATH_FILTER_BYTE => {
                if usize::from(arg) >= regexes.len() {
                    return Err(DecodeError::invalid(
                        8 * usize::from(raw) + 2,
                        format!("node@{:#x}.arg", 8 * usize::from(raw)),
                        format!("regex index {arg} out of range ({} regexes)", regexes.len()),
                    ));
                }
                FilterArg::Regex(arg)
            }
            Node::Filter { arg, .. } => FilterArg::Unknown(arg),
        });
    }
    let node_count = nodes.len();
    let last_raw = raw_nodes.keys().next_back().copied().unwrap_or(0);
    Ok(Profile {
        format: Format::Legacy,
        vocab: vocab.unwrap_or_else(Vocab::macos_10_6),
        header: Header {
            kind: 0,
            node_count: node_count as u16,
            op_count: raw_ops.len().min(255) as u8,
            global_var_count: 0,
            state_flag_count: 0,
            profile_count: 0,
            regex_count: u16::from(regex_count),
            policy_count: 0,
            extra: [0; 3],
        },
        op_table: raw_ops.iter().map(|&o| dense(o)).collect(),
        op_table_offset: 4,
        nodes,
        nodes_offset: nodes_start,
        data_base: 8 * (usize::from(last_raw) + 1),
        bytes: Vec::new(),
        regexes,
        global_vars: Vec::new(),
        state_flags: Vec::new(),
        policies: Vec::new(),
        extra_tables: Vec::new(),
        profiles: Vec::new(),
        args,
        patterns: Vec::new(),
        strings: Vec::new(),
        bitmaps: Vec::new(),
        legacy_offsets: raw_nodes.keys().map(|&raw| 8 * usize::from(raw)).collect(),
        warnings: Vec::new(),
    })
}

/// The op table runs from byte 4 to the first node any entry points at (or
/// to a zero entry, which no node can have: it would be the header).
fn read_op_table(r: &Reader<'_>) -> Result<Vec<u16>, DecodeError> {
    let mut ops = Vec::new();
    let mut first_node = usize::MAX;
    let mut at = 4;
    while at + 2 <= first_node {
        let v = r.u16(at, || format!("op_table[{}]", ops.len()))?;
        if v == 0 {
            break;
        }
        first_node = first_node.min(8 * usize::from(v));
        ops.push(v);
        at += 2;
    }
    if ops.is_empty() {
        return Err(DecodeError {
            offset: 4,
            field: "op_table".into(),
            kind: DecodeErrorKind::AbsurdCount {
                count: 0,
                why: "a profile has at least the default operation",
            },
        });
    }
    // Padding up to the node boundary must be zero.
    for pad in (at..at.next_multiple_of(NODE_LEN)).step_by(2) {
        if r.u16(pad, || "op_table padding".into())? != 0 {
            return Err(DecodeError::invalid(pad, "op_table padding", "not zero"));
        }
    }
    Ok(ops)
}

/// Nodes reachable from the op table, by raw index (offset / 8).
fn read_reachable(
    r: &Reader<'_>,
    ops: &[u16],
    nodes_start: usize,
) -> Result<BTreeMap<u16, Node>, DecodeError> {
    let mut nodes = BTreeMap::new();
    let mut todo: Vec<(u16, usize, String)> = ops
        .iter()
        .enumerate()
        .map(|(i, &o)| (o, 4 + 2 * i, format!("op_table[{i}]")))
        .collect();
    while let Some((raw, from, field)) = todo.pop() {
        if nodes.contains_key(&raw) {
            continue;
        }
        let offset = 8 * usize::from(raw);
        if offset < nodes_start {
            return Err(DecodeError::invalid(
                from,
                field,
                format!("node offset {offset:#x} points into the header or op table"),
            ));
        }
        let b = r.slice(offset, NODE_LEN, || format!("node@{offset:#x}"))?;
        let u16_at = |k: usize| u16::from_le_bytes([b[k], b[k + 1]]);
        let node = match b[0] {
            0 if b[1] != 0 => Node::Filter {
                filter: b[1] - 1,
                alt: false,
                arg: u16_at(2),
                matched: u16_at(4),
                unmatched: u16_at(6),
            },
            0 => {
                return Err(DecodeError::invalid(
                    offset + 1,
                    format!("node@{offset:#x}.filter"),
                    "filter byte 0 names no filter",
                ))
            }
            1 => Node::Terminal(Action {
                word: legacy_word(u16_at(2)),
                modifier: None,
            }),
            tag => {
                return Err(DecodeError::invalid(
                    offset,
                    format!("node@{offset:#x}.tag"),
                    format!("node tag {tag:#04x} is neither filter (0) nor terminal (1)"),
                ))
            }
        };
        if let Node::Filter {
            matched, unmatched, ..
        } = node
        {
            todo.push((matched, offset + 4, format!("node@{offset:#x}.match")));
            todo.push((unmatched, offset + 6, format!("node@{offset:#x}.unmatch")));
        }
        nodes.insert(raw, node);
    }
    Ok(nodes)
}

fn read_regexes(
    r: &Reader<'_>,
    table: usize,
    count: usize,
) -> Result<Vec<RegexEntry>, DecodeError> {
    let items = r.u16s(table, count, "regex_table")?;
    items
        .into_iter()
        .enumerate()
        .map(|(k, item)| {
            let at = 8 * usize::from(item);
            let len = r.u32(at, || format!("regex[{k}].length"))? as usize;
            let body = r.slice(at + 4, len, || format!("regex[{k}]"))?;
            let regex = V1::decode(body).map_err(|mut e| {
                e.offset += at + 4;
                e.within(format!("regex[{k}]"))
            })?;
            Ok(RegexEntry {
                item,
                regex: Regex::V1(regex),
            })
        })
        .collect()
}

/// A 10.6 terminal's result as a modern action word. Result 1 (deny) has no
/// report bit to clear: a 10.6 denial is reported, so it reads as a modern
/// plain deny (deny | report), and `decode` and `eval` agree that the
/// report flag is on [model: 10.6 SBPL has no no-report]. Other results
/// are kept as they are and shown as `(with result N)`.
pub(crate) fn legacy_word(result: u16) -> u32 {
    match result {
        1 => super::action::DENY | super::action::REPORT,
        r => u32::from(r),
    }
}
