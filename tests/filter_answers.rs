//! The filter's own answers (src/apply/linux/answers.rs) on every profile we
//! have: the project's, the matrix's, Apple's blobs and Apple's system
//! profiles in ../shared. For each, the filter built with its answers and
//! the one without are run on every syscall number: they may differ only on
//! intercepted calls, only NOTIFY becoming ALLOW, and only where every check
//! the supervisor could make for that call (every open flag combination,
//! every sample path and vnode type) is an unreported allow, which is what
//! the supervisor would have answered.

use sbcheck::apply::linux::answers::{
    allowed_in_filter, depends_on_arguments, opens_or_execs, reported,
};
use sbcheck::apply::linux::bpf::{run, Filter, AUDIT_ARCH_X86_64, RET_ALLOW, RET_USER_NOTIF};
use sbcheck::apply::linux::op_in;
use sbcheck::apply::linux::syscalls::{self, op, Kind};
use sbcheck::blob::Profile;
use sbcheck::decision::{evaluate, Args, Verdict};
use sbcheck::sbpl::compile_file_with;
use sbcheck::sbpl::eval::SearchPath;
use sbcheck::vocab::{filter, OpId};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` (recursively) whose name ends with `suffix`.
fn files(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, suffix, out);
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
}

/// Every profile that compiles or decodes, named by its file.
fn corpus() -> Vec<(PathBuf, Profile)> {
    let shared = root().join("../shared");
    let mut sources = Vec::new();
    files(&root().join("profiles"), ".sb", &mut sources);
    files(&shared.join("realworld"), ".sb", &mut sources);
    let mut blobs = Vec::new();
    files(&root().join("profiles"), ".bin", &mut blobs);
    files(&shared.join("apple-blobs"), ".bin", &mut blobs);
    let mut out = Vec::new();
    let apple = shared.join("realworld/apple-macos-10.15.2");
    let search = SearchPath(vec![
        apple.join("Profiles"),
        apple.join("usr-share-sandbox"),
    ]);
    for path in sources {
        // A profile that needs parameters we do not give (or a library
        // file on its own) does not compile and is not counted.
        if let Ok(blob) = compile_file_with(&path, &Default::default(), &search) {
            out.push((path, Profile::decode(&blob).unwrap()));
        }
    }
    for path in blobs {
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(p) = Profile::decode(&bytes) {
            out.push((path, p));
        }
    }
    out
}

/// Argument sets that reach each of a syscall's filter branches (clone as a
/// thread and as a fork; prctl's capability options and another).
fn argument_sets() -> Vec<[u64; 6]> {
    let mut sets = vec![[0; 6]];
    for a0 in [
        libc::SIGCHLD as u64,
        (libc::CLONE_VM | libc::CLONE_THREAD) as u64,
        libc::PR_CAPBSET_DROP as u64,
        libc::PR_SET_NAME as u64,
    ] {
        sets.push([a0, 0, 0, 0, 0, 0]);
    }
    // ioctl and fcntl commands the filter refuses, judges or passes:
    // TIOCSTI, FS_IOC_SETFLAGS, FIONREAD; F_SETOWN, F_GETFL.
    for a1 in [
        libc::TIOCSTI,
        0x4008_6602,
        libc::FIONREAD,
        libc::F_SETOWN as u64,
        libc::F_GETFL as u64,
    ] {
        sets.push([0, a1, 0, 0, 0, 0]);
    }
    // prlimit64 of another process's limits, with a new limit.
    sets.push([1, 4, 0x1000, 0, 0, 0]);
    sets
}

const PATHS: &[&[u8]] = &[
    b"/",
    b"/etc/passwd",
    b"/usr/lib/x86_64-linux-gnu/libc.so.6",
    b"/tmp/x",
    b"/private/tmp/x",
    b"/dev/null",
    b"/proc/self/status",
    b"/Users/me/Library/Preferences/x.plist",
    b"/System/Library/Frameworks/x",
    b"/var/mobile/Containers/Data",
    b"",
];

/// Every operation the supervisor's judgement of `kind` checks, spelled out
/// from the judge functions (not from answers.rs): opens through
/// `syscalls::open_operations` over every flag that changes its result.
fn checked_operations(kind: Kind) -> Vec<OpId> {
    match kind {
        Kind::Open { .. } => {
            let mut ops = Vec::new();
            let accesses = [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR];
            let extras = [
                0,
                libc::O_CREAT,
                libc::O_TRUNC,
                libc::O_APPEND,
                libc::O_PATH,
                libc::O_TMPFILE,
            ];
            for a in accesses {
                for x in extras {
                    for exists in [false, true] {
                        ops.extend_from_slice(
                            syscalls::open_operations((a | x) as u64, exists).as_slice(),
                        );
                    }
                }
            }
            ops.sort_unstable();
            ops.dedup();
            ops
        }
        // judge_file: an exec checks its #! interpreters and its loader.
        Kind::Path {
            op: op::PROCESS_EXEC,
            ..
        } => vec![
            op::PROCESS_EXEC,
            op::PROCESS_EXEC_INTERPRETER,
            op::FILE_READ_DATA,
        ],
        Kind::Path { op, .. } | Kind::Fd { op, .. } | Kind::Net { op, .. } => vec![op],
        Kind::Rename { .. } => vec![op::FILE_WRITE_UNLINK, op::FILE_WRITE_CREATE],
        Kind::Link { .. } => vec![op::FILE_LINK, op::FILE_WRITE_CREATE],
        Kind::Fork => vec![op::PROCESS_FORK],
        Kind::Signal(_) | Kind::Creds => Vec::new(),
    }
}

/// Whether `profile` allows `op` unreported for every sample argument.
fn allows_every_sample(profile: &Profile, op: OpId) -> Result<(), String> {
    let op = op_in(profile, op);
    for path in PATHS {
        for vtype in [None, Some(1u16), Some(2), Some(5)] {
            let ints: Vec<(u8, u16)> = vtype.map(|t| (filter::VNODE_TYPE, t)).into_iter().collect();
            let args = Args {
                path: Some(path),
                ints: &ints,
                strings: &[],
            };
            let d = evaluate(profile, op, &args);
            if d.verdict() != Some(Verdict::Allow) || reported(&d) || depends_on_arguments(&d) {
                return Err(format!(
                    "op {op} on {:?} (vnode type {vtype:?}): {:?}",
                    String::from_utf8_lossy(path),
                    d.outcome
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn filter_answers_change_no_verdict_on_any_profile() {
    let corpus = corpus();
    // The project's profiles and Apple vectors always; with ../shared (CI),
    // Apple's blobs and 10.15.2 system profiles too.
    let least = if root().join("../shared").is_dir() {
        120
    } else {
        80
    };
    assert!(
        corpus.len() > least,
        "only {} profiles compiled or decoded",
        corpus.len()
    );
    let without = Filter::new();
    let (mut answering_profiles, mut answered_calls) = (0, 0);
    for (path, profile) in &corpus {
        let answered = allowed_in_filter(profile);
        let with = Filter::answering(&answered);
        answering_profiles += usize::from(!answered.is_empty());
        answered_calls += answered.len();
        for nr in 0..600u32 {
            for args in argument_sets() {
                let a = run(without.program(), AUDIT_ARCH_X86_64, nr, args);
                let b = run(with.program(), AUDIT_ARCH_X86_64, nr, args);
                if a == b {
                    continue;
                }
                let where_ = format!("{}: syscall {nr} {args:?}", path.display());
                assert_eq!((a, b), (RET_USER_NOTIF, RET_ALLOW), "{where_}");
                let sc = syscalls::lookup(i64::from(nr)).unwrap_or_else(|| panic!("{where_}"));
                assert!(
                    !opens_or_execs(sc),
                    "{where_}: {} must stay with the supervisor's /proc guard",
                    sc.name
                );
                let ops = checked_operations(sc.kind);
                assert!(!ops.is_empty(), "{where_}: {} is never answered", sc.name);
                for op in ops {
                    if let Err(e) = allows_every_sample(profile, op) {
                        panic!("{where_} ({}) answered in the filter, but {e}", sc.name);
                    }
                }
            }
        }
    }
    // The analysis must have something to do on this corpus, or the test
    // above checked nothing.
    assert!(answering_profiles > 10, "{answering_profiles} profiles");
    assert!(answered_calls > 100, "{answered_calls} calls");
}

#[test]
fn the_issue_profile_answers_stat_but_not_open() {
    let src = r#"(version 1) (deny default) (allow process-exec* process-fork)
        (allow file-read* (subpath "/usr") (subpath "/lib") (subpath "/etc") (subpath "/tmp/w"))
        (allow file-read-metadata)
        (allow file-write* (subpath "/tmp/w/allowed") (literal "/dev/null"))"#;
    let blob = sbcheck::sbpl::compile(src, &Default::default()).unwrap();
    let p = Profile::decode(&blob).unwrap();
    let answered = allowed_in_filter(&p);
    let f = Filter::answering(&answered);
    let v = |nr: i64| run(f.program(), AUDIT_ARCH_X86_64, nr as u32, [0; 6]);
    assert_eq!(v(libc::SYS_newfstatat), RET_ALLOW);
    assert_eq!(v(libc::SYS_statx), RET_ALLOW);
    // Opens and execs stay with the supervisor, which guards its own /proc.
    assert_eq!(v(libc::SYS_execve), RET_USER_NOTIF);
    assert_eq!(v(libc::SYS_fork), RET_ALLOW);
    assert_eq!(v(libc::SYS_openat), RET_USER_NOTIF);
    assert_eq!(v(libc::SYS_unlinkat), RET_USER_NOTIF);
    assert_eq!(v(libc::SYS_kill), RET_USER_NOTIF);
}

/// Through `apply` (the filter `sbcheck exec` and `sbcheck run` use): a stat
/// the profile allows everywhere is answered in the filter (no intercept
/// recorded) and works; an open of the same file still reaches the
/// supervisor and is denied; a stat under a profile that restricts metadata
/// by path still reaches it too.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn answered_calls_make_no_round_trip_and_the_others_still_do() {
    use sbcheck::apply::linux::calls::{self, buf};
    use sbcheck::apply::process::Ending;
    use std::ffi::CString;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::canonicalize(dir.path()).unwrap().join("f");
    std::fs::write(&file, "x").unwrap();
    let c = CString::new(file.to_str().unwrap()).unwrap();
    let run = |src: &str| {
        let blob = sbcheck::sbpl::compile(src, &Default::default()).unwrap();
        let profile = Profile::decode(&blob).unwrap();
        let config = sbcheck::apply::Config {
            record: true,
            ..Default::default()
        };
        let mut e = sbcheck::apply::apply(&profile, &config).unwrap();
        // Raw calls only: this runs after fork(). Reports the stat's errno
        // times 1000 plus the open's.
        let body = || {
            let stat = buf::stat(&c).err().unwrap_or(0);
            let open = calls::open(&c, libc::O_RDONLY, 0).err().unwrap_or(0);
            stat * 1000 + open
        };
        let ending = e.run(Duration::from_secs(30), &body).unwrap();
        let syscalls: Vec<&str> = e
            .supervisor()
            .unwrap()
            .intercepts
            .iter()
            .map(|i| i.syscall)
            .collect();
        let Ending::Reported { result } = ending else {
            panic!("{src}: {ending:?}");
        };
        (result, syscalls.join(","))
    };
    let everywhere = run("(version 1) (deny default) (allow file-read-metadata)");
    assert_eq!(everywhere, (libc::EPERM, "open".to_owned()));
    let by_path = format!(
        "(version 1) (deny default) (allow file-read-metadata (subpath {:?}))",
        dir.path().canonicalize().unwrap()
    );
    let (result, syscalls) = run(&by_path);
    assert_eq!(result, libc::EPERM);
    assert!(syscalls.starts_with("stat,open"), "{syscalls}");
}
