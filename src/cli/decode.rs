//! `sbcheck decode` and `sbcheck eval`: read a blob, ask it a question.

use super::{load_any, parse, Usage};
use crate::blob::Node;
use crate::eval::{evaluate, explain, Args};
use crate::vocab::Vocab;
use std::process::ExitCode;

pub fn main(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["--param"], &[])?;
    let [input] = p.positional.as_slice() else {
        return Err(Usage("decode takes one BLOB".into()));
    };
    let profile = load_any(input, &p.params()?)?;
    let v = Vocab::macos_14();
    let h = &profile.header;
    println!(
        "format: {}\ntype: {:#06x}  nodes: {}  operations: {}  regexes: {}  policies: {}",
        profile.format.name(),
        h.kind,
        h.node_count,
        h.op_count,
        h.regex_count,
        h.policy_count
    );
    println!("\nop table by bucket:");
    for (node, ops) in profile.buckets() {
        let names: Vec<&str> = ops.iter().map(|&o| v.op_name(o).unwrap_or("?")).collect();
        println!("  bucket {node} ({} ops): {}", ops.len(), names.join(" "));
    }
    println!("\nnodes:");
    for (i, node) in profile.nodes.iter().enumerate() {
        match node {
            Node::Terminal(a) => {
                let verb = if a.is_deny() { "deny" } else { "allow" };
                let flags = a.flag_names();
                println!(
                    "  [{i}] terminal {verb}{}",
                    if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flags.join(" "))
                    }
                );
            }
            Node::Filter {
                matched, unmatched, ..
            } => {
                let f = crate::eval::filter_sbpl(&profile, i as u16);
                println!("  [{i}] {f} -> match {matched}, unmatch {unmatched}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn eval(args: &[String]) -> Result<ExitCode, Usage> {
    let p = parse(args, &["--param"], &[])?;
    let [input, operation, path] = p.positional.as_slice() else {
        return Err(Usage("eval takes BLOB OPERATION PATH".into()));
    };
    let profile = load_any(input, &p.params()?)?;
    let v = Vocab::macos_14();
    let op = v.op_id(operation).ok_or_else(|| {
        let hint = v
            .closest_op(operation)
            .map(|n| format!("; did you mean {n}?"))
            .unwrap_or_default();
        Usage(format!("unknown operation {operation}{hint}"))
    })?;
    let d = evaluate(&profile, op, &Args::path(path.as_bytes()));
    let verdict = d.verdict().map_or("undetermined", |v| v.as_str());
    println!("{verdict}");
    println!("bucket: {}", d.bucket);
    println!("node path: {:?}", d.node_path());
    println!("rule: {}", explain(&profile, &d));
    Ok(ExitCode::SUCCESS)
}
