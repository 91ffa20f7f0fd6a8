//! The pattern guard (a necessary condition checked before a pattern
//! program runs) never changes a result: on every pattern item of the iOS
//! 17 and iOS 26 platform profiles, over strings built from each item's
//! rendered forms, their truncations, one-byte changes, extensions and
//! strings of other items, `matches` (guarded) equals `matches_unguarded`
//! (the program alone), with variables given once, given several values,
//! given in part and not given (undetermined stays undetermined). And the
//! guard does its job: it rejects most non-matching strings, and all but
//! the matching pattern of the longest walk known.

mod ios_values;

use ios_values::{all_values, load, sample, Values};
use sbcheck::blob::pattern::{forms, Match, Program};
use sbcheck::blob::{FilterArg, Profile};
use sbcheck::decision::{evaluate_with, Args};

/// The variable settings checked: (what, values by index).
fn settings(p: &Profile) -> Vec<(&'static str, Values)> {
    let all = all_values(p);
    let mut once: Vec<(u8, &[u8])> = Vec::new();
    for &(k, v) in &all {
        if !once.iter().any(|(o, _)| *o == k) {
            once.push((k, v));
        }
    }
    let part: Vec<_> = once.iter().copied().filter(|(k, _)| k % 2 == 0).collect();
    assert!(
        once.len() >= 3 && all.len() > once.len() && part.len() < once.len(),
        "the profile has the variables this test sets"
    );
    vec![
        ("given once", once),
        ("several values", all),
        ("given in part", part),
        ("not given", Vec::new()),
    ]
}

/// An item's own strings: each accepting path, every truncation of it,
/// each byte changed, and extensions.
fn own_strings(program: &Program, values: &[(u8, &[u8])]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for form in forms(program).unwrap() {
        for path in &form.paths {
            for variant in 0..2 {
                let base = sample(path, values, variant);
                for n in 0..base.len() {
                    out.push(base[..n].to_vec());
                    let mut changed = base.clone();
                    changed[n] ^= 0x01;
                    out.push(changed);
                }
                for tail in [&b""[..], b"/", b"/child", b"x"] {
                    out.push([&base[..], tail].concat());
                }
                out.push([b"/q", &base[..]].concat());
            }
        }
    }
    out
}

/// Checks one program on one string: the guard never changes the result,
/// and when it rejects, the program alone says No. Returns whether the
/// guard rejected.
fn check(
    program: &Program,
    s: &[u8],
    vars: &[(u8, &[u8])],
    what: &str,
    failures: &mut Vec<String>,
) -> bool {
    let full = program.matches_unguarded(s, vars);
    let fast = program.matches(s, vars);
    let rejected = program.guard_rejects(s, vars);
    if fast != full || (rejected && full != Match::No) {
        failures.push(format!(
            "{what} {:?}: guarded {fast:?}, program {full:?}, guard rejects {rejected}",
            String::from_utf8_lossy(s)
        ));
    }
    rejected
}

#[test]
fn the_guard_never_changes_a_match_on_the_ios_profiles() {
    for rel in ["ios-17/platform_profile.bin", "ios-26/platform_profile.bin"] {
        let p = load(rel);
        let values = all_values(&p);
        let own: Vec<Vec<Vec<u8>>> = p
            .patterns
            .iter()
            .map(|item| own_strings(&item.program, &values))
            .collect();
        let corpus: Vec<&Vec<u8>> = own.iter().flatten().collect();
        let (mut checked, mut failures) = (0usize, Vec::new());
        // Strings of other items that do not match, with every variable
        // given once, and how many of them the guard rejected.
        let (mut misses, mut rejected) = (0usize, 0usize);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for (what, vars) in settings(&p) {
            for (item, strings) in p.patterns.iter().zip(&own) {
                let program = &item.program;
                let label = format!("{rel} data[{}] ({what})", item.item);
                let others = (0..300).map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    corpus[(seed % corpus.len() as u64) as usize]
                });
                for (n, s) in strings.iter().chain(others).enumerate() {
                    checked += 1;
                    let r = check(program, s, &vars, &label, &mut failures);
                    let other = n >= strings.len();
                    if other
                        && what == "given once"
                        && program.matches_unguarded(s, &vars) == Match::No
                    {
                        misses += 1;
                        rejected += usize::from(r);
                    }
                }
            }
        }
        println!(
            "{rel}: {checked} checks; the guard rejected {rejected} of {misses} \
             non-matching strings of other items"
        );
        assert!(checked > 1_000_000, "{rel}: {checked}");
        assert!(
            failures.is_empty(),
            "{rel}: {} of {checked}:\n{}",
            failures.len(),
            failures[..failures.len().min(20)].join("\n")
        );
        // Most strings that do not match are told apart without running
        // the program (measured: 94% on both profiles).
        assert!(rejected * 10 > misses * 9, "{rel}: {rejected} of {misses}");
    }
}

/// The longest walk known (storage-class-map on iOS 17, 78 nodes) tests 77
/// path patterns; the guard rejects every one but the one that matches.
#[test]
fn the_guard_rejects_all_but_the_matching_pattern_of_the_longest_walk() {
    let p = load("ios-17/platform_profile.bin");
    let vars: &[(&str, &[u8])] = &[
        ("HOME", b"/private/var/mobile"),
        ("FRONT_USER_HOME", b"/private/var/mobile"),
        ("ANY_USER_HOME", b"/private/var/mobile"),
    ];
    let indexed: Vec<(u8, &[u8])> = vars
        .iter()
        .filter_map(|(n, v)| Some((p.global_vars.iter().position(|g| g.name == *n)? as u8, *v)))
        .collect();
    let path = b"/private/var/mobile/Library/Mail/x";
    let op = p.vocab.op_id("storage-class-map").unwrap();
    let d = evaluate_with(&p, op, &Args::path(path), vars);
    assert!(d.outcome.is_ok(), "{:?}", d.outcome);
    assert_eq!(d.steps.len(), 78);
    let mut passed = Vec::new();
    let mut patterns = 0;
    for step in &d.steps {
        if let FilterArg::Pattern(k) = p.args[usize::from(step.node)] {
            patterns += 1;
            let program = &p.patterns[k as usize].program;
            if !program.guard_rejects(path, &indexed) {
                passed.push((step.node, program.matches_unguarded(path, &indexed)));
            }
        }
    }
    assert_eq!(patterns, 77);
    assert_eq!(passed.len(), 1, "{passed:?}");
    assert_eq!(passed[0].1, Match::Yes, "{passed:?}");
}
