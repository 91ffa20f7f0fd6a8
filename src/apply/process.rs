//! The sandboxed child's life: fork, enter the sandbox, run a body, report;
//! and the parent's side: take the listener, supervise, wait with a deadline.
//!
//! Handing the listener over follows the measured recipe: SCM_RIGHTS would
//! deadlock (sendmsg is itself notified), so the child writes the fd number
//! to a pipe, the parent takes it with `pidfd_getfd` and acknowledges.
//!
//! The parent supervises until the child has exited and, for `sbcheck exec`
//! ([`Spec::whole_tree`]), until every process of the sandboxed tree is gone
//! (the listener reports POLLHUP once no task uses the filter), so nothing
//! sandboxed is ever left running unsupervised.

use super::linux::{Filter, Handled, Supervisor};
use super::macos::seatbelt::Libsandbox;
use super::sys::errno;
use super::ApplyError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Messages on the report pipe: 8 bytes each (atomic below PIPE_BUF).
const MSG_LISTENER: u32 = 1;
const MSG_SETUP_FAILED: u32 = 2;
const MSG_RESULT: u32 = 3;

/// Exit code of a child whose sandbox setup failed.
pub(super) const EXIT_SETUP_FAILED: i32 = 125;

/// How a supervised child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The body ran and reported `result`.
    Reported { result: i32 },
    /// The body did not report: it exec'd, crashed or exited early.
    Died { status: ExitStatus },
    /// Still running at the deadline: the whole process group was killed.
    TimedOut,
    /// The sandbox could not be entered.
    SetupFailed(ApplyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell would report: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// How a child is run.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Kill the child's process group past this.
    pub timeout: Option<Duration>,
    /// A probe: the child closes every inherited fd but stdio (concurrent
    /// tests' pipes must not leak into it) and gets its own process group,
    /// killed when the child ends so nothing it started survives.
    pub isolate: bool,
    /// A command: keep supervising after the child exits until every
    /// process of the sandboxed tree has exited.
    pub whole_tree: bool,
    /// Reap any exited child after the command's own (orphans of the tree
    /// come here when this process is their subreaper). Only for a process
    /// that owns all its children.
    pub reap_orphans: bool,
    /// Ask the listener for synchronous wake-ups (the supervisor woken on
    /// its caller's CPU and the caller on the supervisor's). Off where idle
    /// CPUs poll ([`crate::apply::linux::cpu`]): a wake-up anywhere is then
    /// cheap, and synchronous ones would pile parallel callers onto one CPU.
    pub sync_wakeups: bool,
    /// Wait for the next notification in the ioctl itself after answering
    /// one, instead of going back to poll(): a syscall less per round trip.
    /// Only where nothing else needs watching while the tree runs (a
    /// command: no deadline, no report after its exec). The wait ends with
    /// ENOENT once no process uses the filter (a zombie does not: the
    /// filter is released at exit, not at reaping), and the poll that
    /// follows sees the listener's HUP.
    pub wait_in_recv: bool,
    /// Threads answering the listener beside this one (with
    /// `wait_in_recv`, where idle CPUs poll: see
    /// [`crate::apply::linux::workers`]).
    pub workers: usize,
}

impl Spec {
    pub fn probe(timeout: Duration) -> Spec {
        Spec {
            timeout: Some(timeout),
            isolate: true,
            whole_tree: false,
            reap_orphans: false,
            sync_wakeups: true,
            wait_in_recv: false,
            workers: 0,
        }
    }

    pub fn command() -> Spec {
        Spec {
            timeout: None,
            isolate: false,
            whole_tree: true,
            reap_orphans: false,
            sync_wakeups: true,
            wait_in_recv: true,
            workers: 0,
        }
    }
}

/// What enforces the profile in the child.
pub enum Enforcer<'a, 'p> {
    /// The seccomp filter, answered by the supervisor in this process.
    Linux {
        filter: &'a Filter,
        supervisor: &'a mut Supervisor<'p>,
    },
    /// Seatbelt: the child applies the blob with libsandbox.
    Seatbelt { lib: &'a Libsandbox, blob: &'a [u8] },
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd), ApplyError> {
    let mut fds = [0 as RawFd; 2];
    // Close-on-exec, so an exec'd command does not hold them: from the
    // start where pipe2 exists (one syscall, not three).
    #[cfg(target_os = "linux")]
    // SAFETY: pipe2 writes two fds into `fds`.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: pipe writes two fds into `fds`.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    if rc != 0 {
        return Err(ApplyError::Sys {
            call: "pipe",
            errno: errno(),
        });
    }
    // SAFETY: both fds are new and owned by us alone.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(target_os = "linux"))]
    for fd in [&r, &w] {
        // SAFETY: fcntl on our own fd with integer arguments.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((r, w))
}

/// Writes one 8-byte message. Async-signal-safe.
fn send(fd: RawFd, tag: u32, value: i32) {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&tag.to_le_bytes());
    msg[4..].copy_from_slice(&value.to_le_bytes());
    let _ = super::sys::write(fd, &msg);
}

/// Exits the child at once, without atexit handlers. Async-signal-safe.
pub(super) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and runs nothing of this process.
    unsafe { libc::_exit(code) }
}

/// The child after `fork()`: raw syscalls only, never returns.
fn child(
    enforcer: ChildSide<'_>,
    (report, ack): (RawFd, RawFd),
    parent: i32,
    spec: Spec,
    body: &dyn Fn() -> i32,
) -> ! {
    if spec.isolate {
        die_with_parent(parent);
        super::sys::close_from(3, [report, ack]);
        // Own process group, so the end can kill everything the probe started.
        // SAFETY: setpgid on ourselves.
        unsafe { libc::setpgid(0, 0) };
    }
    match enforcer {
        ChildSide::Linux(filter) => match filter.install() {
            Ok(listener) => {
                send(report, MSG_LISTENER, listener);
                let mut byte = [0u8; 1];
                // Wait until the parent holds the listener.
                let _ = super::sys::read(ack, &mut byte);
                super::sys::close(listener);
            }
            Err(e) => {
                send(report, MSG_SETUP_FAILED, e);
                exit_now(EXIT_SETUP_FAILED)
            }
        },
        ChildSide::Seatbelt(lib, blob) => {
            if let Err(e) = lib.apply_raw(blob) {
                send(report, MSG_SETUP_FAILED, e);
                exit_now(EXIT_SETUP_FAILED)
            }
        }
    }
    super::sys::close(ack);
    let result = body();
    send(report, MSG_RESULT, result);
    exit_now(0)
}

/// A probe dies with its supervisor, so a killed `sbcheck run` leaves no
/// probe blocked forever; if the supervisor is gone already, it stops here.
/// Async-signal-safe.
pub(super) fn die_with_parent(parent: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl and getppid take and return integers.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    // SAFETY: getppid takes no arguments.
    if unsafe { libc::getppid() } != parent {
        exit_now(EXIT_SETUP_FAILED);
    }
}

/// What the child needs of the enforcer (the supervisor stays here).
#[derive(Clone, Copy)]
enum ChildSide<'a> {
    Linux(&'a Filter),
    Seatbelt(&'a Libsandbox, &'a [u8]),
}

/// Runs `body` in a forked child under the seccomp filter, supervised by
/// `supervisor`, killing the child's process group at `timeout`.
///
/// `body` runs after `fork()` in a possibly multi-threaded process: it must
/// only make raw syscalls on memory prepared before the call (see
/// [`super::sys`] and [`super::calls`]), and must not allocate, lock or panic.
pub fn run_supervised(
    filter: &Filter,
    supervisor: &mut Supervisor<'_>,
    timeout: Duration,
    body: &dyn Fn() -> i32,
) -> Result<Ending, ApplyError> {
    if cfg!(target_os = "macos") {
        // macOS: the same blob, enforced by Seatbelt itself.
        let lib = Libsandbox::load(super::macos::seatbelt::LIBSANDBOX)?;
        let blob = supervisor.profile.bytes.clone();
        return run(
            Enforcer::Seatbelt {
                lib: &lib,
                blob: &blob,
            },
            Spec::probe(timeout),
            body,
        );
    }
    run(
        Enforcer::Linux { filter, supervisor },
        Spec::probe(timeout),
        body,
    )
}

/// Runs `body` in a forked child under `enforcer`, as `spec` says.
pub fn run(
    enforcer: Enforcer<'_, '_>,
    spec: Spec,
    body: &dyn Fn() -> i32,
) -> Result<Ending, ApplyError> {
    let (report_rx, report_tx) = pipe()?;
    let (ack_rx, ack_tx) = pipe()?;
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let (side, supervisor) = match enforcer {
        Enforcer::Linux { filter, supervisor } => (ChildSide::Linux(filter), Some(supervisor)),
        Enforcer::Seatbelt { lib, blob } => (ChildSide::Seatbelt(lib, blob), None),
    };
    let parent = std::process::id() as i32;
    // SAFETY: the child only runs `child`, which makes raw syscalls on memory
    // prepared before this point and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(ApplyError::Sys {
            call: "fork",
            errno: errno(),
        });
    }
    if pid == 0 {
        let pipes = (report_tx.as_raw_fd(), ack_rx.as_raw_fd());
        child(side, pipes, parent, spec, body);
    }
    drop((report_tx, ack_rx));
    let mut guard = ChildGuard {
        pid,
        group: spec.isolate,
        reaped: false,
    };
    let mut p = Parent {
        pid,
        spec,
        deadline,
        supervisor,
        report: Some(report_rx),
        ack: ack_tx,
        listener: None,
        exited: exit_notifier(pid),
        status: None,
        result: None,
        setup_failed: None,
        tree_gone: false,
    };
    let outcome = p.supervise(&mut guard);
    if guard.group {
        // Whatever the probe started dies with it.
        // SAFETY: signalling the child's own process group.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    match outcome? {
        Some(ending) => Ok(ending),
        None => Ok(Ending::TimedOut),
    }
}

struct Parent<'a, 'p> {
    pid: i32,
    spec: Spec,
    deadline: Option<Instant>,
    supervisor: Option<&'a mut Supervisor<'p>>,
    report: Option<OwnedFd>,
    ack: OwnedFd,
    listener: Option<OwnedFd>,
    /// Readable when the child exits (a pidfd), where the platform has one.
    exited: Option<OwnedFd>,
    status: Option<ExitStatus>,
    result: Option<i32>,
    setup_failed: Option<i32>,
    /// No process uses the filter any more.
    tree_gone: bool,
}

/// How long to sleep between checks where nothing can wake us (no pidfd,
/// or orphans to reap).
const TICK: Duration = Duration::from_millis(20);

impl Parent<'_, '_> {
    /// Supervises to the end; `None` when the deadline passed (the child's
    /// group has been killed).
    fn supervise(&mut self, guard: &mut ChildGuard) -> Result<Option<Ending>, ApplyError> {
        #[cfg(target_os = "linux")]
        if self.spec.workers > 0 && self.spec.wait_in_recv {
            return std::thread::scope(|scope| {
                let mut workers = None;
                let out = self.supervise_loop(guard, &mut |p: &mut Parent<'_, '_>| {
                    if workers.is_none() {
                        if let (Some(l), Some(s)) = (&p.listener, p.supervisor.as_deref_mut()) {
                            workers = Some(super::linux::workers::Workers::start(
                                scope,
                                s,
                                l,
                                p.spec.workers,
                            ));
                        }
                    }
                });
                if let Some(w) = workers {
                    let stats = w.finish();
                    if let Some(s) = self.supervisor.as_deref_mut() {
                        s.set_watch(None);
                        s.add_stats(stats);
                    }
                }
                out
            });
        }
        self.supervise_loop(guard, &mut |_| {})
    }

    /// The supervising loop; `each` runs before every wait.
    fn supervise_loop(
        &mut self,
        guard: &mut ChildGuard,
        each: &mut dyn FnMut(&mut Self),
    ) -> Result<Option<Ending>, ApplyError> {
        loop {
            each(self);
            if self.finished() {
                break;
            }
            let wait = match self.deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => Some(left),
                    None => {
                        guard.kill_and_reap();
                        return Ok(None);
                    }
                },
                None => None,
            };
            self.poll_once(wait, guard)?;
        }
        Ok(Some(self.ending()))
    }

    fn finished(&self) -> bool {
        let Some(_) = self.status else {
            return false;
        };
        !self.spec.whole_tree || self.listener.is_none() || self.tree_gone
    }

    fn ending(&mut self) -> Ending {
        if let Some(e) = self.setup_failed {
            let call = if self.supervisor.is_some() {
                "seccomp(SECCOMP_SET_MODE_FILTER)"
            } else {
                "sandbox_apply"
            };
            return Ending::SetupFailed(super::apply_error(call, e));
        }
        match (self.result, self.status) {
            (Some(result), _) => Ending::Reported { result },
            (None, Some(status)) => Ending::Died { status },
            (None, None) => Ending::TimedOut,
        }
    }

    fn poll_once(
        &mut self,
        wait: Option<Duration>,
        guard: &mut ChildGuard,
    ) -> Result<(), ApplyError> {
        let fd_of = |f: &Option<OwnedFd>| f.as_ref().map_or(-1, |f| f.as_raw_fd());
        let listener = if self.tree_gone {
            -1
        } else {
            fd_of(&self.listener)
        };
        let exited = if self.status.is_some() {
            -1
        } else {
            fd_of(&self.exited)
        };
        let mut fds = [listener, fd_of(&self.report), exited].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // Without a pidfd, or with orphans to reap, wake up now and then.
        let needs_tick = (self.status.is_none() && exited < 0)
            || (self.spec.reap_orphans && self.status.is_some());
        let wait = match (wait, needs_tick) {
            (Some(w), true) => Some(w.min(TICK)),
            (None, true) => Some(TICK),
            (w, false) => w,
        };
        let ms = wait.map_or(-1, |w| w.as_millis().clamp(1, i32::MAX as u128) as i32);
        // SAFETY: fds is a valid array of three pollfd; negative fds are ignored.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, ms) };
        if n < 0 && errno() != libc::EINTR {
            return Err(ApplyError::Sys {
                call: "poll",
                errno: errno(),
            });
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let (Some(l), Some(s)) = (&self.listener, self.supervisor.as_deref_mut()) {
                let mut handled = s.handle_one(l)?;
                while self.spec.wait_in_recv && handled == Handled::Answered {
                    handled = s.handle_one(l)?;
                }
            }
        } else if fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            self.tree_gone = true;
        }
        if fds[1].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            self.read_report()?;
        }
        if self.status.is_none() && (exited < 0 || fds[2].revents != 0) {
            self.status = guard.try_wait();
        }
        if self.status.is_some() && self.spec.reap_orphans {
            reap_orphans();
        }
        Ok(())
    }

    fn read_report(&mut self) -> Result<(), ApplyError> {
        let Some(report) = &self.report else {
            return Ok(());
        };
        let mut msg = [0u8; 8];
        let got = super::sys::read(report.as_raw_fd(), &mut msg).unwrap_or(0);
        if got != 8 {
            // EOF: the child exec'd or died.
            self.report = None;
            return Ok(());
        }
        let tag = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let value = i32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
        match tag {
            MSG_LISTENER => {
                self.listener = Some(super::linux::take_listener(
                    self.pid,
                    self.exited.as_ref(),
                    value,
                    self.spec.sync_wakeups,
                )?);
                let _ = super::sys::write(self.ack.as_raw_fd(), &[1]);
            }
            MSG_SETUP_FAILED => self.setup_failed = Some(value),
            MSG_RESULT => self.result = Some(value),
            _ => self.report = None,
        }
        Ok(())
    }
}

/// A pidfd of the child: readable once it exits.
#[cfg(target_os = "linux")]
fn exit_notifier(pid: i32) -> Option<OwnedFd> {
    super::linux::notify::pidfd(pid).ok()
}

#[cfg(not(target_os = "linux"))]
fn exit_notifier(_pid: i32) -> Option<OwnedFd> {
    None
}

/// Reaps exited orphans of the sandboxed tree that were reparented to us.
/// Only used where this process owns all its children (`sbcheck exec`).
fn reap_orphans() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG on any child; called only after the
        // direct child has been reaped, by a process whose every child is
        // part of the sandboxed tree.
        let rc = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if rc <= 0 {
            return;
        }
    }
}

/// Reaps the child on every path; kills it (and its group, for probes) if
/// it is still alive.
struct ChildGuard {
    pid: i32,
    group: bool,
    reaped: bool,
}

impl ChildGuard {
    /// The child's status if it has exited (reaping it).
    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.reaped {
            return None;
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child's pid, never -1.
        let rc = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if rc == self.pid {
            self.reaped = true;
            return Some(decode_status(status));
        }
        None
    }

    fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: signalling our child (and its group, which only a probe
        // has of its own), then reaping that exact pid.
        unsafe {
            if self.group {
                libc::kill(-self.pid, libc::SIGKILL);
            }
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
        self.reaped = true;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

pub(super) fn decode_status(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}
