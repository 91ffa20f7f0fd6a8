//! Linux syscalls (x86_64) and the Seatbelt operations they exercise.
//!
//! The map follows ../shared/docs/linux-enforcement.md, legacy and `*at`
//! forms alike: opens are file-read-data / file-write-data /
//! file-write-create by their flags; the stat family, access and readlink
//! are file-read-metadata; xattr reads file-read-xattr; chmod, chown, utimes
//! and xattr writes file-write-mode / -owner / -times / -xattr; creations
//! (mkdir, mknod, link, symlink, rename's new name) file-write-create;
//! removals (unlink, rmdir, rename's old name) file-write-unlink; a hard
//! link's existing file file-link (as Seatbelt's link hook checks); execve and
//! execveat process-exec*; fork, vfork and clone without CLONE_THREAD
//! process-fork; connect and sendto/sendmsg/sendmmsg with an address
//! network-outbound; bind network-bind. Calls that name another process
//! (signals, limits, priorities, owners, pidfds) and credential changes are
//! sent too, so none reaches the supervisor or weakens fd injection. The
//! rest is an allowlist: [`PASSED`] syscalls touch nothing a profile
//! governs and pass without a round trip, [`REFUSED`] ones are EPERM, and
//! a number no table names is ENOSYS.
//!
//! Reads through an fd already open (fstat, fgetxattr) pass, as on macOS
//! where the check happened at open; changes through an fd (fchmod, fchown,
//! futimens, fsetxattr) are checked against the file the fd names.

use crate::vocab::OpId;

/// Operation ids of macOS 14.4.1 the engine checks (tested against the
/// vocabulary below).
pub mod op {
    use crate::vocab::OpId;
    pub const FILE_LINK: OpId = 15;
    pub const FILE_READ_DATA: OpId = 22;
    pub const FILE_READ_METADATA: OpId = 23;
    pub const FILE_READ_XATTR: OpId = 24;
    pub const FILE_WRITE_CREATE: OpId = 31;
    pub const FILE_WRITE_DATA: OpId = 32;
    pub const FILE_WRITE_FLAGS: OpId = 34;
    pub const FILE_WRITE_MODE: OpId = 35;
    pub const FILE_WRITE_OWNER: OpId = 36;
    pub const FILE_WRITE_TIMES: OpId = 38;
    pub const FILE_WRITE_UNLINK: OpId = 39;
    pub const FILE_WRITE_XATTR: OpId = 40;
    pub const NETWORK_BIND: OpId = 111;
    pub const NETWORK_OUTBOUND: OpId = 112;
    pub const PROCESS_EXEC: OpId = 120;
    pub const PROCESS_EXEC_INTERPRETER: OpId = 121;
    pub const PROCESS_FORK: OpId = 122;
}

/// Where a syscall's arguments live and what it exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `open(path, flags)`-like: operations depend on the open flags.
    Open {
        dirfd: Option<usize>,
        path: usize,
        flags: Flags,
    },
    /// One path, one operation.
    Path {
        op: OpId,
        dirfd: Option<usize>,
        path: usize,
        follow: Follow,
        /// Argument holding `AT_*` flags (`AT_EMPTY_PATH`, symlink flags).
        at: Option<usize>,
    },
    /// The file an open fd names (fchmod, fchown, fsetxattr, ...).
    Fd { op: OpId, fd: usize },
    /// rename family: the old name is unlinked, the new one created.
    Rename {
        olddir: Option<usize>,
        old: usize,
        newdir: Option<usize>,
        new: usize,
        /// `renameat2` flags (RENAME_EXCHANGE swaps both names).
        flags: Option<usize>,
    },
    /// A socket call with an address.
    Net { op: OpId, addr: Addr },
    /// link family: file-link on the existing file (followed only with
    /// AT_SYMLINK_FOLLOW; AT_EMPTY_PATH names it by fd), file-write-create
    /// on the new name.
    Link {
        olddir: Option<usize>,
        old: usize,
        newdir: Option<usize>,
        new: usize,
        /// `linkat` flags.
        flags: Option<usize>,
    },
    /// fork, vfork, clone without CLONE_THREAD: process-fork.
    Fork,
    /// A call that names another process (a signal, a resource limit, a
    /// priority, a pidfd, a file's owner for SIGIO): refused when it would
    /// reach the supervisor (which a same-user process may otherwise kill,
    /// stop or starve, ending every result of the run); anything else goes
    /// ahead.
    Signal(Target),
    /// A call that may change the process's credentials: allowed only when
    /// it changes nothing, so the process keeps the supervisor's rights and
    /// the fds the supervisor opens for it give it none it lacks.
    Creds,
}

/// Where an open's flags come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flags {
    /// Syscall argument `n`.
    Arg(usize),
    /// `creat`: always `O_CREAT | O_WRONLY | O_TRUNC`.
    Creat,
    /// `openat2`: the `struct open_how` at argument `n`, its size at `n + 1`.
    OpenHow(usize),
}

/// Whether the last path component's symlink is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Always,
    Never,
    /// Follow unless `AT_SYMLINK_NOFOLLOW` is in the `at` argument.
    UnlessNofollow,
}

/// Where a socket call's address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// Pointer at argument `ptr`, length at `len`.
    Arg { ptr: usize, len: usize },
    /// In the `struct msghdr` at argument `n` (`msg_name`).
    Msg(usize),
    /// In each of the `len` `struct mmsghdr` at argument `vec`.
    Mmsg { vec: usize, len: usize },
}

/// Whom a signal call (argument 0) is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// kill, rt_sigqueueinfo: a pid, 0 (the caller's group), -1 (every
    /// process it may signal) or -pgid.
    Pid,
    /// tkill: a thread id.
    Tid,
    /// tgkill, rt_tgsigqueueinfo: a thread-group id (a thread id follows).
    Tgid,
    /// pidfd_send_signal, process_madvise, process_mrelease: a pidfd.
    Pidfd,
    /// prlimit64, sched_set*, pidfd_open, migrate_pages, move_pages: a pid
    /// at argument 0, 0 for the caller.
    Process,
    /// fcntl(F_SETOWN): the pid at argument 2, `-pgid` for a group, 0 for
    /// none.
    Owner,
    /// setpriority, ioprio_set: `(which, who)` at arguments 0 and 1, with
    /// the value of `which` that means a process (a group and a user
    /// follow it), `who` 0 for the caller's own.
    Which(u64),
}

/// Which filter instruction sends a syscall to the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// clone: only without CLONE_THREAD (a new thread is not a fork).
    CloneUnlessThread,
    /// prctl: only the options that change capabilities at the next exec.
    PrctlCaps,
    /// fcntl: only F_SETOWN (F_SETOWN_EX, whose owner is in memory, is
    /// refused by the filter).
    FcntlSetown,
    /// prlimit64: unless it reads the caller's own limits (pid 0, no new
    /// limit).
    PrlimitChange,
    /// ioctl: only the commands that set inode flags (chattr's
    /// FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR); the filter refuses a few
    /// others outright and passes the rest.
    IoctlFlags,
}

#[derive(Debug, Clone, Copy)]
pub struct Syscall {
    pub nr: i64,
    pub name: &'static str,
    pub kind: Kind,
    pub when: When,
}

/// Syscall numbers the libc crate does not name on x86_64 (Linux 6.13+).
pub mod nr {
    pub const SETXATTRAT: i64 = 463;
    pub const GETXATTRAT: i64 = 464;
    pub const LISTXATTRAT: i64 = 465;
    pub const REMOVEXATTRAT: i64 = 466;
    pub const IO_PGETEVENTS: i64 = 333;
    pub const CACHESTAT: i64 = 451;
    pub const MAP_SHADOW_STACK: i64 = 453;
    pub const FUTEX_WAKE: i64 = 454;
    pub const FUTEX_WAIT: i64 = 455;
    pub const FUTEX_REQUEUE: i64 = 456;
    pub const MSEAL: i64 = 462;
    /// Sets inode flags (append-only, immutable) on a path: not in the
    /// map, so refused by default (ENOSYS).
    pub const FILE_SETATTR: i64 = 469;
}

/// prctl options that change what an exec grants: they end fd injection.
pub const PRCTL_CAPS: [u32; 3] = [
    libc::PR_CAPBSET_DROP as u32,
    libc::PR_SET_SECUREBITS as u32,
    libc::PR_CAP_AMBIENT as u32,
];

const fn sc(nr: i64, name: &'static str, kind: Kind) -> Syscall {
    Syscall {
        nr,
        name,
        kind,
        when: When::Always,
    }
}

const fn open(nr: i64, name: &'static str, dirfd: Option<usize>, flags: Flags) -> Syscall {
    let path = if dirfd.is_some() { 1 } else { 0 };
    sc(nr, name, Kind::Open { dirfd, path, flags })
}

/// A path call: `dirfd` at 0 and the path at 1 when `at_form`, else the path
/// at 0.
const fn path(
    nr: i64,
    name: &'static str,
    op: OpId,
    at_form: bool,
    follow: Follow,
    at: Option<usize>,
) -> Syscall {
    let (dirfd, path) = if at_form { (Some(0), 1) } else { (None, 0) };
    sc(
        nr,
        name,
        Kind::Path {
            op,
            dirfd,
            path,
            follow,
            at,
        },
    )
}

/// A call whose path is at `path` relative to the dirfd at `dirfd`.
const fn path_at(
    nr: i64,
    name: &'static str,
    op: OpId,
    dirfd: Option<usize>,
    path: usize,
    follow: Follow,
    at: Option<usize>,
) -> Syscall {
    sc(
        nr,
        name,
        Kind::Path {
            op,
            dirfd,
            path,
            follow,
            at,
        },
    )
}

const fn fd_call(nr: i64, name: &'static str, op: OpId) -> Syscall {
    sc(nr, name, Kind::Fd { op, fd: 0 })
}

const fn net(nr: i64, name: &'static str, op: OpId, addr: Addr) -> Syscall {
    sc(nr, name, Kind::Net { op, addr })
}

const fn signal(nr: i64, name: &'static str, target: Target) -> Syscall {
    sc(nr, name, Kind::Signal(target))
}

const fn creds(nr: i64, name: &'static str) -> Syscall {
    sc(nr, name, Kind::Creds)
}

use Follow::{Always, Never, UnlessNofollow};

/// Every syscall the Linux engine intercepts.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const INTERCEPTED: &[Syscall] = &[
    // Opens.
    open(libc::SYS_open, "open", None, Flags::Arg(1)),
    open(libc::SYS_openat, "openat", Some(0), Flags::Arg(2)),
    open(libc::SYS_openat2, "openat2", Some(0), Flags::OpenHow(2)),
    open(libc::SYS_creat, "creat", None, Flags::Creat),
    // file-read-metadata.
    path(
        libc::SYS_stat,
        "stat",
        op::FILE_READ_METADATA,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_lstat,
        "lstat",
        op::FILE_READ_METADATA,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_newfstatat,
        "newfstatat",
        op::FILE_READ_METADATA,
        true,
        UnlessNofollow,
        Some(3),
    ),
    path(
        libc::SYS_statx,
        "statx",
        op::FILE_READ_METADATA,
        true,
        UnlessNofollow,
        Some(2),
    ),
    path(
        libc::SYS_access,
        "access",
        op::FILE_READ_METADATA,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_faccessat,
        "faccessat",
        op::FILE_READ_METADATA,
        true,
        Always,
        None,
    ),
    path(
        libc::SYS_faccessat2,
        "faccessat2",
        op::FILE_READ_METADATA,
        true,
        UnlessNofollow,
        Some(3),
    ),
    path(
        libc::SYS_readlink,
        "readlink",
        op::FILE_READ_METADATA,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_readlinkat,
        "readlinkat",
        op::FILE_READ_METADATA,
        true,
        Never,
        None,
    ),
    // file-read-xattr.
    path(
        libc::SYS_getxattr,
        "getxattr",
        op::FILE_READ_XATTR,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_lgetxattr,
        "lgetxattr",
        op::FILE_READ_XATTR,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_listxattr,
        "listxattr",
        op::FILE_READ_XATTR,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_llistxattr,
        "llistxattr",
        op::FILE_READ_XATTR,
        false,
        Never,
        None,
    ),
    path(
        nr::GETXATTRAT,
        "getxattrat",
        op::FILE_READ_XATTR,
        true,
        UnlessNofollow,
        Some(2),
    ),
    path(
        nr::LISTXATTRAT,
        "listxattrat",
        op::FILE_READ_XATTR,
        true,
        UnlessNofollow,
        Some(2),
    ),
    // file-write-data.
    path(
        libc::SYS_truncate,
        "truncate",
        op::FILE_WRITE_DATA,
        false,
        Always,
        None,
    ),
    // file-write-create.
    path(
        libc::SYS_mkdir,
        "mkdir",
        op::FILE_WRITE_CREATE,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_mkdirat,
        "mkdirat",
        op::FILE_WRITE_CREATE,
        true,
        Never,
        None,
    ),
    path(
        libc::SYS_mknod,
        "mknod",
        op::FILE_WRITE_CREATE,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_mknodat,
        "mknodat",
        op::FILE_WRITE_CREATE,
        true,
        Never,
        None,
    ),
    path_at(
        libc::SYS_symlink,
        "symlink",
        op::FILE_WRITE_CREATE,
        None,
        1,
        Never,
        None,
    ),
    path_at(
        libc::SYS_symlinkat,
        "symlinkat",
        op::FILE_WRITE_CREATE,
        Some(1),
        2,
        Never,
        None,
    ),
    // A hard link: file-link on the existing file, file-write-create on
    // the new name (a link is a second way into the file).
    sc(
        libc::SYS_link,
        "link",
        Kind::Link {
            olddir: None,
            old: 0,
            newdir: None,
            new: 1,
            flags: None,
        },
    ),
    sc(
        libc::SYS_linkat,
        "linkat",
        Kind::Link {
            olddir: Some(0),
            old: 1,
            newdir: Some(2),
            new: 3,
            flags: Some(4),
        },
    ),
    sc(
        libc::SYS_rename,
        "rename",
        Kind::Rename {
            olddir: None,
            old: 0,
            newdir: None,
            new: 1,
            flags: None,
        },
    ),
    sc(
        libc::SYS_renameat,
        "renameat",
        Kind::Rename {
            olddir: Some(0),
            old: 1,
            newdir: Some(2),
            new: 3,
            flags: None,
        },
    ),
    sc(
        libc::SYS_renameat2,
        "renameat2",
        Kind::Rename {
            olddir: Some(0),
            old: 1,
            newdir: Some(2),
            new: 3,
            flags: Some(4),
        },
    ),
    // file-write-unlink.
    path(
        libc::SYS_unlink,
        "unlink",
        op::FILE_WRITE_UNLINK,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_unlinkat,
        "unlinkat",
        op::FILE_WRITE_UNLINK,
        true,
        Never,
        None,
    ),
    path(
        libc::SYS_rmdir,
        "rmdir",
        op::FILE_WRITE_UNLINK,
        false,
        Never,
        None,
    ),
    // file-write-mode.
    path(
        libc::SYS_chmod,
        "chmod",
        op::FILE_WRITE_MODE,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_fchmodat,
        "fchmodat",
        op::FILE_WRITE_MODE,
        true,
        Always,
        None,
    ),
    path(
        libc::SYS_fchmodat2,
        "fchmodat2",
        op::FILE_WRITE_MODE,
        true,
        UnlessNofollow,
        Some(3),
    ),
    fd_call(libc::SYS_fchmod, "fchmod", op::FILE_WRITE_MODE),
    // file-write-owner.
    path(
        libc::SYS_chown,
        "chown",
        op::FILE_WRITE_OWNER,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_lchown,
        "lchown",
        op::FILE_WRITE_OWNER,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_fchownat,
        "fchownat",
        op::FILE_WRITE_OWNER,
        true,
        UnlessNofollow,
        Some(4),
    ),
    fd_call(libc::SYS_fchown, "fchown", op::FILE_WRITE_OWNER),
    // file-write-times. utimensat with a NULL path acts on its dirfd.
    path(
        libc::SYS_utime,
        "utime",
        op::FILE_WRITE_TIMES,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_utimes,
        "utimes",
        op::FILE_WRITE_TIMES,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_futimesat,
        "futimesat",
        op::FILE_WRITE_TIMES,
        true,
        Always,
        None,
    ),
    path(
        libc::SYS_utimensat,
        "utimensat",
        op::FILE_WRITE_TIMES,
        true,
        UnlessNofollow,
        Some(3),
    ),
    // file-write-xattr.
    path(
        libc::SYS_setxattr,
        "setxattr",
        op::FILE_WRITE_XATTR,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_lsetxattr,
        "lsetxattr",
        op::FILE_WRITE_XATTR,
        false,
        Never,
        None,
    ),
    path(
        libc::SYS_removexattr,
        "removexattr",
        op::FILE_WRITE_XATTR,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_lremovexattr,
        "lremovexattr",
        op::FILE_WRITE_XATTR,
        false,
        Never,
        None,
    ),
    path(
        nr::SETXATTRAT,
        "setxattrat",
        op::FILE_WRITE_XATTR,
        true,
        UnlessNofollow,
        Some(2),
    ),
    path(
        nr::REMOVEXATTRAT,
        "removexattrat",
        op::FILE_WRITE_XATTR,
        true,
        UnlessNofollow,
        Some(2),
    ),
    fd_call(libc::SYS_fsetxattr, "fsetxattr", op::FILE_WRITE_XATTR),
    fd_call(libc::SYS_fremovexattr, "fremovexattr", op::FILE_WRITE_XATTR),
    // file-write-flags: inode flags (append-only, immutable, nodump) set
    // through an fd, as chflags is on macOS.
    Syscall {
        nr: libc::SYS_ioctl,
        name: "ioctl",
        kind: Kind::Fd {
            op: op::FILE_WRITE_FLAGS,
            fd: 0,
        },
        when: When::IoctlFlags,
    },
    // process-exec*.
    path(
        libc::SYS_execve,
        "execve",
        op::PROCESS_EXEC,
        false,
        Always,
        None,
    ),
    path(
        libc::SYS_execveat,
        "execveat",
        op::PROCESS_EXEC,
        true,
        UnlessNofollow,
        Some(4),
    ),
    // process-fork.
    sc(libc::SYS_fork, "fork", Kind::Fork),
    sc(libc::SYS_vfork, "vfork", Kind::Fork),
    Syscall {
        nr: libc::SYS_clone,
        name: "clone",
        kind: Kind::Fork,
        when: When::CloneUnlessThread,
    },
    // network-outbound and network-bind.
    net(
        libc::SYS_connect,
        "connect",
        op::NETWORK_OUTBOUND,
        Addr::Arg { ptr: 1, len: 2 },
    ),
    net(
        libc::SYS_sendto,
        "sendto",
        op::NETWORK_OUTBOUND,
        Addr::Arg { ptr: 4, len: 5 },
    ),
    net(
        libc::SYS_sendmsg,
        "sendmsg",
        op::NETWORK_OUTBOUND,
        Addr::Msg(1),
    ),
    net(
        libc::SYS_sendmmsg,
        "sendmmsg",
        op::NETWORK_OUTBOUND,
        Addr::Mmsg { vec: 1, len: 2 },
    ),
    net(
        libc::SYS_bind,
        "bind",
        op::NETWORK_BIND,
        Addr::Arg { ptr: 1, len: 2 },
    ),
    // Signals: none may reach the supervisor (see Kind::Signal).
    signal(libc::SYS_kill, "kill", Target::Pid),
    signal(libc::SYS_rt_sigqueueinfo, "rt_sigqueueinfo", Target::Pid),
    signal(libc::SYS_tkill, "tkill", Target::Tid),
    signal(libc::SYS_tgkill, "tgkill", Target::Tgid),
    signal(
        libc::SYS_rt_tgsigqueueinfo,
        "rt_tgsigqueueinfo",
        Target::Tgid,
    ),
    signal(
        libc::SYS_pidfd_send_signal,
        "pidfd_send_signal",
        Target::Pidfd,
    ),
    // Credential changes.
    creds(libc::SYS_setuid, "setuid"),
    creds(libc::SYS_setgid, "setgid"),
    creds(libc::SYS_setreuid, "setreuid"),
    creds(libc::SYS_setregid, "setregid"),
    creds(libc::SYS_setresuid, "setresuid"),
    creds(libc::SYS_setresgid, "setresgid"),
    creds(libc::SYS_setfsuid, "setfsuid"),
    creds(libc::SYS_setfsgid, "setfsgid"),
    creds(libc::SYS_setgroups, "setgroups"),
    creds(libc::SYS_capset, "capset"),
    Syscall {
        nr: libc::SYS_prctl,
        name: "prctl",
        kind: Kind::Creds,
        when: When::PrctlCaps,
    },
    // Calls that name another process (see Kind::Signal).
    Syscall {
        nr: libc::SYS_fcntl,
        name: "fcntl",
        kind: Kind::Signal(Target::Owner),
        when: When::FcntlSetown,
    },
    Syscall {
        nr: libc::SYS_prlimit64,
        name: "prlimit64",
        kind: Kind::Signal(Target::Process),
        when: When::PrlimitChange,
    },
    signal(libc::SYS_setpriority, "setpriority", Target::Which(0)),
    signal(libc::SYS_ioprio_set, "ioprio_set", Target::Which(1)),
    signal(libc::SYS_sched_setparam, "sched_setparam", Target::Process),
    signal(
        libc::SYS_sched_setscheduler,
        "sched_setscheduler",
        Target::Process,
    ),
    signal(
        libc::SYS_sched_setaffinity,
        "sched_setaffinity",
        Target::Process,
    ),
    signal(libc::SYS_sched_setattr, "sched_setattr", Target::Process),
    signal(libc::SYS_migrate_pages, "migrate_pages", Target::Process),
    signal(libc::SYS_move_pages, "move_pages", Target::Process),
    signal(libc::SYS_pidfd_open, "pidfd_open", Target::Process),
    signal(libc::SYS_process_madvise, "process_madvise", Target::Pidfd),
    signal(
        libc::SYS_process_mrelease,
        "process_mrelease",
        Target::Pidfd,
    ),
];

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const INTERCEPTED: &[Syscall] = &[];

/// Syscalls refused outright with EPERM: each is a way around a path sandbox
/// (io_uring bypasses seccomp; handles skip path lookup; ptrace,
/// process_vm_readv/writev and userfaultfd can read or steer other
/// processes or the supervisor; pidfd_getfd could take the supervisor's
/// listener; mounts, chroot and namespaces change what paths mean).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const REFUSED: &[i64] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
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
    // Writes the kernel makes for the process, where no check sees them:
    // an accounting file, and fanotify (whose marks reach files by path
    // and whose permission events would let it stall other processes).
    libc::SYS_acct,
    libc::SYS_fanotify_init,
    libc::SYS_fanotify_mark,
];

/// Syscalls known to touch nothing a profile governs: they pass without a
/// round trip. Every number in none of [`INTERCEPTED`], [`REFUSED`],
/// [`UNAVAILABLE`], [`PASSED`] and [`SECCOMP`] is answered ENOSYS by the
/// filter: a syscall the engine was not written for (a new kernel's, such
/// as file_setattr, 469, which sets inode flags on a path) is refused until
/// someone decides what it touches. setrlimit passes with an argument
/// test in the filter (see `bpf`).
///
/// What passes: memory, time, scheduling of the caller itself, signals to
/// itself, waiting, reading and writing fds already open (their check was
/// at open, as on macOS), sockets without an address (connect, bind and
/// the sends with one are checked), the caller's own ids read, its cwd
/// (chdir, fchdir: no Seatbelt operation), file-system statistics
/// (statfs), inotify (which reads events, never files), System V and POSIX
/// IPC (no Seatbelt file operation here; see docs/threat-model.md), and
/// Landlock (which only narrows what the caller may do).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const PASSED: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_close,
    libc::SYS_fstat,
    libc::SYS_poll,
    libc::SYS_lseek,
    libc::SYS_mmap,
    libc::SYS_mprotect,
    libc::SYS_munmap,
    libc::SYS_brk,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pipe,
    libc::SYS_select,
    libc::SYS_sched_yield,
    libc::SYS_mremap,
    libc::SYS_msync,
    libc::SYS_mincore,
    libc::SYS_madvise,
    libc::SYS_shmget,
    libc::SYS_shmat,
    libc::SYS_shmctl,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_pause,
    libc::SYS_nanosleep,
    libc::SYS_getitimer,
    libc::SYS_alarm,
    libc::SYS_setitimer,
    libc::SYS_getpid,
    libc::SYS_sendfile,
    libc::SYS_socket,
    libc::SYS_accept,
    libc::SYS_recvfrom,
    libc::SYS_recvmsg,
    libc::SYS_shutdown,
    libc::SYS_listen,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_socketpair,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
    libc::SYS_exit,
    libc::SYS_wait4,
    libc::SYS_uname,
    libc::SYS_semget,
    libc::SYS_semop,
    libc::SYS_semctl,
    libc::SYS_shmdt,
    libc::SYS_msgget,
    libc::SYS_msgsnd,
    libc::SYS_msgrcv,
    libc::SYS_msgctl,
    libc::SYS_flock,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ftruncate,
    libc::SYS_getdents,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_umask,
    libc::SYS_gettimeofday,
    libc::SYS_getrlimit,
    libc::SYS_getrusage,
    libc::SYS_sysinfo,
    libc::SYS_times,
    libc::SYS_getuid,
    libc::SYS_getgid,
    libc::SYS_geteuid,
    libc::SYS_getegid,
    libc::SYS_setpgid,
    libc::SYS_getppid,
    libc::SYS_getpgrp,
    libc::SYS_setsid,
    libc::SYS_getgroups,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getpgid,
    libc::SYS_getsid,
    libc::SYS_capget,
    libc::SYS_rt_sigpending,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_rt_sigsuspend,
    libc::SYS_sigaltstack,
    libc::SYS_personality,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_getpriority,
    libc::SYS_sched_getparam,
    libc::SYS_sched_getscheduler,
    libc::SYS_sched_get_priority_max,
    libc::SYS_sched_get_priority_min,
    libc::SYS_sched_rr_get_interval,
    libc::SYS_mlock,
    libc::SYS_munlock,
    libc::SYS_mlockall,
    libc::SYS_munlockall,
    libc::SYS_arch_prctl,
    libc::SYS_sync,
    libc::SYS_gettid,
    libc::SYS_readahead,
    libc::SYS_fgetxattr,
    libc::SYS_flistxattr,
    libc::SYS_time,
    libc::SYS_futex,
    libc::SYS_sched_getaffinity,
    libc::SYS_set_thread_area,
    libc::SYS_get_thread_area,
    libc::SYS_io_setup,
    libc::SYS_io_destroy,
    libc::SYS_io_getevents,
    libc::SYS_io_submit,
    libc::SYS_io_cancel,
    libc::SYS_epoll_create,
    libc::SYS_getdents64,
    libc::SYS_set_tid_address,
    libc::SYS_restart_syscall,
    libc::SYS_semtimedop,
    libc::SYS_fadvise64,
    libc::SYS_timer_create,
    libc::SYS_timer_settime,
    libc::SYS_timer_gettime,
    libc::SYS_timer_getoverrun,
    libc::SYS_timer_delete,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_exit_group,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_ctl,
    libc::SYS_mbind,
    libc::SYS_set_mempolicy,
    libc::SYS_get_mempolicy,
    libc::SYS_mq_open,
    libc::SYS_mq_unlink,
    libc::SYS_mq_timedsend,
    libc::SYS_mq_timedreceive,
    libc::SYS_mq_notify,
    libc::SYS_mq_getsetattr,
    libc::SYS_waitid,
    libc::SYS_ioprio_get,
    libc::SYS_inotify_init,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    libc::SYS_pselect6,
    libc::SYS_ppoll,
    libc::SYS_set_robust_list,
    libc::SYS_splice,
    libc::SYS_tee,
    libc::SYS_sync_file_range,
    libc::SYS_vmsplice,
    libc::SYS_epoll_pwait,
    libc::SYS_signalfd,
    libc::SYS_timerfd_create,
    libc::SYS_eventfd,
    libc::SYS_fallocate,
    libc::SYS_timerfd_settime,
    libc::SYS_timerfd_gettime,
    libc::SYS_accept4,
    libc::SYS_signalfd4,
    libc::SYS_eventfd2,
    libc::SYS_epoll_create1,
    libc::SYS_dup3,
    libc::SYS_pipe2,
    libc::SYS_inotify_init1,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_recvmmsg,
    libc::SYS_syncfs,
    libc::SYS_getcpu,
    libc::SYS_sched_getattr,
    libc::SYS_getrandom,
    libc::SYS_memfd_create,
    libc::SYS_membarrier,
    libc::SYS_mlock2,
    libc::SYS_copy_file_range,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_pkey_mprotect,
    libc::SYS_pkey_alloc,
    libc::SYS_pkey_free,
    nr::IO_PGETEVENTS,
    libc::SYS_rseq,
    libc::SYS_close_range,
    libc::SYS_epoll_pwait2,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_landlock_add_rule,
    libc::SYS_landlock_restrict_self,
    libc::SYS_memfd_secret,
    libc::SYS_futex_waitv,
    libc::SYS_set_mempolicy_home_node,
    nr::CACHESTAT,
    nr::MAP_SHADOW_STACK,
    nr::FUTEX_WAKE,
    nr::FUTEX_WAIT,
    nr::FUTEX_REQUEUE,
    nr::MSEAL,
];

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const PASSED: &[i64] = &[];

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const REFUSED: &[i64] = &[];

/// Syscalls answered ENOSYS, so callers fall back to an older call the
/// filter can judge: clone3 keeps its flags in memory (a CLONE_THREAD the
/// filter cannot see), glibc falls back to clone.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const UNAVAILABLE: &[i64] = &[libc::SYS_clone3];

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const UNAVAILABLE: &[i64] = &[];

/// `seccomp(2)`: a new listener installed by the sandboxed process would
/// receive the notifications before ours (the newest filter's listener
/// wins a tie), so SECCOMP_FILTER_FLAG_NEW_LISTENER is refused.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const SECCOMP: i64 = libc::SYS_seccomp;
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const SECCOMP: i64 = -1;

/// setrlimit: it passes after an argument test in the filter (no new
/// core dump limit).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub const SETRLIMIT: i64 = libc::SYS_setrlimit;
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub const SETRLIMIT: i64 = -1;

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

    pub fn push(&mut self, op: OpId) {
        if let Some(slot) = self.ids.get_mut(usize::from(self.len)) {
            *slot = op;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[OpId] {
        &self.ids[..usize::from(self.len)]
    }
}

/// `__O_TMPFILE` without `O_DIRECTORY` (the libc crate only has the union).
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

/// Whether an open may create a file (and so depends on the umask).
pub fn open_creates(flags: u64) -> bool {
    let flags = flags as i32;
    flags & libc::O_CREAT != 0 || flags & O_TMPFILE_BIT != 0
}

/// Whether an open changes the file system before it returns (creates or
/// truncates). Not `flags & (O_CREAT | O_TRUNC | O_TMPFILE)`: libc's
/// O_TMPFILE holds O_DIRECTORY, which would count every directory open.
pub fn open_has_side_effects(flags: u64) -> bool {
    open_creates(flags) || flags as i32 & libc::O_TRUNC != 0
}

/// The operations an open with `flags` exercises; `exists` tells whether the
/// target exists. As in XNU's `vn_open_auth`, an open that creates its file
/// is checked as file-write-create alone; an O_TMPFILE open creates in the
/// directory it names.
pub fn open_operations(flags: u64, exists: bool) -> Ops {
    let flags = flags as i32;
    if flags & libc::O_PATH != 0 {
        return Ops::one(op::FILE_READ_METADATA);
    }
    if flags & O_TMPFILE_BIT != 0 || (flags & libc::O_CREAT != 0 && !exists) {
        return Ops::one(op::FILE_WRITE_CREATE);
    }
    let mut ops = Ops::default();
    let access = flags & libc::O_ACCMODE;
    if access == libc::O_RDONLY || access == libc::O_RDWR {
        ops.push(op::FILE_READ_DATA);
    }
    if access == libc::O_WRONLY
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
    use crate::vocab::Vocab;

    #[test]
    fn operation_ids_match_the_vocabulary() {
        let v = Vocab::macos_14();
        for (id, name) in [
            (op::FILE_LINK, "file-link"),
            (op::FILE_READ_DATA, "file-read-data"),
            (op::FILE_READ_METADATA, "file-read-metadata"),
            (op::FILE_READ_XATTR, "file-read-xattr"),
            (op::FILE_WRITE_CREATE, "file-write-create"),
            (op::FILE_WRITE_DATA, "file-write-data"),
            (op::FILE_WRITE_FLAGS, "file-write-flags"),
            (op::FILE_WRITE_MODE, "file-write-mode"),
            (op::FILE_WRITE_OWNER, "file-write-owner"),
            (op::FILE_WRITE_TIMES, "file-write-times"),
            (op::FILE_WRITE_UNLINK, "file-write-unlink"),
            (op::FILE_WRITE_XATTR, "file-write-xattr"),
            (op::NETWORK_BIND, "network-bind"),
            (op::NETWORK_OUTBOUND, "network-outbound"),
            (op::PROCESS_EXEC, "process-exec*"),
            (op::PROCESS_EXEC_INTERPRETER, "process-exec-interpreter"),
            (op::PROCESS_FORK, "process-fork"),
        ] {
            assert_eq!(v.op_name(id), Some(name));
        }
    }

    #[test]
    fn open_flags_map_to_operations() {
        let ops = |f: i32, exists| open_operations(f as u64, exists).as_slice().to_vec();
        assert_eq!(ops(libc::O_RDONLY, true), [op::FILE_READ_DATA]);
        assert_eq!(
            ops(libc::O_WRONLY | libc::O_CREAT, true),
            [op::FILE_WRITE_DATA]
        );
        assert_eq!(
            ops(libc::O_RDWR | libc::O_CREAT, false),
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
        assert_eq!(
            ops(libc::O_TMPFILE | libc::O_RDWR, true),
            [op::FILE_WRITE_CREATE]
        );
        assert!(open_creates(libc::O_TMPFILE as u64));
        assert!(!open_creates(libc::O_DIRECTORY as u64));
        let effects = |f: i32| open_has_side_effects(f as u64);
        assert!(effects(libc::O_TRUNC) && effects(libc::O_CREAT) && effects(libc::O_TMPFILE));
        assert!(!effects(libc::O_DIRECTORY) && !effects(libc::O_RDWR | libc::O_NONBLOCK));
        assert!(open_nofollow((libc::O_CREAT | libc::O_EXCL) as u64));
        assert!(!open_nofollow(libc::O_CREAT as u64));
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn every_intercepted_syscall_is_unique_and_not_refused() {
        for (i, a) in INTERCEPTED.iter().enumerate() {
            assert!(
                INTERCEPTED[i + 1..].iter().all(|b| b.nr != a.nr),
                "{}",
                a.name
            );
            assert!(!REFUSED.contains(&a.nr), "{}", a.name);
            assert!(!UNAVAILABLE.contains(&a.nr), "{}", a.name);
            assert_ne!(a.nr, SECCOMP, "{}", a.name);
        }
        assert_eq!(lookup(libc::SYS_openat).map(|s| s.name), Some("openat"));
        assert_eq!(lookup(nr::GETXATTRAT).map(|s| s.name), Some("getxattrat"));
    }
}
