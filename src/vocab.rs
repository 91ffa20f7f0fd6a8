//! Operation and filter vocabularies, keyed by OS release.
//!
//! Ids shift between releases, so nothing outside this module hard-codes an id
//! except through the constants below, which are checked against the tables by
//! unit tests. The tables are the libsandbox name lists of each release, shipped
//! as tab-separated files in `src/vocabdata/`.
//!
//! Where a release's names are not known (iOS 26 is partly recovered, Mac OS X
//! 10.6 barely at all), the table says `unknown-NNN` and [`Vocab::op_name`]
//! returns `None`: callers show the id ([`Vocab::op_label`]), never a guess.

use std::sync::OnceLock;

/// An operation or filter id in one release's vocabulary.
pub type OpId = u16;

/// One release's names.
#[derive(Debug)]
pub struct Vocab {
    pub release: &'static str,
    /// Operation names by id.
    pub operations: Vec<&'static str>,
    /// Filter names by id (the node's filter byte is id + 1).
    pub filters: Vec<&'static str>,
    /// Number of operations that have op-table entries (the header's op_count).
    pub op_table_len: usize,
    /// Whether some names are provisional (matched by content, not read from
    /// the release's libsandbox), as for iOS 26.
    pub provisional: bool,
    /// For every operation, the operation whose rules it inherits when it has
    /// none of its own (`file-read-data` -> `file-read*` -> `file*` -> `default`).
    parents: Vec<Option<OpId>>,
}

/// Operation ids of macOS 14.4.1 the compiler and engine name directly.
pub mod op {
    use super::OpId;
    pub const DEFAULT: OpId = 0;
    pub const FILE_READ_DATA: OpId = 22;
    pub const FILE_READ_METADATA: OpId = 23;
    pub const FILE_WRITE_CREATE: OpId = 31;
    pub const FILE_WRITE_DATA: OpId = 32;
    pub const FILE_WRITE_SETUGID: OpId = 37;
    pub const JOB_CREATION: OpId = 85;
    pub const MACH_TASK_INSPECT: OpId = 102;
    pub const MACH_TASK_NAME: OpId = 103;
    pub const MACH_TASK_READ: OpId = 104;
    pub const NETWORK_OUTBOUND: OpId = 112;
    pub const SIGNAL: OpId = 145;
    pub const SYSTEM_KAS_INFO: OpId = 165;
    pub const STORAGE_CLASS_MAP: OpId = 188;
}

/// Filter ids of macOS 14.4.1 (the node byte is id + 1).
pub mod filter {
    pub const PATH: u8 = 0;
    pub const GLOBAL_NAME: u8 = 5;
    pub const LOCAL: u8 = 7;
    pub const REMOTE: u8 = 8;
    pub const CONTROL_NAME: u8 = 9;
    pub const SOCKET_DOMAIN: u8 = 10;
    pub const SOCKET_TYPE: u8 = 11;
    pub const SOCKET_PROTOCOL: u8 = 12;
    pub const TARGET: u8 = 13;
    pub const SYSCTL_NAME: u8 = 37;
    pub const VNODE_TYPE: u8 = 28;
}

/// Placeholder names in the tables for ids whose name is not known.
const UNKNOWN_PREFIX: &str = "unknown-";

fn parse_tsv(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::trim)
        .collect()
}

/// The parent of `name`: the longest `X*` wildcard operation, other than
/// `name` itself, whose stem `X` is a prefix of `name`; `default` when none.
/// `stems` are the wildcard operations' `(id, X)` (see [`wildcard_stems`]).
fn parent_of(name: &str, stems: &[(usize, &str)]) -> Option<OpId> {
    // An unknown name has no known family: it inherits nothing we can name.
    if name == "default" || name.starts_with(UNKNOWN_PREFIX) {
        return None;
    }
    let own_stem = name.strip_suffix('*');
    stems
        .iter()
        .filter(|(_, stem)| match own_stem {
            // `name` itself is excluded: its stem is not longer than itself.
            Some(own) => own.starts_with(stem) && own.len() > stem.len(),
            None => name.starts_with(stem),
        })
        .max_by_key(|(_, stem)| stem.len())
        .map(|&(id, _)| id as OpId)
        .or(Some(op::DEFAULT))
}

/// The wildcard operations (`file-read*`) as `(id, stem)`, once for every
/// [`parent_of`] (it ran over every name for each of them, and was the
/// bulk of a short `sbcheck exec`'s start).
fn wildcard_stems<'a>(operations: &[&'a str]) -> Vec<(usize, &'a str)> {
    operations
        .iter()
        .enumerate()
        .filter_map(|(id, name)| name.strip_suffix('*').map(|stem| (id, stem)))
        .collect()
}

/// The symbolic arguments of integer filter `filter` (`AF_INET`, `self`,
/// `is-plugin`, `#t`, ...) as (name, value), in table order; empty for a
/// filter without symbols. One table for the compiler, the decoder's
/// rendering and `eval --arg`, so the three agree.
pub fn filter_constants(filter: &str) -> &'static [(&'static str, i64)] {
    use std::collections::HashMap;
    static TABLE: OnceLock<HashMap<&'static str, Vec<(&'static str, i64)>>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut map: HashMap<&'static str, Vec<(&'static str, i64)>> = HashMap::new();
            let text = include_str!("vocabdata/constants-macos-14.4.1.tsv");
            for line in text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                let mut cols = line.split('\t');
                if let (Some(f), Some(v), Some(name)) = (cols.next(), cols.next(), cols.next()) {
                    if let Ok(v) = v.parse() {
                        map.entry(f).or_default().push((name, v));
                    }
                }
            }
            map
        })
        .get(filter)
        .map_or(&[], Vec::as_slice)
}

impl Vocab {
    fn build(release: &'static str, ops: &'static str, filters: &'static str, n: usize) -> Vocab {
        let operations = parse_tsv(ops);
        let stems = wildcard_stems(&operations);
        let parents = operations
            .iter()
            .map(|name| parent_of(name, &stems))
            .collect();
        Vocab {
            release,
            operations,
            filters: parse_tsv(filters),
            op_table_len: n,
            provisional: false,
            parents,
        }
    }

    /// macOS 14.4.1 (23E224), also iOS 17: 190 op-table operations.
    pub fn macos_14() -> &'static Vocab {
        static V: OnceLock<Vocab> = OnceLock::new();
        V.get_or_init(|| {
            Vocab::build(
                "macos-14.4.1",
                include_str!("vocabdata/operations-macos-14.4.1.tsv"),
                include_str!("vocabdata/filters-macos-14.4.1.tsv"),
                190,
            )
        })
    }

    /// iOS 18-26 (16-byte header, 195 op-table operations). Operation names
    /// are partly recovered (`unknown-NNN` elsewhere); filter names are
    /// macOS 14.4.1's, which every filter whose argument the iOS 26 blob lets
    /// us check agrees with, so they are marked provisional.
    pub fn ios_26() -> &'static Vocab {
        static V: OnceLock<Vocab> = OnceLock::new();
        V.get_or_init(|| Vocab {
            provisional: true,
            ..Vocab::build(
                "ios-26-partial",
                include_str!("vocabdata/operations-ios-26-partial.tsv"),
                include_str!("vocabdata/filters-macos-14.4.1.tsv"),
                195,
            )
        })
    }

    /// macOS 15.2+ (16-byte header, 192 op-table operations). Operation
    /// names are macOS 14.4.1's where the blob's structure pins the id shift
    /// (`unknown-NNN` elsewhere; the evidence is the table's third column);
    /// filter names are macOS 14.4.1's, which the filters' arguments in the
    /// blob fit (boot-arg, sysctl-name, privilege-id, ...): provisional.
    pub fn macos_15() -> &'static Vocab {
        static V: OnceLock<Vocab> = OnceLock::new();
        V.get_or_init(|| Vocab {
            provisional: true,
            ..Vocab::build(
                "macos-15-partial",
                include_str!("vocabdata/operations-macos-15-partial.tsv"),
                include_str!("vocabdata/filters-macos-14.4.1.tsv"),
                192,
            )
        })
    }

    /// Mac OS X 10.6: only what the one sample blob shows (its op table has
    /// 59 entries; `default` is 0, `file-read-data` 5; filter byte 1 is a
    /// path regex).
    pub fn macos_10_6() -> &'static Vocab {
        static V: OnceLock<Vocab> = OnceLock::new();
        V.get_or_init(|| Vocab {
            provisional: true,
            ..Vocab::build(
                "macos-10.6-partial",
                include_str!("vocabdata/operations-macos-10.6-partial.tsv"),
                include_str!("vocabdata/filters-macos-10.6-partial.tsv"),
                59,
            )
        })
    }

    /// A release whose names are not known at all: every id is shown as is.
    pub fn unknown() -> &'static Vocab {
        static V: OnceLock<Vocab> = OnceLock::new();
        V.get_or_init(|| Vocab {
            release: "unknown",
            operations: Vec::new(),
            filters: Vec::new(),
            op_table_len: 0,
            provisional: true,
            parents: Vec::new(),
        })
    }

    /// The vocabulary registered under `release` (as in [`Vocab::release`]).
    pub fn by_release(release: &str) -> Option<&'static Vocab> {
        [
            Vocab::macos_14(),
            Vocab::ios_26(),
            Vocab::macos_15(),
            Vocab::macos_10_6(),
            Vocab::unknown(),
        ]
        .into_iter()
        .find(|v| v.release == release || v.release.strip_suffix("-partial") == Some(release))
    }

    pub fn op_id(&self, name: &str) -> Option<OpId> {
        self.operations
            .iter()
            .position(|n| *n == name && !n.starts_with(UNKNOWN_PREFIX))
            .map(|i| i as OpId)
    }

    /// The operation's name, `None` when this release's name for it is unknown.
    pub fn op_name(&self, id: OpId) -> Option<&'static str> {
        self.operations
            .get(id as usize)
            .copied()
            .filter(|n| !n.starts_with(UNKNOWN_PREFIX))
    }

    /// The name, or `op#ID` when the name is not known.
    pub fn op_label(&self, id: OpId) -> String {
        self.op_name(id)
            .map_or_else(|| format!("op#{id}"), str::to_owned)
    }

    /// An operation by name, or by id written as `op#ID` or a bare number.
    pub fn parse_op(&self, text: &str) -> Option<OpId> {
        let id = text.strip_prefix("op#").unwrap_or(text);
        self.op_id(text).or_else(|| id.parse().ok())
    }

    pub fn filter_name(&self, id: u8) -> Option<&'static str> {
        self.filters
            .get(id as usize)
            .copied()
            .filter(|n| !n.starts_with(UNKNOWN_PREFIX))
    }

    /// The name, or `filter#ID` when the name is not known.
    pub fn filter_label(&self, id: u8) -> String {
        self.filter_name(id)
            .map_or_else(|| format!("filter#{id}"), str::to_owned)
    }

    pub fn filter_id(&self, name: &str) -> Option<u8> {
        self.filters
            .iter()
            .position(|n| *n == name && !n.starts_with(UNKNOWN_PREFIX))
            .map(|i| i as u8)
    }

    /// A filter by name, or by id written as `filter#ID`.
    pub fn parse_filter(&self, text: &str) -> Option<u8> {
        self.filter_id(text)
            .or_else(|| text.strip_prefix("filter#")?.parse().ok())
    }

    pub fn parent(&self, id: OpId) -> Option<OpId> {
        self.parents.get(id as usize).copied().flatten()
    }

    /// `id` and its ancestors, nearest first, ending with `default`.
    pub fn lineage(&self, id: OpId) -> impl Iterator<Item = OpId> + '_ {
        std::iter::successors(Some(id), move |&i| self.parent(i))
    }

    /// The op-table operations a name stands for: the operation itself and,
    /// for a wildcard, every operation that inherits from it, except the
    /// operations no wildcard covers ([`Vocab::named_only`]).
    pub fn expand(&self, name: &str) -> Option<Vec<OpId>> {
        let id = self.op_id(name)?;
        Some(
            (0..self.op_table_len as OpId)
                .filter(|&o| o == id || (!self.named_only(o) && self.lineage(o).any(|a| a == id)))
                .collect(),
        )
    }

    /// Operations that neither `default` nor a wildcard covers: they stay
    /// denied unless a rule names them (macOS 14.4.1: `(allow default)` and
    /// `(allow file-write*)` leave file-write-setugid denied).
    pub fn named_only(&self, id: OpId) -> bool {
        // By name, so the rule holds in every release that has these names.
        matches!(
            self.op_name(id),
            Some("file-write-setugid" | "job-creation" | "system-kas-info" | "storage-class-map")
        )
    }

    /// The vocabulary name closest to `word` (for "did you mean" hints).
    pub fn closest_op(&self, word: &str) -> Option<&'static str> {
        closest(word, &self.operations)
    }

    pub fn closest_filter(&self, word: &str) -> Option<&'static str> {
        closest(word, &self.filters)
    }
}

fn closest(word: &str, names: &[&'static str]) -> Option<&'static str> {
    names
        .iter()
        .filter(|n| !n.starts_with(UNKNOWN_PREFIX))
        .map(|n| (edit_distance(word, n), *n))
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

    #[test]
    fn named_ids_match_the_table() {
        let v = Vocab::macos_14();
        for (id, name) in [
            (op::FILE_READ_DATA, "file-read-data"),
            (op::FILE_READ_METADATA, "file-read-metadata"),
            (op::FILE_WRITE_CREATE, "file-write-create"),
            (op::FILE_WRITE_DATA, "file-write-data"),
            (op::FILE_WRITE_SETUGID, "file-write-setugid"),
            (op::JOB_CREATION, "job-creation"),
            (op::MACH_TASK_INSPECT, "mach-task-inspect"),
            (op::MACH_TASK_NAME, "mach-task-name"),
            (op::MACH_TASK_READ, "mach-task-read"),
            (op::NETWORK_OUTBOUND, "network-outbound"),
            (op::SIGNAL, "signal"),
            (op::SYSTEM_KAS_INFO, "system-kas-info"),
            (op::STORAGE_CLASS_MAP, "storage-class-map"),
        ] {
            assert_eq!(v.op_name(id), Some(name));
        }
        assert_eq!(v.filter_name(filter::PATH), Some("path"));
        assert_eq!(v.filter_name(filter::CONTROL_NAME), Some("control-name"));
        assert_eq!(v.filter_name(filter::TARGET), Some("target"));
        assert_eq!(v.filter_name(filter::GLOBAL_NAME), Some("global-name"));
        assert_eq!(v.filter_name(filter::SOCKET_DOMAIN), Some("socket-domain"));
        assert_eq!(v.filter_name(filter::SOCKET_TYPE), Some("socket-type"));
        assert_eq!(
            v.filter_name(filter::SOCKET_PROTOCOL),
            Some("socket-protocol")
        );
        assert_eq!(v.filter_name(filter::SYSCTL_NAME), Some("sysctl-name"));
        assert_eq!(v.operations.len(), 196);
    }

    #[test]
    fn inheritance_follows_wildcards() {
        let v = Vocab::macos_14();
        let names = |id| {
            v.lineage(id)
                .map(|i| v.op_name(i).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(op::FILE_READ_DATA),
            ["file-read-data", "file-read*", "file*", "default"]
        );
        let port_get = v.op_id("mach-task-special-port-get").unwrap();
        assert_eq!(
            names(port_get),
            [
                "mach-task-special-port-get",
                "mach-task-special-port*",
                "mach-task*",
                "mach*",
                "default"
            ]
        );
        assert_eq!(names(v.op_id("signal").unwrap()), ["signal", "default"]);
    }

    #[test]
    fn wildcard_expands_to_its_family() {
        let v = Vocab::macos_14();
        let reads = v.expand("file-read*").unwrap();
        let names: Vec<_> = reads.iter().map(|&i| v.op_name(i).unwrap()).collect();
        assert_eq!(
            names,
            [
                "file-read*",
                "file-read-data",
                "file-read-metadata",
                "file-read-xattr"
            ]
        );
        assert_eq!(
            v.expand("file-read-data").unwrap(),
            vec![op::FILE_READ_DATA]
        );
    }

    #[test]
    fn macos_15_names_only_what_the_blob_pins() {
        let v = Vocab::macos_15();
        assert_eq!(v.operations.len(), 192);
        let m14 = Vocab::macos_14();
        // Anchors of each pinned segment, at 14.4.1's id plus the shift.
        for (id, name) in [
            (3, "boot-arg-set"),
            (10, "file*"),
            (13, "file-ioctl"),
            (15, "file-issue-extension"),
            (19, "file-mknod"),
            (56, "generic-issue-extension"),
            (96, "mach-lookup"),
            (113, "network-outbound"),
            (147, "signal"),
            (190, "storage-class-map"),
        ] {
            assert_eq!(v.op_name(id), Some(name), "op {id}");
        }
        // Where the blob does not tell which operation sits, no name.
        for id in [14, 39, 40, 97, 112, 145, 146] {
            assert_eq!(v.op_name(id), None, "op {id}");
        }
        // Every known name is a 14.4.1 name, each used once.
        let known: Vec<_> = (0..192).filter_map(|i| v.op_name(i)).collect();
        assert_eq!(known.len(), 171);
        assert!(known.iter().all(|n| m14.op_id(n).is_some()));
        let mut sorted = known.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), known.len());
        assert_eq!(
            Vocab::by_release("macos-15").unwrap().release,
            "macos-15-partial"
        );
    }

    #[test]
    fn suggests_close_names() {
        let v = Vocab::macos_14();
        assert_eq!(v.closest_op("file-reed*"), Some("file-read*"));
        assert_eq!(v.closest_filter("socket-domian"), Some("socket-domain"));
        assert_eq!(v.closest_op("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"), None);
    }
}
