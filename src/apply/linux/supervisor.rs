//! The supervisor: the filter's listener, each notification judged against
//! the profile and answered (see the module above for the whole engine).

use super::answers::{depends_on_arguments, reported};
pub use super::bpf::Filter;
use super::interp;
use super::resolve::{self, Base, Request};
use super::syscalls::{self, op, Follow, Kind};
use crate::apply::log::{Event, Log};
use crate::apply::ApplyError;
use crate::blob::Profile;
use crate::decision::{evaluate, explain, Args, Decision, Verdict};
use crate::vocab::{filter, OpId, Vocab};
use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// One intercepted syscall and what the supervisor decided.
#[derive(Debug, Clone)]
pub struct Intercept {
    pub syscall: &'static str,
    /// The path (or address) as the process passed it.
    pub requested: String,
    /// The path (or address) the profile was evaluated against.
    pub resolved: String,
    /// Each operation checked, with its decision.
    pub decisions: Vec<Decision>,
    pub verdict: Verdict,
    /// The errno returned (0 when the call went ahead).
    pub errno: i32,
    /// Seatbelt-style summary of a denial: `deny(1) file-read-data /etc/hosts`.
    pub log: Option<String>,
    /// The deciding rule, as SBPL.
    pub rule: String,
    /// The supervisor opened the file and injected the fd.
    pub injected: bool,
}

/// Options of the Linux engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Match paths in macOS's layout (`/tmp` -> `/private/tmp`, ...).
    pub macos_paths: bool,
}

/// Counts over a supervised run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub allowed: u64,
    pub denied: u64,
    /// Allowed opens answered with an injected fd.
    pub injected: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.allowed += other.allowed;
        self.denied += other.denied;
        self.injected += other.injected;
    }
}

/// Answers notifications for one sandboxed process tree.
pub struct Supervisor<'p> {
    pub profile: &'p Profile,
    pub options: Options,
    /// Every judged call, when recording (the harness's traces).
    pub intercepts: Vec<Intercept>,
    pub stats: Stats,
    record: bool,
    log: Log,
    passthrough: Passthrough,
    /// Why fds are not injected, if they are not.
    no_injection: Option<&'static str>,
    /// `no_injection` as it was before any cell ran (a probe that changes
    /// its credentials turns injection off for its own cell only).
    no_injection_at_start: Option<&'static str>,
    /// The zygote forking the probes of a `sbcheck run`, whose own forks
    /// pass unjudged (see [`super::zygote`]).
    zygote: Option<i32>,
    /// The profile has a `(vnode-type ...)` filter: a path taken as
    /// written (see `judge_open`) needs its last component lstat'ed.
    asks_vnode_type: bool,
    /// Top-level names found to be symlinks (merged-/usr `/lib`, `/bin`):
    /// an open below one is taken as written from the link's target
    /// instead (see [`resolve::TopLink`]), never from the link, whose open
    /// would fail with ELOOP. Only a choice of method: each is exact, so a
    /// stale entry costs time, never a verdict.
    linked_tops: Vec<resolve::TopLink>,
    /// The main thread's watch for overlapping calls, where workers wait
    /// to answer them (see [`super::workers`]).
    #[cfg(target_os = "linux")]
    watch: Option<super::workers::Watch>,
}

/// At most this many [`Supervisor::linked_tops`].
const MAX_LINKED_TOPS: usize = 8;

/// The first component of an absolute path (`lib` of `/lib/x`).
fn top_of(path: &[u8]) -> Option<&[u8]> {
    let rest = path.strip_prefix(b"/")?;
    rest.split(|&b| b == b'/').next().filter(|t| !t.is_empty())
}

/// What became of one wait for a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A call was judged and answered.
    Answered,
    /// Nothing to answer: the caller died or gave up its call, or no
    /// process uses the filter any more (the listener then polls HUP).
    Gone,
    /// A signal to the supervisor ended the wait.
    Interrupted,
}

/// What to answer.
#[derive(Debug)]
enum Plan {
    Continue,
    Fail(i32),
    Signal { signal: i32, errno: i32 },
    Open(OpenPlan),
}

/// An open the supervisor makes on the process's behalf.
#[derive(Debug)]
struct OpenPlan {
    path: CString,
    flags: i32,
    mode: u32,
    /// The process's umask, for opens that may create.
    umask: Option<u32>,
    magic: bool,
    /// The resolution found a directory (see `open_for`).
    dir: bool,
    /// The fd, when the supervisor had to open it before answering (a
    /// verdict on the path as written holds only if this open succeeds).
    opened: Option<std::os::fd::OwnedFd>,
}

/// How a supervisor set up for measuring answers, without the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// Judged by the profile (the engine).
    Off,
    /// Every notification CONTINUE, unread: the bare cost of a round trip.
    Continue,
    /// Every `openat` answered by opening its path as written and injecting
    /// the fd, anything else CONTINUE: the least an engine that injects
    /// opens can do (read the path, open, clear O_NONBLOCK, ADDFD, close),
    /// with no resolution and no decision.
    InjectOpens,
}

/// A call the profile was asked about.
struct Checked {
    syscall: &'static str,
    requested: String,
    /// What the log shows: the (matched) path or the address.
    target: String,
    decisions: Vec<Decision>,
    /// Index of the decision that denied, if one did.
    denied: Option<usize>,
}

struct Judgement {
    plan: Plan,
    checked: Option<Checked>,
}

impl Judgement {
    fn plain(plan: Plan) -> Judgement {
        Judgement {
            plan,
            checked: None,
        }
    }
}

/// The filter arguments of one check (a file's path borrowed: no copy per
/// check).
#[derive(Default)]
struct Subject<'a> {
    path: Option<Cow<'a, [u8]>>,
    ints: Vec<(u8, u16)>,
    strings: Vec<(u8, Vec<u8>)>,
}

impl<'a> Subject<'a> {
    /// A file check: the path as matched and, when known, the Darwin
    /// vnode type `(vnode-type ...)` filters compare (without it such a
    /// filter leaves the decision undetermined, a denial).
    fn file(p: &'a Path, vtype: Option<u16>) -> Subject<'a> {
        Subject {
            path: Some(Cow::Borrowed(p.as_os_str().as_bytes())),
            ints: vtype.map(|t| (filter::VNODE_TYPE, t)).into_iter().collect(),
            ..Subject::default()
        }
    }

    fn file_owned(p: PathBuf, vtype: Option<u16>) -> Subject<'a> {
        Subject {
            path: Some(Cow::Owned(p.into_os_string().into_vec())),
            ints: vtype.map(|t| (filter::VNODE_TYPE, t)).into_iter().collect(),
            ..Subject::default()
        }
    }
}

/// The vnode type of the file at `path`, from its `st_mode` if a
/// resolution read it already, else from an lstat.
fn own_vtype(path: &Path, mode: Option<u32>) -> Option<u16> {
    match mode {
        Some(mode) => crate::apply::darwin::vtype(mode),
        None => crate::apply::darwin::vtype_of(path),
    }
}

/// The vnode type a check of `op` on `resolved` sees: the file's own type
/// (a symlink's when the call does not follow it), or for a creation the
/// type about to be created, as XNU's create check passes it; from `mode`
/// where the path's resolution read it (one lstat less).
fn vnode_type_from(syscall: &str, op: OpId, resolved: &Path, mode: Option<u32>) -> Option<u16> {
    own_vtype(resolved, mode).or_else(|| match op {
        op::FILE_WRITE_CREATE if syscall.starts_with("mkdir") => Some(2),
        op::FILE_WRITE_CREATE if syscall.starts_with("symlink") => Some(5),
        op::FILE_WRITE_CREATE if syscall.starts_with("open") || syscall == "creat" => Some(1),
        _ => None,
    })
}

impl<'p> Supervisor<'p> {
    pub fn new(profile: &'p Profile, options: Options) -> Self {
        let no_injection = injection_unsafe_because();
        Supervisor {
            profile,
            options,
            intercepts: Vec::new(),
            stats: Stats::default(),
            record: true,
            log: Log::off(),
            passthrough: Passthrough::Off,
            no_injection,
            no_injection_at_start: no_injection,
            zygote: None,
            asks_vnode_type: profile.nodes.iter().any(|n| {
                matches!(n, crate::blob::Node::Filter { filter: id, .. } if *id == filter::VNODE_TYPE)
            }),
            linked_tops: Vec::new(),
            #[cfg(target_os = "linux")]
            watch: None,
        }
    }

    /// Another supervisor of the same tree, for another thread answering
    /// the same listener: the same profile, settings and log; its own
    /// counts (added back by [`Supervisor::add_stats`]) and caches. `None`
    /// where calls are recorded or a zygote forks the probes (a cell's
    /// record and the zygote's state belong to one supervisor).
    pub fn worker(&self) -> Option<Supervisor<'p>> {
        if self.record || self.zygote.is_some() {
            return None;
        }
        let mut w = Supervisor::new(self.profile, self.options);
        w.record = false;
        w.log = self.log.clone();
        w.passthrough = self.passthrough;
        w.no_injection = self.no_injection;
        w.no_injection_at_start = self.no_injection_at_start;
        Some(w)
    }

    /// Adds a worker's counts to these.
    pub fn add_stats(&mut self, other: Stats) {
        self.stats += other;
    }

    /// Watches for overlapping calls on behalf of waiting workers.
    #[cfg(target_os = "linux")]
    pub fn set_watch(&mut self, watch: Option<super::workers::Watch>) {
        self.watch = watch;
    }

    /// The zygote whose forks are not the probes' (they pass unjudged and
    /// unrecorded); `None` when it is gone.
    pub fn set_zygote(&mut self, pid: Option<i32>) {
        self.zygote = pid;
    }

    /// A new cell under the same supervisor (a zygote's): its own record,
    /// and fd injection as it was before the previous probe ran.
    pub fn begin_cell(&mut self) {
        self.intercepts.clear();
        self.no_injection = self.no_injection_at_start;
    }

    /// Where denials (and `(with report)` allows) are logged.
    pub fn set_log(&mut self, log: Log) {
        self.log = log;
    }

    /// Whether to keep an [`Intercept`] per judged call (on by default; a
    /// long `sbcheck exec` turns it off).
    pub fn set_record(&mut self, record: bool) {
        self.record = record;
    }

    /// For measuring: answer notifications without the profile (see
    /// [`Passthrough`]).
    pub fn set_passthrough(&mut self, mode: Passthrough) {
        self.passthrough = mode;
    }

    /// Turns fd injection off (CONTINUE for every allowed open, as an
    /// engine without it would answer: for measuring and for showing the
    /// race it closes), or back on where it is safe.
    pub fn set_injection(&mut self, on: bool) {
        self.no_injection = if on {
            injection_unsafe_because()
        } else {
            Some("turned off")
        };
        self.no_injection_at_start = self.no_injection;
    }

    /// Why allowed opens are answered CONTINUE instead of by fd injection,
    /// if they are.
    pub fn injection_off(&self) -> Option<&'static str> {
        self.no_injection
    }

    /// Evaluates the checks; the first denial (or undetermined decision:
    /// an engine that cannot decide refuses) decides.
    fn check(
        &self,
        syscall: &'static str,
        requested: &[u8],
        checks: &[(OpId, Subject<'_>)],
    ) -> Checked {
        let decisions: Vec<Decision> = checks
            .iter()
            .map(|(op, s)| {
                // macOS's kernel also matches /private/tmp/x as /tmp/x (see
                // crate::macos_paths): a second value for the path filter.
                let alternate = match (&s.path, self.options.macos_paths) {
                    (Some(p), true) => crate::macos_paths::without_private_bytes(p),
                    _ => None,
                };
                let strings: Vec<(u8, &[u8])> = s
                    .strings
                    .iter()
                    .map(|(f, v)| (*f, v.as_slice()))
                    .chain(alternate.as_deref().map(|a| (filter::PATH, a)))
                    .collect();
                let args = Args {
                    path: s.path.as_deref(),
                    ints: &s.ints,
                    strings: &strings,
                };
                evaluate(self.profile, op_in(self.profile, *op), &args)
            })
            .collect();
        let denied = decisions
            .iter()
            .position(|d| d.verdict() != Some(Verdict::Allow));
        let mut checked = Checked {
            syscall,
            requested: String::new(),
            target: String::new(),
            decisions,
            denied,
        };
        if self.keeps_text(&checked) {
            checked.requested = String::from_utf8_lossy(requested).into_owned();
        }
        checked
    }

    /// Whether a check's text (the path as requested and as matched) is
    /// read by anyone: the trace when recording, the log when it will
    /// write this decision (a reported one). Else it is not formatted at
    /// all (a third of the supervisor's own work per open once went into
    /// formatting and allocating it; `sbcheck exec` logs, but only what is
    /// reported).
    fn keeps_text(&self, checked: &Checked) -> bool {
        self.record || (self.log.is_on() && Supervisor::deciding(checked).is_some_and(reported))
    }

    /// The text of the subject of the check that denied (else of the
    /// first), the path the log and the trace show, where they read it
    /// (see [`Supervisor::keeps_text`]).
    fn show_subject(&self, checked: &mut Checked, checks: &[(OpId, Subject<'_>)]) {
        let i = checked.denied.unwrap_or(0);
        if self.keeps_text(checked) {
            if let Some(p) = checks.get(i).and_then(|(_, s)| s.path.as_deref()) {
                checked.target = String::from_utf8_lossy(p).into_owned();
            }
        }
    }

    /// The plan for a denial: the errno and signal the deciding terminal's
    /// modifiers ask for (Darwin numbers in the blob, this system's here).
    fn deny_plan(checked: &Checked) -> Plan {
        let action = checked
            .denied
            .and_then(|i| checked.decisions[i].outcome.as_ref().ok());
        let errno = action
            .and_then(|a| a.errno())
            .map_or(libc::EPERM, crate::apply::darwin::errno);
        let signal = action
            .and_then(|a| a.modifier)
            .filter(|m| m.id == crate::blob::modifier::SEND_SIGNAL)
            .and_then(|m| crate::apply::darwin::signal(i32::from(m.arg)));
        match signal {
            Some(signal) => Plan::Signal { signal, errno },
            None => Plan::Fail(errno),
        }
    }

    /// The path matched against the profile: the caller's own `/proc/PID`
    /// as `/proc/self` (a profile cannot know the pid), in macOS's layout
    /// if asked.
    fn matched<'a>(&self, resolved: &'a Path, pid: i32) -> Cow<'a, Path> {
        let path = match resolve::own_proc(resolved, pid) {
            Some(own) => Cow::Owned(own),
            None => Cow::Borrowed(resolved),
        };
        if self.options.macos_paths {
            Cow::Owned(crate::macos_paths::to_macos(&path))
        } else {
            path
        }
    }

    /// The decision that decided: the first denial, else the last allow.
    fn deciding(checked: &Checked) -> Option<&Decision> {
        let i = checked.denied.or(checked.decisions.len().checked_sub(1))?;
        checked.decisions.get(i)
    }

    /// Logs a reported decision, before the answer goes out (so the line
    /// comes before whatever the process prints about it). Returns the
    /// deciding rule when it was worked out.
    fn log_decision(&mut self, pid: i32, checked: &Checked) -> String {
        let decision = Supervisor::deciding(checked);
        let logged = self.log.is_on() && decision.is_some_and(reported);
        let rule = match decision {
            Some(d) if self.record || logged => explain(self.profile, d),
            _ => String::new(),
        };
        if logged {
            // The name is the process's to choose (PR_SET_NAME): any bytes
            // but NUL; the line escapes them.
            let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = String::from_utf8_lossy(comm.strip_suffix(b"\n").unwrap_or(&comm));
            let line = Event {
                process: &comm,
                pid: resolve::tgid_of(pid),
                deny: checked.denied.is_some(),
                operation: op_name(self.profile, decision),
                target: &checked.target,
                rule: &rule,
            }
            .line();
            self.log.line(&line);
        }
        rule
    }

    /// Counts and records what was decided and answered.
    fn record(&mut self, checked: Checked, rule: String, errno: i32, injected: bool) {
        let denied = checked.denied.is_some();
        if denied {
            self.stats.denied += 1;
        } else {
            self.stats.allowed += 1;
        }
        if injected && errno == 0 {
            self.stats.injected += 1;
        }
        if !self.record {
            return;
        }
        let summary = Event {
            process: "",
            pid: 0,
            deny: denied,
            operation: op_name(self.profile, Supervisor::deciding(&checked)),
            target: &checked.target,
            rule: "",
        }
        .summary();
        self.intercepts.push(Intercept {
            syscall: checked.syscall,
            requested: checked.requested,
            resolved: checked.target,
            verdict: if denied {
                Verdict::Deny
            } else {
                Verdict::Allow
            },
            errno,
            log: denied.then_some(summary),
            rule,
            injected,
            decisions: checked.decisions,
        });
    }
}

fn op_name(profile: &Profile, decision: Option<&Decision>) -> &'static str {
    decision
        .and_then(|d| profile.vocab.op_name(d.operation))
        .unwrap_or("?")
}

/// The engine numbers operations as macOS 14.4.1 does; a profile in another
/// vocabulary (iOS 26 numbers the file operations one higher) is asked by
/// name. A name the profile's vocabulary lacks gives an id past its op
/// table: undetermined, so refused.
pub fn op_in(profile: &Profile, op: OpId) -> OpId {
    let macos = Vocab::macos_14();
    if std::ptr::eq(profile.vocab, macos) {
        return op;
    }
    macos
        .op_name(op)
        .and_then(|name| profile.vocab.op_id(name))
        .unwrap_or(OpId::MAX)
}

/// The filter for `profile`: the syscalls it allows whatever the arguments
/// and without a report are answered in the filter (see [`super::answers`]).
pub fn filter_for(profile: &Profile) -> Filter {
    Filter::answering(&super::answers::allowed_in_filter(profile))
}

/// Why fds opened by the supervisor could give the process rights it would
/// not have itself; `None` when injection is safe. The child starts with
/// the supervisor's credentials; they stay equal unless the child changes
/// them (notified: see [`Kind::Creds`]) or an exec changes its capabilities,
/// which it cannot when the supervisor's are either none at all or the full
/// bounding set, with no ambient ones.
fn injection_unsafe_because() -> Option<&'static str> {
    // One read of /proc/self/status (tens of microseconds: a cell's
    // Supervisor::new used to read it once per field).
    let status = resolve::read_proc("/proc/self/status").unwrap_or_default();
    let field = |name| resolve::field(&status, name).and_then(|v| u64::from_str_radix(v, 16).ok());
    match (
        field("CapEff:"),
        field("CapPrm:"),
        field("CapBnd:"),
        field("CapAmb:"),
    ) {
        (Some(eff), Some(prm), Some(bnd), Some(amb)) if caps_survive_exec(eff, prm, bnd, amb) => {
            None
        }
        (Some(_), ..) => Some("the supervisor's capabilities would change at the child's exec"),
        _ => Some("the supervisor's capabilities cannot be read"),
    }
}

/// No capabilities at all, or all of the bounding set and no ambient ones:
/// what an exec leaves as it is.
fn caps_survive_exec(eff: u64, prm: u64, bnd: u64, amb: u64) -> bool {
    amb == 0 && eff == prm && (eff == 0 || eff == bnd)
}

#[cfg(target_os = "linux")]
mod engine {
    use super::super::net::{Address, Socket};
    use super::super::notify::{self, errno};
    use super::*;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};

    impl Filter {
        /// Installs the filter in the calling process and returns the
        /// listener fd, or the errno of the step that failed.
        ///
        /// Async-signal-safe: raw syscalls on memory prepared before `fork()`.
        pub fn install(&self) -> Result<RawFd, i32> {
            if !cfg!(target_arch = "x86_64") {
                return Err(libc::ENOSYS);
            }
            let program = self.program();
            let prog = libc::sock_fprog {
                len: program.len() as u16,
                filter: program.as_ptr() as *mut libc::sock_filter,
            };
            // No core dump, ever, from the sandboxed tree: a crash would
            // have the kernel write `core` into the process's cwd, where no
            // check sees it. The hard limit too, and the filter refuses
            // setting RLIMIT_CORE again (root could raise a hard limit).
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: setrlimit reads the struct on our stack.
            if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
                return Err(errno());
            }
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(errno());
            }
            if let Some(ruleset) = self.landlock() {
                crate::apply::linux::landlock::restrict_self(ruleset)?;
            }
            // Yama's ptrace_scope=1 lets only ancestors read our memory; the
            // supervisor is our parent, so name it (it stays the tracer even
            // if we are reparented).
            // SAFETY: integer arguments; failure is harmless (no Yama).
            unsafe {
                libc::prctl(
                    libc::PR_SET_PTRACER,
                    libc::getppid() as libc::c_ulong,
                    0,
                    0,
                    0,
                )
            };
            let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
            // SAFETY: `prog` points at the program (an array of
            // `struct sock_filter`, which `Insn` mirrors), alive for the
            // call; the kernel copies it.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            if fd < 0 {
                return Err(errno());
            }
            Ok(fd as RawFd)
        }
    }

    /// Takes the listener fd `fd` of process `pid` into this process
    /// (through `pidfd`, the caller's pidfd of `pid`, if it has one) and
    /// asks for synchronous wake-ups if `sync_wakeups`.
    pub fn take_listener(
        pid: i32,
        pidfd: Option<&OwnedFd>,
        fd: RawFd,
        sync_wakeups: bool,
    ) -> Result<OwnedFd, ApplyError> {
        let sys = |call| move |errno| ApplyError::Sys { call, errno };
        let own;
        let pidfd = match pidfd {
            Some(p) => p,
            None => {
                own = notify::pidfd(pid).map_err(sys("pidfd_open"))?;
                &own
            }
        };
        let listener = notify::getfd(pidfd, fd).map_err(sys("pidfd_getfd"))?;
        if sync_wakeups {
            let _ = notify::set_sync_wake_up(&listener);
        }
        Ok(listener)
    }

    impl Supervisor<'_> {
        /// Receives and answers one notification, waiting for it if none
        /// is pending.
        pub fn handle_one(&mut self, listener: &OwnedFd) -> Result<Handled, ApplyError> {
            let req = match notify::recv(listener) {
                Ok(r) => r,
                Err(libc::ENOENT) => return Ok(Handled::Gone),
                // A signal (Ctrl-C in `sbcheck run`) interrupted the wait:
                // the notification stays pending for the next poll.
                Err(libc::EINTR) => return Ok(Handled::Interrupted),
                Err(errno) => {
                    return Err(ApplyError::Sys {
                        call: "SECCOMP_IOCTL_NOTIF_RECV",
                        errno,
                    })
                }
            };
            if let Some(w) = &mut self.watch {
                w.seen(listener, req.pid as i32);
            }
            Ok(if self.answer_one(listener, &req)? {
                Handled::Answered
            } else {
                Handled::Gone
            })
        }

        /// Judges and answers `req`: `Ok(false)` when its caller died before
        /// it could be answered.
        fn answer_one(
            &mut self,
            listener: &OwnedFd,
            req: &libc::seccomp_notif,
        ) -> Result<bool, ApplyError> {
            if self.passthrough == Passthrough::Continue || self.zygote_forks(req) {
                return Ok(notify::send_continue(listener, req.id).is_ok());
            }
            if self.passthrough == Passthrough::InjectOpens {
                let plan = unjudged_open(req);
                return Ok(self.answer(listener, req, plan).0);
            }
            let j = self.judge(req);
            // What we read through the pid is only trustworthy if the call
            // is still pending (the pid was not reused meanwhile). Checked
            // where acting on a stale reading would do harm (see
            // `acts_on_target`); otherwise the answer itself fails with
            // ENOENT for a call no longer pending, so a stale decision
            // reaches nobody, and the ioctl (a tenth of the round trip) is
            // saved.
            if self.acts_on_target(&j) && !notify::id_valid(listener, req.id) {
                return Ok(false);
            }
            let rule = match &j.checked {
                Some(checked) => self.log_decision(req.pid as i32, checked),
                None => String::new(),
            };
            let (sent, errno, injected) = self.answer(listener, req, j.plan);
            if let Some(checked) = j.checked {
                self.record(checked, rule, errno, injected);
            }
            Ok(sent)
        }

        /// A fork of the zygote itself: it forks every probe, which is not
        /// the probe's own fork (that one, from another pid, is judged).
        fn zygote_forks(&self, req: &libc::seccomp_notif) -> bool {
            self.zygote == Some(req.pid as i32)
                && syscalls::lookup(i64::from(req.data.nr)).is_some_and(|sc| sc.kind == Kind::Fork)
        }

        /// Whether carrying out `j` does something before (or besides) the
        /// answer that must not happen for a caller that is gone: signal
        /// its pid, write a log line naming it, or create or truncate a
        /// file with its umask and path. Plain answers (CONTINUE, an errno,
        /// an injected fd of a file opened without side effects) need no
        /// check.
        fn acts_on_target(&self, j: &Judgement) -> bool {
            let logged = j
                .checked
                .as_ref()
                .is_some_and(|c| self.log.is_on() && Supervisor::deciding(c).is_some_and(reported));
            logged
                || match &j.plan {
                    Plan::Continue | Plan::Fail(_) => false,
                    Plan::Signal { .. } => true,
                    Plan::Open(open) => {
                        open.umask.is_some() || syscalls::open_has_side_effects(open.flags as u64)
                    }
                }
        }

        /// Carries out a plan: `(answered, errno returned, fd injected)`.
        fn answer(
            &mut self,
            listener: &OwnedFd,
            req: &libc::seccomp_notif,
            plan: Plan,
        ) -> (bool, i32, bool) {
            let id = req.id;
            match plan {
                Plan::Continue => (notify::send_continue(listener, id).is_ok(), 0, false),
                Plan::Fail(e) => (notify::send_error(listener, id, e).is_ok(), e, false),
                Plan::Signal { signal, errno } => {
                    // SAFETY: kill takes integers; a thread id signals its
                    // whole process.
                    unsafe { libc::kill(req.pid as i32, signal) };
                    (
                        notify::send_error(listener, id, errno).is_ok(),
                        errno,
                        false,
                    )
                }
                Plan::Open(mut open) => {
                    match open.opened.take().map_or_else(|| open_for(&open), Ok) {
                        Ok(fd) => {
                            let cloexec = open.flags & libc::O_CLOEXEC != 0;
                            match notify::send_fd(listener, id, &fd, cloexec) {
                                Ok(_) => (true, 0, true),
                                Err(libc::ENOENT) => (false, 0, true),
                                Err(e) => (notify::send_error(listener, id, e).is_ok(), e, true),
                            }
                        }
                        // The checked path itself fails: so would the call.
                        Err(e) => (notify::send_error(listener, id, e).is_ok(), e, true),
                    }
                }
            }
        }

        fn judge(&mut self, req: &libc::seccomp_notif) -> Judgement {
            let Some(sc) = syscalls::lookup(i64::from(req.data.nr)) else {
                // Not ours to judge: the filter only sends intercepted calls.
                return Judgement::plain(Plan::Continue);
            };
            let pid = req.pid as i32;
            let args = req.data.args;
            let result = match sc.kind {
                Kind::Open { dirfd, path, flags } => {
                    self.judge_open(sc.name, pid, &args, dirfd, path, flags)
                }
                Kind::Path {
                    op,
                    dirfd,
                    path,
                    follow,
                    at,
                } => self.judge_path(sc.name, pid, &args, op, dirfd, path, follow, at),
                Kind::Fd { op, fd } => self.judge_fd(sc.name, pid, op, args[fd] as i32),
                Kind::Rename {
                    olddir,
                    old,
                    newdir,
                    new,
                    flags,
                } => self.judge_rename(sc.name, pid, &args, (olddir, old), (newdir, new), flags),
                Kind::Link {
                    olddir,
                    old,
                    newdir,
                    new,
                    flags,
                } => self.judge_link(sc.name, pid, &args, (olddir, old), (newdir, new), flags),
                Kind::Signal(target) => Ok(Judgement::plain(signal_plan(
                    pid,
                    req.data.nr,
                    &args,
                    target,
                ))),
                Kind::Net { op, addr } => self.judge_net(sc.name, pid, &args, op, addr),
                Kind::Fork => {
                    let checked =
                        self.check(sc.name, b"", &[(op::PROCESS_FORK, Subject::default())]);
                    Ok(self.plan(checked, |_| Plan::Continue))
                }
                Kind::Creds => Ok(Judgement::plain(creds_plan(pid, req.data.nr, &args))),
            };
            result.unwrap_or_else(|e| Judgement::plain(Plan::Fail(e)))
        }

        /// Denied: the modifiers' answer; allowed: `allowed(checked)`.
        fn plan(&self, checked: Checked, allowed: impl FnOnce(&Checked) -> Plan) -> Judgement {
            let plan = if checked.denied.is_some() {
                Supervisor::deny_plan(&checked)
            } else {
                allowed(&checked)
            };
            Judgement {
                plan,
                checked: Some(checked),
            }
        }

        /// An open. A plain one (no create, truncate or tmpfile: nothing
        /// happens before the answer that a wrong verdict would leave
        /// behind) of an absolute path, or of plain names relative to the
        /// cwd or a dirfd, is first decided on the path as written; that
        /// verdict stands only if it is an injected open that the
        /// supervisor's RESOLVE_NO_SYMLINKS open carries out (see
        /// `resolve::resolve_literal`), and that open's ENOENT is the
        /// answer. Anything else (a denial, an errno, CONTINUE, a symlink
        /// on the way) is decided again from the kernel's lookup where that
        /// is exact (`resolve::resolve_kernel`), else from the full walk.
        fn judge_open(
            &mut self,
            name: &'static str,
            pid: i32,
            args: &[u64; 6],
            dirfd: Option<usize>,
            path: usize,
            flags: syscalls::Flags,
        ) -> Result<Judgement, i32> {
            let openat2 = matches!(flags, syscalls::Flags::OpenHow(_));
            let (flags, mode) = open_flags(pid, flags, args)?;
            let raw = read_path(pid, args[path])?;
            if raw.is_empty() {
                return Err(libc::ENOENT);
            }
            let req = Request {
                pid,
                base: base(dirfd, args),
                path: &raw,
                follow_last: !syscalls::open_nofollow(flags),
            };
            // Without injection no verdict as written can stand. (Where the
            // verdict ignores the path, the attempt costs a decision, ~0.1
            // µs, before the walk.) Below a top-level name known to be a
            // symlink (merged-/usr `/lib`), the path is taken as written
            // from the link's target, once a readlink shows the link
            // unchanged (`linked_tops`); as written from `/lib` it would
            // only fail with ELOOP.
            let top = top_of(&raw);
            let link = top.and_then(|t| self.linked_tops.iter().find(|l| l.top() == t));
            let linked = link.is_some();
            let through = link.and_then(|l| l.below(&raw));
            let written = match &through {
                Some(p) => Some(Request { path: p, ..req }),
                None => (!linked).then_some(req),
            };
            // The open as written met a symlink.
            let mut looped = false;
            let literal = written
                .filter(|_| self.no_injection.is_none() && !syscalls::open_has_side_effects(flags))
                .and_then(|w| resolve::resolve_literal(&w, self.asks_vnode_type));
            if let Some(literal) = literal {
                let mut j = self.judge_resolved(name, pid, &raw, openat2, (flags, mode), literal);
                if let Plan::Open(open) = &mut j.plan {
                    match open_for(open) {
                        Ok(fd) => {
                            open.opened = Some(fd);
                            return Ok(j);
                        }
                        // A name of the path is missing, every one before
                        // it a directory and no symlink: the walk would stop
                        // there too, with ENOENT before any check.
                        Err(libc::ENOENT) => return Err(libc::ENOENT),
                        Err(e) => looped = e == libc::ELOOP,
                    }
                }
            }
            // The kernel's lookup where it is exact (a missing name is
            // ENOENT to an open that does not create; nothing is created
            // or truncated on the way) and cheaper than the walk (a
            // symlink met, `.` or `..`, or four names or more: its three
            // syscalls, one a readlink of its fd, against an lstat
            // per name), else the walk.
            let cheaper = looped
                || linked
                || resolve::components(&raw).count() >= 4
                || resolve::components(&raw).any(|c| c == b"." || c == b"..");
            let resolved = match (cheaper && !syscalls::open_has_side_effects(flags))
                .then(|| resolve::resolve_kernel(&req, self.asks_vnode_type))
                .flatten()
            {
                Some(held) => held?.resolved,
                None => resolve::resolve_sandboxed(&req)?,
            };
            if let Some(top) = top.filter(|_| looped && !linked) {
                self.note_linked_top(top, resolved.path.as_os_str().as_bytes());
            }
            Ok(self.judge_resolved(name, pid, &raw, openat2, (flags, mode), resolved))
        }

        /// Remembers `top` as a symlink when an absolute path below it
        /// resolved elsewhere (`/lib/x` to `/usr/lib/x`).
        fn note_linked_top(&mut self, top: &[u8], resolved: &[u8]) {
            let below = resolved
                .strip_prefix(b"/")
                .and_then(|r| r.strip_prefix(top))
                .is_some_and(|r| r.is_empty() || r[0] == b'/');
            if !below && self.linked_tops.len() < MAX_LINKED_TOPS {
                if let Some(link) = resolve::TopLink::learn(top) {
                    self.linked_tops.push(link);
                }
            }
        }

        /// The verdict and answer for an open of `raw`, resolved.
        fn judge_resolved(
            &self,
            name: &'static str,
            pid: i32,
            raw: &[u8],
            openat2: bool,
            (flags, mode): (u64, u64),
            resolved: resolve::Resolved,
        ) -> Judgement {
            // As on macOS, the lookup fails before any check: a missing
            // file is ENOENT, not a denial.
            if !resolved.exists() && !syscalls::open_creates(flags) {
                return Judgement::plain(Plan::Fail(libc::ENOENT));
            }
            let ops = syscalls::open_operations(flags, resolved.exists());
            let matched = self.matched(&resolved.path, pid);
            // A path taken as written has no type: a vnode-type filter
            // leaves its verdict undetermined, and the full walk decides.
            // Without such a filter the type is read by nothing.
            let unchecked = resolved.last == resolve::Last::Unchecked || !self.asks_vnode_type;
            let checks: Vec<(OpId, Subject<'_>)> = ops
                .as_slice()
                .iter()
                .map(|&o| {
                    let vtype = if unchecked {
                        None
                    } else {
                        vnode_type_from(name, o, &resolved.path, resolved.mode)
                    };
                    (o, Subject::file(&matched, vtype))
                })
                .collect();
            let mut checked = self.check(name, raw, &checks);
            self.show_subject(&mut checked, &checks);
            let creates = syscalls::open_creates(flags);
            let needs_fd = openat2 || creates || checked.decisions.iter().any(depends_on_arguments);
            // Where the supervisor cannot open the file for the process:
            // O_PATH fds cannot be injected (the kernel's fget refuses them;
            // they only reach metadata and are checked again when reopened);
            // /dev/tty names the opener's own terminal.
            let cannot = flags as i32 & libc::O_PATH != 0
                || resolved.path.as_os_str().as_bytes() == b"/dev/tty"
                || self.no_injection.is_some();
            // openat2's flags live in memory: only an injected fd makes sure
            // the checked ones are used, so without one the caller falls back
            // to openat.
            let fallback = if openat2 {
                Plan::Fail(libc::ENOSYS)
            } else {
                Plan::Continue
            };
            self.plan(checked, |_| {
                if !needs_fd {
                    return Plan::Continue;
                }
                if cannot {
                    return fallback;
                }
                let umask = if creates {
                    match resolve::status_field(pid, "Umask:")
                        .and_then(|u| u32::from_str_radix(&u, 8).ok())
                    {
                        Some(u) => Some(u),
                        None => return fallback,
                    }
                } else {
                    None
                };
                // The resolved path's own buffer becomes the C string.
                match CString::new(resolved.path.into_os_string().into_vec()) {
                    Ok(path) => Plan::Open(OpenPlan {
                        path,
                        flags: flags as i32,
                        mode: mode as u32 & 0o7777,
                        umask,
                        magic: resolved.magic,
                        dir: resolved.last == resolve::Last::Dir,
                        opened: None,
                    }),
                    Err(_) => Plan::Fail(libc::EINVAL),
                }
            })
        }

        #[allow(clippy::too_many_arguments)]
        fn judge_path(
            &self,
            name: &'static str,
            pid: i32,
            args: &[u64; 6],
            op: OpId,
            dirfd: Option<usize>,
            path: usize,
            follow: Follow,
            at: Option<usize>,
        ) -> Result<Judgement, i32> {
            let at_flags = at.map_or(0, |i| args[i] as i32);
            let on_fd = |fd: i32| -> Result<Judgement, i32> {
                // The call acts on an fd already open: reads pass (fstat),
                // changes are checked against the file it names.
                if op == op::FILE_READ_METADATA || op == op::FILE_READ_XATTR {
                    return Ok(Judgement::plain(Plan::Continue));
                }
                if fd == libc::AT_FDCWD {
                    let cwd = resolve::resolve_sandboxed(&Request {
                        pid,
                        base: Base::Cwd,
                        path: b".",
                        follow_last: true,
                    })?;
                    return Ok(self.judge_file(name, pid, b"", File::at(&cwd.path, cwd.mode), op));
                }
                self.judge_fd(name, pid, op, fd)
            };
            // utimensat(fd, NULL, ...) is futimens(fd).
            if args[path] == 0 && name == "utimensat" {
                return on_fd(args[0] as i32);
            }
            let raw = read_path(pid, args[path])?;
            if raw.is_empty() {
                return match dirfd {
                    Some(d) if at_flags & libc::AT_EMPTY_PATH != 0 => on_fd(args[d] as i32),
                    _ => Err(libc::ENOENT),
                };
            }
            let follow_last = match follow {
                Follow::Always => true,
                Follow::Never => false,
                Follow::UnlessNofollow => at_flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            };
            let req = Request {
                pid,
                base: base(dirfd, args),
                path: &raw,
                follow_last,
            };
            // The kernel's lookup for an exec (whose file is then read
            // through the fd it returns) and for a path long enough that
            // the walk would cost more (an lstat per component against
            // three syscalls); never for a create, to which a missing name
            // is no error.
            let exec = op == op::PROCESS_EXEC;
            let kernel =
                op != op::FILE_WRITE_CREATE && (exec || resolve::components(&raw).count() >= 4);
            let (resolved, held) = match kernel
                .then(|| resolve::resolve_kernel(&req, exec || self.asks_vnode_type))
                .flatten()
            {
                Some(found) => {
                    let held = found?;
                    (held.resolved, Some((held.fd, held.stamp)))
                }
                None => (resolve::resolve_sandboxed(&req)?, None),
            };
            if !resolved.exists() && op != op::FILE_WRITE_CREATE {
                return Err(libc::ENOENT);
            }
            let file = File {
                path: &resolved.path,
                mode: resolved.mode,
                held: held.as_ref().map(|(fd, _)| fd),
                stamp: held.as_ref().and_then(|(_, stamp)| *stamp),
            };
            Ok(self.judge_file(name, pid, &raw, file, op))
        }

        /// The vnode type a check of `op` on `path` passes, where the
        /// profile reads one (else no lstat for it).
        fn vtype(&self, name: &str, op: OpId, path: &Path, mode: Option<u32>) -> Option<u16> {
            if self.asks_vnode_type {
                vnode_type_from(name, op, path, mode)
            } else {
                None
            }
        }

        /// One operation on one resolved file; allowed calls continue.
        fn judge_file(
            &self,
            name: &'static str,
            pid: i32,
            raw: &[u8],
            file: File<'_>,
            op: OpId,
        ) -> Judgement {
            let matched = self.matched(file.path, pid);
            let vtype = self.vtype(name, op, file.path, file.mode);
            let mut checks = vec![(op, Subject::file(&matched, vtype))];
            if op == op::PROCESS_EXEC {
                let interpreters = match interpreters(pid, &file, self.asks_vnode_type) {
                    Ok(found) => found,
                    Err(e) => return Judgement::plain(Plan::Fail(e)),
                };
                for (path, op, mode) in interpreters {
                    let vtype = self.vtype(name, op, &path, mode);
                    let m = self.matched(&path, pid).into_owned();
                    checks.push((op, Subject::file_owned(m, vtype)));
                }
            }
            let mut checked = self.check(name, raw, &checks);
            self.show_subject(&mut checked, &checks);
            self.plan(checked, |_| Plan::Continue)
        }

        fn judge_fd(
            &self,
            name: &'static str,
            pid: i32,
            op: OpId,
            fd: i32,
        ) -> Result<Judgement, i32> {
            let path = resolve::fd_path(pid, fd).ok_or(libc::EBADF)?;
            if !path.is_absolute() {
                // A pipe or socket: no file, nothing Seatbelt checks.
                return Ok(Judgement::plain(Plan::Continue));
            }
            Ok(self.judge_file(name, pid, b"", File::at(&path, None), op))
        }

        fn judge_rename(
            &self,
            name: &'static str,
            pid: i32,
            args: &[u64; 6],
            old: (Option<usize>, usize),
            new: (Option<usize>, usize),
            flags: Option<usize>,
        ) -> Result<Judgement, i32> {
            let exchange = flags.is_some_and(|i| args[i] as u32 & libc::RENAME_EXCHANGE != 0);
            // (matched path, operations, vnode type) of the old and the new
            // name; the new name gets the moved file's vnode type (an
            // exchange keeps both files, each its own).
            let mut names = Vec::with_capacity(2);
            let mut requested = Vec::with_capacity(2);
            let mut moved = None;
            for (arg, first) in [(old, true), (new, false)] {
                let (raw, r) = resolve_arg(pid, args, arg, false)?;
                if first && !r.exists() {
                    return Err(libc::ENOENT);
                }
                let ops: &[OpId] = match (exchange, first) {
                    (true, _) => &[op::FILE_WRITE_UNLINK, op::FILE_WRITE_CREATE],
                    (false, true) => &[op::FILE_WRITE_UNLINK],
                    (false, false) => &[op::FILE_WRITE_CREATE],
                };
                let own = own_vtype(&r.path, r.mode);
                let vtype = if first || exchange { own } else { moved };
                moved = moved.or(own);
                names.push((self.matched(&r.path, pid).into_owned(), ops, vtype));
                requested.push(String::from_utf8_lossy(&raw).into_owned());
            }
            let each = || {
                names
                    .iter()
                    .flat_map(|(m, ops, vt)| ops.iter().map(move |&o| (m, o, *vt)))
            };
            let checks: Vec<_> = each().map(|(m, o, vt)| (o, Subject::file(m, vt))).collect();
            let mut checked = self.check(name, requested.join(" -> ").as_bytes(), &checks);
            // The log names the path that was denied (or the new name).
            let i = checked.denied.unwrap_or(checks.len() - 1);
            checked.target = each()
                .nth(i)
                .map_or_else(String::new, |(m, ..)| m.display().to_string());
            Ok(self.plan(checked, |_| Plan::Continue))
        }

        /// A hard link: file-link on the existing file, file-write-create
        /// on the new name; the log names the one denied.
        fn judge_link(
            &self,
            name: &'static str,
            pid: i32,
            args: &[u64; 6],
            old: (Option<usize>, usize),
            new: (Option<usize>, usize),
            flags: Option<usize>,
        ) -> Result<Judgement, i32> {
            let at = flags.map_or(0, |i| args[i] as i32);
            let old_raw = read_path(pid, args[old.1])?;
            // The file and, where the walk read it, its mode.
            let (source, mode) = if old_raw.is_empty() {
                // linkat(fd, "", ..., AT_EMPTY_PATH): the file the fd names.
                match old.0 {
                    Some(d) if at & libc::AT_EMPTY_PATH != 0 => (
                        resolve::fd_path(pid, args[d] as i32).ok_or(libc::EBADF)?,
                        None,
                    ),
                    _ => return Err(libc::ENOENT),
                }
            } else {
                let r = resolve::resolve_sandboxed(&Request {
                    pid,
                    base: base(old.0, args),
                    path: &old_raw,
                    follow_last: at & libc::AT_SYMLINK_FOLLOW != 0,
                })?;
                if !r.exists() {
                    return Err(libc::ENOENT);
                }
                (r.path, r.mode)
            };
            let (new_raw, target) = resolve_arg(pid, args, new, false)?;
            let shown = [self.matched(&source, pid), self.matched(&target.path, pid)];
            // The new name will be the same file: the source's vnode type.
            let vtype = vnode_type_from(name, op::FILE_LINK, &source, mode);
            let checks = [
                (op::FILE_LINK, Subject::file(&shown[0], vtype)),
                (op::FILE_WRITE_CREATE, Subject::file(&shown[1], vtype)),
            ];
            let requested = format!(
                "{} -> {}",
                String::from_utf8_lossy(&old_raw),
                String::from_utf8_lossy(&new_raw)
            );
            let mut checked = self.check(name, requested.as_bytes(), &checks);
            checked.target = shown[checked.denied.unwrap_or(1)].display().to_string();
            Ok(self.plan(checked, |_| Plan::Continue))
        }

        fn judge_net(
            &self,
            name: &'static str,
            pid: i32,
            args: &[u64; 6],
            op: OpId,
            addr: syscalls::Addr,
        ) -> Result<Judgement, i32> {
            let addresses = read_addresses(pid, args, addr)?;
            if addresses.is_empty() {
                // No address: a connected socket, checked at connect.
                return Ok(Judgement::plain(Plan::Continue));
            }
            let pidfd = notify::pidfd(pid)?;
            let sock = notify::getfd(&pidfd, args[0] as RawFd)?;
            let socket = Socket::of(&sock)?;
            let mut checks = Vec::new();
            let mut shown = Vec::new();
            for bytes in &addresses {
                let address = Address::parse(bytes);
                let path = match &address {
                    Address::Unspec => continue,
                    Address::Unix(p) if !p.is_empty() => {
                        let r = resolve::resolve_sandboxed(&Request {
                            pid,
                            base: Base::Cwd,
                            path: p,
                            follow_last: op != op::NETWORK_BIND,
                        })?;
                        self.matched(&r.path, pid).as_os_str().as_bytes().to_vec()
                    }
                    // No path: a path filter must not match (an empty path
                    // matches no literal, subpath or prefix of a path).
                    _ => Vec::new(),
                };
                let shown_as = if path.is_empty() {
                    address.to_string()
                } else {
                    String::from_utf8_lossy(&path).into_owned()
                };
                checks.push((
                    op,
                    Subject {
                        path: Some(Cow::Owned(path)),
                        ints: socket.filter_args().to_vec(),
                        // A plain socket has no kernel-control name: the
                        // compiler's flow-divert test must not match. The
                        // address is the `local` (bind) or `remote` end.
                        strings: vec![
                            (filter::CONTROL_NAME, Vec::new()),
                            (net_end(op), address.endpoint(&socket)),
                        ],
                    },
                ));
                shown.push(shown_as);
            }
            if checks.is_empty() {
                return Ok(Judgement::plain(Plan::Continue));
            }
            let mut checked = self.check(name, shown.join(", ").as_bytes(), &checks);
            checked.target = shown.swap_remove(checked.denied.unwrap_or(0));
            Ok(self.plan(checked, |_| Plan::Continue))
        }
    }

    /// The filter a socket call's address is: bind names the local end,
    /// connect and sendto the remote one.
    fn net_end(op: OpId) -> u8 {
        if op == op::NETWORK_BIND {
            filter::LOCAL
        } else {
            filter::REMOTE
        }
    }

    /// The answer to a signal call: EPERM when it could reach the
    /// supervisor, else CONTINUE (Seatbelt's `signal` operation is not
    /// modelled; other processes are the kernel's business).
    fn signal_plan(tid: i32, nr: i32, args: &[u64; 6], target: syscalls::Target) -> Plan {
        let is_prlimit = i64::from(nr) == libc::SYS_prlimit64;
        let me = resolve::own_pid();
        let own_group = || {
            // SAFETY: getpgrp takes no arguments.
            unsafe { libc::getpgrp() }
        };
        let is_me = |pid: i32| pid > 0 && resolve::tgid_of(pid) == me;
        let reaches_me = match target {
            syscalls::Target::Pid => match args[0] as i32 {
                -1 => true,
                0 => caller_group(tid) == Some(own_group()),
                pid if pid < 0 => -pid == own_group(),
                pid => is_me(pid),
            },
            syscalls::Target::Tid => is_me(args[0] as i32),
            syscalls::Target::Tgid => is_me(args[0] as i32) || is_me(args[1] as i32),
            syscalls::Target::Pidfd => pidfd_target(tid, args[0] as i32).is_some_and(is_me),
            // -1 (perf's every process, or a bad pid) is refused too.
            syscalls::Target::Process => match args[0] as i32 {
                0 => false,
                pid => pid < 0 || is_me(pid),
            },
            syscalls::Target::Owner => match args[2] as i32 {
                0 => false,
                pid if pid < 0 => pid == i32::MIN || -pid == own_group(),
                pid => is_me(pid),
            },
            syscalls::Target::Which(process) => {
                let who = args[1] as i32;
                match args[0].wrapping_sub(process) {
                    0 => who != 0 && is_me(who),
                    1 => match who {
                        0 => caller_group(tid) == Some(own_group()),
                        g => g == own_group(),
                    },
                    // A user: every process of that uid, the supervisor's
                    // among them when the uid is its own (0: the caller's,
                    // which is the supervisor's, see `creds_plan`).
                    2 => who == 0 || who as u32 == supervisor_uid(),
                    _ => false,
                }
            }
        };
        // A new core dump limit: none but the 0 the child started with.
        if target == syscalls::Target::Process
            && args[1] == libc::RLIMIT_CORE as u64
            && args[2] != 0
            && is_prlimit
        {
            return Plan::Fail(libc::EPERM);
        }
        if reaches_me {
            Plan::Fail(libc::EPERM)
        } else {
            Plan::Continue
        }
    }

    /// What an exec of `program` (resolved) runs besides it, resolved as
    /// the kernel opens each (from the caller's cwd), with the operation
    /// it is checked as: the `#!` interpreters (process-exec-interpreter,
    /// macOS's operation for them), each of which may be a script again,
    /// and the PT_INTERP of the ELF file at the end of that chain
    /// (file-read-data: the loader is mapped like a library, as dyld is on
    /// macOS, where no exec check names it). An interpreter the kernel
    /// could not reach (missing, a loop) is left to the exec to fail on.
    ///
    /// Each is resolved by the kernel's lookup where that is exact (see
    /// `resolve::resolve_kernel`) and read through the fd it returns;
    /// with each its `st_mode` where known (`want_mode`: the profile reads
    /// vnode types; a script's is always read, for the next file).
    fn interpreters(
        pid: i32,
        program: &File<'_>,
        want_mode: bool,
    ) -> Result<Vec<(PathBuf, OpId, Option<u32>)>, i32> {
        let mut found = Vec::new();
        let mut next = match (program.held, program.mode) {
            (Some(fd), Some(mode)) => interp::next_of_fd(fd, mode, program.stamp),
            _ => interp::next_of(program.path),
        };
        for _ in 0..=interp::MAX_DEPTH {
            let (path, op) = match next {
                interp::Next::Script(p) => (p, op::PROCESS_EXEC_INTERPRETER),
                interp::Next::Loader(p) => (p, op::FILE_READ_DATA),
                interp::Next::None => break,
            };
            let script = op == op::PROCESS_EXEC_INTERPRETER;
            let req = Request {
                pid,
                base: Base::Cwd,
                path: &path,
                follow_last: true,
            };
            let (resolved, held) = match resolve::resolve_kernel(&req, script || want_mode) {
                Some(Ok(held)) => (held.resolved, Some((held.fd, held.stamp))),
                // Missing or below a file: the exec fails on it.
                Some(Err(_)) => break,
                None => match resolve::resolve_sandboxed(&req) {
                    Ok(r) if r.exists() => (r, None),
                    Err(libc::EPERM) => return Err(libc::EPERM),
                    _ => break,
                },
            };
            found.push((resolved.path.clone(), op, resolved.mode));
            if !script {
                break;
            }
            next = match (&held, resolved.mode) {
                (Some((fd, stamp)), Some(mode)) => interp::next_of_fd(fd, mode, *stamp),
                _ => interp::next_of(&resolved.path),
            };
        }
        Ok(found)
    }

    /// A resolved file a check is about: its path, its `st_mode` where the
    /// resolution read it, and the `O_PATH` fd the kernel's lookup
    /// returned, where it made one.
    struct File<'a> {
        path: &'a Path,
        mode: Option<u32>,
        held: Option<&'a OwnedFd>,
        /// Its identity as of the resolution's fstat, where one was made.
        stamp: Option<resolve::Stamp>,
    }

    impl<'a> File<'a> {
        fn at(path: &'a Path, mode: Option<u32>) -> File<'a> {
            File {
                path,
                mode,
                held: None,
                stamp: None,
            }
        }
    }

    /// The answer to a call that may change credentials: CONTINUE when it
    /// changes nothing, else EPERM. The sandboxed tree keeps the
    /// credentials it started with (the supervisor's), so an fd the
    /// supervisor opens never carries rights the process gave up, and fd
    /// injection stays on for good. Calls whose new values live in memory
    /// (setgroups with a list, capset) are refused outright: a sibling
    /// thread could rewrite them after the check.
    fn creds_plan(tid: i32, nr: i32, args: &[u64; 6]) -> Plan {
        let Some(status) = resolve::read_proc(&format!("/proc/{tid}/status")) else {
            return Plan::Fail(libc::ESRCH);
        };
        let ids = |name| -> Vec<u32> {
            resolve::field(&status, name)
                .map(|v| {
                    v.split_whitespace()
                        .filter_map(|n| n.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let caps = |name| {
            resolve::field(&status, name)
                .and_then(|v| u64::from_str_radix(v, 16).ok())
                .unwrap_or(u64::MAX)
        };
        // All of real, effective, saved and fs ids equal one value, and
        // every id asked for (-1: unchanged) is that value.
        let same = |current: Vec<u32>, asked: &[u64]| {
            current.len() == 4
                && current.iter().all(|&v| v == current[0])
                && asked
                    .iter()
                    .all(|&a| a as u32 == u32::MAX || a as u32 == current[0])
        };
        let nr = i64::from(nr);
        let unchanged = match nr {
            libc::SYS_setuid | libc::SYS_setfsuid => same(ids("Uid:"), &args[..1]),
            libc::SYS_setreuid => same(ids("Uid:"), &args[..2]),
            libc::SYS_setresuid => same(ids("Uid:"), &args[..3]),
            libc::SYS_setgid | libc::SYS_setfsgid => same(ids("Gid:"), &args[..1]),
            libc::SYS_setregid => same(ids("Gid:"), &args[..2]),
            libc::SYS_setresgid => same(ids("Gid:"), &args[..3]),
            libc::SYS_setgroups => args[0] == 0 && ids("Groups:").is_empty(),
            libc::SYS_prctl => {
                let bit = |cap: u64| if cap < 64 { 1u64 << cap } else { 0 };
                match (args[0] as i32, args[1]) {
                    (libc::PR_CAPBSET_DROP, cap) => caps("CapBnd:") & bit(cap) == 0,
                    (libc::PR_CAP_AMBIENT, a) if a == libc::PR_CAP_AMBIENT_IS_SET as u64 => true,
                    (libc::PR_CAP_AMBIENT, a) if a == libc::PR_CAP_AMBIENT_CLEAR_ALL as u64 => {
                        caps("CapAmb:") == 0
                    }
                    (libc::PR_CAP_AMBIENT, a) if a == libc::PR_CAP_AMBIENT_LOWER as u64 => {
                        caps("CapAmb:") & bit(args[2]) == 0
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if unchanged {
            Plan::Continue
        } else {
            Plan::Fail(libc::EPERM)
        }
    }

    /// The supervisor's real uid (a PRIO_USER call reaches its processes).
    fn supervisor_uid() -> u32 {
        // SAFETY: getuid takes no arguments and cannot fail.
        unsafe { libc::getuid() }
    }

    /// The process group of thread `tid`; `None` if it cannot be read (the
    /// caller is gone: nothing to answer).
    fn caller_group(tid: i32) -> Option<i32> {
        resolve::status_field(tid, "NSpgid:")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The pid a pidfd of thread `tid` refers to (`Pid:` in its fdinfo).
    fn pidfd_target(tid: i32, fd: i32) -> Option<i32> {
        let info = resolve::read_proc(&format!("/proc/{tid}/fdinfo/{fd}"))?;
        info.lines()
            .find_map(|l| l.strip_prefix("Pid:"))?
            .trim()
            .parse()
            .ok()
    }

    /// Where a relative path starts.
    fn base(dirfd: Option<usize>, args: &[u64; 6]) -> Base {
        match dirfd.map(|i| args[i] as i32) {
            Some(fd) if fd != libc::AT_FDCWD => Base::Fd(fd),
            _ => Base::Cwd,
        }
    }

    /// The path argument `(dirfd, path)` of a call as read, and resolved
    /// for the sandboxed process; an empty path is ENOENT.
    fn resolve_arg(
        pid: i32,
        args: &[u64; 6],
        (dirfd, path): (Option<usize>, usize),
        follow_last: bool,
    ) -> Result<(Vec<u8>, resolve::Resolved), i32> {
        let raw = read_path(pid, args[path])?;
        if raw.is_empty() {
            return Err(libc::ENOENT);
        }
        let resolved = resolve::resolve_sandboxed(&Request {
            pid,
            base: base(dirfd, args),
            path: &raw,
            follow_last,
        })?;
        Ok((raw, resolved))
    }

    fn read_path(pid: i32, addr: u64) -> Result<Vec<u8>, i32> {
        notify::read_c_string(pid, addr).map_err(|e| match e {
            notify::StringError::Fault => libc::EFAULT,
            notify::StringError::TooLong => libc::ENAMETOOLONG,
        })
    }

    /// An open's flags and mode.
    fn open_flags(pid: i32, flags: syscalls::Flags, args: &[u64; 6]) -> Result<(u64, u64), i32> {
        match flags {
            syscalls::Flags::Arg(i) => Ok((args[i], args[i + 1])),
            syscalls::Flags::Creat => Ok((
                (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
                args[1],
            )),
            syscalls::Flags::OpenHow(i) => {
                if args[i + 1] < 24 {
                    return Err(libc::EINVAL);
                }
                let how = notify::read_remote::<24>(pid, args[i]).ok_or(libc::EFAULT)?;
                let word = |k: usize| {
                    u64::from_le_bytes(how[8 * k..8 * k + 8].try_into().unwrap_or([0; 8]))
                };
                // RESOLVE_* flags change how the kernel walks the path in
                // ways the supervisor does not model: the caller falls back
                // to openat.
                if word(2) != 0 {
                    return Err(libc::ENOSYS);
                }
                Ok((word(0), word(1)))
            }
        }
    }

    /// The socket addresses a call carries (none for a connected socket).
    fn read_addresses(
        pid: i32,
        args: &[u64; 6],
        addr: syscalls::Addr,
    ) -> Result<Vec<Vec<u8>>, i32> {
        /// sizeof(struct sockaddr_storage).
        const MAX: usize = 128;
        let read = |ptr: u64, len: u64| -> Result<Option<Vec<u8>>, i32> {
            if ptr == 0 {
                return Ok(None);
            }
            let mut buf = vec![0u8; (len as usize).min(MAX)];
            if notify::read_into(pid, ptr, &mut buf) != buf.len() {
                return Err(libc::EFAULT);
            }
            Ok(Some(buf))
        };
        // struct msghdr: msg_name at 0, msg_namelen (u32) at 8.
        let from_msghdr = |at: u64| -> Result<Option<Vec<u8>>, i32> {
            let m = notify::read_remote::<16>(pid, at).ok_or(libc::EFAULT)?;
            let name = u64::from_le_bytes(m[0..8].try_into().unwrap_or([0; 8]));
            let len = u32::from_le_bytes(m[8..12].try_into().unwrap_or([0; 4]));
            read(name, u64::from(len))
        };
        let found = match addr {
            syscalls::Addr::Arg { ptr, len } => read(args[ptr], args[len])?.into_iter().collect(),
            syscalls::Addr::Msg(i) => from_msghdr(args[i])?.into_iter().collect(),
            syscalls::Addr::Mmsg { vec, len } => {
                // struct mmsghdr is 64 bytes; the kernel sends at most
                // UIO_MAXIOV (1024) per call.
                let n = args[len].min(1024);
                let mut out = Vec::new();
                for k in 0..n {
                    out.extend(from_msghdr(args[vec] + 64 * k)?);
                }
                out
            }
        };
        Ok(found)
    }

    /// [`Passthrough::InjectOpens`]: a plain open (no create, truncate or
    /// tmpfile) of an absolute path, to be opened as written and injected
    /// by `answer` as an allowed open is; anything else CONTINUE.
    fn unjudged_open(req: &libc::seccomp_notif) -> Plan {
        let pid = req.pid as i32;
        let args = req.data.args;
        let Some(Kind::Open { path, flags, .. }) =
            syscalls::lookup(i64::from(req.data.nr)).map(|sc| sc.kind)
        else {
            return Plan::Continue;
        };
        let flags = match open_flags(pid, flags, &args) {
            Ok((flags, _)) if !syscalls::open_has_side_effects(flags) => flags,
            _ => return Plan::Continue,
        };
        let path = read_path(pid, args[path])
            .ok()
            .filter(|p| p.first() == Some(&b'/'))
            .and_then(|p| CString::new(p).ok());
        let Some(path) = path else {
            return Plan::Continue;
        };
        Plan::Open(OpenPlan {
            path,
            flags: flags as i32,
            mode: 0,
            umask: None,
            magic: false,
            dir: false,
            opened: None,
        })
    }

    /// Opens the checked path for the process: its flags, never taking a
    /// controlling terminal, never blocking (O_NONBLOCK is dropped again
    /// when the process did not ask for it), following no symlink (the path
    /// is resolved already, so a symlink swapped in since is refused), and
    /// creating with the process's umask.
    ///
    /// A directory (found by the lstat, or asked for with O_DIRECTORY) is
    /// opened without O_NONBLOCK (and so without the fcntl that drops it)
    /// but with O_DIRECTORY: should anything else have replaced it since
    /// the lstat, that open fails with ENOTDIR (before any FIFO could
    /// block) and the cautious one runs. A regular file keeps O_NONBLOCK: no open flag
    /// refuses a FIFO or a device renamed over it after the lstat, and
    /// opening one of those blocking would stall the supervisor (and every
    /// process it answers) until a peer shows up, perhaps forever.
    fn open_for(plan: &OpenPlan) -> Result<OwnedFd, i32> {
        let creates = syscalls::open_creates(plan.flags as u64);
        let dir = plan.dir || plan.flags & libc::O_DIRECTORY != 0;
        if dir && !plan.magic && !creates && plan.flags & libc::O_NONBLOCK == 0 {
            match open_how(plan, libc::O_DIRECTORY) {
                Err(libc::ENOTDIR) => {}
                r => return r,
            }
        }
        let fd = open_how(plan, libc::O_NONBLOCK)?;
        if plan.flags & (libc::O_NONBLOCK | libc::O_PATH) == 0 {
            let keep = plan.flags & (libc::O_APPEND | libc::O_DIRECT | libc::O_NOATIME);
            // SAFETY: F_SETFL takes an integer.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, keep) };
        }
        Ok(fd)
    }

    /// Opens a magic link that names no path (`/proc/PID/fd/N` of a pipe,
    /// a socket, a deleted file): its directory with no symlink followed,
    /// then the one link itself, the only link this open follows. What it
    /// opened must still name no path: had the process put an fd of a
    /// file on N since the check (dup2), the open would reach a file that
    /// was never judged, so it fails instead (EACCES).
    fn open_magic(path: &CStr, how: &[u64; 3]) -> Result<OwnedFd, i32> {
        let bytes = path.to_bytes();
        let cut = bytes.iter().rposition(|&b| b == b'/').ok_or(libc::EINVAL)?;
        let dir = CString::new(&bytes[..cut.max(1)]).map_err(|_| libc::EINVAL)?;
        let name = CString::new(&bytes[cut + 1..]).map_err(|_| libc::EINVAL)?;
        let dir_how = [
            (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
            0,
            libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
        ];
        let dirfd = resolve::openat2(libc::AT_FDCWD, &dir, &dir_how)?;
        let fd = resolve::openat2(dirfd.as_raw_fd(), &name, how)?;
        let named = resolve::fd_path(resolve::own_pid(), fd.as_raw_fd())
            .ok_or(libc::EACCES)?
            .into_os_string()
            .into_vec();
        if named.first() == Some(&b'/') && !named.ends_with(b" (deleted)") {
            return Err(libc::EACCES);
        }
        Ok(fd)
    }

    /// The supervisor's openat2 of `plan`, with `extra` flags.
    fn open_how(plan: &OpenPlan, extra: i32) -> Result<OwnedFd, i32> {
        let known = libc::O_ACCMODE
            | libc::O_CREAT
            | libc::O_EXCL
            | libc::O_TRUNC
            | libc::O_APPEND
            | libc::O_NONBLOCK
            | libc::O_DSYNC
            | libc::O_SYNC
            | libc::O_DIRECT
            | libc::O_DIRECTORY
            | libc::O_NOFOLLOW
            | libc::O_NOATIME
            | libc::O_CLOEXEC
            | libc::O_PATH
            | libc::O_TMPFILE
            | libc::O_LARGEFILE;
        let flags = (plan.flags & known) | libc::O_CLOEXEC | libc::O_NOCTTY | extra;
        // struct open_how { flags, mode, resolve }.
        let how: [u64; 3] = [
            flags as u64,
            if plan.umask.is_some() {
                u64::from(plan.mode)
            } else {
                0
            },
            // The path is resolved already: a symlink or magic link on it
            // now was swapped in since the check, and is refused (ELOOP).
            if plan.magic {
                0
            } else {
                libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS
            },
        ];
        let open = || {
            if plan.magic {
                open_magic(&plan.path, &how)
            } else {
                resolve::openat2(libc::AT_FDCWD, &plan.path, &how)
            }
        };
        match plan.umask {
            Some(umask) => with_umask(umask, open),
            None => open(),
        }
    }

    thread_local! {
        /// This thread has its own umask (unshare(CLONE_FS)), so setting it
        /// affects no other thread of the supervising process.
        static OWN_FS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Runs `f` with the umask set to `umask` in this thread alone.
    fn with_umask<T>(umask: u32, f: impl FnOnce() -> Result<T, i32>) -> Result<T, i32> {
        if !OWN_FS.get() {
            // SAFETY: unshare with an integer flag; CLONE_FS only detaches
            // this thread's cwd, root and umask from the other threads'.
            if unsafe { libc::unshare(libc::CLONE_FS) } != 0 {
                return Err(errno());
            }
            OWN_FS.set(true);
        }
        // SAFETY: umask takes and returns integers.
        let old = unsafe { libc::umask(umask as libc::mode_t) };
        let r = f();
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        r
    }
}

#[cfg(target_os = "linux")]
pub use engine::take_listener;

#[cfg(not(target_os = "linux"))]
impl Filter {
    /// Seccomp exists on Linux only.
    pub fn install(&self) -> Result<std::os::fd::RawFd, i32> {
        Err(libc::ENOSYS)
    }
}

/// Seccomp user notification exists on Linux only.
#[cfg(not(target_os = "linux"))]
pub fn take_listener(
    _pid: i32,
    _pidfd: Option<&std::os::fd::OwnedFd>,
    _fd: std::os::fd::RawFd,
    _sync_wakeups: bool,
) -> Result<std::os::fd::OwnedFd, ApplyError> {
    Err(ApplyError::Unsupported(
        "seccomp user notification needs Linux".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{action, Action, Modifier};

    fn decision(outcome: Result<Action, crate::decision::Undetermined>) -> Decision {
        Decision {
            operation: op::FILE_READ_DATA,
            bucket: 0,
            steps: Vec::new(),
            outcome,
        }
    }

    fn with(word: u32, id: u8, arg: u16) -> Action {
        Action {
            word: word | action::INLINE_MODIFIER,
            modifier: Some(Modifier {
                id,
                policy_op: 0,
                arg,
            }),
        }
    }

    #[test]
    fn which_decisions_are_logged() {
        assert!(reported(&decision(Ok(Action::DENY))));
        assert!(!reported(&decision(Ok(Action::ALLOW))));
        // (deny ... (with no-report)) compiles to a deny without REPORT.
        let quiet = Action {
            word: action::DENY,
            modifier: None,
        };
        assert!(!reported(&decision(Ok(quiet))));
        assert!(!reported(&decision(Ok(with(
            action::DENY | action::REPORT,
            4,
            0
        )))));
        assert!(reported(&decision(Ok(with(0, 3, 0)))));
        assert!(reported(&decision(Ok(Action {
            word: action::REPORT,
            modifier: None
        }))));
        assert!(reported(&decision(Err(
            crate::decision::Undetermined::Cycle { node: 1 }
        ))));
    }

    #[test]
    fn modifiers_choose_the_answer() {
        let checked = |action| Checked {
            syscall: "openat",
            requested: String::new(),
            target: String::new(),
            decisions: vec![decision(Ok(action))],
            denied: Some(0),
        };
        let errno13 = with(action::DENY | action::REPORT, 2, 13);
        assert!(matches!(
            Supervisor::deny_plan(&checked(errno13)),
            Plan::Fail(13)
        ));
        // Darwin's ENOTSUP (45) is Linux's EOPNOTSUPP.
        let notsup = with(action::DENY | action::REPORT, 2, 45);
        assert!(matches!(
            Supervisor::deny_plan(&checked(notsup)),
            Plan::Fail(e) if e == libc::EOPNOTSUPP
        ));
        // Darwin's SIGUSR1 (30) is Linux's 10.
        let sig = with(action::DENY | action::REPORT, 1, 30);
        assert!(matches!(
            Supervisor::deny_plan(&checked(sig)),
            Plan::Signal { signal, errno: libc::EPERM } if signal == libc::SIGUSR1
        ));
        assert!(matches!(
            Supervisor::deny_plan(&checked(Action::DENY)),
            Plan::Fail(libc::EPERM)
        ));
    }

    #[test]
    fn injection_needs_capabilities_an_exec_keeps() {
        let full = (1u64 << 41) - 1;
        assert!(caps_survive_exec(0, 0, full, 0), "a plain user");
        assert!(caps_survive_exec(full, full, full, 0), "root");
        assert!(
            !caps_survive_exec(1, 1, full, 0),
            "a user with some capabilities"
        );
        assert!(!caps_survive_exec(0, 0, full, 1), "ambient capabilities");
        assert!(
            !caps_survive_exec(full, full, full >> 1, 0),
            "more than the bounding set"
        );
    }
}
