//! Resolving a path as the kernel will for the sandboxed process: relative
//! paths from its cwd or dirfd, symlinks followed before `..` is applied, the
//! last component left alone where the call does not follow it, missing
//! targets through their parent, `/proc/self` rewritten to the process.
//!
//! Seatbelt matches resolved paths, so the supervisor evaluates the profile
//! against what this returns. With `macos_paths`, the result is mapped onto
//! macOS's layout (`/tmp`, `/etc`, `/var` live under `/private`), so a Linux
//! run predicts macOS verdicts.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

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
    pub pid: i32,
    pub base: Base,
    pub path: &'a [u8],
    pub follow_last: bool,
}

/// Resolves `req`; `None` when the base cannot be read (the process is gone
/// or the fd is not open) or the lookup loops.
pub fn resolve(req: &Request<'_>) -> Option<PathBuf> {
    let path = Path::new(OsStr::from_bytes(req.path));
    let start = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        let link = match req.base {
            Base::Cwd => format!("/proc/{}/cwd", req.pid),
            Base::Fd(fd) => format!("/proc/{}/fd/{fd}", req.pid),
        };
        std::fs::read_link(link).ok()?
    };
    walk(start, path, req.follow_last, req.pid)
}

/// Walks `path` from `start`, resolving symlinks component by component.
fn walk(start: PathBuf, path: &Path, follow_last: bool, pid: i32) -> Option<PathBuf> {
    let mut out = start;
    let mut pending: Vec<PathBuf> = vec![path.to_owned()];
    let mut links = 0;
    let mut missing = false;
    while let Some(next) = pending.pop() {
        let mut comps: Vec<Component<'_>> = next.components().collect();
        comps.reverse();
        while let Some(c) = comps.pop() {
            match c {
                Component::RootDir => out = PathBuf::from("/"),
                Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(name) => {
                    out.push(rewrite_self(name, &out, pid));
                    let last = comps.is_empty() && pending.is_empty();
                    if missing || (last && !follow_last) {
                        continue;
                    }
                    match std::fs::symlink_metadata(&out) {
                        Ok(meta) if meta.file_type().is_symlink() => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return None;
                            }
                            let target = std::fs::read_link(&out).ok()?;
                            out.pop();
                            // The rest of this path is walked after the target.
                            let rest: PathBuf =
                                comps.drain(..).rev().map(|c| c.as_os_str()).collect();
                            if !rest.as_os_str().is_empty() {
                                pending.push(rest);
                            }
                            pending.push(target);
                            break;
                        }
                        Ok(_) => {}
                        // Below a missing component nothing can be a symlink.
                        Err(_) => missing = true,
                    }
                }
            }
        }
    }
    Some(out)
}

/// `/proc/self` names the process doing the lookup: the sandboxed one.
fn rewrite_self(name: &OsStr, parent: &Path, pid: i32) -> PathBuf {
    if parent == Path::new("/proc") && name == "self" {
        PathBuf::from(pid.to_string())
    } else {
        PathBuf::from(name)
    }
}

/// Maps a resolved Linux path onto macOS's layout: `/tmp`, `/etc` and `/var`
/// are symlinks into `/private` there, and Seatbelt sees the resolved path.
pub fn to_macos(path: &Path) -> PathBuf {
    for top in ["/tmp", "/etc", "/var"] {
        if let Ok(rest) = path.strip_prefix(top) {
            return Path::new("/private").join(&top[1..]).join(rest);
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn at(pid: i32, path: &str, follow_last: bool) -> Option<PathBuf> {
        resolve(&Request {
            pid,
            base: Base::Cwd,
            path: path.as_bytes(),
            follow_last,
        })
    }

    #[test]
    fn symlinks_then_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        symlink(root.join("real/sub"), root.join("link")).unwrap();
        let me = std::process::id() as i32;
        // `link/..` is `real`, not the directory holding `link`.
        let p = format!("{}/link/../x", root.display());
        assert_eq!(at(me, &p, true), Some(root.join("real/x")));
        // The last component is left alone when the call does not follow it.
        let p = format!("{}/link", root.display());
        assert_eq!(at(me, &p, false), Some(root.join("link")));
        assert_eq!(at(me, &p, true), Some(root.join("real/sub")));
        // A missing target resolves through its parent.
        let p = format!("{}/link/missing/../y", root.display());
        assert_eq!(at(me, &p, true), Some(root.join("real/sub/y")));
    }

    #[test]
    fn relative_to_cwd_and_proc_self() {
        let me = std::process::id() as i32;
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(at(me, "a/b", true), Some(cwd.join("a/b")));
        assert_eq!(
            at(me, "/proc/self/status", true),
            Some(PathBuf::from(format!("/proc/{me}/status")))
        );
    }

    #[test]
    fn symlink_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        symlink(root.join("b"), root.join("a")).unwrap();
        symlink(root.join("a"), root.join("b")).unwrap();
        let me = std::process::id() as i32;
        assert_eq!(at(me, &format!("{}/a", root.display()), true), None);
    }

    #[test]
    fn macos_layout() {
        assert_eq!(
            to_macos(Path::new("/tmp/foo")),
            PathBuf::from("/private/tmp/foo")
        );
        assert_eq!(to_macos(Path::new("/etc")), PathBuf::from("/private/etc"));
        assert_eq!(to_macos(Path::new("/tmpx")), PathBuf::from("/tmpx"));
        assert_eq!(to_macos(Path::new("/usr/bin")), PathBuf::from("/usr/bin"));
    }
}
