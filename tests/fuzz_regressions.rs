//! Replays what the fuzzers found (and a few hand-made inputs of the same
//! shapes) through the very checks the fuzz targets run: `fuzz/src/lib.rs`
//! is included here as a module, so this runs on stable without libFuzzer.
//!
//! Each finding is a file in `tests/fuzz_regressions/<target>/`, the bytes
//! libFuzzer wrote (minimized); its name says what it found. Every input
//! runs on a worker thread under a deadline, so a hang fails the test
//! rather than stalling it.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod checks;

use checks::frame;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// The fuzz targets whose findings are replayed here, one test each.
const TARGETS: [&str; 4] = [
    "blob_decode",
    "sbpl_compile",
    "pattern_match",
    "regex_match",
];

/// Far above what any input takes once fixed (milliseconds, tens in a
/// debug build), below what the slow findings took (a regex render of 2.5 s
/// in release, over the fuzzer's 10 s with ASan).
const DEADLINE: Duration = Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 1 });

/// Runs `check` on `input` on a worker thread; fails on a panic (with the
/// input's name) or when no answer comes within [`DEADLINE`].
fn replay(name: &str, check: fn(&[u8]), input: Vec<u8>) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        check(&input);
        let _ = tx.send(());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker
                .join()
                .expect_err("the worker ended without answering");
            eprintln!("{name} fails");
            std::panic::resume_unwind(panic);
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: no answer within {DEADLINE:?}"),
    }
}

/// The findings saved for `target`, sorted by name (none when the target
/// has no directory).
fn findings(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| {
                let path = e.unwrap().path();
                let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
                (name, std::fs::read(&path).unwrap())
            })
            .collect(),
        // A target the fuzzers found nothing in has no directory; any other
        // error would silently replay nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    out.sort();
    out
}

/// Replays the saved findings and the hand-made inputs of a target.
fn replay_all(target: &str, check: fn(&[u8]), made: Vec<(&str, Vec<u8>)>) {
    assert!(TARGETS.contains(&target), "{target} is not in TARGETS");
    let saved = findings(target);
    let count = saved.len() + made.len();
    for (name, input) in saved {
        replay(&name, check, input);
    }
    for (name, input) in made {
        replay(&format!("{target}: {name}"), check, input);
    }
    eprintln!("{target}: {count} inputs replayed");
}

#[test]
fn blob_decode_findings() {
    replay_all(
        "blob_decode",
        checks::blob_decode,
        vec![
            ("empty", Vec::new()),
            ("a header only", vec![0; 16]),
            ("all ones", vec![0xff; 600]),
        ],
    );
}

#[test]
fn sbpl_compile_findings() {
    replay_all(
        "sbpl_compile",
        checks::sbpl_compile,
        vec![
            ("empty", Vec::new()),
            ("unclosed list", b"(version 1)\n(allow file-read*".to_vec()),
            (
                "a rule per kind of path filter",
                b"(version 1)(deny default)(allow file-read* (subpath \"/tmp\") \
                  (literal \"/etc/hosts\") (prefix \"/va\") (regex #\"^/dev/tty[a-z]*$\"))"
                    .to_vec(),
            ),
        ],
    );
}

#[test]
fn pattern_match_findings() {
    replay_all(
        "pattern_match",
        checks::pattern_match,
        vec![
            ("empty", Vec::new()),
            ("subpath /tmp", frame(0xfe, b"/tmp", b"/tmp/foo")),
            ("subpath / on a child", frame(0xfe, b"/", b"/etc")),
            (
                "literal past 320 bytes",
                frame(0xfd, &[b'a'; 700], &[b'a'; 700]),
            ),
        ],
    );
}

#[test]
fn regex_match_findings() {
    replay_all(
        "regex_match",
        checks::regex_match,
        vec![
            ("empty", Vec::new()),
            ("an alternation", frame(2, b"^/(a|b)+/c$", b"/abba/c")),
            ("nested stars", frame(2, b"(a*)*b", &[b'a'; 300])),
            // `nested-repeats` (22 repeats) took 0.6 s in release before
            // the fix, under the deadline; 40 would take days.
            (
                "forty nested repeats",
                frame(2, format!("a*{}b", "+".repeat(40)).as_bytes(), b"caab"),
            ),
        ],
    );
}

/// A findings directory is replayed only under a target's name: one named
/// otherwise (a typo, a renamed target) would replay nothing, silently.
#[test]
fn every_findings_directory_is_a_replayed_target() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            TARGETS.contains(&name.as_str()),
            "{}/{name} is not one of the replayed targets {TARGETS:?}",
            dir.display()
        );
    }
}
