//! Resolving a path as the kernel will for the sandboxed process: relative
//! paths from its cwd or dirfd (read through `/proc/TID`), symlinks followed
//! component by component before `..` is applied, the last component left
//! alone where the call does not follow it, missing targets through their
//! parent, `/proc/self` and `/proc/thread-self` rewritten to the process,
//! and `/proc/PID/fd/N`-style magic links jumped through like the kernel
//! does (or kept as they are when they name no path: pipes, sockets).
//!
//! The sandboxed tree shares the supervisor's root and mount namespace
//! (chroot, unshare and setns are refused by the filter), so paths are
//! looked up from the supervisor's `/`.
//!
//! Three ways, cheapest first, each exact where it is used: the path as
//! written ([`resolve_literal`], no syscall, proven by the open that
//! follows), the kernel's own lookup ([`resolve_kernel`], three syscalls
//! whatever the path, where it cannot differ from the walk), and the walk
//! ([`resolve_sandboxed`], an lstat per component and a readlink per
//! symlink, which answers everything else).
//!
//! Seatbelt matches resolved paths, so the supervisor evaluates the profile
//! against what this returns; with `macos_paths`, in macOS's layout as
//! [`crate::macos_paths`] models it.

use std::ffi::{CStr, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Kernel's limit on symlinks followed in one lookup (ELOOP past it).
const MAX_SYMLINKS: usize = 40;

/// Where a relative path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Cwd,
    Fd(i32),
}

#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The thread that made the call (a notification's pid is a tid).
    pub pid: i32,
    pub base: Base,
    pub path: &'a [u8],
    pub follow_last: bool,
}

/// What the last component turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last {
    Missing,
    Symlink,
    Dir,
    File,
    /// A device, FIFO or socket.
    Special,
    /// Not looked at: the path was taken as written (see
    /// [`resolve_literal`]: the open that follows finds out whether it
    /// exists), or the kernel's lookup found it and its type was not
    /// asked (see [`resolve_kernel`]).
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub path: PathBuf,
    pub last: Last,
    /// The final component's `st_mode` where the walk stat'ed it (`None`
    /// after `..`, for a missing or magic path): its vnode type costs no
    /// second lstat.
    pub mode: Option<u32>,
    /// The path stops at a magic link that names no path (`pipe:[..]`):
    /// it can only be opened through `/proc`, never with RESOLVE_NO_SYMLINKS.
    pub magic: bool,
}

impl Resolved {
    /// Not known to be missing (an unchecked path may be: its open says).
    pub fn exists(&self) -> bool {
        self.last != Last::Missing
    }
}

/// Resolves `req`. Errors are the errno the kernel's own lookup would give
/// where it must fail regardless of the path (a closed dirfd: EBADF, a
/// dirfd that is not a directory: ENOTDIR, a symlink loop: ELOOP, a cwd
/// that was removed: ENOENT).
pub fn resolve(req: &Request<'_>) -> Result<Resolved, i32> {
    walk(req, false)
}

/// As [`resolve`], for the sandboxed process: whatever of this process's
/// (the supervisor's) own `/proc/PID` the path reaches, directly or through
/// a magic link such as `/proc/PID/fd/N`, is refused with EPERM whatever
/// the profile says: a same-user process could otherwise write the
/// supervisor's memory or reopen its pipes and sockets.
pub fn resolve_sandboxed(req: &Request<'_>) -> Result<Resolved, i32> {
    walk(req, true)
}

/// The fast path of a resolution, or `None` where it does not apply: an
/// absolute path of plain components (no `.`, `..` or trailing slash)
/// outside `/proc`, taken as written, with no syscall at all. With `stat`
/// (a profile that asks the vnode type) its last component is lstat'ed
/// and a symlink or a missing name takes the full walk; without it the
/// result says nothing of the file ([`Last::Unchecked`], no mode).
///
/// SOUND ONLY when the caller then opens exactly the returned path with
/// RESOLVE_NO_SYMLINKS and keeps the verdict only if that open succeeds:
/// such an open fails (ELOOP, ENOENT, ENOTDIR) if any component of the
/// path is a symlink or not a directory, and when it succeeds the file it
/// opened is the one a full walk would have named at that moment (a
/// symlink-free absolute path without `..` resolves to itself, and outside
/// `/proc` nothing is rewritten or guarded). Any other outcome (a denial,
/// an errno, CONTINUE, a failed open) must be decided again from
/// [`resolve_sandboxed`].
///
/// A relative path of plain names (`name`, `a/b`: no `.`, `..`, trailing
/// slash) takes it too, appended to the path its base (the cwd or the
/// dirfd) names through `/proc/PID` (one readlink), as the walk starts
/// from that same text: the open then proves the joined path as it
/// proves an absolute one. A base that names no live path outside
/// `/proc` (a pipe, a deleted directory) takes the walk.
pub fn resolve_literal(req: &Request<'_>, stat: bool) -> Option<Resolved> {
    let joined;
    let path = if req.path.first() == Some(&b'/') {
        req.path
    } else if plain_relative(req.path) {
        joined = absolute_text(req)?;
        &joined
    } else {
        return None;
    };
    if path.ends_with(b"/") {
        return None;
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for c in components(path) {
        if c == b"." || c == b".." || (out.is_empty() && c == b"proc") {
            return None;
        }
        out.push(b'/');
        out.extend_from_slice(c);
    }
    let (last, mode) = if stat {
        match lstat(&mut out).ok()? {
            (Last::Symlink, _) => return None,
            (last, mode) => (last, Some(mode)),
        }
    } else {
        (Last::Unchecked, None)
    };
    Some(Resolved {
        path: PathBuf::from(std::ffi::OsString::from_vec(out)),
        last,
        mode,
        magic: false,
    })
}

/// A resolution the kernel made (see [`resolve_kernel`]), with the
/// `O_PATH` fd its lookup returned: the file itself, which an exec check
/// reads the header of without looking the path up again.
#[derive(Debug)]
pub struct Held {
    pub resolved: Resolved,
    pub fd: OwnedFd,
    /// The file's identity and change times, where it was fstat'ed.
    pub stamp: Option<Stamp>,
}

/// Which file, as of which change: device, inode, size, and modification
/// and status-change times. Two fstats that give the same stamp saw the
/// same contents, provided the file had not changed within the clock's
/// last tick before the first (see [`Stamp::settled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(st: &libc::stat) -> Stamp {
        Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }

    /// Whether the file last changed more than a second before `now`
    /// (seconds since the epoch). Any later write, truncation or
    /// attribute change sets ctime to the (coarse) clock of its moment,
    /// which is then past this stamp's: the stamp cannot repeat. A file
    /// changed within the last tick could be changed again within the
    /// same tick and keep its stamp, so it is not settled.
    pub fn settled(&self, now: i64) -> bool {
        self.ctime.0 < now - 1
    }
}

/// Resolves `req` with one lookup of the kernel's own (`openat2(O_PATH)`,
/// then the path `/proc/self/fd/N` names) instead of an lstat per
/// component, for a caller to which a missing name is ENOENT (never a
/// create). `None` wherever that lookup, made by the supervisor, could
/// differ from [`resolve_sandboxed`]'s for the process; the caller then
/// walks:
///
/// - it crosses a mount (RESOLVE_NO_XDEV: EXDEV). `/proc` is a mount of
///   its own, so nothing the lookup passes through is in `/proc`, where
///   `self`, `thread-self` and the magic links would name the supervisor
///   (the walk rewrites them to the caller and guards the supervisor's
///   own entries). The lookup starts on the root's mount and never
///   leaves it: every name on the way resolves the same for any process
///   with this root, mount namespace and credentials, which the
///   sandboxed tree shares (chroot, unshare and setns are refused; a
///   credential change turns injection off but changes no lookup the
///   supervisor makes here: those are its own credentials on both sides,
///   as the walk's lstats are). A private namespace whose top-level
///   directories are bind mounts (the hermetic matrix) takes the walk for
///   every path below them;
/// - it meets a magic link (RESOLVE_NO_MAGICLINKS, redundant with the
///   above but kept for clarity) or fails any other way than ENOENT or
///   ENOTDIR (ELOOP may be a loop or a magic link; EACCES and the rest are
///   left to the walk to answer as it always has);
/// - a relative path's base (cwd, dirfd) names no absolute path outside
///   `/proc`, or the result is not an absolute path, ends in
///   " (deleted)" (unlinked since) or is under `/proc`.
///
/// ENOENT and ENOTDIR are what the walk answers too: both look names up
/// one by one in the same order from the same start, and fail at the same
/// component (ENOTDIR below a file or after `file/`, ENOENT below or at a
/// missing name, which a non-creating caller reports as ENOENT).
///
/// `want_mode`: fstat the result for its type and `st_mode`; without it
/// the result's type is [`Last::Unchecked`] (it exists).
pub fn resolve_kernel(req: &Request<'_>, want_mode: bool) -> Option<Result<Held, i32>> {
    let text = absolute_text(req)?;
    // A trailing slash follows the last symlink even without follow_last.
    let nofollow = !req.follow_last && !text.ends_with(b"/");
    let flags = libc::O_PATH | libc::O_CLOEXEC | if nofollow { libc::O_NOFOLLOW } else { 0 };
    let how = [
        flags as u64,
        0,
        libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_XDEV,
    ];
    let path = std::ffi::CString::new(text).ok()?;
    let fd = match openat2(libc::AT_FDCWD, &path, &how) {
        Ok(fd) => fd,
        Err(e @ (libc::ENOENT | libc::ENOTDIR)) => return Some(Err(e)),
        Err(_) => return None,
    };
    let real = own_fd_path(&fd)?;
    if real.first() != Some(&b'/') || real.ends_with(b" (deleted)") || in_proc(&real) {
        return None;
    }
    let (last, mode, stamp) = if want_mode {
        let (mode, stamp) = fstat(&fd)?;
        (kind_of(mode), Some(mode), Some(stamp))
    } else {
        (Last::Unchecked, None, None)
    };
    Some(Ok(Held {
        resolved: Resolved {
            path: PathBuf::from(std::ffi::OsString::from_vec(real)),
            last,
            mode,
            magic: false,
        },
        fd,
        stamp,
    }))
}

/// The path an fd of this process names, read through its own held
/// `/proc/PID` (see [`proc_dir`]).
fn own_fd_path(fd: &OwnedFd) -> Option<Vec<u8>> {
    proc_link(own_pid(), format!("fd/{}", fd.as_raw_fd()).as_bytes())
}

/// This process's pid without a syscall where it can: glibc caches no pid
/// (getpid is a syscall, and the supervisor asked it up to four times per
/// exec it judged), so it is kept here and forgotten in every child that
/// `fork()` makes, by a `pthread_atfork` handler. A child made by a raw
/// `clone` runs no handler; none of those calls this (they make raw
/// syscalls only, see `process::run_supervised`).
pub fn own_pid() -> i32 {
    use std::sync::atomic::{AtomicI32, Ordering};
    static PID: AtomicI32 = AtomicI32::new(0);
    static HANDLER: std::sync::Once = std::sync::Once::new();
    extern "C" fn forget() {
        PID.store(0, Ordering::Relaxed);
    }
    HANDLER.call_once(|| {
        // SAFETY: registers a child handler that only stores to an atomic
        // (async-signal-safe, as a handler run after fork must be).
        unsafe { libc::pthread_atfork(None, None, Some(forget)) };
    });
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id() as i32;
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// `req`'s path as an absolute path: itself, or appended to the path its
/// base (the cwd or a dirfd) names through `/proc/PID`. `None` for a base
/// that names no live directory path outside `/proc` (a pipe, a closed
/// fd, a deleted directory): the walk answers those.
fn absolute_text(req: &Request<'_>) -> Option<Vec<u8>> {
    if req.path.first() == Some(&b'/') {
        return Some(req.path.to_vec());
    }
    let mut base = match req.base {
        Base::Cwd => proc_link(req.pid, b"cwd")?,
        Base::Fd(fd) => proc_link(req.pid, format!("fd/{fd}").as_bytes())?,
    };
    if base.first() != Some(&b'/') || base.ends_with(b" (deleted)") || in_proc(&base) {
        return None;
    }
    push(&mut base, req.path);
    Some(base)
}

/// `/proc` or below it, as a canonical path (as `/proc/PID/fd/N` reads).
fn in_proc(path: &[u8]) -> bool {
    path == b"/proc" || path.starts_with(b"/proc/")
}

/// A relative path of plain names (no `.`, `..`, empty component or
/// trailing slash), which appended to its base's path names the same file
/// as long as no component is a symlink.
fn plain_relative(path: &[u8]) -> bool {
    !path.is_empty()
        && path[0] != b'/'
        && path
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// `openat2(dirfd, path, how)`, `how` being `struct open_how` (flags,
/// mode, resolve).
pub fn openat2(dirfd: RawFd, path: &CStr, how: &[u64; 3]) -> Result<OwnedFd, i32> {
    // SAFETY: path is a C string and `how` an open_how, both alive for
    // the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            how.as_ptr(),
            std::mem::size_of_val(how),
        )
    };
    if fd < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        // SAFETY: the fd is new and ours alone.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// The `st_mode` of the file `fd` holds (an `O_PATH` fd will do).
pub fn fstat_mode(fd: &OwnedFd) -> Option<u32> {
    fstat(fd).map(|(mode, _)| mode)
}

/// `fd`'s `st_mode` and [`Stamp`].
pub fn fstat(fd: &OwnedFd) -> Option<(u32, Stamp)> {
    // SAFETY: all-zero is a valid `struct stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is writable.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    (rc == 0).then(|| (st.st_mode, Stamp::of(&st)))
}

fn kind_of(mode: u32) -> Last {
    match mode & libc::S_IFMT {
        libc::S_IFLNK => Last::Symlink,
        libc::S_IFDIR => Last::Dir,
        libc::S_IFREG => Last::File,
        _ => Last::Special,
    }
}

/// The non-empty components of `path` (`a//b/` has two).
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

fn walk(req: &Request<'_>, guard: bool) -> Result<Resolved, i32> {
    let mut w = Walk::new(req.pid);
    w.guard = guard;
    if req.path.first() != Some(&b'/') {
        w.out = match req.base {
            Base::Cwd => proc_link(req.pid, b"cwd").ok_or(libc::ENOENT)?,
            Base::Fd(fd) => {
                let mut link =
                    proc_link(req.pid, format!("fd/{fd}").as_bytes()).ok_or(libc::EBADF)?;
                if link.first() != Some(&b'/') {
                    return Err(libc::ENOTDIR);
                }
                // The kernel looks nothing up from a dirfd that is not a
                // directory (ENOTDIR). A first name is lstat'ed below it,
                // which fails the same way; `.` and `..` are not, so the
                // base is looked at here.
                let dot = components(req.path)
                    .next()
                    .is_some_and(|c| c == b"." || c == b"..");
                if dot && !matches!(lstat(&mut link), Ok((Last::Dir, _))) {
                    return Err(libc::ENOTDIR);
                }
                link
            }
        };
        if w.out.ends_with(b" (deleted)") {
            return Err(libc::ENOENT);
        }
    }
    // A trailing slash makes even a no-follow call follow the last symlink.
    let follow = req.follow_last || req.path.ends_with(b"/");
    w.run(req.path, follow)?;
    // `file/` names a directory that is not one.
    if req.path.ends_with(b"/") && matches!(w.last, Last::File | Last::Special) {
        return Err(libc::ENOTDIR);
    }
    if w.guarded(&w.out) {
        return Err(libc::EPERM);
    }
    Ok(Resolved {
        path: PathBuf::from(OsStr::from_bytes(&w.out)),
        last: w.last,
        mode: w.mode,
        magic: w.magic,
    })
}

/// The path an fd of `pid` names, as `/proc/PID/fd/N` reads (`pipe:[..]`
/// for an fd that names no file). `None` when the fd is not open.
pub fn fd_path(pid: i32, fd: i32) -> Option<PathBuf> {
    proc_link(pid, format!("fd/{fd}").as_bytes()).map(|b| PathBuf::from(OsStr::from_bytes(&b)))
}

/// The cwd of `pid`, as `/proc/PID/cwd` reads.
pub fn cwd_path(pid: i32) -> Option<PathBuf> {
    proc_link(pid, b"cwd").map(|b| PathBuf::from(OsStr::from_bytes(&b)))
}

/// `readlink /proc/PID/<what>`, through the held `/proc/PID` (see
/// [`proc_dir`]). A held directory whose task is gone fails, even when the
/// pid is another task's now: it is then dropped and the current
/// `/proc/PID` opened once more.
fn proc_link(pid: i32, what: &[u8]) -> Option<Vec<u8>> {
    let what = std::ffi::CString::new(what).ok()?;
    let read = |dir: std::sync::Arc<OwnedFd>| readlink_at(dir.as_raw_fd(), &what);
    if let Some(found) = proc_dir(pid).and_then(read) {
        return Some(found);
    }
    forget_proc_dir(pid);
    proc_dir(pid).and_then(read)
}

/// How many `/proc/PID` directories are held beside this process's own
/// (one per process whose relative paths are being resolved: `find` and
/// `tar` open every entry relative to its directory's fd).
const PROC_DIRS: usize = 16;

/// `O_PATH` fds of `/proc/PID`: this process's own (the path of an fd it
/// holds: the kernel's lookup, an exec's header) and recent callers' (their
/// cwd and dirfds). A readlink or open through one skips the lookup of
/// `/proc` and of the pid, most of its cost. Such an fd names one task for
/// its life: once that task is gone its entries fail (ENOENT), even when
/// the pid is reused. Within the task the entries are live: an exec, a
/// chdir or a dup2 since shows as it is now. A forked child inherits the
/// list, whose fds still name the same tasks; its own pid is another.
static HELD_PROC_DIRS: std::sync::Mutex<Vec<(i32, std::sync::Arc<OwnedFd>)>> =
    std::sync::Mutex::new(Vec::new());

fn held_proc_dirs() -> std::sync::MutexGuard<'static, Vec<(i32, std::sync::Arc<OwnedFd>)>> {
    HELD_PROC_DIRS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The held `/proc/PID` of `pid`, if one is.
fn held_proc_dir(pid: i32) -> Option<std::sync::Arc<OwnedFd>> {
    held_proc_dirs()
        .iter()
        .find(|(p, _)| *p == pid)
        .map(|(_, fd)| fd.clone())
}

/// `/proc/PID` of `pid`, held from its first use (the oldest caller's
/// dropped past [`PROC_DIRS`], never this process's own); `None` when it
/// cannot be opened (no such process).
pub fn proc_dir(pid: i32) -> Option<std::sync::Arc<OwnedFd>> {
    if let Some(dir) = held_proc_dir(pid) {
        return Some(dir);
    }
    let path = std::ffi::CString::new(format!("/proc/{pid}")).ok()?;
    let how = [
        (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
        0,
        0,
    ];
    let dir = std::sync::Arc::new(openat2(libc::AT_FDCWD, &path, &how).ok()?);
    let own = own_pid();
    let mut held = held_proc_dirs();
    if held.iter().filter(|(p, _)| *p != own).count() >= PROC_DIRS {
        if let Some(oldest) = held.iter().position(|(p, _)| *p != own) {
            held.remove(oldest);
        }
    }
    held.push((pid, dir.clone()));
    Some(dir)
}

fn forget_proc_dir(pid: i32) {
    held_proc_dirs().retain(|(p, _)| *p != pid);
}

struct Walk {
    pid: i32,
    tgid: Option<i32>,
    out: Vec<u8>,
    last: Last,
    /// `st_mode` of `out` when its last lstat was of `out` as it is now.
    mode: Option<u32>,
    magic: bool,
    /// Whether this (the supervising) process's `/proc/PID` entries are
    /// refused.
    guard: bool,
}

impl Walk {
    fn new(pid: i32) -> Walk {
        Walk {
            pid,
            tgid: None,
            out: b"/".to_vec(),
            last: Last::Dir,
            mode: None,
            magic: false,
            guard: false,
        }
    }

    /// Whether `path` is under `/proc/N` of the guarded process (N any of
    /// its thread ids).
    fn guarded(&self, path: &[u8]) -> bool {
        if !self.guard {
            return false;
        }
        let Some(rest) = path.strip_prefix(b"/proc/") else {
            return false;
        };
        let n = rest.split(|&b| b == b'/').next().unwrap_or_default();
        std::str::from_utf8(n)
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
            .is_some_and(|n| tgid_of(n) == own_pid())
    }

    /// Walks `path` from `self.out`, following symlinks as it goes.
    fn run(&mut self, path: &[u8], follow_last: bool) -> Result<(), i32> {
        // Components still to walk, the next one last.
        let mut todo: Vec<Vec<u8>> = Vec::new();
        push_components(&mut todo, path);
        if path.first() == Some(&b'/') {
            self.out = b"/".to_vec();
        }
        let mut links = 0;
        while let Some(name) = todo.pop() {
            if name.is_empty() {
                continue;
            }
            // The kernel looks a component up only in a directory: after a
            // file, a device, a magic link that names no path (a pipe) or
            // a missing name, even `.` and `..` fail, never apply as text.
            match self.last {
                Last::Missing => return Err(libc::ENOENT),
                Last::File | Last::Special => return Err(libc::ENOTDIR),
                _ if self.magic => return Err(libc::ENOTDIR),
                _ => {}
            }
            match name.as_slice() {
                b"." => continue,
                b".." => {
                    pop(&mut self.out);
                    self.last = Last::Dir;
                    self.mode = None;
                    continue;
                }
                _ => {}
            }
            self.push_name(&name, &mut todo);
            self.mode = None;
            let last = todo.is_empty();
            match lstat(&mut self.out).map(|(kind, mode)| {
                self.mode = Some(mode);
                kind
            }) {
                // A missing last name is what a create makes; anything
                // else the kernel's lookup fails too, with the same errno.
                Err(libc::ENOENT) if last => self.last = Last::Missing,
                Err(e) => return Err(e),
                Ok(Last::Symlink) if !last || follow_last => {
                    self.mode = None;
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(libc::ELOOP);
                    }
                    self.follow(&mut todo)?;
                }
                Ok(kind) => self.last = kind,
            }
        }
        Ok(())
    }

    /// Appends `name`, rewriting `/proc/self` and `/proc/thread-self` to
    /// the calling process (they would name the supervisor here).
    fn push_name(&mut self, name: &[u8], todo: &mut Vec<Vec<u8>>) {
        if self.out == b"/proc" && (name == b"self" || name == b"thread-self") {
            let tgid = *self.tgid.get_or_insert_with(|| tgid_of(self.pid));
            push(&mut self.out, tgid.to_string().as_bytes());
            if name == b"thread-self" {
                push_components(todo, format!("task/{}", self.pid).as_bytes());
            }
            return;
        }
        push(&mut self.out, name);
    }

    /// Replaces the symlink at the end of `out` by its target.
    fn follow(&mut self, todo: &mut Vec<Vec<u8>>) -> Result<(), i32> {
        let target = readlink(&mut self.out).ok_or(libc::ENOENT)?;
        if is_magic(&self.out) {
            if self.guarded(&self.out) {
                return Err(libc::EPERM);
            }
            // The kernel jumps straight to what the fd (cwd, exe) names.
            if target.first() == Some(&b'/') && !target.ends_with(b" (deleted)") {
                self.out = b"/".to_vec();
                push_components(todo, &target);
            } else {
                self.magic = true;
                self.last = Last::Special;
            }
            return Ok(());
        }
        pop(&mut self.out);
        if target.first() == Some(&b'/') {
            self.out = b"/".to_vec();
        }
        push_components(todo, &target);
        Ok(())
    }
}

/// Pushes the components of `path` so that the first is popped next.
fn push_components(todo: &mut Vec<Vec<u8>>, path: &[u8]) {
    for c in path.rsplit(|&b| b == b'/') {
        if !c.is_empty() {
            todo.push(c.to_vec());
        }
    }
}

fn push(out: &mut Vec<u8>, name: &[u8]) {
    if out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(name);
}

fn pop(out: &mut Vec<u8>) {
    if let Some(i) = out.iter().rposition(|&b| b == b'/') {
        out.truncate(i.max(1));
    }
}

/// `/proc/PID/{cwd,root,exe}`, `/proc/PID/{fd,map_files,ns}/X`, also under
/// `/proc/PID/task/TID/`: links the kernel follows by what they point at.
fn is_magic(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/proc/") else {
        return false;
    };
    let digits = |s: &[u8]| -> Option<usize> {
        let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
        (n > 0).then_some(n)
    };
    let Some(n) = digits(rest) else {
        return false;
    };
    let mut rest = &rest[n..];
    if let Some(task) = rest.strip_prefix(b"/task/") {
        let Some(n) = digits(task) else {
            return false;
        };
        rest = &task[n..];
    }
    let parts: Vec<&[u8]> = rest.split(|&b| b == b'/').skip(1).collect();
    match parts.as_slice() {
        [name] => matches!(*name, b"cwd" | b"root" | b"exe"),
        [dir, entry] => !entry.is_empty() && matches!(*dir, b"fd" | b"map_files" | b"ns"),
        _ => false,
    }
}

/// The thread group (process) a thread belongs to; the thread itself when
/// `/proc` cannot say.
pub fn tgid_of(tid: i32) -> i32 {
    status_field(tid, "Tgid:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(tid)
}

/// A small `/proc` file as text, read with one buffer: `read_to_string`
/// starts at 32 bytes and doubles (a `status` file took eleven syscalls,
/// this takes four).
pub fn read_proc(path: &str) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut text = Vec::with_capacity(4096);
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    String::from_utf8(text).ok()
}

/// A field of `/proc/TID/status`, trimmed.
pub fn status_field(tid: i32, name: &str) -> Option<String> {
    let text = read_proc(&format!("/proc/{tid}/status"))?;
    field(&text, name).map(str::to_owned)
}

/// The value of line `name` (e.g. `"Tgid:"`) of a `/proc/.../status` text,
/// trimmed.
pub fn field<'t>(status: &'t str, name: &str) -> Option<&'t str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

/// `lstat(path)` on a buffer that gets a NUL for the call and loses it after.
fn lstat(path: &mut Vec<u8>) -> Result<(Last, u32), i32> {
    path.push(0);
    // SAFETY: all-zero is a valid `struct stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated for the call and `st` is writable.
    let rc = unsafe { libc::lstat(path.as_ptr().cast(), &mut st) };
    let err = std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    path.pop();
    if rc != 0 {
        return Err(err);
    }
    Ok((kind_of(st.st_mode), st.st_mode))
}

/// A top-level name that is a symlink (merged-/usr `/lib` -> `usr/lib`),
/// for taking a path below it as written from the link's target: the
/// loader opens every library through `/lib`, and the kernel's lookup
/// ([`resolve_kernel`]: an `O_PATH` open, a readlink of its fd, a close)
/// cost three syscalls where checking the link costs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopLink {
    /// `/lib`, NUL-terminated for the readlink.
    at: std::ffi::CString,
    /// The link's text when it was learnt (`usr/lib`).
    text: Vec<u8>,
    /// The absolute path that text names, where it is plain names (no
    /// `.` or `..`): `/usr/lib`. Without one nothing is rewritten.
    target: Option<Vec<u8>>,
}

impl TopLink {
    /// The link at `/top` as it is now; `None` when it is none.
    pub fn learn(top: &[u8]) -> Option<TopLink> {
        let mut at = Vec::with_capacity(top.len() + 1);
        at.push(b'/');
        at.extend_from_slice(top);
        TopLink::at(at)
    }

    /// The link at the absolute path `at` as it is now (a relative text
    /// is taken from `at`'s directory, as the kernel takes it).
    fn at(at: Vec<u8>) -> Option<TopLink> {
        let text = readlink(&mut at.clone())?;
        let cut = at.iter().rposition(|&b| b == b'/')?;
        let target = if text.first() == Some(&b'/') {
            plain_target(&text)
        } else {
            let mut joined = at[..cut].to_vec();
            push(&mut joined, &text);
            plain_target(&joined)
        };
        Some(TopLink {
            at: std::ffi::CString::new(at).ok()?,
            text,
            target,
        })
    }

    /// The top-level name this link is (`lib`).
    pub fn top(&self) -> &[u8] {
        &self.at.as_bytes()[1..]
    }

    /// `raw` (an absolute path below this link: `/lib/x`) rewritten to
    /// start at the link's target (`/usr/lib/x`), if the link still reads
    /// as it did (one readlink). The kernel reads the link the same way
    /// and goes on from its target, so the rewritten path names what
    /// `raw` names; like an lstat of the walk, it is the link as of that
    /// readlink. `None` for the link itself (`/lib`, which an O_NOFOLLOW
    /// open would not follow), a plain target unknown, or a link changed.
    pub fn below(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let target = self.target.as_ref()?;
        let rest = raw.get(self.at.as_bytes().len()..)?;
        if !raw.starts_with(self.at.as_bytes()) || rest.first() != Some(&b'/') {
            return None;
        }
        if !link_reads(&self.at, &self.text) {
            return None;
        }
        let mut out = Vec::with_capacity(target.len() + rest.len());
        out.extend_from_slice(target);
        out.extend_from_slice(rest);
        Some(out)
    }
}

/// The absolute path a top-level link's `text` names when it is plain
/// names (`usr/lib`, `/usr/lib`): `None` for `.`, `..` or nothing.
fn plain_target(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 1);
    for c in components(text) {
        if c == b"." || c == b".." {
            return None;
        }
        out.push(b'/');
        out.extend_from_slice(c);
    }
    (!out.is_empty()).then_some(out)
}

/// Whether the symlink at `at` reads exactly `text` (a readlink into a
/// buffer one byte longer, so a longer text shows).
fn link_reads(at: &std::ffi::CStr, text: &[u8]) -> bool {
    let mut buf = [0u8; 256];
    if text.len() >= buf.len() {
        return false;
    }
    // SAFETY: `at` is NUL-terminated; `buf` is writable for its length.
    let n = unsafe { libc::readlink(at.as_ptr(), buf.as_mut_ptr().cast(), text.len() + 1) };
    usize::try_from(n).is_ok_and(|n| &buf[..n] == text)
}

/// `readlink(path)`, on the same kind of buffer as [`lstat`].
fn readlink(path: &mut Vec<u8>) -> Option<Vec<u8>> {
    path.push(0);
    let found = CStr::from_bytes_with_nul(path)
        .ok()
        .and_then(|c| readlink_at(libc::AT_FDCWD, c));
    path.pop();
    found
}

/// `readlinkat(dir, name)`; `None` on failure or a text that may have been
/// cut (readlink truncates silently at the buffer's end).
fn readlink_at(dir: RawFd, name: &CStr) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `name` is NUL-terminated; `buf` is writable for its length.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    if n >= buf.len() {
        return None;
    }
    buf.truncate(n);
    Some(buf)
}

/// `/proc/PID/...` of the calling process (thread `tid`) as
/// `/proc/self/...`; `None` for any other path.
pub fn own_proc(path: &Path, tid: i32) -> Option<PathBuf> {
    // Most paths are not under /proc: a byte test before Path's parsing.
    if !path.as_os_str().as_bytes().starts_with(b"/proc/") {
        return None;
    }
    let rest = path.strip_prefix("/proc").ok()?;
    let mut parts = rest.components();
    let first = parts.next()?.as_os_str().to_str()?;
    let n: i32 = first.parse().ok()?;
    if n != tid && n != tgid_of(tid) {
        return None;
    }
    Some(Path::new("/proc/self").join(parts.as_path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_held_proc_dir_reads_live_entries_and_is_dropped_with_its_task() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = std::fs::canonicalize(dir.path()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&cwd)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let cwd = cwd.into_os_string().into_vec();
        assert_eq!(proc_link(pid, b"cwd"), Some(cwd.clone()));
        assert!(held_proc_dir(pid).is_some(), "held after the first lookup");
        // Read through the held directory: the same answer.
        assert_eq!(proc_link(pid, b"cwd"), Some(cwd.clone()));
        assert_eq!(proc_link(pid, b"fd/987"), None, "no such fd");
        assert_eq!(proc_link(pid, b"cwd"), Some(cwd));
        assert!(held_proc_dir(pid).is_some(), "held again");
        child.kill().unwrap();
        child.wait().unwrap();
        // The task is gone: its held directory answers nothing, and is
        // dropped (the pid is not reused within this test).
        assert_eq!(proc_link(pid, b"cwd"), None);
        assert!(held_proc_dir(pid).is_none());
    }

    #[test]
    fn a_path_below_a_link_is_taken_from_its_target_while_the_link_stands() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let r = root.display().to_string();
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        symlink("real", root.join("link")).unwrap();
        let at = root.join("link").into_os_string().into_vec();
        let link = TopLink::at(at.clone()).unwrap();
        let below = |link: &TopLink, rest: &str| link.below(format!("{r}/link{rest}").as_bytes());
        assert_eq!(
            below(&link, "/sub/f"),
            Some(format!("{r}/real/sub/f").into_bytes())
        );
        // The link itself (which an O_NOFOLLOW open does not follow) and a
        // sibling whose name starts with the link's are not below it.
        assert_eq!(link.below(&at), None);
        assert_eq!(below(&link, "er/x"), None);
        // Changed since it was learnt, to a text of the same length or a
        // longer one: nothing is rewritten.
        for text in ["rea1", "real2"] {
            std::fs::remove_file(root.join("link")).unwrap();
            symlink(text, root.join("link")).unwrap();
            assert_eq!(below(&link, "/sub/f"), None, "{text}");
        }
        // A target with `..` is never rewritten; an absolute one is taken
        // as it reads.
        std::fs::remove_file(root.join("link")).unwrap();
        symlink("../x", root.join("link")).unwrap();
        let up = TopLink::at(at.clone()).unwrap();
        assert_eq!(below(&up, "/f"), None);
        std::fs::remove_file(root.join("link")).unwrap();
        symlink("/abs//dir/", root.join("link")).unwrap();
        let abs = TopLink::at(at.clone()).unwrap();
        assert_eq!(below(&abs, "/f"), Some(b"/abs/dir/f".to_vec()));
        // Not a link: nothing to learn.
        assert!(TopLink::at(root.join("real").into_os_string().into_vec()).is_none());
    }

    fn at(pid: i32, path: &str, follow_last: bool) -> Result<PathBuf, i32> {
        resolve(&Request {
            pid,
            base: Base::Cwd,
            path: path.as_bytes(),
            follow_last,
        })
        .map(|r| r.path)
    }

    fn me() -> i32 {
        std::process::id() as i32
    }

    #[test]
    fn proc_files_read_whole() {
        // Longer than one buffer: every chunk is kept, in order.
        let dir = tempfile::tempdir().unwrap();
        let long: String = (0..2000).map(|i| format!("{i}\n")).collect();
        std::fs::write(dir.path().join("f"), &long).unwrap();
        let path = dir.path().join("f");
        assert_eq!(
            read_proc(path.to_str().unwrap()).as_deref(),
            Some(long.as_str())
        );
        assert!(read_proc("/proc/self/status").is_some_and(|s| s.ends_with('\n')));
        assert_eq!(status_field(me(), "Tgid:"), Some(me().to_string()));
        assert_eq!(read_proc("/proc/self/no-such-file"), None);
    }

    #[test]
    fn symlinks_then_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        symlink(root.join("real/sub"), root.join("link")).unwrap();
        // `link/..` is `real`, not the directory holding `link`.
        let p = format!("{}/link/../x", root.display());
        assert_eq!(at(me(), &p, true), Ok(root.join("real/x")));
        // The last component is left alone when the call does not follow it.
        let p = format!("{}/link", root.display());
        assert_eq!(at(me(), &p, false), Ok(root.join("link")));
        assert_eq!(at(me(), &p, true), Ok(root.join("real/sub")));
        // ... unless the path ends with a slash.
        assert_eq!(at(me(), &format!("{p}/"), false), Ok(root.join("real/sub")));
        // A missing target resolves through its parent.
        // As in the kernel, nothing is looked up below a missing name, a
        // file or a magic link that names no path, not even `..`.
        let p = format!("{}/link/missing/../y", root.display());
        assert_eq!(at(me(), &p, true), Err(libc::ENOENT));
        std::fs::write(root.join("real/f"), b"x").unwrap();
        for p in ["real/f/../sub", "real/f/.", "real/f/"] {
            let p = format!("{}/{p}", root.display());
            assert_eq!(at(me(), &p, true), Err(libc::ENOTDIR), "{p}");
        }
        let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let pfd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        let p = format!("/proc/self/fd/{pfd}/../../../../{}", root.display());
        assert_eq!(at(me(), &p, true), Err(libc::ENOTDIR));
        // Relative symlinks resolve from the link's directory.
        symlink("real/sub", root.join("rel")).unwrap();
        let p = format!("{}/rel/z", root.display());
        assert_eq!(at(me(), &p, true), Ok(root.join("real/sub/z")));
    }

    #[test]
    fn kinds_of_the_last_component() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("f"), b"x").unwrap();
        symlink(root.join("f"), root.join("l")).unwrap();
        let kind = |p: &str, follow| {
            resolve(&Request {
                pid: me(),
                base: Base::Cwd,
                path: format!("{}/{p}", root.display()).as_bytes(),
                follow_last: follow,
            })
            .map(|r| r.last)
        };
        assert_eq!(kind("f", true), Ok(Last::File));
        assert_eq!(kind("l", false), Ok(Last::Symlink));
        assert_eq!(kind("l", true), Ok(Last::File));
        assert_eq!(kind("nope", true), Ok(Last::Missing));
        assert_eq!(kind("", true), Ok(Last::Dir));
    }

    #[test]
    fn relative_to_cwd_and_proc_self() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(at(me(), "no-such-name", true), Ok(cwd.join("no-such-name")));
        assert_eq!(at(me(), "src/x", true), Ok(cwd.join("src/x")));
        assert_eq!(
            at(me(), "/proc/self/status", true),
            Ok(PathBuf::from(format!("/proc/{}/status", me())))
        );
    }

    #[test]
    fn dirfds_and_magic_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("x")).unwrap();
        let d = std::fs::File::open(&root).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&d);
        let r = resolve(&Request {
            pid: me(),
            base: Base::Fd(fd),
            path: b"x/../y",
            follow_last: true,
        });
        assert_eq!(r.map(|r| r.path), Ok(root.join("y")));
        // /proc/self/fd/N jumps to the file the fd names.
        let p = format!("/proc/self/fd/{fd}/z");
        assert_eq!(at(me(), &p, true), Ok(root.join("z")));
        // A socket names no path: the magic link itself is the result.
        let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let pfd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        let r = resolve(&Request {
            pid: me(),
            base: Base::Cwd,
            path: format!("/dev/fd/{pfd}").as_bytes(),
            follow_last: true,
        })
        .unwrap();
        assert_eq!(r.path, PathBuf::from(format!("/proc/{}/fd/{pfd}", me())));
        assert!(r.magic);
        // A dirfd that is not open, or not a directory.
        let bad = |fd| {
            resolve(&Request {
                pid: me(),
                base: Base::Fd(fd),
                path: b"x",
                follow_last: true,
            })
        };
        assert_eq!(bad(99_999), Err(libc::EBADF));
        assert_eq!(bad(pfd), Err(libc::ENOTDIR));
        // A dirfd of a file: even `.` and `..` fail, as in the kernel.
        std::fs::write(root.join("file"), b"x").unwrap();
        let file = std::fs::File::open(root.join("file")).unwrap();
        for path in [".", "..", "../x", "./x", "x"] {
            let r = resolve(&Request {
                pid: me(),
                base: Base::Fd(std::os::fd::AsRawFd::as_raw_fd(&file)),
                path: path.as_bytes(),
                follow_last: true,
            });
            assert_eq!(r, Err(libc::ENOTDIR), "{path}");
        }
        assert!(is_magic(b"/proc/1/task/2/fd/3"));
        assert!(is_magic(b"/proc/1/cwd"));
        assert!(!is_magic(b"/proc/1/status"));
        assert!(!is_magic(b"/proc/self/fd/1"));
    }

    #[test]
    fn the_literal_path_serves_plain_absolute_paths_outside_proc_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/f"), b"x").unwrap();
        symlink(root.join("d"), root.join("l")).unwrap();
        symlink(root.join("d/f"), root.join("d/s")).unwrap();
        let literal = |p: &str, stat: bool| {
            let req = Request {
                pid: me(),
                base: Base::Cwd,
                path: p.as_bytes(),
                follow_last: true,
            };
            resolve_literal(&req, stat).map(|r| (r.path, r.last, r.mode.is_some()))
        };
        let r = root.display();
        // Taken as written (doubled slashes dropped), nothing looked at.
        assert_eq!(
            literal(&format!("{r}//d//f"), false),
            Some((root.join("d/f"), Last::Unchecked, false))
        );
        // Even through a symlink or to a missing name: the open refuses.
        assert_eq!(
            literal(&format!("{r}/l/nope"), false),
            Some((root.join("l/nope"), Last::Unchecked, false))
        );
        // With `stat`, the last component's type and mode.
        assert_eq!(
            literal(&format!("{r}/d/f"), true),
            Some((root.join("d/f"), Last::File, true))
        );
        assert_eq!(
            literal(&format!("{r}/d/e"), true),
            Some((root.join("d/e"), Last::Dir, true))
        );
        // A symlink or a missing name last takes the full walk.
        assert_eq!(literal(&format!("{r}/d/s"), true), None);
        assert_eq!(literal(&format!("{r}/d/nope"), true), None);
        // `.`, `..`, a trailing slash, relative, /proc (rewritten, guarded).
        for p in ["d/./f", "d/../d/f", "d/e/"] {
            assert_eq!(literal(&format!("{r}/{p}"), false), None, "{p}");
        }
        // A plain relative name joins the path its base names.
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            literal("d/f", false),
            Some((cwd.join("d/f"), Last::Unchecked, false))
        );
        for p in ["./d", "d/../f", "d//f", "d/"] {
            assert_eq!(literal(p, false), None, "{p}");
        }
        let dirfd = std::fs::File::open(root.join("d")).unwrap();
        let from = |fd: i32, p: &str| {
            let req = Request {
                pid: me(),
                base: Base::Fd(fd),
                path: p.as_bytes(),
                follow_last: false,
            };
            resolve_literal(&req, false).map(|r| r.path)
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&dirfd);
        assert_eq!(from(fd, "e"), Some(root.join("d/e")));
        // A base that names no directory path: a pipe, a closed fd.
        let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(from(std::os::fd::AsRawFd::as_raw_fd(&sock), "e"), None);
        assert_eq!(from(99_999, "e"), None);
        // A base in /proc stays out.
        let proc = std::fs::File::open("/proc/self").unwrap();
        assert_eq!(from(std::os::fd::AsRawFd::as_raw_fd(&proc), "status"), None);
        assert_eq!(literal("/proc/self/status", false), None);
        assert_eq!(literal("//proc/1/mem", false), None);
        assert_eq!(literal("/proc", false), None);
        assert_eq!(
            literal("/procfs/x", false),
            Some((PathBuf::from("/procfs/x"), Last::Unchecked, false))
        );
    }

    /// How [`resolve_kernel`] answered a request next to the walk.
    #[derive(Debug, PartialEq, Eq)]
    enum Side {
        /// The same path, type and mode (or the same errno).
        Same,
        /// It declined: the walk answers.
        Fallback,
    }

    /// Runs the kernel's lookup and the walk on `req` and asserts that
    /// where the first answers, it answers as the second does.
    fn side_by_side(req: &Request<'_>) -> Side {
        let shown = String::from_utf8_lossy(req.path).into_owned();
        let walk = resolve_sandboxed(req);
        let Some(kernel) = resolve_kernel(req, true) else {
            return Side::Fallback;
        };
        match (kernel, &walk) {
            (Ok(held), Ok(w)) => {
                let k = &held.resolved;
                assert_eq!(k.path, w.path, "{shown} {:?}", req.base);
                assert_eq!(k.last, w.last, "{shown}");
                if w.mode.is_some() {
                    assert_eq!(k.mode, w.mode, "{shown}");
                }
                assert!(!w.magic && !k.magic, "{shown}");
                // Without the mode: the same path, its type not asked.
                let bare = resolve_kernel(req, false).unwrap().unwrap().resolved;
                assert_eq!(
                    (bare.path, bare.last, bare.mode),
                    (w.path.clone(), Last::Unchecked, None)
                );
            }
            // A missing name: ENOENT to every caller that asks this.
            (Err(e), Ok(w)) => assert_eq!((e, w.last), (libc::ENOENT, Last::Missing), "{shown}"),
            (Err(e), Err(we)) => assert_eq!(e, *we, "{shown}"),
            (Ok(held), Err(we)) => panic!("{shown}: kernel {:?}, walk errno {we}", held.resolved),
        }
        Side::Same
    }

    #[test]
    fn the_kernels_lookup_answers_as_the_walk_or_declines() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let r = root.display().to_string();
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/f"), b"x").unwrap();
        let fifo = std::ffi::CString::new(format!("{r}/fifo")).unwrap();
        // SAFETY: a C string alive for the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        for (link, to) in [
            ("la", format!("{r}/d")),
            ("lr", "d".into()),
            ("c1", "c2".into()),
            ("c2", "lr".into()),
            ("a", "b".into()),
            ("b", "a".into()),
            ("lf", "d/f".into()),
            ("dang", "nowhere".into()),
            ("d/e/up", "../../d".into()),
            ("lfifo", "fifo".into()),
            ("p", "/proc/self".into()),
            ("pfd", "/proc/self/fd".into()),
            ("pcwd", "/proc/self/cwd".into()),
            ("pup", format!("/proc/self/task/../../../{r}/d")),
            ("top", "/".into()),
            ("dev", "/dev/null".into()),
        ] {
            symlink(to, root.join(link)).unwrap();
        }
        let rel = [
            "",
            "d",
            "d/f",
            "d/e",
            "la",
            "la/f",
            "lr/f",
            "c1",
            "c1/f",
            "c1/e/..",
            "la/..",
            "lr/../d/f",
            "d/e/up/f",
            "d/e/up/..",
            "a",
            "a/x",
            "lf",
            "lf/",
            "lf/x",
            "lf/..",
            "dang",
            "dang/",
            "dang/x",
            "nope",
            "nope/x",
            "nope/..",
            "d/f/",
            "d/f/x",
            "d/f/..",
            "d/./f",
            "d//f",
            "la/",
            "la/.",
            "fifo",
            "lfifo",
            "fifo/",
            "lfifo/",
            "fifo/x",
            "d/e/../../la/e/up/../f",
            "top/..",
            "p",
            "p/status",
            "pfd",
            "pfd/0",
            "pcwd",
            "pcwd/d",
            "pup/f",
            "dev",
        ];
        let abs = [
            "/".to_string(),
            "/..".into(),
            "/proc".into(),
            "/proc/self".into(),
            "/proc/self/fd/0".into(),
            "/proc/thread-self".into(),
            "/proc/self/cwd".into(),
            "/dev/fd/0".into(),
            "/dev/null".into(),
            format!("/proc/self/task/../../..{r}/d/f"),
            format!("/proc/self/root{r}/d/f"),
        ];
        let mut fast = 0;
        let mut slow = Vec::new();
        let paths = rel
            .iter()
            .map(|p| format!("{r}/{p}"))
            .chain(abs.iter().cloned());
        for path in paths {
            for follow_last in [true, false] {
                let req = Request {
                    pid: me(),
                    base: Base::Cwd,
                    path: path.as_bytes(),
                    follow_last,
                };
                match side_by_side(&req) {
                    Side::Same => fast += 1,
                    Side::Fallback => slow.push(path.clone()),
                }
            }
        }
        // Relative to a dirfd: a directory, a file, a socket, a closed fd,
        // /proc; and to the cwd.
        let d = std::fs::File::open(root.join("d")).unwrap();
        let f = std::fs::File::open(root.join("d/f")).unwrap();
        let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let proc = std::fs::File::open("/proc/self").unwrap();
        for (base, path) in [
            (d.as_raw_fd(), "f"),
            (d.as_raw_fd(), "e/.."),
            (d.as_raw_fd(), "../la/f"),
            (d.as_raw_fd(), "nope"),
            (d.as_raw_fd(), "e/up/e"),
            (f.as_raw_fd(), "x"),
            (f.as_raw_fd(), ".."),
            (f.as_raw_fd(), "."),
            (f.as_raw_fd(), "../f"),
            (sock.as_raw_fd(), "x"),
            (99_999, "x"),
            (proc.as_raw_fd(), "status"),
        ] {
            let req = Request {
                pid: me(),
                base: Base::Fd(base),
                path: path.as_bytes(),
                follow_last: true,
            };
            match side_by_side(&req) {
                Side::Same => fast += 1,
                Side::Fallback => slow.push(format!("fd {base}: {path}")),
            }
        }
        for path in [
            "Cargo.toml",
            "src/../Cargo.toml",
            "no-such-name",
            "src/lib.rs/x",
        ] {
            let req = Request {
                pid: me(),
                base: Base::Cwd,
                path: path.as_bytes(),
                follow_last: true,
            };
            side_by_side(&req);
        }
        // What names /proc (the supervisor's /proc/self is not the
        // caller's), loops, and what a base names no directory for: the
        // walk. Nothing else, where the fixture lies on the root's own
        // mount (a /tmp of its own, or a namespace whose top directories
        // are bind mounts, make every path below it cross a mount).
        let declined = |p: &str| slow.iter().any(|s| s == p);
        for p in [
            "p", "p/status", "pfd", "pfd/0", "pcwd", "pcwd/d", "pup/f", "a", "a/x",
        ] {
            assert!(declined(&format!("{r}/{p}")), "{p} {slow:?}");
        }
        for p in &abs[2..] {
            assert!(declined(p), "{p}");
        }
        assert!(slow
            .iter()
            .any(|s| s == &format!("fd {}: x", sock.as_raw_fd())));
        assert!(slow.iter().any(|s| s == "fd 99999: x"));
        assert!(slow
            .iter()
            .any(|s| s == &format!("fd {}: status", proc.as_raw_fd())));
        let probe = Request {
            pid: me(),
            base: Base::Cwd,
            path: r.as_bytes(),
            follow_last: true,
        };
        eprintln!("kernel answered {fast}; declined: {slow:?}");
        if resolve_kernel(&probe, false).is_some() {
            // Every fixture path outside /proc, loops, devices (/dev is a
            // mount) and the root (`top/..` reaches `/`, which a
            // no-crossing lookup from `/` reaches too) took the kernel.
            assert!(fast >= 60, "only {fast} answered by the kernel: {slow:?}");
            assert!(!declined(&format!("{r}/la/f")) && !declined(&format!("{r}/d/e/up/f")));
        } else {
            eprintln!("the fixture {r} is below a mount: every lookup declined");
        }
    }

    #[test]
    fn a_relative_name_as_written_is_the_walks_path_whenever_its_open_succeeds() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/f"), b"x").unwrap();
        symlink(root.join("d"), root.join("d/e/up")).unwrap();
        symlink("f", root.join("d/lf")).unwrap();
        let base = std::fs::File::open(root.join("d")).unwrap();
        let mut opened = 0;
        for name in ["f", "e", "e/up", "e/up/f", "lf", "nope", "f/x", "e/nope/x"] {
            for follow_last in [true, false] {
                let req = Request {
                    pid: me(),
                    base: Base::Fd(base.as_raw_fd()),
                    path: name.as_bytes(),
                    follow_last,
                };
                // As the supervisor opens for a caller's O_RDONLY
                // [| O_NOFOLLOW].
                let nofollow = if follow_last { 0 } else { libc::O_NOFOLLOW };
                let how = [
                    (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | nofollow) as u64,
                    0,
                    libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
                ];
                let literal = resolve_literal(&req, false).expect(name);
                let text = std::ffi::CString::new(literal.path.as_os_str().as_bytes()).unwrap();
                if openat2(libc::AT_FDCWD, &text, &how).is_ok() {
                    opened += 1;
                    let walk = resolve_sandboxed(&req).unwrap();
                    assert_eq!(walk.path, literal.path, "{name}");
                    assert!(walk.exists() && walk.last != Last::Symlink, "{name}");
                }
            }
        }
        // f and e, followed or not; never a name through or at a symlink.
        assert_eq!(opened, 4);
    }

    #[test]
    fn symlink_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        symlink(root.join("b"), root.join("a")).unwrap();
        symlink(root.join("a"), root.join("b")).unwrap();
        assert_eq!(
            at(me(), &format!("{}/a", root.display()), true),
            Err(libc::ELOOP)
        );
    }

    #[test]
    fn own_proc_entries_are_proc_self() {
        let p = PathBuf::from(format!("/proc/{}/status", me()));
        assert_eq!(own_proc(&p, me()), Some(PathBuf::from("/proc/self/status")));
        assert_eq!(own_proc(Path::new("/proc/1/status"), me()), None);
        assert_eq!(own_proc(Path::new("/proc/cpuinfo"), me()), None);
        assert_eq!(own_proc(Path::new("/tmp/1"), me()), None);
    }
}
