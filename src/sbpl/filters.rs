//! The SBPL filter forms this compiler knows, what their arguments compile
//! to, the symbolic constants they accept, and the `(with ...)` modifiers.
//!
//! The forms are derived from the vocabulary, not listed by hand: every
//! filter of macOS 14.4.1 gets the forms its argument kind allows (the kind
//! the decoder reads it with, [`crate::blob::filters::arg_kind`], so the
//! compiler and the decoder cannot disagree on an encoding):
//!
//! - a pattern filter `F` (path, global-name, xpc-service-name, ...): `(F
//!   "s")` literal, `(F-prefix "s")`, `(F-regex #"re")`, and the decoder's
//!   nested spelling `(F (prefix "s"))` / `(F (subpath "s"))` / `(F (regex
//!   #"re"))`;
//! - a string filter `F` (extension, %entitlement-is-present, ...): `(F "s")`,
//!   a NUL-terminated item, and `(F-regex #"re")`;
//! - an integer filter `F`: `(F N)` or `(F SYMBOL)` with the symbols of
//!   [`crate::vocab::filter_constants`]; booleans (`#t`/`#f`) are 1/0;
//! - `local` / `remote`: `(remote tcp "*:80")`, see [`network_host`].
//!
//! Then the aliases Apple's SBPL library defines (`literal` = `path`,
//! `regex` = `path-regex`, `iokit-user-client-class` =
//! `iokit-registry-entry-class`, `from` / `to`, ...).
//!
//! Argument encodings: path patterns, integers in the node and the regex
//! table are [blob] (macOS 14.4.1 and iOS 17 blobs); the NUL-terminated
//! string item is [blob] (iOS 17); `local` / `remote` address items (u16
//! host kind, u16 port, no length prefix) are [reported] by sandblaster and
//! shown by no blob here. docs/compiler.md has the table per filter.

use super::rules::PathKind;
use crate::blob::action;
use crate::blob::filters::{arg_kind, ArgKind as BlobKind};
use crate::vocab::{filter_constants, Vocab};
use std::collections::HashMap;
use std::sync::OnceLock;

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

/// Darwin signal numbers, for `(with send-signal ...)`.
pub fn signals() -> &'static [(&'static str, i64)] {
    filter_constants("signal-number")
}

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

const fn form(name: &'static str, filter: &'static str, arg: ArgKind) -> Form {
    Form { name, filter, arg }
}

/// Forms that are not `F`, `F-prefix`, `F-regex` of a vocabulary filter:
/// the path shapes and the aliases of Apple's SBPL library.
const ALIASES: [Form; 17] = [
    form("literal", "path", ArgKind::Pattern(PathKind::Literal)),
    form("path-literal", "path", ArgKind::Pattern(PathKind::Literal)),
    form("subpath", "path", ArgKind::Pattern(PathKind::Subpath)),
    form("prefix", "path", ArgKind::Pattern(PathKind::Prefix)),
    form("regex", "path", ArgKind::Regex),
    form(
        "mount-relative-literal",
        "mount-relative-path",
        ArgKind::Pattern(PathKind::Literal),
    ),
    form(
        "mount-relative-subpath",
        "mount-relative-path",
        ArgKind::Pattern(PathKind::Subpath),
    ),
    form(
        "mount-relative-regex",
        "mount-relative-path",
        ArgKind::Regex,
    ),
    form(
        "iokit-user-client-class",
        "iokit-registry-entry-class",
        ArgKind::Pattern(PathKind::Literal),
    ),
    form(
        "iokit-user-client-class-prefix",
        "iokit-registry-entry-class",
        ArgKind::Pattern(PathKind::Prefix),
    ),
    form(
        "iokit-user-client-class-regex",
        "iokit-registry-entry-class",
        ArgKind::Regex,
    ),
    form("granted-extensions", "extension", ArgKind::Str),
    form("mach-extension", "extension", ArgKind::Str),
    form("from", "local", ArgKind::Network),
    form("to", "remote", ArgKind::Network),
    form("local", "local", ArgKind::Network),
    form("remote", "remote", ArgKind::Network),
];

/// Every form by name, built once from the macOS 14.4.1 vocabulary.
fn table() -> &'static (Vec<Form>, HashMap<&'static str, usize>) {
    static TABLE: OnceLock<(Vec<Form>, HashMap<&'static str, usize>)> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<Form> = ALIASES.to_vec();
        for &name in &Vocab::macos_14().filters {
            all.extend(vocabulary_forms(name));
        }
        let mut index = HashMap::new();
        for (i, f) in all.iter().enumerate() {
            index.entry(f.name).or_insert(i);
        }
        (all, index)
    })
}

/// The forms of vocabulary filter `name` by its argument kind. The names
/// are leaked once per process (the table is built once).
fn vocabulary_forms(name: &'static str) -> Vec<Form> {
    let suffixed =
        |suffix: &str| -> &'static str { Box::leak(format!("{name}{suffix}").into_boxed_str()) };
    match arg_kind(name) {
        Some(BlobKind::Pattern) => vec![
            form(name, name, ArgKind::Pattern(PathKind::Literal)),
            form(
                suffixed("-prefix"),
                name,
                ArgKind::Pattern(PathKind::Prefix),
            ),
            form(suffixed("-regex"), name, ArgKind::Regex),
        ],
        Some(BlobKind::String) => vec![
            form(name, name, ArgKind::Str),
            form(suffixed("-regex"), name, ArgKind::Regex),
        ],
        Some(BlobKind::Int) => vec![form(name, name, ArgKind::Int(filter_constants(name)))],
        // local / remote are aliases above; message-name's item is unknown.
        None => Vec::new(),
    }
}

/// Every filter form.
pub fn forms() -> impl Iterator<Item = &'static Form> {
    table().0.iter()
}

pub fn find(name: &str) -> Option<&'static Form> {
    let (all, index) = table();
    index.get(name).map(|&i| &all[i])
}

/// Whether `name` is a symbolic constant of any filter or modifier, so that
/// it evaluates to itself.
pub fn is_constant(name: &str) -> bool {
    constants().contains(name)
}

/// Every symbolic constant, for "did you mean" hints.
pub fn constant_names() -> impl Iterator<Item = &'static str> {
    constants().iter().copied()
}

fn constants() -> &'static std::collections::HashSet<&'static str> {
    static NAMES: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let v = Vocab::macos_14();
        let mut set: std::collections::HashSet<&'static str> = v
            .filters
            .iter()
            .flat_map(|f| filter_constants(f).iter().map(|(n, _)| *n))
            .filter(|n| !n.starts_with('#'))
            .collect();
        set.extend(ERRNOS.iter().map(|(n, _)| *n));
        set.extend(NETWORK_PROTOCOLS.iter().map(|(n, _)| *n));
        set.extend(["unix", "unix-socket"]);
        set
    })
}

/// Filters whose argument is a boolean (1 or 0): written bare, as
/// `(extension-path-ancestor)`, they hold when the property is true [model].
pub fn is_boolean(filter: &str) -> bool {
    [
        "%entitlement-boolean",
        "notification-payload",
        "rootless-boot-device-filter",
        "rootless-disk-filter",
        "datavault-disk-filter",
        "extension-path-ancestor",
        "storage-class-extension",
    ]
    .contains(&filter)
}

pub fn constant(table: &[(&str, i64)], name: &str) -> Option<i64> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A `(with ...)` modifier: a flag in the action word, or an inline
/// modifier (id per docs/seatbelt-format.md) with an argument.
#[derive(Debug, Clone, Copy)]
pub enum WithKind {
    /// Set these action-word bits.
    Flag(u32),
    /// Clear the report bit (a plain deny has it).
    NoReport,
    /// An inline modifier taking a number (from the table's constants).
    IntModifier(u8, fn() -> &'static [(&'static str, i64)]),
    /// An inline modifier with a fixed argument: `(with termination)` is
    /// `(with send-signal SIGKILL)` in Apple's library.
    Preset(u8, u16),
    /// An inline modifier taking a string placed in the data area.
    StrModifier(u8),
    /// An inline modifier whose argument no blob shows: an optional number,
    /// 0 when left out [model] (`(with telemetry-backtrace)`, and the
    /// decoder's `(with user-approval 0)`).
    Inline(u8),
    /// A deprecated modifier Apple's library turns into a sandbox option
    /// (`no-callout`, `partial-symbolication`): it leaves the rule as is.
    Deprecated,
}

fn errnos() -> &'static [(&'static str, i64)] {
    ERRNOS
}

/// Darwin's SIGKILL, the signal of `(with termination)`.
const SIGKILL: u16 = 9;

pub const WITH_OPTIONS: &[(&str, WithKind)] = &[
    ("report", WithKind::Flag(action::REPORT)),
    ("no-report", WithKind::NoReport),
    // Apple's library: (define no-log no-report).
    ("no-log", WithKind::NoReport),
    ("grant", WithKind::Flag(action::GRANT)),
    ("no-sandbox", WithKind::Flag(action::NO_SANDBOX)),
    // (define no-profile no-sandbox).
    ("no-profile", WithKind::Flag(action::NO_SANDBOX)),
    ("sip-override", WithKind::Flag(action::SIP_OVERRIDE)),
    ("no-times", WithKind::Flag(action::NO_TIMES)),
    ("authority", WithKind::Flag(action::AUTHORITY)),
    ("telemetry", WithKind::Flag(action::TELEMETRY)),
    (
        "no-approval-prompt",
        WithKind::Flag(action::NO_APPROVAL_PROMPT),
    ),
    ("no-storage-class", WithKind::Flag(action::NO_STORAGE_CLASS)),
    ("send-signal", WithKind::IntModifier(1, signals)),
    ("termination", WithKind::Preset(1, SIGKILL)),
    ("errno", WithKind::IntModifier(2, errnos)),
    ("message", WithKind::StrModifier(10)),
    ("default-sandbox", WithKind::StrModifier(11)),
    ("assign-storage-class", WithKind::StrModifier(12)),
    // [model]: no blob shows them; the ids are [reported].
    ("enable-state-flag", WithKind::StrModifier(17)),
    ("user-approval", WithKind::Inline(9)),
    ("telemetry-backtrace", WithKind::Inline(15)),
    ("no-callout", WithKind::Deprecated),
    ("partial-symbolication", WithKind::Deprecated),
];

pub fn with_option(name: &str) -> Option<WithKind> {
    WITH_OPTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
}

/// `local` / `remote` protocols and the low bits of the address item's host
/// word ([reported] by sandblaster), shared with the decoder.
const NETWORK_PROTOCOLS: &[(&str, u16)] = crate::blob::filters::NET_PROTOCOLS;

/// The host word's bit for `localhost` ([reported]).
pub const LOCALHOST: u16 = crate::blob::filters::NET_LOCALHOST;

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
        // "local" is taken as the local host too [model]: no blob shows it.
        "localhost" | "local" => Ok(LOCALHOST | bits),
        other => Err(format!(
            "network host {other:?} is not supported: Seatbelt's address filters know only * and localhost (a numeric host is rejected by macOS too)"
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
    fn forms_follow_the_decoders_kinds() {
        let kind = |n: &str| find(n).map(|f| (f.filter, f.arg));
        assert_eq!(
            kind("xpc-service-name-prefix"),
            Some(("xpc-service-name", ArgKind::Pattern(PathKind::Prefix)))
        );
        assert_eq!(
            kind("iokit-user-client-class"),
            Some((
                "iokit-registry-entry-class",
                ArgKind::Pattern(PathKind::Literal)
            ))
        );
        assert_eq!(
            kind("%entitlement-is-present-regex"),
            Some(("%entitlement-is-present", ArgKind::Regex))
        );
        assert_eq!(kind("extension"), Some(("extension", ArgKind::Str)));
        // An integer filter has no -prefix / -regex form; a string filter
        // has no -prefix.
        assert!(find("process-attribute-regex").is_none());
        assert!(find("extension-prefix").is_none());
        assert!(find("message-name").is_none());
        let Some(ArgKind::Int(table)) = find("process-attribute").map(|f| f.arg) else {
            panic!("process-attribute is an integer filter")
        };
        assert_eq!(constant(table, "is-platform-binary"), Some(4));
        assert!(is_constant("apple-internal") && is_constant("SYS_read"));
        assert!(!is_constant("not-a-constant"));
        assert!(is_boolean("extension-path-ancestor") && !is_boolean("privilege-id"));
    }

    #[test]
    fn network_words() {
        assert_eq!(network_host("tcp", "*"), Ok(7));
        assert_eq!(network_host("udp4", "localhost"), Ok(0x109));
        assert_eq!(network_host("ip", "local"), Ok(0x103));
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
