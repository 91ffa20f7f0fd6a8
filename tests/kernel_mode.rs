//! `sbcheck exec --kernel` on the real kernel: an expressible profile
//! enforced by Landlock (allowed reads and writes work, denied ones fail
//! with EACCES where the supervised mode says EPERM), and profiles Landlock
//! cannot express refused with the rule named, the command never started.
//! Skips, saying why, on a kernel without Landlock ABI 3.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use sbcheck::apply::linux::landlock;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sbcheck");

fn landlock_missing() -> Option<String> {
    match landlock::abi() {
        Ok(v) if v >= landlock::MIN_ABI => None,
        Ok(v) => Some(format!("Landlock ABI {v} < {}", landlock::MIN_ABI)),
        Err(e) => Some(format!(
            "no Landlock: {}",
            std::io::Error::from_raw_os_error(e)
        )),
    }
}

/// A directory under /tmp (resolved: rules through symlinks grant nothing).
fn workdir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("sbcheck-kernel")
        .tempdir_in("/tmp")
        .unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(real.join("allowed")).unwrap();
    std::fs::write(real.join("allowed/in.txt"), "inside\n").unwrap();
    std::fs::write(real.join("secret.txt"), "secret\n").unwrap();
    (dir, real)
}

fn profile(dir: &Path, rules: &str) -> std::path::PathBuf {
    let text = format!(
        "(version 1) (deny default) (allow process-exec* process-fork)\n\
         (allow file-read-metadata)\n\
         (allow file-read* (subpath \"/usr\") (subpath \"/etc\") (subpath \"/proc\") \
         (subpath \"/dev\") (subpath \"{0}/allowed\"))\n\
         (allow file-write* (subpath \"{0}/allowed\") (literal \"/dev/null\"))\n{rules}\n",
        dir.display()
    );
    let path = dir.join("p.sb");
    std::fs::write(&path, text).unwrap();
    path
}

fn sbcheck(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn sh(profile: &Path, kernel: bool, script: &str) -> Output {
    let p = profile.to_str().unwrap();
    let mut args = vec!["exec", "--profile", p];
    if kernel {
        args.push("--kernel");
    }
    args.extend(["--", "/usr/bin/sh", "-c", script]);
    sbcheck(&args)
}

#[test]
fn an_expressible_profile_is_enforced_by_landlock_with_eacces() {
    if let Some(why) = landlock_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let (_keep, dir) = workdir();
    let p = profile(&dir, "");
    let d = dir.display();
    let script = format!(
        "/usr/bin/cat {d}/allowed/in.txt && echo out > {d}/allowed/new.txt && \
         /usr/bin/cat {d}/allowed/new.txt; /usr/bin/cat {d}/secret.txt; \
         echo no > {d}/made.txt; /usr/bin/ls {d} >/dev/null; exit 0"
    );
    let out = sh(&p, true, &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "inside\nout\n", "stderr: {stderr}");
    assert!(out.status.success(), "{stderr}");
    // Three denials (read, create, list), each EACCES, and no log line:
    // Landlock reports nothing.
    assert_eq!(stderr.matches("Permission denied").count(), 3, "{stderr}");
    assert!(!stderr.contains("deny("), "{stderr}");
    assert!(!dir.join("made.txt").exists());
    // Opens pass in the filter only because nothing under /proc is
    // writable: not the supervisor's memory either.
    let out = sh(
        &p,
        true,
        "/usr/bin/head -c1 /proc/self/status >/dev/null && echo self; \
         echo x > /proc/$PPID/mem; exit 0",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "self\n", "{stderr}");
    assert_eq!(stderr.matches("Permission denied").count(), 1, "{stderr}");
    // The supervised mode denies the same read with EPERM and logs it.
    let out = sh(&p, false, &format!("/usr/bin/cat {d}/secret.txt"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert!(stderr.contains("deny(1) file-read-data"), "{stderr}");
}

#[test]
fn inexpressible_profiles_are_refused_naming_the_rule() {
    let (_keep, dir) = workdir();
    let cases = [
        (
            "(allow file-read* (regex #\"^/opt/.*\\.txt$\"))",
            "(regex #\"^/opt/.*\\.txt$\")",
        ),
        (
            "(deny file-read* (subpath \"/usr/share\"))",
            "file-read-data (subpath \"/usr/share\")",
        ),
    ];
    for (extra, named) in cases {
        // A later rule wins in SBPL: the extra rule comes last.
        let p = profile(&dir, extra);
        let marker = dir.join("ran");
        let out = sh(&p, true, &format!("echo > {}", marker.display()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra}: {stderr}");
        assert!(
            stderr.contains("--kernel") && stderr.contains(named),
            "{extra}: {stderr}"
        );
        assert!(!marker.exists(), "{extra}: the command ran");
    }
}
