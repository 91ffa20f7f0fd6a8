//! Item 1: one cell (fork, apply, probe, verdict) against a bare fork +
//! exit + wait, the per-cell way (`cargo test`) and inside `sbcheck run`
//! (a zygote forking every probe of a profile: its setup apart, and the
//! whole run per cell). The configurations are timed in turn, round after
//! round, so a burst of load from elsewhere hits them all alike.

use super::summary::{Summary, Table};
use sbcheck::apply::linux::Filter;
use sbcheck::harness::{load_profile, run_cell, run_named, run_profile, LoadedProfile, RunOptions};
use sbcheck::matrix::Matrix;
use sbcheck::matrix::{ProbeSpec, ProfileSpec};
use std::path::Path;
use std::time::Instant;

const ROUNDS: usize = 400;
const PROFILE: &str = "v11_read_subpath";
const PROBE: &str = "read_tmp_foo";

/// fork, `_exit(0)` in the child, waitpid in the parent: what any cell
/// costs at the least.
fn bare_fork() -> f64 {
    let start = Instant::now();
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: leaving the forked child at once, running nothing.
        unsafe { libc::_exit(0) };
    }
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waiting for that exact child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    start.elapsed().as_nanos() as f64
}

/// As [`bare_fork`], the child installing the engine's seccomp filter (with
/// its listener) before it exits: the kernel's part of a cell that no
/// supervisor can save (the filter is checked, converted and JIT-compiled
/// at every install).
fn fork_with_filter(filter: &Filter) -> f64 {
    let start = Instant::now();
    // SAFETY: the child only makes the raw syscalls of Filter::install on
    // memory built before the fork, then calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = i32::from(filter.install().is_err());
        // SAFETY: leaving the forked child at once.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waiting for that exact child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0, "installing the filter failed in the child");
    start.elapsed().as_nanos() as f64
}

/// Cells one zygote serves in `sbcheck run` (`ZYGOTE_CELLS` there).
const ZYGOTE_CELLS: usize = 32;

/// `sbcheck run`'s way: [`ZYGOTE_CELLS`] cells of one profile through
/// `run_profile`, one zygote forking every probe. Pushes the time between
/// consecutive cells' ends (a cell inside a run) to `each` and returns the
/// whole, setup and teardown included, per cell.
fn zygote_run(
    spec: &ProfileSpec,
    probe: &ProbeSpec,
    loaded: &LoadedProfile,
    opts: &RunOptions,
    each: &mut Vec<f64>,
) -> f64 {
    let cells = vec![(probe, true); ZYGOTE_CELLS];
    let mut last = None;
    let start = Instant::now();
    let mut done = |_: usize, r: Result<sbcheck::harness::CellRecord, _>| {
        let r = r.expect("cell runs");
        assert!(
            r.matches(),
            "the benchmark cell no longer matches: {:?}",
            r.observed
        );
        let now = Instant::now();
        if let Some(prev) = last.replace(now) {
            each.push(now.duration_since(prev).as_nanos() as f64);
        }
    };
    run_profile(spec, &cells, loaded, opts, &mut done);
    start.elapsed().as_nanos() as f64 / ZYGOTE_CELLS as f64
}

/// A zygote's own cost, once per profile in a run: the supervisor built,
/// the zygote forked into the sandbox (filter installed, listener handed
/// over), then ended.
fn zygote_setup(loaded: &LoadedProfile) -> f64 {
    let start = Instant::now();
    let config = sbcheck::apply::Config {
        record: true,
        ..Default::default()
    };
    let mut enforcement = sbcheck::apply::apply(&loaded.profile, &config).expect("apply");
    let body = |_: usize| 0;
    let zygote = enforcement
        .zygote(&body)
        .expect("Linux")
        .expect("zygote starts");
    drop(zygote);
    start.elapsed().as_nanos() as f64
}

pub fn run(table: &mut Table) {
    println!(
        "\n1. one cell ({PROFILE}::{PROBE}) against a bare fork + exit + wait, {ROUNDS} rounds"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let matrix_dir = root.join("expected");
    let matrix = Matrix::load(&matrix_dir).expect("matrix");
    let spec = matrix.profile(PROFILE).expect("profile in the matrix");
    let probe = spec.probe(PROBE).expect("probe in the matrix");
    let loaded = load_profile(root, &spec.source, &spec.params).expect("profile loads");
    let opts = RunOptions::new(root);
    let out = tempfile::tempdir().expect("temp out dir");
    // main entered the private /tmp (sbcheck::hermetic) before any thread.
    sbcheck::harness::ensure_fixtures(&matrix).expect("fixtures");

    let cell = || {
        let start = Instant::now();
        let r = run_cell(spec, probe, &loaded, true, &opts).expect("cell runs");
        let ns = start.elapsed().as_nanos() as f64;
        assert!(
            r.matches(),
            "the benchmark cell no longer matches: {:?}",
            r.observed
        );
        ns
    };
    let traced = || {
        let start = Instant::now();
        let r = run_cell(spec, probe, &loaded, true, &opts).expect("cell runs");
        sbcheck::report::write_trace(out.path(), &r).expect("trace");
        start.elapsed().as_nanos() as f64
    };
    // What a `cargo test` cell does (tests/common: the matrix is read once
    // per test process): compile, create the fixtures, run, trace.
    let from_scratch = || {
        let start = Instant::now();
        let r = run_named(&matrix, PROFILE, PROBE, &opts).expect("cell runs");
        sbcheck::report::write_trace(out.path(), &r).expect("trace");
        start.elapsed().as_nanos() as f64
    };
    let filter = Filter::new();
    let mut zopts = RunOptions::new(root);
    zopts.zygote = true;
    let mut samples = [const { Vec::new() }; 8];
    for _ in 0..ROUNDS {
        samples[0].push(bare_fork());
        samples[1].push(fork_with_filter(&filter));
        samples[2].push(cell());
        samples[3].push(traced());
        samples[4].push(from_scratch());
        samples[5].push(zygote_setup(&loaded));
        let mut each = Vec::new();
        samples[7].push(zygote_run(spec, probe, &loaded, &zopts, &mut each));
        samples[6].extend(each);
    }
    let [fork, filtered, cell, traced, scratch, zsetup, zcell, zamortised] =
        samples.map(Summary::of);
    let vs = Some(("bare fork", fork.median));
    table.add("1", "bare fork + `_exit` + waitpid", fork, vs);
    table.add(
        "1",
        "fork + install the seccomp filter + `_exit` + waitpid",
        filtered,
        vs,
    );
    table.add(
        "1",
        "one cell, one fork per cell (`--no-zygote`): predict, fork, apply, probe, verdict",
        cell,
        vs,
    );
    table.add(
        "1",
        "one cell + its trace written (`sbcheck run --no-zygote`)",
        traced,
        vs,
    );
    table.add(
        "1",
        "one cell as `cargo test` runs it (compile, fixtures, trace)",
        scratch,
        vs,
    );
    table.add(
        "1",
        "one cell inside `sbcheck run` (zygote: clone, probe, verdict, record)",
        zcell,
        vs,
    );
    table.add(
        "1",
        "zygote setup + teardown, once per profile (apply, fork, filter, hand-over)",
        zsetup,
        vs,
    );
    table.add(
        "1",
        "one cell of a 32-cell `sbcheck run` unit, zygote setup and predictions included",
        zamortised,
        vs,
    );
}
