//! macOS's rule precedence (docs/compiler.md, "Rule precedence"): filtered
//! rules are tried latest first; when none holds, the unfiltered rule that
//! names the operation most closely decides (the operation, then its family,
//! then `default`), the latest of equals, wherever it stands in the source.
//!
//! Checked through `sbcheck eval` (compile, decode, decide on the blob), and
//! against Apple's bytes: moving the default of an Apple profile to its end
//! compiles to the same blob. The matrix rows `homebrew_build`, `codex_agent`
//! and `precedence_default_last` check the same on the Linux engine.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sbcheck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(args)
        .output()
        .unwrap()
}

/// The verdict and the rule `sbcheck eval --json` gives for `src`.
fn eval(src: &str, op: &str, path: Option<&str>) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.sb");
    std::fs::write(&file, src).unwrap();
    let mut args = vec!["eval", file.to_str().unwrap(), op];
    args.extend(path);
    args.push("--json");
    let out = sbcheck(&args);
    assert!(
        out.status.success(),
        "eval {op} {path:?}: {}\n{src}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["verdict"].as_str().unwrap().to_owned(),
        v["rule"].as_str().unwrap_or_default().to_owned(),
    )
}

fn verdict(src: &str, op: &str, path: Option<&str>) -> String {
    eval(src, op, path).0
}

#[track_caller]
fn expect(src: &str, cases: &[(&str, Option<&str>, &str)]) {
    for &(op, path, want) in cases {
        assert_eq!(verdict(src, op, path), want, "{op} {path:?}\n{src}");
    }
}

#[test]
fn allow_default_last_does_not_undo_filtered_denials() {
    let src = "(version 1)\n(deny file-read* (subpath \"/tmp/no\"))\n(allow default)\n";
    expect(
        src,
        &[
            ("file-read-data", Some("/tmp/no/a"), "deny"),
            ("file-read-data", Some("/tmp/yes"), "allow"),
            ("file-write-data", Some("/tmp/no/a"), "allow"),
        ],
    );
}

#[test]
fn deny_default_last_does_not_undo_filtered_or_named_allows() {
    let src = "(version 1)\n\
               (allow file-read* (subpath \"/tmp/ok\"))\n\
               (allow file-read-metadata)\n\
               (allow process-exec*)\n\
               (deny default)\n";
    expect(
        src,
        &[
            ("file-read-data", Some("/tmp/ok/a"), "allow"),
            ("file-read-data", Some("/etc/hosts"), "deny"),
            ("file-read-metadata", Some("/etc/hosts"), "allow"),
            ("process-exec*", Some("/bin/true"), "allow"),
            ("file-write-data", Some("/tmp/ok/a"), "deny"),
        ],
    );
}

/// Homebrew's build sandbox: filtered allows, then `(deny file-write*)`,
/// then `(allow default)`. Its spec: an allowed file can be written, any
/// other cannot.
#[test]
fn homebrews_shape_writes_only_where_allowed() {
    let src = "(version 1)\n\
               (allow file-write* (literal \"/private/tmp/t/foo\"))\n\
               (allow file-write* (literal \"/dev/null\"))\n\
               (deny file-write*)\n\
               (deny file-write-setugid)\n\
               (allow process-exec (literal \"/bin/ps\") (with no-sandbox))\n\
               (allow default)\n";
    expect(
        src,
        &[
            ("file-write-create", Some("/private/tmp/t/foo"), "allow"),
            ("file-write-data", Some("/private/tmp/t/foo"), "allow"),
            ("file-write-create", Some("/private/tmp/t/bar"), "deny"),
            ("file-write-unlink", Some("/private/tmp/t/bar"), "deny"),
            ("file-write-data", Some("/dev/null"), "allow"),
            ("file-write-setugid", Some("/private/tmp/t/foo"), "deny"),
            ("file-read-data", Some("/private/tmp/t/bar"), "allow"),
            ("process-exec*", Some("/bin/ls"), "allow"),
        ],
    );
    let (_, rule) = eval(src, "file-write-data", Some("/private/tmp/t/bar"));
    assert_eq!(rule, "(deny file-write*)");
}

/// Among unfiltered rules the closest name wins, in either order; among
/// equally close ones the latest.
#[test]
fn the_closest_unfiltered_rule_wins_then_the_latest() {
    for src in [
        "(version 1)\n(allow default)\n(deny file-write*)\n(allow file-write-data)\n",
        "(version 1)\n(allow file-write-data)\n(deny file-write*)\n(allow default)\n",
        "(version 1)\n(deny file-write*)\n(allow file-write-data)\n(allow default)\n",
    ] {
        expect(
            src,
            &[
                ("file-write-data", Some("/x"), "allow"),
                ("file-write-create", Some("/x"), "deny"),
                ("file-read-data", Some("/x"), "allow"),
            ],
        );
    }
    // Equally close: the latest.
    expect(
        "(version 1)\n(deny default)\n(allow file-read*)\n(deny file-read*)\n",
        &[("file-read-data", Some("/x"), "deny")],
    );
    expect(
        "(version 1)\n(deny file-read*)\n(allow file-read*)\n(deny default)\n",
        &[("file-read-data", Some("/x"), "allow")],
    );
    // Two defaults: the latest.
    expect(
        "(version 1)\n(allow default)\n(deny default)\n",
        &[("file-read-data", Some("/x"), "deny")],
    );
    // A rule naming a family and one of its members ranks as closely as
    // the member's own rule for that member.
    expect(
        "(version 1)\n(allow default)\n(allow file-write-setugid)\n(deny file-write* file-write-setugid)\n",
        &[
            ("file-write-setugid", Some("/x"), "deny"),
            ("file-write-data", Some("/x"), "deny"),
        ],
    );
}

/// What `(deny default)` allows implicitly is part of the default: a rule
/// naming one of those operations overrides it, before or after the default.
#[test]
fn the_defaults_implicit_allows_rank_as_the_default() {
    for src in [
        "(version 1)\n(deny default)\n(deny process-info*)\n",
        "(version 1)\n(deny process-info*)\n(deny default)\n",
        // As Apple's own profiles write it.
        "(version 1)\n(deny default process-info*)\n",
    ] {
        expect(
            src,
            &[
                ("process-info-pidinfo", None, "deny"),
                // Still allowed: named by nothing but the default.
                ("file-clone", Some("/x"), "allow"),
            ],
        );
    }
}

/// A filtered rule is tried before any unfiltered one, whatever their order.
#[test]
fn filtered_rules_come_before_unfiltered_ones_in_any_order() {
    for src in [
        "(version 1)\n(deny default)\n(allow network-outbound)\n(deny network-outbound (socket-type SOCK_DGRAM))\n",
        "(version 1)\n(deny network-outbound (socket-type SOCK_DGRAM))\n(allow network-outbound)\n(deny default)\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.sb");
        std::fs::write(&file, src).unwrap();
        let run = |t: &str| {
            let out = sbcheck(&[
                "eval",
                file.to_str().unwrap(),
                "network-outbound",
                "--arg",
                &format!("socket-type={t}"),
            ]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(run("SOCK_DGRAM"), "deny", "{src}");
        assert_eq!(run("SOCK_STREAM"), "allow", "{src}");
    }
}

/// The project's copies of Apple's test vectors (a fresh clone has them).
fn apple(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple/macos-14.4.1")
        .join(name)
}

/// Moving the default of Apple's profiles to their end changes nothing:
/// the compiled bytes are still Apple's (the default is the fallback
/// wherever it is written).
#[test]
fn apple_profiles_with_their_default_moved_last_compile_to_apples_bytes() {
    let mut checked = 0;
    for entry in std::fs::read_dir(apple("")).unwrap() {
        let sb = entry.unwrap().path();
        if sb.extension() != Some(std::ffi::OsStr::new("sb")) {
            continue;
        }
        let blob = sb.with_extension("sb.bin");
        let src = std::fs::read_to_string(&sb).unwrap();
        if !blob.exists() || src.contains("param") {
            continue;
        }
        let default = ["(deny default)", "(allow default)"]
            .into_iter()
            .find(|d| src.contains(d))
            .unwrap_or_else(|| panic!("{}: no default", sb.display()));
        let moved = format!("{}\n{default}\n", src.replacen(default, "", 1));
        let bytes = sbcheck::sbpl::compile(&moved, &Default::default())
            .unwrap_or_else(|e| panic!("{}: {e}\n{moved}", sb.display()));
        assert!(
            bytes == std::fs::read(&blob).unwrap(),
            "{}: with the default last, the blob differs from Apple's\n{moved}",
            sb.display()
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} Apple profiles checked");
}

/// Homebrew's own macOS spec (`Library/Homebrew/test/sandbox_spec.rb`),
/// replayed with `sbcheck exec` on the Linux engine: a profile built as
/// `sandbox.rb` builds one (the caller's filtered rules, then the fixed tail
/// ending in `(allow default)`), and `touch` / `chmod` run under it.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn homebrews_sandbox_spec_on_the_linux_engine() {
    let dir = tempfile::Builder::new()
        .prefix("sbcheck-homebrew")
        .tempdir_in("/tmp")
        .unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (allowed, other, writable) = (root.join("foo"), root.join("bar"), root.join("w"));
    std::fs::create_dir(&writable).unwrap();
    std::fs::write(writable.join("f"), "x").unwrap();
    // allow_write(path: foo) and allow_write_path(w): each path for the
    // three operations sandbox.rb names.
    let mut caller = String::new();
    for (kind, p) in [("literal", &allowed), ("subpath", &writable)] {
        for op in ["file-write*", "file-write-setugid", "file-write-mode"] {
            caller.push_str(&format!(
                "(allow {op} ({kind} {:?}))\n",
                p.to_str().unwrap()
            ));
        }
    }
    let profile = format!(
        "(version 1)\n(debug deny)\n{caller}\
         (allow file-write* (literal \"/dev/null\") (regex #\"^/dev/fd/[0-9]+$\"))\n\
         (deny file-write*)\n(deny file-write-setugid)\n(deny file-write-mode)\n\
         (allow process-exec (literal \"/bin/ps\") (with no-sandbox))\n\
         (allow default)\n"
    );
    let sb = root.join("homebrew.sb");
    std::fs::write(&sb, &profile).unwrap();
    let run = |cmd: &[&str]| {
        let mut args = vec!["exec", "--profile", sb.to_str().unwrap(), "--"];
        args.extend(cmd);
        sbcheck(&args).status.success()
    };
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    // "#allow_write": touch of the allowed file succeeds, the file exists.
    assert!(run(&["touch", &s(&allowed)]), "{profile}");
    assert!(allowed.exists());
    // "#run fails when writing to file not specified with ##allow_write".
    assert!(!run(&["touch", &s(&other)]), "{profile}");
    assert!(!other.exists());
    // "#disallow chmod on some directory": chmod of a directory not
    // allowed fails; "allows chmod on a path allowed to write".
    assert!(!run(&["chmod", "ug-w", &s(&root)]), "{profile}");
    assert!(
        run(&["chmod", "ug-w", &s(&writable.join("f"))]),
        "{profile}"
    );
}
