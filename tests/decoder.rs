//! The decoder on every real Apple blob: formats, tables, patterns,
//! regexes, bitmaps, modifiers, evaluation with integers and variables, the
//! command line, and typed errors for damaged input.

mod ios_values;

use ios_values::{all_values, apple, load, sample};
use sbcheck::blob::pattern::{forms, FormKind, Match};
use sbcheck::blob::program::{Connector, Insn};
use sbcheck::blob::{
    action, render, DecodeErrorKind, FilterArg, Format, Node, Profile, KIND_BUNDLE,
};
use sbcheck::decision::{
    evaluate, evaluate_with, explain, explain_with, Args, Undetermined, Verdict,
};
use sbcheck::vocab::Vocab;
use std::process::Command;

/// Every `.sb.bin` under profiles/apple, as paths relative to it.
fn all_blobs() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["macos-14.4.1", "ios-17", "ios-26", "macos-10.6"] {
        for e in std::fs::read_dir(apple(dir)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".bin") {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}

/// MANIFEST.md rows: name, bytes, nodes, flags.
fn manifest() -> Vec<(String, usize, usize, u16)> {
    let text = std::fs::read_to_string(apple("macos-14.4.1/MANIFEST.md")).unwrap();
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('|').map(str::trim).collect();
            let bytes = c.get(2)?.parse().ok()?;
            let nodes = c.get(3)?.parse().ok()?;
            let flags = u16::from_str_radix(c.get(4)?.strip_prefix("0x")?, 16).ok()?;
            Some((c[1].to_owned(), bytes, nodes, flags))
        })
        .collect()
}

#[test]
fn every_apple_blob_decodes_in_its_format() {
    let blobs = all_blobs();
    // 44 macOS 14.4.1 blobs (the corpus has 44, not the 57 the issue
    // counted), the two iOS platform profiles, the 10.6 sample.
    assert_eq!(blobs.len(), 44 + 2 + 1, "{blobs:?}");
    let rows = manifest();
    assert_eq!(rows.len(), 44);
    let mut failures = Vec::new();
    for rel in &blobs {
        let bytes = std::fs::read(apple(rel)).unwrap();
        let p = match Profile::decode(&bytes) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let want = match rel.split('/').next() {
            Some("ios-26") => Format::Hdr16,
            Some("macos-10.6") => Format::Legacy,
            _ => Format::Hdr14,
        };
        if p.format != want {
            failures.push(format!("{rel}: format {:?}", p.format));
        }
        // Apple's compiler numbers nodes so every edge points forward and
        // the default is a terminal.
        for (i, node) in p.nodes.iter().enumerate() {
            if let Node::Filter {
                matched, unmatched, ..
            } = node
            {
                if usize::from(*matched) <= i || usize::from(*unmatched) <= i {
                    failures.push(format!("{rel}: node {i} has a backward edge"));
                }
            }
        }
        if !matches!(p.nodes[usize::from(p.op_table[0])], Node::Terminal(_)) {
            failures.push(format!("{rel}: default is not a terminal"));
        }
        if let Some(name) = rel
            .strip_prefix("macos-14.4.1/")
            .and_then(|n| n.strip_suffix(".sb.bin"))
        {
            match rows.iter().find(|r| r.0 == name) {
                Some((_, len, nodes, flags)) => {
                    if (bytes.len(), p.nodes.len(), p.header.kind) != (*len, *nodes, *flags) {
                        failures.push(format!("{rel}: differs from MANIFEST.md"));
                    }
                }
                None => failures.push(format!("{rel}: not in MANIFEST.md")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ios_17_platform_profile() {
    let p = load("ios-17/platform_profile.bin");
    assert_eq!((p.format, p.vocab.release), (Format::Hdr14, "macos-14.4.1"));
    assert_eq!(p.nodes.len(), 9957);
    assert_eq!(p.header.op_count, 190);
    assert_eq!((p.nodes_offset, p.data_base), (424, 80080));
    // The default is the last node, and it allows.
    assert_eq!(p.op_table[0], 9956);
    let Node::Terminal(default) = p.nodes[9956] else {
        panic!("node 9956 is not a terminal")
    };
    assert!(!default.is_deny() && default.word == 0);
    let d = evaluate(&p, 0, &Args::default());
    assert_eq!(
        (d.verdict(), d.node_path()),
        (Some(Verdict::Allow), vec![9956])
    );
    let vars: Vec<&str> = p.global_vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        vars,
        [
            "FRONT_USER_HOME",
            "ANY_USER_HOME",
            "HOME",
            "ANY_UUID",
            "ENTITLEMENT:com.apple.trial.client",
            "ENTITLEMENT:com.apple.security.exception.iokit-user-client-class",
            "ENTITLEMENT:com.apple.security.iokit-user-client-class",
        ]
    );
    let items: Vec<u16> = p.regexes.iter().map(|r| r.item).collect();
    assert_eq!(items, [63, 2306, 2108, 2434, 2632, 2621, 2938, 2795]);
    assert_eq!((p.patterns.len(), p.buckets().len()), (517, 47));
}

#[test]
fn ios_26_platform_profile() {
    let p = load("ios-26/platform_profile.bin");
    assert_eq!(
        (p.format, p.vocab.release),
        (Format::Hdr16, "ios-26-partial")
    );
    assert_eq!(p.header.op_count, 195);
    assert_eq!(p.op_table.len(), 195);
    assert_eq!(p.nodes.len(), 9652);
    assert_eq!((p.nodes_offset, p.data_base), (440, 77656));
    assert_eq!(p.op_table[0], 9651);
    assert_eq!(
        evaluate(&p, 0, &Args::default()).verdict(),
        Some(Verdict::Allow)
    );
    // Unknown names are shown as ids, never guessed.
    assert_eq!(p.vocab.op_name(1), None);
    assert_eq!(p.vocab.op_label(1), "op#1");
    assert_eq!(p.vocab.op_id("sandbox-check"), Some(149));
    assert_eq!(p.patterns.len(), 541);
}

#[test]
fn mac_os_x_10_6_sample() {
    let p = load("macos-10.6/sample1.sb.bin");
    assert_eq!(p.format, Format::Legacy);
    assert_eq!(p.op_table.len(), 59);
    assert_eq!(p.legacy_offsets, [0x80, 0x88, 0x90]);
    assert_eq!(p.regexes[0].regex.render(), "^/tmp/woowoo$");
    let read = p.vocab.op_id("file-read-data").unwrap();
    assert_eq!(read, 5);
    for (path, want) in [
        ("/tmp/woowoo", Verdict::Allow),
        ("/tmp/woowoo2", Verdict::Deny),
        ("/tmp/woowo", Verdict::Deny),
        ("/private/tmp/woowoo", Verdict::Deny),
    ] {
        let d = evaluate(&p, read, &Args::path(path.as_bytes()));
        assert_eq!(d.verdict(), Some(want), "{path}");
    }
    let d = evaluate(&p, read, &Args::path(b"/tmp/woowoo"));
    assert_eq!(
        explain(&p, &d),
        "(allow file-read-data (regex #\"^/tmp/woowoo$\"))"
    );
    for op in [0, 1, 6, 58] {
        let d = evaluate(&p, op, &Args::path(b"/tmp/woowoo"));
        assert_eq!(d.verdict(), Some(Verdict::Deny), "op {op}");
        assert_eq!(explain(&p, &d), "(deny default)");
    }
}

/// Rendered forms per kind, as the format research counted them.
#[test]
fn pattern_forms_per_kind() {
    for (rel, want) in [
        ("ios-17/platform_profile.bin", [1027, 192, 35, 34]),
        ("ios-26/platform_profile.bin", [1083, 270, 47, 34]),
    ] {
        let p = load(rel);
        let mut got = [0usize; 4];
        for item in &p.patterns {
            for f in forms(&item.program).unwrap() {
                got[f.kind as usize] += 1;
            }
        }
        assert_eq!(got, want, "{rel}: literal, subpath, prefix, regex");
    }
    assert_eq!(FormKind::Literal as usize, 0);
}

/// Items and instructions per opcode, as the format research counted them
/// (SPEC §4.5): every opcode of the format is decoded, and exactly.
#[test]
fn pattern_opcode_statistics() {
    #[rustfmt::skip]
    let want: [(&str, [(usize, usize); 13]); 2] = [
        ("ios-17/platform_profile.bin", [(510, 1812), (11, 11), (501, 1238), (517, 1480), (516, 2207),
            (283, 1053), (4, 5), (126, 131), (15, 38), (3, 3), (12, 31), (4, 4), (29, 30)]),
        ("ios-26/platform_profile.bin", [(534, 2098), (11, 11), (520, 1372), (541, 1704), (540, 2413),
            (300, 1245), (4, 13), (111, 117), (15, 38), (3, 3), (12, 31), (4, 4), (24, 25)]),
    ];
    for (rel, want) in want {
        let p = load(rel);
        let mut got = [(0usize, 0usize); 13];
        for item in &p.patterns {
            let mut counts = [0usize; 13];
            for s in item.program.steps() {
                let k = match s.insn {
                    Insn::Lit { len, .. } if len <= 64 => 0,
                    Insn::Lit { .. } => 1,
                    Insn::End => 2,
                    Insn::Success => 3,
                    Insn::Var(_) => 7,
                    Insn::Class(_) => 8,
                    Insn::Star(_) => 9,
                    Insn::SkipTo(_) => 10,
                    Insn::Search(_) => 11,
                    Insn::Restore => 12,
                    Insn::Save | Insn::Fail | Insn::Pop => continue,
                };
                counts[k] += 1;
                match s.connector {
                    Connector::Hard => counts[4] += 1,
                    Connector::Short => counts[5] += 1,
                    Connector::Long => counts[6] += 1,
                    Connector::None => {}
                }
            }
            for (g, c) in got.iter_mut().zip(counts) {
                if c > 0 {
                    g.0 += 1;
                    g.1 += c;
                }
            }
        }
        assert_eq!(got, want, "{rel}");
    }
}

/// The matcher and the rendered forms agree: on strings built from every
/// accepting path and on near misses around them, a program matches exactly
/// when one of its forms does. Every literal path the program names matches.
#[test]
fn pattern_matcher_agrees_with_rendered_forms() {
    for rel in [
        "ios-17/platform_profile.bin",
        "ios-26/platform_profile.bin",
        // Nested marks (06 after the start, 07): only macOS 15 has them.
        "macos-15/platform_profile.bin",
    ] {
        let p = load(rel);
        let vars = all_values(&p);
        let (mut checked, mut failures) = (0, Vec::new());
        for item in &p.patterns {
            let forms = forms(&item.program).unwrap();
            for form in &forms {
                for path in &form.paths {
                    for variant in 0..2 {
                        let base = sample(path, &vars, variant);
                        let mut cut = base.clone();
                        cut.pop();
                        for s in [
                            base.clone(),
                            [&base[..], b"/"].concat(),
                            [&base[..], b"/child"].concat(),
                            [&base[..], b"x"].concat(),
                            cut,
                            [b"/q", &base[..]].concat(),
                        ] {
                            checked += 1;
                            let engine = item.program.matches(&s, &vars);
                            let union = forms.iter().any(|f| f.matches(&s, &vars) == Match::Yes);
                            if (engine == Match::Yes) != union {
                                failures.push(format!(
                                    "data[{}] {:?}: engine {engine:?}, forms {union}",
                                    item.item,
                                    String::from_utf8_lossy(&s)
                                ));
                            }
                        }
                        if variant == 0 && form.kind != FormKind::Regex {
                            let s = sample(path, &vars, 0);
                            if item.program.matches(&s, &vars) != Match::Yes {
                                failures.push(format!("data[{}] rejects its own path", item.item));
                            }
                        }
                    }
                }
            }
        }
        // macOS 15's profile has fewer patterns (10,884 strings).
        let least = if rel.contains("macos-15") {
            10_000
        } else {
            15_000
        };
        assert!(checked > least, "{rel}: {checked}");
        assert!(
            failures.is_empty(),
            "{rel}: {} of {checked}:\n{}",
            failures.len(),
            failures[..failures.len().min(20)].join("\n")
        );
    }
}

#[test]
fn ios_17_regexes_render_and_match() {
    let p = load("ios-17/platform_profile.bin");
    let texts: Vec<String> = p.regexes.iter().map(|r| r.regex.render()).collect();
    let home = r"^/private/var/(mobile|euser[0-9]+|[\-0-9A-F]+|Users/[^/]+)";
    assert_eq!(
        texts,
        [
            format!("{home}/Library/Safari/(com\\.apple\\.)?Bookmark"),
            format!("{home}/Containers/Data/[^/]+/[^/]+/Library/Application Support/iCloudDrive/[^/]+/session/r(/|$)"),
            format!("{home}/Containers/Shared/AppGroup/[^/]+/File Provider Storage(/|$)"),
            "^/private/var/PersonaVolumes/[^/]+(/|$)".to_owned(),
            "^/mnt[1-9][0-9]*(/|$)".to_owned(),
            "^/private/var/Users/[\\-0-9A-F]+/?$".to_owned(),
            "^/dev/ttys[0-9]*".to_owned(),
            format!("{home}/Media/([^/]+/)?iTunes_Control/iTunes(/|$)"),
        ]
    );
    let m = |k: usize, s: &str| p.regexes[k].regex.matches(s.as_bytes());
    assert!(m(0, "/private/var/mobile/Library/Safari/Bookmarks.db"));
    assert!(m(
        0,
        "/private/var/euser501/Library/Safari/com.apple.Bookmark"
    ));
    assert!(!m(0, "/private/var/euser/Library/Safari/Bookmarks.db"));
    assert!(m(4, "/mnt1") && m(4, "/mnt12/x") && !m(4, "/mnt0") && !m(4, "/mnt1x"));
    assert!(m(5, "/private/var/Users/0A-1/") && !m(5, "/private/var/Users/0a"));
    assert!(m(6, "/dev/ttys003") && m(6, "/dev/ttys") && !m(6, "/dev/tty"));
}

/// Rendered regex text, compiled again by the SBPL compiler's independent
/// regex code generator, gives back Apple's exact bytes; and both engines
/// agree on strings built around each regex.
#[test]
fn rendered_regexes_compile_back_to_apples_bytes() {
    for rel in ["ios-17/platform_profile.bin", "ios-26/platform_profile.bin"] {
        let p = load(rel);
        for (k, e) in p.regexes.iter().enumerate() {
            let text = e.regex.render();
            let theirs = sbcheck::sbpl::regex::Regex::parse(&text)
                .unwrap_or_else(|err| panic!("{rel} regex {k} {text}: {err}"));
            assert_eq!(
                theirs.item().unwrap(),
                p.data_item(e.item).unwrap(),
                "{rel} regex {k}: {text}"
            );
            for s in [
                "/private/var/mobile/Library/Safari/Bookmarks",
                "/private/var/Users/ab/Media/x/iTunes_Control/iTunes",
                "/mnt3/a",
                "/dev/ttys9",
                "/private/var/PersonaVolumes/X/",
                "/private/var/0-A/Containers/Shared/AppGroup/g/File Provider Storage",
                "/private/var/Users/AB-12",
            ] {
                assert_eq!(
                    e.regex.matches(s.as_bytes()),
                    theirs.is_match(s.as_bytes()),
                    "{text} on {s}"
                );
            }
        }
    }
}

#[test]
fn bitmaps_and_modifiers() {
    let p = load("ios-17/platform_profile.bin");
    let FilterArg::Bitmap(k) = p.args[334] else {
        panic!("node 334 is not a bitmap filter")
    };
    let b = &p.bitmaps[k as usize];
    assert_eq!((b.word0, b.ranges()), (1, vec![(0, 204), (206, 555)]));
    let Node::Terminal(a) = p.nodes[618] else {
        panic!()
    };
    assert_eq!(
        a.word,
        action::INLINE_MODIFIER | action::TELEMETRY | action::REPORT
    );
    assert_eq!(
        render::action_modifiers(&p, &a),
        [
            "(with report)",
            "(with telemetry)",
            "(with message \"This will be disabled in rdar://75472594\")"
        ]
    );
    let Node::Terminal(a) = p.nodes[102] else {
        panic!()
    };
    assert_eq!(
        p.modifier_string(&a.modifier.unwrap()).as_deref(),
        Some("ManagedConfiguration")
    );

    let g = load("macos-14.4.1/gate_airlock_minimal_file.sb.bin");
    assert_eq!(g.policies, [9]);
    let sets: Vec<Vec<(u32, u32)>> = g.bitmaps.iter().map(|b| b.ranges()).collect();
    assert_eq!(sets, [vec![(100, 100)], vec![(1, 1), (37, 37)]]);
    let Node::Terminal(a) = g.nodes[7] else {
        panic!()
    };
    let m = a.modifier.unwrap();
    assert_eq!((m.name(), m.policy_op, m.arg), ("message-filter", 0xc0, 0));
    assert_eq!(g.vocab.op_name(0xc0), Some("iokit-external-method"));
    let unix = g.vocab.op_id("syscall-unix").unwrap();
    for (n, want) in [
        (1, Verdict::Allow),
        (37, Verdict::Allow),
        (2, Verdict::Deny),
    ] {
        let ints = [(64, n)];
        let d = evaluate(
            &g,
            unix,
            &Args {
                ints: &ints,
                ..Args::default()
            },
        );
        assert_eq!(d.verdict(), Some(want), "syscall {n}");
    }
}

#[test]
fn integer_arguments_decide_and_missing_ones_are_undetermined() {
    let p = load("ios-17/platform_profile.bin");
    let unix = p.vocab.op_id("syscall-unix").unwrap();
    let syscall = p.vocab.filter_id("syscall-number").unwrap();
    let with = |n: u16| {
        let ints = [(syscall, n)];
        evaluate(
            &p,
            unix,
            &Args {
                ints: &ints,
                ..Args::default()
            },
        )
    };
    let d = with(205);
    assert_eq!(
        (d.verdict(), d.node_path()),
        (Some(Verdict::Deny), vec![334, 335, 9955])
    );
    assert_eq!(
        explain(&p, &d),
        "(deny syscall-unix (syscall-number SYS_undelete))"
    );
    assert_eq!(with(3).verdict(), Some(Verdict::Allow));
    let d = evaluate(&p, unix, &Args::default());
    assert_eq!(
        d.outcome,
        Err(Undetermined::MissingArgument {
            node: 334,
            filter: syscall
        })
    );
    assert_eq!(
        explain(&p, &d),
        ";; undetermined at node 334: no syscall-number argument given"
    );
}

#[test]
fn global_variables_without_values_are_undetermined() {
    let p = load("ios-17/platform_profile.bin");
    let op = p.vocab.op_id("storage-class-map").unwrap();
    let path = b"/private/var/mobile/Library/Mail/x";
    let d = evaluate(&p, op, &Args::path(path));
    let any_user_home = p
        .global_vars
        .iter()
        .position(|v| v.name == "ANY_USER_HOME")
        .unwrap();
    assert_eq!(
        d.outcome,
        Err(Undetermined::MissingVariable {
            node: 17,
            var: any_user_home as u8
        })
    );
    assert_eq!(
        explain(&p, &d),
        ";; undetermined at node 17: no value given for ${ANY_USER_HOME}"
    );
    let vars: &[(&str, &[u8])] = &[
        ("FRONT_USER_HOME", b"/private/var/mobile"),
        ("ANY_USER_HOME", b"/private/var/mobile"),
    ];
    let args = Args::path(path);
    let d = evaluate_with(&p, op, &args, vars);
    assert_eq!(d.verdict(), Some(Verdict::Allow));
    assert_eq!(d.modifiers(&p), ["(with assign-storage-class \"Mail\")"]);
    assert_eq!(
        explain_with(&p, &d, Some(&args), vars),
        "(allow storage-class-map (subpath \"${FRONT_USER_HOME}/Library/Mail\") (with assign-storage-class \"Mail\"))"
    );
    // A path no variable section can match is decided without values.
    let d = evaluate(&p, op, &Args::path(b"/private/var/db/os_eligibility/x"));
    assert_eq!(d.verdict(), Some(Verdict::Allow));
}

#[test]
fn rules_render_every_bucket_once() {
    for rel in all_blobs() {
        let p = load(&rel);
        let r = render::rules(&p);
        assert_eq!(r.buckets.len(), p.buckets().len(), "{rel}");
        // Every block a rule uses is rendered (as a block or a bucket).
        let rendered: Vec<(u16, Option<u16>)> = r
            .buckets
            .iter()
            .map(|b| (b.node, None))
            .chain(r.blocks.iter().map(|b| (b.0, b.1)))
            .collect();
        let rules = r
            .buckets
            .iter()
            .flat_map(|b| &b.rules)
            .chain(r.blocks.iter().flat_map(|b| &b.2));
        for rule in rules {
            if let render::Outcome::Block(n, stop) = rule.outcome {
                assert!(
                    rendered.contains(&(n, stop)),
                    "{rel}: block {n} until {stop:?} used but not rendered"
                );
            }
        }
    }
    let p = load("macos-14.4.1/golden_strict_1_file.sb.bin");
    let r = render::rules(&p);
    let mut t = render::Texts::new(&p);
    let b = r.buckets.iter().find(|b| b.node == 3).unwrap();
    let ops: Vec<String> = b
        .rule_operations
        .iter()
        .map(|&o| p.vocab.op_label(o))
        .collect();
    let text: Vec<String> = b
        .rules
        .iter()
        .map(|rule| render::Rendering::rule_text(&mut t, &ops.join(" "), rule))
        .collect();
    assert_eq!(
        text,
        [
            "(deny default)",
            "(allow file-read* file-write* (subpath \"/private/tmp/strict_ok\"))",
            "(deny file-read* file-write* (literal \"/etc/hosts\"))",
        ]
    );
}

/// A bundle of two profiles built from golden_strict_1_file: records
/// `{u16 name, u16 0, ops[190]}`, the second profile denying everything.
fn bundle() -> Vec<u8> {
    let src = std::fs::read(apple("macos-14.4.1/golden_strict_1_file.sb.bin")).unwrap();
    let p = Profile::decode(&src).unwrap();
    let mut data = src[p.data_base..].to_vec();
    data.resize(data.len().next_multiple_of(8), 0);
    let name_item = (data.len() / 8) as u16;
    data.extend_from_slice(&7u16.to_le_bytes());
    data.extend_from_slice(b"second\0");
    let mut out = src[..14].to_vec();
    out[0..2].copy_from_slice(&KIND_BUNDLE.to_le_bytes());
    out[8..10].copy_from_slice(&2u16.to_le_bytes());
    for (name, ops) in [(0u16, p.op_table.clone()), (name_item, vec![6u16; 190])] {
        out.extend_from_slice(&name.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        ops.iter()
            .for_each(|o| out.extend_from_slice(&o.to_le_bytes()));
    }
    out.resize(out.len().next_multiple_of(8), 0);
    out.extend_from_slice(&src[p.nodes_offset..p.data_base]);
    out.extend_from_slice(&data);
    out
}

#[test]
fn bundles_decode_and_each_profile_evaluates() {
    let bytes = bundle();
    let mut p = Profile::decode(&bytes).unwrap();
    assert_eq!(p.profiles.len(), 2);
    assert_eq!(p.profiles[1].name.as_deref(), Some("second"));
    let read = Vocab::macos_14().op_id("file-read-data").unwrap();
    let ok = Args::path(b"/private/tmp/strict_ok/x");
    assert_eq!(evaluate(&p, read, &ok).verdict(), Some(Verdict::Allow));
    p.select_profile(1).unwrap();
    assert_eq!(evaluate(&p, read, &ok).verdict(), Some(Verdict::Deny));
    // A bundle of no profiles is absurd.
    let mut empty = bytes.clone();
    empty[8..10].copy_from_slice(&0u16.to_le_bytes());
    let e = Profile::decode(&empty).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::AbsurdCount { count: 0, .. }),
        "{e}"
    );
    assert_eq!(e.offset, 8);
}

#[test]
fn damaged_blobs_are_typed_errors_with_offsets() {
    let golden = std::fs::read(apple("macos-14.4.1/golden_strict_1_file.sb.bin")).unwrap();
    let p = Profile::decode(&golden).unwrap();
    let node3 = p.nodes_offset + 8 * 3;
    // Truncated inside the data area.
    let e = Profile::decode(&golden[..golden.len() - 5]).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::Truncated { .. }), "{e}");
    // A node edge out of range.
    let mut b = golden.clone();
    b[node3 + 4] = 200;
    let e = Profile::decode(&b).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::NodeOutOfRange {
            index: 200,
            node_count: 7
        }
    );
    assert_eq!((e.offset, e.field.as_str()), (node3 + 4, "node[3].match"));
    // A data reference past the end.
    let mut b = golden.clone();
    b[node3 + 2] = 0xff;
    let e = Profile::decode(&b).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::DataOutOfRange { arg: 0xff }, "{e}");
    assert_eq!(e.offset, p.data_base + 8 * 0xff);
    // A cycle.
    let mut b = golden.clone();
    b[node3 + 6] = 3;
    let e = Profile::decode(&b).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Cycle { node: 3 });
    // An absurd node count: far more nodes than the blob holds.
    let mut b = golden.clone();
    b[2..4].copy_from_slice(&60_000u16.to_le_bytes());
    let e = Profile::decode(&b).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::Truncated { needed, .. } if needed == 400 + 8 * 60_000),
        "{e}"
    );
    assert_eq!(e.field, "node array (60000 nodes)");
    // No operations at all.
    let mut b = golden.clone();
    b[4] = 0;
    let e = Profile::decode(&b).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::AbsurdCount { count: 0, .. }),
        "{e}"
    );
    // A pattern byte that is no opcode names its absolute offset.
    let mut b = golden.clone();
    let item = p.data_base + 2; // data[0], the /etc/hosts literal
    let at = item + 1 + "/etc/hosts".len() + 1; // the 00 after the literal's 0f
    b[at] = 0x01;
    let e = Profile::decode(&b).unwrap_err();
    assert_eq!(e.offset, at, "{e}");
    assert!(e.to_string().contains("unknown opcode 0x01"), "{e}");
}

fn sbcheck(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_decode_json_follows_the_schema() {
    let (code, out, err) = sbcheck(&[
        "decode",
        "--json",
        "profiles/apple/ios-17/platform_profile.bin",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["format"], "hdr14");
    assert_eq!(v["header"]["node_count"], 9957);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 9957);
    assert_eq!(v["nodes"][9956]["action"], "allow");
    assert_eq!(v["tables"]["global_vars"][2]["name"], "HOME");
    assert_eq!(v["tables"]["regexes"][6]["regex"], "^/dev/ttys[0-9]*");
    assert_eq!(v["buckets"].as_array().unwrap().len(), 47);
    let node334 = &v["nodes"][334];
    assert_eq!(node334["arg_kind"], "bitmap");
    assert_eq!(node334["filter"]["name"], "syscall-number");
    assert_eq!(
        node334["value"]["ranges"],
        serde_json::json!([[0, 204], [206, 555]])
    );
}

#[test]
fn cli_decode_text_and_eval() {
    let blob = "profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin";
    let (code, out, _) = sbcheck(&["decode", blob]);
    assert_eq!(code, 0);
    assert!(out.contains("format: hdr14"), "{out}");
    assert!(
        out.contains("  [3] @424: (literal \"/etc/hosts\") -> 6 / 4\n"),
        "{out}"
    );
    // The bucket's graph as one rule: the literal is tested first and
    // sends /etc/hosts to the default's deny, so the allow needs both.
    assert!(
        out.contains(
            "(allow file-read* file-write* (require-all (require-not (literal \"/etc/hosts\")) (subpath \"/private/tmp/strict_ok\")))\n"
        ),
        "{out}"
    );
    let (code, out, _) = sbcheck(&["eval", blob, "file-read-data", "/etc/hosts", "--explain"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "deny\nbucket: 3\nnode path: 3 -> 6\nrule: (deny file-read* (literal \"/etc/hosts\"))\n\
         walk:\n  [3] (literal \"/etc/hosts\") -> 6 / 4 -> match\n  [6] deny -> terminal\n\
         path model: as given (string matching): /etc/hosts\n"
    );
    let (code, out, _) = sbcheck(&[
        "eval",
        "profiles/apple/macos-14.4.1/pair_dt_all_inet_stream.sb.bin",
        "network-outbound",
        "--arg",
        "socket-domain=AF_INET",
        "--arg",
        "socket-type=SOCK_STREAM",
        "--arg",
        "control-name=",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "allow", "{v}");
    let (code, out, _) = sbcheck(&[
        "eval",
        "profiles/apple/ios-17/platform_profile.bin",
        "storage-class-map",
        "/private/var/mobile/Library/Mail/x",
        "--var",
        "FRONT_USER_HOME=/private/var/mobile",
        "--var",
        "ANY_USER_HOME=/private/var/mobile",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("allow\n")
            && out.contains("modifiers: (with assign-storage-class \"Mail\")"),
        "{out}"
    );
}

#[test]
fn cli_errors_name_the_file_and_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let golden = std::fs::read(apple("macos-14.4.1/golden_strict_1_file.sb.bin")).unwrap();
    let cut = dir.path().join("cut.sb.bin");
    std::fs::write(&cut, &golden[..420]).unwrap();
    let cut = cut.to_str().unwrap();
    let (code, _, err) = sbcheck(&["decode", cut]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim_end(),
        format!("sbcheck: {cut}: byte 400: node array (7 nodes): truncated: needs 456 bytes, blob has 420")
    );
    let (code, _, err) = sbcheck(&[
        "eval",
        "profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin",
        "file-reed-data",
        "/x",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean file-read-data?"), "{err}");
}
