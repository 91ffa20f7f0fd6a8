//! Rendered SBPL means what the blob means: for every blob in ../shared and
//! profiles/apple (every profile of a bundle), decisions of
//! compile(render(decode(blob))) equal the blob's own on generated queries.
//!
//! Queries: every operation the text decides, crossed with paths near every
//! pattern and regex of the blob (the text of each form, and that text
//! followed by `/`, `/x`, `x`, cut short by one byte, and its parent), and
//! with every argument value the blob names for each integer and string
//! filter (plus one it does not name). A decision is the verdict, the
//! action-word flags and the modifier; a query the blob itself leaves
//! undetermined is not counted.
//!
//! Filters and operations with no form the compiler accepts yet are
//! reported (printed, and listed in docs/decoder.md); the operations that
//! reach them are left out of the text and of the comparison, never guessed.

use sbcheck::blob::forms::{forms, Atom};
use sbcheck::blob::profile_text::{profile_text_with, RenderOptions};
use sbcheck::blob::regex::{Op, Regex};
use sbcheck::blob::{FilterArg, Node, Profile};
use sbcheck::decision::{evaluate_with, Args, Decision};
use sbcheck::sbpl::{compile, Options};
use sbcheck::vocab::{filter, OpId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/apple-blobs")
}

/// Every `.bin` under `dir`, sorted.
fn blobs_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "bin") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn all_blobs() -> Vec<PathBuf> {
    let mut v = blobs_under(&shared());
    v.extend(blobs_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/apple"),
    ));
    v
}

/// A deterministic xorshift, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The value each global variable gets (the same in both blobs, by name).
fn var_value(k: usize) -> Vec<u8> {
    format!("/private/var/v{k}").into_bytes()
}

/// A string of one accepting path of a pattern form.
fn atoms_text(atoms: &[Atom], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let pick = |set: &sbcheck::blob::program::ByteSet, rng: &mut Rng| {
        let members: Vec<u8> = (0..=255u8).filter(|&b| set.contains(b) && b != 0).collect();
        members
            .iter()
            .copied()
            .filter(u8::is_ascii_alphanumeric)
            .chain(members.iter().copied())
            .nth(rng.below(2))
            .or(members.first().copied())
    };
    for a in atoms {
        match a {
            Atom::Lit(b) => out.extend_from_slice(b),
            Atom::Var(k) => out.extend(var_value(usize::from(*k))),
            Atom::Class(s) => out.extend(pick(s, rng)),
            Atom::Star(s) => {
                if rng.below(2) == 1 {
                    out.extend(pick(s, rng));
                }
            }
            Atom::SkipTo(c) => {
                out.push(b'q');
                out.push(*c);
            }
            Atom::Search(c) => {
                out.extend_from_slice(b"zz");
                out.push(*c);
            }
            Atom::End => break,
        }
    }
    out
}

/// A string a v3 regex accepts, by a random walk (bounded).
fn regex_sample(r: &Regex, rng: &mut Rng) -> Vec<u8> {
    let Regex::V3(rx) = r else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut i = 0usize;
    for _ in 0..400 {
        let Some(op) = rx.ops.get(i) else { break };
        match *op {
            Op::Char(c) => {
                out.push(c);
                i += 1;
            }
            Op::Any => {
                out.push(b'a');
                i += 1;
            }
            Op::Class(k) => {
                let set = &rx.sets[usize::from(k)];
                let members: Vec<u8> = (1..=255u8).filter(|&b| set.contains(b)).collect();
                if let Some(&b) = members.get(rng.below(members.len())) {
                    out.push(b);
                }
                i += 1;
            }
            Op::Bol | Op::Eol => i += 1,
            Op::Fork(t) => {
                // Leave loops soon: the fork's far edge with rising odds.
                i = if rng.below(3) == 0 { i + 1 } else { t as usize };
            }
            Op::Jump(t) => i = t as usize,
            Op::Match => break,
        }
    }
    out
}

/// Strings near `s`: itself and its neighbours.
fn near(s: &[u8], out: &mut BTreeSet<Vec<u8>>) {
    out.insert(s.to_vec());
    for tail in [&b"/"[..], b"/x", b"x"] {
        out.insert([s, tail].concat());
    }
    if let Some((_, head)) = s.split_last() {
        out.insert(head.to_vec());
    }
    if let Some(k) = s.iter().rposition(|&b| b == b'/') {
        out.insert(s[..k].to_vec());
    }
}

/// The values a query draws from, per filter id of the blob.
#[derive(Default)]
struct Pools {
    strings: BTreeMap<u8, BTreeSet<Vec<u8>>>,
    ints: BTreeMap<u8, BTreeSet<u16>>,
}

fn pools(p: &Profile, rng: &mut Rng) -> Pools {
    let mut pools = Pools::default();
    for (i, node) in p.nodes.iter().enumerate() {
        let Node::Filter { filter: f, .. } = *node else {
            continue;
        };
        match p.args[i] {
            FilterArg::Int(v) => {
                let set = pools.ints.entry(f).or_default();
                set.insert(v);
                set.insert(v.wrapping_add(1));
            }
            FilterArg::Bitmap(k) => {
                let set = pools.ints.entry(f).or_default();
                for (lo, hi) in p.bitmaps[k as usize].ranges() {
                    set.extend([lo as u16, hi as u16, (hi + 1) as u16]);
                }
            }
            FilterArg::Str(k) => {
                let set = pools.strings.entry(f).or_default();
                set.insert(p.strings[k as usize].bytes.clone());
                set.insert(b"x".to_vec());
            }
            FilterArg::Regex(k) => {
                let set = pools.strings.entry(f).or_default();
                for _ in 0..4 {
                    near(&regex_sample(&p.regexes[usize::from(k)].regex, rng), set);
                }
            }
            FilterArg::Pattern(k) => {
                let set = pools.strings.entry(f).or_default();
                if let Ok(fs) = forms(&p.patterns[k as usize].program) {
                    for form in fs.iter().take(64) {
                        for path in &form.paths {
                            near(&atoms_text(path, rng), set);
                        }
                    }
                }
            }
            FilterArg::Unknown(_) | FilterArg::None => {}
        }
    }
    // The compiler lets `com.apple.flow-divert` out on network-outbound
    // (as Apple's does): the recompiled blob may test a control name the
    // original never does, so every query names one (empty: none).
    pools
        .strings
        .entry(filter::CONTROL_NAME)
        .or_default()
        .insert(Vec::new());
    pools
}

/// What two decisions must agree on.
fn summary(p: &Profile, d: &Decision) -> Option<String> {
    let a = d.outcome.as_ref().ok()?;
    let modifier = a.modifier.map(|m| {
        format!(
            "{} {:?}",
            m.name(),
            p.modifier_string(&m).unwrap_or(m.arg.to_string())
        )
    });
    Some(format!(
        "{} word {:#x} {modifier:?}",
        if a.is_deny() { "deny" } else { "allow" },
        a.word & !sbcheck::blob::action::INLINE_MODIFIER
    ))
}

#[derive(Default, Debug)]
struct Report {
    queries: usize,
    undetermined: usize,
    operations: usize,
    total_operations: usize,
    unexpressed: BTreeSet<String>,
    mismatches: Vec<String>,
}

/// One query: an operation, a path and one value of every other filter.
struct Query {
    op: OpId,
    path: Vec<u8>,
    ints: Vec<(u8, u16)>,
    strings: Vec<(u8, Vec<u8>)>,
}

fn queries(ops: &[OpId], pools: &Pools, want: usize, rng: &mut Rng) -> Vec<Query> {
    let paths: Vec<&Vec<u8>> = pools
        .strings
        .get(&filter::PATH)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let fallback = b"/private/var/tmp/x".to_vec();
    let mut out = Vec::with_capacity(want);
    let mut k = 0usize;
    while out.len() < want && !ops.is_empty() {
        let op = ops[k % ops.len()];
        // Walk the paths in order so every one is used; the rest at random.
        let path = if paths.is_empty() {
            fallback.clone()
        } else {
            paths[(k / ops.len().max(1) + rng.below(3)) % paths.len()].clone()
        };
        let ints = pools
            .ints
            .iter()
            .map(|(&f, vals)| (f, *vals.iter().nth(rng.below(vals.len())).unwrap_or(&0)))
            .collect();
        let strings = pools
            .strings
            .iter()
            .filter(|(&f, _)| f != filter::PATH)
            .map(|(&f, vals)| {
                (
                    f,
                    vals.iter()
                        .nth(rng.below(vals.len()))
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect();
        out.push(Query {
            op,
            path,
            ints,
            strings,
        });
        k += 1;
    }
    out
}

/// Round-trips `p` with `want` queries. A text too large for one blob
/// (the format's 65,535 nodes) is checked in parts, a few buckets each.
fn roundtrip(p: &Profile, label: &str, want: usize) -> Report {
    let options = RenderOptions {
        skip_unexpressible: true,
        ..RenderOptions::default()
    };
    let whole = profile_text_with(p, options.clone());
    let mut report = Report {
        total_operations: p.op_table.len(),
        unexpressed: whole.unexpressed.clone(),
        operations: whole.operations.len(),
        ..Report::default()
    };
    let mut parts = vec![whole.operations.clone()];
    while let Some(ops) = parts.pop() {
        let rendered = profile_text_with(
            p,
            RenderOptions {
                only: Some(ops.iter().copied().collect()),
                ..options.clone()
            },
        );
        match compile(&rendered.text, &Options::default()) {
            Err(e) if ops.len() > 1 && e.to_string().contains("the format holds at most") => {
                let (a, b) = ops.split_at(ops.len() / 2);
                parts.push(a.to_vec());
                parts.push(b.to_vec());
            }
            Err(e) => {
                let dump = std::env::temp_dir().join(format!(
                    "sbcheck-roundtrip-{}.sb",
                    label.replace(['/', ' '], "_")
                ));
                let _ = std::fs::write(&dump, &rendered.text);
                report.mismatches.push(format!(
                    "{label}: rendered text does not compile ({}): {}",
                    dump.display(),
                    e.render(Some(&rendered.text))
                ));
            }
            Ok(blob) => {
                let share = want * ops.len() / whole.operations.len().max(1);
                compare(p, &blob, &ops, label, share.max(1), &mut report);
            }
        }
    }
    report
}

/// Compares the blob `p` with the recompiled `blob` on `want` queries.
fn compare(p: &Profile, blob: &[u8], ops: &[OpId], label: &str, want: usize, report: &mut Report) {
    let q = Profile::decode(blob).expect("the compiler's blob decodes");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pools = pools(p, &mut rng);
    let vars: Vec<(String, Vec<u8>)> = p
        .global_vars
        .iter()
        .enumerate()
        .map(|(k, v)| (v.name.clone(), var_value(k)))
        .collect();
    let vars: Vec<(&str, &[u8])> = vars
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    // Filter ids of the blob's vocabulary to the compiler's (by name).
    let to_q = |f: u8| -> Option<u8> { q.vocab.filter_id(p.vocab.filter_name(f)?) };
    for query in queries(ops, &pools, want, &mut rng) {
        let strings: Vec<(u8, &[u8])> = query
            .strings
            .iter()
            .map(|(f, v)| (*f, v.as_slice()))
            .collect();
        let args = Args {
            path: Some(&query.path),
            ints: &query.ints,
            strings: &strings,
        };
        let original = evaluate_with(p, query.op, &args, &vars);
        let Some(want) = summary(p, &original) else {
            report.undetermined += 1;
            continue;
        };
        let q_ints: Vec<(u8, u16)> = query
            .ints
            .iter()
            .filter_map(|&(f, v)| Some((to_q(f)?, v)))
            .collect();
        let q_strings: Vec<(u8, &[u8])> = strings
            .iter()
            .filter_map(|&(f, v)| Some((to_q(f)?, v)))
            .collect();
        let q_args = Args {
            path: Some(&query.path),
            ints: &q_ints,
            strings: &q_strings,
        };
        let name = p
            .vocab
            .op_name(query.op)
            .expect("rendered operations are named");
        let q_op = q
            .vocab
            .op_id(name)
            .expect("rendered operations are in the compiler's vocabulary");
        let got = evaluate_with(&q, q_op, &q_args, &vars);
        let got = summary(&q, &got).unwrap_or_else(|| format!("undetermined {:?}", got.outcome));
        report.queries += 1;
        if got != want && report.mismatches.len() < 20 {
            report.mismatches.push(format!(
                "{label}: {name} path {:?} ints {:?} strings {:?}: blob {want}, recompiled {got}",
                String::from_utf8_lossy(&query.path),
                query.ints,
                query
                    .strings
                    .iter()
                    .map(|(f, v)| (*f, String::from_utf8_lossy(v).into_owned()))
                    .collect::<Vec<_>>()
            ));
        }
    }
}

fn print(label: &str, r: &Report) {
    eprintln!(
        "{label}: {} queries agree-checked, {} undetermined skipped, {}/{} operations rendered",
        r.queries, r.undetermined, r.operations, r.total_operations
    );
    for u in &r.unexpressed {
        eprintln!("  not expressible yet: {u}");
    }
}

#[test]
fn every_blob_and_bundle_profile_decodes_and_renders() {
    let mut profiles = 0;
    for path in all_blobs() {
        let bytes = std::fs::read(&path).unwrap();
        let mut p = Profile::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let count = p.profiles.len().max(1);
        for k in 0..count {
            if !p.profiles.is_empty() {
                p.select_profile(k).unwrap();
            }
            // Every operation of every profile decides (or names what it
            // lacks): no profile is left unreadable.
            for op in 0..p.op_table.len() as OpId {
                let d = evaluate_with(&p, op, &Args::path(b"/private/var/tmp/x"), &[]);
                assert!(
                    d.bucket != u16::MAX,
                    "{} profile {k} op {op}",
                    path.display()
                );
            }
            // The text of single blobs and of every 32nd bundle profile (the
            // round-trip tests compile them).
            if p.profiles.is_empty() || k % 32 == 0 {
                let text = profile_text_with(&p, RenderOptions::default()).text;
                assert!(text.starts_with("(version 1)"), "{}", path.display());
                assert!(
                    !text.contains("too complex"),
                    "{} profile {k}: a regex did not render",
                    path.display()
                );
            }
            profiles += 1;
        }
    }
    // The project's own vectors always; with ../shared (CI), 573 protobox
    // profiles and Apple's other blobs too.
    let least = if shared().is_dir() { 573 + 40 } else { 40 };
    assert!(profiles > least, "{profiles} profiles walked");
}

#[test]
fn every_regex_renders_as_text_the_compiler_reads_the_same() {
    let mut checked = 0;
    for path in all_blobs() {
        let p = Profile::decode(&std::fs::read(&path).unwrap()).unwrap();
        let mut rng = Rng(7);
        for (k, e) in p.regexes.iter().enumerate() {
            let text = sbcheck::blob::profile_text::regex_source(&e.regex.render())
                .unwrap_or_else(|| panic!("{} regex {k} is not text", path.display()));
            let parsed = sbcheck::sbpl::regex::Regex::parse(&text)
                .unwrap_or_else(|err| panic!("{} regex {k}: {text}: {err:?}", path.display()));
            let mut samples = BTreeSet::new();
            for _ in 0..16 {
                near(&regex_sample(&e.regex, &mut rng), &mut samples);
            }
            for s in samples {
                assert_eq!(
                    parsed.is_match(&s),
                    e.regex.matches(&s),
                    "{} regex {k} {text} on {:?}",
                    path.display(),
                    String::from_utf8_lossy(&s)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn small_blobs_round_trip_exactly() {
    let mut failures = Vec::new();
    let mut total = 0;
    for path in all_blobs() {
        let bytes = std::fs::read(&path).unwrap();
        let p = Profile::decode(&bytes).unwrap();
        if p.nodes.len() > 2000
            || !p.profiles.is_empty()
            || p.format != sbcheck::blob::Format::Hdr14
        {
            continue;
        }
        let label = path.display().to_string();
        let r = roundtrip(&p, &label, 2000);
        if !r.unexpressed.is_empty() {
            print(&label, &r);
        }
        total += r.queries;
        failures.extend(r.mismatches);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total > 10_000, "{total} queries");
}

fn platform(rel: &str) {
    // The project's own copies of the platform profiles: a fresh clone has
    // them without ../shared.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple")
        .join(rel);
    let p = Profile::decode(&std::fs::read(&path).unwrap()).unwrap();
    let r = roundtrip(&p, rel, 12_000);
    print(rel, &r);
    assert!(r.mismatches.is_empty(), "{}", r.mismatches.join("\n"));
    // Every platform profile has names for some operations (macOS 15's
    // pinned ones included), so each is held to the same count.
    assert!(r.operations > 0, "no operation rendered");
    assert!(r.queries >= 10_000, "{} queries", r.queries);
}

#[test]
fn ios_17_platform_profile_round_trips() {
    platform("ios-17/platform_profile.bin");
}

#[test]
fn ios_26_platform_profile_round_trips() {
    platform("ios-26/platform_profile.bin");
}

#[test]
fn macos_15_platform_profile_round_trips() {
    platform("macos-15/platform_profile.bin");
}

#[test]
fn protobox_bundle_profiles_round_trip() {
    let path = shared().join("ios-17-protobox/protobox_bundle.bin");
    if !sbcheck::testing::there_or_skip("protobox_bundle_profiles_round_trip", &path) {
        return;
    }
    let mut p = Profile::decode(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        !p.warnings.is_empty(),
        "the stray modifier bytes are reported"
    );
    let mut failures = Vec::new();
    let mut total = 0;
    // Every 32nd profile: the bundle shares one node array, so each
    // profile's text is as large as its reach.
    for k in (0..p.profiles.len()).step_by(32) {
        p.select_profile(k).unwrap();
        let r = roundtrip(&p, &format!("protobox profile {k}"), 600);
        total += r.queries;
        failures.extend(r.mismatches);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("protobox: {total} queries");
}
