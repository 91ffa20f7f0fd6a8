//! `sbcheck run` stopped mid-way (SIGKILL, or Ctrl-C's SIGINT) leaves
//! complete, parseable out/ files for the cells that finished, no probe
//! behind, and a rerun gives complete files (issue 8).
//!
//! The matrix alternates quick cells with cells whose probe blocks on a
//! FIFO until the per-cell timeout, so a run with one job takes long enough
//! to be stopped in the middle. Also: the per-cell timeout kills the
//! probe's whole process group.

#![cfg(target_os = "linux")]

mod sandboxed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PAIRS: usize = 8;

struct Setup {
    _dir: tempfile::TempDir,
    matrix: PathBuf,
    out: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut probes = Vec::new();
    for i in 0..PAIRS {
        probes.push(
            serde_json::json!({ "name": format!("read_foo_{i}"), "operation": "file-read*",
            "target": "/tmp/foo", "expected": "allow" }),
        );
        probes.push(
            serde_json::json!({ "name": format!("read_fifo_{i}"), "operation": "file-read*",
            "target": fifo, "expected": "allow" }),
        );
    }
    let matrix = serde_json::json!({
        "fixtures": ["/tmp/foo"],
        "profiles": { "v1_read": {
            "source": Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/v1_read.sb"),
            "probes": probes,
        }}
    });
    let file = dir.path().join("matrix.json");
    std::fs::write(&file, matrix.to_string()).unwrap();
    let out = dir.path().join("out");
    Setup {
        matrix: file,
        out,
        _dir: dir,
    }
}

fn start(s: &Setup) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(["run", "--jobs", "1", "--timeout", "150", "--matrix"])
        .arg(&s.matrix)
        .arg("--out")
        .arg(&s.out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn traces(out: &Path) -> Vec<PathBuf> {
    files(&out.join("traces"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

/// Waits until `n` traces exist (the run is mid-way).
fn wait_for_traces(out: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while traces(out).len() < n {
        assert!(Instant::now() < deadline, "no traces appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every JSON file parses, and nothing else but the report is there.
fn assert_all_parse(out: &Path) {
    for f in files(out) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        match f.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                let text = std::fs::read(&f).unwrap();
                let v: serde_json::Value = serde_json::from_slice(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                if f.parent().unwrap().parent().unwrap().ends_with("traces") {
                    assert_eq!(v["schema"], 1, "{}", f.display());
                    assert!(v["observed"]["kind"].is_string(), "{}", f.display());
                }
            }
            Some("html" | "md") => {}
            // A killed writer's temporary file: allowed, never a .json.
            Some("tmp") if name.starts_with('.') => {}
            _ => panic!("unexpected file {}", f.display()),
        }
    }
}

/// Processes still running whose command line names `out` (a forked
/// probe keeps sbcheck's command line).
fn leftovers(out: &Path) -> Vec<String> {
    let needle = out.to_string_lossy().into_owned();
    let entries = std::fs::read_dir("/proc").unwrap().flatten();
    entries
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let zombie = state.rsplit(')').next()?.trim_start().starts_with('Z');
            (cmd.contains(&needle) && !zombie).then(|| format!("{pid}: {cmd}"))
        })
        .collect()
}

/// Reruns to the end: every cell has its trace and a result.
fn rerun_is_complete(s: &Setup) {
    let o = start(s).wait_with_output().unwrap();
    // The FIFO cells time out: mismatches, so exit 1, but a complete run.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_all_parse(&s.out);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.out.join("runtime_results.json")).unwrap())
            .unwrap();
    assert_eq!(results["summary"]["cells"], 2 * PAIRS);
    assert_eq!(traces(&s.out).len(), 2 * PAIRS);
    let tmp: Vec<PathBuf> = files(&s.out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(tmp.is_empty(), "stale temporary files: {tmp:?}");
}

#[test]
fn killed_mid_way_leaves_parseable_files_and_a_rerun_completes() {
    let s = setup();
    let mut child = start(&s);
    wait_for_traces(&s.out, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    let done = traces(&s.out).len();
    assert!(done < 2 * PAIRS, "the run finished before it was killed");
    assert_all_parse(&s.out);
    // The probe that was blocked on the FIFO died with its supervisor.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !leftovers(&s.out).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(leftovers(&s.out), Vec::<String>::new());
    rerun_is_complete(&s);
}

#[test]
fn ctrl_c_writes_the_finished_cells_and_exits_130() {
    let s = setup();
    let child = start(&s);
    wait_for_traces(&s.out, 3);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted:"), "{stderr}");
    assert_all_parse(&s.out);
    // The results list exactly the finished cells, each with its trace.
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.out.join("runtime_results.json")).unwrap())
            .unwrap();
    let cells = results["cells"].as_array().unwrap();
    assert!(
        !cells.is_empty() && cells.len() < 2 * PAIRS,
        "{}",
        cells.len()
    );
    assert_eq!(results["summary"]["cells"], cells.len());
    for c in cells {
        let trace = s.out.join(format!(
            "traces/v1_read/{}.json",
            c["probe"].as_str().unwrap()
        ));
        assert!(trace.exists(), "{}", trace.display());
    }
    assert_eq!(traces(&s.out).len(), cells.len());
    rerun_is_complete(&s);
}

/// Whether `pid` is gone (or a zombie nobody reaped: dead all the same).
fn dead(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// The per-cell timeout SIGKILLs the probe's whole process group, and a
/// cell that ends leaves nothing of its group running: a grandchild that
/// sleeps is gone either way.
#[test]
fn the_timeout_and_the_end_of_a_cell_kill_the_whole_group() {
    use sbcheck::apply::linux::calls;
    use sbcheck::apply::linux::{Filter, Options, Supervisor};
    use sbcheck::apply::process::{run_supervised, Ending};
    use sbcheck::apply::sys::Shared;
    let profile = sandboxed::compile("(version 1)(allow default)");
    for child_blocks in [true, false] {
        let pids = Shared::new(1).unwrap();
        let body = || -> i32 {
            match calls::fork() {
                Ok(0) => {
                    let _ = calls::sleep_ms(60_000);
                    calls::exit_group(0)
                }
                Ok(pid) => pids.set(0, pid as u64),
                Err(e) => return e,
            }
            if child_blocks {
                let _ = calls::sleep_ms(60_000);
            }
            0
        };
        let mut sup = Supervisor::new(&profile, Options::default());
        let started = Instant::now();
        let ending =
            run_supervised(&Filter::new(), &mut sup, Duration::from_millis(300), &body).unwrap();
        let want = if child_blocks {
            Ending::TimedOut
        } else {
            Ending::Reported { result: 0 }
        };
        assert_eq!(ending, want);
        assert!(started.elapsed() < Duration::from_secs(5));
        let grandchild = pids.get(0);
        assert!(grandchild > 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !dead(grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            dead(grandchild),
            "grandchild {grandchild} survived (child blocks: {child_blocks})"
        );
    }
}
