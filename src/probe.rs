//! Probes: the one system call a cell exercises, prepared in the parent and
//! run in the sandboxed child. The outcome is the errno observed (0 = the
//! call succeeded).

use crate::apply::sys;
use crate::vocab::{filter, OpId, Vocab};
use std::ffi::CString;
use std::fmt;
use std::net::SocketAddrV4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// open O_RDONLY, read one byte: file-read-data.
    Read,
    /// stat: file-read-metadata.
    Stat,
    /// open O_WRONLY|O_CREAT, write one byte: file-write-data.
    Write,
    /// open O_WRONLY|O_CREAT|O_EXCL of a missing file: file-write-create.
    Create,
    /// unlink of an existing file: file-write-unlink.
    Unlink,
    /// chmod of an existing file to the mode it has (so an allowed probe
    /// changes nothing): file-write-mode.
    Chmod,
    /// execve: process-exec*.
    Exec,
    /// connect (TCP) or sendto (UDP) to the harness's loopback listener:
    /// network-outbound.
    Connect { udp: bool },
    /// bind to a loopback port: network-bind.
    Bind,
    /// sysctl read: no Linux counterpart.
    Sysctl,
    /// mach-lookup of a service: no Linux counterpart.
    MachLookup,
}

impl Kind {
    /// The probe for an operation as the matrix names it.
    pub fn for_operation(operation: &str, target: &str) -> Option<Kind> {
        Some(match operation {
            "file-read*" | "file-read-data" => Kind::Read,
            "file-read-metadata" => Kind::Stat,
            "file-write*" | "file-write-data" => Kind::Write,
            "file-write-create" => Kind::Create,
            "file-write-unlink" => Kind::Unlink,
            "file-write-mode" => Kind::Chmod,
            "process-exec*" | "process-exec" => Kind::Exec,
            "network-outbound" => Kind::Connect {
                udp: target.starts_with("udp"),
            },
            "network-bind" => Kind::Bind,
            "sysctl-read" => Kind::Sysctl,
            "mach-lookup" => Kind::MachLookup,
            _ => return None,
        })
    }

    /// The concrete operation the probe's syscall exercises: what the
    /// decoder is asked about.
    pub fn operation(self) -> &'static str {
        match self {
            Kind::Read => "file-read-data",
            Kind::Stat => "file-read-metadata",
            Kind::Write => "file-write-data",
            Kind::Create => "file-write-create",
            Kind::Unlink => "file-write-unlink",
            Kind::Chmod => "file-write-mode",
            Kind::Exec => "process-exec*",
            Kind::Connect { .. } => "network-outbound",
            Kind::Bind => "network-bind",
            Kind::Sysctl => "sysctl-read",
            Kind::MachLookup => "mach-lookup",
        }
    }

    /// Why the probe cannot run on this platform, if it cannot.
    pub fn skip_reason(self) -> Option<&'static str> {
        crate::matrix::skip_on_this_platform(self.operation())
    }

    /// The probe leaves no result of its own when it succeeds (exec
    /// replaces the process image).
    pub fn replaces_process(self) -> bool {
        self == Kind::Exec
    }
}

/// A probe ready to run after `fork()`: everything allocated up front.
#[derive(Debug)]
pub struct Probe {
    pub kind: Kind,
    pub target: String,
    path: CString,
    /// The loopback address a network probe talks to.
    addr: libc::sockaddr_in,
    /// Bytes the write probe writes: one into files the harness owns, none
    /// into anything else (a system file must not be changed when a profile
    /// wrongly allows the write; the check happens at open anyway).
    write_len: usize,
    /// The mode the chmod probe sets: the target's own, read when the probe
    /// is made.
    mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError(pub String);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

/// Darwin's socket constants, as compiled profiles carry them.
const DARWIN_AF_INET: u16 = 2;
const DARWIN_SOCK_STREAM: u16 = 1;
const DARWIN_SOCK_DGRAM: u16 = 2;
const IPPROTO_TCP: u16 = 6;
const IPPROTO_UDP: u16 = 17;

impl Probe {
    /// The probe for a matrix cell. `owned` says the harness created the
    /// target; `peer` is the loopback listener for network probes.
    pub fn new(
        operation: &str,
        target: &str,
        owned: bool,
        peer: Option<SocketAddrV4>,
    ) -> Result<Probe, ProbeError> {
        let kind = Kind::for_operation(operation, target)
            .ok_or_else(|| ProbeError(format!("no probe for operation {operation}")))?;
        let path = CString::new(target)
            .map_err(|_| ProbeError(format!("target {target:?} contains NUL")))?;
        let addr = match (kind, peer) {
            (Kind::Connect { .. }, Some(peer)) => sockaddr(peer),
            (Kind::Connect { .. }, None) => {
                return Err(ProbeError("network probe without a listener".into()))
            }
            // Port 0: the kernel picks a free port, so bind probes never collide.
            _ => sockaddr(SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0)),
        };
        let mode = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(target).map_or(0o644, |m| m.mode() & 0o7777)
        };
        Ok(Probe {
            kind,
            target: target.to_owned(),
            path,
            addr,
            write_len: usize::from(owned),
            mode,
        })
    }

    /// The concrete operation id the probe exercises, in `vocab`'s
    /// numbering (iOS 26 numbers file operations one higher than macOS
    /// 14); past the op table when the vocabulary lacks the name, so the
    /// decision is undetermined rather than about another operation.
    pub fn operation(&self, vocab: &Vocab) -> OpId {
        vocab.op_id(self.kind.operation()).unwrap_or(OpId::MAX)
    }

    /// Integer filter arguments a decision needs (Darwin values).
    pub fn int_args(&self) -> Vec<(u8, u16)> {
        let socket = |ty, proto| {
            vec![
                (filter::SOCKET_DOMAIN, DARWIN_AF_INET),
                (filter::SOCKET_TYPE, ty),
                (filter::SOCKET_PROTOCOL, proto),
            ]
        };
        match self.kind {
            Kind::Connect { udp: true } => socket(DARWIN_SOCK_DGRAM, IPPROTO_UDP),
            Kind::Connect { udp: false } | Kind::Bind => socket(DARWIN_SOCK_STREAM, IPPROTO_TCP),
            _ => self
                .vnode_type()
                .map(|t| (filter::VNODE_TYPE, t))
                .into_iter()
                .collect(),
        }
    }

    /// The Darwin vnode type of the file the probe's syscall acts on, as the
    /// engine will see it when the probe runs: a create probe's target is a
    /// regular file the harness removes just before; an unlink probe's is a
    /// symlink fixture if it is one now (unlink does not follow it), else a
    /// regular file the harness makes just before; the others follow
    /// symlinks to an existing file. `None` for a missing file (the probe
    /// fails ENOENT).
    pub fn vnode_type(&self) -> Option<u16> {
        const VREG: u16 = 1;
        const VLNK: u16 = 5;
        let path = std::path::Path::new(&self.target);
        let existing = || {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path)
                .ok()
                .and_then(|m| crate::apply::darwin::vtype(m.mode()))
        };
        match self.kind {
            Kind::Create => Some(VREG),
            Kind::Unlink if path.is_symlink() => Some(VLNK),
            Kind::Unlink => Some(VREG),
            Kind::Write => existing().or(Some(VREG)),
            Kind::Read | Kind::Stat | Kind::Exec | Kind::Chmod => existing(),
            _ => None,
        }
    }

    /// String filter arguments a decision needs.
    pub fn string_args(&self) -> Vec<(u8, Vec<u8>)> {
        match self.kind {
            // A plain socket has no kernel-control name: the compiler's
            // flow-divert check must not match.
            // The socket's end the call names: the listener for connect /
            // sendto (remote), the loopback address for bind (local), as
            // the engine gives them (`tcp:127.0.0.1:PORT`).
            Kind::Connect { udp } => vec![
                (filter::CONTROL_NAME, Vec::new()),
                (
                    filter::REMOTE,
                    self.endpoint(if udp { "udp" } else { "tcp" }),
                ),
            ],
            Kind::Bind => vec![
                (filter::CONTROL_NAME, Vec::new()),
                (filter::LOCAL, self.endpoint("tcp")),
            ],
            Kind::MachLookup => vec![(filter::GLOBAL_NAME, self.target.as_bytes().to_vec())],
            Kind::Sysctl => vec![(filter::SYSCTL_NAME, self.target.as_bytes().to_vec())],
            _ => Vec::new(),
        }
    }

    /// `PROTO:IP:PORT` of the probe's socket address.
    fn endpoint(&self, proto: &str) -> Vec<u8> {
        let ip = std::net::Ipv4Addr::from(u32::from_be(self.addr.sin_addr.s_addr));
        let port = u16::from_be(self.addr.sin_port);
        format!("{proto}:{ip}:{port}").into_bytes()
    }

    /// The path argument of a decision, if the operation takes one.
    pub fn path_arg(&self) -> Option<&str> {
        match self.kind {
            Kind::Read
            | Kind::Stat
            | Kind::Write
            | Kind::Create
            | Kind::Unlink
            | Kind::Chmod
            | Kind::Exec => Some(&self.target),
            // An IP socket names no path: an empty one, which no path
            // filter matches, as the engine gives it (a Unix socket's
            // path filters are then decided, not left undetermined).
            Kind::Connect { .. } | Kind::Bind => Some(""),
            _ => None,
        }
    }

    /// Runs the probe; returns 0 or the errno. Runs in the forked child:
    /// raw syscalls only.
    pub fn run(&self) -> i32 {
        let outcome = match self.kind {
            Kind::Read => self.read(),
            Kind::Stat => sys::stat(&self.path),
            Kind::Write => self.write(libc::O_WRONLY | libc::O_CREAT),
            Kind::Create => self.write(libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL),
            Kind::Unlink => sys::unlink(&self.path),
            Kind::Chmod => sys::chmod(&self.path, self.mode),
            Kind::Exec => {
                // On the stack: no allocation after fork.
                let argv = [self.path.as_ptr(), std::ptr::null()];
                Err(sys::execve(&self.path, &argv, &[std::ptr::null()]))
            }
            Kind::Connect { udp } => self.connect(udp),
            Kind::Bind => self.bind(),
            // Never run: skipped before forking.
            Kind::Sysctl | Kind::MachLookup => Err(libc::ENOSYS),
        };
        outcome.err().unwrap_or(0)
    }

    fn read(&self) -> Result<(), i32> {
        let fd = sys::open(&self.path, libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
        let mut byte = [0u8; 1];
        let r = sys::read(fd, &mut byte);
        sys::close(fd);
        r.map(drop)
    }

    fn write(&self, flags: i32) -> Result<(), i32> {
        let fd = sys::open(&self.path, flags | libc::O_CLOEXEC, 0o644)?;
        let r = sys::write(fd, b"x".get(..self.write_len).unwrap_or_default());
        sys::close(fd);
        r.map(drop)
    }

    fn connect(&self, udp: bool) -> Result<(), i32> {
        let ty = if udp {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_STREAM
        };
        let fd = sys::socket(libc::AF_INET, ty)?;
        let r = if udp {
            sys::sendto(fd, b"x", &self.addr).map(drop)
        } else {
            sys::connect(fd, &self.addr)
        };
        sys::close(fd);
        r
    }

    fn bind(&self) -> Result<(), i32> {
        let fd = sys::socket(libc::AF_INET, libc::SOCK_STREAM)?;
        let r = sys::bind(fd, &self.addr);
        sys::close(fd);
        r
    }
}

/// The loopback listener a network target (`tcp:...`, `udp:...`) talks to,
/// started once per process; `None` for other targets.
pub fn loopback_peer(target: &str) -> std::io::Result<Option<SocketAddrV4>> {
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
    use std::sync::OnceLock;
    static TCP: OnceLock<Result<SocketAddr, String>> = OnceLock::new();
    static UDP: OnceLock<Result<SocketAddr, String>> = OnceLock::new();
    let any = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    let addr = if target.starts_with("tcp") {
        TCP.get_or_init(|| {
            let listener = TcpListener::bind(any).map_err(|e| e.to_string())?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            // Accept and drop, so the backlog never fills on long runs.
            std::thread::spawn(move || listener.incoming().for_each(drop));
            Ok(addr)
        })
    } else if target.starts_with("udp") {
        UDP.get_or_init(|| {
            let socket = UdpSocket::bind(any).map_err(|e| e.to_string())?;
            let addr = socket.local_addr().map_err(|e| e.to_string())?;
            // Drain datagrams so the receive buffer never fills.
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while socket.recv(&mut buf).is_ok() {}
            });
            Ok(addr)
        })
    } else {
        return Ok(None);
    };
    match addr {
        Ok(SocketAddr::V4(a)) => Ok(Some(*a)),
        Ok(other) => Err(std::io::Error::other(format!(
            "listener on {other} is not IPv4"
        ))),
        Err(e) => Err(std::io::Error::other(format!(
            "starting the loopback listener: {e}"
        ))),
    }
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_probe_kinds() {
        let k = |op, t| Kind::for_operation(op, t);
        assert_eq!(k("file-read*", "/x"), Some(Kind::Read));
        assert_eq!(
            k("network-outbound", "udp:127.0.0.1"),
            Some(Kind::Connect { udp: true })
        );
        assert_eq!(
            k("network-outbound", "tcp:127.0.0.1"),
            Some(Kind::Connect { udp: false })
        );
        assert_eq!(k("file-write-mode", "/x"), Some(Kind::Chmod));
        assert_eq!(k("iokit-open", "x"), None);
        for kind in [
            Kind::Read,
            Kind::Stat,
            Kind::Write,
            Kind::Create,
            Kind::Unlink,
            Kind::Chmod,
            Kind::Exec,
            Kind::Bind,
        ] {
            assert!(
                Vocab::macos_14().op_id(kind.operation()).is_some(),
                "{kind:?}"
            );
        }
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn mach_and_sysctl_are_skipped_on_linux() {
        assert!(Kind::MachLookup
            .skip_reason()
            .unwrap()
            .contains("no meaning on Linux"));
        assert!(Kind::Sysctl.skip_reason().is_some());
        assert_eq!(Kind::Read.skip_reason(), None);
    }

    /// The chmod probe sets the mode the file has: an allowed probe leaves
    /// the fixture as it was.
    #[test]
    fn chmod_probe_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let p = Probe::new("file-write-mode", f.to_str().unwrap(), true, None).unwrap();
        assert_eq!(p.run(), 0);
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        let missing = dir.path().join("missing");
        let p = Probe::new("file-write-mode", missing.to_str().unwrap(), false, None).unwrap();
        assert_eq!(p.run(), libc::ENOENT);
    }

    /// The vnode type each probe's check will see: created and unlinked
    /// scratch files are regular, a symlink is unlinked as itself, reads
    /// follow to the file.
    #[test]
    fn vnode_types_are_what_the_engine_will_see() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/", &link).unwrap();
        let link = link.to_str().unwrap();
        let vt = |op, t: &str| Probe::new(op, t, false, None).unwrap().vnode_type();
        assert_eq!(vt("file-write-create", "/nonexistent/x"), Some(1));
        assert_eq!(vt("file-write-unlink", "/nonexistent/x"), Some(1));
        assert_eq!(vt("file-write-unlink", link), Some(5));
        assert_eq!(vt("file-read-metadata", link), Some(2));
        assert_eq!(vt("file-read*", "/dev/null"), Some(4));
        assert_eq!(vt("file-read*", "/nonexistent/x"), None);
        assert_eq!(vt("file-write-mode", link), Some(2));
        let p = Probe::new("file-read-metadata", "/", false, None).unwrap();
        assert_eq!(p.int_args(), vec![(filter::VNODE_TYPE, 2)]);
    }

    #[test]
    fn exec_of_a_missing_program_reports_its_errno() {
        // execve fails before replacing anything, so this runs in-process.
        let p = Probe::new("process-exec*", "/nonexistent/sbcheck-probe", false, None).unwrap();
        assert_eq!(p.run(), libc::ENOENT);
    }
}
