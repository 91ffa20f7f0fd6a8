//! The harness itself, on fixture matrices (never the real one): a wrong
//! expectation fails its cell with a readable diff, and a malformed matrix
//! names the file and the key.

mod common;
mod sandboxed;

use sbcheck::matrix::Matrix;
use std::path::Path;

fn write_matrix(dir: &Path, expected_read_bar: &str) -> std::path::PathBuf {
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/v11_read_subpath.sb");
    let matrix = serde_json::json!({
        "fixtures": ["/tmp/foo", "/tmp/bar"],
        "profiles": { "v11_read_subpath": {
            "source": profile,
            "probes": [
                { "name": "read_tmp_bar", "operation": "file-read*", "target": "/tmp/bar", "expected": expected_read_bar }
            ]
        }}
    });
    let file = dir.join("matrix.json");
    std::fs::write(&file, matrix.to_string()).unwrap();
    file
}

/// The panic message without pretty_assertions' colour escapes.
fn panic_text(err: Box<dyn std::any::Any + Send>) -> String {
    let raw = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn wrong_expectation_fails_with_a_readable_diff() {
    if sbcheck::hermetic::reran_this_test() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // /tmp/bar is outside (subpath "/tmp/foo"): the kernel denies it.
    let file = write_matrix(dir.path(), "allow");
    let out = dir.path().join("out");
    let err = std::panic::catch_unwind(|| {
        common::check_cell(
            &file,
            Path::new("/"),
            &out,
            "v11_read_subpath",
            "read_tmp_bar",
        )
    })
    .expect_err("a wrong expectation must fail its cell");
    let text = panic_text(err);
    // pretty_assertions' diff: the expected side, then what happened.
    assert!(text.contains("Diff < left / right > :"), "{text}");
    assert!(text.contains("<    decoder: \"allow\""), "{text}");
    assert!(text.contains(">    decoder: \"deny\""), "{text}");
    assert!(text.contains(">    observed: \"deny\""), "{text}");
    assert!(
        text.contains("v11_read_subpath::read_tmp_bar: file-read* /tmp/bar"),
        "{text}"
    );
    // The failing cell still left its trace, recording the mismatch.
    let trace: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("traces/v11_read_subpath/read_tmp_bar.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(trace["match"], false);
    assert_eq!(trace["observed"]["errno_name"], "EPERM");
}

#[test]
fn right_expectation_passes() {
    if sbcheck::hermetic::reran_this_test() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_matrix(dir.path(), "deny");
    common::check_cell(
        &file,
        Path::new("/"),
        &dir.path().join("out"),
        "v11_read_subpath",
        "read_tmp_bar",
    );
}

#[rstest::rstest]
#[case::bad_json("{\"profiles\": {", "bad.json:1:14: (JSON): invalid JSON: EOF")]
#[case::unknown_key(
    r#"{"profiles": {"p": {"source": "x.sb", "probes": [{"name": "a", "operation": "file-read*", "target": "/x", "expected": "allow", "expect_macos": "deny"}]}}}"#,
    "profiles.p.probes[0].expect_macos: unknown field `expect_macos`"
)]
#[case::bad_verdict(
    r#"{"profiles": {"p": {"source": "x.sb", "probes": [{"name": "a", "operation": "file-read*", "target": "/x", "expected": "maybe"}]}}}"#,
    "profiles.p.probes[0].expected: \"maybe\" is neither"
)]
#[case::missing_target(
    r#"{"profiles": {"p": {"source": "x.sb", "probes": [{"name": "a", "operation": "file-read*", "expected": "allow"}]}}}"#,
    "profiles.p.probes[0].target: missing"
)]
#[case::bad_name(
    r#"{"profiles": {"p": {"source": "x.sb", "probes": [{"name": "read /x", "operation": "file-read*", "target": "/x", "expected": "allow"}]}}}"#,
    "profiles.p.probes[0].name: \"read /x\" must be"
)]
#[case::bad_link(
    r#"{"fixtures": {"links": {"/tmp/l": 3}}, "profiles": {}}"#,
    "fixtures.links./tmp/l: invalid type: integer `3`, expected a string"
)]
#[case::bad_program(
    r#"{"fixtures": {"programs": ["bin/x"]}, "profiles": {}}"#,
    "fixtures.programs[0]: expected an absolute path"
)]
#[case::bad_recorded_verdict(
    r#"{"profiles": {"p": {"source": "x.sb", "probes": [{"name": "a", "operation": "file-read*", "target": "/x", "expected": "allow", "decoder": {"bucket": 3, "verdict": "perhaps"}}]}}}"#,
    "profiles.p.probes[0].decoder.verdict: \"perhaps\" is neither"
)]
fn malformed_matrix_names_file_and_key(#[case] text: &str, #[case] wanted: &str) {
    let e = Matrix::parse(text, Path::new("expected/bad.json"))
        .unwrap_err()
        .to_string();
    // file:line:column, then the key.
    assert!(e.starts_with("expected/bad.json:1:"), "{e}");
    assert!(e.contains(wanted), "{e}");
}

/// A cell whose profile cannot be decoded still leaves a trace, and fails
/// with the decoder's byte offset.
#[test]
fn corrupted_profile_fails_its_cell_with_the_offset_and_a_trace() {
    if sbcheck::hermetic::reran_this_test() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let apple = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple/macos-14.4.1/baseline_deny_all.sb.bin");
    let blob = std::fs::read(apple).unwrap();
    let broken = dir.path().join("truncated.sb.bin");
    std::fs::write(&broken, &blob[..300]).unwrap();
    let matrix = serde_json::json!({ "profiles": { "broken": {
        "source": broken,
        "probes": [{ "name": "read_etc_hosts", "operation": "file-read*", "target": "/etc/hosts", "expected": "allow" }]
    }}});
    let file = dir.path().join("matrix.json");
    std::fs::write(&file, matrix.to_string()).unwrap();
    let out = dir.path().join("out");
    let err = std::panic::catch_unwind(|| {
        common::check_cell(&file, Path::new("/"), &out, "broken", "read_etc_hosts")
    })
    .expect_err("a broken profile must fail its cell");
    let text = panic_text(err);
    assert!(
        text.contains("truncated.sb.bin: byte 300: op_table[143]: truncated"),
        "{text}"
    );
    let trace: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("traces/broken/read_etc_hosts.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(trace["observed"]["kind"], "profile-error");
    assert_eq!(trace["match"], false);
}

/// A probe that blocks (opening a FIFO nobody writes) is killed at the
/// per-cell timeout and reported as a timeout, with nothing left running.
#[test]
fn hanging_probe_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let matrix = serde_json::json!({ "profiles": { "v1_read": {
        "source": Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/v1_read.sb"),
        "probes": [{ "name": "read_fifo", "operation": "file-read*", "target": fifo, "expected": "allow" }]
    }}})
    .to_string();
    let matrix = Matrix::parse(&matrix, Path::new("fixture.json")).unwrap();
    let mut opts = sbcheck::harness::RunOptions::new("/");
    opts.timeout = std::time::Duration::from_millis(300);
    let started = std::time::Instant::now();
    let record = sbcheck::harness::run_named(&matrix, "v1_read", "read_fifo", &opts).unwrap();
    assert_eq!(
        record.observed,
        sbcheck::harness::Observed::TimedOut(opts.timeout)
    );
    assert!(!record.matches());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The open was judged (allowed) before it blocked in the kernel.
    assert_eq!(record.intercepts.len(), 1);
    assert_eq!(record.observed.describe(), "timeout after 300 ms");
}

/// A child that crashes before reporting is reported as such.
#[test]
fn crashing_child_is_reported_with_its_signal() {
    use sbcheck::apply::process::{Ending, ExitStatus};
    // abort() is async-signal-safe: it raises SIGABRT.
    let body = || std::process::abort();
    let ending = ending_of(&body);
    assert_eq!(
        ending,
        Ending::Died {
            status: ExitStatus::Signal(libc::SIGABRT)
        }
    );
}

/// A profile whose SBPL does not compile fails its cell naming
/// `file:line:column`, in the record and the trace.
#[test]
fn broken_sbpl_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let sb = dir.path().join("bad.sb");
    std::fs::write(
        &sb,
        "(version 1)\n(deny default)\n(allow file-read* (subpath 42))\n",
    )
    .unwrap();
    let matrix = serde_json::json!({ "profiles": { "bad": {
        "source": sb,
        "probes": [{ "name": "read_foo", "operation": "file-read*", "target": "/tmp/foo", "expected": "allow" }]
    }}})
    .to_string();
    let matrix = Matrix::parse(&matrix, Path::new("fixture.json")).unwrap();
    let opts = sbcheck::harness::RunOptions::new("/");
    let record = sbcheck::harness::run_named(&matrix, "bad", "read_foo", &opts).unwrap();
    let text = record.observed.describe();
    let at = format!("{}:3:19: invalid data type", sb.display());
    assert!(text.contains(&at), "{text}");
    assert!(!record.matches());
    let trace = sbcheck::report::write_trace(&dir.path().join("out"), &record).unwrap();
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(trace).unwrap()).unwrap();
    assert_eq!(trace["observed"]["kind"], "profile-error");
    let detail = trace["observed"]["detail"].as_str().unwrap();
    assert!(detail.contains(&at), "{detail}");
}

/// A child that exits before reporting is reported with its exit code,
/// never as a verdict: not even exit code 0, which a careless harness could
/// take for a reported 0 (allow).
#[rstest::rstest]
#[case::failure(3)]
#[case::success(0)]
fn early_exit_is_reported_with_its_code(#[case] code: i32) {
    use sbcheck::apply::process::{Ending, ExitStatus};
    let body = || sbcheck::apply::linux::calls::exit_group(code);
    let ending = ending_of(&body);
    assert_eq!(
        ending,
        Ending::Died {
            status: ExitStatus::Code(code)
        }
    );
}

/// A one-cell matrix over `source` (relative to the project root).
fn one_cell(source: &str, operation: &str, target: &str, expected: &str) -> Matrix {
    let matrix = serde_json::json!({ "profiles": { "p": {
        "source": source,
        "probes": [{ "name": "c", "operation": operation, "target": target, "expected": expected }]
    }}})
    .to_string();
    Matrix::parse(&matrix, Path::new("fixture.json")).unwrap()
}

/// Run options rooted at the project, so a cell's relative source resolves.
fn project_opts() -> sbcheck::harness::RunOptions {
    sbcheck::harness::RunOptions::new(env!("CARGO_MANIFEST_DIR"))
}

fn run_one(m: &Matrix, opts: &sbcheck::harness::RunOptions) -> sbcheck::harness::CellRecord {
    sbcheck::harness::run_named(m, "p", "c", opts).unwrap()
}

/// A cell the matrix expects no verdict for is skipped with the decoder's
/// reason (here the filter after the vnode-type tests, so the vnode type was
/// given), never run and never counted as a match.
#[test]
fn undetermined_cell_is_skipped_with_the_missing_argument() {
    let m = one_cell(
        "profiles/apple/ios-17/platform_profile.bin",
        "file-read*",
        "/etc/hosts",
        "undetermined",
    );
    let r = run_one(&m, &project_opts());
    let sbcheck::harness::Observed::Skipped(why) = &r.observed else {
        panic!("not skipped: {r:?}");
    };
    assert!(
        why.contains("no device-conforms-to argument given"),
        "{why}"
    );
    assert!(r.intercepts.is_empty());
    assert!(!r.matches());
    assert_eq!(r.expected_str(), "undetermined");
}

/// Expecting "undetermined" where the decoder decides is a mismatch: the
/// cell runs and shows the verdict.
#[test]
fn undetermined_expectation_of_a_decided_cell_runs_and_mismatches() {
    let m = one_cell(
        "profiles/v1_read.sb",
        "file-read*",
        "/etc/hosts",
        "undetermined",
    );
    let r = run_one(&m, &project_opts());
    assert_eq!(r.observed, sbcheck::harness::Observed::Errno(0));
    assert!(!r.matches());
}

/// iOS 26 numbers the file operations one higher than macOS 14: the
/// prediction and the engine both ask about file-write-create by name, and
/// reach the rule that names the path.
#[test]
fn ios26_operations_are_asked_by_name() {
    let m = one_cell(
        "profiles/apple/ios-26/platform_profile.bin",
        "file-write-create",
        "/AppleInternal",
        "deny",
    );
    let r = run_one(&m, &project_opts());
    assert_eq!(
        r.decoder.rule,
        "(deny file-write-create (literal \"/AppleInternal\"))"
    );
    assert_eq!(r.observed, sbcheck::harness::Observed::Errno(libc::EPERM));
    assert_eq!(r.intercepts[0].rule, r.decoder.rule);
    assert!(r.matches());
}

/// Seatbelt is macOS's kernel: asked for on Linux, the cell fails to apply
/// with a message saying so, and nothing runs.
#[cfg(not(target_os = "macos"))]
#[test]
fn seatbelt_backend_on_linux_fails_to_apply() {
    let m = one_cell("profiles/v1_read.sb", "file-read*", "/etc/hosts", "allow");
    let mut opts = project_opts();
    opts.backend = sbcheck::apply::Backend::Seatbelt;
    let r = run_one(&m, &opts);
    let sbcheck::harness::Observed::ApplyFailed(why) = &r.observed else {
        panic!("not an apply failure: {r:?}");
    };
    assert!(why.contains("macOS") || why.contains("libsandbox"), "{why}");
    assert_eq!(r.backend, sbcheck::apply::Backend::Seatbelt);
    assert!(r.intercepts.is_empty());
    assert!(!r.matches());
}

/// How a child running `body` under `(allow default)` ended: what the
/// harness makes of a child that never reports a verdict.
fn ending_of(body: &dyn Fn() -> i32) -> sbcheck::apply::process::Ending {
    use sbcheck::apply::linux::{Filter, Options, Supervisor};
    let profile = sandboxed::compile("(version 1)(allow default)");
    let mut supervisor = Supervisor::new(&profile, Options::default());
    let timeout = std::time::Duration::from_secs(5);
    sbcheck::apply::process::run_supervised(&Filter::new(), &mut supervisor, timeout, body).unwrap()
}

/// A cell that fails in its private namespace fails its test, with the
/// diff the re-run printed: the re-run is not a way to lose a failure.
#[cfg(target_os = "linux")]
#[test]
fn a_cell_failing_in_its_namespace_fails_its_test_with_the_diff() {
    const NAME: &str = "a_cell_failing_in_its_namespace_fails_its_test_with_the_diff";
    match std::panic::catch_unwind(|| sbcheck::hermetic::reran(NAME)) {
        // The re-run, in the namespace: a wrong expectation, on purpose.
        Ok(false) => {
            let dir = tempfile::tempdir().unwrap();
            let file = write_matrix(dir.path(), "allow");
            let out = dir.path().join("out");
            common::check_cell(
                &file,
                Path::new("/"),
                &out,
                "v11_read_subpath",
                "read_tmp_bar",
            );
            panic!("the wrong expectation passed in the namespace");
        }
        Ok(true) => panic!("the re-run passed though its cell's expectation is wrong"),
        Err(e) => {
            let text = panic_text(e);
            assert!(
                text.contains(&format!("{NAME} failed in its private namespace")),
                "{text}"
            );
            assert!(text.contains(">    observed: \"deny\""), "{text}");
        }
    }
}

/// Outside the private namespace the harness refuses to make fixtures:
/// the host's /tmp is never written, even by a caller that forgot.
#[cfg(target_os = "linux")]
#[test]
fn fixtures_are_never_made_in_the_hosts_tmp() {
    let target = format!("/tmp/sbcheck-never-made-{}", std::process::id());
    let m = serde_json::json!({ "fixtures": [&target], "profiles": {} }).to_string();
    let m = Matrix::parse(&m, Path::new("fixture.json")).unwrap();
    let e = sbcheck::harness::ensure_fixtures(&m)
        .unwrap_err()
        .to_string();
    assert!(e.contains("only in its private /tmp and /private"), "{e}");
    assert!(!Path::new(&target).exists());
}

/// Issue 17's machine: the user's own /tmp/foo and /tmp/bar, a
/// /private/tmp at 0755 (root's, when the test runs as root) and an
/// unreadable fixture an earlier run left (as another user). Built in a
/// namespace standing for the host, where `sbcheck run` (with and
/// without the zygote) makes its own:
/// the whole matrix passes, and the user's files, /private/tmp and the
/// listing of /tmp are as they were (bar the run's output directory).
#[cfg(target_os = "linux")]
#[test]
fn the_matrix_passes_beside_a_users_files_and_leaves_them_alone() {
    use sbcheck::apply::linux::namespace::{spawn_inside, Plan};
    let mut host = Plan::new().unwrap();
    host.keep(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let script = r#"
        set -e
        printf 'my precious data' > /tmp/foo
        printf 'my precious data' > /tmp/bar
        chmod 0755 /private/tmp
        mkdir -p /tmp/sbcheck/programs
        printf 'left by another run' > /tmp/sbcheck/programs/true
        chmod 0 /tmp/sbcheck/programs/true
        before=$(ls -A /tmp | tr '\n' ' ')
        "$SBCHECK" run --no-zygote --out /tmp/out > /tmp/run.log 2>&1 || { cat /tmp/run.log; exit 1; }
        tail -n 1 /tmp/run.log
        "$SBCHECK" run --out /tmp/out > /tmp/run.log 2>&1 || { cat /tmp/run.log; exit 1; }
        echo "files: $(cat /tmp/foo) / $(cat /tmp/bar)"
        echo "private/tmp: $(stat -c %a /private/tmp) [$(ls -A /private/tmp)]"
        echo "leftover: $(stat -c %a /tmp/sbcheck/programs/true) [$(ls -A /tmp/sbcheck/programs)]"
        echo "tmp before: [$before] after: [$(ls -A /tmp | grep -v -x -e out -e run.log | tr '\n' ' ')]"
        tail -n 1 /tmp/run.log
    "#;
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", script])
        .env("SBCHECK", env!("CARGO_BIN_EXE_sbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = spawn_inside(&mut cmd, host)
        .unwrap()
        .wait_with_output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("files: my precious data / my precious data"),
        "{text}"
    );
    assert!(text.contains("private/tmp: 755 []"), "{text}");
    assert!(text.contains("leftover: 0 [true]"), "{text}");
    // The listing of /tmp is as it was (the project itself may live there,
    // bound in from the host: a clone under /tmp).
    let listing = text
        .lines()
        .find_map(|l| l.strip_prefix("tmp before: ["))
        .and_then(|l| l.split_once("] after: ["))
        .unwrap_or_else(|| panic!("no listing in {text}"));
    assert_eq!(listing.0, listing.1.trim_end_matches(']'), "{text}");
    for name in ["bar", "foo", "sbcheck"] {
        assert!(listing.0.split(' ').any(|n| n == name), "{text}");
    }
    // Both ways a run forks its cells: --no-zygote, then the zygote.
    assert_eq!(text.matches(" 0 mismatch,").count(), 2, "{text}");
}

/// Where user namespaces are refused, `sbcheck run` stops before any cell
/// (exit 2) with the step that failed and the setting to change. Staged
/// with util-linux: in a user namespace whose limit of nested ones is 0,
/// the run goes without capabilities, as a user would.
#[cfg(target_os = "linux")]
#[test]
fn a_refused_user_namespace_stops_the_run_saying_what_to_enable() {
    let out = tempfile::tempdir().unwrap();
    let script = r#"echo 0 > /proc/sys/user/max_user_namespaces &&
        exec setpriv --bounding-set -all --inh-caps -all --ambient-caps -all \
            "$SBCHECK" run --out "$OUT""#;
    let run = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", script])
        .env("SBCHECK", env!("CARGO_BIN_EXE_sbcheck"))
        .env("OUT", out.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("util-linux's unshare");
    let text = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{text}");
    assert!(
        text.contains("unshare(CLONE_NEWUSER | CLONE_NEWNS)"),
        "{text}"
    );
    assert!(text.contains("sysctl user.max_user_namespaces="), "{text}");
    // (Skip traces of profiles not on this machine are written while the
    // profiles load, before the namespace: no cell ran, no results.)
    assert!(
        !out.path().join("runtime_results.json").exists(),
        "a run finished"
    );
    assert!(
        !String::from_utf8_lossy(&run.stdout).contains(" cells: "),
        "{text}"
    );
}

/// `sbcheck run` on a matrix in `dir`: (exit code, stdout, stderr).
#[cfg(target_os = "linux")]
fn run_matrix(
    dir: &Path,
    matrix: &serde_json::Value,
    flags: &[&str],
) -> (Option<i32>, String, String) {
    let file = dir.join("matrix.json");
    std::fs::write(&file, matrix.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .arg("run")
        .args(flags)
        .arg("--matrix")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A probe let through to a target that does not exist is the harness's
/// failure, not the profile's: an error naming the target and the fix,
/// no row in the table, and the run fails. The other cell still runs.
/// Both ways a run forks its cells.
#[cfg(target_os = "linux")]
#[rstest::rstest]
#[case::zygote(&[])]
#[case::no_zygote(&["--no-zygote"])]
fn a_missing_target_is_an_error_not_a_row(#[case] flags: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let matrix = serde_json::json!({ "fixtures": ["/tmp/foo"], "profiles": { "v1_read": {
        "source": "profiles/v1_read.sb",
        "probes": [
            { "name": "read_foo", "operation": "file-read*", "target": "/tmp/foo", "expected": "allow" },
            { "name": "read_gone", "operation": "file-read*", "target": "/tmp/sbcheck-gone/x", "expected": "allow" }
        ]
    }}});
    let (code, stdout, stderr) = run_matrix(dir.path(), &matrix, flags);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("v1_read::read_gone: harness: target /tmp/sbcheck-gone/x does not exist"),
        "{stderr}"
    );
    assert!(!stdout.contains("read_gone"), "{stdout}");
    assert!(stdout.contains("1 cells: 1 match, 0 mismatch"), "{stdout}");
}

/// A fixture the harness cannot make stops the run before any cell, with
/// the fixture and the reason (here a file fixture another fixture makes
/// a directory), never a MISMATCH row.
#[cfg(target_os = "linux")]
#[test]
fn a_fixture_that_cannot_be_made_stops_the_run_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = serde_json::json!({
        "fixtures": { "files": ["/tmp/sbcheck-file"], "dirs": ["/tmp/sbcheck-file/below"] },
        "profiles": { "v1_read": {
            "source": "profiles/v1_read.sb",
            "probes": [{ "name": "read_foo", "operation": "file-read*", "target": "/tmp/sbcheck-file", "expected": "allow" }]
        }}
    });
    let (code, stdout, stderr) = run_matrix(dir.path(), &matrix, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("creating fixtures: /tmp/sbcheck-file: exists and is not a regular file"),
        "{stderr}"
    );
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    assert!(!dir.path().join("out/traces").exists());
}
