//! Damaged blobs: every prefix of every Apple blob, and single-byte changes
//! of the small ones, decode to a value or a typed error. Nothing panics,
//! nothing hangs: each sweep runs on a worker thread under a deadline, and
//! whatever decodes is also evaluated and rendered, so those paths see the
//! damage too.
//!
//! A release build (`cargo test --release`) runs everything: every prefix
//! and all 255 other values of every byte of every small blob. A debug build
//! keeps to a few seconds: every byte of every small blob with 14 values
//! each, the large blobs' header, tables and node array prefixes in full and
//! their data-area prefixes at a stride.

use sbcheck::blob::{render, DecodeErrorKind, Profile};
use sbcheck::decision::{evaluate, Args};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

const SMALL: usize = 4096;

fn blobs() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/apple");
    let mut out = Vec::new();
    for dir in ["macos-14.4.1", "ios-17", "ios-26", "macos-10.6"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "bin") {
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert_eq!(out.len(), 47);
    out
}

/// Runs `f` on a worker thread; fails if it takes longer than `limit`
/// (a hang) and re-raises its panic, if any.
fn with_deadline<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("no result within {limit:?}: a decode hangs"),
        },
    }
}

/// Decodes; on success, exercises evaluation and (for small blobs) rules.
fn exercise(bytes: &[u8], render_too: bool) -> Result<(), DecodeErrorKind> {
    let p = Profile::decode(bytes).map_err(|e| {
        // Every error carries an offset inside (or just past) the blob.
        assert!(e.offset <= bytes.len() + 8 * 0x10000, "{e}");
        e.kind
    })?;
    let ints = [(10, 2), (11, 1), (12, 6), (64, 1)];
    let strings: [(u8, &[u8]); 1] = [(9, b"")];
    let args = Args {
        path: Some(b"/private/tmp/strict_ok/x"),
        ints: &ints,
        strings: &strings,
    };
    for op in [0, 22, 112, 151, 188] {
        let d = evaluate(&p, op, &args);
        assert!(d.steps.len() <= p.nodes.len());
    }
    if render_too {
        let r = render::rules(&p);
        let mut t = render::Texts::new(&p);
        for b in &r.buckets {
            for rule in &b.rules {
                render::Rendering::rule_text(&mut t, "op", rule);
            }
        }
    }
    Ok(())
}

#[test]
fn every_prefix_decodes_or_is_a_typed_error() {
    let checked = with_deadline(Duration::from_secs(600), || {
        let mut checked = 0usize;
        for (name, bytes) in blobs() {
            let full = Profile::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Debug builds take the data area of large blobs at a stride
            // (always including its last 64 bytes).
            let stride = if cfg!(debug_assertions) && bytes.len() > SMALL {
                89
            } else {
                1
            };
            for len in 0..bytes.len() {
                let in_data = len > full.data_base;
                if in_data && len % stride != 0 && bytes.len() - len > 64 {
                    continue;
                }
                checked += 1;
                // A prefix only ever lacks bytes: the error says so. (One
                // that cuts only trailing padding may decode.)
                match exercise(&bytes[..len], bytes.len() <= SMALL) {
                    Ok(())
                    | Err(
                        DecodeErrorKind::Truncated { .. } | DecodeErrorKind::DataOutOfRange { .. },
                    ) => {}
                    Err(other) => panic!("{name}: prefix of {len} bytes: {other:?}"),
                }
            }
        }
        checked
    });
    assert!(checked > 30_000, "{checked}");
}

/// The values a byte is changed to: all 255 others in release, and in debug
/// the ones that exercise bounds: extremes, bit flips, neighbours.
fn replacements(b: u8) -> Vec<u8> {
    if !cfg!(debug_assertions) {
        return (0..=255).filter(|&v| v != b).collect();
    }
    let mut v = vec![
        0x00,
        0x01,
        0x02,
        0x0f,
        0x7f,
        0x80,
        0xff,
        b ^ 0x01,
        b ^ 0x10,
        b ^ 0x80,
        b.wrapping_add(1),
        b.wrapping_sub(1),
        b.wrapping_add(8),
        b.rotate_left(4),
    ];
    v.retain(|&x| x != b);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn every_single_byte_change_of_the_small_blobs_decodes_or_is_a_typed_error() {
    let (mutants, decoded) = with_deadline(Duration::from_secs(600), || {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let (mut mutants, mut decoded) = (0usize, 0usize);
        for (_, bytes) in blobs() {
            // Byte-identical blobs (the MANIFEST lists several) once.
            if bytes.len() > SMALL || seen.contains(&bytes) {
                continue;
            }
            seen.push(bytes.clone());
            let mut m = bytes.clone();
            for at in 0..bytes.len() {
                for v in replacements(bytes[at]) {
                    m[at] = v;
                    mutants += 1;
                    // Rendering is cheap on small graphs: give it every
                    // mutant that reaches past the op table.
                    if exercise(&m, at >= 392).is_ok() {
                        decoded += 1;
                    }
                }
                m[at] = bytes[at];
            }
        }
        (mutants, decoded)
    });
    // Many changes are harmless (an op-table entry moved to another node),
    // many are not: both paths were exercised.
    assert!(
        mutants > 100_000 && decoded > 1000 && decoded < mutants,
        "{decoded} of {mutants}"
    );
}
