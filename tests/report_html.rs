//! `out/report.html` from real runs: the real matrix (every cell present,
//! each marked with its outcome), a fixture matrix with a wrong expectation
//! (the mismatch marked), hostile text (escaped), the difference between two
//! runs, and input `sbcheck report` must refuse.

mod report_html_support;

use report_html_support::{
    button, cell_id, detail, expected_class, page, results, root, run_fixture, run_real, sbcheck,
};
use sbcheck::html::esc;
use sbcheck::matrix::Matrix;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const CLASSES: [&str; 4] = ["o-allow", "o-deny", "o-mismatch", "o-skipped"];

#[test]
fn the_real_matrix_report_shows_every_cell_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_real(&out);
    let results = results(&out);
    let page = page(&out);
    let cells = results["cells"].as_array().unwrap();

    // Every cell of the matrix ran and is on the page.
    let matrix = Matrix::load(&root().join("expected")).unwrap();
    let in_matrix: BTreeSet<String> = matrix
        .profiles
        .iter()
        .flat_map(|p| {
            p.probes
                .iter()
                .map(move |q| format!("{}/{}", p.name, q.name))
        })
        .collect();
    let in_run: BTreeSet<String> = cells.iter().map(cell_id).collect();
    assert_eq!(in_matrix, in_run);
    assert_eq!(
        page.matches("<button type=\"button\" class=\"cell ")
            .count(),
        cells.len()
    );

    for cell in cells {
        check_cell(&page, cell);
    }
}

/// A cell's button carries its outcome, and its panel the run's facts.
fn check_cell(page: &str, cell: &Value) {
    let id = cell_id(cell);
    let b = button(page, &id).unwrap_or_else(|| panic!("no grid button for {id}"));
    let class = expected_class(cell);
    assert!(b.contains(class), "{id} should be {class}: {b}");
    for other in CLASSES.iter().filter(|c| **c != class) {
        assert!(!b.contains(other), "{id} is not {other}: {b}");
    }
    let d = detail(page, &id).unwrap_or_else(|| panic!("no detail panel for {id}"));
    let rule = cell["decoder"]["rule"].as_str().unwrap();
    assert!(d.contains(&esc(rule)), "{id}: rule {rule} missing");
    assert!(d.contains("<svg class=\"graph\""), "{id}: no graph");
    for node in cell["decoder"]["nodes"].as_array().unwrap() {
        let box_text = format!("[{}]", node["index"]);
        assert!(d.contains(&box_text), "{id}: node {box_text} not drawn");
        if let Some(sbpl) = node["sbpl"].as_str() {
            assert!(d.contains(&esc(sbpl)), "{id}: filter {sbpl} not drawn");
        }
    }
    if let Some(name) = cell["observed"]["errno_name"].as_str() {
        assert!(
            d.contains(&format!("({name})")),
            "{id}: errno {name} missing"
        );
    }
    if let Some(why) = cell["skip_reason"].as_str() {
        assert!(d.contains(&esc(why)), "{id}: skip reason missing");
    }
    for i in cell["intercepts"].as_array().unwrap() {
        if let Some(log) = i["log"].as_str() {
            assert!(d.contains(&esc(log)), "{id}: denial log {log} missing");
        }
        let syscall = format!("<code>{}</code>", i["syscall"].as_str().unwrap());
        assert!(d.contains(&syscall), "{id}: syscall missing");
    }
    let backend = cell["backend"].as_str().unwrap();
    assert!(d.contains(&format!("<code>{backend}</code>")));
}

#[test]
fn the_report_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_fixture(
        dir.path(),
        &["/tmp/foo", "/tmp/bar"],
        &[("read_tmp_foo", "file-read*", "/tmp/foo", "allow")],
    );
    let page = page(&out);
    assert!(page.contains("<style>") && page.contains("<script>"));
    for fetch in ["<link", " src=", "url(http", "@import"] {
        assert!(!page.contains(fetch), "the page fetches: {fetch}");
    }
    // The only URL is the SVG namespace, which is a name, not a fetch.
    let urls = page.matches("://").count();
    let namespaces = page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces);
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn a_wrong_expectation_is_marked_as_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    // /tmp/bar is outside (subpath "/tmp/foo"): the kernel denies the read,
    // whatever this fixture claims.
    let (out, output) = run_fixture(
        dir.path(),
        &["/tmp/foo", "/tmp/bar"],
        &[
            ("read_tmp_foo", "file-read*", "/tmp/foo", "allow"),
            ("read_tmp_bar", "file-read*", "/tmp/bar", "allow"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "a mismatch fails the run");
    let page = page(&out);

    let bad = button(&page, "v11_read_subpath/read_tmp_bar").unwrap();
    assert!(bad.contains("o-mismatch"), "{bad}");
    assert!(
        bad.contains(">✗</span>") && bad.contains("mismatch"),
        "{bad}"
    );
    assert!(
        bad.contains("expected allow · decoder deny · observed deny"),
        "{bad}"
    );
    let good = button(&page, "v11_read_subpath/read_tmp_foo").unwrap();
    assert!(good.contains("o-allow") && !good.contains("o-mismatch"));

    let d = detail(&page, "v11_read_subpath/read_tmp_bar").unwrap();
    assert!(
        d.contains("expected allow, but the decoder says deny and the kernel observed deny"),
        "{d}"
    );
    assert!(d.contains("(deny default)") && d.contains("1 (EPERM)"));
    assert!(d.contains("deny(1) file-read-data /tmp/bar"));

    // The summary counts it, and its bucket is flagged.
    assert!(page.contains(
        "<tr><th scope=\"row\">this run</th><td class=\"num\">2</td>\
         <td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">1</td>\
         <td class=\"num\">0</td></tr>"
    ));
    assert_eq!(page.matches("<tr class=\"bucket-bad\">").count(), 1);
    assert!(page.contains("disagrees"));
}

#[test]
fn text_from_the_run_is_html_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // A real file with markup in its name; the harness creates it, the
    // probe reads it, the profile denies it and the log line names it.
    let hostile = format!("/tmp/sbcheck-report-<b>&\"'{}", std::process::id());
    let (out, _) = run_fixture(
        dir.path(),
        &["/tmp/foo", &hostile],
        &[("read_hostile", "file-read*", &hostile, "deny")],
    );
    let cell = &results(&out)["cells"][0];
    assert_eq!(cell["observed"]["errno_name"], "EPERM");
    let page = page(&out);
    assert!(!page.contains("<b>"), "raw markup reached the page");
    let escaped = esc(&hostile);
    assert!(escaped.contains("&lt;b&gt;&amp;&quot;&#39;"));
    let d = detail(&page, "v11_read_subpath/read_hostile").unwrap();
    assert!(d.contains(&format!("<code>{escaped}</code>")));
    assert!(d.contains(&format!("deny(1) file-read-data {escaped}")));
    let _ = std::fs::remove_file(&hostile);
}

#[test]
fn sbcheck_report_renders_the_difference_between_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let probes = |bar: &'static str| {
        [
            ("read_tmp_foo", "file-read*", "/tmp/foo", "allow"),
            ("read_tmp_bar", "file-read*", "/tmp/bar", bar),
        ]
    };
    let fixtures = ["/tmp/foo", "/tmp/bar"];
    let (a, _) = run_fixture(&dir.path().join("a"), &fixtures, &probes("deny"));
    let (b, _) = run_fixture(&dir.path().join("b"), &fixtures, &probes("allow"));

    let output = sbcheck()
        .arg("report")
        .arg(a.join("runtime_results.json"))
        .arg(b.join("runtime_results.json"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let written = b.join("report-diff.html");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        written.display().to_string()
    );
    let page = std::fs::read_to_string(&written).unwrap();
    let changed = button(&page, "v11_read_subpath/read_tmp_bar").unwrap();
    assert!(changed.contains("o-mismatch changed"), "{changed}");
    assert!(changed.contains("was ⊘ deny"), "{changed}");
    let same = button(&page, "v11_read_subpath/read_tmp_foo").unwrap();
    assert!(!same.contains("changed"), "{same}");
    assert!(page.contains("1 cell(s) changed outcome between A and B; 0 only in A, 0 only in B."));
    let d = detail(&page, "v11_read_subpath/read_tmp_bar").unwrap();
    assert!(d.contains("A (before)") && d.contains("B (after)"));

    // One run, to a named file.
    let single = dir.path().join("single.html");
    let output = sbcheck()
        .arg("report")
        .arg(a.join("runtime_results.json"))
        .arg("-o")
        .arg(&single)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let page = std::fs::read_to_string(&single).unwrap();
    assert!(button(&page, "v11_read_subpath/read_tmp_bar")
        .unwrap()
        .contains("o-deny"));
}

/// `sbcheck report` on `value`, written to a file; its exit code and stderr.
fn report_on(dir: &Path, text: &str) -> (Option<i32>, String, String) {
    let file = dir.join("runtime_results.json");
    std::fs::write(&file, text).unwrap();
    let output = sbcheck().arg("report").arg(&file).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        file.display().to_string(),
    )
}

#[test]
fn sbcheck_report_names_the_file_and_key_of_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_fixture(
        &dir.path().join("run"),
        &["/tmp/foo", "/tmp/bar"],
        &[("read_tmp_foo", "file-read*", "/tmp/foo", "allow")],
    );
    let good = results(&out);

    let mut wrong_type = good.clone();
    wrong_type["cells"][0]["decoder"]["bucket"] = "three".into();
    let (code, err, file) = report_on(dir.path(), &wrong_type.to_string());
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!(
            "{file}: cells[0].decoder.bucket: expected a non-negative integer, found \"three\""
        )),
        "{err}"
    );

    let mut missing = good.clone();
    missing["cells"][0]
        .as_object_mut()
        .unwrap()
        .remove("expected");
    let (code, err, file) = report_on(dir.path(), &missing.to_string());
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("{file}: cells[0].expected: missing")),
        "{err}"
    );

    let mut future = good.clone();
    future["schema"] = 99.into();
    let (code, err, _) = report_on(dir.path(), &future.to_string());
    assert_eq!(code, Some(2));
    assert!(err.contains("schema: schema 99 is not supported"), "{err}");

    let (code, err, file) = report_on(dir.path(), "{\"cells\": [\n  {,\n");
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("{file}: line 2 column 4: not JSON")),
        "{err}"
    );
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn runs_from_before_node_details_still_draw_the_node_path() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_fixture(
        &dir.path().join("run"),
        &["/tmp/foo", "/tmp/bar"],
        &[
            ("read_tmp_foo", "file-read*", "/tmp/foo", "allow"),
            ("write_tmp_foo", "file-write*", "/tmp/foo", "deny"),
        ],
    );
    let mut old = results(&out);
    for cell in old["cells"].as_array_mut().unwrap() {
        cell["decoder"].as_object_mut().unwrap().remove("nodes");
    }
    let (code, err, _) = report_on(dir.path(), &old.to_string());
    assert_eq!(code, Some(0), "{err}");
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for cell in old["cells"].as_array().unwrap() {
        let id = cell_id(cell);
        let d = detail(&page, &id).unwrap();
        let path = cell["decoder"]["node_path"].as_array().unwrap();
        assert!(!path.is_empty());
        for n in path {
            assert!(d.contains(&format!("[{n}]")), "{id}: node {n} not drawn");
        }
        let verdict = cell["decoder"]["verdict"].as_str().unwrap();
        assert!(
            d.contains(&format!("g-{verdict}")),
            "{id}: terminal not drawn"
        );
    }
}
