//! The decision walk as a small inline SVG: one box per visited node, top
//! to bottom from the bucket; the edge taken drawn solid and labelled
//! (match/unmatch), the edge not taken as a dashed stub to the node it
//! would have reached; the terminal coloured by its verdict, with a
//! symbol so it reads without colour too.

use super::model::{Decoder, GraphNode};
use super::{esc, verdict_symbol};
use std::fmt::Write;

/// Width of one character of the 12px monospace the boxes use, generously
/// rounded so text never overflows its box.
const CHAR_W: usize = 8;
const BOX_H: usize = 28;
const GAP: usize = 44;
const TOP: usize = 30;
const LEFT: usize = 8;
const STUB: usize = 70;

/// One row of the drawing: a box, and how the walk left it.
struct Row {
    text: String,
    class: &'static str,
    /// The label of the edge to the next row (none after the last).
    taken: Option<&'static str>,
    /// The edge not taken: its label and the node it leads to.
    other: Option<(&'static str, u64)>,
}

/// The SVG for a decoder's walk.
pub fn svg(d: &Decoder) -> String {
    let rows = rows(d);
    let width = rows
        .iter()
        .map(|r| {
            LEFT + box_width(&r.text)
                + r.other
                    .map_or(0, |(_, n)| STUB + box_width(&format!("[{n}]")))
        })
        .max()
        .unwrap_or(0)
        .max(200)
        + LEFT;
    let height = TOP + rows.len() * (BOX_H + GAP) - GAP + 8;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"{label}\"><title>{label}</title>",
        label = esc(&describe(d)),
    );
    let start = d
        .bucket
        .map_or_else(|| "start".to_owned(), |b| format!("bucket {b}"));
    let _ = write!(
        s,
        "<text class=\"g-start\" x=\"{LEFT}\" y=\"12\">{}</text>\
         <line class=\"g-edge g-taken\" x1=\"{x}\" y1=\"16\" x2=\"{x}\" y2=\"{TOP}\" \
         marker-end=\"url(#arrow)\"/>",
        esc(&start),
        x = LEFT + 20,
    );
    for (i, row) in rows.iter().enumerate() {
        draw_row(&mut s, i, row);
    }
    s.push_str("</svg>");
    s
}

/// The arrowhead every graph uses, defined once per page in a zero-size SVG
/// that is never hidden: a marker inside a `display: none` subtree does not
/// render, and the detail panels start hidden.
pub const DEFS: &str = "<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\">\
    <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" \
    refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
    <path d=\"M0,0 L10,5 L0,10 z\" class=\"g-arrowhead\"/></marker></defs></svg>";

fn box_width(text: &str) -> usize {
    text.chars().count() * CHAR_W + 16
}

fn draw_row(s: &mut String, i: usize, row: &Row) {
    let y = TOP + i * (BOX_H + GAP);
    let w = box_width(&row.text);
    let _ = write!(
        s,
        "<g class=\"g-node {class}\"><rect x=\"{LEFT}\" y=\"{y}\" width=\"{w}\" \
         height=\"{BOX_H}\" rx=\"6\"/><text x=\"{tx}\" y=\"{ty}\">{text}</text></g>",
        class = row.class,
        tx = LEFT + 8,
        ty = y + 18,
        text = esc(&row.text),
    );
    if let Some(label) = row.taken {
        let x = LEFT + 20;
        let _ = write!(
            s,
            "<line class=\"g-edge g-taken\" x1=\"{x}\" y1=\"{y1}\" x2=\"{x}\" y2=\"{y2}\" \
             marker-end=\"url(#arrow)\"/><text class=\"g-label\" x=\"{lx}\" y=\"{ly}\">{label}</text>",
            y1 = y + BOX_H,
            y2 = y + BOX_H + GAP,
            lx = x + 8,
            ly = y + BOX_H + GAP / 2 + 4,
        );
    }
    if let Some((label, to)) = row.other {
        let x1 = LEFT + w;
        let x2 = x1 + STUB;
        let mid = y + BOX_H / 2;
        let ghost = format!("[{to}]");
        let _ = write!(
            s,
            "<line class=\"g-edge g-untaken\" x1=\"{x1}\" y1=\"{mid}\" x2=\"{x2}\" y2=\"{mid}\" \
             marker-end=\"url(#arrow)\"/><text class=\"g-label\" x=\"{lx}\" y=\"{ly}\">{label}</text>\
             <g class=\"g-node g-ghost\"><rect x=\"{x2}\" y=\"{gy}\" width=\"{gw}\" height=\"{gh}\" \
             rx=\"4\"/><text x=\"{gtx}\" y=\"{ty}\">{ghost}</text></g>",
            lx = x1 + 8,
            ly = mid - 5,
            gy = y + 4,
            gw = box_width(&ghost),
            gh = BOX_H - 8,
            gtx = x2 + 8,
            ty = y + 18,
        );
    }
}

/// The rows to draw: the visited nodes, then, when the walk stopped short
/// of a terminal, a box saying why.
fn rows(d: &Decoder) -> Vec<Row> {
    let mut rows: Vec<Row> = match &d.nodes {
        Some(nodes) => nodes.iter().map(known_row).collect(),
        None => unknown_rows(d),
    };
    let ended = matches!(
        d.nodes.as_ref().and_then(|n| n.last()),
        Some(GraphNode::Terminal { .. })
    ) || (d.nodes.is_none() && d.verdict.is_some());
    if !ended {
        // The last visited node's edge leads to the node the walk could
        // not decide; the rule names it and says why.
        rows.push(Row {
            text: format!("? {}", d.rule.trim_start_matches(";; ")),
            class: "g-undetermined",
            taken: None,
            other: None,
        });
    }
    rows
}

fn known_row(n: &GraphNode) -> Row {
    match n {
        GraphNode::Filter {
            index,
            sbpl,
            matched,
            unmatched,
            took_match,
        } => {
            let (taken, other) = match took_match {
                Some(true) => ("match", Some(("unmatch", *unmatched))),
                Some(false) => ("unmatch", Some(("match", *matched))),
                None => ("", None),
            };
            Row {
                text: format!("[{index}] {sbpl}"),
                class: "g-filter",
                taken: Some(taken),
                other,
            }
        }
        GraphNode::Terminal { index, verdict } => terminal_row(*index, verdict.as_deref()),
    }
}

fn terminal_row(index: u64, verdict: Option<&str>) -> Row {
    let v = verdict.unwrap_or("?");
    Row {
        text: format!("[{index}] {} {v}", verdict_symbol(v)),
        class: match v {
            "allow" => "g-allow",
            "deny" => "g-deny",
            _ => "g-filter",
        },
        taken: None,
        other: None,
    }
}

/// Runs from before the schema had `decoder.nodes`: indices only.
fn unknown_rows(d: &Decoder) -> Vec<Row> {
    let n = d.node_path.len();
    d.node_path
        .iter()
        .enumerate()
        .map(|(i, &index)| {
            if i + 1 == n && d.verdict.is_some() {
                terminal_row(index, d.verdict.as_deref())
            } else {
                Row {
                    text: format!("[{index}]"),
                    class: "g-filter",
                    taken: Some(""),
                    other: None,
                }
            }
        })
        .collect()
}

/// The walk in words: the graph's accessible name.
pub fn describe(d: &Decoder) -> String {
    let start = d
        .bucket
        .map_or_else(String::new, |b| format!(" from bucket {b}"));
    let steps: Vec<String> = match &d.nodes {
        Some(nodes) => nodes
            .iter()
            .map(|n| match n {
                GraphNode::Filter {
                    index,
                    sbpl,
                    took_match,
                    ..
                } => {
                    let edge = match took_match {
                        Some(true) => "matched",
                        Some(false) => "did not match",
                        None => "was tested",
                    };
                    format!("node {index} {sbpl} {edge}")
                }
                GraphNode::Terminal { index, verdict } => format!(
                    "node {index} is the {} terminal",
                    verdict.as_deref().unwrap_or("?")
                ),
            })
            .collect(),
        None => d.node_path.iter().map(|n| format!("node {n}")).collect(),
    };
    format!("Decision walk{start}: {}", steps.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(index: u64, sbpl: &str, took_match: bool) -> GraphNode {
        GraphNode::Filter {
            index,
            sbpl: sbpl.into(),
            matched: index + 1,
            unmatched: index + 2,
            took_match: Some(took_match),
        }
    }

    fn decoder(nodes: Vec<GraphNode>, verdict: Option<&str>, rule: &str) -> Decoder {
        Decoder {
            operation: "file-read-data".into(),
            bucket: nodes.first().map(GraphNode::index),
            node_path: nodes.iter().map(GraphNode::index).collect(),
            verdict: verdict.map(str::to_owned),
            rule: rule.into(),
            nodes: Some(nodes),
        }
    }

    #[test]
    fn each_filter_shows_the_edge_taken_and_a_stub_for_the_other() {
        let d = decoder(
            vec![
                filter(3, "(subpath \"/tmp/<x>\")", false),
                GraphNode::Terminal {
                    index: 5,
                    verdict: Some("deny".into()),
                },
            ],
            Some("deny"),
            "(deny default)",
        );
        let svg = svg(&d);
        assert!(svg.contains(">[3] (subpath &quot;/tmp/&lt;x&gt;&quot;)</text>"));
        assert!(svg.contains(">unmatch</text>"), "the edge taken");
        assert!(svg.contains(">match</text>") && svg.contains(">[4]</text>"));
        assert!(svg.contains("g-deny") && svg.contains(">[5] ⊘ deny</text>"));
        assert!(!svg.contains("g-undetermined"));
        assert_eq!(
            describe(&d),
            "Decision walk from bucket 3: node 3 (subpath \"/tmp/<x>\") did not match; \
             node 5 is the deny terminal"
        );
    }

    #[test]
    fn a_walk_that_stops_short_says_why() {
        let d = decoder(
            vec![filter(2, "(target self)", true)],
            None,
            ";; undetermined at node 3: no global-name argument given",
        );
        let svg = svg(&d);
        assert!(svg.contains("g-undetermined"));
        assert!(svg.contains(">? undetermined at node 3: no global-name argument given</text>"));
        assert!(svg.contains(">match</text>"));
    }
}
