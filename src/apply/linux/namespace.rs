//! A private filesystem view: a mount namespace (inside a user namespace
//! where the caller lacks CAP_SYS_ADMIN) whose root is a fresh tmpfs. Every
//! top-level directory of the host's root is bind-mounted back at its place
//! except `/tmp` and `/private`, which are empty directories of that tmpfs:
//! whatever is created there (the matrix's fixtures) lives and dies with
//! the namespace, and nothing the host holds under them (a user's
//! `/tmp/foo`, a root-owned `/private/tmp`, another user's leftovers) is
//! seen or touched. Directories the caller names ([`Plan::keep`]) under
//! `/tmp` or `/private` are bound back from the host at the same path (the
//! project or an output directory that lives there).
//!
//! The namespace is entered by a single-threaded process ([`enter`]: the
//! kernel refuses `unshare(CLONE_NEWUSER)` to a multithreaded one), or by a
//! child between fork and exec ([`spawn_inside`]). Either way the engine's
//! supervisor and the sandboxed child run in the same view, so paths are
//! resolved and opened as the child sees them with no translation. Joining
//! the child's namespace from a supervisor thread instead works only as
//! root (measured on 6.18: `setns(CLONE_NEWNS)` from a thread of a
//! multithreaded process gives EINVAL, and after `unshare(CLONE_FS)`
//! succeeds as root but gives EPERM to a user, who would first have to
//! join the user namespace, which a multithreaded process cannot).
//!
//! [`Plan::new`] allocates everything; [`Plan::enter_raw`] makes raw
//! syscalls only, so it is safe after `fork()` in a multithreaded parent.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Set in a process whose namespace is private: the mount namespace the
/// parent had, so a child that merely inherited the variable (and not the
/// namespace) is not mistaken for one inside.
pub const ENV: &str = "SBCHECK_HERMETIC_OUTSIDE";

/// Most directories [`Plan::keep`] binds back (fds held on the stack).
const MAX_KEEP: usize = 16;

/// The new root is built on the tmpfs mounted here, then pivoted into:
/// any directory the host surely has will do, and this one is hidden anyway.
const STAGE: &CStr = c"/tmp";

/// A top-level entry of the host's root, re-created in the new root.
enum Entry {
    /// A directory, bind-mounted (`/usr`, `/home`, `/proc`, ...).
    Dir { src: CString, dst: CString },
    /// A symbolic link, re-created (`/bin -> usr/bin`).
    Link { to: CString, dst: CString },
    /// A file, bind-mounted onto an empty file.
    File { src: CString, dst: CString },
}

/// A directory bound back from the host at the same path.
struct Kept {
    src: CString,
    /// Directories to create in the new root, outermost first.
    mkdirs: Vec<CString>,
    dst: CString,
}

/// Everything the raw part needs, prepared before any fork.
pub struct Plan {
    entries: Vec<Entry>,
    /// `/tmp`, `/private`, `/private/tmp` in the new root, with their modes.
    fresh: Vec<(CString, u32)>,
    kept: Vec<Kept>,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

/// Why the namespace could not be entered: the step and its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub step: &'static str,
    pub errno: i32,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot make the private /tmp and /private the harness runs in ({}: {}){}",
            self.step,
            std::io::Error::from_raw_os_error(self.errno),
            if self.step.starts_with("unshare") {
                hint()
            } else {
                String::new()
            }
        )
    }
}

impl std::error::Error for Failure {}

/// What to enable where user namespaces are refused, from the settings
/// this kernel has.
pub fn hint() -> String {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let mut out = Vec::new();
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        out.push("sudo sysctl kernel.unprivileged_userns_clone=1");
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        out.push(
            "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 \
             (or an AppArmor profile with `userns,` for the binary)",
        );
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        out.push("sudo sysctl user.max_user_namespaces=15000");
    }
    if out.is_empty() {
        out.push(
            "in a container, allow unshare (docker: --security-opt seccomp=unconfined, \
             or run as root with --cap-add SYS_ADMIN)",
        );
    }
    format!(
        ". Unprivileged user namespaces are needed (or run as root); to enable them: {}",
        out.join("; ")
    )
}

fn cstr(p: &Path) -> CString {
    // A path from the filesystem or from Path::join holds no NUL.
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

/// `path` inside the staging root.
fn staged(path: &Path) -> CString {
    let rel = path.strip_prefix("/").unwrap_or(path);
    cstr(&Path::new(STAGE.to_str().unwrap_or("/tmp")).join(rel))
}

/// Whether `path` is hidden by the new root: under `/tmp` or `/private`.
pub fn is_hidden(path: &Path) -> bool {
    path.starts_with("/tmp") || path.starts_with("/private")
}

impl Plan {
    /// The plan for the host as it is now: its top-level entries, the
    /// caller's ids and working directory.
    pub fn new() -> std::io::Result<Plan> {
        let mut entries = Vec::new();
        for e in std::fs::read_dir("/")? {
            let e = e?;
            let name = e.file_name();
            if name == "tmp" || name == "private" {
                continue;
            }
            let src = Path::new("/").join(&name);
            let dst = staged(&src);
            let ty = e.file_type()?;
            entries.push(if ty.is_symlink() {
                Entry::Link {
                    to: cstr(&std::fs::read_link(&src)?),
                    dst,
                }
            } else if ty.is_dir() {
                Entry::Dir {
                    src: cstr(&src),
                    dst,
                }
            } else {
                Entry::File {
                    src: cstr(&src),
                    dst,
                }
            });
        }
        let fresh = vec![
            (staged(Path::new("/tmp")), 0o1777),
            (staged(Path::new("/private")), 0o755),
            (staged(Path::new("/private/tmp")), 0o1777),
        ];
        // The kernel lets an unprivileged process map only its effective ids.
        // SAFETY: geteuid/getegid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Ok(Plan {
            entries,
            fresh,
            kept: Vec::new(),
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        })
    }

    /// Binds `dir` back from the host if the new root would hide it (it is
    /// under `/tmp` or `/private`); creates it first if missing. `/tmp`,
    /// `/private` and `/private/tmp` themselves are never bound back: that
    /// would undo the isolation, so they are refused.
    pub fn keep(&mut self, dir: &Path) -> std::io::Result<()> {
        let dir = std::path::absolute(dir)?;
        if !is_hidden(&dir) {
            return Ok(());
        }
        if ["/tmp", "/private", "/private/tmp"]
            .iter()
            .any(|p| dir == Path::new(p))
        {
            return Err(std::io::Error::other(format!(
                "{}: the harness runs in a private {} and cannot also keep the host's; \
                 use a directory below it",
                dir.display(),
                dir.display()
            )));
        }
        if self.kept.len() == MAX_KEEP {
            return Err(std::io::Error::other("too many directories to keep"));
        }
        std::fs::create_dir_all(&dir)?;
        let dir = dir.canonicalize()?;
        if !is_hidden(&dir)
            || self
                .kept
                .iter()
                .any(|k| k.src.as_bytes() == cstr(&dir).as_bytes())
        {
            return Ok(());
        }
        let mkdirs = dir
            .ancestors()
            .collect::<Vec<&Path>>()
            .into_iter()
            .rev()
            .filter(|a| a.components().count() > 1)
            .map(staged)
            .collect();
        self.kept.push(Kept {
            src: cstr(&dir),
            mkdirs,
            dst: staged(&dir),
        });
        Ok(())
    }

    /// The directories bound back, as host paths.
    pub fn kept(&self) -> Vec<PathBuf> {
        self.kept
            .iter()
            .map(|k| PathBuf::from(std::ffi::OsStr::from_bytes(k.src.as_bytes())))
            .collect()
    }

    /// Enters the namespace: raw syscalls only (no allocation, no lock), so
    /// it may run in a child between fork and exec. The calling process
    /// must be single-threaded.
    pub fn enter_raw(&self) -> Result<(), Failure> {
        let fail = |step| move |errno| Failure { step, errno };
        // The working directory as it is now (a spawned command's own), to
        // return to in the new root, where it is bound too.
        let mut cwd = [0u8; 4096];
        let cwd = raw::getcwd(&mut cwd);
        // CAP_SYS_ADMIN (root) needs no user namespace; without it the
        // first unshare fails with nothing changed.
        if raw::unshare(libc::CLONE_NEWNS).is_err() {
            raw::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS)
                .map_err(fail("unshare(CLONE_NEWUSER | CLONE_NEWNS)"))?;
            raw::write_file(c"/proc/self/setgroups", b"deny").map_err(fail("setgroups"))?;
            raw::write_file(c"/proc/self/uid_map", &self.uid_map).map_err(fail("uid_map"))?;
            raw::write_file(c"/proc/self/gid_map", &self.gid_map).map_err(fail("gid_map"))?;
        }
        // Nothing mounted here propagates back to the host.
        raw::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
            .map_err(fail("making / private"))?;
        // The kept directories may be under /tmp: held before it is covered.
        let mut fds = [-1; MAX_KEEP];
        for (fd, k) in fds.iter_mut().zip(&self.kept) {
            *fd = raw::open_path(&k.src).map_err(fail("opening a kept directory"))?;
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV;
        raw::mount(
            Some(c"tmpfs"),
            STAGE,
            Some(c"tmpfs"),
            flags,
            Some(c"mode=0755"),
        )
        .map_err(fail("mounting the new root's tmpfs"))?;
        self.populate(&fds)?;
        for fd in fds.iter().filter(|&&fd| fd >= 0) {
            raw::close(*fd);
        }
        raw::chdir(STAGE).map_err(fail("chdir to the new root"))?;
        // pivot_root(".", "."): the old root stacks under the new one and
        // is detached at once, so nothing of it stays reachable.
        raw::pivot_root_here().map_err(fail("pivot_root"))?;
        raw::umount_detach(c".").map_err(fail("detaching the old root"))?;
        raw::chdir(c"/").map_err(fail("chdir /"))?;
        if let Some(cwd) = cwd {
            // A working directory that is gone here stays at /.
            let _ = raw::chdir(cwd);
        }
        Ok(())
    }

    /// The new root's contents, on the staging tmpfs.
    fn populate(&self, fds: &[i32; MAX_KEEP]) -> Result<(), Failure> {
        let fail = |step| move |errno| Failure { step, errno };
        let bind = libc::MS_BIND | libc::MS_REC;
        for e in &self.entries {
            match e {
                Entry::Dir { src, dst } => {
                    raw::mkdir(dst, 0o755).map_err(fail("mkdir for a host directory"))?;
                    match raw::mount(Some(src), dst, None, bind, None) {
                        // A mount this user cannot look into (another
                        // user's FUSE mount) stays an empty directory, as
                        // useless to the run as it was.
                        Ok(()) | Err(libc::EACCES) => {}
                        Err(e) => return Err(fail("binding a host directory")(e)),
                    }
                }
                Entry::Link { to, dst } => {
                    raw::symlink(to, dst).map_err(fail("re-creating a top-level link"))?
                }
                Entry::File { src, dst } => {
                    raw::touch(dst).map_err(fail("creating a file mount point"))?;
                    raw::mount(Some(src), dst, None, bind, None)
                        .map_err(fail("binding a host file"))?;
                }
            }
        }
        for (dir, mode) in &self.fresh {
            raw::mkdir(dir, *mode).map_err(fail("mkdir of a private directory"))?;
            // mkdir's mode passes through the umask; 1777 must be exact.
            raw::chmod(dir, *mode).map_err(fail("chmod of a private directory"))?;
        }
        let mut path = [0u8; 40];
        for (k, &fd) in self.kept.iter().zip(fds) {
            for d in &k.mkdirs {
                raw::mkdir(d, 0o755).map_err(fail("mkdir for a kept directory"))?;
            }
            let src = raw::fd_path(fd, &mut path);
            raw::mount(Some(src), &k.dst, None, bind, None)
                .map_err(fail("binding a kept directory"))?;
        }
        Ok(())
    }
}

/// Enters a private namespace in this process, which must be
/// single-threaded (call it first thing in `main`, before any thread).
/// Children and supervisors started afterwards share the view.
pub fn enter(plan: &Plan) -> Result<(), Failure> {
    let status = crate::apply::linux::resolve::read_proc("/proc/self/status");
    let threads = status
        .as_deref()
        .and_then(|s| crate::apply::linux::resolve::field(s, "Threads:"));
    if threads.is_some_and(|t| t != "1") {
        return Err(Failure {
            step: "entering from a multithreaded process",
            errno: libc::EINVAL,
        });
    }
    let outside = mount_ns_id();
    plan.enter_raw()?;
    drop_capabilities();
    if let Some(id) = outside {
        std::env::set_var(ENV, id);
    }
    Ok(())
}

/// Runs `cmd` inside a fresh private namespace: it is entered in the
/// child between fork and exec. The child learns it is inside from
/// [`ENV`].
pub fn spawn_inside(
    cmd: &mut std::process::Command,
    plan: Plan,
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    if let Some(id) = mount_ns_id() {
        cmd.env(ENV, id);
    }
    // SAFETY: the closure runs in the forked child before exec and makes
    // raw syscalls only (Plan::enter_raw), on memory prepared before fork.
    unsafe {
        cmd.pre_exec(move || {
            plan.enter_raw()
                .map_err(|f| std::io::Error::from_raw_os_error(f.errno))
        });
    }
    cmd.spawn()
}

/// This process's mount namespace, as `/proc/self/ns/mnt` names it.
pub fn mount_ns_id() -> Option<String> {
    std::fs::read_link("/proc/self/ns/mnt")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Whether this process runs in a private namespace made by this module:
/// [`ENV`] names the mount namespace outside, and this is another.
pub fn is_private() -> bool {
    match (std::env::var(ENV), mount_ns_id()) {
        (Ok(outside), Some(now)) => outside != now,
        _ => false,
    }
}

/// In a user namespace the process holds every capability over it (and
/// so over its own files); the matrix runs with the user's rights, so they
/// go (an exec drops them anyway for a non-root user). Root keeps its own.
fn drop_capabilities() {
    // SAFETY: geteuid touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    let mut header = raw::CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [raw::CapData::default(); 2];
    // SAFETY: header and data are valid for the kernel's v3 layout (two
    // data structs); capset reads them only.
    unsafe {
        libc::syscall(libc::SYS_capset, &mut header, data.as_ptr());
    }
}

/// The raw syscalls of [`Plan::enter_raw`]: errno on failure, nothing else.
mod raw {
    use std::ffi::CStr;

    fn check(rc: libc::c_long) -> Result<libc::c_long, i32> {
        if rc < 0 {
            Err(crate::apply::sys::errno())
        } else {
            Ok(rc)
        }
    }

    #[repr(C)]
    pub struct CapHeader {
        pub version: u32,
        pub pid: i32,
    }

    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    pub struct CapData {
        pub effective: u32,
        pub permitted: u32,
        pub inheritable: u32,
    }

    pub fn unshare(flags: i32) -> Result<(), i32> {
        // SAFETY: unshare takes flags only.
        check(unsafe { libc::unshare(flags) }.into()).map(drop)
    }

    pub fn mount(
        src: Option<&CStr>,
        dst: &CStr,
        fstype: Option<&CStr>,
        flags: libc::c_ulong,
        data: Option<&CStr>,
    ) -> Result<(), i32> {
        let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: every pointer is null or a NUL-terminated string that
        // outlives the call.
        check(
            unsafe {
                libc::mount(
                    p(src),
                    dst.as_ptr(),
                    p(fstype),
                    flags,
                    p(data).cast::<libc::c_void>(),
                )
            }
            .into(),
        )
        .map(drop)
    }

    pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), i32> {
        let fd = crate::apply::sys::open(path, libc::O_WRONLY | libc::O_CLOEXEC, 0)?;
        let r = crate::apply::sys::write(fd, data);
        crate::apply::sys::close(fd);
        match r {
            Ok(n) if n == data.len() => Ok(()),
            Ok(_) => Err(libc::EIO),
            Err(e) => Err(e),
        }
    }

    pub fn open_path(path: &CStr) -> Result<i32, i32> {
        crate::apply::sys::open(path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
    }

    pub fn close(fd: i32) {
        crate::apply::sys::close(fd)
    }

    pub fn mkdir(path: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: a NUL-terminated path.
        match check(unsafe { libc::mkdir(path.as_ptr(), mode) }.into()) {
            Err(libc::EEXIST) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn chmod(path: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: a NUL-terminated path.
        check(unsafe { libc::chmod(path.as_ptr(), mode) }.into()).map(drop)
    }

    pub fn symlink(to: &CStr, at: &CStr) -> Result<(), i32> {
        // SAFETY: NUL-terminated paths.
        check(unsafe { libc::symlink(to.as_ptr(), at.as_ptr()) }.into()).map(drop)
    }

    pub fn touch(path: &CStr) -> Result<(), i32> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
        let fd = crate::apply::sys::open(path, flags, 0o644)?;
        crate::apply::sys::close(fd);
        Ok(())
    }

    /// The working directory into `buf`; `None` if it does not fit or is
    /// unreachable (the kernel's `(unreachable)` prefix is not absolute).
    pub fn getcwd(buf: &mut [u8; 4096]) -> Option<&CStr> {
        // SAFETY: the kernel writes at most buf.len() bytes into buf.
        let rc = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
        if rc <= 0 || buf[0] != b'/' {
            return None;
        }
        CStr::from_bytes_until_nul(&buf[..]).ok()
    }

    pub fn chdir(path: &CStr) -> Result<(), i32> {
        // SAFETY: a NUL-terminated path.
        check(unsafe { libc::chdir(path.as_ptr()) }.into()).map(drop)
    }

    pub fn pivot_root_here() -> Result<(), i32> {
        // SAFETY: two NUL-terminated paths; libc has no wrapper.
        check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })
            .map(drop)
    }

    pub fn umount_detach(path: &CStr) -> Result<(), i32> {
        // SAFETY: a NUL-terminated path.
        check(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) }.into()).map(drop)
    }

    /// `/proc/self/fd/N` for `fd`, written into `buf` without allocating.
    pub fn fd_path(fd: i32, buf: &mut [u8; 40]) -> &CStr {
        const PREFIX: &[u8] = b"/proc/self/fd/";
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let mut digits = [0u8; 10];
        let mut n = fd.unsigned_abs();
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[PREFIX.len() + i] = digits[len - 1 - i];
        }
        buf[PREFIX.len() + len] = 0;
        CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spawned command sees its own /tmp (empty, 1777) and /private/tmp,
    /// and keeps the working directory it was given.
    #[test]
    fn a_spawned_command_sees_a_private_tmp_and_keeps_its_directory() {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args([
            "-c",
            "pwd; stat -c %a /tmp /private/tmp; ls -A /tmp | wc -l",
        ])
        .current_dir("/usr")
        .stdout(std::process::Stdio::piped());
        let out = spawn_inside(&mut cmd, Plan::new().unwrap())
            .unwrap()
            .wait_with_output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "/usr\n1777\n1777\n0\n"
        );
    }

    #[test]
    fn fd_paths_are_written_without_allocating() {
        let mut buf = [0u8; 40];
        assert_eq!(raw::fd_path(7, &mut buf), c"/proc/self/fd/7");
        assert_eq!(raw::fd_path(1234, &mut buf), c"/proc/self/fd/1234");
        assert_eq!(raw::fd_path(0, &mut buf), c"/proc/self/fd/0");
    }

    /// A test thread is never alone in its process: entering is refused
    /// before anything changes, with a reason (unshare would say EINVAL).
    #[test]
    fn a_multithreaded_process_is_refused_with_a_reason() {
        let before = mount_ns_id();
        // A second thread for sure, even under --test-threads=1.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        let e = enter(&Plan::new().unwrap()).unwrap_err();
        drop(tx);
        let _ = other.join();
        assert_eq!(e.step, "entering from a multithreaded process");
        assert!(e.to_string().contains("private /tmp and /private"), "{e}");
        assert_eq!(mount_ns_id(), before);
    }

    /// A refused user namespace says what to enable, from this kernel's
    /// settings or, where none is off, the container's policy.
    #[test]
    fn a_refused_unshare_says_what_to_enable() {
        let e = Failure {
            step: "unshare(CLONE_NEWUSER | CLONE_NEWNS)",
            errno: libc::EPERM,
        }
        .to_string();
        assert!(e.contains("Operation not permitted"), "{e}");
        assert!(
            e.contains("Unprivileged user namespaces are needed (or run as root)"),
            "{e}"
        );
        assert!(e.contains("sysctl") || e.contains("container"), "{e}");
        let other = Failure {
            step: "pivot_root",
            errno: libc::EINVAL,
        };
        assert!(!other.to_string().contains("namespaces are needed"));
    }

    #[test]
    fn only_hidden_directories_are_kept_and_never_tmp_itself() {
        let mut plan = Plan::new().unwrap();
        plan.keep(Path::new("/usr")).unwrap();
        assert!(plan.kept().is_empty(), "/usr stays visible without a bind");
        assert!(plan.keep(Path::new("/tmp")).is_err());
        assert!(plan.keep(Path::new("/private/tmp/")).is_err());
        let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        plan.keep(dir.path()).unwrap();
        plan.keep(dir.path()).unwrap();
        assert_eq!(plan.kept(), vec![dir.path().canonicalize().unwrap()]);
    }
}
