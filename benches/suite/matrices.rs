//! Item 5 (whole matrices, as separate processes) and the `sbcheck decode`
//! process of item 4: wall times, and peak memory from wait4's rusage.

use super::summary::{Summary, Table};
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Cells in the generated matrix.
const GENERATED_CELLS: usize = 1000;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` to its end, output discarded: wall nanoseconds, exit code and
/// peak resident set in KiB (the child's own, from wait4).
// The child is reaped by wait4, which std's Child does not know of.
#[allow(clippy::zombie_processes)]
fn timed(cmd: &mut Command) -> (f64, i32, i64) {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: all-zero is a valid rusage, written by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child by its pid; status and usage are
    // written by the call. The Child handle is not waited on afterwards.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let ns = start.elapsed().as_nanos() as f64;
    assert_eq!(rc, child.id() as i32, "wait4 on {cmd:?}");
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    (ns, code, usage.ru_maxrss)
}

/// `rounds` runs of `make()`: the wall-time summary, and the commands
/// that exited non-zero (a matrix with a mismatching cell still times; the
/// table says so).
fn rounds(n: usize, make: impl Fn() -> Command) -> (Summary, Vec<String>) {
    let mut failed = Vec::new();
    let walls = (0..n)
        .map(|_| {
            let mut cmd = make();
            let (ns, code, _) = timed(&mut cmd);
            if code != 0 {
                failed.push(format!("{cmd:?} exited {code}"));
            }
            ns
        })
        .collect();
    failed.dedup();
    (Summary::of(walls), failed)
}

/// Adds a row for `rounds`' result, with a note for any failed run.
fn add(
    table: &mut Table,
    name: &str,
    (s, failed): (Summary, Vec<String>),
    vs: Option<(&'static str, f64)>,
) {
    table.add("5", name, s, vs);
    for f in failed {
        table.note(format!(
            "5: {name}: {f} (a cell did not match or a run failed)"
        ));
    }
}

fn sbcheck() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbcheck"))
}

/// `sbcheck decode BLOB` as a process: wall time over 11 runs, and its peak
/// memory (the largest of the runs).
pub fn decode_process(blob: &Path) -> (Summary, i64) {
    let mut peak = 0;
    let mut walls = Vec::new();
    for _ in 0..11 {
        let mut cmd = sbcheck();
        cmd.arg("decode").arg(blob);
        let (ns, code, kb) = timed(&mut cmd);
        assert_eq!(code, 0, "sbcheck decode {} failed", blob.display());
        peak = peak.max(kb);
        walls.push(ns);
    }
    (Summary::of(walls), peak)
}

/// Writes a matrix of exactly `cells` cells to `dir`: copies of the
/// project's profiles with their probes that run on Linux and change no
/// file (a create or unlink target belongs to one cell alone).
pub fn generate(dir: &Path, cells: usize) -> usize {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("generated matrix dir");
    let expected = root().join("expected");
    std::fs::copy(expected.join("fixtures.json"), dir.join("fixtures.json")).expect("fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&expected)
        .expect("expected/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "fixtures.json"))
        .collect();
    files.sort();
    let profiles: Vec<(String, Value)> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("matrix file");
            let mut v: Value = serde_json::from_str(&text).expect("matrix JSON");
            let probes = v.get_mut("probes")?.as_array_mut()?;
            probes.retain(|p| {
                let op = p["operation"].as_str().unwrap_or_default();
                sbcheck::matrix::skip_on_linux(op).is_none()
                    && !matches!(op, "file-write-create" | "file-write-unlink")
            });
            let stem = f.file_stem()?.to_str()?.to_owned();
            (!probes.is_empty()).then_some((stem, v))
        })
        .collect();
    // Without a profile to copy, the loop below would never reach `cells`.
    assert!(
        !profiles.is_empty(),
        "no profile in {} has a probe that runs on Linux and changes no file",
        expected.display()
    );
    let mut written = 0;
    for copy in 0.. {
        for (stem, v) in &profiles {
            if written == cells {
                return written;
            }
            let mut v = v.clone();
            if let Some(probes) = v.get_mut("probes").and_then(Value::as_array_mut) {
                probes.truncate(cells - written);
                written += probes.len();
            }
            let name = dir.join(format!("g{copy:03}_{stem}.json"));
            std::fs::write(name, serde_json::to_string_pretty(&v).expect("JSON")).expect("write");
        }
    }
    written
}

pub fn run(table: &mut Table) {
    println!("\n5. whole matrices");
    let out = tempfile::tempdir().expect("temp out dir");
    let real = rounds(5, || {
        let mut c = sbcheck();
        c.args(["run", "--jobs", "2", "--out"]).arg(out.path());
        c
    });
    let cells = sbcheck::matrix::Matrix::load(&root().join("expected")).map_or(0, |m| m.cells());
    add(
        table,
        &format!("project matrix ({cells} cells), `sbcheck run --jobs 2`"),
        real,
        None,
    );
    let cargo_test = rounds(3, || {
        let mut c = Command::new(env!("CARGO"));
        c.args(["test", "--release", "--test", "matrix"])
            .current_dir(root());
        c
    });
    add(
        table,
        &format!("project matrix ({cells} cells), `cargo test --release --test matrix` (built)"),
        cargo_test,
        None,
    );

    let gen_dir = root().join("target/bench-generated/matrix");
    let n = generate(&gen_dir, GENERATED_CELLS);
    let generated = rounds(5, || {
        let mut c = sbcheck();
        c.args(["run", "--jobs", "2", "--matrix"])
            .arg(&gen_dir)
            .arg("--out")
            .arg(out.path());
        c
    });
    add(
        table,
        &format!("generated matrix ({n} cells), `sbcheck run --jobs 2`"),
        generated,
        Some(("2 s target", 2e9)),
    );
    if std::env::var_os("SBCHECK_BENCH_SKIP_BUILD").is_some() {
        table.note("5: generated `cargo test` matrix skipped (SBCHECK_BENCH_SKIP_BUILD)".into());
        return;
    }
    generated_cargo_test(table, &gen_dir, n);
}

/// The generated matrix as `cargo test` cells, in a target directory of its
/// own (the project's stays as it is): the build first, timed once, then
/// the run.
fn generated_cargo_test(table: &mut Table, gen_dir: &Path, n: usize) {
    let target = root().join("target/bench-generated/target");
    let cargo = |matrix: Option<&Path>, run: bool| {
        let mut c = Command::new(env!("CARGO"));
        c.args(["test", "--release", "--test", "matrix"])
            .current_dir(root())
            .env("CARGO_TARGET_DIR", &target);
        if !run {
            c.arg("--no-run");
        }
        match matrix {
            Some(m) => c.env("SBCHECK_MATRIX", m),
            None => c.env_remove("SBCHECK_MATRIX"),
        };
        c
    };
    // Dependencies and the crate with the project's matrix first, so the
    // timed build is what a new matrix costs: the build script's new output
    // and the generated tests.
    let (_, code, _) = timed(&mut cargo(None, false));
    assert_eq!(code, 0, "building the benchmark's target directory");
    let (build, code, _) = timed(&mut cargo(Some(gen_dir), false));
    assert_eq!(code, 0, "building the generated tests");
    table.add(
        "5",
        &format!("generated matrix ({n} cells), build of the generated tests (once)"),
        Summary::of(vec![build]),
        None,
    );
    let run = rounds(3, || cargo(Some(gen_dir), true));
    add(
        table,
        &format!("generated matrix ({n} cells), `cargo test --release` run (built)"),
        run,
        Some(("2 s target", 2e9)),
    );
}
