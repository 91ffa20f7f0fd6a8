//! What each fuzz target checks, as plain functions of the input bytes.
//!
//! The targets in `fuzz_targets/` call these, and so does the main crate's
//! `tests/fuzz_regressions.rs` (it includes this file as a module), so a
//! finding replays there exactly as the fuzzer ran it, on stable, without
//! libFuzzer. A function panics when sbcheck misbehaves: a panic inside
//! sbcheck, or one of the differential checks below disagreeing.
//!
//! Two-part inputs (program + subject) are framed as
//! `selector u8 | first_len u16 LE | first part | rest`; a `first_len` past
//! the end takes everything. [`frame`] builds such an input.

use sbcheck::blob::pattern::{forms, Form, Match, Pattern, Program};
use sbcheck::blob::regex::{V1, V3};
use sbcheck::blob::{render, Profile};
use sbcheck::decision::{evaluate, evaluate_with, explain, Args};
use sbcheck::sbpl::compile::encode_pattern;
use sbcheck::sbpl::regex::{run_program, Regex};
use sbcheck::sbpl::rules::PathKind;
use sbcheck::sbpl::{compile_source, Options, SearchPath};

/// Operations a decoded profile is asked about: the first, common file,
/// network and mach operations of macOS 14, and far past any table.
const OPS: [u16; 7] = [0, 22, 112, 151, 188, 300, u16::MAX];

/// Renders rules only for inputs up to this size: rendering walks every
/// bucket, and the fuzzer should spend its time on many small inputs.
const RENDER_MAX: usize = 4096;

/// Splits a framed input into (selector, first part, rest).
pub fn unframe(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return (0, &[], &[]);
    };
    let (len, rest) = match rest {
        [lo, hi, tail @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), tail),
        _ => (0, rest),
    };
    let (first, second) = rest.split_at(len.min(rest.len()));
    (sel, first, second)
}

/// The inverse of [`unframe`], for seeds and regression inputs.
pub fn frame(sel: u8, first: &[u8], rest: &[u8]) -> Vec<u8> {
    let len = u16::try_from(first.len()).expect("first part fits a u16");
    let mut out = vec![sel];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(first);
    out.extend_from_slice(rest);
    out
}

/// Asks a profile about every operation of [`OPS`] with a path, integer and
/// string arguments, and explains each decision.
fn exercise_profile(p: &Profile, path: &[u8], render_rules: bool) {
    let ints = [(10, 2), (11, 1), (12, 6), (64, 1)];
    let strings: [(u8, &[u8]); 2] = [(9, b""), (9, b"com.apple.x")];
    let args = Args {
        path: Some(path),
        ints: &ints,
        strings: &strings,
    };
    let vars: [(&str, &[u8]); 2] = [("HOME", b"/Users/me"), ("FRONT_USER_HOME", b"/Users/me")];
    for op in OPS {
        let d = evaluate(p, op, &args);
        assert!(d.steps.len() <= p.nodes.len() + 1, "a walk revisits nodes");
        let _ = explain(p, &d);
        let _ = evaluate_with(p, op, &args, &vars);
    }
    if render_rules {
        let r = render::rules(p);
        let mut t = render::Texts::new(p);
        for b in &r.buckets {
            for rule in &b.rules {
                render::Rendering::rule_text(&mut t, "op", rule);
            }
        }
    }
}

/// Target `blob_decode`: any bytes as a blob. Decoding gives a profile or an
/// error whose offset lies within reach of the input; a profile answers
/// questions and renders its rules.
pub fn blob_decode(data: &[u8]) {
    match Profile::decode(data) {
        Ok(p) => exercise_profile(&p, b"/private/tmp/strict_ok/x", data.len() <= RENDER_MAX),
        Err(e) => {
            // Offsets name a place in (or just past) the blob; data
            // references reach at most 8 * 0xffff past the data base.
            assert!(e.offset <= data.len() + 8 * 0x10000, "{e}");
            let _ = e.to_string();
        }
    }
}

/// Target `sbpl_compile`: any bytes as SBPL text. Compiling gives a blob or
/// an error with a line and column inside the text; a compiled blob always
/// decodes again, and answers questions.
pub fn sbpl_compile(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // No search path: the fuzzer must not wander the file system.
    let search = SearchPath(Vec::new());
    match compile_source(src, None, &Options::default(), &search) {
        Ok(blob) => {
            let p = Profile::decode(&blob)
                .unwrap_or_else(|e| panic!("our own blob does not decode: {e}"));
            exercise_profile(&p, b"/tmp/foo", false);
        }
        Err(e) => {
            let lines = src.split('\n').count();
            let line = e.span.line as usize;
            assert!(line <= lines, "{e}: past the last line {lines}");
            let _ = e.render(Some(src));
        }
    }
}

/// Values for global variables (`0x10 + k` reads variable k): every
/// variable a program can name gets one.
const VAR_VALUES: [&[u8]; 4] = [b"/Users/me", b"/private/var/mobile", b"", b"/"];

/// `pattern_match` selectors that compile the code part as the text of
/// `(literal ...)`, `(subpath ...)` and `(prefix ...)` instead.
const COMPILED: [(u8, PathKind); 3] = [
    (0xfd, PathKind::Literal),
    (0xfe, PathKind::Subpath),
    (0xff, PathKind::Prefix),
];

/// Target `pattern_match`: `selector | code_len | code | path`.
///
/// - selector 0..=0xfc: the code part is pattern bytecode with that many
///   global variables. A program that decodes answers as it does without
///   its decode-time guard (with every variable given, each twice, none);
///   with every variable given it answers; it accepts only when one of its rendered forms does (forms drop
///   the "this test failed" condition of a fall-through, so they may accept
///   more on bytecode no compiler writes, never less); and giving each
///   value twice (the thread-set matcher) changes nothing.
/// - 0xfd..=0xff: the code part is the text of a literal, subpath or prefix
///   filter; the bytecode our compiler writes for it matches exactly when
///   its rendered forms do, and (but for a text ending in `/`, which
///   [`Pattern`] widens) when the filter does.
pub fn pattern_match(data: &[u8]) {
    let (sel, code, path) = unframe(data);
    if let Some(&(_, kind)) = COMPILED.iter().find(|(s, _)| *s == sel) {
        return compiled_pattern(kind, code, path);
    }
    let Ok(program) = Program::decode(code, usize::from(sel)) else {
        return;
    };
    let _ = program.disassemble(&|k| format!("VAR{k}"));
    // Variable opcodes name 0..min(count, 48) (0x10..=0x3f): each gets one.
    let vars: Vec<(u8, &[u8])> = (0..sel.min(48))
        .map(|k| (k, VAR_VALUES[usize::from(k) % VAR_VALUES.len()]))
        .collect();
    let twice: Vec<(u8, &[u8])> = vars.iter().chain(&vars).copied().collect();
    // The decode-time guard only rejects early: whatever the values, the
    // guarded answer is the unguarded program's.
    for given in [&vars[..], &twice[..], &[]] {
        assert_eq!(
            program.matches(path, given),
            program.matches_unguarded(path, given),
            "guard and program disagree with {} values",
            given.len()
        );
    }
    let engine = program.matches(path, &vars);
    assert!(
        !matches!(engine, Match::UnknownVar(_)),
        "{engine:?} with every variable given"
    );
    assert_eq!(program.matches(path, &twice), engine, "values given twice");
    let Ok(forms) = forms(&program) else {
        return; // too many paths to render
    };
    let union = forms_match(&forms, path, &vars);
    assert!(
        engine != Match::Yes || union,
        "engine accepts {:?}, no form does",
        String::from_utf8_lossy(path)
    );
}

fn forms_match(forms: &[Form], path: &[u8], vars: &[(u8, &[u8])]) -> bool {
    let mut union = false;
    for f in forms {
        let _ = f.sbpl(&|k| format!("VAR{k}"));
        union |= f.matches(path, vars) == Match::Yes;
    }
    union
}

fn compiled_pattern(kind: PathKind, text: &[u8], path: &[u8]) {
    if text.is_empty() {
        return;
    }
    let code = encode_pattern(kind, text);
    let program =
        Program::decode(&code, 0).unwrap_or_else(|e| panic!("our own {kind:?} bytecode: {e}"));
    let engine = program.matches(path, &[]) == Match::Yes;
    let forms = forms(&program).unwrap_or_else(|e| panic!("forms of our own bytecode: {e:?}"));
    assert_eq!(forms_match(&forms, path, &[]), engine, "forms of {kind:?}");
    if text.last() != Some(&b'/') {
        let filter = match kind {
            PathKind::Literal => Pattern::Literal(text.to_vec()),
            PathKind::Subpath => Pattern::Subpath(text.to_vec()),
            PathKind::Prefix => Pattern::Prefix(text.to_vec()),
        };
        assert_eq!(filter.matches(path), Some(engine), "{filter}");
    }
}

/// Target `regex_match`: `selector | regex_len | regex | subject`.
///
/// - selector 0 mod 3: the regex part is an AppleMatch v3 item (`u32 BE 3 |
///   u16 len | code`). The decoder's matcher and the compiler's program
///   runner agree when both accept the code.
/// - 1 mod 3: a 10.6 (v1) item, decoded, matched and rendered.
/// - 2 mod 3: regex text. What parses compiles to a program that matches
///   exactly when the regex does, read by both matchers.
pub fn regex_match(data: &[u8]) {
    let (sel, regex, subject) = unframe(data);
    match sel % 3 {
        0 => v3_item(regex, subject),
        1 => {
            if let Ok(r) = V1::decode(regex) {
                let _ = r.matches(subject);
                let _ = r.render();
            }
        }
        _ => regex_text(regex, subject),
    }
}

fn v3_item(item: &[u8], subject: &[u8]) {
    let Ok(r) = V3::decode(item) else {
        return;
    };
    let decoder = r.matches(subject);
    let _ = r.render();
    if let Ok(compiler) = run_program(&item[6..], subject) {
        assert_eq!(decoder, compiler, "decoder and compiler matchers differ");
    }
}

fn regex_text(text: &[u8], subject: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(regex) = Regex::parse(text) else {
        return;
    };
    let Ok(item) = regex.item() else {
        return;
    };
    let expected = regex.is_match(subject);
    assert_eq!(
        run_program(&item[6..], subject),
        Ok(expected),
        "program of #\"{text}\""
    );
    let decoded = V3::decode(&item).unwrap_or_else(|e| panic!("our own item: {e}"));
    assert_eq!(decoded.matches(subject), expected, "decoder on #\"{text}\"");
}
