//! The whole benchmark suite of issue 7, side by side in one run so the
//! ratios hold on a noisy shared machine: `cargo bench --bench suite`
//! (release). `SBCHECK_BENCH_SKIP_BUILD=1` leaves out the one slow item,
//! the build of a generated 1,000-cell `cargo test` matrix;
//! `SBCHECK_BENCH_ONLY=1,2` runs only the items named.
//!
//! 1. one cell (fork, apply, probe, verdict) against a bare fork + exit +
//!    wait, the two timed alternately;
//! 2. one supervised openat against the same openat unfiltered and a bare
//!    notify-and-continue round trip (`benches/enforce.rs`, pinned to one
//!    CPU);
//! 3. one decision on the small research profiles and on the iOS 17
//!    platform profile: a path deep in a large pattern trie, a path that
//!    matches nothing, and the longest walk known;
//! 4. decode of the iOS 17 platform profile, alone, with every bucket
//!    rendered as SBPL, and as the `sbcheck decode` process (wall time and
//!    peak memory); compile of every Apple SBPL profile;
//! 5. the matrix through `cargo test` and `sbcheck run --jobs 2`, and a
//!    generated 1,000-cell matrix through both (the generated tests' build
//!    time reported apart).
//!
//! Every figure is a median with its min-max over the rounds shown.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[path = "enforce.rs"]
#[allow(dead_code)]
mod enforce;

#[path = "decode.rs"]
#[allow(dead_code)]
mod decode;

#[path = "compile.rs"]
#[allow(dead_code)]
mod compile;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[path = "suite/cells.rs"]
mod cells;
#[path = "suite/matrices.rs"]
mod matrices;
// `benches/suite/summary.rs`, loaded by decode.rs, which runs alone too.
use decode::summary;

use summary::Summary;

fn main() {
    // The cells' fixtures live in a private /tmp, entered while the
    // process is still single-threaded.
    #[cfg(target_os = "linux")]
    {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        if let Err(e) = sbcheck::hermetic::enter(&[root], &[]) {
            eprintln!("suite: {e}");
            std::process::exit(2);
        }
    }
    println!("sbcheck benchmark suite (release build, {})", machine());
    let mut table = summary::Table::default();
    if wanted("3") {
        decisions(&mut table);
    }
    if wanted("4") {
        decoding(&mut table);
    }
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        if wanted("2") {
            openat(&mut table);
        }
        if wanted("1") {
            cells::run(&mut table);
        }
    }
    if wanted("5") {
        matrices::run(&mut table);
    }
    println!();
    table.print();
}

/// Whether item `n` is to run (`SBCHECK_BENCH_ONLY`, default all).
fn wanted(n: &str) -> bool {
    std::env::var("SBCHECK_BENCH_ONLY").map_or(true, |only| only.split(',').any(|i| i.trim() == n))
}

/// CPUs and kernel, for the record.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} CPUs, kernel {}", kernel.trim())
}

/// Item 3: single decisions.
fn decisions(table: &mut summary::Table) {
    use sbcheck::blob::Profile;
    use sbcheck::decision::evaluate_with;
    println!("\n3. decisions");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let small = |src: &str| {
        let blob = sbcheck::sbpl::compile_file(&root.join(src), &Default::default())
            .expect("research profile compiles");
        Profile::decode(&blob).expect("decodes")
    };
    let ios = Profile::decode(
        &std::fs::read(root.join("profiles/apple/ios-17/platform_profile.bin"))
            .expect("iOS 17 platform profile"),
    )
    .expect("decodes");
    let v1 = small("profiles/v1_read.sb");
    let v11 = small("profiles/v11_read_subpath.sb");
    let file = [("vnode-type", "1")];
    let cases: Vec<(&str, &Profile, decode::Case)> = vec![
        (
            "v1_read",
            &v1,
            decode::Case::new(
                &v1,
                "file-read-data /etc/hosts",
                "file-read-data",
                Some(b"/etc/hosts"),
                &[],
            ),
        ),
        (
            "v11_read_subpath",
            &v11,
            decode::Case::new(
                &v11,
                "file-read-data /tmp/bar (no match)",
                "file-read-data",
                Some(b"/tmp/bar"),
                &[],
            ),
        ),
        (
            "iOS 17",
            &ios,
            decode::Case::new(
                &ios,
                "file-read-data, a path deep in a pattern trie",
                "file-read-data",
                Some(b"/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"),
                &file,
            ),
        ),
        (
            "iOS 17",
            &ios,
            decode::Case::new(
                &ios,
                "file-read-data, a path that matches nothing",
                "file-read-data",
                Some(b"/zz/nothing/matches/this"),
                &file,
            ),
        ),
        (
            "iOS 17",
            &ios,
            decode::Case::new(
                &ios,
                "storage-class-map, the longest walk known",
                "storage-class-map",
                Some(b"/private/var/mobile/Library/Mail/x"),
                &[],
            ),
        ),
    ];
    for (profile, p, case) in &cases {
        let args = case.args();
        let s = Summary::per_call(101, 2000, || {
            std::hint::black_box(evaluate_with(
                p,
                case.op,
                std::hint::black_box(&args),
                decode::VARS,
            ));
        });
        table.add("3", &format!("decision, {profile}: {}", case.what), s, None);
    }
}

/// Item 4: decoding, rendering, compiling, and `sbcheck decode` itself.
fn decoding(table: &mut summary::Table) {
    use sbcheck::blob::Profile;
    println!("\n4. decode, render, compile");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let blob_path = root.join("profiles/apple/ios-17/platform_profile.bin");
    let bytes = std::fs::read(&blob_path).expect("iOS 17 platform profile");
    let decode_s = Summary::per_call(200, 5, || {
        std::hint::black_box(Profile::decode(std::hint::black_box(&bytes)).ok());
    });
    table.add(
        "4",
        "decode iOS 17 (parse + evaluation index)",
        decode_s,
        Some(("SandBlaster's parse (0.15 s)", 0.15e9)),
    );
    let p = Profile::decode(&bytes).expect("decodes");
    let render_s = Summary::per_call(21, 1, || {
        std::hint::black_box(decode::render_all(&p));
    });
    table.add(
        "4",
        "render every bucket of iOS 17 as SBPL rules",
        render_s,
        Some(("SandBlaster (25.4 s)", 25.4e9)),
    );
    let (wall, peak_kb) = matrices::decode_process(&blob_path);
    table.add(
        "4",
        "`sbcheck decode` iOS 17, the whole process (wall)",
        wall,
        Some(("SandBlaster (25.4 s)", 25.4e9)),
    );
    table.note(format!(
        "4: peak memory (max RSS, wait4) of `sbcheck decode` iOS 17: {:.1} MB (target < 32 MB; SandBlaster 36 MB)",
        peak_kb as f64 / 1024.0
    ));
    let cases = compile::cases();
    let compile_s = Summary::per_call(50, 1, || {
        for (path, options, _) in &cases {
            std::hint::black_box(sbcheck::sbpl::compile_file(path, options).ok());
        }
    });
    table.add(
        "4",
        &format!("compile all {} Apple SBPL profiles", cases.len()),
        compile_s,
        None,
    );
}

/// Item 2: a supervised openat (pinned to one CPU, then not; `measure`
/// restores the affinity, so the matrix runs below use both CPUs).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn openat(table: &mut summary::Table) {
    println!(
        "\n2. openat + close, supervised and not ({} samples each)",
        enforce::bench::OPENS
    );
    let m = enforce::bench::measure();
    let s = |st: &enforce::bench::Stats| Summary {
        median: st.median as f64,
        min: st.min as f64,
        max: st.max as f64,
    };
    let bare = s(&m.bare).median;
    let vs = Some(("bare notify", bare));
    // The floors are the supervisor's own cost, not a ratio to a round trip.
    let rows = [
        ("openat + close, no filter", &m.alone, vs),
        ("openat + close, bare notify + CONTINUE", &m.bare, vs),
        (
            "bare injection: every openat opened as written and its fd injected, no profile",
            &m.bare_injection,
            vs,
        ),
        (
            "supervised, path-dependent verdict, fd injected",
            &m.injected,
            vs,
        ),
        (
            "supervised, path-dependent verdict, CONTINUE (injection off)",
            &m.cont_path,
            vs,
        ),
        (
            "supervised, path-independent verdict (`(allow default)`)",
            &m.cont,
            vs,
        ),
        (
            "floor: the supervisor's own syscalls for one open, CONTINUE",
            &m.floor_continue,
            None,
        ),
        (
            "floor: the supervisor's own syscalls for one open, injected, decided as written",
            &m.floor_injected,
            None,
        ),
        (
            "not pinned: openat + close, bare notify + CONTINUE",
            &m.bare_unpinned,
            vs,
        ),
        (
            "not pinned: supervised, fd injected",
            &m.injected_unpinned,
            vs,
        ),
    ];
    for (what, stats, against) in rows {
        table.add("2", what, s(stats), against);
    }
    table.note(format!(
        "2: {}; {}; the child preempted after {} of its opens under bare notify, {} under bare injection, {} supervised with fd injection",
        m.cpu_note,
        m.counts,
        m.bare.preempted_percent(),
        m.bare_injection.preempted_percent(),
        m.injected.preempted_percent()
    ));
}
