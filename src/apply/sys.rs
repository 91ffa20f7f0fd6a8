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
