//! Raw syscalls for code that runs in a forked child: async-signal-safe, no
//! allocation, no locks, no panics. Each returns the errno on failure.

use std::ffi::CStr;
use std::os::fd::RawFd;

use super::linux::errno;

fn check(rc: libc::c_long) -> Result<libc::c_long, i32> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// `openat(AT_FDCWD, path, flags, mode)`.
pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<RawFd, i32> {
    // SAFETY: path is a NUL-terminated string alive for the call.
    let rc = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, mode) };
    check(rc).map(|fd| fd as RawFd)
}

/// `newfstatat(AT_FDCWD, path, buf, 0)`: the errno of a metadata lookup.
pub fn stat(path: &CStr) -> Result<(), i32> {
    // SAFETY: all-zero is a valid `struct stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: path is a C string and `st` is writable for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            path.as_ptr(),
            &mut st,
            0,
        )
    };
    check(rc).map(drop)
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: buf is writable for buf.len() bytes.
    let rc = unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) };
    check(rc).map(|n| n as usize)
}

pub fn write(fd: RawFd, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: buf is readable for buf.len() bytes.
    let rc = unsafe { libc::syscall(libc::SYS_write, fd, buf.as_ptr(), buf.len()) };
    check(rc).map(|n| n as usize)
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd this child owns; errors are irrelevant here.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// `unlinkat(AT_FDCWD, path, 0)`.
pub fn unlink(path: &CStr) -> Result<(), i32> {
    // SAFETY: path is a C string alive for the call.
    let rc = unsafe { libc::syscall(libc::SYS_unlinkat, libc::AT_FDCWD, path.as_ptr(), 0) };
    check(rc).map(drop)
}

/// `execve(path, argv, envp)`: returns only on failure. `argv` and `envp`
/// are NULL-terminated arrays prepared before `fork()`.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> i32 {
    if argv.last() != Some(&std::ptr::null()) || envp.last() != Some(&std::ptr::null()) {
        return libc::EINVAL;
    }
    // SAFETY: path is a C string; argv and envp are NULL-terminated arrays
    // of C strings that outlive the call (it does not return on success).
    unsafe {
        libc::syscall(
            libc::SYS_execve,
            path.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    errno()
}

pub fn socket(domain: i32, ty: i32) -> Result<RawFd, i32> {
    // SAFETY: integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_socket, domain, ty | libc::SOCK_CLOEXEC, 0) };
    check(rc).map(|fd| fd as RawFd)
}

pub fn connect(fd: RawFd, addr: &libc::sockaddr_in) -> Result<(), i32> {
    let len = std::mem::size_of::<libc::sockaddr_in>();
    // SAFETY: addr points at a sockaddr_in of `len` bytes.
    let rc = unsafe { libc::syscall(libc::SYS_connect, fd, addr as *const libc::sockaddr_in, len) };
    check(rc).map(drop)
}

pub fn bind(fd: RawFd, addr: &libc::sockaddr_in) -> Result<(), i32> {
    let len = std::mem::size_of::<libc::sockaddr_in>();
    // SAFETY: addr points at a sockaddr_in of `len` bytes.
    let rc = unsafe { libc::syscall(libc::SYS_bind, fd, addr as *const libc::sockaddr_in, len) };
    check(rc).map(drop)
}

pub fn sendto(fd: RawFd, buf: &[u8], addr: &libc::sockaddr_in) -> Result<usize, i32> {
    let len = std::mem::size_of::<libc::sockaddr_in>();
    // SAFETY: buf is readable for its length; addr is a sockaddr_in of `len` bytes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            0,
            addr as *const libc::sockaddr_in,
            len,
        )
    };
    check(rc).map(|n| n as usize)
}
