//! `sbcheck exec`, the binary, on the real kernel: the sandbox-exec
//! scenario (`cat /tmp/bar` denied with one logged denial naming the rule,
//! `cat /tmp/foo` printed), a script forking 100 children, exit statuses
//! passed through, an unprivileged run, and a supervisor that dies.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sbcheck");
const DEADLINE: Duration = Duration::from_secs(120);

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A directory every user can read, for profiles, scripts and logs.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sbcheck-exec")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

struct Output {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Waits for `child` (killing it past the deadline) and collects its output.
fn finish(mut child: Child) -> Output {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut stderr = String::new();
    let _ = err.read_to_string(&mut stderr);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("sbcheck exec did not finish in {DEADLINE:?}; stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status: status.code(),
        stdout: reader.join().unwrap(),
        stderr,
    }
}

/// `sbcheck exec`, in the environment of a shell rather than of cargo
/// (whose LD_LIBRARY_PATH would send the loader to its build directories).
fn sbcheck() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("LD_LIBRARY_PATH");
    c
}

fn exec(args: &[&str]) -> Output {
    let child = sbcheck()
        .arg("exec")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}

/// The harness's fixtures, as it creates them (content aside).
fn fixtures() {
    for f in ["/tmp/foo", "/tmp/bar"] {
        if !Path::new(f).exists() {
            let tmp = format!("{f}.{}", std::process::id());
            std::fs::write(&tmp, "sbcheck fixture\n").unwrap();
            let _ = std::fs::rename(&tmp, f);
        }
    }
}

/// v11_read_subpath plus the runtime a dynamically linked program needs.
fn v11_runtime(dir: &Path) -> PathBuf {
    let p = dir.join("v11-runtime.sb");
    write(
        &p,
        &format!(
            "(import \"{}\")\n(import \"{}\")\n",
            repo("profiles/v11_read_subpath.sb").display(),
            repo("profiles/linux-runtime.sb").display()
        ),
    );
    p
}

/// `p.sb` in `dir`: deny by default, the runtime a dynamically linked
/// program needs, and reads of `allowed`.
fn runtime_allowing(dir: &Path, allowed: &Path) -> PathBuf {
    let p = dir.join("p.sb");
    write(
        &p,
        &format!(
            "(version 1)\n(deny default)\n(import \"{}\")\n(allow file-read* (literal \"{}\"))\n",
            repo("profiles/linux-runtime.sb").display(),
            allowed.display()
        ),
    );
    p
}

/// Whether `sbcheck exec` run by this user may ask idle CPUs to poll: it
/// may write the PM QoS device (root's alone, mode 0600).
fn may_poll_idle_cpus() -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/cpu_dma_latency")
        .is_ok()
}

#[test]
fn cat_of_a_denied_file_fails_logs_one_denial_and_exits_with_cats_status() {
    fixtures();
    let dir = open_dir();
    let profile = v11_runtime(dir.path());
    let log = dir.path().join("log");
    let profile = profile.to_str().unwrap();
    let out = exec(&[
        "--profile",
        profile,
        "--log",
        log.to_str().unwrap(),
        "--",
        "cat",
        "/tmp/bar",
    ]);
    assert_eq!(out.status, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "cat: /tmp/bar: Operation not permitted\n");
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().collect();
    assert_eq!(lines.len(), 1, "{logged}");
    assert!(lines[0].starts_with("Sandbox: cat("), "{logged}");
    assert!(
        lines[0].ends_with(") deny(1) file-read-data /tmp/bar ;; (deny default)"),
        "{logged}"
    );
    // Without --log the denial goes to stderr, before cat's own message.
    let out = exec(&["--profile", profile, "--", "cat", "/tmp/bar"]);
    assert_eq!(out.status, Some(1));
    let err: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(err.len(), 2, "{}", out.stderr);
    assert!(err[0].contains("deny(1) file-read-data /tmp/bar ;; (deny default)"));
    assert_eq!(err[1], "cat: /tmp/bar: Operation not permitted");
}

#[test]
fn cat_of_an_allowed_file_prints_it() {
    fixtures();
    let dir = open_dir();
    let profile = v11_runtime(dir.path());
    let log = dir.path().join("log");
    let out = exec(&[
        "--profile",
        profile.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--",
        "cat",
        "/tmp/foo",
    ]);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, std::fs::read_to_string("/tmp/foo").unwrap());
    assert_eq!(out.stderr, "");
    assert_eq!(std::fs::read_to_string(&log).unwrap_or_default(), "");
}

#[test]
fn the_exec_itself_is_checked() {
    fixtures();
    let out = exec(&[
        "--profile",
        repo("profiles/v11_read_subpath.sb").to_str().unwrap(),
        "--",
        "cat",
        "/tmp/foo",
    ]);
    assert_eq!(out.status, Some(126), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("deny(1) process-exec* /usr/bin/cat ;; (deny default)")
            || out
                .stderr
                .contains("deny(1) process-exec* /bin/cat ;; (deny default)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("sbcheck: cat: Operation not permitted"),
        "{}",
        out.stderr
    );
}

#[test]
fn exit_statuses_pass_through() {
    let dir = open_dir();
    let profile = v11_runtime(dir.path());
    let p = profile.to_str().unwrap();
    assert_eq!(
        exec(&["--profile", p, "--", "sh", "-c", "exit 42"]).status,
        Some(42)
    );
    assert_eq!(
        exec(&["--profile", p, "--", "sh", "-c", "kill -TERM $$"]).status,
        Some(128 + 15)
    );
    let missing = exec(&["--profile", p, "--", "no-such-command-sbcheck"]);
    assert_eq!(missing.status, Some(127));
    assert!(
        missing.stderr.contains("No such file or directory"),
        "{}",
        missing.stderr
    );
    let linux = exec(&["--profile", p, "--backend", "seatbelt", "--", "true"]);
    assert_eq!(linux.status, Some(2));
    assert!(
        linux.stderr.contains("libsandbox: cannot load"),
        "{}",
        linux.stderr
    );
}

/// Processes whose environment carries `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(env) = std::fs::read(entry.path().join("environ")) {
            if env.split(|&b| b == 0).any(|kv| kv == marker.as_bytes()) {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn a_script_forking_100_children_gets_100_allows_and_100_denials_and_leaves_nothing() {
    let dir = open_dir();
    let d = dir.path();
    write(&d.join("allowed"), "ok\n");
    write(&d.join("denied"), "secret\n");
    let script = d.join("fork100.sh");
    write(
        &script,
        &format!(
            "i=0\n\
             while [ $i -lt 100 ]; do\n\
             \t( if read x < {a}; then echo allowed-ok; fi\n\
             \t  if {{ read y < {dn}; }} 2>/dev/null; then echo denied-read; else echo denied-refused; fi ) &\n\
             \ti=$((i+1))\n\
             done\n\
             wait\n",
            a = d.join("allowed").display(),
            dn = d.join("denied").display()
        ),
    );
    let profile = d.join("p.sb");
    write(
        &profile,
        &format!(
            "(version 1)\n(deny default)\n(import \"{}\")\n\
             (allow file-read* (literal \"{}\") (literal \"{}\"))\n",
            repo("profiles/linux-runtime.sb").display(),
            script.display(),
            d.join("allowed").display()
        ),
    );
    let log = d.join("log");
    let marker = format!("SBCHECK_TEST_MARKER={}", d.display());
    let child = sbcheck()
        .args([
            "exec",
            "--profile",
            profile.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .args(["--", "sh", script.to_str().unwrap()])
        .env("SBCHECK_TEST_MARKER", d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let count = |what: &str| out.stdout.lines().filter(|l| *l == what).count();
    assert_eq!(count("allowed-ok"), 100, "{}", out.stdout);
    assert_eq!(count("denied-refused"), 100, "{}", out.stdout);
    assert_eq!(count("denied-read"), 0);
    let logged = std::fs::read_to_string(&log).unwrap();
    let denials = logged
        .lines()
        .filter(|l| l.contains(&format!("deny(1) file-read-data {}/denied ", d.display())))
        .count();
    assert_eq!(denials, 100, "{logged}");
    assert!(!logged.contains("/allowed"), "{logged}");
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[test]
fn background_processes_stay_supervised_after_the_command_exits() {
    let dir = open_dir();
    let d = dir.path();
    write(&d.join("allowed"), "ok\n");
    let profile = runtime_allowing(d, &d.join("allowed"));
    let marker = format!("SBCHECK_TEST_MARKER={}", d.display());
    let script = format!(
        "( sleep 0.3; read x < {a} && echo late-ok; read y < /etc/shadow || echo late-denied ) & exit 0",
        a = d.join("allowed").display()
    );
    let child = sbcheck()
        .args([
            "exec",
            "--profile",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env("SBCHECK_TEST_MARKER", d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "late-ok\nlate-denied\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("deny(1) file-read-data /etc/shadow"),
        "{}",
        out.stderr
    );
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

/// Runs as `nobody` when the tests run as root (dropping privileges in the
/// forked child before exec), as the current user otherwise.
#[test]
fn an_unprivileged_user_can_sandbox_a_command() {
    use std::os::unix::process::CommandExt;
    let dir = open_dir();
    let d = dir.path();
    write(&d.join("allowed"), "ok for anyone\n");
    write(&d.join("denied"), "not for the sandbox\n");
    let profile = runtime_allowing(d, &d.join("allowed"));
    let log = d.join("log");
    // SAFETY-free: geteuid through /proc, so the test needs no unsafe.
    let uid: u32 = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(|s| s.parse().unwrap()))
        .unwrap();
    let nobody = 65534;
    let script = format!(
        "id -u; cat {a}; cat {dn}; echo status $?",
        a = d.join("allowed").display(),
        dn = d.join("denied").display()
    );
    let mut cmd = sbcheck();
    cmd.args([
        "exec",
        "--profile",
        profile.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
    ])
    .args(["--", "sh", "-c", &script])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let expected_uid = if uid == 0 {
        cmd.uid(nobody).gid(nobody);
        nobody
    } else {
        uid
    };
    let out = finish(cmd.spawn().unwrap());
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{expected_uid}\nok for anyone\nstatus 1\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "{}",
        out.stderr
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(&format!("deny(1) file-read-data {}/denied", d.display())),
        "{logged}"
    );
}

#[test]
fn a_dead_supervisor_fails_closed() {
    let dir = open_dir();
    let d = dir.path();
    write(&d.join("allowed"), "ok\n");
    let profile = runtime_allowing(d, &d.join("allowed"));
    let a = d.join("allowed");
    let script = format!(
        "read x < {a} && echo first-ok; read line; \
         if read y < {a}; then echo second-ok; else echo second-failed; fi",
        a = a.display()
    );
    let mut child = sbcheck()
        .args([
            "exec",
            "--profile",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "first-ok\n");
    // The supervisor dies; the sandboxed shell lives on (wait would close
    // its stdin: take it first).
    let mut stdin = child.stdin.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let start = Instant::now();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(start.elapsed() < DEADLINE);
    assert_eq!(rest, "second-failed\n");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("Function not implemented"), "{err}");
}

/// The supervisor resolves paths with the kernel's own lookup where that
/// is exact (issue 18): through symlinks (absolute, relative, to files and
/// directories), `..` after a symlink, dirfd-relative names (find), a
/// missing name and `file/`, an exec's `#!` interpreter through a symlink;
/// every verdict is on the file reached, as with the walk.
#[test]
fn symlinks_dotdot_and_dirfds_are_decided_on_the_file_reached() {
    let dir = open_dir();
    let d = dir.path().canonicalize().unwrap();
    let r = d.display();
    for sub in ["allowed/sub", "secret"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    write(&d.join("allowed/a.txt"), "allowed\n");
    write(&d.join("allowed/sub/b.txt"), "sub\n");
    write(&d.join("secret/s.txt"), "secret\n");
    std::fs::copy("/bin/sh", d.join("secret/sh")).unwrap();
    for (link, to) in [
        ("allowed/ln", "../secret/s.txt".to_string()),
        ("allowed/lnd", "../secret".into()),
        ("allowed/abs", format!("{r}/allowed/a.txt")),
        ("allowed/sh", format!("{r}/secret/sh")),
    ] {
        std::os::unix::fs::symlink(to, d.join(link)).unwrap();
    }
    let script = |name: &str, interp: &str| {
        let p = d.join("allowed").join(name);
        write(&p, &format!("#!{interp}\necho ran {name}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script("good.sh", "/bin/sh");
    script("bad.sh", &format!("{r}/allowed/sh"));
    let profile = d.join("p.sb");
    write(
        &profile,
        &format!(
            "(version 1)\n(deny default)\n(import \"{}\")\n\
             (allow file-read-metadata)\n\
             (allow file-read* (literal \"{r}\") (subpath \"{r}/allowed\"))\n\
             (allow process-exec* (subpath \"{r}/allowed\"))\n",
            repo("profiles/linux-runtime.sb").display()
        ),
    );
    let log = d.join("log");
    let commands = [
        "cd allowed && cat a.txt sub/b.txt",
        "cat allowed/ln",
        "cat allowed/lnd/../allowed/a.txt",
        "cat secret/../allowed/sub/../a.txt",
        "cat allowed/abs",
        "cat allowed/lnd/s.txt",
        "cat allowed/missing",
        "cat allowed/a.txt/",
        "allowed/good.sh",
        "allowed/bad.sh",
        "find allowed | sort",
        "ls allowed/lnd/",
    ];
    let body: String = commands
        .iter()
        .map(|c| format!("echo \"> {c}\"; ({c}) 2>&1 | sed 's/^[^:]*: //'; "))
        .collect();
    let out = exec(&[
        "--profile",
        profile.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &format!("cd {r} && {body}"),
    ]);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let expected = "> cd allowed && cat a.txt sub/b.txt\nallowed\nsub\n\
         > cat allowed/ln\nallowed/ln: Operation not permitted\n\
         > cat allowed/lnd/../allowed/a.txt\nallowed\n\
         > cat secret/../allowed/sub/../a.txt\nallowed\n\
         > cat allowed/abs\nallowed\n\
         > cat allowed/lnd/s.txt\nallowed/lnd/s.txt: Operation not permitted\n\
         > cat allowed/missing\nallowed/missing: No such file or directory\n\
         > cat allowed/a.txt/\nallowed/a.txt/: Not a directory\n\
         > allowed/good.sh\nran good.sh\n\
         > allowed/bad.sh\n";
    assert!(out.stdout.starts_with(expected), "{}", out.stdout);
    // The shell words its exec failure its own way; the script never ran.
    let rest = &out.stdout[expected.len()..];
    let (bad, rest) = rest.split_once("> find allowed | sort\n").unwrap();
    assert!(
        bad.contains("Operation not permitted") && !bad.contains("ran"),
        "{bad}"
    );
    // find walks the allowed tree by dirfd (symlinks are listed, not
    // followed); ls of a symlink into the denied directory is refused.
    let listed = "allowed\nallowed/a.txt\nallowed/abs\nallowed/bad.sh\nallowed/good.sh\n\
                  allowed/ln\nallowed/lnd\nallowed/sh\nallowed/sub\nallowed/sub/b.txt\n";
    let (found, ls) = rest.split_once("> ls allowed/lnd/\n").unwrap();
    assert_eq!(found, listed);
    assert!(ls.contains("Operation not permitted"), "{ls}");
    // Each denial names the real path.
    let logged = std::fs::read_to_string(&log).unwrap();
    for denied in [
        format!("file-read-data {r}/secret/s.txt"),
        format!("process-exec-interpreter {r}/secret/sh"),
        format!("file-read-data {r}/secret"),
    ] {
        assert!(logged.contains(&denied), "{denied} not in {logged}");
    }
    assert_eq!(logged.lines().count(), 4, "{logged}");
}

/// Whether process `pid` holds an fd open on `/dev/cpu_dma_latency`.
fn holds_latency_request(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| l == Path::new("/dev/cpu_dma_latency"))
            })
        })
        .unwrap_or(false)
}

/// While the command runs, `sbcheck exec` holds a CPU latency request
/// (idle CPUs poll) where it may, and not with `--no-idle-poll` or on one
/// CPU. Seen from outside: the supervisor's fds, while the command waits
/// on its stdin.
#[test]
fn exec_holds_idle_cpus_polling_where_it_may() {
    let dir = open_dir();
    let profile = dir.path().join("p.sb");
    write(
        &profile,
        &format!(
            "(version 1)\n(deny default)\n(import \"{}\")\n",
            repo("profiles/linux-runtime.sb").display()
        ),
    );
    let may = may_poll_idle_cpus();
    if !may {
        eprintln!("no /dev/cpu_dma_latency for this user: only its absence is checked");
    }
    for (extra, expected) in [
        (&[][..], may),
        (&["--no-idle-poll"][..], false),
        (&["--cpus", "0"][..], false),
    ] {
        let mut child = sbcheck()
            .args(["exec", "--profile", profile.to_str().unwrap()])
            .args(extra)
            .args(["--", "sh", "-c", "read x; echo $x"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The command is running once its shell reads: wait until sbcheck
        // has set up (its fds settle) by giving it a moment, then look.
        let started = Instant::now();
        let mut held = holds_latency_request(child.id());
        while expected && !held && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
            held = holds_latency_request(child.id());
        }
        if !expected {
            std::thread::sleep(Duration::from_millis(200));
            held = holds_latency_request(child.id());
        }
        child.stdin.take().unwrap().write_all(b"done\n").unwrap();
        let out = finish(child);
        assert_eq!(out.status, Some(0), "{extra:?}: {}", out.stderr);
        assert_eq!(out.stdout, "done\n", "{extra:?}: {}", out.stderr);
        assert_eq!(held, expected, "{extra:?}: latency request held");
    }
}

/// Four loops at once, each opening an allowed and a denied file 150
/// times: every call is answered as the profile says and every denial
/// logged whole, whichever thread of the supervisor answers (where idle
/// CPUs poll, worker threads join in once the calls overlap: seen from
/// outside as more than one thread in sbcheck).
#[test]
fn overlapping_calls_are_each_answered_and_logged_once() {
    let dir = open_dir();
    let d = dir.path();
    write(&d.join("allowed"), "ok\n");
    write(&d.join("denied"), "secret\n");
    let profile = runtime_allowing(d, &d.join("allowed"));
    let log = d.join("log");
    let (a, x) = (d.join("allowed"), d.join("denied"));
    let script = format!(
        "for j in 1 2 3 4; do ( i=0; while [ $i -lt 150 ]; do read l < {a} || echo MISSED; \
         read s < {x} 2>/dev/null && echo LEAK; i=$((i+1)); done; echo done$j ) & done; wait",
        a = a.display(),
        x = x.display()
    );
    let child = sbcheck()
        .args(["exec", "--profile", profile.to_str().unwrap(), "--log"])
        .arg(&log)
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        let mut most = 0;
        while let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            most = most.max(tasks.count());
            std::thread::sleep(Duration::from_millis(5));
        }
        most
    });
    let out = finish(child);
    let threads = watcher.join().unwrap();
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["done1", "done2", "done3", "done4"],
        "{}",
        out.stdout
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    // (The shell's own look at its cwd is denied too, once or so.)
    let denials: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains(x.to_str().unwrap()))
        .collect();
    let tail = format!(") deny(1) file-read-data {} ;; (deny default)", x.display());
    assert_eq!(denials.len(), 600, "{logged}");
    assert!(
        denials
            .iter()
            .all(|l| l.starts_with("Sandbox: sh(") && l.ends_with(&tail)),
        "{logged}"
    );
    let polls = may_poll_idle_cpus();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if polls && cpus > 1 {
        assert!(threads >= 2, "workers beside the main thread: {threads}");
    } else {
        eprintln!("single-threaded supervisor here (not root, or one CPU): {threads} thread(s)");
    }
}
