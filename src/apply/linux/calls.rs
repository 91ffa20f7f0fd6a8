//! Typed raw system calls (Linux x86_64) for code that runs in a sandboxed
//! child: the `syscall` instruction itself, so nothing here touches errno,
//! thread-local storage, locks or the allocator. Each wrapper takes only
//! references to valid memory, so it is safe to call; each returns the
//! kernel's result or its errno.
//!
//! Tests use these to exercise every syscall of the enforcement map, by its
//! own number (legacy and `*at` forms alike), from a child, a grandchild or a
//! second thread.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// The kernel's result: a value, or the errno.
pub type SysResult = Result<i64, i32>;

/// `syscall(nr, a..f)`.
///
/// # Safety
/// Every pointer argument must be valid for what the kernel reads or writes
/// through it for the duration of the call.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub unsafe fn raw(nr: i64, a: [u64; 6]) -> SysResult {
    let ret: i64;
    // SAFETY: the caller vouches for the pointer arguments; the syscall
    // instruction clobbers only rcx and r11, declared below.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret)
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
/// # Safety
/// Never does anything: raw calls exist on Linux x86_64 only.
pub unsafe fn raw(_nr: i64, _a: [u64; 6]) -> SysResult {
    Err(libc::ENOSYS)
}

fn p(s: &CStr) -> u64 {
    s.as_ptr() as u64
}

fn fd(fd: RawFd) -> u64 {
    fd as i64 as u64
}

/// Defines a wrapper whose arguments are C strings and integers only: the
/// kernel reads the strings and writes nothing back.
macro_rules! calls {
    ($( $(#[$doc:meta])* $name:ident = $nr:ident ( $($arg:ident : $ty:ty => $conv:expr),* ); )*) => {
        $(
            $(#[$doc])*
            pub fn $name($($arg: $ty),*) -> SysResult {
                let mut a = [0u64; 6];
                let v: &[u64] = &[$($conv),*];
                a[..v.len()].copy_from_slice(v);
                // SAFETY: every pointer argument is a C string borrowed for
                // the call; the kernel only reads it.
                unsafe { raw(libc::$nr, a) }
            }
        )*
    };
}

calls! {
    /// Legacy `open(path, flags, mode)`.
    open = SYS_open(path: &CStr => p(path), flags: i32 => flags as u64, mode: u32 => mode as u64);
    openat = SYS_openat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), flags: i32 => flags as u64, mode: u32 => mode as u64);
    creat = SYS_creat(path: &CStr => p(path), mode: u32 => mode as u64);
    access = SYS_access(path: &CStr => p(path), mode: i32 => mode as u64);
    faccessat = SYS_faccessat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), mode: i32 => mode as u64);
    faccessat2 = SYS_faccessat2(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), mode: i32 => mode as u64, flags: i32 => flags as u64);
    removexattr = SYS_removexattr(path: &CStr => p(path), name: &CStr => p(name));
    lremovexattr = SYS_lremovexattr(path: &CStr => p(path), name: &CStr => p(name));
    fremovexattr = SYS_fremovexattr(f: RawFd => fd(f), name: &CStr => p(name));
    truncate = SYS_truncate(path: &CStr => p(path), len: i64 => len as u64);
    mkdir = SYS_mkdir(path: &CStr => p(path), mode: u32 => mode as u64);
    mkdirat = SYS_mkdirat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), mode: u32 => mode as u64);
    /// `mknod(path, S_IFIFO | mode, 0)`: a FIFO, which needs no privilege.
    mkfifo = SYS_mknod(path: &CStr => p(path), mode: u32 => (libc::S_IFIFO | mode) as u64, dev: u64 => dev);
    mkfifoat = SYS_mknodat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), mode: u32 => (libc::S_IFIFO | mode) as u64, dev: u64 => dev);
    symlink = SYS_symlink(target: &CStr => p(target), link: &CStr => p(link));
    symlinkat = SYS_symlinkat(target: &CStr => p(target), dirfd: RawFd => fd(dirfd), link: &CStr => p(link));
    link = SYS_link(old: &CStr => p(old), new: &CStr => p(new));
    linkat = SYS_linkat(olddir: RawFd => fd(olddir), old: &CStr => p(old), newdir: RawFd => fd(newdir), new: &CStr => p(new), flags: i32 => flags as u64);
    rename = SYS_rename(old: &CStr => p(old), new: &CStr => p(new));
    renameat = SYS_renameat(olddir: RawFd => fd(olddir), old: &CStr => p(old), newdir: RawFd => fd(newdir), new: &CStr => p(new));
    renameat2 = SYS_renameat2(olddir: RawFd => fd(olddir), old: &CStr => p(old), newdir: RawFd => fd(newdir), new: &CStr => p(new), flags: u32 => flags as u64);
    unlink = SYS_unlink(path: &CStr => p(path));
    unlinkat = SYS_unlinkat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), flags: i32 => flags as u64);
    rmdir = SYS_rmdir(path: &CStr => p(path));
    chmod = SYS_chmod(path: &CStr => p(path), mode: u32 => mode as u64);
    fchmodat = SYS_fchmodat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), mode: u32 => mode as u64);
    fchmodat2 = SYS_fchmodat2(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), mode: u32 => mode as u64, flags: i32 => flags as u64);
    fchmod = SYS_fchmod(f: RawFd => fd(f), mode: u32 => mode as u64);
    chown = SYS_chown(path: &CStr => p(path), uid: u32 => uid as u64, gid: u32 => gid as u64);
    lchown = SYS_lchown(path: &CStr => p(path), uid: u32 => uid as u64, gid: u32 => gid as u64);
    fchownat = SYS_fchownat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path), uid: u32 => uid as u64, gid: u32 => gid as u64, flags: i32 => flags as u64);
    fchown = SYS_fchown(f: RawFd => fd(f), uid: u32 => uid as u64, gid: u32 => gid as u64);
    /// `utime(path, NULL)`: both times set to now (unset arguments are 0).
    utime_now = SYS_utime(path: &CStr => p(path));
    /// `utimes(path, NULL)`.
    utimes_now = SYS_utimes(path: &CStr => p(path));
    /// `futimesat(dirfd, path, NULL)`.
    futimesat_now = SYS_futimesat(dirfd: RawFd => fd(dirfd), path: &CStr => p(path));
    chdir = SYS_chdir(path: &CStr => p(path));
    close = SYS_close(f: RawFd => fd(f));
    socket = SYS_socket(domain: i32 => domain as u64, ty: i32 => ty as u64, proto: i32 => proto as u64);
    getpid = SYS_getpid();
    gettid = SYS_gettid();
    getppid = SYS_getppid();
    memfd_create = SYS_memfd_create(name: &CStr => p(name), flags: u32 => flags as u64);
    setsid = SYS_setsid();
    kill = SYS_kill(pid: i32 => pid as i64 as u64, sig: i32 => sig as u64);
    tkill = SYS_tkill(tid: i32 => tid as i64 as u64, sig: i32 => sig as u64);
    tgkill = SYS_tgkill(tgid: i32 => tgid as i64 as u64, tid: i32 => tid as i64 as u64, sig: i32 => sig as u64);
    pidfd_open = SYS_pidfd_open(pid: i32 => pid as u64, flags: u32 => flags as u64);
    /// `pidfd_send_signal(pidfd, sig, NULL, 0)`.
    pidfd_send_signal = SYS_pidfd_send_signal(pidfd: RawFd => fd(pidfd), sig: i32 => sig as u64);
    pidfd_getfd = SYS_pidfd_getfd(pidfd: RawFd => fd(pidfd), target: RawFd => fd(target), flags: u32 => flags as u64);
    getuid = SYS_getuid();
    setuid = SYS_setuid(uid: u64 => uid);
    setresuid = SYS_setresuid(r: u64 => r, e: u64 => e, s: u64 => s);
    /// `ptrace(request, pid, 0, 0)`.
    ptrace = SYS_ptrace(request: i32 => request as u64, pid: i32 => pid as u64);
}

/// Sleeps `ms` milliseconds (`nanosleep`).
pub fn sleep_ms(ms: u64) -> SysResult {
    let ts = [ms / 1000, (ms % 1000) * 1_000_000];
    // SAFETY: `ts` is a `struct timespec` read by the kernel; no remainder.
    unsafe { raw(libc::SYS_nanosleep, [ts.as_ptr() as u64, 0, 0, 0, 0, 0]) }
}

/// `io_uring_setup(entries, &params)` with zeroed parameters: a ring, or
/// the errno (the filter must refuse it: io_uring's requests bypass seccomp).
pub fn io_uring_setup(entries: u32) -> SysResult {
    // struct io_uring_params is 120 bytes; the kernel writes offsets back.
    let mut params = [0u8; 120];
    // SAFETY: params is writable for the 120 bytes the kernel reads/writes.
    unsafe {
        raw(
            libc::SYS_io_uring_setup,
            [u64::from(entries), params.as_mut_ptr() as u64, 0, 0, 0, 0],
        )
    }
}

/// `openat` by the x32 ABI's number: the filter must refuse it.
pub fn x32_openat(dirfd: RawFd, path: &CStr, flags: i32) -> SysResult {
    // SAFETY: path is a C string read by the kernel.
    unsafe {
        raw(
            libc::SYS_openat | 0x4000_0000,
            [fd(dirfd), p(path), flags as u64, 0, 0, 0],
        )
    }
}

/// `utimensat(dirfd, path, NULL, flags)`: both times set to now.
pub fn utimensat_now(dirfd: RawFd, path: &CStr, flags: i32) -> SysResult {
    // SAFETY: path is a C string read by the kernel; times is NULL.
    unsafe {
        raw(
            libc::SYS_utimensat,
            [fd(dirfd), p(path), 0, flags as u64, 0, 0],
        )
    }
}

/// `utimensat(fd, NULL, NULL, 0)`: `futimens`, the fd form.
pub fn futimens_now(f: RawFd) -> SysResult {
    // SAFETY: no pointer arguments.
    unsafe { raw(libc::SYS_utimensat, [fd(f), 0, 0, 0, 0, 0]) }
}

/// Calls that take a buffer or structure besides C strings.
pub mod buf {
    use super::*;

    /// `openat2(dirfd, path, {flags, mode, resolve}, 24)`.
    pub fn openat2(dirfd: RawFd, path: &CStr, flags: u64, mode: u64, resolve: u64) -> SysResult {
        let how = [flags, mode, resolve];
        // SAFETY: path is a C string and `how` a 24-byte open_how, both
        // alive for the call.
        unsafe {
            raw(
                libc::SYS_openat2,
                [fd(dirfd), p(path), how.as_ptr() as u64, 24, 0, 0],
            )
        }
    }

    /// Runs a call whose last pointer argument is a writable scratch buffer.
    fn with_buf(nr: i64, args: [u64; 5], len: usize) -> SysResult {
        let mut scratch = [0u8; 512];
        let len = len.min(scratch.len());
        let mut a = [0u64; 6];
        a[..5].copy_from_slice(&args);
        let slot = a.iter().position(|&x| x == BUF).unwrap_or(5);
        a[slot] = scratch.as_mut_ptr() as u64;
        if let Some(next) = a.get_mut(slot + 1) {
            if *next == LEN {
                *next = len as u64;
            }
        }
        // SAFETY: the only writable pointer is `scratch`, valid for `len`
        // (<= 512) bytes, or at least 256 bytes where the call writes a
        // fixed-size structure (stat 144, statx 256); the others are C
        // strings read by the kernel.
        unsafe { raw(nr, a) }
    }

    /// Placeholders `with_buf` replaces with the scratch buffer and its length.
    const BUF: u64 = u64::MAX - 1;
    const LEN: u64 = u64::MAX - 2;

    pub fn stat(path: &CStr) -> SysResult {
        with_buf(libc::SYS_stat, [p(path), BUF, 0, 0, 0], 512)
    }
    pub fn lstat(path: &CStr) -> SysResult {
        with_buf(libc::SYS_lstat, [p(path), BUF, 0, 0, 0], 512)
    }
    pub fn newfstatat(dirfd: RawFd, path: &CStr, flags: i32) -> SysResult {
        with_buf(
            libc::SYS_newfstatat,
            [fd(dirfd), p(path), BUF, flags as u64, 0],
            512,
        )
    }
    pub fn statx(dirfd: RawFd, path: &CStr, flags: i32) -> SysResult {
        // statx(dirfd, path, flags, mask, buf)
        with_buf(
            libc::SYS_statx,
            [
                fd(dirfd),
                p(path),
                flags as u64,
                libc::STATX_BASIC_STATS as u64,
                BUF,
            ],
            512,
        )
    }
    pub fn readlink(path: &CStr) -> SysResult {
        with_buf(libc::SYS_readlink, [p(path), BUF, LEN, 0, 0], 512)
    }
    pub fn readlinkat(dirfd: RawFd, path: &CStr) -> SysResult {
        with_buf(libc::SYS_readlinkat, [fd(dirfd), p(path), BUF, LEN, 0], 512)
    }
    pub fn getxattr(path: &CStr, name: &CStr) -> SysResult {
        with_buf(libc::SYS_getxattr, [p(path), p(name), BUF, LEN, 0], 512)
    }
    pub fn lgetxattr(path: &CStr, name: &CStr) -> SysResult {
        with_buf(libc::SYS_lgetxattr, [p(path), p(name), BUF, LEN, 0], 512)
    }
    pub fn listxattr(path: &CStr) -> SysResult {
        with_buf(libc::SYS_listxattr, [p(path), BUF, LEN, 0, 0], 512)
    }
    pub fn llistxattr(path: &CStr) -> SysResult {
        with_buf(libc::SYS_llistxattr, [p(path), BUF, LEN, 0, 0], 512)
    }
    pub fn read(f: RawFd, buf: &mut [u8]) -> SysResult {
        // SAFETY: buf is writable for its length.
        unsafe {
            raw(
                libc::SYS_read,
                [fd(f), buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0],
            )
        }
    }
    pub fn write(f: RawFd, buf: &[u8]) -> SysResult {
        // SAFETY: buf is readable for its length.
        unsafe {
            raw(
                libc::SYS_write,
                [fd(f), buf.as_ptr() as u64, buf.len() as u64, 0, 0, 0],
            )
        }
    }

    fn xattr_set(nr: i64, target: u64, name: &CStr, value: &[u8]) -> SysResult {
        // SAFETY: target is a C string or an fd, name a C string, value
        // readable for its length; flags 0.
        unsafe {
            raw(
                nr,
                [
                    target,
                    p(name),
                    value.as_ptr() as u64,
                    value.len() as u64,
                    0,
                    0,
                ],
            )
        }
    }
    pub fn setxattr(path: &CStr, name: &CStr, value: &[u8]) -> SysResult {
        xattr_set(libc::SYS_setxattr, p(path), name, value)
    }
    pub fn lsetxattr(path: &CStr, name: &CStr, value: &[u8]) -> SysResult {
        xattr_set(libc::SYS_lsetxattr, p(path), name, value)
    }
    pub fn fsetxattr(f: RawFd, name: &CStr, value: &[u8]) -> SysResult {
        xattr_set(libc::SYS_fsetxattr, fd(f), name, value)
    }

    /// `ioctl(f, FS_IOC_SETFLAGS, &flags)`: chattr's call (FS_NODUMP_FL,
    /// 0x40, needs no privilege on a file the caller owns).
    pub fn fs_setflags(f: RawFd, flags: i32) -> SysResult {
        /// `_IOW('f', 2, long)`.
        const FS_IOC_SETFLAGS: u64 = 0x4008_6602;
        let value = flags;
        // SAFETY: the kernel reads one int from `value`, alive for the call.
        unsafe {
            raw(
                libc::SYS_ioctl,
                [fd(f), FS_IOC_SETFLAGS, &value as *const i32 as u64, 0, 0, 0],
            )
        }
    }

    /// `execve(path, argv, envp)`; argv and envp must end with NULL.
    pub fn execve(
        path: &CStr,
        argv: &[*const libc::c_char],
        envp: &[*const libc::c_char],
    ) -> SysResult {
        execveat(libc::AT_FDCWD, path, argv, envp, 0, false)
    }

    /// `execveat(dirfd, path, argv, envp, flags)`, or `execve` when `at` is
    /// false; argv and envp must end with NULL.
    pub fn execveat(
        dirfd: RawFd,
        path: &CStr,
        argv: &[*const libc::c_char],
        envp: &[*const libc::c_char],
        flags: i32,
        at: bool,
    ) -> SysResult {
        if argv.last() != Some(&std::ptr::null()) || envp.last() != Some(&std::ptr::null()) {
            return Err(libc::EINVAL);
        }
        let (argv, envp) = (argv.as_ptr() as u64, envp.as_ptr() as u64);
        // SAFETY: path is a C string; argv and envp are NULL-terminated
        // arrays of C strings that outlive the call.
        unsafe {
            if at {
                raw(
                    libc::SYS_execveat,
                    [fd(dirfd), p(path), argv, envp, flags as u64, 0],
                )
            } else {
                raw(libc::SYS_execve, [p(path), argv, envp, 0, 0, 0])
            }
        }
    }

    /// `connect`, `bind` and friends take a socket address as bytes.
    fn addr_call(nr: i64, f: RawFd, addr: &[u8]) -> SysResult {
        // SAFETY: addr is readable for its length.
        unsafe {
            raw(
                nr,
                [fd(f), addr.as_ptr() as u64, addr.len() as u64, 0, 0, 0],
            )
        }
    }
    pub fn connect(f: RawFd, addr: &[u8]) -> SysResult {
        addr_call(libc::SYS_connect, f, addr)
    }
    pub fn bind(f: RawFd, addr: &[u8]) -> SysResult {
        addr_call(libc::SYS_bind, f, addr)
    }
    pub fn sendto(f: RawFd, data: &[u8], addr: Option<&[u8]>) -> SysResult {
        let (a, l) = addr.map_or((0, 0), |a| (a.as_ptr() as u64, a.len() as u64));
        // SAFETY: data and addr are readable for their lengths (or NULL, 0).
        unsafe {
            raw(
                libc::SYS_sendto,
                [fd(f), data.as_ptr() as u64, data.len() as u64, 0, a, l],
            )
        }
    }

    fn msghdr(data: &[u8], iov: &mut libc::iovec, addr: &[u8]) -> libc::msghdr {
        *iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: all-zero is a valid msghdr (NULL pointers, zero lengths).
        let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
        m.msg_name = addr.as_ptr() as *mut libc::c_void;
        m.msg_namelen = addr.len() as u32;
        m.msg_iov = iov;
        m.msg_iovlen = 1;
        m
    }

    pub fn sendmsg(f: RawFd, data: &[u8], addr: &[u8]) -> SysResult {
        let mut iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let m = msghdr(data, &mut iov, addr);
        // SAFETY: m points at iov and addr, all alive for the call.
        unsafe {
            raw(
                libc::SYS_sendmsg,
                [fd(f), &m as *const libc::msghdr as u64, 0, 0, 0, 0],
            )
        }
    }

    pub fn sendmmsg(f: RawFd, data: &[u8], addr: &[u8]) -> SysResult {
        let mut iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let m = libc::mmsghdr {
            msg_hdr: msghdr(data, &mut iov, addr),
            msg_len: 0,
        };
        // SAFETY: one mmsghdr pointing at iov and addr, alive for the call;
        // the kernel writes msg_len into `m`, which is a local.
        unsafe {
            raw(
                libc::SYS_sendmmsg,
                [fd(f), &m as *const libc::mmsghdr as u64, 1, 0, 0, 0],
            )
        }
    }

    /// Sends one byte and the fd `passed` over the unix socket `sock`
    /// (SCM_RIGHTS).
    pub fn send_fd(sock: RawFd, passed: RawFd) -> SysResult {
        let byte = [b'F'];
        let mut iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut m = msghdr(&byte, &mut iov, &[]);
        m.msg_name = std::ptr::null_mut();
        // cmsghdr { len: u64, level: i32, type: i32 } then one int, padded.
        let mut control = [0u64; 3];
        control[0] = 20;
        control[1] = (libc::SOL_SOCKET as u32 as u64) | ((libc::SCM_RIGHTS as u32 as u64) << 32);
        control[2] = passed as u32 as u64;
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = 24;
        // SAFETY: m points at iov, byte and control, all alive for the call.
        unsafe {
            raw(
                libc::SYS_sendmsg,
                [fd(sock), &m as *const libc::msghdr as u64, 0, 0, 0, 0],
            )
        }
    }

    /// Receives one byte and one fd sent with [`send_fd`]: the new fd.
    pub fn recv_fd(sock: RawFd) -> SysResult {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut m = msghdr(&[], &mut iov, &[]);
        // The kernel writes the byte: point the iovec at writable memory.
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        m.msg_iov = &mut iov;
        m.msg_name = std::ptr::null_mut();
        let mut control = [0u64; 3];
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = 24;
        // SAFETY: the kernel writes one byte into `byte` (through iov) and
        // at most 24 bytes of control data into `control`, both locals.
        unsafe {
            raw(
                libc::SYS_recvmsg,
                [fd(sock), &mut m as *mut libc::msghdr as u64, 0, 0, 0, 0],
            )
        }?;
        let level_type = control[1];
        if control[0] < 20 || level_type as u32 != libc::SOL_SOCKET as u32 {
            return Err(libc::EBADMSG);
        }
        Ok(i64::from(control[2] as u32 as i32))
    }

    /// `wait4(pid, &status, 0, NULL)`: the raw wait status.
    pub fn wait4(pid: i64) -> SysResult {
        let mut status: i32 = 0;
        // SAFETY: status is a writable i32 for the call.
        unsafe {
            raw(
                libc::SYS_wait4,
                [pid as u64, &mut status as *mut i32 as u64, 0, 0, 0, 0],
            )
        }
        .map(|_| i64::from(status))
    }
}

/// `struct xattr_args { value, size, flags }` of the `*xattrat` calls.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// One of the `*xattrat` calls that take `struct xattr_args` (Linux 6.13):
/// `nr(dirfd, path, at_flags, name, &args, sizeof args)`.
///
/// # Safety
/// `args.value` must be valid for `args.size` bytes, writable for a get.
unsafe fn xattrat(
    nr: i64,
    dirfd: RawFd,
    path: &CStr,
    at_flags: i32,
    name: &CStr,
    args: &XattrArgs,
) -> SysResult {
    let size = std::mem::size_of::<XattrArgs>() as u64;
    // SAFETY: C strings and `args` read by the kernel, `args.value` as the
    // caller vouches.
    unsafe {
        raw(
            nr,
            [
                fd(dirfd),
                p(path),
                at_flags as u64,
                p(name),
                args as *const XattrArgs as u64,
                size,
            ],
        )
    }
}

/// `getxattrat(dirfd, path, at_flags, name, &args, sizeof args)` (Linux 6.13).
pub fn getxattrat(dirfd: RawFd, path: &CStr, at_flags: i32, name: &CStr) -> SysResult {
    let mut value = [0u8; 256];
    let args = XattrArgs {
        value: value.as_mut_ptr() as u64,
        size: value.len() as u32,
        flags: 0,
    };
    // SAFETY: `args` points at `value`, writable for its length.
    unsafe {
        xattrat(
            super::syscalls::nr::GETXATTRAT,
            dirfd,
            path,
            at_flags,
            name,
            &args,
        )
    }
}

/// `setxattrat(dirfd, path, at_flags, name, &args, sizeof args)` (Linux 6.13).
pub fn setxattrat(
    dirfd: RawFd,
    path: &CStr,
    at_flags: i32,
    name: &CStr,
    value: &[u8],
) -> SysResult {
    let args = XattrArgs {
        value: value.as_ptr() as u64,
        size: value.len() as u32,
        flags: 0,
    };
    // SAFETY: `args` points at `value`, readable for its length.
    unsafe {
        xattrat(
            super::syscalls::nr::SETXATTRAT,
            dirfd,
            path,
            at_flags,
            name,
            &args,
        )
    }
}

/// `listxattrat(dirfd, path, at_flags, list, size)` (Linux 6.13).
pub fn listxattrat(dirfd: RawFd, path: &CStr, at_flags: i32) -> SysResult {
    let mut list = [0u8; 512];
    // SAFETY: `list` is writable for its length.
    unsafe {
        raw(
            super::syscalls::nr::LISTXATTRAT,
            [
                fd(dirfd),
                p(path),
                at_flags as u64,
                list.as_mut_ptr() as u64,
                list.len() as u64,
                0,
            ],
        )
    }
}

/// `removexattrat(dirfd, path, at_flags, name)` (Linux 6.13).
pub fn removexattrat(dirfd: RawFd, path: &CStr, at_flags: i32, name: &CStr) -> SysResult {
    // SAFETY: C strings read by the kernel.
    unsafe {
        raw(
            super::syscalls::nr::REMOVEXATTRAT,
            [fd(dirfd), p(path), at_flags as u64, p(name), 0, 0],
        )
    }
}

/// `EINVAL` unless `path` ends in NUL, so the kernel's read of a path
/// another thread may be rewriting stops inside it.
fn nul_terminated(path: &[std::sync::atomic::AtomicU8]) -> Result<(), i32> {
    match path.last() {
        Some(b) if b.load(std::sync::atomic::Ordering::Relaxed) == 0 => Ok(()),
        _ => Err(libc::EINVAL),
    }
}

/// `openat(dirfd, path, flags)` on a path another thread may be rewriting
/// (the kernel reads the bytes; Rust never sees them as a string).
pub fn openat_racy(dirfd: RawFd, path: &[std::sync::atomic::AtomicU8], flags: i32) -> SysResult {
    nul_terminated(path)?;
    // SAFETY: `path` is NUL-terminated memory alive for the call; the
    // kernel reads it while others may store to it atomically.
    unsafe {
        raw(
            libc::SYS_openat,
            [fd(dirfd), path.as_ptr() as u64, flags as u64, 0, 0, 0],
        )
    }
}

/// `chmod(path, mode)` on a path another thread may be rewriting.
pub fn chmod_racy(path: &[std::sync::atomic::AtomicU8], mode: u32) -> SysResult {
    nul_terminated(path)?;
    // SAFETY: as in `openat_racy`: NUL-terminated memory alive for the call.
    unsafe {
        raw(
            libc::SYS_chmod,
            [path.as_ptr() as u64, u64::from(mode), 0, 0, 0, 0],
        )
    }
}

/// `clone(flags | SIGCHLD)` without CLONE_VM: a child on a copy of this
/// stack (CLONE_PARENT makes it the caller's sibling). Returns 0 in the
/// child and its pid in the caller.
pub fn clone_process(flags: i32) -> SysResult {
    let flags = flags & !(libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND);
    // SAFETY: no pointer arguments; without CLONE_VM the child runs on a
    // copy of this stack.
    unsafe {
        raw(
            libc::SYS_clone,
            [(flags | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0],
        )
    }
}

/// `clone(CLONE_VFORK | SIGCHLD)`: a fork that suspends the parent until
/// the child exits (its own copy of memory, so Rust code may run in it).
/// Returns 0 in the child and the child's pid in the parent.
pub fn vfork_copy() -> SysResult {
    // SAFETY: no pointer arguments; without CLONE_VM the child runs on a
    // copy of this stack.
    unsafe {
        raw(
            libc::SYS_clone,
            [(libc::CLONE_VFORK | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0],
        )
    }
}

/// `fork()` as the raw `clone(SIGCHLD)`: no atfork handlers run. Returns 0
/// in the child and the child's pid in the parent.
pub fn fork() -> SysResult {
    // SAFETY: no pointer arguments; the child continues on a copy of this
    // stack.
    unsafe { raw(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]) }
}

/// Ends the calling process at once.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an integer and does not return.
    let _ = unsafe { raw(libc::SYS_exit_group, [code as u64, 0, 0, 0, 0, 0]) };
    // Unreachable: exit_group cannot fail.
    loop {
        std::hint::spin_loop();
    }
}

/// Runs `f(ctx)` in a forked grandchild and returns its result, or the
/// errno of the fork or wait. For code already running in a forked child.
pub fn in_child<T>(f: fn(&T) -> i32, ctx: &T) -> SysResult {
    match fork()? {
        0 => exit_group(f(ctx)),
        pid => {
            let status = buf::wait4(pid)? as i32;
            Ok(i64::from(if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                libc::WEXITSTATUS(status)
            }))
        }
    }
}

pub use thread::{in_thread, with_thread, ThreadStack};

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod thread {
    use super::{raw, SysResult};
    use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

    /// Stack size of a helper thread.
    pub const STACK: usize = 64 * 1024;

    /// A stack for [`with_thread`], allocated before `fork()`. One thread at
    /// a time may run on it (a second user gets EBUSY).
    pub struct ThreadStack {
        mem: std::cell::UnsafeCell<Vec<u8>>,
        busy: std::sync::atomic::AtomicBool,
    }

    // SAFETY: the memory is only handed out while `busy` is held.
    unsafe impl Sync for ThreadStack {}

    impl Default for ThreadStack {
        fn default() -> Self {
            ThreadStack::new()
        }
    }

    impl ThreadStack {
        pub fn new() -> ThreadStack {
            ThreadStack {
                mem: std::cell::UnsafeCell::new(vec![0u8; STACK]),
                busy: std::sync::atomic::AtomicBool::new(false),
            }
        }
    }

    struct Payload<'a, T> {
        f: fn(&T) -> i32,
        ctx: &'a T,
        result: AtomicI32,
        /// The thread's id while it runs; the kernel clears it and wakes
        /// futex waiters when the thread exits (CLONE_CHILD_CLEARTID).
        tid: AtomicU32,
    }

    extern "C" fn trampoline<T>(payload: *const Payload<'_, T>) -> i32 {
        // SAFETY: `payload` points at the Payload in `in_thread`'s frame,
        // which does not return until this thread has exited.
        let payload = unsafe { &*payload };
        let r = (payload.f)(payload.ctx);
        payload.result.store(r, Ordering::SeqCst);
        0
    }

    /// Runs `f(ctx)` in a second thread of this process (raw `clone` with
    /// CLONE_THREAD on `stack`), waits for it to exit and returns its result.
    /// For code running in a forked child: no pthread, no allocation. `f`
    /// must only make raw syscalls (it shares this thread's TLS).
    pub fn in_thread<T: Sync>(stack: &ThreadStack, f: fn(&T) -> i32, ctx: &T) -> SysResult {
        with_thread(stack, f, ctx, &|| 0).map(|(t, _)| t)
    }

    /// Runs `f(ctx)` in a second thread while this thread runs `meanwhile`,
    /// then waits for the second thread: both results.
    pub fn with_thread<T: Sync>(
        stack: &ThreadStack,
        f: fn(&T) -> i32,
        ctx: &T,
        meanwhile: &dyn Fn() -> i32,
    ) -> Result<(i64, i64), i32> {
        if stack.busy.swap(true, Ordering::Acquire) {
            return Err(libc::EBUSY);
        }
        // SAFETY: `busy` gives this call the stack alone until it is
        // released below, after the thread has exited.
        let mem = unsafe { &mut *stack.mem.get() };
        let r = spawn_and_join(mem, f, ctx, meanwhile);
        stack.busy.store(false, Ordering::Release);
        r
    }

    fn spawn_and_join<T: Sync>(
        stack: &mut [u8],
        f: fn(&T) -> i32,
        ctx: &T,
        meanwhile: &dyn Fn() -> i32,
    ) -> Result<(i64, i64), i32> {
        let payload = Payload {
            f,
            ctx,
            result: AtomicI32::new(-1),
            tid: AtomicU32::new(0),
        };
        // The top of the stack, 16-byte aligned as the ABI wants at a call.
        let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
        if stack.len() < 4096 {
            return Err(libc::EINVAL);
        }
        let flags = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        let tid_ptr = payload.tid.as_ptr() as u64;
        let entry = trampoline::<T> as *const () as u64;
        let arg = &payload as *const Payload<'_, T> as u64;
        let ret: i64;
        // SAFETY: clone with CLONE_VM starts a thread on `stack` (which
        // outlives it: we wait below). In the new thread only registers are
        // used: it calls `entry(arg)` on its own stack and exits; it never
        // returns into this frame. The parent side just gets the tid in rax.
        unsafe {
            std::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                // New thread: rsp is the new stack, r12/r13 were copied.
                "xor ebp, ebp",
                "mov rdi, r13",
                "call r12",
                "mov edi, eax",
                "mov eax, 60", // SYS_exit: this thread only
                "syscall",
                "ud2",
                "2:",
                inlateout("rax") libc::SYS_clone => ret,
                in("rdi") flags,
                in("rsi") top as u64,
                in("rdx") tid_ptr,
                in("r10") tid_ptr,
                in("r8") 0u64,
                in("r12") entry,
                in("r13") arg,
                lateout("rcx") _,
                lateout("r11") _,
            );
        }
        if ret < 0 {
            return Err(-ret as i32);
        }
        let mine = meanwhile();
        // Wait until the kernel clears the tid: the thread has exited.
        loop {
            let tid = payload.tid.load(Ordering::SeqCst);
            if tid == 0 {
                break;
            }
            // SAFETY: futex wait on our own u32 while it holds `tid`.
            let _ = unsafe {
                raw(
                    libc::SYS_futex,
                    [tid_ptr, libc::FUTEX_WAIT as u64, u64::from(tid), 0, 0, 0],
                )
            };
        }
        Ok((
            i64::from(payload.result.load(Ordering::SeqCst)),
            i64::from(mine),
        ))
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod thread {
    use super::SysResult;
    pub const STACK: usize = 64 * 1024;
    #[derive(Default)]
    pub struct ThreadStack;
    impl ThreadStack {
        pub fn new() -> ThreadStack {
            ThreadStack
        }
    }
    pub fn in_thread<T: Sync>(_stack: &ThreadStack, _f: fn(&T) -> i32, _ctx: &T) -> SysResult {
        Err(libc::ENOSYS)
    }
    pub fn with_thread<T: Sync>(
        _stack: &ThreadStack,
        _f: fn(&T) -> i32,
        _ctx: &T,
        _meanwhile: &dyn Fn() -> i32,
    ) -> Result<(i64, i64), i32> {
        Err(libc::ENOSYS)
    }
}

pub use thread::STACK as THREAD_STACK;

/// Syscall `nr` with every argument 0: NULL pointers, so no memory is
/// touched; the kernel refuses or acts on nothing (for probing whether the
/// filter refuses a syscall at all).
pub fn zero_args(nr: i64) -> SysResult {
    // SAFETY: no argument is a valid pointer: the kernel reads and writes
    // no memory of ours.
    unsafe { raw(nr, [0; 6]) }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
/// NULL)`: EFAULT from the kernel (no program), EPERM from our filter.
pub fn seccomp_new_listener() -> SysResult {
    // SAFETY: the program pointer is NULL: the kernel reads nothing.
    unsafe {
        raw(
            libc::SYS_seccomp,
            [
                u64::from(libc::SECCOMP_SET_MODE_FILTER),
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                0,
                0,
                0,
                0,
            ],
        )
    }
}

/// A syscall by the x32 ABI's numbering (`nr | 0x40000000`), with no
/// arguments: the filter must refuse it.
pub fn x32_getpid() -> SysResult {
    // SAFETY: getpid takes no arguments.
    unsafe { raw(libc::SYS_getpid | 0x4000_0000, [0; 6]) }
}

/// i386 `getpid` through `int 0x80`: the filter must kill the process
/// (the x86_64 numbers do not apply to this entry point). Returns the
/// result when no filter is installed and the kernel has IA-32 emulation.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn int80_getpid() -> SysResult {
    let ret: i64;
    // SAFETY: i386 getpid (20) takes no arguments and touches no memory;
    // int 0x80 preserves every register but eax.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("rax") 20i64 => ret, options(nostack));
    }
    let ret = ret as i32 as i64;
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret)
    }
}

/// i386 `open(path, flags)` through `int 0x80`, the path copied to memory
/// below 4 GiB (the i386 entry point sees 32-bit pointers). The filter must
/// kill the process before the kernel opens anything. Returns the fd when
/// no filter is installed and the kernel has IA-32 emulation.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn int80_open(path: &CStr, flags: i32) -> SysResult {
    let bytes = path.to_bytes_with_nul();
    if bytes.len() > 4096 {
        return Err(libc::ENAMETOOLONG);
    }
    // SAFETY: a new private anonymous page; no memory of ours is touched.
    let page = unsafe {
        raw(
            libc::SYS_mmap,
            [
                0,
                4096,
                (libc::PROT_READ | libc::PROT_WRITE) as u64,
                (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT) as u64,
                u64::MAX,
                0,
            ],
        )
    }?;
    // SAFETY: the page is ours, writable and 4096 bytes long.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), page as *mut u8, bytes.len()) };
    let ret: i64;
    // SAFETY: i386 open (5) reads the C string at `page` (below 4 GiB);
    // int 0x80 preserves every register but eax.
    unsafe {
        // rbx is LLVM's: swap the argument in and out around the call.
        std::arch::asm!(
            "xchg rbx, {path}",
            "int 0x80",
            "xchg rbx, {path}",
            path = inout(reg) page as u64 => _,
            inlateout("rax") 5i64 => ret,
            in("rcx") flags as u64,
            in("rdx") 0u64,
            options(nostack),
        );
    }
    // SAFETY: unmapping the page mapped above.
    let _ = unsafe { raw(libc::SYS_munmap, [page as u64, 4096, 0, 0, 0, 0]) };
    let ret = ret as i32 as i64;
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret)
    }
}

#[cfg(test)]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn raw_calls_report_values_and_errnos() {
        assert_eq!(getpid(), Ok(i64::from(std::process::id())));
        let missing = c"/nonexistent/sbcheck";
        assert_eq!(buf::stat(missing), Err(libc::ENOENT));
        assert_eq!(access(c"/", libc::F_OK), Ok(0));
    }

    #[test]
    fn a_thread_runs_and_returns_its_result() {
        fn work(x: &i32) -> i32 {
            // A raw call from the thread: its own tid differs from the pid.
            let tid = gettid().unwrap_or(0);
            if tid != i64::from(std::process::id()) {
                *x + 1
            } else {
                -1
            }
        }
        let stack = ThreadStack::new();
        assert_eq!(in_thread(&stack, work, &41), Ok(42));
        // Both threads at once.
        assert_eq!(with_thread(&stack, work, &1, &|| 7), Ok((2, 7)));
    }
}
