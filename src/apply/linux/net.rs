//! The filter arguments of a socket call: the socket's domain, type and
//! protocol (as Darwin numbers them, since compiled profiles carry Darwin
//! constants) and the address, decoded from the bytes the process passed.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Darwin's number for a Linux socket domain. AF_INET and AF_UNIX agree;
/// AF_INET6 is 30 on Darwin (10 on Linux); Linux's routing sockets
/// (AF_NETLINK, whose alias is AF_ROUTE) map to Darwin's AF_ROUTE. Other
/// domains have no Darwin counterpart: they get a number no Darwin constant
/// has, so a `(socket-domain ...)` filter never matches them.
pub fn darwin_domain(linux: i32) -> u16 {
    match linux {
        libc::AF_UNIX => 1,
        libc::AF_INET => 2,
        libc::AF_INET6 => 30,
        libc::AF_NETLINK => 17,
        _ => NO_DARWIN_DOMAIN,
    }
}

/// The domain number given for a socket Darwin has no domain for.
pub const NO_DARWIN_DOMAIN: u16 = 0xffff;

/// Socket types and IP protocol numbers are the same on both systems for
/// everything a profile can name (SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3,
/// SOCK_SEQPACKET 5; IANA protocol numbers).
pub fn darwin_type(linux: i32) -> u16 {
    u16::try_from(linux).unwrap_or(NO_DARWIN_DOMAIN)
}

/// A socket's domain, type and protocol, as Linux reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    pub domain: i32,
    pub ty: i32,
    pub protocol: i32,
}

impl Socket {
    /// The integer filter arguments (socket-domain, socket-type,
    /// socket-protocol) with Darwin's numbers.
    pub fn filter_args(&self) -> [(u8, u16); 3] {
        use crate::vocab::filter;
        [
            (filter::SOCKET_DOMAIN, darwin_domain(self.domain)),
            (filter::SOCKET_TYPE, darwin_type(self.ty)),
            (filter::SOCKET_PROTOCOL, darwin_type(self.protocol)),
        ]
    }
}

/// A decoded socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Inet(Ipv4Addr, u16),
    Inet6(Ipv6Addr, u16),
    /// A pathname Unix socket: the path as passed (maybe relative).
    Unix(Vec<u8>),
    /// An abstract Unix socket name (without the leading NUL).
    Abstract(Vec<u8>),
    /// AF_UNSPEC: connect's way of dissolving an association.
    Unspec,
    /// Too short for its family, or a family we do not decode.
    Other {
        family: u16,
    },
}

impl Address {
    /// Decodes `bytes` (a `struct sockaddr_*` of the length the call gave).
    pub fn parse(bytes: &[u8]) -> Address {
        let Some(family) = bytes.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])) else {
            return Address::Other { family: 0 };
        };
        let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
        match i32::from(family) {
            libc::AF_UNSPEC => Address::Unspec,
            libc::AF_INET if bytes.len() >= 8 => Address::Inet(
                Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]),
                port(bytes),
            ),
            libc::AF_INET6 if bytes.len() >= 24 => {
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&bytes[8..24]);
                Address::Inet6(Ipv6Addr::from(ip), port(bytes))
            }
            libc::AF_UNIX => {
                let path = &bytes[2..];
                match path.first() {
                    Some(0) => Address::Abstract(
                        path[1..].iter().copied().take_while(|&b| b != 0).collect(),
                    ),
                    _ => Address::Unix(path.iter().copied().take_while(|&b| b != 0).collect()),
                }
            }
            _ => Address::Other { family },
        }
    }
}

impl Address {
    /// The endpoint text a `local` / `remote` filter is evaluated against
    /// (`tcp:127.0.0.1:80`, `udp:[::1]:53`, see
    /// [`crate::blob::filters::Endpoint`]): the protocol from the socket,
    /// TCP or UDP by protocol number or, for protocol 0, by socket type.
    /// Unix and other families give `unix:...`, which no address filter
    /// matches (Unix sockets are matched by path).
    pub fn endpoint(&self, socket: &Socket) -> Vec<u8> {
        let proto = match (socket.protocol, socket.ty) {
            (libc::IPPROTO_TCP, _) | (0, libc::SOCK_STREAM) => "tcp",
            (libc::IPPROTO_UDP, _) | (0, libc::SOCK_DGRAM) => "udp",
            _ => "ip",
        };
        match self {
            Address::Inet(ip, port) => format!("{proto}:{ip}:{port}").into_bytes(),
            Address::Inet6(ip, port) => format!("{proto}:[{ip}]:{port}").into_bytes(),
            other => format!("unix:{other}").into_bytes(),
        }
    }
}

impl fmt::Display for Address {
    /// As Seatbelt's log shows addresses: `127.0.0.1:80`, `[::1]:80`, the
    /// path of a Unix socket.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(ip, port) => write!(f, "{ip}:{port}"),
            Address::Inet6(ip, port) => write!(f, "[{ip}]:{port}"),
            Address::Unix(p) => f.write_str(&String::from_utf8_lossy(p)),
            Address::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            Address::Unspec => f.write_str("unspec"),
            Address::Other { family } => write!(f, "family {family}"),
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::Socket;
    use std::os::fd::{AsRawFd, OwnedFd};

    fn sockopt(fd: &OwnedFd, name: i32) -> Result<i32, i32> {
        let mut v: i32 = 0;
        let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `v`.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&mut v as *mut i32).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            Err(super::super::notify::errno())
        } else {
            Ok(v)
        }
    }

    impl Socket {
        /// Reads a socket's domain, type and protocol (ENOTSOCK if `fd` is
        /// not a socket, as the kernel would answer the call).
        pub fn of(fd: &OwnedFd) -> Result<Socket, i32> {
            Ok(Socket {
                domain: sockopt(fd, libc::SO_DOMAIN)?,
                ty: sockopt(fd, libc::SO_TYPE)?,
                protocol: sockopt(fd, libc::SO_PROTOCOL)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&ip);
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn decodes_addresses_as_seatbelt_shows_them() {
        assert_eq!(
            Address::parse(&inet([127, 0, 0, 1], 80)).to_string(),
            "127.0.0.1:80"
        );
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend_from_slice(&443u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        assert_eq!(Address::parse(&v6).to_string(), "[::1]:443");
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(
            Address::parse(&unix),
            Address::Unix(b"/run/x.sock".to_vec())
        );
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name");
        assert_eq!(Address::parse(&abs).to_string(), "@name");
        assert_eq!(Address::parse(&[0, 0]), Address::Unspec);
        // Truncated: no crash, no guess.
        assert_eq!(
            Address::parse(&inet([1, 2, 3, 4], 5)[..6]),
            Address::Other {
                family: libc::AF_INET as u16
            }
        );
        assert_eq!(Address::parse(&[]), Address::Other { family: 0 });
    }

    #[test]
    fn endpoints_name_the_protocol_and_match_address_filters() {
        use crate::blob::filters::{Endpoint, NetAddress};
        let tcp = Socket {
            domain: libc::AF_INET,
            ty: libc::SOCK_STREAM,
            protocol: 0,
        };
        let udp6 = Socket {
            domain: libc::AF_INET6,
            ty: libc::SOCK_DGRAM,
            protocol: libc::IPPROTO_UDP,
        };
        let lo80 = Address::parse(&inet([127, 0, 0, 1], 80)).endpoint(&tcp);
        assert_eq!(lo80, b"tcp:127.0.0.1:80");
        let e = Endpoint::parse(&lo80).unwrap().unwrap();
        // (remote tcp "localhost:80"), (remote udp "*:*"), (remote ip4 "*:81")
        assert!(NetAddress {
            host: 0x107,
            port: 80
        }
        .matches(&e));
        assert!(!NetAddress { host: 0xb, port: 0 }.matches(&e));
        assert!(!NetAddress {
            host: 0x1,
            port: 81
        }
        .matches(&e));
        let far = Address::parse(&inet([10, 0, 0, 1], 80)).endpoint(&tcp);
        let far = Endpoint::parse(&far).unwrap().unwrap();
        assert!(!NetAddress {
            host: 0x107,
            port: 80
        }
        .matches(&far));
        assert!(NetAddress {
            host: 0x7,
            port: 80
        }
        .matches(&far));
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend_from_slice(&53u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        let text = Address::parse(&v6).endpoint(&udp6);
        assert_eq!(text, b"udp:[::1]:53");
        let e6 = Endpoint::parse(&text).unwrap().unwrap();
        // udp4 does not cover IPv6; udp6 and ip do.
        assert!(!NetAddress { host: 0x9, port: 0 }.matches(&e6));
        assert!(NetAddress {
            host: 0xa,
            port: 53
        }
        .matches(&e6));
        assert!(NetAddress {
            host: 0x103,
            port: 0
        }
        .matches(&e6));
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0");
        let text = Address::parse(&unix).endpoint(&tcp);
        assert_eq!(Endpoint::parse(&text), Ok(None));
    }

    #[test]
    fn domains_take_darwin_numbers() {
        assert_eq!(darwin_domain(libc::AF_INET), 2);
        assert_eq!(darwin_domain(libc::AF_INET6), 30);
        assert_eq!(darwin_domain(libc::AF_UNIX), 1);
        assert_eq!(darwin_domain(libc::AF_PACKET), NO_DARWIN_DOMAIN);
        let s = Socket {
            domain: libc::AF_INET6,
            ty: libc::SOCK_DGRAM,
            protocol: libc::IPPROTO_UDP,
        };
        assert_eq!(s.filter_args(), [(10, 30), (11, 2), (12, 17)]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_a_sockets_triple() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd: std::os::fd::OwnedFd = s.into();
        assert_eq!(
            Socket::of(&fd),
            Ok(Socket {
                domain: libc::AF_INET,
                ty: libc::SOCK_DGRAM,
                protocol: libc::IPPROTO_UDP
            })
        );
    }
}
