//! Every macOS 14.4.1 blob that has its SBPL source decides what the source
//! says. The expectations below were written by reading each `.sb` by hand
//! (later rules win; report is implied for deny), not from decoder output:
//! one line per check, `blob  operation  argument  verdict  [rule]`.
//!
//! The argument is a path, or `DOMAIN/TYPE/PROTOCOL` for a socket: the three
//! integers a socket always has, and no control name (an empty one), which
//! the compiler's implicit `(allow network-outbound (control-name
//! "com.apple.flow-divert"))` rule tests. `-` is no argument. The optional
//! rule is the explanation expected, as SBPL; the filters of a require-all
//! are compared as a set, since their order is the compiler's choice.

use sbcheck::blob::{action, Profile};
use sbcheck::decision::{evaluate, explain, Args, Verdict};
use sbcheck::vocab::{filter, Vocab};
use std::path::PathBuf;

const EXPECTATIONS: &str = r#"
# (version 1) (allow default)
# (deny file-read* (literal "/tmp/sbpl_rt/read.txt")) (deny file-write* (literal "/tmp/sbpl_rt/write.txt"))
baseline_deny_all  file-read-data      /tmp/sbpl_rt/read.txt      deny   (deny file-read* (literal "/tmp/sbpl_rt/read.txt"))
baseline_deny_all  file-read-metadata  /tmp/sbpl_rt/read.txt      deny
baseline_deny_all  file-read-xattr     /tmp/sbpl_rt/read.txt      deny
baseline_deny_all  file-write-data     /tmp/sbpl_rt/write.txt     deny   (deny file-write* (literal "/tmp/sbpl_rt/write.txt"))
baseline_deny_all  file-write-create   /tmp/sbpl_rt/write.txt     deny
baseline_deny_all  file-read-data      /tmp/sbpl_rt/write.txt     allow  (allow default)
baseline_deny_all  file-write-data     /tmp/sbpl_rt/read.txt      allow  (allow default)
baseline_deny_all  file-read-data      /tmp/sbpl_rt/read.txt.bak  allow
baseline_deny_all  file-read-data      /etc/hosts                 allow
baseline_deny_all  network-outbound    AF_INET/SOCK_STREAM/6      allow

# (deny default) (allow network-outbound (socket-domain AF_INET))
domain_af_inet  network-outbound  AF_INET/SOCK_STREAM/6    allow  (allow network-outbound (socket-domain AF_INET))
domain_af_inet  network-outbound  AF_INET/SOCK_DGRAM/17    allow
domain_af_inet  network-outbound  AF_INET6/SOCK_STREAM/6   deny   (deny default)
domain_af_inet  network-outbound  AF_UNIX/SOCK_STREAM/0    deny
domain_af_inet  network-bind      AF_INET/SOCK_STREAM/6    deny
domain_af_inet  file-read-data    /etc/hosts               deny   (deny default)

# (deny default) (allow file-read* (subpath "/private/tmp/strict_ok")) (allow file-write* (subpath ...))
# (deny file-read* (literal "/etc/hosts")) (deny file-write* (literal "/etc/hosts"))
golden_strict_1_file  file-read-data      /private/tmp/strict_ok       allow  (allow file-read* (subpath "/private/tmp/strict_ok"))
golden_strict_1_file  file-read-data      /private/tmp/strict_ok/a/b   allow
golden_strict_1_file  file-read-metadata  /private/tmp/strict_ok/x     allow
golden_strict_1_file  file-write-data     /private/tmp/strict_ok/x     allow  (allow file-write* (subpath "/private/tmp/strict_ok"))
golden_strict_1_file  file-write-create   /private/tmp/strict_ok/new   allow
golden_strict_1_file  file-read-data      /private/tmp/strict_okay     deny   (deny default)
golden_strict_1_file  file-read-data      /private/tmp                 deny
golden_strict_1_file  file-read-data      /etc/hosts                   deny   (deny file-read* (literal "/etc/hosts"))
golden_strict_1_file  file-write-data     /etc/hosts                   deny   (deny file-write* (literal "/etc/hosts"))
golden_strict_1_file  process-exec*       /bin/ls                      deny

# (deny default) (allow network-outbound (require-all (socket-domain AF_INET) (socket-protocol 256)))
pair_dp_all_inet_256  network-outbound  AF_INET/SOCK_STREAM/256   allow  (allow network-outbound (require-all (socket-domain AF_INET) (socket-protocol 256)))
pair_dp_all_inet_256  network-outbound  AF_INET/SOCK_STREAM/6     deny
pair_dp_all_inet_256  network-outbound  AF_INET6/SOCK_STREAM/256  deny

# require-all: domain AF_INET, protocol TCP (and the same, reordered)
pair_dp_all_inet_tcp         network-outbound  AF_INET/SOCK_STREAM/6   allow  (allow network-outbound (require-all (socket-domain AF_INET) (socket-protocol IPPROTO_TCP)))
pair_dp_all_inet_tcp         network-outbound  AF_INET/SOCK_DGRAM/6    allow
pair_dp_all_inet_tcp         network-outbound  AF_INET/SOCK_STREAM/17  deny
pair_dp_all_inet_tcp         network-outbound  AF_INET6/SOCK_STREAM/6  deny
pair_dp_all_inet_tcp_order2  network-outbound  AF_INET/SOCK_STREAM/6   allow  (allow network-outbound (require-all (socket-protocol IPPROTO_TCP) (socket-domain AF_INET)))
pair_dp_all_inet_tcp_order2  network-outbound  AF_INET/SOCK_STREAM/17  deny
pair_dp_all_inet_tcp_order2  network-outbound  AF_INET6/SOCK_STREAM/6  deny

# require-all: domain AF_INET, protocol UDP / domain AF_SYSTEM, protocol TCP
pair_dp_all_inet_udp    network-outbound  AF_INET/SOCK_DGRAM/17     allow
pair_dp_all_inet_udp    network-outbound  AF_INET/SOCK_DGRAM/6      deny
pair_dp_all_inet_udp    network-outbound  AF_SYSTEM/SOCK_DGRAM/17   deny
pair_dp_all_system_tcp  network-outbound  AF_SYSTEM/SOCK_STREAM/6   allow  (allow network-outbound (require-all (socket-domain AF_SYSTEM) (socket-protocol IPPROTO_TCP)))
pair_dp_all_system_tcp  network-outbound  AF_INET/SOCK_STREAM/6     deny
pair_dp_all_system_tcp  network-outbound  AF_SYSTEM/SOCK_STREAM/17  deny

# require-any: domain or protocol
pair_dp_any_inet_256    network-outbound  AF_INET/SOCK_STREAM/6     allow  (allow network-outbound (socket-domain AF_INET))
pair_dp_any_inet_256    network-outbound  AF_UNIX/SOCK_STREAM/256   allow  (allow network-outbound (socket-protocol 256))
pair_dp_any_inet_256    network-outbound  AF_UNIX/SOCK_STREAM/0     deny
pair_dp_any_inet_tcp    network-outbound  AF_INET/SOCK_DGRAM/17     allow
pair_dp_any_inet_tcp    network-outbound  AF_INET6/SOCK_STREAM/6    allow
pair_dp_any_inet_tcp    network-outbound  AF_INET6/SOCK_DGRAM/17    deny
pair_dp_any_system_tcp  network-outbound  AF_SYSTEM/SOCK_DGRAM/0    allow
pair_dp_any_system_tcp  network-outbound  AF_INET/SOCK_STREAM/6     allow
pair_dp_any_system_tcp  network-outbound  AF_INET/SOCK_DGRAM/17     deny

# require-all: domain and type
pair_dt_all_inet_dgram           network-outbound  AF_INET/SOCK_DGRAM/17    allow  (allow network-outbound (require-all (socket-domain AF_INET) (socket-type SOCK_DGRAM)))
pair_dt_all_inet_dgram           network-outbound  AF_INET/SOCK_STREAM/6    deny
pair_dt_all_inet_dgram           network-outbound  AF_INET6/SOCK_DGRAM/17   deny
pair_dt_all_inet_stream          network-outbound  AF_INET/SOCK_STREAM/6    allow  (allow network-outbound (require-all (socket-domain AF_INET) (socket-type SOCK_STREAM)))
pair_dt_all_inet_stream          network-outbound  AF_INET/SOCK_DGRAM/17    deny
pair_dt_all_inet_stream          network-outbound  AF_INET6/SOCK_STREAM/6   deny
pair_dt_all_inet_stream_file     network-outbound  AF_INET/SOCK_STREAM/6    allow
pair_dt_all_inet_stream_file     network-outbound  AF_INET/SOCK_DGRAM/17    deny
pair_dt_all_inet_stream_order2   network-outbound  AF_INET/SOCK_STREAM/6    allow
pair_dt_all_inet_stream_order2   network-outbound  AF_INET6/SOCK_STREAM/6   deny
pair_dt_all_inet_stream_string   network-outbound  AF_INET/SOCK_STREAM/6    allow
pair_dt_all_inet_stream_string   network-outbound  AF_INET/SOCK_DGRAM/17    deny

# require-any: domain or type
pair_dt_any_inet_stream    network-outbound  AF_INET/SOCK_DGRAM/17     allow  (allow network-outbound (socket-domain AF_INET))
pair_dt_any_inet_stream    network-outbound  AF_INET6/SOCK_STREAM/6    allow  (allow network-outbound (socket-type SOCK_STREAM))
pair_dt_any_inet_stream    network-outbound  AF_INET6/SOCK_DGRAM/17    deny
pair_dt_any_system_stream  network-outbound  AF_SYSTEM/SOCK_DGRAM/0    allow
pair_dt_any_system_stream  network-outbound  AF_INET/SOCK_STREAM/6     allow
pair_dt_any_system_stream  network-outbound  AF_INET/SOCK_DGRAM/17     deny

# require-all: type and protocol
pair_tp_all_dgram_tcp   network-outbound  AF_INET/SOCK_DGRAM/6      allow  (allow network-outbound (require-all (socket-type SOCK_DGRAM) (socket-protocol IPPROTO_TCP)))
pair_tp_all_dgram_tcp   network-outbound  AF_INET/SOCK_DGRAM/17     deny
pair_tp_all_dgram_tcp   network-outbound  AF_INET/SOCK_STREAM/6     deny
pair_tp_all_stream_256  network-outbound  AF_INET/SOCK_STREAM/256   allow
pair_tp_all_stream_256  network-outbound  AF_INET/SOCK_STREAM/6     deny
pair_tp_all_stream_256  network-outbound  AF_INET/SOCK_DGRAM/256    deny
pair_tp_all_stream_tcp  network-outbound  AF_INET6/SOCK_STREAM/6    allow
pair_tp_all_stream_tcp  network-outbound  AF_INET/SOCK_STREAM/17    deny
pair_tp_all_stream_tcp  network-outbound  AF_INET/SOCK_DGRAM/6      deny
pair_tp_all_stream_udp  network-outbound  AF_INET/SOCK_STREAM/17    allow
pair_tp_all_stream_udp  network-outbound  AF_INET/SOCK_STREAM/6     deny

# require-any: type or protocol
pair_tp_any_dgram_tcp   network-outbound  AF_INET/SOCK_DGRAM/17     allow  (allow network-outbound (socket-type SOCK_DGRAM))
pair_tp_any_dgram_tcp   network-outbound  AF_INET/SOCK_STREAM/6     allow  (allow network-outbound (socket-protocol IPPROTO_TCP))
pair_tp_any_dgram_tcp   network-outbound  AF_INET/SOCK_STREAM/17    deny
pair_tp_any_stream_256  network-outbound  AF_INET/SOCK_STREAM/6     allow
pair_tp_any_stream_256  network-outbound  AF_INET/SOCK_DGRAM/256    allow
pair_tp_any_stream_256  network-outbound  AF_INET/SOCK_DGRAM/17     deny
pair_tp_any_stream_tcp  network-outbound  AF_INET/SOCK_STREAM/17    allow
pair_tp_any_stream_tcp  network-outbound  AF_INET/SOCK_DGRAM/6      allow
pair_tp_any_stream_tcp  network-outbound  AF_INET/SOCK_DGRAM/17     deny

# (deny default) (allow process-exec (literal "/usr/bin/python3")) (allow file-read* (subpath (param "ROOT"))), ROOT=/private/tmp
param_path_file_with_params    process-exec*    /usr/bin/python3     allow  (allow process-exec* (literal "/usr/bin/python3"))
param_path_file_with_params    process-exec*    /usr/bin/python3.11  deny   (deny default)
param_path_file_with_params    file-read-data   /private/tmp/x       allow  (allow file-read* (subpath "/private/tmp"))
param_path_file_with_params    file-read-data   /private/tmp         allow
param_path_file_with_params    file-read-data   /private/tmpx        deny
param_path_file_with_params    file-write-data  /private/tmp/x       deny
param_path_string_with_params  process-exec*    /usr/bin/python3     allow
param_path_string_with_params  file-read-data   /private/tmp/a/b     allow
param_path_string_with_params  file-read-data   /etc/hosts           deny

# (allow network-outbound (socket-protocol N))
proto_256  network-outbound  AF_INET/SOCK_STREAM/256   allow  (allow network-outbound (socket-protocol 256))
proto_256  network-outbound  AF_UNIX/SOCK_STREAM/256   allow
proto_256  network-outbound  AF_INET/SOCK_STREAM/6     deny
proto_tcp  network-outbound  AF_INET/SOCK_STREAM/6     allow  (allow network-outbound (socket-protocol IPPROTO_TCP))
proto_tcp  network-outbound  AF_INET/SOCK_DGRAM/17     deny

# require-all of three (nested, reordered)
triple_all_inet_dgram_tcp     network-outbound  AF_INET/SOCK_DGRAM/6      allow  (allow network-outbound (require-all (socket-domain AF_INET) (socket-type SOCK_DGRAM) (socket-protocol IPPROTO_TCP)))
triple_all_inet_dgram_tcp     network-outbound  AF_INET/SOCK_DGRAM/17     deny
triple_all_inet_dgram_tcp     network-outbound  AF_INET/SOCK_STREAM/6     deny
triple_all_inet_dgram_tcp     network-outbound  AF_INET6/SOCK_DGRAM/6     deny
triple_all_inet_stream_256    network-outbound  AF_INET/SOCK_STREAM/256   allow
triple_all_inet_stream_256    network-outbound  AF_INET/SOCK_STREAM/6     deny
triple_all_system_stream_tcp  network-outbound  AF_SYSTEM/SOCK_STREAM/6   allow
triple_all_system_stream_tcp  network-outbound  AF_INET/SOCK_STREAM/6     deny
triple_all_tcp                network-outbound  AF_INET/SOCK_STREAM/6     allow  (allow network-outbound (require-all (socket-domain AF_INET) (socket-type SOCK_STREAM) (socket-protocol IPPROTO_TCP)))
triple_all_tcp                network-outbound  AF_INET/SOCK_STREAM/17    deny
triple_all_tcp                network-outbound  AF_INET/SOCK_DGRAM/6      deny
triple_all_tcp                network-outbound  AF_INET6/SOCK_STREAM/6    deny
triple_all_tcp_order2         network-outbound  AF_INET/SOCK_STREAM/6     allow
triple_all_tcp_order2         network-outbound  AF_INET6/SOCK_STREAM/6    deny
triple_all_udp                network-outbound  AF_INET/SOCK_DGRAM/17     allow
triple_all_udp                network-outbound  AF_INET/SOCK_DGRAM/6      deny
triple_nested_tcp             network-outbound  AF_INET/SOCK_STREAM/6     allow
triple_nested_tcp             network-outbound  AF_INET/SOCK_DGRAM/6      deny

# require-any of three
triple_any_256  network-outbound  AF_UNIX/SOCK_DGRAM/256   allow  (allow network-outbound (socket-protocol 256))
triple_any_256  network-outbound  AF_UNIX/SOCK_STREAM/0    allow  (allow network-outbound (socket-type SOCK_STREAM))
triple_any_256  network-outbound  AF_INET/SOCK_DGRAM/17    allow  (allow network-outbound (socket-domain AF_INET))
triple_any_256  network-outbound  AF_UNIX/SOCK_DGRAM/0     deny

# (allow network-outbound (socket-type SOCK_STREAM))
type_sock_stream  network-outbound  AF_UNIX/SOCK_STREAM/0   allow  (allow network-outbound (socket-type SOCK_STREAM))
type_sock_stream  network-outbound  AF_INET/SOCK_DGRAM/17   deny
"#;

/// Every (deny default) profile also denies what no rule names.
const DENY_DEFAULT_EXTRA: &[(&str, &str)] = &[
    ("file-read-data", "/etc/passwd"),
    ("file-write-data", "/tmp/x"),
    ("process-fork", "-"),
];

fn apple(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple/macos-14.4.1")
        .join(name)
}

struct Check<'a> {
    line: usize,
    blob: &'a str,
    op: &'a str,
    arg: &'a str,
    verdict: Verdict,
    rule: Option<&'a str>,
}

fn checks() -> Vec<Check<'static>> {
    EXPECTATIONS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let mut cols = l.split_whitespace();
            let mut next = || cols.next().unwrap_or_else(|| panic!("line {}: {l}", i + 1));
            let (blob, op, arg) = (next(), next(), next());
            let verdict =
                Verdict::parse(next()).unwrap_or_else(|| panic!("line {}: verdict", i + 1));
            // The rule, if any, runs from its opening parenthesis to the end.
            let rule = l.find(" (").map(|k| l[k..].trim());
            Check {
                line: i + 1,
                blob,
                op,
                arg,
                verdict,
                rule,
            }
        })
        .collect()
}

fn socket_value(name: &str) -> u16 {
    match name {
        "AF_UNIX" => 1,
        "AF_INET" => 2,
        "AF_INET6" => 30,
        "AF_SYSTEM" => 32,
        "SOCK_STREAM" => 1,
        "SOCK_DGRAM" => 2,
        n => n.parse().unwrap_or_else(|_| panic!("socket value {n}")),
    }
}

/// The verdict and explanation for one operation and argument.
fn decide(p: &Profile, op: &str, arg: &str) -> Result<(Verdict, String, u32), String> {
    let v = Vocab::macos_14();
    let id = v.op_id(op).ok_or(format!("no operation {op}"))?;
    let ints: Vec<(u8, u16)>;
    let no_name: [(u8, &[u8]); 1] = [(filter::CONTROL_NAME, b"")];
    let args = if arg == "-" {
        Args::default()
    } else if arg.starts_with('/') {
        Args::path(arg.as_bytes())
    } else {
        let parts: Vec<&str> = arg.split('/').collect();
        let [d, t, pr] = parts[..] else {
            return Err(format!("bad socket {arg}"));
        };
        ints = vec![
            (filter::SOCKET_DOMAIN, socket_value(d)),
            (filter::SOCKET_TYPE, socket_value(t)),
            (filter::SOCKET_PROTOCOL, socket_value(pr)),
        ];
        Args {
            path: None,
            ints: &ints,
            strings: &no_name,
        }
    };
    let d = evaluate(p, id, &args);
    let action = d.outcome.clone().map_err(|e| e.describe(p))?;
    let verdict = d.verdict().ok_or("no verdict")?;
    Ok((verdict, explain(p, &d), action.word))
}

/// The top-level forms of a rule after its verb and operation, sorted.
fn rule_parts(rule: &str) -> (String, Vec<String>) {
    // One parenthesis each side (trimming them all would cut the last
    // filter's closing one and lose it).
    let rule = rule.trim();
    let inner = rule.strip_prefix('(').unwrap_or(rule);
    let inner = inner.strip_suffix(')').unwrap_or(inner);
    let head_end = inner.find(" (").unwrap_or(inner.len());
    let (head, rest) = inner.split_at(head_end);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, None);
    for (i, c) in rest.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(rest[start.unwrap_or(i)..=i].to_owned());
                }
            }
            _ => {}
        }
    }
    // A require-all's filters are compared as a set too (their order is
    // the compiler's choice); side by side they would mean any of them.
    let parts = parts
        .into_iter()
        .map(|part| match part.strip_prefix("(require-all ") {
            Some(inner) => {
                let (_, mut all) = rule_parts(&format!("(x {inner}"));
                all.sort();
                format!("(require-all {})", all.join(" "))
            }
            None => part,
        });
    let mut parts: Vec<String> = parts.collect();
    parts.sort();
    (head.to_owned(), parts)
}

#[test]
fn every_blob_with_sbpl_has_expectations() {
    let mut with_source: Vec<String> = std::fs::read_dir(apple(""))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".sb.bin").map(str::to_owned))
        .filter(|n| apple(&format!("{n}.sb")).exists())
        .collect();
    with_source.sort();
    assert_eq!(with_source.len(), 38);
    let checks = checks();
    let missing: Vec<&String> = with_source
        .iter()
        .filter(|n| !checks.iter().any(|c| c.blob == n.as_str()))
        .collect();
    assert!(missing.is_empty(), "no expectations for {missing:?}");
    for c in &checks {
        assert!(
            with_source.iter().any(|n| n == c.blob),
            "line {}: no blob {}",
            c.line,
            c.blob
        );
    }
}

#[test]
fn apple_blobs_decide_what_their_sbpl_says() {
    let mut failures = Vec::new();
    let mut count = 0;
    let mut profiles: Vec<(String, Profile, bool)> = Vec::new();
    for c in checks() {
        if !profiles.iter().any(|(n, _, _)| n == c.blob) {
            let bytes = std::fs::read(apple(&format!("{}.sb.bin", c.blob))).unwrap();
            let src = std::fs::read_to_string(apple(&format!("{}.sb", c.blob))).unwrap();
            let deny_default = src.contains("(deny default)");
            profiles.push((
                c.blob.to_owned(),
                Profile::decode(&bytes).unwrap(),
                deny_default,
            ));
        }
        let p = &profiles.iter().find(|(n, _, _)| n == c.blob).unwrap().1;
        count += 1;
        match decide(p, c.op, c.arg) {
            Err(why) => failures.push(format!(
                "line {} {} {} {}: {why}",
                c.line, c.blob, c.op, c.arg
            )),
            Ok((verdict, rule, word)) => {
                if verdict != c.verdict {
                    failures.push(format!(
                        "line {} {} {} {}: {verdict}, SBPL says {} (rule {rule})",
                        c.line, c.blob, c.op, c.arg, c.verdict
                    ));
                }
                if verdict == Verdict::Deny && word & action::REPORT == 0 {
                    failures.push(format!("line {}: a plain deny without report", c.line));
                }
                if let Some(want) = c.rule {
                    if rule_parts(&rule) != rule_parts(want) {
                        failures.push(format!(
                            "line {}: explained as {rule}, SBPL rule {want}",
                            c.line
                        ));
                    }
                }
            }
        }
    }
    for (name, p, deny_default) in &profiles {
        if !deny_default {
            continue;
        }
        for (op, arg) in DENY_DEFAULT_EXTRA {
            count += 1;
            match decide(p, op, arg) {
                Ok((Verdict::Deny, rule, _)) if rule == "(deny default)" => {}
                other => failures.push(format!(
                    "{name} {op} {arg}: {other:?}, (deny default) says deny"
                )),
            }
        }
    }
    assert!(count > 200, "{count}");
    assert!(
        failures.is_empty(),
        "{} of {count} checks fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
