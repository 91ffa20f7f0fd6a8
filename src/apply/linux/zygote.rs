//! A zygote: one sandboxed process per profile that forks every probe of a
//! `sbcheck run`, so the seccomp filter is installed (checked, converted,
//! JIT-compiled) and its listener handed over once for many cells instead
//! of once per cell.
//!
//! The zygote is forked and enters the sandbox as a per-cell child does
//! (install the filter, report the listener, wait for the acknowledgement,
//! close its copy). Then it loops with raw syscalls on memory prepared
//! before the fork: read a cell index from the command pipe,
//! `clone(CLONE_PARENT | SIGCHLD)`, report the new pid. The probe is thus
//! the supervising process's own child, as in the per-cell path: the
//! supervisor waits for it, owns its deadline, and Yama lets it read its
//! memory. The probe takes its own process group (killed at the end of the
//! cell), runs its body and reports its result tagged with its pid.
//!
//! The zygote's clone is not the probe's fork: the filter sends every fork
//! of a profile that does not allow process-fork unconditionally to the
//! supervisor, which lets the zygote's own forks through unjudged and
//! unrecorded ([`super::supervisor::Supervisor::set_zygote`]); a probe's fork
//! (a different pid) is judged as ever. The zygote's pid cannot be taken
//! over by a probe: the zygote is never reaped before the end of the run,
//! so even dead its pid stays its own.
//!
//! Cells run one after another: what the supervisor records between a
//! command and the probe's end belongs to that cell.

use super::notify;
use super::supervisor::{Filter, Intercept, Supervisor};
use crate::apply::process::{
    decode_status, die_with_parent, exit_now, pipe, Ending, ExitStatus, EXIT_SETUP_FAILED,
};
use crate::apply::sys::errno;
use crate::apply::ApplyError;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Messages on the report pipe: tag, pid, value (12 bytes, atomic below
/// PIPE_BUF, so a reader of 12 bytes always gets one whole message).
const MSG_LISTENER: u32 = 1;
const MSG_SETUP_FAILED: u32 = 2;
const MSG_RESULT: u32 = 3;
const MSG_SPAWNED: u32 = 4;
const MSG_SPAWN_FAILED: u32 = 5;
const MSG_LEN: usize = 12;

/// How long the zygote may take to enter the sandbox or to fork a probe.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a zygote cannot serve (more) cells; the caller runs them the
/// per-cell way instead.
#[derive(Debug)]
pub enum Unavailable {
    /// The zygote could not enter the sandbox: the per-cell path will fail
    /// the same way and say so in each cell's record.
    SetupFailed(ApplyError),
    /// The zygote died or stopped answering (a probe may have killed it).
    Gone(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::SetupFailed(e) => write!(f, "zygote setup failed: {e}"),
            Unavailable::Gone(why) => write!(f, "zygote gone: {why}"),
        }
    }
}

/// A running zygote and the supervisor answering its probes.
pub struct Zygote<'a, 'p> {
    pid: i32,
    pidfd: OwnedFd,
    commands: OwnedFd,
    report: OwnedFd,
    listener: Option<OwnedFd>,
    supervisor: &'a mut Supervisor<'p>,
}

fn send(fd: RawFd, tag: u32, pid: i32, value: i32) {
    let mut msg = [0u8; MSG_LEN];
    msg[..4].copy_from_slice(&tag.to_le_bytes());
    msg[4..8].copy_from_slice(&pid.to_le_bytes());
    msg[8..].copy_from_slice(&value.to_le_bytes());
    let _ = crate::apply::sys::write(fd, &msg);
}

/// Reads one 8-byte command; `None` at EOF or error. Async-signal-safe.
fn read_command(fd: RawFd) -> Option<u64> {
    let mut buf = [0u8; 8];
    loop {
        match crate::apply::sys::read(fd, &mut buf) {
            Ok(8) => return Some(u64::from_le_bytes(buf)),
            Err(libc::EINTR) => continue,
            _ => return None,
        }
    }
}

/// The zygote after `fork()`: raw syscalls only, never returns.
fn zygote_main(
    filter: &Filter,
    (commands, report): (RawFd, RawFd),
    parent: i32,
    body: &dyn Fn(usize) -> i32,
) -> ! {
    die_with_parent(parent);
    crate::apply::sys::close_from(3, [commands, report]);
    // Its own group: a Ctrl-C at the terminal is for the supervisor, which
    // ends the zygote itself.
    // SAFETY: setpgid on ourselves.
    unsafe { libc::setpgid(0, 0) };
    match filter.install() {
        Ok(listener) => {
            // SAFETY: getpid takes nothing.
            send(report, MSG_LISTENER, unsafe { libc::getpid() }, listener);
            // The acknowledgement comes on the command pipe: the parent
            // holds the listener once it is there.
            if read_command(commands).is_none() {
                exit_now(0);
            }
            crate::apply::sys::close(listener);
        }
        Err(e) => {
            send(report, MSG_SETUP_FAILED, 0, e);
            exit_now(EXIT_SETUP_FAILED)
        }
    }
    while let Some(index) = read_command(commands) {
        match super::calls::clone_process(libc::CLONE_PARENT) {
            Ok(0) => probe_main((commands, report), parent, index as usize, body),
            Ok(pid) => send(report, MSG_SPAWNED, pid as i32, 0),
            Err(e) => send(report, MSG_SPAWN_FAILED, 0, e),
        }
    }
    exit_now(0)
}

/// A probe cloned by the zygote: raw syscalls only, never returns.
fn probe_main(
    (commands, report): (RawFd, RawFd),
    parent: i32,
    index: usize,
    body: &dyn Fn(usize) -> i32,
) -> ! {
    crate::apply::sys::close(commands);
    // Our parent is the supervisor (CLONE_PARENT): die with it, as a
    // per-cell probe does.
    die_with_parent(parent);
    // SAFETY: setpgid on ourselves: the end of the cell kills the group.
    unsafe { libc::setpgid(0, 0) };
    let result = body(index);
    // SAFETY: getpid takes nothing.
    send(report, MSG_RESULT, unsafe { libc::getpid() }, result);
    exit_now(0)
}

/// One message read from the report pipe.
fn read_message(fd: RawFd) -> Option<(u32, i32, i32)> {
    let mut msg = [0u8; MSG_LEN];
    match crate::apply::sys::read(fd, &mut msg) {
        Ok(MSG_LEN) => {
            let word = |i: usize| [msg[i], msg[i + 1], msg[i + 2], msg[i + 3]];
            Some((
                u32::from_le_bytes(word(0)),
                i32::from_le_bytes(word(4)),
                i32::from_le_bytes(word(8)),
            ))
        }
        _ => None,
    }
}

/// Polls `fds` for input until `deadline`; returns each one's revents.
fn poll_fds<const N: usize>(fds: [RawFd; N], deadline: Instant) -> Result<[i16; N], ApplyError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_millis().clamp(0, i32::MAX as u128) as i32;
    let mut set = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: `set` is a valid array of N pollfd; negative fds are ignored.
    let n = unsafe { libc::poll(set.as_mut_ptr(), N as libc::nfds_t, ms) };
    if n < 0 && errno() != libc::EINTR {
        return Err(ApplyError::Sys {
            call: "poll",
            errno: errno(),
        });
    }
    Ok(set.map(|p| if n > 0 { p.revents } else { 0 }))
}

fn kill(pid: i32, signal: i32) {
    // SAFETY: kill takes integers; callers pass their own children or
    // those children's own process groups.
    unsafe { libc::kill(pid, signal) };
}

/// Waits for a child of ours; `None` while it runs.
fn try_wait(pid: i32, block: bool) -> Option<ExitStatus> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    // SAFETY: waitpid on that exact child, never -1.
    let rc = unsafe { libc::waitpid(pid, &mut status, flags) };
    (rc == pid).then(|| decode_status(status))
}

/// Kills a probe's whole group and the probe, and reaps it.
fn kill_probe(pid: i32) -> Option<ExitStatus> {
    kill(-pid, libc::SIGKILL);
    kill(pid, libc::SIGKILL);
    try_wait(pid, true)
}

impl<'a, 'p> Zygote<'a, 'p> {
    /// Forks the zygote, which enters the sandbox of `filter`, answered by
    /// `supervisor`; `body(i)` is what the probe of cell `i` runs.
    ///
    /// `body` runs after `fork()` and `clone()` in a possibly multi-threaded
    /// process: raw syscalls on memory prepared before this call only, no
    /// allocation, no locks, no panics (see [`crate::apply::process::run_supervised`]).
    pub fn start(
        filter: &Filter,
        supervisor: &'a mut Supervisor<'p>,
        body: &dyn Fn(usize) -> i32,
    ) -> Result<Zygote<'a, 'p>, Unavailable> {
        let sys = |e| Unavailable::SetupFailed(e);
        let (cmd_rx, cmd_tx) = pipe().map_err(sys)?;
        let (report_rx, report_tx) = pipe().map_err(sys)?;
        let parent = std::process::id() as i32;
        // SAFETY: the child only runs `zygote_main`, which makes raw
        // syscalls on memory prepared before this point and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(sys(ApplyError::Sys {
                call: "fork",
                errno: errno(),
            }));
        }
        if pid == 0 {
            zygote_main(
                filter,
                (cmd_rx.as_raw_fd(), report_tx.as_raw_fd()),
                parent,
                body,
            );
        }
        drop((cmd_rx, report_tx));
        let pidfd = match notify::pidfd(pid) {
            Ok(fd) => fd,
            Err(e) => {
                kill(pid, libc::SIGKILL);
                try_wait(pid, true);
                return Err(sys(ApplyError::Sys {
                    call: "pidfd_open",
                    errno: e,
                }));
            }
        };
        let mut z = Zygote {
            pid,
            pidfd,
            commands: cmd_tx,
            report: report_rx,
            listener: None,
            supervisor,
        };
        z.take_listener()?;
        z.supervisor.set_zygote(Some(pid));
        Ok(z)
    }

    /// Waits for the zygote's listener, takes it and acknowledges.
    fn take_listener(&mut self) -> Result<(), Unavailable> {
        let deadline = Instant::now() + SETUP_TIMEOUT;
        let fds = [self.report.as_raw_fd(), self.pidfd.as_raw_fd()];
        loop {
            let ready = poll_fds(fds, deadline).map_err(Unavailable::SetupFailed)?;
            if ready[0] != 0 {
                match read_message(fds[0]) {
                    Some((MSG_LISTENER, _, fd)) => {
                        let listener =
                            super::supervisor::take_listener(self.pid, Some(&self.pidfd), fd, true)
                                .map_err(Unavailable::SetupFailed)?;
                        self.listener = Some(listener);
                        self.command(u64::MAX)?;
                        return Ok(());
                    }
                    Some((MSG_SETUP_FAILED, _, e)) => {
                        let call = "seccomp(SECCOMP_SET_MODE_FILTER)";
                        return Err(Unavailable::SetupFailed(crate::apply::apply_error(call, e)));
                    }
                    _ => return Err(Unavailable::Gone("no listener reported".into())),
                }
            }
            if ready[1] != 0 {
                return Err(Unavailable::Gone(
                    "exited while entering the sandbox".into(),
                ));
            }
            if Instant::now() >= deadline {
                return Err(Unavailable::Gone(
                    "did not enter the sandbox in time".into(),
                ));
            }
        }
    }

    fn command(&self, value: u64) -> Result<(), Unavailable> {
        match crate::apply::sys::write(self.commands.as_raw_fd(), &value.to_le_bytes()) {
            Ok(8) => Ok(()),
            Ok(_) => Err(Unavailable::Gone("short write of a command".into())),
            Err(e) => Err(Unavailable::Gone(format!(
                "command pipe: {}",
                std::io::Error::from_raw_os_error(e)
            ))),
        }
    }

    /// Runs cell `index`'s probe, killing its group at `timeout`; returns
    /// how it ended and every call the supervisor judged meanwhile.
    /// `Err` when the zygote cannot serve: that cell did not run.
    pub fn run(
        &mut self,
        index: usize,
        timeout: Duration,
    ) -> Result<(Result<Ending, ApplyError>, Vec<Intercept>), Unavailable> {
        self.supervisor.begin_cell();
        self.command(index as u64)?;
        let mut cell = Cell {
            deadline: Instant::now() + timeout,
            spawn_deadline: Instant::now() + SETUP_TIMEOUT,
            probe: None,
            exited: None,
            results: Vec::new(),
            status: None,
        };
        let ending = self.supervise(&mut cell);
        if let Some(pid) = cell.probe {
            // Whatever the probe started dies with it; a probe still
            // running (an error above) is killed and reaped.
            kill(-pid, libc::SIGKILL);
            if cell.status.is_none() {
                kill_probe(pid);
            }
        }
        let intercepts = std::mem::take(&mut self.supervisor.intercepts);
        Ok((ending?, intercepts))
    }

    fn supervise(&mut self, cell: &mut Cell) -> Result<Result<Ending, ApplyError>, Unavailable> {
        let listener = self.listener.as_ref().map_or(-1, |l| l.as_raw_fd());
        loop {
            let exited = cell.exited.as_ref().map_or(-1, |e| e.as_raw_fd());
            let zygote = if cell.probe.is_none() {
                self.pidfd.as_raw_fd()
            } else {
                -1
            };
            let deadline = if cell.probe.is_some() {
                cell.deadline
            } else {
                cell.spawn_deadline
            };
            let fds = [listener, self.report.as_raw_fd(), exited, zygote];
            let ready = match poll_fds(fds, deadline) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            if ready[0] & libc::POLLIN != 0 {
                if let Some(l) = &self.listener {
                    if let Err(e) = self.supervisor.handle_one(l) {
                        return Ok(Err(e));
                    }
                }
            }
            if ready[1] != 0 {
                self.read_report(cell)?;
            }
            if ready[2] != 0 {
                if let Some(pid) = cell.probe {
                    cell.status = try_wait(pid, false);
                }
            }
            if let Some(status) = cell.status {
                // The probe wrote its result before it exited: it is in
                // the pipe now if it was ever sent.
                self.drain_report(cell)?;
                return Ok(Ok(cell.ending(status)));
            }
            if ready[3] != 0 {
                return Err(Unavailable::Gone("exited before forking a probe".into()));
            }
            let now = Instant::now();
            match cell.probe {
                Some(pid) if now >= cell.deadline => {
                    cell.status = kill_probe(pid);
                    return Ok(Ok(Ending::TimedOut));
                }
                None if now >= cell.spawn_deadline => {
                    return Err(Unavailable::Gone("did not fork the probe in time".into()));
                }
                _ => {}
            }
        }
    }

    fn read_report(&mut self, cell: &mut Cell) -> Result<(), Unavailable> {
        match read_message(self.report.as_raw_fd()) {
            Some((MSG_SPAWNED, pid, _)) if cell.probe.is_none() => {
                // Its own group at once from this side too (as a shell
                // does), so a kill at the deadline reaches the group even
                // if the probe has not run yet.
                // SAFETY: setpgid on our own child (CLONE_PARENT).
                unsafe { libc::setpgid(pid, pid) };
                cell.probe = Some(pid);
                cell.exited = notify::pidfd(pid).ok();
                if cell.exited.is_none() {
                    // Without a pidfd the probe's end cannot be awaited.
                    kill_probe(pid);
                    return Err(Unavailable::Gone("pidfd_open of the probe failed".into()));
                }
                Ok(())
            }
            Some((MSG_SPAWN_FAILED, _, e)) => Err(Unavailable::Gone(format!(
                "clone: {}",
                std::io::Error::from_raw_os_error(e)
            ))),
            Some((MSG_RESULT, pid, value)) => {
                cell.results.push((pid, value));
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err(Unavailable::Gone("report pipe closed".into())),
        }
    }

    fn drain_report(&mut self, cell: &mut Cell) -> Result<(), Unavailable> {
        let fd = self.report.as_raw_fd();
        loop {
            let ready = poll_fds([fd], Instant::now()).map_err(Unavailable::SetupFailed)?;
            if ready[0] & libc::POLLIN == 0 {
                return Ok(());
            }
            self.read_report(cell)?;
        }
    }
}

/// What is known of the cell being run.
struct Cell {
    deadline: Instant,
    spawn_deadline: Instant,
    probe: Option<i32>,
    exited: Option<OwnedFd>,
    /// Results by pid (a result may arrive before the zygote's report of
    /// the pid).
    results: Vec<(i32, i32)>,
    status: Option<ExitStatus>,
}

impl Cell {
    fn ending(&self, status: ExitStatus) -> Ending {
        let result = self
            .results
            .iter()
            .find(|(pid, _)| Some(*pid) == self.probe)
            .map(|&(_, r)| r);
        match result {
            Some(result) => Ending::Reported { result },
            None => Ending::Died { status },
        }
    }
}

impl Drop for Zygote<'_, '_> {
    fn drop(&mut self) {
        self.supervisor.set_zygote(None);
        kill(-self.pid, libc::SIGKILL);
        kill(self.pid, libc::SIGKILL);
        try_wait(self.pid, true);
    }
}
