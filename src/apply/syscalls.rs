//! Linux syscalls (x86_64) and the Seatbelt operations they exercise.
//!
//! The map follows ../shared/docs/linux-enforcement.md: opens are
//! file-read-data / file-write-data / file-write-create by their flags, the
//! stat family and access are file-read-metadata. Syscalls with no Seatbelt
//! operation are not sent to the supervisor at all.

use crate::vocab::{op, OpId};

/// Where a syscall's path lives and how it is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `open(path, flags)`-like: operations depend on the open flags.
    Open {
        dirfd: Option<usize>,
        path: usize,
        flags: Flags,
    },
    /// A metadata lookup: file-read-metadata.
    Metadata {
        dirfd: Option<usize>,
        path: usize,
        follow: Follow,
    },
}

/// Where an open's flags come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flags {
    /// Syscall argument `n`.
    Arg(usize),
    /// `creat`: always `O_CREAT | O_WRONLY | O_TRUNC`.
    Creat,
    /// `openat2`: the first u64 of the `struct open_how` at argument `n`.
    OpenHow(usize),
}

/// Whether the last path component's symlink is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Always,
    Never,
    /// Follow unless `AT_SYMLINK_NOFOLLOW` is set in argument `n`.
    UnlessNofollowAt(usize),
}

#[derive(Debug, Clone, Copy)]
pub struct Syscall {
    pub nr: i64,
    pub name: &'static str,
    pub kind: Kind,
}

const fn open(
    nr: i64,
    name: &'static str,
    dirfd: Option<usize>,
    path: usize,
    flags: Flags,
) -> Syscall {
    Syscall {
        nr,
        name,
        kind: Kind::Open { dirfd, path, flags },
    }
}

const fn meta(
    nr: i64,
    name: &'static str,
    dirfd: Option<usize>,
    path: usize,
    follow: Follow,
) -> Syscall {
    Syscall {
        nr,
        name,
        kind: Kind::Metadata {
            dirfd,
            path,
            follow,
        },
    }
}

/// Every syscall the Linux engine intercepts.
#[cfg(target_arch = "x86_64")]
pub const INTERCEPTED: &[Syscall] = &[
    open(libc::SYS_open, "open", None, 0, Flags::Arg(1)),
    open(libc::SYS_openat, "openat", Some(0), 1, Flags::Arg(2)),
    open(libc::SYS_openat2, "openat2", Some(0), 1, Flags::OpenHow(2)),
    open(libc::SYS_creat, "creat", None, 0, Flags::Creat),
    meta(libc::SYS_stat, "stat", None, 0, Follow::Always),
    meta(libc::SYS_lstat, "lstat", None, 0, Follow::Never),
    meta(
        libc::SYS_newfstatat,
        "newfstatat",
        Some(0),
        1,
        Follow::UnlessNofollowAt(3),
    ),
    meta(
        libc::SYS_statx,
        "statx",
        Some(0),
        1,
        Follow::UnlessNofollowAt(2),
    ),
    meta(libc::SYS_access, "access", None, 0, Follow::Always),
    meta(libc::SYS_faccessat, "faccessat", Some(0), 1, Follow::Always),
    meta(
        libc::SYS_faccessat2,
        "faccessat2",
        Some(0),
        1,
        Follow::UnlessNofollowAt(3),
    ),
    meta(libc::SYS_readlink, "readlink", None, 0, Follow::Never),
    meta(
        libc::SYS_readlinkat,
        "readlinkat",
        Some(0),
        1,
        Follow::Never,
    ),
];

#[cfg(not(target_arch = "x86_64"))]
pub const INTERCEPTED: &[Syscall] = &[];

/// Syscalls refused outright: each is a way around a path sandbox
/// (io_uring bypasses seccomp; handles skip path lookup; ptrace and
/// userfaultfd can steer the supervisor; mounts change what paths mean).
#[cfg(target_arch = "x86_64")]
pub const REFUSED: &[i64] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_ptrace,
    libc::SYS_process_vm_writev,
    libc::SYS_userfaultfd,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
];

#[cfg(not(target_arch = "x86_64"))]
pub const REFUSED: &[i64] = &[];

pub fn lookup(nr: i64) -> Option<&'static Syscall> {
    INTERCEPTED.iter().find(|s| s.nr == nr)
}

/// Up to three operations one syscall exercises; all must be allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ops {
    ids: [OpId; 3],
    len: u8,
}

impl Ops {
    pub fn one(op: OpId) -> Ops {
        let mut o = Ops::default();
        o.push(op);
        o
    }

    fn push(&mut self, op: OpId) {
        if let Some(slot) = self.ids.get_mut(usize::from(self.len)) {
            *slot = op;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[OpId] {
        &self.ids[..usize::from(self.len)]
    }
}

/// The operations an open with `flags` exercises; `exists` tells whether the
/// target exists (O_CREAT of a missing file is file-write-create).
pub fn open_operations(flags: u64, exists: bool) -> Ops {
    let flags = flags as i32;
    let mut ops = Ops::default();
    if flags & libc::O_PATH != 0 {
        return Ops::one(op::FILE_READ_METADATA);
    }
    let access = flags & libc::O_ACCMODE;
    if access == libc::O_RDONLY || access == libc::O_RDWR {
        ops.push(op::FILE_READ_DATA);
    }
    if flags & libc::O_CREAT != 0 && !exists {
        ops.push(op::FILE_WRITE_CREATE);
    } else if access == libc::O_WRONLY
        || access == libc::O_RDWR
        || flags & (libc::O_TRUNC | libc::O_APPEND) != 0
    {
        ops.push(op::FILE_WRITE_DATA);
    }
    ops
}

/// Whether an open does not follow a symlink in its last component.
pub fn open_nofollow(flags: u64) -> bool {
    let flags = flags as i32;
    flags & libc::O_NOFOLLOW != 0 || (flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_map_to_operations() {
        let ops = |f: i32, exists| open_operations(f as u64, exists).as_slice().to_vec();
        assert_eq!(ops(libc::O_RDONLY, true), [op::FILE_READ_DATA]);
        assert_eq!(
            ops(libc::O_WRONLY | libc::O_CREAT, true),
            [op::FILE_WRITE_DATA]
        );
        assert_eq!(
            ops(libc::O_WRONLY | libc::O_CREAT, false),
            [op::FILE_WRITE_CREATE]
        );
        assert_eq!(
            ops(libc::O_RDWR, true),
            [op::FILE_READ_DATA, op::FILE_WRITE_DATA]
        );
        assert_eq!(
            ops(libc::O_RDONLY | libc::O_TRUNC, true),
            [op::FILE_READ_DATA, op::FILE_WRITE_DATA]
        );
        assert_eq!(ops(libc::O_PATH, true), [op::FILE_READ_METADATA]);
    }

    #[test]
    fn every_intercepted_syscall_is_unique() {
        for (i, a) in INTERCEPTED.iter().enumerate() {
            assert!(
                INTERCEPTED[i + 1..].iter().all(|b| b.nr != a.nr),
                "{}",
                a.name
            );
            assert!(!REFUSED.contains(&a.nr), "{}", a.name);
        }
        assert_eq!(lookup(libc::SYS_openat).map(|s| s.name), Some("openat"));
    }
}
