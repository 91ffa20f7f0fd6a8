//! Darwin numbers in compiled profiles, as this platform numbers them:
//! `(with errno N)` and `(with send-signal N)` compile to Darwin's values
//! (ENOTSUP is 45 there, 95 here; SIGUSR1 30 there, 10 here).

/// Darwin errno -> Linux errno, for every Darwin errno above 34 (1-34 are
/// the same on both). Darwin-only errnos (EPROCLIM, RPC, Mach-O errors)
/// have no Linux meaning: `None`.
const ERRNOS: [(i32, Option<i32>); 72] = [
    (35, Some(libc::EAGAIN)),
    (36, Some(libc::EINPROGRESS)),
    (37, Some(libc::EALREADY)),
    (38, Some(libc::ENOTSOCK)),
    (39, Some(libc::EDESTADDRREQ)),
    (40, Some(libc::EMSGSIZE)),
    (41, Some(libc::EPROTOTYPE)),
    (42, Some(libc::ENOPROTOOPT)),
    (43, Some(libc::EPROTONOSUPPORT)),
    (44, Some(libc::ESOCKTNOSUPPORT)),
    (45, Some(libc::EOPNOTSUPP)),
    (46, Some(libc::EPFNOSUPPORT)),
    (47, Some(libc::EAFNOSUPPORT)),
    (48, Some(libc::EADDRINUSE)),
    (49, Some(libc::EADDRNOTAVAIL)),
    (50, Some(libc::ENETDOWN)),
    (51, Some(libc::ENETUNREACH)),
    (52, Some(libc::ENETRESET)),
    (53, Some(libc::ECONNABORTED)),
    (54, Some(libc::ECONNRESET)),
    (55, Some(libc::ENOBUFS)),
    (56, Some(libc::EISCONN)),
    (57, Some(libc::ENOTCONN)),
    (58, Some(libc::ESHUTDOWN)),
    (59, Some(libc::ETOOMANYREFS)),
    (60, Some(libc::ETIMEDOUT)),
    (61, Some(libc::ECONNREFUSED)),
    (62, Some(libc::ELOOP)),
    (63, Some(libc::ENAMETOOLONG)),
    (64, Some(libc::EHOSTDOWN)),
    (65, Some(libc::EHOSTUNREACH)),
    (66, Some(libc::ENOTEMPTY)),
    (67, None), // EPROCLIM
    (68, Some(libc::EUSERS)),
    (69, Some(libc::EDQUOT)),
    (70, Some(libc::ESTALE)),
    (71, Some(libc::EREMOTE)),
    (72, None), // EBADRPC
    (73, None), // ERPCMISMATCH
    (74, None), // EPROGUNAVAIL
    (75, None), // EPROGMISMATCH
    (76, None), // EPROCUNAVAIL
    (77, Some(libc::ENOLCK)),
    (78, Some(libc::ENOSYS)),
    (79, None), // EFTYPE
    (80, None), // EAUTH
    (81, None), // ENEEDAUTH
    (82, None), // EPWROFF
    (83, None), // EDEVERR
    (84, Some(libc::EOVERFLOW)),
    (85, None), // EBADEXEC
    (86, None), // EBADARCH
    (87, None), // ESHLIBVERS
    (88, None), // EBADMACHO
    (89, Some(libc::ECANCELED)),
    (90, Some(libc::EIDRM)),
    (91, Some(libc::ENOMSG)),
    (92, Some(libc::EILSEQ)),
    (93, Some(libc::ENODATA)), // ENOATTR
    (94, Some(libc::EBADMSG)),
    (95, Some(libc::EMULTIHOP)),
    (96, Some(libc::ENODATA)),
    (97, Some(libc::ENOLINK)),
    (98, Some(libc::ENOSR)),
    (99, Some(libc::ENOSTR)),
    (100, Some(libc::EPROTO)),
    (101, Some(libc::ETIME)),
    (102, Some(libc::EOPNOTSUPP)),
    (103, None), // ENOPOLICY
    (104, Some(libc::ENOTRECOVERABLE)),
    (105, Some(libc::EOWNERDEAD)),
    (106, None), // EQFULL
];

/// The errno to return for Darwin's `errno`; Darwin-only values and
/// unknown numbers give EPERM (still a denial, and Seatbelt's default).
pub fn errno(darwin: i32) -> i32 {
    if (1..=34).contains(&darwin) {
        return darwin;
    }
    ERRNOS
        .iter()
        .find(|(d, _)| *d == darwin)
        .and_then(|(_, l)| *l)
        .unwrap_or(libc::EPERM)
}

/// Darwin's `enum vtype` for a file of this mode, as `(vnode-type ...)`
/// compares it: VREG 1, VDIR 2, VBLK 3, VCHR 4, VLNK 5, VSOCK 6, VFIFO 7.
/// (Seatbelt's TTY class needs to know the device is a terminal: not given.)
pub fn vtype(mode: u32) -> Option<u16> {
    Some(match mode & libc::S_IFMT {
        libc::S_IFREG => 1,
        libc::S_IFDIR => 2,
        libc::S_IFBLK => 3,
        libc::S_IFCHR => 4,
        libc::S_IFLNK => 5,
        libc::S_IFSOCK => 6,
        libc::S_IFIFO => 7,
        _ => return None,
    })
}

/// The vnode type of the file at `path` (the link itself for a symlink):
/// what a `(vnode-type ...)` filter is checked against.
pub fn vtype_of(path: &std::path::Path) -> Option<u16> {
    use std::os::unix::fs::MetadataExt;
    vtype(std::fs::symlink_metadata(path).ok()?.mode())
}

/// The signal to send for Darwin's signal number; `None` for signals Linux
/// has no counterpart of (SIGEMT, SIGINFO) or numbers out of range.
pub fn signal(darwin: i32) -> Option<i32> {
    Some(match darwin {
        1..=6 | 8 | 9 | 11 | 13..=15 | 21 | 22 | 24..=28 => darwin,
        10 => libc::SIGBUS,
        12 => libc::SIGSYS,
        16 => libc::SIGURG,
        17 => libc::SIGSTOP,
        18 => libc::SIGTSTP,
        19 => libc::SIGCONT,
        20 => libc::SIGCHLD,
        23 => libc::SIGIO,
        30 => libc::SIGUSR1,
        31 => libc::SIGUSR2,
        _ => return None,
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn vnode_types_are_darwins_numbers() {
        use std::path::Path;
        assert_eq!(super::vtype_of(Path::new("/")), Some(2));
        assert_eq!(super::vtype_of(Path::new("/dev/null")), Some(4));
        assert_eq!(super::vtype(libc::S_IFLNK | 0o777), Some(5));
        assert_eq!(super::vtype(libc::S_IFREG | 0o644), Some(1));
        assert_eq!(super::vtype_of(Path::new("/nonexistent/sbcheck")), None);
    }

    use super::*;

    #[test]
    fn errnos_map_to_linux_values() {
        assert_eq!(errno(1), libc::EPERM);
        assert_eq!(errno(13), libc::EACCES);
        assert_eq!(errno(2), libc::ENOENT);
        assert_eq!(errno(45), libc::EOPNOTSUPP);
        assert_eq!(errno(78), libc::ENOSYS);
        assert_eq!(errno(35), libc::EAGAIN);
        assert_eq!(errno(85), libc::EPERM);
        assert_eq!(errno(5000), libc::EPERM);
        // The table is sorted and covers 35..=106 once each.
        let ds: Vec<i32> = ERRNOS.iter().map(|(d, _)| *d).collect();
        assert_eq!(ds, (35..=106).collect::<Vec<_>>());
    }

    #[test]
    fn signals_map_to_linux_values() {
        assert_eq!(signal(30), Some(libc::SIGUSR1));
        assert_eq!(signal(31), Some(libc::SIGUSR2));
        assert_eq!(signal(9), Some(libc::SIGKILL));
        assert_eq!(signal(15), Some(libc::SIGTERM));
        assert_eq!(signal(10), Some(libc::SIGBUS));
        assert_eq!(signal(12), Some(libc::SIGSYS));
        assert_eq!(signal(7), None);
        assert_eq!(signal(29), None);
        assert_eq!(signal(0), None);
    }
}
