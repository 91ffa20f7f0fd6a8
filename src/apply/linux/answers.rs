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
//! Denials are not answered in the filter, even unreported ones: the
//! supervisor answers some calls before any check (ENOENT for a missing
//! file, CONTINUE for an fd that names a pipe or a socket call with no
//! address), so a filter-side errno would differ from it on those calls.

use super::syscalls::{self, op, Kind, Syscall};
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

/// The syscall numbers the filter answers with ALLOW for `profile`.
pub fn allowed_in_filter(profile: &Profile) -> Vec<i64> {
    settled_in_filter(&|op| allowed_unconditionally(profile, op))
}

/// The syscall numbers whose every operation is `settled` (allowed, or
/// judged by something other than the supervisor: Landlock).
pub fn settled_in_filter(settled: &dyn Fn(OpId) -> bool) -> Vec<i64> {
    syscalls::INTERCEPTED
        .iter()
        .filter(|sc| operations(sc).is_some_and(|ops| ops.iter().all(|&op| settled(op))))
        .map(|sc| sc.nr)
        .collect()
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
    fn allow_default_answers_every_judged_syscall_but_signals_and_creds() {
        let p = profile("(version 1) (allow default)");
        let answered = allowed_in_filter(&p);
        for sc in syscalls::INTERCEPTED {
            let judged_only = !matches!(sc.kind, Kind::Signal(_) | Kind::Creds);
            assert_eq!(answered.contains(&sc.nr), judged_only, "{}", sc.name);
        }
    }
}
