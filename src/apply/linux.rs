//! The Linux engine: seccomp user notification with a supervisor that
//! evaluates the blob for each intercepted syscall.
//!
//! Child side ([`Filter::install`], after `fork()`): raw syscalls on memory
//! prepared before the fork: no allocation, no locks, no panics.
//! Parent side ([`Supervisor`]): receives each notification, reads the path
//! from the child's memory, resolves it as the kernel will, evaluates the
//! profile and answers CONTINUE (allow) or an errno (deny).
//!
//! Fails closed: if the supervisor dies, notified syscalls return ENOSYS.

use super::resolve::{self, Base, Request};
use super::syscalls::{self, Flags, Follow, Kind, Ops};
use super::ApplyError;
use crate::blob::Profile;
use crate::eval::{evaluate, explain, Args, Decision, Verdict};
use crate::vocab::{OpId, Vocab};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// `AUDIT_ARCH_X86_64` (not in the libc crate).
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// Syscall numbers at or above this are x32 ABI calls.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// `offsetof(struct seccomp_data, nr)` and `arch`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The BPF program, built before `fork()` so the child only hands it to the
/// kernel.
pub struct Filter {
    program: Vec<libc::sock_filter>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new()
    }
}

impl Filter {
    /// Wrong architecture: kill (an i386 `int 0x80` call would otherwise
    /// bypass the x86_64 numbers); x32 numbers and the refused syscalls:
    /// EPERM; the intercepted syscalls: notify; everything else: allow.
    pub fn new() -> Filter {
        let notify = syscalls::INTERCEPTED.iter().map(|s| s.nr as u32);
        let refuse = syscalls::REFUSED.iter().map(|&nr| nr as u32);
        let checks: Vec<(u32, bool)> = notify
            .map(|nr| (nr, true))
            .chain(refuse.map(|nr| (nr, false)))
            .collect();
        let n = checks.len();
        let mut p = vec![
            stmt(BPF_LD_W_ABS, OFFSET_ARCH),
            // jf skips to KILL, which sits after ALLOW, NOTIFY, ERRNO.
            jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 0, (n + 5) as u8),
            stmt(BPF_LD_W_ABS, OFFSET_NR),
            jump(BPF_JGE_K, X32_SYSCALL_BIT, (n + 2) as u8, 0),
        ];
        for (i, &(nr, notified)) in checks.iter().enumerate() {
            // Distance from the next instruction to ALLOW is n - i - 1.
            let to_allow = n - i - 1;
            let target = if notified { to_allow + 1 } else { to_allow + 2 };
            p.push(jump(BPF_JEQ_K, nr, target as u8, 0));
        }
        p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
        p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_USER_NOTIF));
        p.push(stmt(
            BPF_RET_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ));
        p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS));
        Filter { program: p }
    }

    /// Installs the filter in the calling process and returns the listener
    /// fd, or the errno of the step that failed.
    ///
    /// Async-signal-safe: raw syscalls on memory prepared before `fork()`.
    pub fn install(&self) -> Result<RawFd, i32> {
        if !cfg!(target_arch = "x86_64") {
            return Err(libc::ENOSYS);
        }
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prctl with integer arguments only; no memory is passed.
        let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(errno());
        }
        // Yama's ptrace_scope=1 would stop the parent reading our memory.
        // SAFETY: prctl with integer arguments; failure is harmless (no Yama).
        unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0) };
        let flags =
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        // SAFETY: `prog` points at `self.program`, alive for the call; the
        // kernel copies the program.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if fd < 0 {
            return Err(errno());
        }
        Ok(fd as RawFd)
    }
}

/// The calling thread's errno.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Takes the listener fd `fd` of process `pid` into this process.
pub fn take_listener(pid: i32, fd: RawFd) -> Result<OwnedFd, ApplyError> {
    // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(ApplyError::Sys {
            call: "pidfd_open",
            errno: errno(),
        });
    }
    // SAFETY: pidfd is a fresh fd we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: pidfd_getfd duplicates the child's fd into ours; integer args.
    let listener = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if listener < 0 {
        return Err(ApplyError::Sys {
            call: "pidfd_getfd",
            errno: errno(),
        });
    }
    // SAFETY: the returned fd is new and ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(listener as RawFd) })
}

/// One intercepted syscall and what the supervisor decided.
#[derive(Debug, Clone)]
pub struct Intercept {
    pub syscall: &'static str,
    /// The path as the process passed it.
    pub requested: String,
    /// The path the profile was evaluated against.
    pub resolved: String,
    /// Each operation checked, with its decision.
    pub decisions: Vec<Decision>,
    pub verdict: Verdict,
    /// The errno returned (0 when the call continued).
    pub errno: i32,
    /// Seatbelt-style log line for a denial: `deny(1) file-read-data /etc/hosts`.
    pub log: Option<String>,
    /// The deciding rule, as SBPL.
    pub rule: String,
}

/// Options of the Linux engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Match paths in macOS's layout (`/tmp` -> `/private/tmp`, ...).
    pub macos_paths: bool,
}

/// Answers notifications for one sandboxed process tree.
pub struct Supervisor<'p> {
    pub profile: &'p Profile,
    pub options: Options,
    pub intercepts: Vec<Intercept>,
}

impl<'p> Supervisor<'p> {
    pub fn new(profile: &'p Profile, options: Options) -> Self {
        Supervisor {
            profile,
            options,
            intercepts: Vec::new(),
        }
    }

    /// Receives and answers one notification. `Ok(false)` when the target
    /// died before it could be answered.
    pub fn handle_one(&mut self, listener: &OwnedFd) -> Result<bool, ApplyError> {
        // SAFETY: seccomp_notif is plain data; all-zero is valid (and required
        // by NOTIF_RECV).
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: NOTIF_RECV writes one seccomp_notif into `req`.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV as _,
                &mut req,
            )
        };
        if rc != 0 {
            let e = errno();
            // ENOENT: the target died or the call was interrupted.
            return if e == libc::ENOENT || e == libc::EINTR {
                Ok(false)
            } else {
                Err(ApplyError::Sys {
                    call: "SECCOMP_IOCTL_NOTIF_RECV",
                    errno: e,
                })
            };
        }
        let (errno_out, record) = self.decide(&req);
        if !id_valid(listener, req.id) {
            return Ok(false);
        }
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error: -errno_out,
            flags: if errno_out == 0 {
                libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32
            } else {
                0
            },
        };
        // SAFETY: NOTIF_SEND reads one seccomp_notif_resp from `resp`.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                &mut resp,
            )
        };
        if let Some(record) = record {
            self.intercepts.push(record);
        }
        Ok(rc == 0)
    }

    /// The errno to answer with (0 = continue) and the record of the call.
    fn decide(&self, req: &libc::seccomp_notif) -> (i32, Option<Intercept>) {
        let Some(sc) = syscalls::lookup(i64::from(req.data.nr)) else {
            // Not ours to judge: the filter only sends intercepted calls.
            return (0, None);
        };
        let pid = req.pid as i32;
        let args = req.data.args;
        let (dirfd, path_arg, follow) = match sc.kind {
            Kind::Open { dirfd, path, flags } => {
                let f = open_flags(pid, flags, &args);
                (dirfd, path, !syscalls::open_nofollow(f))
            }
            Kind::Metadata {
                dirfd,
                path,
                follow,
            } => {
                let follow = match follow {
                    Follow::Always => true,
                    Follow::Never => false,
                    Follow::UnlessNofollowAt(i) => args[i] as i32 & libc::AT_SYMLINK_NOFOLLOW == 0,
                };
                (dirfd, path, follow)
            }
        };
        let Some(raw) = read_c_string(pid, args[path_arg]) else {
            // Unreadable path: the kernel would fail with EFAULT too.
            return (libc::EFAULT, None);
        };
        // An empty path with AT_EMPTY_PATH acts on an fd already open.
        if raw.is_empty() {
            return (0, None);
        }
        let base = match dirfd.map(|i| args[i] as i32) {
            Some(fd) if fd != libc::AT_FDCWD => Base::Fd(fd),
            _ => Base::Cwd,
        };
        let resolved = resolve::resolve(&Request {
            pid,
            base,
            path: &raw,
            follow_last: follow,
        });
        let Some(resolved) = resolved else {
            return (libc::ENOENT, None);
        };
        let ops = match sc.kind {
            Kind::Open { flags, .. } => {
                syscalls::open_operations(open_flags(pid, flags, &args), resolved.exists())
            }
            Kind::Metadata { .. } => Ops::one(crate::vocab::op::FILE_READ_METADATA),
        };
        let matched: PathBuf = if self.options.macos_paths {
            resolve::to_macos(&resolved)
        } else {
            resolved
        };
        let record = self.judge(sc.name, &raw, &matched, ops.as_slice());
        (record.errno, Some(record))
    }

    /// Evaluates every operation; the first denial decides.
    fn judge(
        &self,
        syscall: &'static str,
        raw: &[u8],
        path: &std::path::Path,
        ops: &[OpId],
    ) -> Intercept {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let decisions: Vec<Decision> = ops
            .iter()
            .map(|&op| evaluate(self.profile, op, &Args::path(bytes)))
            .collect();
        // Undetermined counts as deny: an engine that cannot decide refuses.
        let denied = decisions
            .iter()
            .find(|d| d.verdict() != Some(Verdict::Allow));
        let deciding = denied.or(decisions.last());
        let rule = deciding
            .map(|d| explain(self.profile, d))
            .unwrap_or_default();
        let shown = path.display().to_string();
        let (verdict, errno, log) = match denied {
            None => (Verdict::Allow, 0, None),
            Some(d) => {
                let errno = d
                    .outcome
                    .as_ref()
                    .ok()
                    .and_then(|a| a.errno())
                    .unwrap_or(libc::EPERM);
                let op = Vocab::macos_14().op_name(d.operation).unwrap_or("?");
                (Verdict::Deny, errno, Some(format!("deny(1) {op} {shown}")))
            }
        };
        Intercept {
            syscall,
            requested: String::from_utf8_lossy(raw).into_owned(),
            resolved: shown,
            decisions,
            verdict,
            errno,
            log,
            rule,
        }
    }
}

fn open_flags(pid: i32, flags: Flags, args: &[u64; 6]) -> u64 {
    match flags {
        Flags::Arg(i) => args[i],
        Flags::Creat => (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
        Flags::OpenHow(i) => read_remote::<8>(pid, args[i]).map_or(0, u64::from_le_bytes),
    }
}

fn id_valid(listener: &OwnedFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: NOTIF_ID_VALID reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
            &mut id,
        ) == 0
    }
}

/// Reads `N` bytes at `addr` in process `pid`.
fn read_remote<const N: usize>(pid: i32, addr: u64) -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    (read_into(pid, addr, &mut buf) == N).then_some(buf)
}

/// Reads into `buf` from `addr` in `pid`; returns the bytes read.
fn read_into(pid: i32, addr: u64, buf: &mut [u8]) -> usize {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which we own for the call; the remote
    // side is only read by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    n.max(0) as usize
}

/// Reads a NUL-terminated string of at most PATH_MAX bytes, page by page so
/// a string ending just before an unmapped page is still read.
fn read_c_string(pid: i32, addr: u64) -> Option<Vec<u8>> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < libc::PATH_MAX as usize {
        let chunk = (PAGE - at % PAGE) as usize;
        let mut buf = [0u8; PAGE as usize];
        let n = read_into(pid, at, &mut buf[..chunk]);
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(out);
        }
        out.extend_from_slice(&buf[..n]);
        at += n as u64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_jumps_land_on_the_returns() {
        let f = Filter::new();
        let p = &f.program;
        let n = p.len();
        let ret = |i: usize| p[i].k;
        assert_eq!(ret(n - 4), libc::SECCOMP_RET_ALLOW);
        // Arch mismatch lands on KILL.
        assert_eq!(ret(2 + p[1].jf as usize), libc::SECCOMP_RET_KILL_PROCESS);
        // x32 lands on ERRNO.
        assert_eq!(
            ret(4 + p[3].jt as usize),
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
        );
        for (i, sc) in syscalls::INTERCEPTED.iter().enumerate() {
            let ins = &p[4 + i];
            assert_eq!(ins.k, sc.nr as u32);
            assert_eq!(
                ret(4 + i + 1 + ins.jt as usize),
                libc::SECCOMP_RET_USER_NOTIF,
                "{}",
                sc.name
            );
        }
        let base = 4 + syscalls::INTERCEPTED.len();
        for (i, &nr) in syscalls::REFUSED.iter().enumerate() {
            let ins = &p[base + i];
            assert_eq!(ins.k, nr as u32);
            assert_eq!(
                ret(base + i + 1 + ins.jt as usize),
                libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
            );
        }
    }

    #[test]
    fn reads_strings_from_a_process() {
        let s = b"/tmp/some/path\0";
        let me = std::process::id() as i32;
        assert_eq!(
            read_c_string(me, s.as_ptr() as u64),
            Some(b"/tmp/some/path".to_vec())
        );
        assert_eq!(read_c_string(me, 8), None);
    }
}
