//! Kernel-only enforcement (`sbcheck exec --kernel`): the file operations a
//! profile restricts to literal and subpath allow-lists, enforced by
//! Landlock with no round trip to the supervisor.
//!
//! [`plan`] reads the decoded profile. Each operation Landlock can check
//! (read-data, write-data, create, unlink, exec) must be decided with no
//! argument (allowed or denied whatever the path) or by an allow-list: a
//! chain of path tests whose match is an unreported allow, ending in a
//! denial, every test a `literal` or `subpath` of a plain path, no denied
//! path inside an allowed tree. Anything else is refused, naming the rule.
//!
//! Exactness: the supervised engine matches the path as resolved, so a rule
//! whose path runs through a symlink (`/lib` on a merged-/usr system) never
//! matches there, and is dropped here too (Landlock would bind it to the
//! symlink's target). What Landlock cannot do, and `--kernel` does not:
//! - answer EPERM or the profile's errno: Landlock fails with EACCES (EXDEV
//!   for a rename or link across directories it may not reparent);
//! - log a denial: no per-call denial line;
//! - bind a rule to a path that does not exist at start (such rules are
//!   dropped: stricter than the profile);
//! - create or remove the one name a `literal` allows (that needs a right
//!   on its directory, which would allow every name in it: not granted);
//! - a `literal` naming a directory cannot allow reading it alone (the
//!   right would reach every directory beneath): refused;
//! - exec a file it may not read: Landlock checks an exec's open as a read
//!   too (stricter where process-exec* reaches further than file-read*).
//!
//! Opens and execs then pass the seccomp filter only when the plan keeps
//! every write under `/proc` from the process ([`Plan::writes_proc`]), so
//! the supervisor's memory stays out of its reach.
//!
//! Operations Landlock does not check (metadata, xattrs, mode, owner,
//! times, network, fork) keep the engine's other answers: in the filter
//! where the profile decides them whatever the arguments, else the
//! supervisor's (see [`super::answers`]).

use super::syscalls::op;
use crate::blob::pattern::{forms, Atom, FormKind};
use crate::blob::{FilterArg, Node, Profile};
use crate::decision::filter_sbpl;
use crate::vocab::{filter, OpId};
use std::path::{Path, PathBuf};

// Filesystem access rights (linux/landlock.h).
pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const REMOVE_DIR: u64 = 1 << 4;
pub const REMOVE_FILE: u64 = 1 << 5;
/// MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK,
/// MAKE_SYM (bits 6 to 12).
pub const MAKE_ANY: u64 = 0x7f << 6;
/// One of them: mknod of a block device.
pub const MAKE_BLOCK: u64 = 1 << 11;
/// ABI 2: link or rename into another directory.
pub const REFER: u64 = 1 << 13;
/// ABI 3: truncate(2), ftruncate(2), open with O_TRUNC.
pub const TRUNCATE: u64 = 1 << 14;
/// The rights a rule on a non-directory may hold.
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE;

/// The lowest Landlock ABI `--kernel` uses (TRUNCATE: an O_TRUNC open is
/// file-write-data, which Landlock checks only from ABI 3).
pub const MIN_ABI: i64 = 3;

/// What Landlock checks for each operation it can judge.
pub const OPERATIONS: &[(OpId, u64)] = &[
    (op::FILE_READ_DATA, READ_FILE | READ_DIR),
    (op::FILE_WRITE_DATA, WRITE_FILE | TRUNCATE),
    (op::FILE_WRITE_CREATE, MAKE_ANY),
    (op::FILE_WRITE_UNLINK, REMOVE_FILE | REMOVE_DIR),
    (op::PROCESS_EXEC, EXECUTE),
];

/// A profile `--kernel` cannot enforce exactly, with the rule that prevents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Landlock ruleset for a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The rights Landlock checks (every other access passes it).
    pub handled: u64,
    /// `(path, rights)`, each path once.
    pub rules: Vec<(PathBuf, u64)>,
    /// The operations Landlock decides (exactly, up to the differences in
    /// the module doc).
    pub covered: Vec<OpId>,
    /// Rules left out, and why (a path missing or through a symlink).
    pub dropped: Vec<String>,
}

impl Plan {
    /// Whether the process may write under `/proc` (a rule granting
    /// write-data at or above or inside it, or write-data not checked at
    /// all): it could then write the supervisor's memory, so opens and
    /// execs must keep the supervisor's guard (see `answers`).
    pub fn writes_proc(&self) -> bool {
        if self.handled & WRITE_FILE == 0 {
            return true;
        }
        self.rules.iter().any(|(path, rights)| {
            rights & WRITE_FILE != 0
                && (Path::new("/proc").starts_with(path) || path.starts_with("/proc"))
        })
    }
}

/// How a profile decides one operation.
enum Decided {
    Always,
    Never,
    /// Allowed under these `(kind, path, node)`, denied elsewhere.
    Under(Vec<(FormKind, Vec<u8>, u16)>),
}

/// The Landlock plan for `profile`, or the rule that prevents one.
pub fn plan(profile: &Profile) -> Result<Plan, Refusal> {
    let mut plan = Plan::default();
    for &(op, rights) in OPERATIONS {
        let name = crate::vocab::Vocab::macos_14().op_name(op).unwrap_or("?");
        match decided(profile, super::op_in(profile, op), name)? {
            Decided::Always => continue,
            Decided::Never => {}
            Decided::Under(allowed) => {
                for (kind, path, node) in allowed {
                    add_rule(&mut plan, profile, name, kind, &path, node, rights)?;
                }
            }
        }
        plan.handled |= rights;
        plan.covered.push(op);
    }
    // A rename or link into another directory needs REFER on both sides:
    // given where creating and removing are both allowed (by a rule, or
    // everywhere: not handled).
    let (make, remove) = (plan.handled & MAKE_ANY, plan.handled & REMOVE_FILE);
    if make | remove != 0 {
        plan.handled |= REFER;
        for (_, rights) in &mut plan.rules {
            if *rights & make == make && *rights & remove == remove {
                *rights |= REFER;
            }
        }
    }
    // A ruleset must handle something: MAKE_BLOCK allowed from the root
    // handles one right and denies nothing.
    if plan.handled == 0 {
        plan.handled = MAKE_BLOCK;
        plan.rules.push((PathBuf::from("/"), MAKE_BLOCK));
    }
    Ok(plan)
}

/// Walks `op`'s decision graph: a decision without filters, or a chain of
/// path tests that allow on a match and deny at the end.
fn decided(profile: &Profile, op: OpId, name: &str) -> Result<Decided, Refusal> {
    let refuse =
        |node: u16, why: &str| Refusal(format!("{name} {}: {why}", rule_text(profile, node)));
    let mut at = *profile
        .op_table
        .get(usize::from(op))
        .ok_or_else(|| Refusal(format!("{name}: not in the profile's operation table")))?;
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    for _ in 0..=profile.nodes.len() {
        match profile.nodes.get(usize::from(at)) {
            Some(Node::Terminal(a)) => {
                let allow = !a.is_deny();
                if allow && reported_allow(a) {
                    return Err(refuse(at, "an allow with a report needs the supervisor"));
                }
                if allow && !denied.is_empty() {
                    let (_, _, node) = denied[0];
                    return Err(refuse(
                        node,
                        "a denial in what is allowed by default: Landlock only allows",
                    ));
                }
                return match (allow, allowed.is_empty()) {
                    (true, _) => Ok(Decided::Always),
                    (false, true) => Ok(Decided::Never),
                    (false, false) => {
                        inside_check(profile, name, &allowed, &denied)?;
                        Ok(Decided::Under(allowed))
                    }
                };
            }
            Some(&Node::Filter {
                filter: f,
                alt,
                matched,
                unmatched,
                ..
            }) => {
                if f != filter::PATH || alt {
                    return Err(refuse(at, "Landlock tests only literal and subpath paths"));
                }
                let paths = plain_forms(profile, at)
                    .ok_or_else(|| refuse(at, "Landlock tests only literal and subpath paths"))?;
                match profile.nodes.get(usize::from(matched)) {
                    Some(Node::Terminal(a)) if !a.is_deny() && !reported_allow(a) => {
                        allowed.extend(paths.into_iter().map(|(k, p)| (k, p, at)));
                    }
                    Some(Node::Terminal(a)) if a.is_deny() => {
                        denied.extend(paths.into_iter().map(|(k, p)| (k, p, at)));
                    }
                    _ => {
                        return Err(refuse(
                            at,
                            "a match that is not a plain allow or deny (require-all, report)",
                        ))
                    }
                }
                at = unmatched;
            }
            None => return Err(Refusal(format!("{name}: node {at} out of range"))),
        }
    }
    Err(Refusal(format!("{name}: the decision graph loops")))
}

/// An allow that asks for a log line.
fn reported_allow(a: &crate::blob::Action) -> bool {
    let m = a.modifier.map(|m| m.id);
    (a.word & crate::blob::action::REPORT != 0 || m == Some(3)) && m != Some(4)
}

/// A denied path inside an allowed tree (Landlock rights only add up).
fn inside_check(
    profile: &Profile,
    name: &str,
    allowed: &[(FormKind, Vec<u8>, u16)],
    denied: &[(FormKind, Vec<u8>, u16)],
) -> Result<(), Refusal> {
    for (_, d, node) in denied {
        let covered = allowed.iter().any(|(k, a, _)| match k {
            FormKind::Subpath => under(d, a),
            _ => d == a,
        });
        if covered {
            return Err(Refusal(format!(
                "{name} {}: a denial inside an allowed tree (Landlock rights only add up)",
                rule_text(profile, *node)
            )));
        }
    }
    Ok(())
}

/// Whether `path` is `tree` or beneath it.
fn under(path: &[u8], tree: &[u8]) -> bool {
    let tree = tree.strip_suffix(b"/").unwrap_or(tree);
    path.starts_with(tree) && matches!(path.get(tree.len()), None | Some(b'/'))
}

/// The node's path forms when every one is a literal or subpath of plain
/// text (no variable, class or regex).
fn plain_forms(profile: &Profile, node: u16) -> Option<Vec<(FormKind, Vec<u8>)>> {
    let FilterArg::Pattern(k) = *profile.args.get(usize::from(node))? else {
        return None;
    };
    let item = profile.patterns.get(k as usize)?;
    let mut out = Vec::new();
    for form in forms(&item.program).ok()? {
        let mut text = Vec::new();
        for atom in &form.atoms {
            match atom {
                Atom::Lit(bytes) => text.extend_from_slice(bytes),
                _ => return None,
            }
        }
        let kind = match form.kind {
            FormKind::Literal | FormKind::Subpath => form.kind,
            // `(subpath "/")` compiles to the prefix "/": every path.
            FormKind::Prefix if text == b"/" => FormKind::Subpath,
            _ => return None,
        };
        out.push((kind, text));
    }
    Some(out)
}

fn rule_text(profile: &Profile, node: u16) -> String {
    match profile.nodes.get(usize::from(node)) {
        Some(Node::Filter { .. }) => filter_sbpl(profile, node),
        _ => "(default)".into(),
    }
}

/// Adds the rights of one allowed path, or notes why it is left out.
fn add_rule(
    plan: &mut Plan,
    profile: &Profile,
    name: &str,
    kind: FormKind,
    path: &[u8],
    node: u16,
    rights: u64,
) -> Result<(), Refusal> {
    use std::os::unix::ffi::OsStrExt;
    let path = Path::new(std::ffi::OsStr::from_bytes(path));
    let shown = || format!("{name} {}", rule_text(profile, node));
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            plan.dropped.push(format!("{}: {e}", shown()));
            return Ok(());
        }
    };
    // The supervised engine matches resolved paths: a path through a
    // symlink is matched by nothing there, so it grants nothing here.
    if std::fs::canonicalize(path).ok().as_deref() != Some(path) {
        plan.dropped
            .push(format!("{}: the path runs through a symlink", shown()));
        return Ok(());
    }
    let granted = if meta.is_dir() {
        if kind == FormKind::Literal && rights & READ_DIR != 0 {
            return Err(Refusal(format!(
                "{}: a literal directory (Landlock would allow every directory beneath it)",
                shown()
            )));
        }
        if kind == FormKind::Literal {
            // Creating or removing the name itself needs its parent.
            plan.dropped
                .push(format!("{}: a literal directory", shown()));
            return Ok(());
        }
        rights
    } else {
        rights & FILE_RIGHTS
    };
    if granted == 0 {
        plan.dropped.push(format!(
            "{}: creating or removing one name needs a right on its whole directory",
            shown()
        ));
        return Ok(());
    }
    match plan.rules.iter_mut().find(|(p, _)| p == path) {
        Some((_, r)) => *r |= granted,
        None => plan.rules.push((path.to_owned(), granted)),
    }
    Ok(())
}

#[cfg(target_os = "linux")]
pub use sys::*;

#[cfg(target_os = "linux")]
mod sys {
    use super::Plan;
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::ffi::OsStrExt;

    const SYS_CREATE_RULESET: libc::c_long = 444;
    const SYS_ADD_RULE: libc::c_long = 445;
    const SYS_RESTRICT_SELF: libc::c_long = 446;
    const CREATE_RULESET_VERSION: u32 = 1;
    const RULE_PATH_BENEATH: u32 = 1;

    #[repr(C)]
    struct RulesetAttr {
        handled_access_fs: u64,
    }

    #[repr(C, packed)]
    struct PathBeneath {
        allowed_access: u64,
        parent_fd: i32,
    }

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    /// The kernel's Landlock ABI version, or why there is none.
    pub fn abi() -> Result<i64, i32> {
        // SAFETY: a NULL attribute with size 0 and the version flag only
        // asks the version.
        let v = unsafe {
            libc::syscall(
                SYS_CREATE_RULESET,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        if v < 0 {
            Err(errno())
        } else {
            Ok(v)
        }
    }

    /// The ruleset of `plan`, built in this process (before `fork()`), so
    /// the child only calls [`restrict_self`].
    pub fn ruleset(plan: &Plan) -> Result<OwnedFd, (String, i32)> {
        let attr = RulesetAttr {
            handled_access_fs: plan.handled,
        };
        // SAFETY: `attr` is a live `struct landlock_ruleset_attr` of the
        // size passed.
        let fd = unsafe {
            libc::syscall(
                SYS_CREATE_RULESET,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0u32,
            )
        };
        if fd < 0 {
            return Err(("landlock_create_ruleset".into(), errno()));
        }
        // SAFETY: the kernel just returned this fd; nothing else owns it.
        let ruleset = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        for (path, rights) in &plan.rules {
            let shown = || path.display().to_string();
            let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| (shown(), 0))?;
            // SAFETY: `c` is a NUL-terminated path alive for the call.
            let dir = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if dir < 0 {
                return Err((shown(), errno()));
            }
            // SAFETY: just opened, owned here.
            let dir = unsafe { OwnedFd::from_raw_fd(dir) };
            let beneath = PathBeneath {
                allowed_access: *rights & plan.handled,
                parent_fd: dir.as_raw_fd(),
            };
            // SAFETY: `beneath` is a live `struct landlock_path_beneath_attr`.
            let r = unsafe {
                libc::syscall(
                    SYS_ADD_RULE,
                    ruleset.as_raw_fd(),
                    RULE_PATH_BENEATH,
                    &beneath as *const PathBeneath,
                    0u32,
                )
            };
            if r < 0 {
                return Err((shown(), errno()));
            }
        }
        Ok(ruleset)
    }

    /// Makes `cmd` run under `ruleset` alone (no seccomp filter, no
    /// supervisor): the kernel's own floor for a workload, which the
    /// workload benchmark compares against.
    pub fn confine(cmd: &mut std::process::Command, ruleset: std::sync::Arc<OwnedFd>) {
        use std::os::unix::process::CommandExt;
        let fd = ruleset.as_raw_fd();
        let hook = move || {
            // Keeps the ruleset open until the child has forked.
            let _ = &ruleset;
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            restrict_self(fd).map_err(std::io::Error::from_raw_os_error)
        };
        // SAFETY: the hook runs after fork in the child and makes raw
        // syscalls only (no allocation, no locks).
        unsafe { cmd.pre_exec(hook) };
    }

    /// Enforces the ruleset `fd` on the calling thread and its future
    /// children. Raw syscall only: called in the forked child, after
    /// `PR_SET_NO_NEW_PRIVS`.
    pub fn restrict_self(fd: RawFd) -> Result<(), i32> {
        // SAFETY: integer arguments only.
        if unsafe { libc::syscall(SYS_RESTRICT_SELF, fd, 0u32) } != 0 {
            return Err(errno());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(src: &str) -> Profile {
        let blob = crate::sbpl::compile(src, &Default::default()).unwrap();
        Profile::decode(&blob).unwrap()
    }

    fn refusal(src: &str) -> String {
        plan(&profile(src)).unwrap_err().0
    }

    #[test]
    fn allow_lists_become_rules_and_unconditional_operations_are_not_handled() {
        let p = plan(&profile(
            "(version 1) (deny default) (allow process-exec*) \
             (allow file-read* (subpath \"/usr\") (literal \"/etc/hostname\")) \
             (allow file-write* (subpath \"/tmp\"))",
        ))
        .unwrap();
        assert_eq!(
            p.handled & EXECUTE,
            0,
            "process-exec* is allowed everywhere"
        );
        assert_ne!(p.handled & READ_FILE, 0);
        let rights = |path: &str| {
            p.rules
                .iter()
                .find(|(q, _)| q == Path::new(path))
                .map(|r| r.1)
        };
        assert_eq!(rights("/usr"), Some(READ_FILE | READ_DIR));
        assert_eq!(rights("/etc/hostname"), Some(READ_FILE));
        let tmp = rights("/tmp").unwrap();
        assert_eq!(
            tmp & (MAKE_ANY | REMOVE_FILE | REFER),
            MAKE_ANY | REMOVE_FILE | REFER
        );
        assert!(p.covered.contains(&op::FILE_WRITE_UNLINK));
    }

    #[test]
    fn what_landlock_cannot_say_is_refused_with_its_rule() {
        let r =
            refusal("(version 1) (deny default) (allow file-read* (regex #\"^/usr/.*\\.so$\"))");
        assert!(r.starts_with("file-read-data (regex"), "{r}");
        let r = refusal(
            "(version 1) (deny default) (allow file-read* (subpath \"/usr\")) \
             (deny file-read* (subpath \"/usr/share\"))",
        );
        assert!(
            r.contains("(subpath \"/usr/share\")") && r.contains("inside"),
            "{r}"
        );
        let r = refusal("(version 1) (allow default) (deny file-write* (subpath \"/etc\"))");
        assert!(r.contains("Landlock only allows"), "{r}");
        let r = refusal("(version 1) (deny default) (allow file-read* (literal \"/usr\"))");
        assert!(r.contains("literal directory"), "{r}");
        let r =
            refusal("(version 1) (deny default) (allow process-exec (vnode-type REGULAR-FILE))");
        assert!(r.starts_with("process-exec* (vnode-type"), "{r}");
    }

    #[test]
    fn writes_under_proc_are_seen() {
        let base = "(version 1) (deny default) (allow file-read* (subpath \"/usr\"))";
        let writes = |rule: &str| {
            plan(&profile(&format!("{base} {rule}")))
                .unwrap()
                .writes_proc()
        };
        assert!(!writes("(allow file-write* (subpath \"/tmp\"))"));
        assert!(!writes(""));
        assert!(writes("(allow file-write* (subpath \"/\"))"));
        assert!(writes("(allow file-write-data (subpath \"/proc/1\"))"));
        assert!(writes("(allow file-write-data (subpath \"/proc\"))"));
        assert!(writes("(allow file-write-data)"));
    }

    #[test]
    fn paths_through_symlinks_or_missing_grant_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let src = format!(
            "(version 1) (deny default) (allow file-read* (subpath \"{0}/link\") \
             (subpath \"{0}/missing\") (subpath \"{0}/real\"))",
            base.display()
        );
        let p = plan(&profile(&src)).unwrap();
        assert_eq!(p.rules, vec![(base.join("real"), READ_FILE | READ_DIR)]);
        assert_eq!(p.dropped.len(), 2, "{:?}", p.dropped);
    }
}
