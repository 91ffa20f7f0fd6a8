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
    assert!(t.contains("bucket 5: 5 cells, 5 match"), "{t}");
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
        text(&o).contains("bad.json: profiles.p.probes: missing"),
        "{}",
        text(&o)
    );
    let o = sbcheck(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}
