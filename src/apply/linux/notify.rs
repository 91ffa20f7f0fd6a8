//! The seccomp user-notification interface (Linux), one function per ioctl,
//! each turning the kernel's return code into a `Result` at once; and the
//! reads of the sandboxed process the supervisor needs (its memory through
//! `process_vm_readv`, its fds through `pidfd_getfd`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6; not in the libc crate):
/// the supervisor and the target hand the CPU to each other, so a round
/// trip stays on one CPU.
const SYNC_WAKE_UP: u64 = 1;

pub use crate::apply::sys::errno;

fn ioctl<T>(listener: &OwnedFd, request: libc::Ioctl, arg: &mut T) -> Result<(), i32> {
    // SAFETY: every request used here reads or writes exactly one `T`, the
    // structure the kernel defines for it; `arg` is valid for the call.
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), request, arg as *mut T) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Waits for the next notification. ENOENT: the target died or its call was
/// interrupted before we took it.
pub fn recv(listener: &OwnedFd) -> Result<libc::seccomp_notif, i32> {
    // SAFETY: seccomp_notif is plain data; all-zero is valid (and required
    // by NOTIF_RECV).
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    loop {
        match ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) {
            Err(libc::EINTR) => continue,
            r => return r.map(|()| req),
        }
    }
}

/// Whether the notification `id` is still pending: its target has not died
/// (so its pid, and what we read through it, still name the caller).
pub fn id_valid(listener: &OwnedFd, id: u64) -> bool {
    let mut id = id;
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id).is_ok()
}

fn send(listener: &OwnedFd, mut resp: libc::seccomp_notif_resp) -> Result<(), i32> {
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp)
}

/// Lets the call run as the process made it.
pub fn send_continue(listener: &OwnedFd, id: u64) -> Result<(), i32> {
    send(
        listener,
        libc::seccomp_notif_resp {
            id,
            val: 0,
            error: 0,
            flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        },
    )
}

/// Fails the call with `errno`.
pub fn send_error(listener: &OwnedFd, id: u64, errno: i32) -> Result<(), i32> {
    send(
        listener,
        libc::seccomp_notif_resp {
            id,
            val: 0,
            error: -errno,
            flags: 0,
        },
    )
}

/// Installs `fd` in the target and makes it the call's return value, in one
/// step (SECCOMP_ADDFD_FLAG_SEND). Returns the fd number the target got.
pub fn send_fd(listener: &OwnedFd, id: u64, fd: &OwnedFd, cloexec: bool) -> Result<i32, i32> {
    let mut add = libc::seccomp_notif_addfd {
        id,
        flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
        srcfd: fd.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    // SAFETY: NOTIF_ADDFD reads one seccomp_notif_addfd; on success the
    // ioctl's return value is the target's new fd.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            &mut add as *mut libc::seccomp_notif_addfd,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// Asks for synchronous wake-ups (Linux 6.6+); older kernels refuse, which
/// only costs speed.
///
/// Unlike the other requests, SET_FLAGS takes the flags as the ioctl's
/// argument itself, not a pointer to them (the kernel's
/// `seccomp_notify_set_flags(filter, arg)`): a pointer has other bits set
/// and is refused with EINVAL, which silently left the flag off.
pub fn set_sync_wake_up(listener: &OwnedFd) -> Result<(), i32> {
    // SAFETY: SET_FLAGS reads no memory: the flags are the argument.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SYNC_WAKE_UP,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `pidfd_open(pid)`, for a thread too (PIDFD_THREAD, Linux 6.9), else for
/// the thread's process.
pub fn pidfd(pid: i32) -> Result<OwnedFd, i32> {
    let open = |pid: i32, flags: u32| {
        // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
        if fd < 0 {
            Err(errno())
        } else {
            // SAFETY: the fd is new and ours alone.
            Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
        }
    };
    open(pid, 0)
        .or_else(|_| open(pid, libc::PIDFD_THREAD))
        .or_else(|_| open(super::resolve::tgid_of(pid), 0))
}

/// Duplicates fd `fd` of the process behind `pidfd` into ours.
pub fn getfd(pidfd: &OwnedFd, fd: RawFd) -> Result<OwnedFd, i32> {
    // SAFETY: pidfd_getfd takes integers; returns a new fd or -1.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if got < 0 {
        Err(errno())
    } else {
        // SAFETY: the fd is new and ours alone.
        Ok(unsafe { OwnedFd::from_raw_fd(got as RawFd) })
    }
}

/// Reads into `buf` from `addr` in `pid`; returns the bytes read.
pub fn read_into(pid: i32, addr: u64, buf: &mut [u8]) -> usize {
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

/// Reads `N` bytes at `addr` in process `pid`.
pub fn read_remote<const N: usize>(pid: i32, addr: u64) -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    (read_into(pid, addr, &mut buf) == N).then_some(buf)
}

/// Why a string could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringError {
    /// The address is not readable: the kernel would say EFAULT.
    Fault,
    /// No NUL within PATH_MAX bytes: ENAMETOOLONG.
    TooLong,
}

/// Reads a NUL-terminated string of at most PATH_MAX bytes, page by page so
/// a string ending just before an unmapped page is still read. The first
/// read asks for at most `FIRST` bytes: most paths are short, and copying
/// the rest of the page each time cost more than the rare second read.
pub fn read_c_string(pid: i32, addr: u64) -> Result<Vec<u8>, StringError> {
    const PAGE: u64 = 4096;
    const FIRST: usize = 256;
    let max = libc::PATH_MAX as usize;
    // Read straight into the result: zeroing a page-sized buffer for every
    // path cost more than the read's own copy.
    let mut out: Vec<u8> = Vec::with_capacity(FIRST);
    let mut at = addr;
    while out.len() < max {
        let mut chunk = ((PAGE - at % PAGE) as usize).min(max - out.len());
        if out.is_empty() {
            chunk = chunk.min(FIRST);
        }
        let start = out.len();
        out.resize(start + chunk, 0);
        let n = read_into(pid, at, &mut out[start..]);
        if n == 0 {
            return Err(StringError::Fault);
        }
        out.truncate(start + n);
        if let Some(end) = out[start..].iter().position(|&b| b == 0) {
            out.truncate(start + end);
            return Ok(out);
        }
        at += n as u64;
    }
    Err(StringError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_from_a_process() {
        let s = b"/tmp/some/path\0";
        let me = std::process::id() as i32;
        assert_eq!(
            read_c_string(me, s.as_ptr() as u64),
            Ok(b"/tmp/some/path".to_vec())
        );
        assert_eq!(read_c_string(me, 8), Err(StringError::Fault));
        // Longer than the first read, ending in a later one.
        let mut mid = vec![b'b'; 700];
        mid.push(0);
        assert_eq!(read_c_string(me, mid.as_ptr() as u64), Ok(vec![b'b'; 700]));
        let long = vec![b'a'; 5000];
        assert_eq!(
            read_c_string(me, long.as_ptr() as u64),
            Err(StringError::TooLong)
        );
    }

    #[test]
    fn takes_an_fd_from_a_process() {
        let me = std::process::id() as i32;
        let pidfd = pidfd(me).unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let dup = getfd(&pidfd, a.as_raw_fd()).unwrap();
        assert_ne!(dup.as_raw_fd(), a.as_raw_fd());
        assert_eq!(getfd(&pidfd, 99_999).err(), Some(libc::EBADF));
    }
}
