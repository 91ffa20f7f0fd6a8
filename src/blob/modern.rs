//! The 14- and 16-byte-header layouts (macOS 12+ / iOS 15+).
//!
//! ```text
//! off  hdr14                        hdr16
//! 0    u16 type (0x4000 policies, 0x8000 bundle)
//! 2    u16 node_count
//! 4    u8  op_count
//! 5    u8  global_var_count
//! 6    u8  state_flag_count
//! 7    u8  0                        u8 count of table A
//! 8    u16 profile_count            u8 count of table B, u8 unknown
//! 10   u16 regex_count              u16 profile_count
//! 12   u16 policy_count             u16 regex_count
//! 14   tables                       u16 policy_count; tables at 16
//! ```
//!
//! Tables, each `u16[count]`, in this order: regex items, global-variable
//! items, state-flag items, policy node indices, (hdr16: tables A and B),
//! then the op table (`u16[op_count]`) or, in a bundle, one record per
//! profile; padding to 8; the nodes; the data area.

use super::filters::{
    self, kind_table, ArgKind, Bitmap, FilterArg, NamedItem, PatternItem, RegexEntry, StringItem,
};
use super::program::Program;
use super::regex::{Regex, V3};
use super::{
    check_node, data_item, modifier, name, Action, DecodeError, DecodeErrorKind, DecodeWarning,
    Format, Header, Modifier, Node, Profile, Reader, SubProfile, KIND_BUNDLE, NODE_LEN,
};
use crate::vocab::Vocab;
use std::collections::HashMap;

/// The op count of macOS 14.4.1 / iOS 17 blobs.
pub(crate) const OP_COUNT_HDR14: u8 = 190;
/// The op count of iOS 26 blobs.
pub(crate) const OP_COUNT_HDR16: u8 = 195;
/// macOS 15.2+'s platform profile: 16-byte header, 192 operations.
pub(crate) const OP_COUNT_MACOS_15: u8 = 192;

fn read_header(r: &Reader<'_>, format: Format) -> Result<Header, DecodeError> {
    let hdr16 = format == Format::Hdr16;
    let at = |k: usize| if hdr16 { k + 2 } else { k };
    Ok(Header {
        kind: r.u16(0, name("header.type"))?,
        node_count: r.u16(2, name("header.node_count"))?,
        op_count: r.u8(4, name("header.op_count"))?,
        global_var_count: r.u8(5, name("header.global_var_count"))?,
        state_flag_count: r.u8(6, name("header.state_flag_count"))?,
        extra: if hdr16 {
            [
                r.u8(7, name("header.table_a_count"))?,
                r.u8(8, name("header.table_b_count"))?,
                r.u8(9, name("header.byte9"))?,
            ]
        } else {
            [r.u8(7, name("header.pad"))?, 0, 0]
        },
        profile_count: r.u16(at(8), name("header.profile_count"))?,
        regex_count: r.u16(at(10), name("header.regex_count"))?,
        policy_count: r.u16(at(12), name("header.policy_count"))?,
    })
}

/// Byte offset of the op table (or first bundle record).
fn tables_end(h: &Header, format: Format) -> usize {
    let extra = if format == Format::Hdr16 {
        usize::from(h.extra[0]) + usize::from(h.extra[1])
    } else {
        0
    };
    format.header_len()
        + 2 * (usize::from(h.regex_count)
            + usize::from(h.global_var_count)
            + usize::from(h.state_flag_count)
            + usize::from(h.policy_count)
            + extra)
}

/// For an op count no release is known for: the layout whose op table
/// points inside a node array that fits the blob.
pub(crate) fn guess_layout(bytes: &[u8]) -> Format {
    let plausible = |format: Format| -> Option<()> {
        let r = Reader::new(bytes);
        let h = read_header(&r, format).ok()?;
        let at = tables_end(&h, format);
        let ops = r.u16s(at, usize::from(h.op_count), "op_table").ok()?;
        let nodes_at = (at + 2 * ops.len()).next_multiple_of(NODE_LEN);
        let nodes = r
            .slice(nodes_at, NODE_LEN * usize::from(h.node_count), String::new)
            .ok()?;
        // Every node starts with tag 0 (filter) or 1 (terminal): with the
        // wrong header length the node array is misaligned and some tag is
        // off (macOS 15's 192-op blob reads tag 0xea as hdr14).
        let tags_ok = nodes.chunks_exact(NODE_LEN).all(|n| n[0] <= 1);
        (tags_ok && ops.iter().all(|&o| o < h.node_count)).then_some(())
    };
    if plausible(Format::Hdr14).is_none() && plausible(Format::Hdr16).is_some() {
        Format::Hdr16
    } else {
        Format::Hdr14
    }
}

fn default_vocab(format: Format, op_count: u8) -> &'static Vocab {
    match (format, op_count) {
        (Format::Hdr14, OP_COUNT_HDR14) => Vocab::macos_14(),
        (Format::Hdr16, OP_COUNT_HDR16) => Vocab::ios_26(),
        (Format::Hdr16, OP_COUNT_MACOS_15) => Vocab::macos_15(),
        _ => Vocab::unknown(),
    }
}

pub(crate) fn decode(
    bytes: &[u8],
    format: Format,
    vocab: Option<&'static Vocab>,
) -> Result<Profile, DecodeError> {
    let r = Reader::new(bytes);
    let header = read_header(&r, format)?;
    if header.op_count == 0 {
        return Err(DecodeError {
            offset: 4,
            field: "header.op_count".into(),
            kind: DecodeErrorKind::AbsurdCount {
                count: 0,
                why: "a profile has at least the default operation",
            },
        });
    }
    let vocab = vocab.unwrap_or_else(|| default_vocab(format, header.op_count));
    let mut at = format.header_len();
    let mut table = |count: usize, field: &str| {
        let t = r.u16s(at, count, field);
        at += 2 * count;
        t
    };
    let regex_items = table(usize::from(header.regex_count), "regex_table")?;
    let var_items = table(usize::from(header.global_var_count), "global_var_table")?;
    let state_items = table(usize::from(header.state_flag_count), "state_flag_table")?;
    let policies = table(usize::from(header.policy_count), "policy_table")?;
    let mut extra_tables = Vec::new();
    if format == Format::Hdr16 {
        extra_tables.push(table(usize::from(header.extra[0]), "table_a")?);
        extra_tables.push(table(usize::from(header.extra[1]), "table_b")?);
    }
    let op_table_offset = at;
    let (op_table, profiles, ops_end) = if header.kind & KIND_BUNDLE != 0 {
        read_bundle(&r, &header, format, at)?
    } else {
        let ops = r.u16s(at, usize::from(header.op_count), "op_table")?;
        (ops, Vec::new(), at + 2 * usize::from(header.op_count))
    };
    let nodes_offset = ops_end.next_multiple_of(NODE_LEN);
    let node_count = usize::from(header.node_count);
    // The whole array first: a huge count fails here, before any allocation.
    r.slice(nodes_offset, NODE_LEN * node_count, || {
        format!("node array ({node_count} nodes)")
    })?;
    let mut warnings = Vec::new();
    let nodes = (0..node_count)
        .map(|i| decode_node(&r, nodes_offset + NODE_LEN * i, i, &mut warnings))
        .collect::<Result<Vec<_>, _>>()?;
    let data_base = nodes_offset + NODE_LEN * node_count;
    let mut p = Profile {
        format,
        vocab,
        header,
        op_table,
        op_table_offset,
        nodes,
        nodes_offset,
        data_base,
        bytes: Vec::new(),
        regexes: Vec::new(),
        global_vars: Vec::new(),
        state_flags: Vec::new(),
        policies,
        extra_tables,
        profiles,
        args: Vec::new(),
        patterns: Vec::new(),
        strings: Vec::new(),
        bitmaps: Vec::new(),
        legacy_offsets: Vec::new(),
        warnings,
    };
    check_tables(&p)?;
    p.global_vars = named_items(&r, data_base, &var_items, "global_var")?;
    p.state_flags = named_items(&r, data_base, &state_items, "state_flag")?;
    p.regexes = regex_items
        .iter()
        .enumerate()
        .map(|(k, &item)| read_regex(&r, data_base, k, item))
        .collect::<Result<_, _>>()?;
    for prof in &mut p.profiles {
        prof.name = prof
            .header
            .first()
            .and_then(|&item| data_item(&r, data_base, item).ok())
            .filter(|b| b.last() == Some(&0))
            .map(|b| filters::c_string(b).to_owned());
    }
    resolve_args(&r, &mut p)?;
    Ok(p)
}

/// Bundle records: hdr14 `{u16 name, u16 ?, u16 ops[op_count]}`, hdr16 four
/// header words then the ops [reported; no bundle was available to check].
fn read_bundle(
    r: &Reader<'_>,
    h: &Header,
    format: Format,
    at: usize,
) -> Result<(Vec<u16>, Vec<SubProfile>, usize), DecodeError> {
    let count = usize::from(h.profile_count);
    if count == 0 {
        return Err(DecodeError {
            offset: format.header_len() - 6,
            field: "header.profile_count".into(),
            kind: DecodeErrorKind::AbsurdCount {
                count,
                why: "a bundle holds at least one profile",
            },
        });
    }
    let words = if format == Format::Hdr16 { 4 } else { 2 };
    let record = 2 * (words + usize::from(h.op_count));
    r.slice(at, count * record, || format!("bundle records ({count})"))?;
    let mut profiles = Vec::with_capacity(count);
    for k in 0..count {
        let offset = at + k * record;
        let header = r.u16s(offset, words, &format!("profile[{k}] header"))?;
        let op_table = r.u16s(
            offset + 2 * words,
            usize::from(h.op_count),
            &format!("profile[{k}].op_table"),
        )?;
        profiles.push(SubProfile {
            offset,
            header,
            name: None,
            op_table,
        });
    }
    let first = profiles[0].op_table.clone();
    Ok((first, profiles, at + count * record))
}

fn decode_node(
    r: &Reader<'_>,
    offset: usize,
    i: usize,
    warnings: &mut Vec<DecodeWarning>,
) -> Result<Node, DecodeError> {
    let b = r.slice(offset, NODE_LEN, || format!("node[{i}]"))?;
    let u16_at = |k: usize| u16::from_le_bytes([b[k], b[k + 1]]);
    match b[0] {
        0 => {
            if b[1] & 0x7f == 0 {
                return Err(DecodeError::invalid(
                    offset + 1,
                    format!("node[{i}].filter"),
                    "filter byte 0 names no filter",
                ));
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
            let has_modifier = word & super::action::INLINE_MODIFIER != 0;
            // The kernel reads bytes 4..7 only under the modifier flag, so
            // stray bytes there (Apple's iOS 17 protobox bundle has them)
            // change nothing: a warning, not an error.
            if !has_modifier && b[4..].iter().any(|&x| x != 0) {
                warnings.push(DecodeWarning {
                    offset: offset + 4,
                    field: format!("node[{i}].modifier"),
                    message: format!(
                        "modifier bytes {:02x} {:02x} {:02x} {:02x} set without the modifier flag 0x800000 (ignored, as the kernel does)",
                        b[4], b[5], b[6], b[7]
                    ),
                });
            }
            let modifier = has_modifier.then(|| Modifier {
                id: b[4],
                policy_op: b[5],
                arg: u16_at(6),
            });
            Ok(Node::Terminal(Action { word, modifier }))
        }
        tag => Err(DecodeError::invalid(
            offset,
            format!("node[{i}].tag"),
            format!("node tag {tag:#04x} is neither filter (0) nor terminal (1)"),
        )),
    }
}

/// Op-table, bundle and policy entries are node indices.
fn check_tables(p: &Profile) -> Result<(), DecodeError> {
    let n = p.nodes.len();
    if p.profiles.is_empty() {
        for (i, &e) in p.op_table.iter().enumerate() {
            check_node(e, n, p.op_table_offset + 2 * i, || format!("op_table[{i}]"))?;
        }
    }
    let words = if p.format == Format::Hdr16 { 4 } else { 2 };
    for (k, prof) in p.profiles.iter().enumerate() {
        for (i, &e) in prof.op_table.iter().enumerate() {
            let off = prof.offset + 2 * (words + i);
            check_node(e, n, off, || format!("profile[{k}].op_table[{i}]"))?;
        }
    }
    let policies_at = p.format.header_len()
        + 2 * (usize::from(p.header.regex_count)
            + usize::from(p.header.global_var_count)
            + usize::from(p.header.state_flag_count));
    for (i, &e) in p.policies.iter().enumerate() {
        check_node(e, n, policies_at + 2 * i, || format!("policy[{i}]"))?;
    }
    Ok(())
}

/// A NUL-terminated string item.
fn c_string_item<'a>(
    r: &Reader<'a>,
    base: usize,
    item: u16,
    field: &str,
) -> Result<&'a [u8], DecodeError> {
    let bytes = data_item(r, base, item).map_err(|e| e.within(field))?;
    match bytes.split_last() {
        Some((0, text)) => Ok(text),
        _ => Err(DecodeError::invalid(
            base + 8 * usize::from(item),
            format!("{field} data[{item}]"),
            "string item is not NUL-terminated",
        )),
    }
}

fn named_items(
    r: &Reader<'_>,
    base: usize,
    items: &[u16],
    what: &str,
) -> Result<Vec<NamedItem>, DecodeError> {
    items
        .iter()
        .enumerate()
        .map(|(k, &item)| {
            let text = c_string_item(r, base, item, &format!("{what}[{k}]"))?;
            Ok(NamedItem {
                item,
                name: String::from_utf8_lossy(text).into_owned(),
            })
        })
        .collect()
}

fn read_regex(r: &Reader<'_>, base: usize, k: usize, item: u16) -> Result<RegexEntry, DecodeError> {
    let field = format!("regex[{k}]");
    let bytes = data_item(r, base, item).map_err(|e| e.within(&field))?;
    let start = base + 8 * usize::from(item) + 2;
    let regex = V3::decode(bytes).map_err(|mut e| {
        e.offset += start;
        e.within(format!("{field} data[{item}]"))
    })?;
    Ok(RegexEntry {
        item,
        regex: Regex::V3(regex),
    })
}

/// Item interning: each distinct data item is decoded once.
#[derive(Default)]
struct Interned {
    patterns: HashMap<u16, u32>,
    strings: HashMap<u16, u32>,
    bitmaps: HashMap<u16, u32>,
}

/// Checks that every data item a node names lies inside the blob, before
/// anything is decoded: a blob cut short fails after one cheap pass.
fn check_extents(
    r: &Reader<'_>,
    p: &Profile,
    kinds: &[Option<ArgKind>; 128],
) -> Result<(), DecodeError> {
    for (i, node) in p.nodes.iter().enumerate() {
        let field = || format!("node[{i}]");
        match *node {
            Node::Filter {
                filter, alt, arg, ..
            } => match (kinds[usize::from(filter & 0x7f)], alt) {
                (Some(ArgKind::Pattern | ArgKind::String), false) => {
                    data_item(r, p.data_base, arg).map_err(|e| e.within(field()))?;
                }
                (Some(ArgKind::Int), true) => {
                    bitmap_bits(r, p.data_base, arg).map_err(|e| e.within(field()))?;
                }
                _ => {}
            },
            Node::Terminal(Action {
                modifier: Some(m), ..
            }) if modifier::has_string(m.id) => {
                data_item(r, p.data_base, m.arg)
                    .map_err(|e| e.within(format!("node[{i}].modifier")))?;
            }
            Node::Terminal(_) => {}
        }
    }
    Ok(())
}

/// Decodes every node's argument and checks every edge and reference.
fn resolve_args(r: &Reader<'_>, p: &mut Profile) -> Result<(), DecodeError> {
    let mut seen = Interned::default();
    let kinds = kind_table(p.vocab);
    check_extents(r, p, kinds)?;
    let mut args = Vec::with_capacity(p.nodes.len());
    for i in 0..p.nodes.len() {
        let offset = p.nodes_offset + NODE_LEN * i;
        let arg = match p.nodes[i] {
            Node::Terminal(action) => {
                check_modifier(r, p, &action, offset, i)?;
                FilterArg::None
            }
            Node::Filter {
                filter,
                alt,
                arg,
                matched,
                unmatched,
            } => {
                let n = p.nodes.len();
                check_node(matched, n, offset + 4, || format!("node[{i}].match"))?;
                check_node(unmatched, n, offset + 6, || format!("node[{i}].unmatch"))?;
                let kind = kinds[usize::from(filter & 0x7f)];
                filter_arg(r, p, &mut seen, kind, alt, arg, offset, i)?
            }
        };
        args.push(arg);
    }
    p.args = args;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn filter_arg(
    r: &Reader<'_>,
    p: &mut Profile,
    seen: &mut Interned,
    kind: Option<ArgKind>,
    alt: bool,
    arg: u16,
    offset: usize,
    i: usize,
) -> Result<FilterArg, DecodeError> {
    let base = p.data_base;
    let field = || format!("node[{i}]");
    Ok(match (kind, alt) {
        (None, _) => FilterArg::Unknown(arg),
        (Some(ArgKind::Int), false) => FilterArg::Int(arg),
        (Some(ArgKind::Pattern | ArgKind::String), true) => {
            if usize::from(arg) >= p.regexes.len() {
                return Err(DecodeError::invalid(
                    offset + 2,
                    format!("node[{i}].arg"),
                    format!(
                        "regex index {arg} out of range ({} regexes)",
                        p.regexes.len()
                    ),
                ));
            }
            FilterArg::Regex(arg)
        }
        (Some(ArgKind::Int), true) => {
            if let Some(&k) = seen.bitmaps.get(&arg) {
                return Ok(FilterArg::Bitmap(k));
            }
            let bitmap = read_bitmap(r, base, arg).map_err(|e| e.within(field()))?;
            let k = p.bitmaps.len() as u32;
            p.bitmaps.push(bitmap);
            seen.bitmaps.insert(arg, k);
            FilterArg::Bitmap(k)
        }
        (Some(ArgKind::Pattern), false) => {
            if let Some(&k) = seen.patterns.get(&arg) {
                return Ok(FilterArg::Pattern(k));
            }
            let code = data_item(r, base, arg).map_err(|e| e.within(field()))?;
            let program = Program::decode(code, p.global_vars.len()).map_err(|e| {
                DecodeError::invalid(
                    base + 8 * usize::from(arg) + 2 + e.pc,
                    format!("node[{i}] pattern data[{arg}]"),
                    e.why,
                )
            })?;
            let k = p.patterns.len() as u32;
            p.patterns.push(PatternItem { item: arg, program });
            seen.patterns.insert(arg, k);
            FilterArg::Pattern(k)
        }
        (Some(ArgKind::String), false) => {
            if let Some(&k) = seen.strings.get(&arg) {
                return Ok(FilterArg::Str(k));
            }
            let text = c_string_item(r, base, arg, &field())?;
            let k = p.strings.len() as u32;
            p.strings.push(StringItem {
                item: arg,
                bytes: text.to_vec(),
            });
            seen.strings.insert(arg, k);
            FilterArg::Str(k)
        }
    })
}

/// A mask filter's item: `u16 word0, u16 nbytes, bitmap[nbytes]` (not
/// length-prefixed like the other items): its first word and bits.
fn bitmap_bits<'a>(r: &Reader<'a>, base: usize, arg: u16) -> Result<(u16, &'a [u8]), DecodeError> {
    let at = base + 8 * usize::from(arg);
    if at >= r.len() {
        return Err(DecodeError {
            offset: at,
            field: format!("bitmap data[{arg}]"),
            kind: DecodeErrorKind::DataOutOfRange { arg },
        });
    }
    let word0 = r.u16(at, || format!("bitmap data[{arg}].word0"))?;
    let nbytes = r.u16(at + 2, || format!("bitmap data[{arg}].nbytes"))?;
    let bits = r.slice(at + 4, usize::from(nbytes), || {
        format!("bitmap data[{arg}]")
    })?;
    Ok((word0, bits))
}

fn read_bitmap(r: &Reader<'_>, base: usize, arg: u16) -> Result<Bitmap, DecodeError> {
    let (word0, bits) = bitmap_bits(r, base, arg)?;
    Ok(Bitmap {
        item: arg,
        word0,
        bits: bits.to_vec(),
    })
}

fn check_modifier(
    r: &Reader<'_>,
    p: &Profile,
    action: &Action,
    offset: usize,
    i: usize,
) -> Result<(), DecodeError> {
    let Some(m) = action.modifier else {
        return Ok(());
    };
    if modifier::has_string(m.id) {
        c_string_item(r, p.data_base, m.arg, &format!("node[{i}].modifier"))?;
    }
    if m.id == modifier::MESSAGE_FILTER && usize::from(m.arg) >= p.policies.len() {
        return Err(DecodeError::invalid(
            offset + 6,
            format!("node[{i}].modifier"),
            format!(
                "message-filter policy {} out of range ({} policies)",
                m.arg,
                p.policies.len()
            ),
        ));
    }
    Ok(())
}
