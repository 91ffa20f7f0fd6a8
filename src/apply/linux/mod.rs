//! The Linux engine: seccomp user notification with a supervisor that
//! evaluates the blob for each intercepted syscall.
//!
//! Child side ([`Filter::install`], after `fork()`): raw syscalls on memory
//! prepared before the fork: no allocation, no locks, no panics.
//! Parent side ([`Supervisor`]): receives each notification (from any thread
//! of any process of the sandboxed tree: filters are inherited), reads the
//! arguments from the caller's memory, resolves paths as the kernel will,
//! evaluates the profile and answers:
//!
//! - deny: the profile's errno (`(with errno N)`, else EPERM), after the
//!   profile's signal if it asks for one (`(with send-signal N)`);
//! - allow an open whose verdict depends on the path: the supervisor opens
//!   the checked path itself and injects the fd (SECCOMP_IOCTL_NOTIF_ADDFD),
//!   so a thread that rewrites the path after the check gets nothing;
//! - any other allow: CONTINUE. That is safe where the verdict does not
//!   depend on the arguments; where it does (stat, unlink, exec, connect,
//!   ...) a rewrite after the check is not caught: see README, threat model.
//!
//! Fails closed: if the supervisor dies, notified syscalls return ENOSYS.
//!
//! Files: [`bpf`] the filter program, [`answers`] the calls it answers
//! itself, [`syscalls`] the syscall-to-operation map, [`resolve`] path
//! resolution in the caller's view, [`interp`] what else an exec runs (`#!`
//! interpreters, PT_INTERP), [`landlock`] kernel-only enforcement
//! (`exec --kernel`), [`floor`] the least an exact supervisor does (the
//! workload benchmark's yardstick), [`cpu`] idle CPUs that poll while supervising, [`notify`] the
//! user-notification ioctls, [`net`] socket arguments, [`calls`] raw calls
//! for the sandboxed child, [`zygote`] one sandboxed process per profile, [`workers`] more threads answering a command, [`namespace`] the
//! harness's private /tmp and /private,
//! and the supervisor itself.

pub mod answers;
pub mod bpf;
pub mod calls;
pub mod cpu;
#[cfg(target_os = "linux")]
pub mod floor;
pub mod interp;
pub mod landlock;
#[cfg(target_os = "linux")]
pub mod namespace;
#[cfg(target_os = "linux")]
pub mod net;
#[cfg(target_os = "linux")]
pub mod notify;
pub mod resolve;
mod supervisor;
pub mod syscalls;
#[cfg(target_os = "linux")]
pub mod workers;
#[cfg(target_os = "linux")]
pub mod zygote;

pub use supervisor::*;
