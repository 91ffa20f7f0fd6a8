//! Which intercepted syscalls the filter can answer itself, with no round
//! trip to the supervisor.
//!
//! A syscall qualifies when every operation the supervisor could check for
//! it is allowed by the profile whatever the arguments (the decision's walk
//! reaches its terminal without testing a filter) and without a report (no
//! log line is owed), and the supervisor does nothing else for it than
//! judge: the answer the supervisor would give is then CONTINUE for every
//! call, which the filter's ALLOW gives exactly, minus the round trip.
//!
//! Opens and execs never pass in the filter of the supervised mode: the
//! supervisor refuses whatever reaches its own `/proc/PID` whatever the
//! profile says (its memory, its fds reopened through magic links: see
//! `resolve::resolve_sandboxed`), and only it can. Under `--kernel` they
//! may when Landlock keeps every write under `/proc` from the process: it
//! cannot write the supervisor's memory then. What it may still do there
//! is what the profile's own `/proc` rules allow: read the supervisor's
//! `/proc/PID` entries that same-user processes may read (environment,
//! memory, fd names on a kernel without Yama). Metadata and xattr reads of
//! the supervisor's `/proc/PID` pass in both modes when the profile allows
//! them everywhere: names and numbers, nothing the process can act with.
//!
//! Denials are not answered in the filter, even unreported ones: the
//! supervisor answers some calls before any check (ENOENT for a missing
//! file, CONTINUE for an fd that names a pipe or a socket call with no
//! address), so a filter-side errno would differ from it on those calls.

use super::syscalls::{self, op, Kind, Syscall, When};
use crate::blob::{action, Profile};
use crate::decision::{evaluate, Args, Branch, Decision, Verdict};
use crate::vocab::OpId;

/// Every operation a judgement of `sc` may check (whatever its arguments),
/// or `None` when the supervisor does more than judge it (a signal may be
/// aimed at the supervisor; a credential change ends fd injection).
pub fn operations(sc: &Syscall) -> Option<Vec<OpId>> {
    Some(match sc.kind {
        // `syscalls::open_operations` over every flag combination: O_PATH
        // is metadata, a creating open write-create, any other read-data
        // and/or write-data.
        Kind::Open { .. } => vec![
            op::FILE_READ_METADATA,
            op::FILE_WRITE_CREATE,
            op::FILE_READ_DATA,
            op::FILE_WRITE_DATA,
        ],
        // An exec also checks each `#!` interpreter and the ELF's loader.
        Kind::Path {
            op: op::PROCESS_EXEC,
            ..
        } => vec![
            op::PROCESS_EXEC,
            op::PROCESS_EXEC_INTERPRETER,
            op::FILE_READ_DATA,
        ],
        Kind::Path { op, .. } | Kind::Fd { op, .. } | Kind::Net { op, .. } => vec![op],
        // An exchange checks both on both names; a rename, unlink on the
        // old name and create on the new.
        Kind::Rename { .. } => vec![op::FILE_WRITE_UNLINK, op::FILE_WRITE_CREATE],
        Kind::Link { .. } => vec![op::FILE_LINK, op::FILE_WRITE_CREATE],
        Kind::Fork => vec![op::PROCESS_FORK],
        Kind::Signal(_) | Kind::Creds => return None,
    })
}

/// Whether `profile` allows `op` whatever the arguments, without a report.
pub fn allowed_unconditionally(profile: &Profile, op: OpId) -> bool {
    let d = evaluate(profile, super::op_in(profile, op), &Args::default());
    d.verdict() == Some(Verdict::Allow) && !depends_on_arguments(&d) && !reported(&d)
}

/// The syscall numbers the filter answers with ALLOW for `profile` in the
/// supervised mode.
pub fn allowed_in_filter(profile: &Profile) -> Vec<i64> {
    settled_in_filter(&|op| allowed_unconditionally(profile, op), false)
}

/// The syscall numbers whose every operation is `settled` (allowed, or
/// judged by Landlock); opens and execs only if `kernel_guards_proc` (the
/// process is in a Landlock domain: see the module doc).
pub fn settled_in_filter(settled: &dyn Fn(OpId) -> bool, kernel_guards_proc: bool) -> Vec<i64> {
    syscalls::INTERCEPTED
        .iter()
        .filter(|sc| kernel_guards_proc || !opens_or_execs(sc))
        // A syscall the filter tests by argument may refuse some (ioctl's
        // TIOCSTI, say): an answer would pass those too.
        .filter(|sc| matches!(sc.when, When::Always | When::CloneUnlessThread))
        .filter(|sc| operations(sc).is_some_and(|ops| ops.iter().all(|&op| settled(op))))
        .map(|sc| sc.nr)
        .collect()
}

/// Whether `sc` opens or executes a file: what the supervisor's guard of
/// its own `/proc/PID` must see.
pub fn opens_or_execs(sc: &Syscall) -> bool {
    matches!(
        sc.kind,
        Kind::Open { .. }
            | Kind::Path {
                op: op::PROCESS_EXEC,
                ..
            }
    )
}

/// Whether a decision is logged: a denial unless `(with no-report)` (a plain
/// deny carries the report bit), an allow only with `(with report)`.
/// Undetermined decisions always are.
pub fn reported(d: &Decision) -> bool {
    match &d.outcome {
        Err(_) => true,
        Ok(a) => {
            let m = a.modifier.map(|m| m.id);
            (a.word & action::REPORT != 0 || m == Some(3)) && m != Some(4)
        }
    }
}

/// Whether a verdict depended on the arguments: the walk tested a filter.
pub fn depends_on_arguments(d: &Decision) -> bool {
    d.steps.iter().any(|s| s.branch != Branch::Terminal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbpl;

    fn profile(src: &str) -> Profile {
        let blob = sbpl::compile(src, &Default::default()).unwrap();
        Profile::decode(&blob).unwrap()
    }

    fn names(p: &Profile) -> Vec<&'static str> {
        let answered = allowed_in_filter(p);
        syscalls::INTERCEPTED
            .iter()
            .filter(|s| answered.contains(&s.nr))
            .map(|s| s.name)
            .collect()
    }

    #[test]
    fn metadata_allowed_everywhere_answers_the_stat_family_only() {
        let p = profile(
            "(version 1) (deny default) (allow process-fork) \
             (allow file-read* (subpath \"/usr\")) (allow file-read-metadata)",
        );
        let n = names(&p);
        for name in ["newfstatat", "statx", "readlink", "fork", "clone"] {
            assert!(n.contains(&name), "{name} not answered: {n:?}");
        }
        for name in ["openat", "open", "execve", "unlinkat", "kill", "setuid"] {
            assert!(!n.contains(&name), "{name} answered: {n:?}");
        }
    }

    #[test]
    fn filters_reports_and_denials_keep_the_round_trip() {
        let p = profile(
            "(version 1) (deny default) \
             (allow file-read-metadata (subpath \"/usr\")) \
             (allow process-fork (with report)) \
             (deny file-write* (with no-report))",
        );
        assert_eq!(names(&p), Vec::<&str>::new());
    }

    #[test]
    fn allow_default_answers_every_judged_syscall_but_signals_creds_opens_and_execs() {
        let p = profile("(version 1) (allow default)");
        let answered = allowed_in_filter(&p);
        for sc in syscalls::INTERCEPTED {
            let tested = !matches!(sc.when, When::Always | When::CloneUnlessThread);
            let judged_only =
                !matches!(sc.kind, Kind::Signal(_) | Kind::Creds) && !opens_or_execs(sc) && !tested;
            assert_eq!(answered.contains(&sc.nr), judged_only, "{}", sc.name);
            let kernel = settled_in_filter(&|op| allowed_unconditionally(&p, op), true);
            let judged = !matches!(sc.kind, Kind::Signal(_) | Kind::Creds) && !tested;
            assert_eq!(
                kernel.contains(&sc.nr),
                judged,
                "{} under --kernel",
                sc.name
            );
        }
    }
}
