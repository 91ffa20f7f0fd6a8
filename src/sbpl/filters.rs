//! The SBPL filter forms this compiler knows, what their arguments compile
//! to, the symbolic constants they accept, and the `(with ...)` modifiers.
//!
//! Argument encodings: path patterns, integers in the node and the regex
//! table are [blob] (macOS 14.4.1 and iOS 17 blobs); the NUL-terminated
//! string item of `extension` is [blob] (iOS 17); `local` / `remote`
//! address items (u16 host kind, u16 port, no length prefix) are [reported]
//! by sandblaster and shown by no blob here.

use super::rules::PathKind;
use crate::blob::action;

/// What a filter form's argument compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A string compiled to a pattern item of the given shape.
    Pattern(PathKind),
    /// A regex literal: the filter byte gets bit 0x80, the argument indexes
    /// the regex table.
    Regex,
    /// A NUL-terminated string item.
    Str,
    /// An integer kept in the node, with the constants it accepts.
    Int(&'static [(&'static str, i64)]),
    /// `local` / `remote`: `(remote tcp "*:80")`.
    Network,
}

/// One SBPL filter form, e.g. `global-name-regex`.
#[derive(Debug, Clone, Copy)]
pub struct Form {
    /// The name written in SBPL.
    pub name: &'static str,
    /// The vocabulary filter it compiles to (the node's filter id).
    pub filter: &'static str,
    pub arg: ArgKind,
}

/// Darwin socket domains.
pub const SOCKET_DOMAINS: &[(&str, i64)] = &[
    ("AF_UNSPEC", 0),
    ("AF_UNIX", 1),
    ("AF_LOCAL", 1),
    ("AF_INET", 2),
    ("AF_ROUTE", 17),
    ("AF_LINK", 18),
    ("AF_NDRV", 27),
    ("AF_INET6", 30),
    ("AF_SYSTEM", 32),
    ("AF_MULTIPATH", 39),
];

pub const SOCKET_TYPES: &[(&str, i64)] = &[
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_RAW", 3),
    ("SOCK_RDM", 4),
    ("SOCK_SEQPACKET", 5),
];

pub const SOCKET_PROTOCOLS: &[(&str, i64)] = &[
    ("IPPROTO_IP", 0),
    ("IPPROTO_ICMP", 1),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
    ("IPPROTO_ICMPV6", 58),
    ("SYSPROTO_EVENT", 1),
    ("SYSPROTO_CONTROL", 2),
];

/// `(target ...)` and `(semaphore-owner ...)`: self is [blob] (the implicit
/// rules); the others are [reported] by sandblaster.
pub const TARGETS: &[(&str, i64)] = &[
    ("self", 1),
    ("pgrp", 2),
    ("others", 3),
    ("children", 4),
    ("same-sandbox", 5),
];

/// `(vnode-type ...)`: Darwin `enum vtype`; TTY is [reported] as 0xffff.
pub const VNODE_TYPES: &[(&str, i64)] = &[
    ("REGULAR-FILE", 1),
    ("DIRECTORY", 2),
    ("BLOCK-DEVICE", 3),
    ("CHARACTER-DEVICE", 4),
    ("SYMLINK", 5),
    ("SOCKET", 6),
    ("FIFO", 7),
    ("TTY", 0xffff),
];

/// Darwin signal numbers, for `(with send-signal ...)`.
pub const SIGNALS: &[(&str, i64)] = &[
    ("SIGHUP", 1),
    ("SIGINT", 2),
    ("SIGQUIT", 3),
    ("SIGILL", 4),
    ("SIGTRAP", 5),
    ("SIGABRT", 6),
    ("SIGKILL", 9),
    ("SIGBUS", 10),
    ("SIGSEGV", 11),
    ("SIGSYS", 12),
    ("SIGPIPE", 13),
    ("SIGALRM", 14),
    ("SIGTERM", 15),
    ("SIGSTOP", 17),
    ("SIGUSR1", 30),
    ("SIGUSR2", 31),
];

/// Darwin errno values, for `(with errno ...)`.
pub const ERRNOS: &[(&str, i64)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EIO", 5),
    ("EACCES", 13),
    ("EEXIST", 17),
    ("EINVAL", 22),
    ("ENOTSUP", 45),
    ("ENOSYS", 78),
];

const NO_CONSTANTS: &[(&str, i64)] = &[];

/// A string filter whose argument is a pattern item, with its `-prefix` and
/// `-regex` variants (`global-name`, `global-name-prefix`, `global-name-regex`).
macro_rules! name_filter {
    ($name:literal) => {
        [
            form($name, $name, ArgKind::Pattern(PathKind::Literal)),
            form(
                concat!($name, "-prefix"),
                $name,
                ArgKind::Pattern(PathKind::Prefix),
            ),
            form(concat!($name, "-regex"), $name, ArgKind::Regex),
        ]
    };
}

const fn form(name: &'static str, filter: &'static str, arg: ArgKind) -> Form {
    Form { name, filter, arg }
}

const PATH_FORMS: [Form; 16] = [
    form("literal", "path", ArgKind::Pattern(PathKind::Literal)),
    // `path` is the older spelling of `literal`.
    form("path", "path", ArgKind::Pattern(PathKind::Literal)),
    form("subpath", "path", ArgKind::Pattern(PathKind::Subpath)),
    form("prefix", "path", ArgKind::Pattern(PathKind::Prefix)),
    form("regex", "path", ArgKind::Regex),
    form("path-regex", "path", ArgKind::Regex),
    form("extension", "extension", ArgKind::Str),
    form("vnode-type", "vnode-type", ArgKind::Int(VNODE_TYPES)),
    form("file-mode", "file-mode", ArgKind::Int(NO_CONSTANTS)),
    form("target", "target", ArgKind::Int(TARGETS)),
    form("semaphore-owner", "semaphore-owner", ArgKind::Int(TARGETS)),
    form(
        "socket-domain",
        "socket-domain",
        ArgKind::Int(SOCKET_DOMAINS),
    ),
    form("socket-type", "socket-type", ArgKind::Int(SOCKET_TYPES)),
    form(
        "socket-protocol",
        "socket-protocol",
        ArgKind::Int(SOCKET_PROTOCOLS),
    ),
    form("local", "local", ArgKind::Network),
    form("remote", "remote", ArgKind::Network),
];

const NAME_FORMS: [[Form; 3]; 7] = [
    name_filter!("global-name"),
    name_filter!("local-name"),
    name_filter!("ipc-posix-name"),
    name_filter!("xattr"),
    name_filter!("control-name"),
    name_filter!("sysctl-name"),
    name_filter!("process-path"),
];

/// Every filter form.
pub fn forms() -> impl Iterator<Item = &'static Form> {
    PATH_FORMS.iter().chain(NAME_FORMS.iter().flatten())
}

pub fn find(name: &str) -> Option<&'static Form> {
    forms().find(|f| f.name == name)
}

/// Whether `name` is a symbolic constant of any filter or modifier, so that
/// it evaluates to itself.
pub fn is_constant(name: &str) -> bool {
    [
        SOCKET_DOMAINS,
        SOCKET_TYPES,
        SOCKET_PROTOCOLS,
        TARGETS,
        VNODE_TYPES,
        SIGNALS,
        ERRNOS,
    ]
    .iter()
    .any(|table| table.iter().any(|(n, _)| *n == name))
        || NETWORK_PROTOCOLS.iter().any(|(n, _)| *n == name)
}

pub fn constant(table: &[(&str, i64)], name: &str) -> Option<i64> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A `(with ...)` modifier: a flag in the action word, or an inline
/// modifier (id per docs/seatbelt-format.md) with an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithKind {
    /// Set these action-word bits.
    Flag(u32),
    /// Clear the report bit (a plain deny has it).
    NoReport,
    /// An inline modifier taking a number (from the table's constants).
    IntModifier(u8, &'static [(&'static str, i64)]),
    /// An inline modifier taking a string placed in the data area.
    StrModifier(u8),
}

pub const WITH_OPTIONS: &[(&str, WithKind)] = &[
    ("report", WithKind::Flag(action::REPORT)),
    ("no-report", WithKind::NoReport),
    ("grant", WithKind::Flag(action::GRANT)),
    ("no-sandbox", WithKind::Flag(action::NO_SANDBOX)),
    ("sip-override", WithKind::Flag(action::SIP_OVERRIDE)),
    ("no-times", WithKind::Flag(action::NO_TIMES)),
    ("authority", WithKind::Flag(action::AUTHORITY)),
    ("telemetry", WithKind::Flag(action::TELEMETRY)),
    (
        "no-approval-prompt",
        WithKind::Flag(action::NO_APPROVAL_PROMPT),
    ),
    ("no-storage-class", WithKind::Flag(action::NO_STORAGE_CLASS)),
    ("send-signal", WithKind::IntModifier(1, SIGNALS)),
    ("errno", WithKind::IntModifier(2, ERRNOS)),
    ("message", WithKind::StrModifier(10)),
    ("default-sandbox", WithKind::StrModifier(11)),
    ("assign-storage-class", WithKind::StrModifier(12)),
];

pub fn with_option(name: &str) -> Option<WithKind> {
    WITH_OPTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
}

/// `local` / `remote` protocols and the low bits of the address item's host
/// word ([reported] by sandblaster).
const NETWORK_PROTOCOLS: &[(&str, u16)] = &[
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

/// The host word for `protocol` and `host` (`*` or `localhost`).
pub fn network_host(protocol: &str, host: &str) -> Result<u16, String> {
    let Some(&(_, bits)) = NETWORK_PROTOCOLS.iter().find(|(n, _)| *n == protocol) else {
        let names: Vec<&str> = NETWORK_PROTOCOLS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown network protocol {protocol}; expected one of {}",
            names.join(", ")
        ));
    };
    match host {
        "*" => Ok(bits),
        "localhost" => Ok(0x100 | bits),
        other => Err(format!(
            "network host {other:?} is not supported; the address item encodes only * and localhost"
        )),
    }
}

/// `"HOST:PORT"` with `*` for any port.
pub fn network_address(text: &str) -> Result<(&str, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("network address {text:?} is not HOST:PORT"))?;
    let port = match port {
        "*" => 0,
        p => p
            .parse::<u16>()
            .map_err(|_| format!("port {p:?} is not a number from 0 to 65535 or *"))?,
    };
    Ok((host, port))
}

/// The closest of `names` to `word`, for "did you mean" hints: edit distance
/// at most half the longer length.
pub fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .map(|n| (edit_distance(word, n), n))
        .filter(|(d, n)| *d <= n.len().max(word.len()) / 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;

    #[test]
    fn every_form_names_a_vocabulary_filter() {
        let v = Vocab::macos_14();
        for f in forms() {
            assert!(v.filter_id(f.filter).is_some(), "{}", f.name);
        }
        assert!(find("global-name-regex").is_some());
        assert!(find("sysctl-name-prefix").is_some());
    }

    #[test]
    fn network_words() {
        assert_eq!(network_host("tcp", "*"), Ok(7));
        assert_eq!(network_host("udp4", "localhost"), Ok(0x109));
        assert!(network_host("tcp", "10.0.0.1").is_err());
        assert!(network_host("sctp", "*").unwrap_err().contains("tcp4"));
        assert_eq!(network_address("*:80"), Ok(("*", 80)));
        assert_eq!(network_address("localhost:*"), Ok(("localhost", 0)));
        assert!(network_address("localhost").is_err());
        assert!(network_address("*:99999").is_err());
    }

    #[test]
    fn suggestions() {
        let names = forms().map(|f| f.name);
        assert_eq!(closest("subpth", names), Some("subpath"));
        assert_eq!(closest("zzzzzzzzzzzz", ["literal"]), None);
    }
}
