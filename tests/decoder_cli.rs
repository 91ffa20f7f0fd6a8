//! The decoder's commands on real bundles and formats: `decode --list`,
//! `--profile NAME|INDEX`, warnings, format detection, `decode --sbpl`
//! compiling back, the 10.6 report flag, and `eval --batch`.

use std::io::Write;
use std::process::{Command, Stdio};

const PROTOBOX: &str = "../shared/apple-blobs/ios-17-protobox/protobox_bundle.bin";
const MACOS_15: &str = "profiles/apple/macos-15/platform_profile.bin";

/// The protobox bundle is not shipped with the project (half a megabyte of
/// Apple's); it is in ../shared beside the project, which CI has. Elsewhere
/// the test says on the terminal that it was skipped, and why.
fn protobox_or_skip(test: &str) -> bool {
    sbcheck::testing::there_or_skip(
        test,
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PROTOBOX),
    )
}

fn sbcheck_with(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_owned();
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sbcheck(args: &[&str]) -> (i32, String, String) {
    sbcheck_with(args, "")
}

#[test]
fn protobox_lists_its_573_profiles_by_name_and_decodes_with_a_warning() {
    if !protobox_or_skip("protobox_lists_its_573_profiles_by_name_and_decodes_with_a_warning") {
        return;
    }
    let (code, out, err) = sbcheck(&["decode", "--list", PROTOBOX]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 573);
    assert!(
        lines.iter().all(|l| !l.ends_with("\t?")),
        "every profile is named"
    );
    // The stray bytes are a warning on stderr, not an error.
    assert!(
        err.contains("warning") && err.contains("modifier flag 0x800000"),
        "{err}"
    );
    let (_, json, _) = sbcheck(&["decode", "--list", "--json", PROTOBOX]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["profiles"].as_array().unwrap().len(), 573);
    assert!(!v["warnings"].as_array().unwrap().is_empty());
    assert!(v["warnings"][0]["field"]
        .as_str()
        .unwrap()
        .ends_with(".modifier"));
}

#[test]
fn a_bundle_profile_by_name_or_index_is_the_same_and_eval_uses_it() {
    if !protobox_or_skip("a_bundle_profile_by_name_or_index_is_the_same_and_eval_uses_it") {
        return;
    }
    let (_, list, _) = sbcheck(&["decode", "--list", PROTOBOX]);
    let (index, name) = list.lines().nth(5).unwrap().split_once('\t').unwrap();
    let (code, by_name, err) = sbcheck(&["decode", "--sbpl", "--profile", name, PROTOBOX]);
    assert_eq!(code, 0, "{err}");
    let (_, by_index, _) = sbcheck(&["decode", "--sbpl", "--profile", index, PROTOBOX]);
    assert_eq!(by_name, by_index);
    let (_, other, _) = sbcheck(&["decode", "--sbpl", "--profile", "0", PROTOBOX]);
    assert_ne!(by_name, other, "profiles 0 and 5 differ");
    let (code, out, err) = sbcheck(&[
        "eval",
        PROTOBOX,
        "--profile",
        name,
        "file-read-data",
        "/private/var/tmp/x",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["bucket"].as_u64().is_some(), "{v}");
    let (code, _, err) = sbcheck(&["decode", "--profile", "no-such-profile", PROTOBOX]);
    assert_ne!(code, 0);
    assert!(err.contains("no bundle profile named or numbered"), "{err}");
}

#[test]
fn macos_15_is_detected_as_hdr16_and_its_regexes_render() {
    let (code, out, err) = sbcheck(&["decode", MACOS_15]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("format: hdr16"), "{}", &out[..400]);
    assert!(!out.contains("too complex"));
    assert!(out.contains(r"\.(app|service)/"), "regexes as text");
}

#[test]
fn decoded_sbpl_compiles_back_to_the_same_decisions_on_the_issue_example() {
    // A rule that needs three conditions: recompiled, it must still need
    // all three (it read "any of" before).
    let blob = "profiles/apple/macos-14.4.1/triple_all_inet_dgram_tcp.sb.bin";
    let (code, sbpl, err) = sbcheck(&["decode", "--sbpl", blob]);
    assert_eq!(code, 0, "{err}");
    assert!(
        sbpl.contains("(require-all (socket-domain AF_INET)"),
        "{sbpl}"
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rt.sb");
    std::fs::write(&src, &sbpl).unwrap();
    let out = dir.path().join("rt.sb.bin");
    let (code, _, err) = sbcheck(&[
        "compile",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for b in [blob, out.to_str().unwrap()] {
        let (code, v, err) = sbcheck(&[
            "eval",
            b,
            "network-outbound",
            "--arg",
            "socket-domain=AF_INET",
            "--arg",
            "socket-type=SOCK_STREAM",
            "--arg",
            "socket-protocol=IPPROTO_TCP",
            "--arg",
            "control-name=",
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(v.starts_with("deny\n"), "{b}: {v}");
    }
}

#[test]
fn legacy_deny_text_and_eval_agree_on_the_report_flag() {
    let blob = "profiles/apple/macos-10.6/sample1.sb.bin";
    let (_, text, _) = sbcheck(&["decode", blob]);
    assert!(text.contains("(deny default)\n"), "{text}");
    assert!(!text.contains("no-report"));
    let (_, out, _) = sbcheck(&["eval", blob, "file-read-data", "/etc/passwd", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["action"]["flags"], serde_json::json!(["report"]), "{v}");
    assert_eq!(v["rule"], "(deny default)");
}

#[test]
fn eval_batch_answers_json_lines_in_order() {
    let input = concat!(
        r#"{"operation":"file-read-data","path":"/etc/hosts","id":1}"#,
        "\n",
        r#"{"operation":"network-outbound","args":{"socket-domain":"AF_INET","socket-type":1,"socket-protocol":6,"control-name":""},"id":2}"#,
        "\n",
        r#"{"operation":"nope"}"#,
        "\n",
    );
    let blob = "profiles/apple/macos-14.4.1/golden_strict_1_file.sb.bin";
    let (code, out, err) = sbcheck_with(&["eval", blob, "--batch", "--explain"], input);
    assert_eq!(code, 1, "one invalid query fails the batch: {err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["verdict"], "deny");
    assert_eq!(
        lines[0]["rule"],
        "(deny file-read* (literal \"/etc/hosts\"))"
    );
    assert_eq!(lines[1]["id"], 2);
    assert_eq!(lines[1]["verdict"], "deny");
    assert!(lines[2]["error"].as_str().unwrap().contains("line 3"));
    assert!(err.contains("1 of 3 queries were invalid"), "{err}");
}
