//! The path a Mac's Seatbelt matches a rule against, as real Macs showed it.
//!
//! On macOS `/tmp`, `/var` and `/etc` are symlinks into `/private`, and the
//! kernel hands Seatbelt the vnode's path, which is the resolved
//! `/private/...` form. Runs of the research harness on macOS 14.4.1 (blobs
//! applied with `sandbox_apply`, outcomes witnessed by the probes' exit
//! status; docs/matrix.md, "Which path a rule is matched against") show
//! that a rule written with `/tmp/...` matches all the same, in both
//! directions:
//!
//! - `(subpath "/tmp/foo")` allowed a read of `/tmp/foo` *and* of
//!   `/private/tmp/foo`;
//! - `(deny file-read* (literal "/tmp/baz.txt"))` denied a read of
//!   `/tmp/baz.txt`;
//! - `(subpath "/private/tmp/strict_ok")` allowed
//!   `/private/tmp/strict_ok/allow.txt`.
//!
//! Apple's compiler keeps `/tmp/...` as written in the blob (the
//! `baseline_deny_all` vector), so the equivalence is made when the kernel
//! matches. The model: a path filter is tested against the resolved path
//! and, when that starts with `/private/tmp`, `/private/var` or
//! `/private/etc`, also against the same path without `/private`; it
//! matches when either does. Which side the kernel rewrites (the rule's
//! `/tmp` prefix, or the path's `/private`) is [model]: the two agree on
//! every literal and subpath, and differ only for a regex that names one
//! form and not the other, which no observation covers.
//!
//! `sandbox_check()` from user space answers differently: it said deny for
//! the `/tmp/foo` read the kernel allowed, i.e. it matched the resolved
//! path only ([`PathModel::MacosResolved`]).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The symlinks of macOS's root into `/private`.
const PRIVATE_LINKS: [&str; 3] = ["tmp", "etc", "var"];

/// How the path given to a decision becomes the strings its path filters
/// are tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathModel {
    /// The path as given, matched as a string: what the decoder predicts
    /// for the text of the rule, and what the Linux engine matches.
    #[default]
    AsGiven,
    /// macOS's layout, the resolved path only (`/tmp/x` is matched as
    /// `/private/tmp/x`): what `sandbox_check()` answered on a real Mac.
    MacosResolved,
    /// macOS's layout as the kernel matches it: the resolved path, and the
    /// same path without `/private` for `/private/{tmp,var,etc}`.
    MacosKernel,
}

impl PathModel {
    pub fn parse(s: &str) -> Option<PathModel> {
        match s {
            "as-given" => Some(PathModel::AsGiven),
            "macos-resolved" | "sandbox-check" => Some(PathModel::MacosResolved),
            "macos-kernel" | "macos" => Some(PathModel::MacosKernel),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PathModel::AsGiven => "as-given",
            PathModel::MacosResolved => "macos-resolved",
            PathModel::MacosKernel => "macos-kernel",
        }
    }

    /// One line for a reader: which strings a path filter was tested with.
    pub fn describe(self, given: &Path) -> String {
        let tested = self.tested(given);
        let shown: Vec<String> = tested.iter().map(|p| p.display().to_string()).collect();
        match self {
            PathModel::AsGiven => format!("as given (string matching): {}", shown.join(", ")),
            PathModel::MacosResolved => format!(
                "macOS layout, resolved path only (as sandbox_check): {}",
                shown.join(", ")
            ),
            PathModel::MacosKernel => format!(
                "macOS kernel (resolved path, and without /private): {}",
                shown.join(" or ")
            ),
        }
    }

    /// The paths a path filter is tested against, the first the primary.
    pub fn tested(self, given: &Path) -> Vec<PathBuf> {
        match self {
            PathModel::AsGiven => vec![given.to_owned()],
            PathModel::MacosResolved => vec![to_macos(given)],
            PathModel::MacosKernel => {
                let resolved = to_macos(given);
                let alternate = without_private(&resolved);
                std::iter::once(resolved).chain(alternate).collect()
            }
        }
    }
}

/// Maps a resolved Linux path onto macOS's layout: `/tmp`, `/etc` and
/// `/var` are symlinks into `/private` there, and the kernel resolves them.
pub fn to_macos(path: &Path) -> PathBuf {
    for top in PRIVATE_LINKS {
        if let Ok(rest) = path.strip_prefix(Path::new("/").join(top)) {
            return Path::new("/private").join(top).join(rest);
        }
    }
    path.to_owned()
}

/// The second form the kernel matches a resolved macOS path as:
/// `/private/tmp/x` as `/tmp/x` (likewise `/var`, `/etc`); `None` for any
/// other path.
pub fn without_private(resolved: &Path) -> Option<PathBuf> {
    let rest = resolved.strip_prefix("/private").ok()?;
    let top = rest.components().next()?.as_os_str();
    PRIVATE_LINKS
        .iter()
        .any(|t| top == OsStr::new(t))
        .then(|| Path::new("/").join(rest))
}

/// The bytes of [`without_private`], for a supervisor that holds the
/// resolved path as bytes.
pub fn without_private_bytes(resolved: &[u8]) -> Option<Vec<u8>> {
    without_private(Path::new(OsStr::from_bytes(resolved)))
        .map(|p| p.into_os_string().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_maps_the_three_links_only() {
        assert_eq!(
            to_macos(Path::new("/tmp/foo")),
            Path::new("/private/tmp/foo")
        );
        assert_eq!(to_macos(Path::new("/etc")), Path::new("/private/etc"));
        assert_eq!(to_macos(Path::new("/tmpx")), Path::new("/tmpx"));
        assert_eq!(to_macos(Path::new("/usr/bin")), Path::new("/usr/bin"));
        assert_eq!(
            to_macos(Path::new("/private/tmp/foo")),
            Path::new("/private/tmp/foo")
        );
    }

    #[test]
    fn the_kernel_also_matches_without_private() {
        let t = |p: &str| PathModel::MacosKernel.tested(Path::new(p));
        assert_eq!(
            t("/tmp/foo"),
            [PathBuf::from("/private/tmp/foo"), PathBuf::from("/tmp/foo")]
        );
        assert_eq!(
            t("/private/var/db"),
            [PathBuf::from("/private/var/db"), PathBuf::from("/var/db")]
        );
        assert_eq!(
            t("/private/tmp"),
            [PathBuf::from("/private/tmp"), PathBuf::from("/tmp")]
        );
        // Only the three links: /private/other has no second form.
        assert_eq!(t("/private/other"), [PathBuf::from("/private/other")]);
        assert_eq!(t("/private/tmpx"), [PathBuf::from("/private/tmpx")]);
        assert_eq!(t("/usr/lib"), [PathBuf::from("/usr/lib")]);
        assert_eq!(
            PathModel::MacosResolved.tested(Path::new("/tmp/foo")),
            [PathBuf::from("/private/tmp/foo")]
        );
        assert_eq!(
            without_private_bytes(b"/private/etc/hosts").as_deref(),
            Some(&b"/etc/hosts"[..])
        );
    }

    #[test]
    fn names_round_trip() {
        for m in [
            PathModel::AsGiven,
            PathModel::MacosResolved,
            PathModel::MacosKernel,
        ] {
            assert_eq!(PathModel::parse(m.name()), Some(m));
        }
        assert_eq!(PathModel::parse("nope"), None);
    }
}
