//! System calls for code that runs in a forked child, on every platform:
//! libc's thin wrappers of async-signal-safe calls, so no allocation, no
//! locks, no panics. Each returns the errno on failure.
//!
//! (Linux tests that need one particular syscall number, legacy or `*at`,
//! use [`super::linux::calls`] instead.)

use std::ffi::CStr;
use std::os::fd::RawFd;

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check<T: Into<i64> + Copy>(rc: T) -> Result<T, i32> {
    if rc.into() < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// `openat(AT_FDCWD, path, flags, mode)`.
pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<RawFd, i32> {
    // SAFETY: path is a NUL-terminated string alive for the call.
    check(unsafe { libc::openat(libc::AT_FDCWD, path.as_ptr(), flags, mode as libc::c_uint) })
}

/// `stat(path)`: the errno of a metadata lookup.
pub fn stat(path: &CStr) -> Result<(), i32> {
    // SAFETY: all-zero is a valid `struct stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: path is a C string and `st` is writable for the call.
    check(unsafe { libc::stat(path.as_ptr(), &mut st) }).map(drop)
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: buf is writable for buf.len() bytes.
    check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as i64).map(|n| n as usize)
}

pub fn write(fd: RawFd, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: buf is readable for buf.len() bytes.
    check(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } as i64).map(|n| n as usize)
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd this process owns; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

/// One past the highest fd this process may have open.
pub fn fd_limit() -> RawFd {
    // SAFETY: getrlimit writes one rlimit.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    RawFd::try_from(rl.rlim_cur).unwrap_or(RawFd::MAX)
}

/// Closes every fd from `from` up, except `keep`. Linux: close_range, so a
/// high fd limit costs nothing.
pub fn close_from(from: RawFd, keep: [RawFd; 2]) {
    let (lo, hi) = (keep[0].min(keep[1]), keep[0].max(keep[1]));
    #[cfg(target_os = "linux")]
    {
        let range = |a: RawFd, b: RawFd| {
            if a <= b {
                // SAFETY: close_range on an integer range of our own fds.
                unsafe { libc::syscall(libc::SYS_close_range, a as u32, b as u32, 0u32) };
            }
        };
        range(from, lo - 1);
        range(lo + 1, hi - 1);
        range(hi + 1, RawFd::MAX);
    }
    #[cfg(not(target_os = "linux"))]
    for fd in from..fd_limit() {
        if fd != lo && fd != hi {
            close(fd);
        }
    }
}

/// Swaps the names `a` and `b` atomically (`renameat2(RENAME_EXCHANGE)`);
/// both must exist. Errors are the errno (ENOSYS where the call does not
/// exist).
pub fn exchange(a: &std::path::Path, b: &std::path::Path) -> Result<(), i32> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let (Ok(a), Ok(b)) = (c(a), c(b)) else {
        return Err(libc::EINVAL);
    };
    #[cfg(target_os = "linux")]
    {
        // SAFETY: both paths are C strings alive for the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        check(rc).map(drop)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Err(libc::ENOSYS)
    }
}

/// `unlinkat(AT_FDCWD, path, 0)`.
pub fn unlink(path: &CStr) -> Result<(), i32> {
    // SAFETY: path is a C string alive for the call.
    check(unsafe { libc::unlinkat(libc::AT_FDCWD, path.as_ptr(), 0) }).map(drop)
}

/// `fchmodat(AT_FDCWD, path, mode, 0)`.
pub fn chmod(path: &CStr, mode: u32) -> Result<(), i32> {
    // SAFETY: path is a C string alive for the call.
    check(unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), mode as libc::mode_t, 0) })
        .map(drop)
}

/// `execve(path, argv, envp)`: returns only on failure. `argv` and `envp`
/// are NULL-terminated arrays prepared before `fork()`.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> i32 {
    if argv.last() != Some(&std::ptr::null()) || envp.last() != Some(&std::ptr::null()) {
        return libc::EINVAL;
    }
    // SAFETY: path is a C string; argv and envp are NULL-terminated arrays
    // of C strings that outlive the call (it does not return on success).
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

pub fn socket(domain: i32, ty: i32) -> Result<RawFd, i32> {
    // SAFETY: integer arguments only.
    let fd = check(unsafe { libc::socket(domain, ty, 0) })?;
    // SAFETY: fcntl on our own fd with integer arguments.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(fd)
}

fn in_len() -> libc::socklen_t {
    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
}

pub fn connect(fd: RawFd, addr: &libc::sockaddr_in) -> Result<(), i32> {
    // SAFETY: addr points at a sockaddr_in of `in_len()` bytes.
    check(unsafe { libc::connect(fd, (addr as *const libc::sockaddr_in).cast(), in_len()) })
        .map(drop)
}

pub fn bind(fd: RawFd, addr: &libc::sockaddr_in) -> Result<(), i32> {
    // SAFETY: addr points at a sockaddr_in of `in_len()` bytes.
    check(unsafe { libc::bind(fd, (addr as *const libc::sockaddr_in).cast(), in_len()) }).map(drop)
}

pub fn sendto(fd: RawFd, buf: &[u8], addr: &libc::sockaddr_in) -> Result<usize, i32> {
    // SAFETY: buf is readable for its length; addr is a sockaddr_in of
    // `in_len()` bytes.
    let rc = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (addr as *const libc::sockaddr_in).cast(),
            in_len(),
        )
    };
    check(rc as i64).map(|n| n as usize)
}

/// Keeps the calling thread (and children forked from it afterwards) on
/// one CPU: for measuring a round trip that stays on it.
#[cfg(target_os = "linux")]
pub fn pin_to_cpu(cpu: usize) -> Result<(), i32> {
    // SAFETY: all-zero is an empty cpu_set_t; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: cpu is within the set (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: sched_setaffinity reads one cpu_set_t of the given size.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    check(rc).map(drop)
}

/// Keeps the calling thread (and children forked from it afterwards) on
/// `cpus` (`sbcheck exec --cpus`).
#[cfg(target_os = "linux")]
pub fn pin_to_cpus(cpus: &[usize]) -> Result<(), i32> {
    // SAFETY: all-zero is an empty cpu_set_t; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return Err(libc::EINVAL);
        }
        // SAFETY: cpu is within the set (checked above).
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    set_affinity(&set)
}

/// The calling thread's CPU affinity (empty if it cannot be read), to
/// restore with [`set_affinity`] after [`pin_to_cpu`].
#[cfg(target_os = "linux")]
pub fn affinity() -> libc::cpu_set_t {
    // SAFETY: all-zero is a valid (empty) cpu_set_t, filled by the call.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes one cpu_set_t of the given size.
    unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    set
}

/// How many CPUs the calling thread may run on (1 if that cannot be read).
pub fn cpus_allowed() -> usize {
    #[cfg(target_os = "linux")]
    {
        let set = affinity();
        // SAFETY: CPU_COUNT reads the set.
        (unsafe { libc::CPU_COUNT(&set) } as usize).max(1)
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(target_os = "linux")]
pub fn set_affinity(set: &libc::cpu_set_t) -> Result<(), i32> {
    // SAFETY: sched_setaffinity reads one cpu_set_t of the given size.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    check(rc).map(drop)
}

/// Numbers shared with forked children (an anonymous shared mapping), so a
/// child can hand back more than an exit status: measurements, counts.
pub struct Shared {
    ptr: *mut std::sync::atomic::AtomicU64,
    len: usize,
}

// SAFETY: the memory is only accessed through atomics.
unsafe impl Sync for Shared {}
// SAFETY: as above; the mapping is not tied to a thread.
unsafe impl Send for Shared {}

impl Shared {
    /// `len` zeroed numbers.
    pub fn new(len: usize) -> Result<Shared, i32> {
        let bytes = len.max(1) * 8;
        // SAFETY: a fresh anonymous shared mapping; no existing memory is
        // touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Shared { ptr: p.cast(), len })
    }

    fn slot(&self, i: usize) -> Option<&std::sync::atomic::AtomicU64> {
        // SAFETY: i < len, inside the mapping, which lives as long as self;
        // AtomicU64 has the alignment of the page-aligned mapping's slots.
        (i < self.len).then(|| unsafe { &*self.ptr.add(i) })
    }

    pub fn set(&self, i: usize, v: u64) {
        if let Some(s) = self.slot(i) {
            s.store(v, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub fn get(&self, i: usize) -> u64 {
        self.slot(i)
            .map_or(0, |s| s.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`.
        unsafe { libc::munmap(self.ptr.cast(), self.len.max(1) * 8) };
    }
}

/// Nanoseconds on the monotonic clock (the vDSO: no syscall, safe after
/// fork).
pub fn now_ns() -> u64 {
    // SAFETY: all-zero is a valid timespec, written by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Set by the SIGINT/SIGTERM handler [`catch_interrupts`] installs.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_interrupt(_signal: libc::c_int) {
    // Async-signal-safe: one atomic store.
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// From now on SIGINT (Ctrl-C) and SIGTERM only set a flag
/// ([`interrupted`]), so a long run can stop between cells and still write
/// what it has. A second signal of either kind ends the process at once
/// (SA_RESETHAND restores the default action).
pub fn catch_interrupts() -> Result<(), i32> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // No SA_RESTART: a blocking poll returns EINTR, and callers retry.
        action.sa_flags = libc::SA_RESETHAND;
        // SAFETY: installs a handler that only stores to an atomic; the
        // old action is not needed.
        if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
            return Err(errno());
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_numbers_cross_a_fork() {
        let s = Shared::new(4).unwrap();
        // SAFETY: the child only stores to the mapping and exits at once.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            s.set(2, 42);
            // SAFETY: _exit in the forked child.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for that exact child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!((s.get(2), s.get(0), s.get(99), s.len()), (42, 0, 0, 4));
    }
}
