//! The notify floor (`sbcheck::apply::linux::floor`), the yardstick of
//! `cargo bench --bench workloads`: it must run real commands correctly, or
//! its timings say nothing. Each test re-runs this test binary as the
//! floor's launcher (the floor exits its process with the command's status).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::process::Command;

/// Set in the re-run test binary: the command the floor runs.
const CMD: &str = "SBCHECK_FLOOR_CMD";

/// Runs `script` with `sh -c` under the floor, with sbcheck's filter for a
/// deny-default profile (every file call notified); its status and stdout.
fn under_floor(test: &str, script: &str, dir: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CMD, script)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), stdout)
}

/// In the re-run binary: become the launcher (never returns).
fn launcher_if_asked() {
    let Ok(script) = std::env::var(CMD) else {
        return;
    };
    let blob = sbcheck::sbpl::compile("(version 1) (deny default)", &Default::default()).unwrap();
    let profile = sbcheck::blob::Profile::decode(&blob).unwrap();
    let filter = sbcheck::apply::linux::filter_for(&profile);
    let argv = ["/bin/sh".to_owned(), "-c".to_owned(), script];
    sbcheck::apply::linux::floor::exec(&filter, &argv)
}

#[test]
fn the_floor_runs_a_command_and_passes_its_status_on() {
    launcher_if_asked();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "floor\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/deep.txt"), "deeper\n").unwrap();
    // A relative open (against the cwd), one below a directory fd (find
    // opens each directory relative to its parent's), the filter present
    // (Seccomp 2), and the status.
    let (code, out) = under_floor(
        "the_floor_runs_a_command_and_passes_its_status_on",
        "cat in.txt; find . -name deep.txt -exec cat {} \\; ; \
         grep '^Seccomp:' /proc/self/status; exit 7",
        dir.path(),
    );
    assert_eq!(code, Some(7), "{out}");
    assert!(out.contains("floor\n"), "{out}");
    assert!(out.contains("deeper\n"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
}

#[test]
fn an_injected_open_keeps_the_callers_flags_and_errors() {
    launcher_if_asked();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "x\n").unwrap();
    std::os::unix::fs::symlink("in.txt", dir.path().join("link")).unwrap();
    // fd 3 of the shell, opened by the floor: O_NONBLOCK (which the floor
    // opens with, so no FIFO can stall it) is dropped again. A path through a
    // symlink is followed; a missing file fails as the kernel fails it.
    let (code, out) = under_floor(
        "an_injected_open_keeps_the_callers_flags_and_errors",
        "exec 3<in.txt; grep '^flags:' /proc/self/fdinfo/3; cat link; \
         cat missing 2>/dev/null || echo missing-failed",
        dir.path(),
    );
    assert_eq!(code, Some(0), "{out}");
    // (libtest's "test NAME ... " has no newline: the line starts after it.)
    let flags = out
        .split_once("flags:")
        .and_then(|(_, f)| f.split_whitespace().next())
        .map(|f| u32::from_str_radix(f, 8).unwrap())
        .unwrap_or_else(|| panic!("no flags line: {out}"));
    assert_eq!(flags & libc::O_NONBLOCK as u32, 0, "{out}");
    assert!(out.contains("x\nmissing-failed"), "{out}");
}
