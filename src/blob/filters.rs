//! What a filter node's 16-bit argument means, by filter name.
//!
//! The argument is one of: a path-pattern item in the data area (bytecode,
//! see [`super::pattern`]), a NUL-terminated string item, or an inline
//! integer. Bit 0x80 of the node's filter byte turns a pattern or string
//! filter into its regex variant (the argument indexes the regex table) and an
//! integer filter into its mask variant (the argument names a bitmap item).
//! The classification was checked on the iOS 17 and iOS 26 platform profiles:
//! every argument of every filter byte they use validates as the kind below.

use super::pattern::Program;
use super::regex::Regex;

/// The kind of a filter's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A path-pattern bytecode item.
    Pattern,
    /// A NUL-terminated string item.
    String,
    /// The argument itself.
    Int,
}

/// A filter's kind by its name; `None` for a name whose kind is not known
/// (such a node is shown with its raw argument and is never evaluated).
pub fn arg_kind(name: &str) -> Option<ArgKind> {
    const PATTERN: &[&str] = &[
        "path",
        "mount-relative-path",
        "xattr",
        "ipc-posix-name",
        "global-name",
        "local-name",
        "control-name",
        "iokit-registry-entry-class",
        "iokit-property",
        "iokit-connection",
        "extension-class",
        "appleevent-destination",
        "right-name",
        "preference-domain",
        "%entitlement-string",
        "kext-bundle-id",
        "notification-name",
        "sysctl-name",
        "process-path",
        "nvram-variable",
        "filesystem-name",
        "boot-arg",
        "xpc-service-name",
        "signing-identifier",
        "target-signing-identifier",
        "ancestor-signing-identifier",
        "snapshot-name",
        "mac-policy-name",
        "fileprovider-syncroot-path",
        "mount-root-path",
        "info-type",
    ];
    const STRING: &[&str] = &[
        "device-conforms-to",
        "extension",
        "%entitlement-load",
        "storage-class",
        "require-ancestor-with-entitlement",
        "require-target-with-entitlement",
        "require-responsible-binary-with-entitlement",
        "%entitlement-is-bool-true",
        "%entitlement-is-present",
        "state-flag",
        "user-intent-extension",
    ];
    const INT: &[&str] = &[
        "file-mode",
        "socket-domain",
        "socket-type",
        "socket-protocol",
        "target",
        "semaphore-owner",
        "fsctl-command",
        "ioctl-command",
        "device-major",
        "device-minor",
        "system-attribute",
        "vnode-type",
        "%entitlement-boolean",
        "notification-payload",
        "rootless-boot-device-filter",
        "rootless-disk-filter",
        "privilege-id",
        "process-attribute",
        "uid",
        "csr",
        "host-special-port",
        "signal-number",
        "reboot-flags",
        "datavault-disk-filter",
        "extension-path-ancestor",
        "file-attribute",
        "storage-class-extension",
        "iokit-usb-interface-class",
        "iokit-usb-interface-subclass",
        "persona-type",
        "syscall-number",
        "iokit-registry-entry-attribute",
        "mach-derived-port-role",
        "message-number",
        "iokit-method-number",
        "iokit-trap-number",
        "machtrap-number",
        "kernel-mig-routine",
        "iokit-user-client-type",
        "fcntl-command",
        "socket-option-level",
        "socket-option-name",
        "mac-syscall-number",
        "necp-client-action",
        "memorystatus-control-command",
        "task-special-port",
        "codesigning-operation",
        "kas-info-selector",
    ];
    if PATTERN.contains(&name) {
        Some(ArgKind::Pattern)
    } else if STRING.contains(&name) {
        Some(ArgKind::String)
    } else if INT.contains(&name) {
        Some(ArgKind::Int)
    } else {
        None
    }
}

/// The kind of every filter id of a vocabulary (ids are 7 bits), built once
/// per release so decoding does not compare names per node.
pub fn kind_table(v: &'static crate::vocab::Vocab) -> &'static [Option<ArgKind>; 128] {
    use std::sync::OnceLock;
    static TABLES: [OnceLock<[Option<ArgKind>; 128]>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = match v.release {
        "macos-14.4.1" => 0,
        "ios-26-partial" => 1,
        "macos-10.6-partial" => 2,
        _ => 3,
    };
    TABLES[slot]
        .get_or_init(|| std::array::from_fn(|id| v.filter_name(id as u8).and_then(arg_kind)))
}

/// A node's decoded argument. Indices point into the profile's item lists,
/// where each distinct data item is decoded once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterArg {
    /// A terminal node.
    None,
    Int(u16),
    /// Index into `Profile::patterns`.
    Pattern(u32),
    /// Index into `Profile::strings`.
    Str(u32),
    /// Index into `Profile::regexes`.
    Regex(u16),
    /// Index into `Profile::bitmaps`.
    Bitmap(u32),
    /// A filter whose argument kind this release's vocabulary does not know:
    /// the raw argument, shown but never evaluated.
    Unknown(u16),
}

/// A pattern item and its decoded program.
#[derive(Debug, Clone)]
pub struct PatternItem {
    /// The item's data reference (offset / 8 from the data base).
    pub item: u16,
    pub program: Program,
}

/// A string item (without its NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringItem {
    pub item: u16,
    pub bytes: Vec<u8>,
}

/// A bitmap item of a mask filter: `u16 word0, u16 nbytes, bits`; bit n is
/// byte n / 8, least significant bit first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub item: u16,
    /// The first word (1 in every blob seen; meaning unknown).
    pub word0: u16,
    pub bits: Vec<u8>,
}

impl Bitmap {
    pub fn contains(&self, value: u16) -> bool {
        let v = usize::from(value);
        self.bits.get(v / 8).is_some_and(|b| b >> (v % 8) & 1 == 1)
    }

    /// The set values as inclusive ranges, ascending.
    pub fn ranges(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for v in 0..(self.bits.len() * 8) as u32 {
            if !self.contains(v as u16) {
                continue;
            }
            match out.last_mut() {
                Some((_, hi)) if *hi + 1 == v => *hi = v,
                _ => out.push((v, v)),
            }
        }
        out
    }
}

/// A table entry naming a data item: a global variable or a state flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedItem {
    pub item: u16,
    pub name: String,
}

/// A regex-table entry.
#[derive(Debug, Clone)]
pub struct RegexEntry {
    /// The data reference (modern) or byte offset / 8 (10.6) of the item.
    pub item: u16,
    pub regex: Regex,
}

/// The argument of a `local` / `remote` node: an address item of a u16
/// host word (low nibble: 1 IPv4, 2 IPv6, 4 TCP only, 8 UDP only; 0x100
/// localhost only) and a u16 port (0 any), no length prefix. [reported] by
/// sandblaster, shown by no blob here: the compiler writes it this way and
/// the decoder and evaluator read it this way [model].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetAddress {
    pub host: u16,
    pub port: u16,
}

/// The protocol names of the host word's low nibble, as SBPL writes them.
pub const NET_PROTOCOLS: &[(&str, u16)] = &[
    ("ip4", 1),
    ("ip6", 2),
    ("ip", 3),
    ("tcp4", 5),
    ("tcp6", 6),
    ("tcp", 7),
    ("udp4", 9),
    ("udp6", 0xa),
    ("udp", 0xb),
];

/// The host word's localhost bit.
pub const NET_LOCALHOST: u16 = 0x100;

impl NetAddress {
    /// The item at `data_base + arg * 8` of `blob`, if it lies inside it.
    pub fn read(blob: &[u8], data_base: usize, arg: u16) -> Option<NetAddress> {
        let at = data_base.checked_add(8 * usize::from(arg))?;
        let b = blob.get(at..at.checked_add(4)?)?;
        Some(NetAddress {
            host: u16::from_le_bytes([b[0], b[1]]),
            port: u16::from_le_bytes([b[2], b[3]]),
        })
    }

    /// `(remote tcp "*:80")`, or the raw words when the host word names no
    /// protocol SBPL can write.
    pub fn sbpl(&self, filter: &str) -> String {
        let proto = NET_PROTOCOLS
            .iter()
            .find(|(_, bits)| *bits == self.host & 0xf)
            .map(|(n, _)| *n);
        let host = match self.host & !0xf {
            0 => Some("*"),
            NET_LOCALHOST => Some("localhost"),
            _ => None,
        };
        let port = match self.port {
            0 => "*".to_owned(),
            p => p.to_string(),
        };
        match (proto, host) {
            (Some(proto), Some(host)) => format!("({filter} {proto} \"{host}:{port}\")"),
            _ => format!("({filter} (address #x{:04x} {}))", self.host, self.port),
        }
    }

    /// Whether a socket endpoint matches this address filter.
    pub fn matches(&self, e: &Endpoint) -> bool {
        let family = if e.v6 { 2 } else { 1 };
        let proto_ok = match self.host & 0xc {
            4 => e.proto == NetProto::Tcp,
            8 => e.proto == NetProto::Udp,
            _ => true,
        };
        self.host & family != 0
            && proto_ok
            && (self.host & NET_LOCALHOST == 0 || e.loopback)
            && (self.port == 0 || self.port == e.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetProto {
    Tcp,
    Udp,
    /// Any other protocol (raw IP, ICMP): matches only `ip` filters.
    Other,
}

/// One end of an IP socket as a query gives it: `tcp:127.0.0.1:80`,
/// `udp:[::1]:53`, `tcp:localhost:8080`, `ip:10.0.0.1:0`. `unix:PATH` (or
/// any other family) is an endpoint no address filter matches: Unix
/// sockets are matched by path filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub v6: bool,
    pub proto: NetProto,
    pub loopback: bool,
    pub port: u16,
}

impl Endpoint {
    /// Parses the text form; `Ok(None)` for a non-IP endpoint (`unix:...`).
    pub fn parse(text: &[u8]) -> Result<Option<Endpoint>, String> {
        let text = std::str::from_utf8(text).map_err(|_| "address is not UTF-8".to_owned())?;
        let (proto, rest) = text.split_once(':').ok_or_else(|| {
            format!("address {text:?} is not PROTO:HOST:PORT (e.g. tcp:127.0.0.1:80)")
        })?;
        let proto = match proto {
            "tcp" => NetProto::Tcp,
            "udp" => NetProto::Udp,
            "ip" => NetProto::Other,
            "unix" => return Ok(None),
            other => {
                return Err(format!(
                    "address protocol {other:?} is not tcp, udp, ip or unix"
                ))
            }
        };
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("address {text:?} has no :PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (v6, loopback) = if host == "localhost" {
            (false, true)
        } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            (false, ip.is_loopback())
        } else if let Ok(ip) = host.parse::<std::net::Ipv6Addr>() {
            let v4_loopback = ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
            (true, ip.is_loopback() || v4_loopback)
        } else {
            return Err(format!("host {host:?} is not an IP address or localhost"));
        };
        Ok(Some(Endpoint {
            v6,
            proto,
            loopback,
            port,
        }))
    }
}

/// The bytes of a NUL-terminated item, up to the first NUL, as text.
pub fn c_string(item: &[u8]) -> &str {
    let end = item.iter().position(|&b| b == 0).unwrap_or(item.len());
    std::str::from_utf8(&item[..end]).unwrap_or("<not UTF-8>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;

    #[test]
    fn every_macos_14_filter_has_a_kind_but_the_unrecovered_ones() {
        let v = Vocab::macos_14();
        let unknown: Vec<&str> = v
            .filters
            .iter()
            .copied()
            .filter(|f| arg_kind(f).is_none())
            .collect();
        // Network addresses and mach message names: their argument layout
        // has not been recovered, so they are shown raw, never evaluated.
        assert_eq!(unknown, ["local", "remote", "message-name"]);
    }

    #[test]
    fn addresses_render_and_match_endpoints() {
        let a = |host, port| NetAddress { host, port };
        assert_eq!(a(7, 443).sbpl("remote"), "(remote tcp \"*:443\")");
        assert_eq!(a(0x103, 0).sbpl("local"), "(local ip \"localhost:*\")");
        assert_eq!(a(0x200, 1).sbpl("local"), "(local (address #x0200 1))");
        let e = |t: &str| Endpoint::parse(t.as_bytes());
        assert_eq!(
            e("udp:::1:53"),
            Ok(Some(Endpoint {
                v6: true,
                proto: NetProto::Udp,
                loopback: true,
                port: 53
            }))
        );
        assert!(e("tcp:[::ffff:127.0.0.1]:1").unwrap().unwrap().loopback);
        assert!(e("tcp:localhost:1").unwrap().unwrap().loopback);
        assert_eq!(e("unix:/x"), Ok(None));
        assert!(e("tcp:example.com:80")
            .unwrap_err()
            .contains("not an IP address"));
        assert!(e("tcp:1.2.3.4:99999").unwrap_err().contains("port"));
        assert!(e("sctp:1.2.3.4:1").is_err() && e("1.2.3.4").is_err());
        // A raw-IP endpoint matches ip filters only.
        let raw = e("ip:10.0.0.1:0").unwrap().unwrap();
        assert!(a(3, 0).matches(&raw) && !a(7, 0).matches(&raw) && !a(0xb, 0).matches(&raw));
        // Read from a blob: inside only.
        let blob = [0u8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0x50, 0];
        assert_eq!(NetAddress::read(&blob, 0, 1), Some(a(7, 80)));
        assert_eq!(NetAddress::read(&blob, 4, 1), None);
        assert_eq!(NetAddress::read(&blob, usize::MAX, 1), None);
    }

    #[test]
    fn bitmap_bits_are_lsb_first() {
        let b = Bitmap {
            item: 0,
            word0: 1,
            bits: vec![0b0000_0010, 0b0010_0000],
        };
        assert!(b.contains(1) && b.contains(13));
        assert!(!b.contains(0) && !b.contains(12) && !b.contains(16));
        assert_eq!(b.ranges(), [(1, 1), (13, 13)]);
    }
}
