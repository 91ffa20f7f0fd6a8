//! The floor of exact supervision, for `cargo bench --bench workloads`: the
//! least an exact seccomp-notify supervisor can do for the calls sbcheck's
//! filter sends it, under that same filter. No profile is read and
//! everything is allowed: this is a yardstick, **not a sandbox**.
//!
//! - An open (open, openat) that creates nothing is answered as an exact
//!   supervisor must answer it: its path read and made absolute (a readlink
//!   of the caller's cwd or dirfd through a held `/proc/PID`), the file
//!   opened as written (no symlink followed; below a top-level link such as
//!   merged-/usr's `/lib`, from its target after a readlink shows it
//!   unchanged, as sbcheck does; on ELOOP, following them),
//!   O_NONBLOCK dropped unless asked for, the fd injected, then closed.
//!   CONTINUE instead would let a rewrite of the path after the check
//!   through.
//! - Every other call (exec, a create, an open under `/proc`, openat2,
//!   metadata, ...) is answered CONTINUE, with nothing resolved or judged:
//!   less than any check does.
//!
//! sbcheck adds to this only its judging (the path resolved as the kernel
//! will, the blob walked, an exec's program and loader resolved): the gap
//! between the two is what sbcheck's own work costs, and the floor against
//! a bare run is what no exact supervisor can go under on the machine.

use super::notify;
use super::resolve::TopLink;
use super::syscalls::{self, Flags, Kind};
use super::Filter;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;

/// Runs `argv` under `filter`, every notified call answered as the module
/// doc says, and exits this process with the command's status (the thread
/// answering calls is left waiting: this is the body of a launcher process).
pub fn exec(filter: &Filter, argv: &[String]) -> ! {
    match launch(filter, argv) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("notify floor: {e}");
            std::process::exit(127)
        }
    }
}

fn launch(filter: &Filter, argv: &[String]) -> Result<i32, String> {
    let (program, args) = argv.split_first().ok_or("no command")?;
    let (report, reported) = crate::apply::process::pipe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    let filter = filter.clone();
    let hook = move || {
        let fd = filter
            .install()
            .map_err(std::io::Error::from_raw_os_error)?;
        // SAFETY: getpid takes nothing and cannot fail.
        let pid = unsafe { libc::getpid() };
        // On the stack: no allocation after fork.
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&pid.to_ne_bytes());
        msg[4..].copy_from_slice(&fd.to_ne_bytes());
        match crate::apply::sys::write(reported.as_raw_fd(), &msg) {
            Ok(8) => Ok(()),
            Ok(_) => Err(std::io::Error::from_raw_os_error(libc::EIO)),
            Err(e) => Err(std::io::Error::from_raw_os_error(e)),
        }
    };
    // SAFETY: the hook runs after fork in the child and makes raw syscalls
    // only (the filter was built before: no allocation, no locks).
    unsafe { cmd.pre_exec(hook) };
    // spawn() returns once the exec is done, and the exec is a notified
    // call: it runs on a thread of its own while this one answers.
    let spawned = std::thread::spawn(move || cmd.spawn().and_then(|mut c| c.wait()));
    let mut msg = [0u8; 8];
    let got = loop {
        match crate::apply::sys::read(report.as_raw_fd(), &mut msg) {
            Err(libc::EINTR) => continue,
            r => break r,
        }
    };
    if got != Ok(8) {
        // The child failed before its exec: spawn() says why.
        let why = spawned.join().map_err(|_| "spawn panicked")?;
        return Err(format!("{program}: {why:?}"));
    }
    let word = |i: usize| i32::from_ne_bytes([msg[i], msg[i + 1], msg[i + 2], msg[i + 3]]);
    let listener =
        super::take_listener(word(0), None, word(4), true).map_err(|e| format!("listener: {e}"))?;
    let links = top_links();
    std::thread::spawn(move || serve(&listener, &links));
    let status = spawned
        .join()
        .map_err(|_| "spawn panicked")?
        .map_err(|e| format!("{program}: {e}"))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status.code().unwrap_or(128 + status.signal().unwrap_or(0)))
}

/// The top-level symlinks of `/` as they are now.
fn top_links() -> Vec<TopLink> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::read_dir("/")
        .map(|entries| {
            entries
                .filter_map(|e| TopLink::learn(e.ok()?.file_name().as_bytes()))
                .collect()
        })
        .unwrap_or_default()
}

fn serve(listener: &OwnedFd, links: &[TopLink]) {
    loop {
        // EINTR, or a caller gone (ENOENT): take the next one.
        if let Ok(req) = notify::recv(listener) {
            answer(listener, &req, links);
        }
    }
}

/// Answers one notification (errors from the answer itself mean the
/// caller is gone: nothing to do).
fn answer(listener: &OwnedFd, req: &libc::seccomp_notif, links: &[TopLink]) {
    let sc = syscalls::lookup(i64::from(req.data.nr));
    let Some(Kind::Open { dirfd, path, flags }) = sc.map(|s| s.kind) else {
        let _ = notify::send_continue(listener, req.id);
        return;
    };
    let args = req.data.args;
    // A create would need the caller's umask (another read), and openat2's
    // `struct open_how` another: both pass, doing less than a check.
    let flags = match flags {
        Flags::Arg(i) if !creates(args[i] as i32) => args[i] as i32,
        _ => {
            let _ = notify::send_continue(listener, req.id);
            return;
        }
    };
    let pid = req.pid as i32;
    let opened = match absolute(pid, dirfd.map(|i| args[i] as i32), args[path]) {
        // `/proc/self` and its kin name the opener: opened here they would
        // name this process (an exact supervisor rewrites them; here they
        // pass).
        Ok(p) if p.as_bytes().starts_with(b"/proc/") => {
            let _ = notify::send_continue(listener, req.id);
            return;
        }
        Ok(p) => {
            let below = links.iter().find_map(|l| l.below(p.as_bytes()));
            let p = below.and_then(|b| CString::new(b).ok()).unwrap_or(p);
            open_as_written(&p, flags)
        }
        Err(e) => Err(e),
    };
    let _ = match opened {
        Ok(fd) => notify::send_fd(listener, req.id, &fd, flags & libc::O_CLOEXEC != 0).map(drop),
        Err(errno) => notify::send_error(listener, req.id, errno),
    };
}

/// O_CREAT, or O_TMPFILE (whose bits include O_DIRECTORY's).
fn creates(flags: i32) -> bool {
    flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE
}

/// The caller's path at `addr`, made absolute against its cwd or `dirfd`.
fn absolute(pid: i32, dirfd: Option<i32>, addr: u64) -> Result<CString, i32> {
    let path = notify::read_c_string(pid, addr).map_err(|_| libc::EFAULT)?;
    if path.first() == Some(&b'/') {
        return CString::new(path).map_err(|_| libc::EINVAL);
    }
    let base = match dirfd {
        Some(fd) if fd != libc::AT_FDCWD => super::resolve::fd_path(pid, fd),
        _ => super::resolve::cwd_path(pid),
    }
    .ok_or(libc::EBADF)?;
    let mut full = base.into_os_string().into_encoded_bytes();
    full.push(b'/');
    full.extend_from_slice(&path);
    CString::new(full).map_err(|_| libc::EINVAL)
}

/// Opens `path` with the caller's flags, never blocking, taking no
/// controlling terminal, following no symlink unless the path has one.
fn open_as_written(path: &CString, flags: i32) -> Result<OwnedFd, i32> {
    let nonblock = flags & (libc::O_NONBLOCK | libc::O_PATH | libc::O_DIRECTORY) == 0;
    let how = |resolve: u64| {
        let extra = if nonblock { libc::O_NONBLOCK } else { 0 };
        [
            (flags | libc::O_CLOEXEC | libc::O_NOCTTY | extra) as u64,
            0,
            resolve,
        ]
    };
    let as_written = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    let fd = match super::resolve::openat2(libc::AT_FDCWD, path, &how(as_written)) {
        Err(libc::ELOOP) => super::resolve::openat2(libc::AT_FDCWD, path, &how(0))?,
        r => r?,
    };
    if nonblock {
        let keep = flags & (libc::O_APPEND | libc::O_DIRECT | libc::O_NOATIME);
        // SAFETY: F_SETFL takes an integer.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, keep) };
    }
    Ok(fd)
}
