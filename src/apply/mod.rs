//! Enforcement: applying a compiled profile to a process.
//!
//! One interface, [`apply`], prepares a blob for a backend and returns an
//! [`Enforcement`] that runs a body ([`Enforcement::run`], for probes) or a
//! command ([`Enforcement::exec`], for `sbcheck exec`) under it. Work that
//! may allocate happens in the parent before `fork()`; the child only
//! enters the sandbox with raw calls and runs what it was given.
//!
//! - [`linux`]: seccomp user notification. The child installs a filter that
//!   sends every syscall of the operation map ([`syscalls`]) to a listener,
//!   hands the listener to the parent, and the parent's
//!   [`linux::Supervisor`] evaluates the blob's node graph for each call.
//!   The kernel enforces *our reading* of the blob.
//! - [`macos`]: macOS's own `sandbox_apply` from libsandbox, loaded at run
//!   time. Only this backend checks Apple's kernel.
//!
//! All `unsafe` code of the crate lives under this module.

pub mod darwin;
pub mod exec;
pub mod linux;
pub mod log;
pub mod macos;
pub mod process;
pub mod sys;

use crate::blob::Profile;
use linux::{Filter, Options, Supervisor};
use log::{Log, LogTarget};
use macos::seatbelt::Libsandbox;
use process::{Ending, Enforcer, ExitStatus, Spec};
use std::fmt;
use std::time::Duration;

/// Which enforcement produced an observation; recorded in every trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// seccomp user notification + our evaluator, on the Linux kernel.
    Linux,
    /// libsandbox `sandbox_apply`, on the macOS kernel.
    Seatbelt,
}

impl Backend {
    /// The backend native to this platform.
    pub fn native() -> Backend {
        if cfg!(target_os = "macos") {
            Backend::Seatbelt
        } else {
            Backend::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Linux => "linux-seccomp-notify",
            Backend::Seatbelt => "macos-seatbelt",
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "linux" | "linux-seccomp-notify" => Some(Backend::Linux),
            "seatbelt" | "macos" | "macos-seatbelt" => Some(Backend::Seatbelt),
            _ => None,
        }
    }
}

/// Why a profile could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The backend does not exist on this platform or architecture.
    Unsupported(String),
    /// A system call failed while setting up enforcement.
    Sys { call: &'static str, errno: i32 },
    /// libsandbox could not be loaded or lacks a symbol.
    Library(String),
    /// `sandbox_apply` refused: the process is already sandboxed or SIP
    /// forbids it.
    NotPermitted(String),
    /// The log file could not be opened.
    Log(String),
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Unsupported(why) => write!(f, "unsupported: {why}"),
            ApplyError::Sys { call, errno } => {
                write!(f, "{call}: {}", std::io::Error::from_raw_os_error(*errno))
            }
            ApplyError::Library(why) => write!(f, "libsandbox: {why}"),
            ApplyError::NotPermitted(why) => {
                write!(f, "sandbox_apply: Operation not permitted ({why})")
            }
            ApplyError::Log(why) => write!(f, "log: {why}"),
        }
    }
}

impl std::error::Error for ApplyError {}

/// The error for a failed setup call: `sandbox_apply`'s EPERM gets its
/// likely cause.
pub fn apply_error(call: &'static str, errno: i32) -> ApplyError {
    if call == "sandbox_apply" && errno == libc::EPERM {
        ApplyError::NotPermitted(
            "the process is already sandboxed, or SIP / missing entitlements forbid applying a profile"
                .into(),
        )
    } else {
        ApplyError::Sys { call, errno }
    }
}

/// How to enforce.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `None`: the platform's own.
    pub backend: Option<Backend>,
    /// Linux: match paths in macOS's layout.
    pub macos_paths: bool,
    /// Linux: where denials are logged (macOS logs them to its kernel log).
    pub log: LogTarget,
    /// Linux: keep a record of every judged call.
    pub record: bool,
    /// [`Enforcement::exec`]: become the child subreaper, so orphans of the
    /// sandboxed tree stay our descendants (their memory stays readable
    /// under Yama) and are reaped here. Only for a process that owns all its
    /// children (`sbcheck exec`): any child of it may be reaped.
    pub subreaper: bool,
}

/// A profile ready to be enforced.
pub struct Enforcement<'p> {
    inner: Inner<'p>,
    subreaper: bool,
    /// [`Enforcement::exec`] on Linux: hold idle CPUs in their polling
    /// state while the command runs ([`linux::cpu`]).
    idle_poll: bool,
}

enum Inner<'p> {
    Linux {
        filter: Filter,
        supervisor: Box<Supervisor<'p>>,
    },
    Seatbelt {
        lib: Libsandbox,
        profile: &'p Profile,
    },
}

/// Prepares `profile` for enforcement by `config`'s backend: checks the
/// platform, builds the filter and supervisor (Linux) or loads libsandbox
/// (macOS). Nothing is applied to this process.
pub fn apply<'p>(profile: &'p Profile, config: &Config) -> Result<Enforcement<'p>, ApplyError> {
    let backend = config.backend.unwrap_or_else(Backend::native);
    let inner = match backend {
        Backend::Linux => {
            linux_supported()?;
            let mut supervisor = Supervisor::new(
                profile,
                Options {
                    macos_paths: config.macos_paths,
                },
            );
            supervisor.set_record(config.record);
            supervisor.set_log(Log::open(&config.log).map_err(|e| ApplyError::Log(e.to_string()))?);
            Inner::Linux {
                filter: linux::filter_for(profile),
                supervisor: Box::new(supervisor),
            }
        }
        Backend::Seatbelt => Inner::Seatbelt {
            lib: Libsandbox::load(macos::seatbelt::LIBSANDBOX)?,
            profile,
        },
    };
    Ok(Enforcement {
        inner,
        subreaper: config.subreaper,
        idle_poll: false,
    })
}

/// Whether this machine can run the Linux engine: x86_64 Linux (the filter
/// checks that architecture), and a Yama ptrace scope that lets the
/// supervisor read its children's memory.
fn linux_supported() -> Result<(), ApplyError> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err(ApplyError::Unsupported(
            "the seccomp engine needs Linux on x86_64".into(),
        ));
    }
    let yama = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    // 2: only CAP_SYS_PTRACE may read other processes; 3: nobody may.
    // SAFETY: geteuid takes nothing and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if yama >= 3 || (yama == 2 && !root) {
        return Err(ApplyError::Unsupported(format!(
            "Yama ptrace_scope is {yama}: the supervisor cannot read the sandboxed process's memory"
        )));
    }
    Ok(())
}

impl<'p> Enforcement<'p> {
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Linux { .. } => Backend::Linux,
            Inner::Seatbelt { .. } => Backend::Seatbelt,
        }
    }

    /// The Linux supervisor (its records and counts), if this is Linux.
    pub fn supervisor(&self) -> Option<&Supervisor<'p>> {
        match &self.inner {
            Inner::Linux { supervisor, .. } => Some(supervisor),
            Inner::Seatbelt { .. } => None,
        }
    }

    fn enforcer(&mut self) -> Enforcer<'_, 'p> {
        match &mut self.inner {
            Inner::Linux { filter, supervisor } => Enforcer::Linux { filter, supervisor },
            Inner::Seatbelt { lib, profile } => Enforcer::Seatbelt {
                lib,
                blob: &profile.bytes,
            },
        }
    }

    /// Runs `body` in a sandboxed child, killing it at `timeout`. `body`
    /// runs after `fork()`: raw calls only (see [`process::run_supervised`]).
    pub fn run(&mut self, timeout: Duration, body: &dyn Fn() -> i32) -> Result<Ending, ApplyError> {
        process::run(self.enforcer(), Spec::probe(timeout), body)
    }

    /// Starts a zygote that forks every probe under this enforcement, the
    /// filter installed once (see [`zygote`]); `body(i)` is cell `i`'s
    /// probe. `None` where there is no zygote: the Seatbelt backend, or
    /// not Linux.
    #[cfg(target_os = "linux")]
    pub fn zygote<'a>(
        &'a mut self,
        body: &dyn Fn(usize) -> i32,
    ) -> Option<Result<linux::zygote::Zygote<'a, 'p>, linux::zygote::Unavailable>> {
        match &mut self.inner {
            Inner::Linux { filter, supervisor } => {
                Some(linux::zygote::Zygote::start(filter, supervisor, body))
            }
            Inner::Seatbelt { .. } => None,
        }
    }

    /// Runs `command` sandboxed, the exec itself included, and supervises
    /// until every process of the sandboxed tree has exited. Returns the
    /// command's exit status.
    /// `sbcheck exec --kernel`: Landlock enforces the file operations it can
    /// judge exactly, and the filter lets their syscalls pass with no round
    /// trip; what Landlock cannot judge keeps the engine's answers. Refuses
    /// (naming the rule) a profile Landlock cannot express, and works only
    /// with the Linux backend and native paths.
    #[cfg(target_os = "linux")]
    pub fn kernel_only(&mut self, macos_paths: bool) -> Result<linux::landlock::Plan, ApplyError> {
        use linux::landlock;
        let Inner::Linux { filter, supervisor } = &mut self.inner else {
            return Err(ApplyError::Unsupported(
                "--kernel needs the linux backend (Landlock)".into(),
            ));
        };
        if macos_paths {
            return Err(ApplyError::Unsupported(
                "--kernel binds rules to this system's files: no --macos-paths".into(),
            ));
        }
        match landlock::abi() {
            Ok(v) if v >= landlock::MIN_ABI => {}
            Ok(v) => {
                return Err(ApplyError::Unsupported(format!(
                    "--kernel needs Landlock ABI {} (this kernel has {v})",
                    landlock::MIN_ABI
                )))
            }
            Err(e) => {
                return Err(ApplyError::Unsupported(format!(
                    "--kernel needs Landlock: {}",
                    std::io::Error::from_raw_os_error(e)
                )))
            }
        }
        let profile = supervisor.profile;
        let plan = landlock::plan(profile).map_err(|r| ApplyError::Unsupported(r.0))?;
        let ruleset = landlock::ruleset(&plan).map_err(|(what, errno)| {
            ApplyError::Unsupported(format!(
                "Landlock rule {what}: {}",
                std::io::Error::from_raw_os_error(errno)
            ))
        })?;
        let answered = linux::answers::settled_in_filter(
            &|op| {
                plan.covered.contains(&op) || linux::answers::allowed_unconditionally(profile, op)
            },
            true,
        );
        *filter = linux::Filter::answering(&answered).with_landlock(ruleset);
        Ok(plan)
    }

    /// Whether [`Enforcement::exec`] asks idle CPUs to poll while the
    /// command runs, where it may (root): an answer that wakes a task on
    /// another CPU then costs microseconds instead of a halted vCPU's tens
    /// of them. Off by default.
    pub fn poll_idle_cpus(&mut self, on: bool) {
        self.idle_poll = on;
    }

    pub fn exec(&mut self, command: &exec::Command) -> Result<ExitStatus, ApplyError> {
        let mut spec = Spec::command();
        if self.subreaper {
            become_subreaper()?;
            spec.reap_orphans = true;
        }
        let idle = self.hold_idle_poll();
        // Where idle CPUs poll, an ordinary wake-up is as cheap as a
        // synchronous one and lets parallel callers stay on their CPUs.
        spec.sync_wakeups = idle.is_none();
        // And then up to one thread answering per CPU the command may use,
        // ready for when its calls overlap (see `linux::workers`).
        if idle.is_some() {
            spec.workers = sys::cpus_allowed().saturating_sub(1).min(MAX_WORKERS);
        }
        let ending = {
            let quiet = IgnoreInterrupts::new();
            // The command gets the dispositions this process had, and
            // SIGPIPE's default (Rust's runtime ignores it here), not the
            // ignores of its supervisor.
            let body = || {
                quiet.restore();
                // SAFETY: signal() is async-signal-safe; SIG_DFL is valid.
                unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
                command.exec()
            };
            process::run(self.enforcer(), spec, &body)?
        };
        match ending {
            Ending::Died { status } => Ok(status),
            // The body never returns: exec or _exit.
            Ending::Reported { result } => Ok(ExitStatus::Code(result)),
            Ending::TimedOut => Ok(ExitStatus::Signal(libc::SIGKILL)),
            Ending::SetupFailed(e) => Err(e),
        }
    }
}

/// At most this many threads answer a command beside the main one.
const MAX_WORKERS: usize = 7;

impl Enforcement<'_> {
    /// The idle-polling request, where asked for, on the Linux backend,
    /// useful (this process may run on more than one CPU: pinned to one,
    /// as `--cpus 0` does, there is no other CPU to wake) and granted (it
    /// needs root; elsewhere the supervisor keeps synchronous wake-ups).
    fn hold_idle_poll(&self) -> Option<linux::cpu::IdlePoll> {
        let linux = matches!(self.inner, Inner::Linux { .. });
        (self.idle_poll && linux && sys::cpus_allowed() > 1)
            .then(linux::cpu::IdlePoll::hold)
            .and_then(Result::ok)
    }
}

#[cfg(target_os = "linux")]
fn become_subreaper() -> Result<(), ApplyError> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(ApplyError::Sys {
            call: "prctl(PR_SET_CHILD_SUBREAPER)",
            errno: sys::errno(),
        });
    }
    Ok(())
}

/// Elsewhere orphans go to launchd, which reaps them.
#[cfg(not(target_os = "linux"))]
fn become_subreaper() -> Result<(), ApplyError> {
    Ok(())
}

/// While a command runs in the foreground, ^C and ^\ are for it: this
/// process ignores them (as a shell does while it waits), so it lives to
/// supervise the command's last calls and pass its status on. It ignores
/// SIGTTOU too: the sandboxed command may make its own process group the
/// terminal's foreground and set TOSTOP, and the supervisor writing a
/// denial to that terminal would then be stopped, stalling every notified
/// call of the tree.
struct IgnoreInterrupts {
    old: [libc::sighandler_t; 3],
}

const IGNORED: [libc::c_int; 3] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTTOU];

impl IgnoreInterrupts {
    fn new() -> IgnoreInterrupts {
        // SAFETY: installing SIG_IGN for three signals; the old handlers
        // are restored on drop.
        let old = IGNORED.map(|s| unsafe { libc::signal(s, libc::SIG_IGN) });
        IgnoreInterrupts { old }
    }

    /// Puts the saved dispositions back. Async-signal-safe (the child
    /// calls it after `fork()`).
    fn restore(&self) {
        for (s, old) in IGNORED.iter().zip(self.old) {
            // SAFETY: restoring a handler saved in `new`.
            unsafe { libc::signal(*s, old) };
        }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        self.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_and_name() {
        assert_eq!(Backend::parse("linux"), Some(Backend::Linux));
        assert_eq!(Backend::parse("seatbelt"), Some(Backend::Seatbelt));
        assert_eq!(Backend::parse("bsd"), None);
        assert_eq!(Backend::Seatbelt.name(), "macos-seatbelt");
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn seatbelt_on_linux_is_a_clear_error() {
        let blob = crate::sbpl::compile("(version 1)(allow default)", &Default::default()).unwrap();
        let profile = Profile::decode(&blob).unwrap();
        let config = Config {
            backend: Some(Backend::Seatbelt),
            ..Config::default()
        };
        let e = apply(&profile, &config).err().unwrap();
        assert!(e.to_string().starts_with("libsandbox: cannot load"), "{e}");
    }

    #[test]
    fn a_bad_log_file_is_named() {
        let blob = crate::sbpl::compile("(version 1)(allow default)", &Default::default()).unwrap();
        let profile = Profile::decode(&blob).unwrap();
        let config = Config {
            backend: Some(Backend::Linux),
            log: LogTarget::File("/nonexistent/dir/log".into()),
            ..Config::default()
        };
        let e = apply(&profile, &config).err().unwrap();
        let text = e.to_string();
        assert!(
            text.contains("/nonexistent/dir/log") || text.starts_with("unsupported"),
            "{text}"
        );
    }

    #[test]
    fn sandbox_apply_eperm_names_the_cause() {
        assert!(matches!(
            apply_error("sandbox_apply", libc::EPERM),
            ApplyError::NotPermitted(_)
        ));
        assert_eq!(
            apply_error("seccomp", libc::EPERM),
            ApplyError::Sys {
                call: "seccomp",
                errno: libc::EPERM
            }
        );
    }
}
