//! Writing blobs in the macOS 14 layout.

use super::{Action, Node, HEADER_LEN, NODE_LEN};

/// The data area under construction: items start on 8-byte boundaries and
/// are referenced by their offset in 8-byte units.
#[derive(Debug, Default, Clone)]
pub struct DataArea {
    bytes: Vec<u8>,
}

impl DataArea {
    /// Appends an item (u16 length, then the bytes) and returns its reference.
    pub fn push(&mut self, item: &[u8]) -> u16 {
        let start = self.bytes.len().next_multiple_of(8);
        self.bytes.resize(start, 0);
        self.bytes
            .extend_from_slice(&(item.len() as u16).to_le_bytes());
        self.bytes.extend_from_slice(item);
        (start / 8) as u16
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Everything a single-profile blob holds.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub kind: u16,
    pub op_table: &'a [u16],
    pub nodes: &'a [Node],
    pub data: &'a DataArea,
}

/// Serialises a single profile (no regex, variable, state or policy tables).
pub fn encode(layout: &Layout<'_>) -> Vec<u8> {
    let op_count = layout.op_table.len();
    let nodes_offset = (HEADER_LEN + 2 * op_count).next_multiple_of(NODE_LEN);
    let mut out =
        Vec::with_capacity(nodes_offset + NODE_LEN * layout.nodes.len() + layout.data.bytes.len());
    out.extend_from_slice(&layout.kind.to_le_bytes());
    out.extend_from_slice(&(layout.nodes.len() as u16).to_le_bytes());
    out.push(op_count as u8);
    out.extend_from_slice(&[0; 9]); // var, state counts, pad, profile, regex, policy counts
    for entry in layout.op_table {
        out.extend_from_slice(&entry.to_le_bytes());
    }
    out.resize(nodes_offset, 0);
    for node in layout.nodes {
        out.extend_from_slice(&encode_node(node));
    }
    out.extend_from_slice(&layout.data.bytes);
    out
}

pub fn encode_node(node: &Node) -> [u8; 8] {
    match *node {
        Node::Filter {
            filter,
            alt,
            arg,
            matched,
            unmatched,
        } => {
            let [a0, a1] = arg.to_le_bytes();
            let [m0, m1] = matched.to_le_bytes();
            let [u0, u1] = unmatched.to_le_bytes();
            let byte = (filter + 1) | if alt { 0x80 } else { 0 };
            [0, byte, a0, a1, m0, m1, u0, u1]
        }
        Node::Terminal(Action { word, modifier }) => {
            let [w0, w1, w2, _] = word.to_le_bytes();
            let (id, op, arg) = modifier.map_or((0, 0, 0), |m| (m.id, m.policy_op, m.arg));
            let [a0, a1] = arg.to_le_bytes();
            [1, w0, w1, w2, id, op, a0, a1]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Profile;

    #[test]
    fn decode_then_encode_is_identity_on_apple_blobs() {
        for bytes in [
            &include_bytes!("../../profiles/apple/macos-14.4.1/baseline_deny_all.sb.bin")[..],
            &include_bytes!("../../profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin")[..],
        ] {
            let p = Profile::decode(bytes).unwrap();
            let data = DataArea {
                bytes: bytes[p.data_base..].to_vec(),
            };
            let again = encode(&Layout {
                kind: p.header.kind,
                op_table: &p.op_table,
                nodes: &p.nodes,
                data: &data,
            });
            assert_eq!(again, bytes);
        }
    }

    #[test]
    fn data_items_are_eight_byte_aligned() {
        let mut d = DataArea::default();
        assert_eq!(d.push(&[1; 26]), 0);
        assert_eq!(d.push(&[2; 27]), 4);
        assert_eq!(d.bytes().len(), 32 + 29);
    }
}
