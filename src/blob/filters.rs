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
