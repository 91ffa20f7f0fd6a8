//! The command line, end to end: `sbcheck run`, `probe`, `diff`, `merge`
//! and `expect`, as a user calls them.

use std::path::Path;
use std::process::{Command, Output};

fn sbcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("sbcheck runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn run_one_profile_writes_results_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = sbcheck(&[
        "run",
        "--profile",
        "v11_read_subpath",
        "--out",
        out,
        "--jobs",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("v11_read_subpath  read_tmp_bar"), "{t}");
    assert!(t.contains("default in bucket 5: 5 cells, 5 match"), "{t}");
    let results = json(&dir.path().join("runtime_results.json"));
    assert_eq!(results["summary"]["cells"], 5);
    assert_eq!(results["summary"]["mismatch"], 0);
    assert_eq!(json(&dir.path().join("mismatches.json"))["mismatches"], 0);
    let trace = json(&dir.path().join("traces/v11_read_subpath/read_tmp_bar.json"));
    assert_eq!(
        trace["intercepts"][0]["log"],
        "deny(1) file-read-data /tmp/bar"
    );
}

#[test]
fn a_mismatch_makes_run_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("matrix.json");
    std::fs::write(
        &matrix,
        r#"{"fixtures": ["/tmp/bar"], "profiles": {"v11": {"source": "profiles/v11_read_subpath.sb",
            "probes": [{"name": "read_tmp_bar", "operation": "file-read*", "target": "/tmp/bar", "expected": "allow"}]}}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = sbcheck(&[
        "run",
        "--matrix",
        matrix.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("MISMATCH"));
    assert_eq!(json(&out.join("mismatches.json"))["mismatches"], 1);
}

#[test]
fn macos_paths_change_the_verdicts_diff_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for (out, extra) in [(&a, None), (&b, Some("--macos-paths"))] {
        let mut args = vec![
            "run",
            "--profile",
            "v11_read_subpath",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = sbcheck(&args);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = sbcheck(&[
        "diff",
        a.join("runtime_results.json").to_str().unwrap(),
        b.join("runtime_results.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    // macOS's kernel matches /private/tmp/foo also as /tmp/foo, so
    // (subpath "/tmp/foo") covers it there; on Linux it is another
    // directory. /tmp/foo itself is allowed in both layouts.
    assert!(
        t.contains("v11_read_subpath::read_private_tmp_foo: deny -> allow"),
        "{t}"
    );
    assert!(t.contains("1 cell(s) differ"), "{t}");
}

#[test]
fn partitions_merge_back_into_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let run = |part: &str, name: &str| {
        let out = dir.path().join(name);
        let mut args = vec![
            "run",
            "--profile",
            "v1_read",
            "--profile",
            "v11_read_subpath",
            "--out",
            out.to_str().unwrap(),
        ];
        if !part.is_empty() {
            args.extend(["--partition", part]);
        }
        let o = sbcheck(&args);
        assert!(o.status.success(), "{}", text(&o));
        out.join("runtime_results.json")
    };
    let (p1, p2, whole) = (run("1/2", "p1"), run("2/2", "p2"), run("", "whole"));
    assert_eq!(json(&p1)["summary"]["cells"], 5);
    assert_eq!(json(&p2)["summary"]["cells"], 4);
    let merged = dir.path().join("merged.json");
    let o = sbcheck(&[
        "merge",
        "-o",
        merged.to_str().unwrap(),
        p1.to_str().unwrap(),
        p2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sbcheck(&["diff", merged.to_str().unwrap(), whole.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 cell(s) differ"));
    // The merged file is a whole run's results: same summary, buckets, backend.
    let (merged, whole) = (json(&merged), json(&whole));
    for key in ["summary", "buckets", "backend", "schema"] {
        assert_eq!(merged[key], whole[key], "{key}");
    }
    let o = sbcheck(&["run", "--partition", "3/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--partition takes K/N"), "{}", text(&o));
}

#[test]
fn probe_runs_one_cell_without_a_matrix() {
    let o = sbcheck(&[
        "probe",
        "--profile",
        "profiles/v11_read_subpath.sb",
        "file-read-data",
        "/tmp/bar",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("decoder:  deny (file-read-data -> bucket 3"),
        "{t}"
    );
    assert!(t.contains("observed: deny (EPERM)"), "{t}");
    assert!(t.contains("rule:     (deny default)"), "{t}");
}

#[test]
fn expect_checks_the_real_matrix() {
    let o = sbcheck(&["expect"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("0 disagreement(s)"));
}

#[test]
fn bad_input_is_a_usage_error_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"profiles\": {\"p\": {\"source\": 3}}}").unwrap();
    let o = sbcheck(&["run", "--matrix", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        // file:line:column, the key, what is wrong.
        text(&o).contains("bad.json:1:31: profiles.p.source: invalid type: integer `3`"),
        "{}",
        text(&o)
    );
    let o = sbcheck(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    // Outside any project, with no --matrix: how to name one.
    let o = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(["expect"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("give --matrix DIR"), "{}", text(&o));
    let o = sbcheck(&["run", "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn every_command_has_its_own_help_with_an_example() {
    let commands = [
        "run",
        "compile",
        "probe",
        "diff",
        "merge",
        "expect",
        "exec",
        "decode",
        "eval",
        "report",
        "completions",
    ];
    for cmd in commands {
        let o = sbcheck(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains(&format!("Usage: sbcheck {cmd}")), "{cmd}: {t}");
        assert!(t.contains("Example:"), "{cmd}: {t}");
    }
    // The target syntax is where a user looks for it.
    let t = text(&sbcheck(&["probe", "--help"]));
    assert!(t.contains("tcp:127.0.0.1"), "{t}");
    let o = sbcheck(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        text(&o).trim(),
        format!("sbcheck {}", env!("CARGO_PKG_VERSION"))
    );
    let t = text(&sbcheck(&["--help"]));
    assert!(t.contains("Exit status: 0 ok"), "{t}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(["run", "--profile", "v1_read", "--out"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -0`: the reader is gone before the first line.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The run still did its work.
    assert!(dir.path().join("runtime_results.json").exists());
}

#[test]
fn the_matrix_is_found_from_a_subdirectory_and_flags_take_equals() {
    let dir = tempfile::tempdir().unwrap();
    let out = format!("--out={}", dir.path().display());
    let o = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(["run", "--profile=v11_read_subpath", &out, "--jobs=1"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("5 cells: 5 match"), "{}", text(&o));
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let run = |colour: &str, no_color: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sbcheck"));
        c.args(["run", "--profile", "v1_read", "--color", colour, "--out"])
            .arg(dir.path())
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).contains("\x1b[")
    };
    assert!(run("always", true), "--color always wins over NO_COLOR");
    assert!(!run("never", false));
    // Not a terminal: auto is plain.
    assert!(!run("auto", false));
    let o = sbcheck(&["run", "--color", "sometimes"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sbcheck"),
        ("fish", "complete -c sbcheck"),
    ] {
        let o = sbcheck(&["completions", shell]);
        assert!(o.status.success(), "{}", text(&o));
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(t.contains(mark), "{shell}: {t}");
        assert!(t.contains("probe"), "{shell}");
    }
}

#[test]
fn probe_reports_a_skip_as_a_skip_a_disagreement_with_1_and_takes_a_bare_address() {
    let o = sbcheck(&[
        "probe",
        "--profile",
        "profiles/v12_read_subpath_mach.sb",
        "mach-lookup",
        "com.apple.cfprefsd.daemon",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("agree:    skipped ("), "{t}");
    assert!(!t.contains("agree:    NO"), "{t}");
    let o = sbcheck(&[
        "probe",
        "--profile",
        "profiles/v14_read_subpath_network.sb",
        "network-outbound",
        "127.0.0.1:9",
    ]);
    let t = text(&o);
    assert!(!t.contains("without a listener"), "{t}");
    assert!(t.contains("agree:    yes"), "{t}");
    // The decoder allows; the kernel gives no verdict (the file is not
    // there): they do not agree, and probe says so with its status.
    let o = sbcheck(&[
        "probe",
        "--profile",
        "profiles/v11_read_subpath.sb",
        "file-read-data",
        "/tmp/foo/sbcheck-no-such-file",
    ]);
    let t = text(&o);
    assert!(t.contains("decoder:  allow"), "{t}");
    assert!(t.contains("agree:    NO"), "{t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
    let o = sbcheck(&[
        "probe",
        "--profile",
        "profiles/v11_read_subpath.sb",
        "file-read*",
        "tmp/foo",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("absolute path"), "{}", text(&o));
}

/// `dir/app.sb` (deny default) importing `lib/base.sb`, whose one rule
/// needs `(param "DATA")`: compiles only with `-I lib` and `--param DATA=...`.
fn profile_with_import(dir: &Path, default: &str) {
    std::fs::create_dir(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("lib/base.sb"),
        "(allow file-read* (subpath (param \"DATA\")))\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("app.sb"),
        format!("(version 1)\n({default} default)\n(import \"base.sb\")\n"),
    )
    .unwrap();
}

#[test]
fn exec_and_eval_take_include_dirs_and_params() {
    let dir = tempfile::tempdir().unwrap();
    profile_with_import(dir.path(), "deny");
    let profile = dir.path().join("app.sb");
    let lib = dir.path().join("lib");
    let (profile, lib) = (profile.to_str().unwrap(), lib.to_str().unwrap());
    let o = sbcheck(&[
        "eval",
        profile,
        "file-read-data",
        "/tmp/foo",
        "-I",
        lib,
        "--param",
        "DATA=/tmp",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("allow"), "{}", text(&o));
    let o = sbcheck(&["eval", profile, "file-read-data", "/tmp/foo"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = sbcheck(&[
        "decode",
        profile,
        "-I",
        lib,
        "--param",
        "DATA=/tmp",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // exec reads the profile the same way: without -I the import fails
    // (exit 2, nothing run); with it the command runs under the profile.
    let open = tempfile::tempdir().unwrap();
    profile_with_import(open.path(), "allow");
    let (open_profile, open_lib) = (open.path().join("app.sb"), open.path().join("lib"));
    let exec = |with_include: bool| {
        let mut args = vec!["exec", "--profile", open_profile.to_str().unwrap()];
        if with_include {
            args.extend(["-I", open_lib.to_str().unwrap(), "--param", "DATA=/tmp"]);
        }
        args.extend(["--", "/bin/true"]);
        sbcheck(&args)
    };
    let o = exec(false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = exec(true);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn run_takes_params_and_include_dirs_for_the_matrix_profiles() {
    let dir = tempfile::tempdir().unwrap();
    profile_with_import(dir.path(), "deny");
    let matrix = dir.path().join("matrix.json");
    std::fs::write(
        &matrix,
        r#"{"fixtures": ["/tmp/foo"], "profiles": {"app": {"source": "app.sb",
            "probes": [{"name": "read_tmp_foo", "operation": "file-read*", "target": "/tmp/foo", "expected": "allow"}]}}}"#,
    )
    .unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let (m, lib, out) = (
        matrix.to_str().unwrap(),
        format!("{d}/lib"),
        format!("{d}/out"),
    );
    let base = ["run", "--matrix", m, "--root", &d, "--out", &out];
    // Without them the import is not found: the profile cannot be read.
    let o = sbcheck(&base);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("base.sb"), "{}", text(&o));
    let mut args = base.to_vec();
    args.extend(["-I", &lib, "--param", "DATA=/tmp/foo"]);
    let o = sbcheck(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 cells: 1 match"), "{}", text(&o));
}

/// `sbcheck run --profile apple_bsd` with `$SBCHECK_SBPL_PATH` set to
/// `sbpl_path` (or unset): its output and results.
fn run_apple_bsd(sbpl_path: Option<&Path>, out: &Path) -> (Output, serde_json::Value) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sbcheck"));
    c.args(["run", "--profile", "apple_bsd", "--out"])
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SBCHECK_SBPL_PATH");
    if let Some(p) = sbpl_path {
        c.env("SBCHECK_SBPL_PATH", p);
    }
    let o = c.output().expect("sbcheck runs");
    let results = json(&out.join("runtime_results.json"));
    (o, results)
}

#[test]
fn apple_system_profiles_run_where_their_text_is_and_skip_with_the_reason_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    // Nowhere to find bsd.sb (a Mac's own folders are not on Linux): every
    // cell is skipped, says why, and the run passes.
    if !Path::new("/System/Library/Sandbox/Profiles/bsd.sb").exists() {
        let (o, r) = run_apple_bsd(None, &dir.path().join("absent"));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(r["summary"]["skipped"], r["summary"]["cells"], "{r}");
        let why = r["cells"][0]["skip_reason"].as_str().unwrap();
        assert!(why.contains("bsd.sb is not on this machine"), "{why}");
        assert!(why.contains("SBCHECK_SBPL_PATH"), "{why}");
    }
    // With Apple's folders on the path (CI has them in ../shared), the
    // cells run and match; only mach-lookup is skipped (no Mach on Linux).
    let apple = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realworld/apple-macos-10.15.2/Profiles");
    if !sbcheck::testing::there_or_skip(
        "the run half of apple_system_profiles_run_where_their_text_is_and_skip_with_the_reason_elsewhere",
        &apple,
    ) {
        return;
    }
    let (o, r) = run_apple_bsd(Some(&apple), &dir.path().join("present"));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(r["summary"]["mismatch"], 0, "{r}");
    assert_eq!(r["summary"]["skipped"], 1, "{r}");
    assert_eq!(r["summary"]["match"], 8, "{r}");
}
