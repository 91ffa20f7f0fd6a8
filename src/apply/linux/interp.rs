//! What else an exec runs: the interpreter a `#!` line names (which may be
//! a script itself, up to the kernel's depth) and the dynamic loader an
//! ELF file's PT_INTERP names. The kernel opens each by its path, relative
//! to the caller's cwd, and runs it; a profile that denies a program must
//! deny it there too, so the supervisor checks each as
//! process-exec-interpreter (see docs/threat-model.md for why PT_INTERP
//! is checked like a `#!` interpreter).
//!
//! Reading is the supervisor's, and never opens anything but a regular
//! file (the kernel runs nothing else, and opening a FIFO or a device may
//! do something): the file is held first by an `O_PATH` fd (the one the
//! kernel's lookup returned, or one opened without following a symlink
//! on the resolved path), its type checked with fstat, and only then
//! reopened for reading through that fd, so the file read is the file
//! checked. One read of the first page serves almost every file: the ELF
//! header, the program headers and the PT_INTERP string of a usual
//! program all lie within it; anything beyond is read where it lies. What
//! a file unchanged for a second asks to run is remembered by its stamp
//! (device, inode, size, mtime, ctime: see [`next_of_fd`]), so a program
//! run again is not read again.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::resolve;

/// `BINPRM_BUF_SIZE`: the kernel reads a `#!` line from this many bytes.
const BINPRM_BUF: usize = 256;
/// The kernel gives up (ELOOP) past this many nested interpreters.
pub const MAX_DEPTH: usize = 5;
const PT_INTERP: u32 = 3;
/// How much is read at once: a page.
const HEAD: usize = 4096;

/// What a file asks the kernel to run besides itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// `#!` names an interpreter, which runs with the script.
    Script(Vec<u8>),
    /// An ELF file's PT_INTERP, the loader that runs it.
    Loader(Vec<u8>),
    /// Nothing (a static ELF, an unknown format, an unreadable file, not
    /// a regular file).
    None,
}

/// What the file at the resolved `path` asks to run besides itself (a
/// symlink there is not followed: it was swapped in since the check).
pub fn next_of(path: &Path) -> Next {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return Next::None;
    };
    let how = [
        (libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64,
        0,
        0,
    ];
    let Ok(fd) = resolve::openat2(libc::AT_FDCWD, &c, &how) else {
        return Next::None;
    };
    match resolve::fstat(&fd) {
        Some((mode, stamp)) => next_of_fd(&fd, mode, Some(stamp)),
        None => Next::None,
    }
}

/// How many files' [`Next`] are remembered (a build runs a few dozen
/// programs; each exec of one read its header again: three syscalls).
const REMEMBERED: usize = 64;

/// The [`Next`] of files read before, by [`resolve::Stamp`]: only files
/// settled when read (unchanged for a second), so a stamp seen again means
/// the same contents (see [`resolve::Stamp::settled`]).
static SEEN: std::sync::Mutex<Vec<(resolve::Stamp, Next)>> = std::sync::Mutex::new(Vec::new());

fn seen() -> std::sync::MutexGuard<'static, Vec<(resolve::Stamp, Next)>> {
    SEEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the file `fd` holds asks to run (see [`read_next`]), from what an
/// earlier read of the same file found where `stamp` shows it unchanged.
pub fn next_of_fd(fd: &OwnedFd, mode: u32, stamp: Option<resolve::Stamp>) -> Next {
    if mode & libc::S_IFMT != libc::S_IFREG {
        return Next::None;
    }
    let Some(stamp) = stamp else {
        return read_next(fd);
    };
    if let Some((_, next)) = seen().iter().find(|(s, _)| *s == stamp) {
        return next.clone();
    }
    let next = read_next(fd);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if stamp.settled(now) {
        let mut seen = seen();
        if seen.len() >= REMEMBERED {
            seen.remove(0);
        }
        seen.push((stamp, next.clone()));
    }
    next
}

/// What the file `fd` holds (an `O_PATH` fd will do; `mode` its
/// `st_mode`) asks to run besides itself, read now. A regular file: the
/// caller checked.
fn read_next(fd: &OwnedFd) -> Next {
    let Some(f) = reopen(fd) else {
        return Next::None;
    };
    let mut head = vec![0u8; HEAD];
    // One read for the usual file; more only if it returned less than a
    // `#!` line (a short read, not the end of a small file, is the rare
    // case: what lies past it is read below where it is needed).
    let n = read_at(&f, 0, &mut head, BINPRM_BUF);
    head.truncate(n);
    if let Some(interp) = shebang(&head) {
        return Next::Script(interp);
    }
    let read = |off: u64, len: usize| -> Option<Vec<u8>> {
        // Within what the first read returned, or read where it lies.
        let end = usize::try_from(off).ok()?.checked_add(len)?;
        if end <= head.len() {
            return Some(head[off as usize..end].to_vec());
        }
        let mut buf = vec![0u8; len];
        (read_at(&f, off, &mut buf, len) == len).then_some(buf)
    };
    match elf_interp(&head, read) {
        Some(p) => Next::Loader(p),
        None => Next::None,
    }
}

/// Opens the file an fd of this process holds for reading, through its
/// own `/proc/PID/fd/N` (held: [`resolve::proc_dir`]): the same file,
/// whatever its path names now.
fn reopen(fd: &OwnedFd) -> Option<File> {
    let dir = resolve::proc_dir(resolve::own_pid())?;
    let name = std::ffi::CString::new(format!("fd/{}", fd.as_raw_fd())).ok()?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
    // SAFETY: `name` is a C string alive for the call.
    let f = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    // SAFETY: the fd is new and ours alone.
    (f >= 0).then(|| File::from(unsafe { OwnedFd::from_raw_fd(f) }))
}

/// Reads into `buf` from `off` until at least `want` bytes (or all of
/// `buf`) are in or the file ends; how many bytes were read.
fn read_at(f: &File, off: u64, buf: &mut [u8], want: usize) -> usize {
    let mut n = 0;
    while n < want.min(buf.len()) {
        match f.read_at(&mut buf[n..], off + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

/// The interpreter of a `#!` line as the kernel reads it (binfmt_script):
/// within the first 256 bytes, after blanks, up to a blank or the end of
/// the line. `None` if it is not a script or names nothing.
pub fn shebang(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"#!")?;
    let line = &rest[..rest.len().min(BINPRM_BUF - 2)];
    let line = match line.iter().position(|&b| b == b'\n') {
        Some(end) => &line[..end],
        None => line,
    };
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b))?;
    let name = &line[start..];
    let end = name
        .iter()
        .position(|b| blank(b) || *b == 0)
        .unwrap_or(name.len());
    (end > 0).then(|| name[..end].to_vec())
}

/// The PT_INTERP path of an ELF file whose first bytes are `head`;
/// `read(offset, len)` reads further. 64- and 32-bit, either byte order.
pub fn elf_interp(head: &[u8], read: impl Fn(u64, usize) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    if !head.starts_with(b"\x7fELF") || head.len() < 52 {
        return None;
    }
    let wide = head[4] == 2;
    let big = head[5] == 2;
    let word = |b: &[u8], at: usize, len: usize| -> Option<u64> {
        let s = b.get(at..at + len)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if big { s[i] } else { s[len - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if wide {
        (word(head, 32, 8)?, word(head, 54, 2)?, word(head, 56, 2)?)
    } else {
        (word(head, 28, 4)?, word(head, 42, 2)?, word(head, 44, 2)?)
    };
    let min = if wide { 56 } else { 32 };
    // Real headers are 56 (or 32) bytes; the kernel reads at most 64 KB
    // of them. Anything else is not a file the kernel would load.
    if (phentsize as usize) < min || phentsize > 128 || phnum == 0 || phnum > 512 {
        return None;
    }
    let table = read(phoff, (phentsize * phnum) as usize)?;
    for i in 0..phnum as usize {
        let ph = &table[i * phentsize as usize..(i + 1) * phentsize as usize];
        if word(ph, 0, 4)? as u32 != PT_INTERP {
            continue;
        }
        let (off, size) = if wide {
            (word(ph, 8, 8)?, word(ph, 32, 8)?)
        } else {
            (word(ph, 4, 4)?, word(ph, 16, 4)?)
        };
        // The kernel refuses a PT_INTERP longer than PATH_MAX or shorter
        // than two bytes.
        if !(2..=4096).contains(&size) {
            return None;
        }
        let mut path = read(off, size as usize)?;
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        path.truncate(end);
        return (!path.is_empty()).then_some(path);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(path: &Path) -> (OwnedFd, u32, resolve::Stamp) {
        let f = std::fs::File::open(path).unwrap();
        let fd = OwnedFd::from(f);
        let (mode, stamp) = resolve::fstat(&fd).unwrap();
        (fd, mode, stamp)
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn a_file_changed_within_the_second_is_read_again() {
        // Same size, same second: the stamp may repeat, so the first read
        // must not be remembered.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        std::fs::write(&script, "#!/bin/aa\n").unwrap();
        let (fd, mode, stamp) = held(&script);
        assert!(!stamp.settled(now()), "just written");
        assert!(stamp.settled(now() + 2), "two seconds on");
        assert_eq!(
            next_of_fd(&fd, mode, Some(stamp)),
            Next::Script(b"/bin/aa".to_vec())
        );
        std::fs::write(&script, "#!/bin/bb\n").unwrap();
        let (fd, mode, stamp) = held(&script);
        assert_eq!(
            next_of_fd(&fd, mode, Some(stamp)),
            Next::Script(b"/bin/bb".to_vec())
        );
        assert!(!seen().iter().any(|(s, _)| *s == stamp));
    }

    #[test]
    fn a_settled_file_is_read_once() {
        let Some(sh) = ["/bin/sh", "/usr/bin/sh"]
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
        else {
            panic!("no /bin/sh");
        };
        let (fd, mode, stamp) = held(&std::fs::canonicalize(sh).unwrap());
        assert!(
            stamp.settled(now()),
            "{} changed within the second",
            sh.display()
        );
        let first = read_next(&fd);
        assert_eq!(next_of_fd(&fd, mode, Some(stamp)), first);
        assert!(seen().iter().any(|(s, next)| *s == stamp && *next == first));
        assert_eq!(next_of_fd(&fd, mode, Some(stamp)), first);
    }

    #[test]
    fn shebang_lines_read_as_the_kernel_reads_them() {
        assert_eq!(shebang(b"#!/bin/sh\necho"), Some(b"/bin/sh".to_vec()));
        assert_eq!(
            shebang(b"#! \t/usr/bin/env python3 -u\n"),
            Some(b"/usr/bin/env".to_vec())
        );
        assert_eq!(shebang(b"#!rel/interp"), Some(b"rel/interp".to_vec()));
        assert_eq!(shebang(b"#!   \n/bin/sh"), None);
        assert_eq!(shebang(b"echo hi"), None);
        assert_eq!(shebang(b""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_loader_of_a_real_program_is_found() {
        // Every dynamically linked program names one; /bin/sh is one here.
        // The supervisor passes resolved paths: no symlink is followed.
        assert_eq!(next_of(Path::new("/no/such/file")), Next::None);
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let Next::Loader(p) = next_of(&sh) else {
            panic!("no PT_INTERP in {}", sh.display());
        };
        assert!(p.starts_with(b"/"), "{}", String::from_utf8_lossy(&p));
        assert!(Path::new(std::ffi::OsStr::new(std::str::from_utf8(&p).unwrap())).exists());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_regular_files_are_read_and_all_of_their_headers_are_found() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A short script, and a symlink to it (the path is resolved: a
        // symlink there was swapped in since, and is not followed).
        std::fs::write(root.join("s"), b"#!/bin/interp -x\n").unwrap();
        assert_eq!(
            next_of(&root.join("s")),
            Next::Script(b"/bin/interp".to_vec())
        );
        std::os::unix::fs::symlink(root.join("s"), root.join("l")).unwrap();
        assert_eq!(next_of(&root.join("l")), Next::None);
        // A FIFO with a `#!` line waiting in it is not opened: its data
        // stays for its reader.
        let fifo = root.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a C string alive for the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut holder = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        holder.write_all(b"#!/bin/sh\n").unwrap();
        assert_eq!(next_of(&fifo), Next::None);
        let mut back = [0u8; 10];
        holder.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"#!/bin/sh\n");
        // A device is not opened either.
        assert_eq!(next_of(Path::new("/dev/null")), Next::None);
        // An ELF file whose program headers and PT_INTERP string lie past
        // the first page, read where they lie.
        let mut elf = vec![0u8; 3 * HEAD];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        let phoff = HEAD as u64 + 100;
        elf[32..40].copy_from_slice(&phoff.to_le_bytes());
        elf[54..56].copy_from_slice(&56u16.to_le_bytes());
        elf[56..58].copy_from_slice(&2u16.to_le_bytes());
        // The first entry is PT_LOAD, the second PT_INTERP.
        let ph = phoff as usize + 56;
        elf[phoff as usize] = 1;
        elf[ph] = 3;
        let at = 2 * HEAD as u64 + 7;
        elf[ph + 8..ph + 16].copy_from_slice(&at.to_le_bytes());
        elf[ph + 32..ph + 40].copy_from_slice(&12u64.to_le_bytes());
        elf[at as usize..at as usize + 12].copy_from_slice(b"/far/ld.so\0\0");
        std::fs::write(root.join("elf"), &elf).unwrap();
        assert_eq!(
            next_of(&root.join("elf")),
            Next::Loader(b"/far/ld.so".to_vec())
        );
        // Cut before the string: nothing.
        std::fs::write(root.join("cut"), &elf[..2 * HEAD]).unwrap();
        assert_eq!(next_of(&root.join("cut")), Next::None);
    }

    #[test]
    fn broken_elf_headers_name_nothing() {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        // phentsize 56, 1 entry at 64, which cannot be read.
        h[54] = 56;
        h[56] = 1;
        h[32] = 64;
        assert_eq!(elf_interp(&h, |_, _| None), None);
        assert_eq!(elf_interp(&h[..20], |_, _| None), None);
        let mut ph = vec![0u8; 56];
        ph[0] = 3;
        ph[8] = 200;
        ph[32] = 10;
        let read = |off: u64, len: usize| match off {
            64 => Some(ph.clone()),
            200 => Some(b"/x/ld.so\0\0"[..len].to_vec()),
            _ => None,
        };
        assert_eq!(elf_interp(&h, read), Some(b"/x/ld.so".to_vec()));
    }
}
